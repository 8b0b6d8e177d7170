"""Neural-network building blocks: ``Module``, ``Parameter``, layers, ``functional``, ``init``.

The layers live in ``fluxion.nn.modules`` (one file per family); everything that package lists
in its ``__all__`` is re-exported here, so ``fluxion.nn.Linear`` works as ``torch.nn.Linear``.
"""

from __future__ import annotations

from . import functional, init, modules, utils
from .module import Module
from .modules import *  # noqa: F403
from .parameter import Parameter

__all__ = ["Module", "Parameter", "functional", "init", "modules", "utils", *modules.__all__]
