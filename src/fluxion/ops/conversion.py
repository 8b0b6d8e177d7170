"""Copies and casts: ``clone``, ``contiguous``, ``to``."""

from __future__ import annotations

from .. import dtypes as _dt
from ..device import device as _device
from ..tensor import Tensor
from ._registry import defop, with_doc

clone = with_doc(
    defop("clone", lambda xp, input: input.copy(), grads={"input": lambda grad: grad}),
    """Return a copy of ``input`` with its own memory (gradients flow back to ``input``).

    >>> x = fluxion.tensor([1.0, 2.0])
    >>> y = fluxion.clone(x)
    >>> y[0] = 5.0
    >>> x
    tensor([1., 2.])
    """,
)


def contiguous(input: Tensor) -> Tensor:
    """Return ``input`` if it is C-contiguous, else a contiguous copy."""
    return input if input._data.flags.c_contiguous else clone(input)


def _to_fwd(xp, input, dtype):
    return input.astype(dtype.np)


_to_copy = defop(
    "to_copy",
    _to_fwd,
    grads={"input": lambda grad, input_dtype: grad.to(input_dtype)},
    node_name="ToCopyBackward0",
)


def to(input: Tensor, *args, **kwargs) -> Tensor:
    """Return ``input`` converted to a dtype and/or device (``input`` itself if unchanged).

    >>> fluxion.tensor([1, 2]).to(fluxion.float32)
    tensor([1., 2.])
    """
    dtype = kwargs.pop("dtype", None)
    dev = kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, (str, _device)):
            dev = a
        elif a is not None and not isinstance(a, bool):
            dtype = a
    if dev is not None and _device(dev).type != "cpu":
        raise RuntimeError(f"fluxion: device {str(dev)!r} is not available in this build")
    if dtype is None:
        return clone(input) if copy else input
    dtype = _dt.to_dtype(dtype)
    if dtype.np == input._data.dtype and not copy:
        return input
    return _to_copy(input, dtype)


def type_as(input: Tensor, other: Tensor) -> Tensor:
    """Cast ``input`` to the dtype of ``other``."""
    return to(input, other.dtype)
