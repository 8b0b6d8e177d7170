"""Tensor creation: ``tensor``, ``zeros``, ``arange``, ``rand`` and friends.

dtype inference follows PyTorch: Python floats give the default dtype (``float32``), Python ints
``int64``, bools ``bool``; NumPy arrays keep their dtype.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from . import dtypes as _dt
from . import random as _random
from .tensor import TRACE, Size, Tensor, _as_shape, _wrap

__all__ = [
    "tensor",
    "as_tensor",
    "from_numpy",
    "from_dlpack",
    "zeros",
    "ones",
    "full",
    "empty",
    "eye",
    "arange",
    "linspace",
    "logspace",
    "rand",
    "randn",
    "randint",
    "randperm",
    "zeros_like",
    "ones_like",
    "full_like",
    "empty_like",
    "rand_like",
    "randn_like",
    "randint_like",
    "scalar_tensor",
]


def _check_device(device) -> None:
    if device is not None and str(device).split(":")[0] not in ("cpu",):
        raise RuntimeError(
            f"fluxion: device {device!r} is not available in this build; only 'cpu' is supported"
        )


def _finish(arr: np.ndarray, requires_grad: bool) -> Tensor:
    t = _wrap(arr)
    if TRACE[0] is not None:  # made from Python values: fluxion.jit may bake it in
        TRACE[0].constant(t)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _np_dtype(dtype, default=None) -> np.dtype:
    if dtype is None:
        return (default or _dt.get_default_dtype()).np
    return _dt.to_dtype(dtype).np


def _infer(data: Any, want: np.dtype | None = None) -> np.ndarray:
    """Convert nested Python data to an array with PyTorch's dtype inference.

    ``want``: the dtype asked for; Python floats go straight to it (never through float32).
    """
    if isinstance(data, Tensor):
        return data._data.copy()
    if isinstance(data, np.ndarray):
        if data.dtype not in _dt.FROM_NP:
            raise TypeError(
                f"can't convert np.ndarray of type {data.dtype}. The only supported types are: "
                "float64, float32, float16, int64, int32, int16, int8, uint8, and bool."
            )
        return data.copy()
    if isinstance(data, np.generic):
        return np.array(data)
    typed = None  # dtype of a sequence holding tensors or NumPy values: promoted item dtypes
    if isinstance(data, (list, tuple)):
        items = list(_flat(data))
        if any(isinstance(d, (Tensor, np.ndarray, np.generic)) for d in items):
            for d in items:
                dt = _item_dtype(d)
                if dt is not None:
                    typed = dt if typed is None else _dt.promote_types(typed, dt)
            data = _tensors_to_lists(data)
    try:
        arr = np.array(data)
    except ValueError as exc:
        raise ValueError(f"tensor(): could not build a tensor from ragged data ({exc})") from None
    if typed is not None and arr.dtype != object:
        return arr.astype(typed.np)
    if arr.dtype.kind == "f":
        if want is not None and want.kind == "f":
            return arr.astype(want)
        return arr.astype(_dt.get_default_dtype().np)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "b":
        return arr
    if arr.dtype == object or arr.dtype.kind in "USc":
        raise TypeError(f"tensor(): cannot build a tensor from data of type {type(data).__name__}")
    return arr


def _item_dtype(d):
    """The dtype PyTorch infers for one element of a nested sequence."""
    if isinstance(d, Tensor):
        return d.dtype
    if isinstance(d, (np.ndarray, np.generic)):
        return _dt.FROM_NP.get(d.dtype)
    if isinstance(d, builtins.bool):
        return _dt.bool
    if isinstance(d, builtins.int):
        return _dt.int64
    if isinstance(d, builtins.float):
        return _dt.get_default_dtype()
    return None


def _flat(data):
    for d in data:
        if isinstance(d, (list, tuple)):
            yield from _flat(d)
        else:
            yield d


def _tensors_to_lists(data):
    if isinstance(data, Tensor):
        if TRACE[0] is not None:
            TRACE[0].escape(data, "fluxion.tensor()")
        if data._data.ndim == 0:
            return data._data.item()
        return data._data.tolist()
    if isinstance(data, (list, tuple)):
        return [_tensors_to_lists(d) for d in data]
    return data


def tensor(data: Any, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Build a tensor that owns a copy of ``data``.

    Args:
        data: A number, nested list/tuple, NumPy array or tensor.
        dtype: Result dtype; inferred when ``None``.
        requires_grad: Record operations on the result for autograd.

    >>> fluxion.tensor([1.0, 2.0])
    tensor([1., 2.])
    >>> fluxion.tensor([1, 2])
    tensor([1, 2])
    """
    _check_device(device)
    want = _dt.to_dtype(dtype).np if dtype is not None else None
    arr = _infer(data, want)
    if want is not None:
        arr = arr.astype(want, copy=False)
    return _finish(arr, requires_grad)


def scalar_tensor(s, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Return a 0-d tensor holding ``s`` (default dtype unless given)."""
    return _finish(np.array(s, dtype=_np_dtype(dtype)), requires_grad)


def as_tensor(data: Any, dtype=None, device=None) -> Tensor:
    """Convert ``data`` to a tensor, sharing memory with a tensor or NumPy array when possible.

    >>> a = np.array([1.0, 2.0])
    >>> t = fluxion.as_tensor(a)
    >>> a[0] = 5.0
    >>> t
    tensor([5., 2.], dtype=fluxion.float64)
    """
    _check_device(device)
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray) and data.dtype in _dt.FROM_NP:
        if dtype is None or _dt.to_dtype(dtype).np == data.dtype:
            return _wrap(data)
    return tensor(data, dtype=dtype)


def from_numpy(arr: np.ndarray) -> Tensor:
    """Wrap a NumPy array as a tensor that shares its memory.

    >>> fluxion.from_numpy(np.arange(3))
    tensor([0, 1, 2])
    """
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(arr).__name__})")
    if arr.dtype not in _dt.FROM_NP:
        raise TypeError(
            f"can't convert np.ndarray of type {arr.dtype}. The only supported types are: "
            "float64, float32, float16, int64, int32, int16, int8, uint8, and bool."
        )
    return _wrap(arr)


def from_dlpack(ext) -> Tensor:
    """Wrap an object implementing ``__dlpack__`` (shares memory)."""
    return _wrap(np.from_dlpack(ext))


def _sized(fn, size, dtype, requires_grad):
    shape = _as_shape(size)
    for s in shape:
        if not isinstance(s, (int, np.integer)):
            raise TypeError(
                f"size must be a tuple of ints, but got an element of type {type(s).__name__}"
            )
        if s < 0:
            raise RuntimeError(
                f"Trying to create tensor with negative dimension {s}: {list(shape)}"
            )
    return _finish(fn(tuple(shape), dtype=_np_dtype(dtype)), requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad: bool = False, out=None) -> Tensor:
    """Return a tensor of zeros with the given shape.

    >>> fluxion.zeros(2, 3).shape
    fluxion.Size([2, 3])
    """
    _check_device(device)
    return _sized(np.zeros, size, dtype, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Return a tensor of ones with the given shape.

    >>> fluxion.ones(2)
    tensor([1., 1.])
    """
    _check_device(device)
    return _sized(np.ones, size, dtype, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Return an uninitialised tensor (here: zero-filled, so results are reproducible)."""
    _check_device(device)
    return _sized(np.zeros, size, dtype, requires_grad)


def _fill_dtype(fill_value):
    if isinstance(fill_value, builtins.bool):
        return _dt.bool
    if isinstance(fill_value, (int, np.integer)):
        return _dt.int64
    return None


def full(size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Return a tensor of ``size`` filled with ``fill_value`` (dtype inferred from it).

    >>> fluxion.full((2,), 7)
    tensor([7, 7])
    """
    _check_device(device)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    d = _np_dtype(dtype, _fill_dtype(fill_value))
    shape = _as_shape((size,)) if isinstance(size, int) else tuple(size)
    return _finish(np.full(shape, fill_value, dtype=d), requires_grad)


def eye(n: int, m: int | None = None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Return a 2-D tensor with ones on the diagonal.

    >>> fluxion.eye(2)
    tensor([[1., 0.],
            [0., 1.]])
    """
    _check_device(device)
    return _finish(np.eye(n, m, dtype=_np_dtype(dtype)), requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Return values from ``start`` to ``end`` (exclusive) by ``step``.

    >>> fluxion.arange(3)
    tensor([0, 1, 2])
    >>> fluxion.arange(0, 1, 0.25)
    tensor([0.0000, 0.2500, 0.5000, 0.7500])
    """
    _check_device(device)
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    is_int = builtins.all(isinstance(v, (int, np.integer)) for v in vals)
    d = _np_dtype(dtype, _dt.int64 if is_int else None)
    n = builtins.max(0, int(np.ceil((vals[1] - vals[0]) / vals[2])))
    arr = (np.arange(n, dtype=np.float64) * vals[2] + vals[0]) if not is_int else np.arange(*vals)
    return _finish(arr.astype(d), requires_grad)


def linspace(start, end, steps: int, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Return ``steps`` evenly spaced values from ``start`` to ``end`` inclusive.

    >>> fluxion.linspace(0, 1, 5)
    tensor([0.0000, 0.2500, 0.5000, 0.7500, 1.0000])
    """
    _check_device(device)
    return _finish(np.linspace(start, end, steps).astype(_np_dtype(dtype)), requires_grad)


def logspace(
    start, end, steps: int, base: float = 10.0, *, dtype=None, device=None, requires_grad=False
) -> Tensor:
    """Return ``steps`` values spaced evenly on a log scale."""
    arr = np.logspace(start, end, steps, base=base).astype(_np_dtype(dtype))
    return _finish(arr, requires_grad)


def _float_kind(d: np.dtype, kernel: str) -> None:
    if d.kind != "f":
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_dt.scalar_name(d)}'")


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Return uniform samples on [0, 1), the same numbers PyTorch's CPU generator gives.

    >>> _ = fluxion.manual_seed(0)
    >>> fluxion.rand(2, 3)
    tensor([[0.4963, 0.7682, 0.0885],
            [0.1320, 0.3074, 0.6341]])
    """
    _check_device(device)
    shape = _as_shape(size)
    d = _np_dtype(dtype)
    _float_kind(d, "check_uniform_bounds")
    arr = _random._uniform(_random._gen(generator), _numel(shape), d)
    return _finish(arr.reshape(shape), requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Return standard normal samples, the same numbers PyTorch's CPU generator gives.

    >>> _ = fluxion.manual_seed(0)
    >>> fluxion.randn(2, 2)
    tensor([[ 1.5410, -0.2934],
            [-2.1788,  0.5684]])
    """
    _check_device(device)
    shape = _as_shape(size)
    d = _np_dtype(dtype)
    _float_kind(d, "normal_kernel_cpu")
    arr = _random._normal(_random._gen(generator), _numel(shape), d)
    return _finish(arr.reshape(shape), requires_grad)


def randint(
    low, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False
) -> Tensor:
    """Return integers drawn uniformly from ``[low, high)`` (``randint(high, size)``: from 0).

    >>> _ = fluxion.manual_seed(0)
    >>> fluxion.randint(0, 10, (5,))
    tensor([4, 9, 3, 0, 3])
    """
    _check_device(device)
    if size is None:
        if high is None or not isinstance(high, (tuple, list, Size)):
            raise TypeError(
                "randint() missing required argument 'size': call randint(high, size) or "
                "randint(low, high, size)"
            )
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    for name, v in (("low", low), ("high", high)):
        if isinstance(v, Tensor):
            v = v.item()
        if not isinstance(v, (int, np.integer)) or isinstance(v, builtins.bool):
            raise TypeError(f"randint(): argument '{name}' must be int, not {type(v).__name__}")
    out = empty(_as_shape(tuple(size)), dtype=_dt.int64 if dtype is None else dtype)
    out.random_(int(low), int(high), generator=generator)
    if requires_grad:
        out.requires_grad_(True)
    return out


def randperm(n: int, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Return a random permutation of ``0 .. n-1`` (PyTorch's Fisher-Yates, the same order).

    >>> _ = fluxion.manual_seed(0)
    >>> fluxion.randperm(5)
    tensor([4, 0, 1, 3, 2])
    """
    _check_device(device)
    n = int(n)
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    d = _np_dtype(dtype, _dt.int64)
    top = 1 << (np.finfo(d).nmant + 1) if d.kind == "f" else int(np.iinfo(d).max)
    if n - 1 > top and d.kind != "b":
        raise RuntimeError(
            f"randperm: n={n} is too large for dtype {_dt.scalar_name(d)} (largest value "
            f"{top}); pass a wider dtype such as fluxion.int64"
        )
    arr = _random._randperm(_random._gen(generator), n, d)
    return _finish(arr, requires_grad)


def _numel(shape: tuple) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _like(fn, input: Tensor, dtype, requires_grad, *args) -> Tensor:
    d = input.dtype if dtype is None else dtype
    return (
        fn(*args, input.shape, dtype=d, requires_grad=requires_grad)
        if args
        else fn(input.shape, dtype=d, requires_grad=requires_grad)
    )


def zeros_like(input: Tensor, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Return zeros with the shape and dtype of ``input``."""
    return _like(zeros, input, dtype, requires_grad)


def ones_like(input: Tensor, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Return ones with the shape and dtype of ``input``.

    >>> fluxion.ones_like(fluxion.tensor([1, 2]))
    tensor([1, 1])
    """
    return _like(ones, input, dtype, requires_grad)


def empty_like(input: Tensor, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Return an uninitialised tensor with the shape and dtype of ``input``."""
    return _like(empty, input, dtype, requires_grad)


def full_like(input: Tensor, fill_value, *, dtype=None, device=None, requires_grad=False):
    """Return a tensor like ``input`` filled with ``fill_value``."""
    return full(
        input.shape,
        fill_value,
        dtype=input.dtype if dtype is None else dtype,
        requires_grad=requires_grad,
    )


def rand_like(
    input: Tensor, *, generator=None, dtype=None, device=None, requires_grad=False
) -> Tensor:
    """Return uniform samples on [0, 1) with the shape (and dtype) of ``input``.

    >>> fluxion.rand_like(fluxion.zeros(2, dtype=fluxion.float64)).dtype
    fluxion.float64
    """
    d = input.dtype if dtype is None else dtype
    return rand(input.shape, generator=generator, dtype=d, requires_grad=requires_grad)


def randn_like(
    input: Tensor, *, generator=None, dtype=None, device=None, requires_grad=False
) -> Tensor:
    """Return standard normal samples with the shape (and dtype) of ``input``.

    >>> fluxion.randn_like(fluxion.zeros(2, 3)).shape
    fluxion.Size([2, 3])
    """
    d = input.dtype if dtype is None else dtype
    return randn(input.shape, generator=generator, dtype=d, requires_grad=requires_grad)


def randint_like(
    input: Tensor,
    low,
    high=None,
    *,
    generator=None,
    dtype=None,
    device=None,
    requires_grad=False,
) -> Tensor:
    """Return integers on ``[low, high)`` (or ``[0, low)``) with the shape of ``input``.

    >>> fluxion.randint_like(fluxion.zeros(3), 5).dtype
    fluxion.float32
    """
    if high is None:
        low, high = 0, low
    d = input.dtype if dtype is None else dtype
    return randint(
        low, high, input.shape, generator=generator, dtype=d, requires_grad=requires_grad
    )


def _legacy_tensor_init(self: Tensor, args: tuple, kwargs: dict) -> None:
    """``fluxion.Tensor(2, 3)`` allocates; ``fluxion.Tensor([1, 2])`` copies data as float32."""
    if kwargs:
        raise TypeError(f"Tensor(): unexpected keyword arguments {sorted(kwargs)}")
    if builtins.all(isinstance(a, (int, np.integer)) for a in args) or (
        len(args) == 1 and isinstance(args[0], Size)
    ):
        arr = np.zeros(_as_shape(args) if args else (0,), dtype=_dt.get_default_dtype().np)
    elif len(args) == 1:
        arr = np.asarray(_infer(args[0]), dtype=_dt.get_default_dtype().np)
    else:
        raise TypeError("Tensor(): expected sizes or a single data argument")
    self._data = arr
    self.grad_fn = None
    self.requires_grad = False
    self.grad = None
    self._vc = None
