"""MXNet-style namespace over fluxion: ``from fluxion.mx import autograd, nd``.

Arrays are :class:`~fluxion.mx.nd.NDArray` (a :class:`fluxion.Tensor` subclass); recording is
off unless inside ``autograd.record()``; ``backward`` on a non-scalar backpropagates its sum.
Importing this package changes nothing for plain fluxion code (its grad mode stays on).

>>> from fluxion.mx import autograd, nd
>>> x = nd.arange(10).reshape((2, 5))
>>> x.attach_grad()
>>> with autograd.record():
...     y = 2 * nd.dot(x.T, x)
>>> y.backward()
>>> x.grad
<BLANKLINE>
[[ 40.  40.  40.  40.  40.]
 [140. 140. 140. 140. 140.]]
<NDArray 2x5 @cpu(0)>
"""

from __future__ import annotations

from . import autograd, nd
from .nd import Context, NDArray, cpu, gpu
from .nd import random as random

__all__ = ["autograd", "nd", "NDArray", "Context", "cpu", "gpu", "random", "MXNetError"]

MXNetError = RuntimeError  # MXNet's error type; fluxion raises the builtin types PyTorch does
