"""Optimisers and learning-rate schedulers with ``torch.optim``'s API and update rules.

>>> w = fluxion.zeros(3, requires_grad=True)
>>> opt = fluxion.optim.Adam([w], lr=0.1)
>>> sched = fluxion.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
>>> for _ in range(3):
...     opt.zero_grad()
...     (w - 1.0).pow(2).sum().backward()
...     opt.step()
...     sched.step()
>>> sched.get_last_lr()
[0.0125]
"""

from __future__ import annotations

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
