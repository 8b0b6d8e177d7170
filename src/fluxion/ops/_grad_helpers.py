"""Helpers shared by forwards and backward rules (the role of PyTorch's FunctionsManual.cpp)."""

from __future__ import annotations

from typing import Any

import numpy as _np  # NOTE: only for raw-array gradients in first-order backward

__all__ = ["norm_dim", "norm_dims", "expand_reduced"]


def norm_dim(dim: int, ndim: int, op: str = "") -> int:
    """Wrap a possibly negative ``dim`` into ``[0, ndim)``; IndexError like PyTorch's."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"{op + ': ' if op else ''}Dimension out of range (expected to be in range of "
            f"[{-n}, {n - 1}], but got {dim})"
        )
    return dim % n


def norm_dims(dim: Any, ndim: int, op: str = "") -> tuple:
    """Return a sorted tuple of non-negative dims; ``None`` or ``()`` means all dims."""
    if dim is None or dim == ():
        return tuple(range(ndim))
    if isinstance(dim, int) or hasattr(dim, "__index__"):
        d = norm_dim(int(dim), ndim, op)
        return (d,) if ndim else ()  # a 0-d tensor accepts dim 0 / -1 and reduces nothing
    dims = tuple(sorted(norm_dim(int(d), ndim, op) for d in dim))
    if not ndim:
        return ()
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"{op}: dim {list(dim)} appears multiple times in the list of dims")
    return dims


def expand_reduced(grad, shape: tuple, dim, keepdim: bool):
    """Broadcast the gradient of a reduction over ``dim`` back to the input's ``shape``."""
    if not keepdim and len(shape) > 0:
        kept = list(shape)
        for d in norm_dims(dim, len(shape)):
            kept[d] = 1
        grad = grad.reshape(tuple(kept))
    if hasattr(grad, "expand"):
        return grad.expand(shape)
    return _np.broadcast_to(grad, shape)  # a raw array (first-order backward)
