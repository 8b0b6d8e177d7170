"""MXNet-style ``nd`` namespace over fluxion tensors: ``nd.array``, ``nd.dot``, ``NDArray``.

:class:`NDArray` is a :class:`fluxion.Tensor` subclass, so fluxion functions and ``nn`` layers
accept it. Every NDArray method and every ``nd`` function runs with recording as
:mod:`fluxion.mx.autograd` says (off unless inside ``autograd.record()``) and returns NDArrays.
MXNet's conventions apply: arrays are float32 unless a dtype is given, reductions over all axes
return shape ``(1,)``, comparisons return 0/1 in the input's dtype, ``nd.concat`` joins along
``dim=1``, and the repr is MXNet's.

>>> from fluxion.mx import nd
>>> x = nd.arange(10).reshape((2, 5))
>>> x
<BLANKLINE>
[[0. 1. 2. 3. 4.]
 [5. 6. 7. 8. 9.]]
<NDArray 2x5 @cpu(0)>
>>> nd.dot(x, x.T).asnumpy().tolist()
[[30.0, 80.0], [80.0, 255.0]]
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any

import fluxion
import fluxion.nn.functional as F

from . import autograd as _autograd

__all__ = [
    "NDArray",
    "Context",
    "cpu",
    "gpu",
    "array",
    "zeros",
    "ones",
    "full",
    "empty",
    "arange",
    "zeros_like",
    "ones_like",
    "random",
    "dot",
    "batch_dot",
    "concat",
    "stack",
    "reshape",
    "transpose",
    "expand_dims",
    "flatten",
    "sum",
    "mean",
    "max",
    "min",
    "prod",
    "argmax",
    "argmin",
    "norm",
    "clip",
    "where",
    "softmax",
    "log_softmax",
    "relu",
    "sigmoid",
    "tanh",
    "Activation",
    "Dropout",
    "BatchNorm",
]

_state = _autograd._state


# ---------------------------------------------------------------------------- context


class Context:
    """A device context: ``cpu(0)`` (``gpu(i)`` can be named but not computed on here).

    >>> from fluxion.mx import nd
    >>> nd.cpu(), nd.cpu() == nd.cpu(0)
    (cpu(0), True)
    """

    def __init__(self, device_type: str = "cpu", device_id: int = 0) -> None:
        if device_type not in ("cpu", "gpu"):
            raise ValueError(f"unknown device type {device_type!r}; use 'cpu' or 'gpu'")
        self.device_type = device_type
        self.device_id = device_id

    def __repr__(self) -> str:
        return f"{self.device_type}({self.device_id})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Context)
            and other.device_type == self.device_type
            and other.device_id == self.device_id
        )

    def __hash__(self) -> int:
        return hash((self.device_type, self.device_id))


def cpu(device_id: int = 0) -> Context:
    """Return the CPU context.

    >>> from fluxion.mx import nd
    >>> nd.cpu()
    cpu(0)
    """
    return Context("cpu", device_id)


def gpu(device_id: int = 0) -> Context:
    """Return a GPU context (arrays cannot be created on it in this build).

    >>> from fluxion.mx import nd
    >>> nd.gpu(1)
    gpu(1)
    """
    return Context("gpu", device_id)


def _check_ctx(ctx: Any) -> None:
    if ctx is not None and getattr(ctx, "device_type", "cpu") != "cpu":
        raise RuntimeError(
            f"fluxion.mx: context {ctx} is not available; fluxion.mx arrays live on cpu(0). "
            "Leave ctx unset or pass mx.cpu()."
        )


# ---------------------------------------------------------------------------- plumbing


def _dtype(spec: Any, default: Any = None) -> Any:
    """A fluxion dtype from MXNet's spellings: ``'float32'``, ``np.float32``, a fluxion dtype."""
    if spec is None:
        return fluxion.float32 if default is None else default
    if isinstance(spec, fluxion.dtype):
        return spec
    name = spec if isinstance(spec, str) else getattr(spec, "__name__", None) or str(spec)
    name = {"bool_": "bool"}.get(name, name)
    dt = getattr(fluxion, name, None)
    if not isinstance(dt, fluxion.dtype):
        raise TypeError(f"unsupported dtype {spec!r}; use e.g. 'float32', 'float64', 'int64'")
    return dt


def _as_nd(out: Any) -> Any:
    """Make tensors (also inside tuples and lists) NDArrays; leave anything else alone."""
    t = type(out)
    if t is fluxion.Tensor:
        out.__class__ = NDArray
        return out
    if t is tuple or t is list:
        return t(_as_nd(o) for o in out)
    if isinstance(out, tuple) and hasattr(out, "_fields"):  # fluxion.return_types
        return t(*[_as_nd(o) for o in out])
    return out


def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a fluxion function with grad mode = mx recording; return NDArrays."""
    rec = _state.recording
    if rec == fluxion.is_grad_enabled():
        return _as_nd(fn(*args, **kwargs))
    with fluxion.set_grad_enabled(rec):
        return _as_nd(fn(*args, **kwargs))


def _mx(fn: Any) -> Any:
    """Decorate an ``nd`` function: it runs as :func:`_run` says."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return _run(fn, *args, **kwargs)

    return wrapper


def _full_reduce(out: Any, axis: Any, keepdims: bool) -> Any:
    """MXNet returns shape (1,) for a reduction over every axis."""
    if axis is None and not keepdims and out.ndim == 0:
        return out.reshape(1)
    return out


def _axes(axis: Any, ndim: int, exclude: bool) -> Any:
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if exclude:
        norm = {a % ndim for a in axes}
        axes = tuple(a for a in range(ndim) if a not in norm)
    return axes


# ---------------------------------------------------------------------------- NDArray


class _Size(int):
    """``x.size``: MXNet's element count, still callable as fluxion's ``x.size(dim)``."""

    _t: Any = None

    def __call__(self, dim: int | None = None) -> Any:
        return fluxion.Tensor.size(self._t, dim)


# Tensor methods whose results must not be wrapped (not arrays, or NDArray redefines them).
_NOT_WRAPPED = {
    "__init__",
    "__repr__",
    "__format__",
    "__hash__",
    "__len__",
    "__bool__",
    "__float__",
    "__int__",
    "__index__",
    "__array__",
    "__dlpack__",
    "__dlpack_device__",
    "__deepcopy__",
    "__reduce_ex__",
    "__iter__",
    "backward",
    "numpy",
    "item",
    "tolist",
    "size",
    "register_hook",
    "register_post_accumulate_grad_hook",
    "retain_grad",
    "requires_grad_",
    "detach_",
}


class NDArray(fluxion.Tensor):
    """An MXNet-style array: a :class:`fluxion.Tensor` with MXNet's methods and repr.

    >>> from fluxion.mx import nd
    >>> x = nd.array([[1, 2], [3, 4]])
    >>> x.shape, x.size, x.context
    ((2, 2), 4, cpu(0))
    >>> x.sum()
    <BLANKLINE>
    [10.]
    <NDArray 1 @cpu(0)>
    """

    __slots__ = ()
    _grad_req = None  # set by attach_grad / autograd.mark_variables

    # ------------------------------------------------------------ printing and conversion
    def __repr__(self) -> str:
        shape_info = "x".join(str(s) for s in self.shape)
        return f"\n{self.asnumpy()!s}\n<NDArray {shape_info} @{self.context}>"

    __str__ = __repr__

    def asnumpy(self) -> Any:
        """Return a NumPy copy of the array.

        >>> from fluxion.mx import nd
        >>> nd.ones((2,)).asnumpy()
        array([1., 1.], dtype=float32)
        """
        return fluxion.Tensor.numpy(self, force=True).copy()

    def asscalar(self) -> Any:
        """Return the value of a one-element array (shape ``(1,)``) as a NumPy scalar.

        >>> from fluxion.mx import nd
        >>> nd.array([3]).asscalar()
        np.float32(3.0)
        """
        if tuple(self.shape) not in ((1,), ()):
            raise ValueError(
                f"The current array is not a scalar: its shape is {tuple(self.shape)}, "
                "asscalar() needs shape (1,); reduce it first (e.g. x.sum())"
            )
        return self.asnumpy().reshape(-1)[0]

    def __bool__(self) -> bool:
        n = self.size
        if n == 0:
            return False
        if n == 1:
            return bool(self.asscalar())
        raise ValueError("The truth value of an NDArray with multiple elements is ambiguous.")

    def __len__(self) -> int:
        return self.shape[0]

    # ------------------------------------------------------------ metadata
    @property
    def shape(self) -> tuple:
        return tuple(fluxion.Tensor.shape.fget(self))

    @property
    def size(self) -> _Size:  # type: ignore[override]
        n = _Size(fluxion.Tensor.numel(self))
        n._t = self
        return n

    @property
    def context(self) -> Context:
        return Context("cpu", 0)

    ctx = context

    @property
    def T(self) -> NDArray:  # noqa: N802 - MXNet's name
        """The array with its axes reversed."""
        return _run(fluxion.Tensor.permute, self, tuple(range(self.ndim - 1, -1, -1)))

    # ------------------------------------------------------------ autograd
    def attach_grad(self, grad_req: str = "write", stype: Any = None) -> None:
        """Allocate a zero gradient buffer so that ``backward`` computes this array's gradient.

        Args:
            grad_req: ``'write'`` (overwrite on each backward), ``'add'`` (accumulate) or
                ``'null'`` (no gradient).
            stype: Storage type; only the default (dense) storage exists here.

        >>> from fluxion.mx import nd
        >>> x = nd.ones((2,))
        >>> x.attach_grad()
        >>> x.grad
        <BLANKLINE>
        [0. 0.]
        <NDArray 2 @cpu(0)>
        """
        if stype not in (None, "default"):
            raise ValueError(f"attach_grad: only dense storage is supported, got stype={stype!r}")
        _autograd.mark_variables([self], [zeros_like(self)], grad_req)

    def backward(
        self, out_grad: Any = None, retain_graph: bool = False, train_mode: bool = True
    ) -> None:
        """Backpropagate from this array (its implicit sum when ``out_grad`` is None).

        >>> from fluxion.mx import autograd, nd
        >>> x = nd.array([1, 2])
        >>> x.attach_grad()
        >>> with autograd.record():
        ...     y = 3 * x
        >>> y.backward()
        >>> x.grad.asnumpy().tolist()
        [3.0, 3.0]
        """
        _autograd.backward(
            [self], None if out_grad is None else [out_grad], retain_graph, train_mode
        )

    # ------------------------------------------------------------ MXNet-style methods
    def reshape(self, *shape: Any, **kwargs: Any) -> NDArray:
        """Return the array with a new shape (a tuple or ints; ``0`` copies that dimension).

        >>> from fluxion.mx import nd
        >>> nd.arange(6).reshape((2, 3)).shape, nd.arange(6).reshape(3, -1).shape
        ((2, 3), (3, 2))
        """
        if "shape" in kwargs:
            shape = (kwargs.pop("shape"),)
        kwargs.pop("reverse", None)
        if kwargs:
            raise TypeError(f"reshape(): unexpected keyword arguments {sorted(kwargs)}")
        if len(shape) == 1 and not isinstance(shape[0], int):
            shape = tuple(shape[0])
        cur = self.shape
        shape = tuple(cur[i] if s == 0 else s for i, s in enumerate(shape))
        return _run(fluxion.Tensor.reshape, self, shape)

    def astype(self, dtype: Any, copy: bool = True) -> NDArray:
        """Return the array cast to ``dtype`` (``'float32'``, ``np.int64``, ...)."""
        dt = _dtype(dtype)
        if not copy and dt == self.dtype:
            return self
        return _run(fluxion.Tensor.to, self, dt, copy=True)

    def copy(self) -> NDArray:
        """Return a copy of the array."""
        return _run(fluxion.Tensor.clone, self)

    def copyto(self, other: Any) -> NDArray:
        """Copy into ``other`` (an NDArray, returned) or to a context (a new array)."""
        if isinstance(other, Context):
            _check_ctx(other)
            return self.copy()
        with fluxion.no_grad():
            other[...] = self
        return other

    def as_in_context(self, context: Context) -> NDArray:
        """Return ``self`` on ``context`` (``self`` itself for the CPU)."""
        _check_ctx(context)
        return self

    def transpose(self, axes: Any = None) -> NDArray:  # type: ignore[override]
        """Permute the axes (reverse them when ``axes`` is None)."""
        if axes is None:
            axes = tuple(range(self.ndim - 1, -1, -1))
        return _run(fluxion.Tensor.permute, self, tuple(axes))

    def expand_dims(self, axis: int) -> NDArray:
        """Insert a dimension of size 1 at ``axis``."""
        return _run(fluxion.Tensor.unsqueeze, self, axis)

    def flatten(self) -> NDArray:  # type: ignore[override]
        """Collapse all but the first dimension: shape ``(N, -1)`` (MXNet's flatten)."""
        return _run(fluxion.Tensor.reshape, self, (self.shape[0] if self.ndim else 1, -1))

    def sum(self, axis: Any = None, keepdims: bool = False, exclude: bool = False) -> NDArray:  # type: ignore[override]
        """Sum over ``axis`` (all axes: shape ``(1,)``)."""
        return _reduce(fluxion.sum, self, axis, keepdims, exclude)

    def mean(self, axis: Any = None, keepdims: bool = False, exclude: bool = False) -> NDArray:  # type: ignore[override]
        """Mean over ``axis`` (all axes: shape ``(1,)``)."""
        return _reduce(fluxion.mean, self, axis, keepdims, exclude)

    def max(self, axis: Any = None, keepdims: bool = False, exclude: bool = False) -> NDArray:  # type: ignore[override]
        """Maximum over ``axis`` (all axes: shape ``(1,)``)."""
        return _reduce(fluxion.amax, self, axis, keepdims, exclude)

    def min(self, axis: Any = None, keepdims: bool = False, exclude: bool = False) -> NDArray:  # type: ignore[override]
        """Minimum over ``axis`` (all axes: shape ``(1,)``)."""
        return _reduce(fluxion.amin, self, axis, keepdims, exclude)

    def prod(self, axis: Any = None, keepdims: bool = False, exclude: bool = False) -> NDArray:  # type: ignore[override]
        """Product over ``axis`` (all axes: shape ``(1,)``)."""
        return _reduce(fluxion.prod, self, axis, keepdims, exclude)

    def argmax(self, axis: Any = None, keepdims: bool = False) -> NDArray:  # type: ignore[override]
        """Indices of the maxima along ``axis``, as float32 (MXNet's convention)."""
        return argmax(self, axis, keepdims)

    def argmin(self, axis: Any = None, keepdims: bool = False) -> NDArray:  # type: ignore[override]
        """Indices of the minima along ``axis``, as float32 (MXNet's convention)."""
        return argmin(self, axis, keepdims)

    def norm(self, ord: int = 2, axis: Any = None, keepdims: bool = False) -> NDArray:  # type: ignore[override]
        """The L1 or L2 norm over ``axis`` (all axes: shape ``(1,)``)."""
        return norm(self, ord, axis, keepdims)

    def clip(self, a_min: float, a_max: float) -> NDArray:  # type: ignore[override]
        """Clamp the values to ``[a_min, a_max]``."""
        return clip(self, a_min, a_max)

    def softmax(self, axis: int = -1) -> NDArray:  # type: ignore[override]
        """Softmax along ``axis``."""
        return softmax(self, axis)

    def as_np_ndarray(self) -> Any:
        """Return a NumPy copy (MXNet's numpy interface is not modelled here)."""
        return self.asnumpy()

    # comparisons give 0/1 in the input's dtype, as in MXNet
    def _compare(self, fn: Any, other: Any) -> NDArray:
        return _run(lambda a, b: fn(a, b).to(a.dtype), self, other)

    def __eq__(self, other: Any) -> NDArray:  # type: ignore[override]
        return self._compare(fluxion.eq, other)

    def __ne__(self, other: Any) -> NDArray:  # type: ignore[override]
        return self._compare(fluxion.ne, other)

    def __lt__(self, other: Any) -> NDArray:
        return self._compare(fluxion.lt, other)

    def __le__(self, other: Any) -> NDArray:
        return self._compare(fluxion.le, other)

    def __gt__(self, other: Any) -> NDArray:
        return self._compare(fluxion.gt, other)

    def __ge__(self, other: Any) -> NDArray:
        return self._compare(fluxion.ge, other)

    __hash__ = fluxion.Tensor.__hash__


def _method(name: str, fn: Any) -> Any:
    """An NDArray method that runs the Tensor method as :func:`_run` says."""

    @functools.wraps(fn)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        rec = _state.recording
        if rec == fluxion.is_grad_enabled():
            return _as_nd(fn(self, *args, **kwargs))
        with fluxion.set_grad_enabled(rec):
            return _as_nd(fn(self, *args, **kwargs))

    return method


def _install_methods() -> None:
    """Give NDArray a recording-aware, NDArray-returning twin of every Tensor method."""
    for name, attr in vars(fluxion.Tensor).items():
        if name in vars(NDArray) or name in _NOT_WRAPPED:
            continue
        if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
            continue
        if isinstance(attr, types.FunctionType):
            setattr(NDArray, name, _method(name, attr))
        elif isinstance(attr, property) and attr.fget is not None:
            setattr(NDArray, name, property(_method(name, attr.fget), attr.fset, attr.fdel))


_install_methods()


# ---------------------------------------------------------------------------- creation


def array(source_array: Any, ctx: Context | None = None, dtype: Any = None) -> NDArray:
    """Create an array from a nested sequence, a NumPy array or another array (a copy).

    The dtype is float32 unless given, or the source's dtype when it is an NDArray.

    >>> from fluxion.mx import nd
    >>> nd.array([[1, 2], [3, 4]]).dtype
    fluxion.float32
    """
    _check_ctx(ctx)
    if isinstance(source_array, fluxion.Tensor):
        dt = _dtype(dtype, source_array.dtype if isinstance(source_array, NDArray) else None)
        return _as_nd(source_array.detach().to(dt, copy=True))
    return _as_nd(fluxion.tensor(source_array, dtype=_dtype(dtype)))


def _shape(shape: Any) -> tuple:
    return (shape,) if isinstance(shape, int) else tuple(shape)


def zeros(shape: Any, ctx: Context | None = None, dtype: Any = None, **kwargs: Any) -> NDArray:
    """Return an array of zeros (float32 unless ``dtype``).

    >>> from fluxion.mx import nd
    >>> nd.zeros((2, 3)).shape
    (2, 3)
    """
    _check_ctx(ctx)
    return _as_nd(fluxion.zeros(_shape(shape), dtype=_dtype(dtype)))


def ones(shape: Any, ctx: Context | None = None, dtype: Any = None, **kwargs: Any) -> NDArray:
    """Return an array of ones (float32 unless ``dtype``).

    >>> from fluxion.mx import nd
    >>> nd.ones(2).asnumpy().tolist()
    [1.0, 1.0]
    """
    _check_ctx(ctx)
    return _as_nd(fluxion.ones(_shape(shape), dtype=_dtype(dtype)))


def full(
    shape: Any, val: float, ctx: Context | None = None, dtype: Any = None, out: Any = None
) -> NDArray:
    """Return an array filled with ``val`` (float32 unless ``dtype``).

    >>> from fluxion.mx import nd
    >>> nd.full((2,), 7).asnumpy().tolist()
    [7.0, 7.0]
    """
    _check_ctx(ctx)
    result = _as_nd(fluxion.full(_shape(shape), val, dtype=_dtype(dtype)))
    if out is not None:
        return result.copyto(out)
    return result


def empty(shape: Any, ctx: Context | None = None, dtype: Any = None) -> NDArray:
    """Return a new array (zero-filled here; MXNet leaves it uninitialised)."""
    return zeros(shape, ctx, dtype)


def arange(
    start: float,
    stop: float | None = None,
    step: float = 1.0,
    repeat: int = 1,
    infer_range: bool = False,
    ctx: Context | None = None,
    dtype: Any = "float32",
) -> NDArray:
    """Return evenly spaced values in ``[start, stop)`` (float32 by default), each ``repeat`` times.

    >>> from fluxion.mx import nd
    >>> nd.arange(2, 6, step=1.5, repeat=2).asnumpy().tolist()
    [2.0, 2.0, 3.5, 3.5, 5.0, 5.0]
    """
    _check_ctx(ctx)
    if stop is None:
        start, stop = 0, start
    out = fluxion.arange(start, stop, step, dtype=fluxion.float64).to(_dtype(dtype))
    if repeat != 1:
        out = out.reshape(-1, 1).expand(out.shape[0], repeat).reshape(-1)
    return _as_nd(out)


def zeros_like(data: Any) -> NDArray:
    """Return zeros with the shape and dtype of ``data``."""
    return _as_nd(fluxion.zeros(tuple(data.shape), dtype=data.dtype))


def ones_like(data: Any) -> NDArray:
    """Return ones with the shape and dtype of ``data``."""
    return _as_nd(fluxion.ones(tuple(data.shape), dtype=data.dtype))


def _scaled_sample(draw: Callable, scale: float, shift: float, shape, dtype, ctx, out) -> NDArray:
    """``draw(shape) * scale + shift`` as an NDArray, written into ``out`` when given."""
    _check_ctx(ctx)
    r = draw(_shape(shape), dtype=_dtype(dtype)) * scale + shift
    return _as_nd(r) if out is None else _as_nd(r).copyto(out)


def _uniform(
    low: float = 0.0,
    high: float = 1.0,
    shape: Any = 1,
    dtype: Any = None,
    ctx: Context | None = None,
    out: Any = None,
) -> NDArray:
    """Samples from the uniform distribution on ``[low, high)``."""
    return _scaled_sample(fluxion.rand, high - low, low, shape, dtype, ctx, out)


def _normal(
    loc: float = 0.0,
    scale: float = 1.0,
    shape: Any = 1,
    dtype: Any = None,
    ctx: Context | None = None,
    out: Any = None,
) -> NDArray:
    """Samples from the normal distribution with mean ``loc`` and deviation ``scale``."""
    return _scaled_sample(fluxion.randn, scale, loc, shape, dtype, ctx, out)


def _seed(seed_state: int, ctx: Any = "all") -> None:
    """Seed the random number generator."""
    fluxion.manual_seed(seed_state)


random = types.SimpleNamespace(uniform=_uniform, normal=_normal, seed=_seed)


# ---------------------------------------------------------------------------- linear algebra


@_mx
def dot(lhs: Any, rhs: Any, transpose_a: bool = False, transpose_b: bool = False) -> NDArray:
    """Dot product: sums the last axis of ``lhs`` against the first axis of ``rhs``.

    Two vectors give shape ``(1,)``, as in MXNet.

    >>> from fluxion.mx import nd
    >>> nd.dot(nd.array([1, 2]), nd.array([3, 4])).asnumpy().tolist()
    [11.0]
    """
    if transpose_a:
        lhs = lhs.permute(tuple(range(lhs.ndim - 1, -1, -1)))
    if transpose_b:
        rhs = rhs.permute(tuple(range(rhs.ndim - 1, -1, -1)))
    if lhs.shape[-1] != rhs.shape[0]:
        raise RuntimeError(
            f"dot: shapes {tuple(lhs.shape)} and {tuple(rhs.shape)} do not match: the last axis "
            f"of lhs ({lhs.shape[-1]}) must equal the first axis of rhs ({rhs.shape[0]})"
        )
    k = lhs.shape[-1]
    out_shape = tuple(lhs.shape[:-1]) + tuple(rhs.shape[1:])
    out = lhs.reshape(-1, k) @ rhs.reshape(k, -1)
    return out.reshape(out_shape if out_shape else (1,))


@_mx
def batch_dot(lhs: Any, rhs: Any, transpose_a: bool = False, transpose_b: bool = False) -> NDArray:
    """Batched matrix product of ``(B, N, M)`` and ``(B, M, K)`` arrays."""
    if transpose_a:
        lhs = lhs.transpose(-1, -2)
    if transpose_b:
        rhs = rhs.transpose(-1, -2)
    return fluxion.bmm(lhs, rhs)


@_mx
def concat(*data: Any, dim: int = 1) -> NDArray:
    """Join arrays along ``dim`` (default 1, as in MXNet).

    >>> from fluxion.mx import nd
    >>> nd.concat(nd.ones((2, 1)), nd.zeros((2, 2))).shape
    (2, 3)
    """
    return fluxion.cat(list(data), dim)


@_mx
def stack(*data: Any, axis: int = 0) -> NDArray:
    """Stack arrays along a new ``axis``.

    >>> from fluxion.mx import nd
    >>> nd.stack(nd.ones(2), nd.zeros(2)).shape
    (2, 2)
    """
    return fluxion.stack(list(data), axis)


# ---------------------------------------------------------------------------- shape


def reshape(data: Any, shape: Any) -> NDArray:
    """Return ``data`` with a new ``shape`` (``0`` copies that dimension, ``-1`` is inferred)."""
    if isinstance(data, NDArray):
        return data.reshape(shape)
    return _run(fluxion.reshape, data, _shape(shape))


def transpose(data: Any, axes: Any = None) -> NDArray:
    """Permute the axes of ``data`` (reverse them when ``axes`` is None)."""
    if axes is None:
        axes = tuple(range(data.ndim - 1, -1, -1))
    return _run(fluxion.permute, data, tuple(axes))


def expand_dims(data: Any, axis: int) -> NDArray:
    """Insert a dimension of size 1 at ``axis``."""
    return _run(fluxion.unsqueeze, data, axis)


def flatten(data: Any) -> NDArray:
    """Collapse all but the first dimension."""
    return _run(fluxion.reshape, data, (data.shape[0], -1))


# ---------------------------------------------------------------------------- reductions


def _reduce(fn: Any, data: Any, axis: Any, keepdims: bool, exclude: bool) -> NDArray:
    axes = _axes(axis, data.ndim, exclude)

    def go(x: Any) -> Any:
        out = fn(x) if axes is None else fn(x, dim=axes, keepdim=keepdims)
        if axes is None and keepdims:
            out = out.reshape((1,) * x.ndim)
        return _full_reduce(out, axes, keepdims)

    return _run(go, data)


def sum(data: Any, axis: Any = None, keepdims: bool = False, exclude: bool = False) -> NDArray:  # noqa: A001
    """Sum over ``axis`` (all axes give shape ``(1,)``).

    >>> from fluxion.mx import nd
    >>> nd.sum(nd.ones((2, 3)), axis=1).asnumpy().tolist()
    [3.0, 3.0]
    """
    return _reduce(fluxion.sum, data, axis, keepdims, exclude)


def mean(data: Any, axis: Any = None, keepdims: bool = False, exclude: bool = False) -> NDArray:
    """Mean over ``axis`` (all axes give shape ``(1,)``)."""
    return _reduce(fluxion.mean, data, axis, keepdims, exclude)


def max(data: Any, axis: Any = None, keepdims: bool = False, exclude: bool = False) -> NDArray:  # noqa: A001
    """Maximum over ``axis`` (all axes give shape ``(1,)``)."""
    return _reduce(fluxion.amax, data, axis, keepdims, exclude)


def min(data: Any, axis: Any = None, keepdims: bool = False, exclude: bool = False) -> NDArray:  # noqa: A001
    """Minimum over ``axis`` (all axes give shape ``(1,)``)."""
    return _reduce(fluxion.amin, data, axis, keepdims, exclude)


def prod(data: Any, axis: Any = None, keepdims: bool = False, exclude: bool = False) -> NDArray:
    """Product over ``axis`` (all axes give shape ``(1,)``)."""
    return _reduce(fluxion.prod, data, axis, keepdims, exclude)


def _arg(fn: Any, data: Any, axis: Any, keepdims: bool) -> NDArray:
    def go(x: Any) -> Any:
        out = fn(x) if axis is None else fn(x, dim=axis, keepdim=keepdims)
        return _full_reduce(out.to(fluxion.float32), axis, keepdims)

    return _run(go, data)


def argmax(data: Any, axis: Any = None, keepdims: bool = False) -> NDArray:
    """Indices of the maxima along ``axis``, as float32 (MXNet's convention).

    >>> from fluxion.mx import nd
    >>> nd.argmax(nd.array([[1, 5], [7, 2]]), axis=1).asnumpy().tolist()
    [1.0, 0.0]
    """
    return _arg(fluxion.argmax, data, axis, keepdims)


def argmin(data: Any, axis: Any = None, keepdims: bool = False) -> NDArray:
    """Indices of the minima along ``axis``, as float32 (MXNet's convention)."""
    return _arg(fluxion.argmin, data, axis, keepdims)


def norm(data: Any, ord: int = 2, axis: Any = None, keepdims: bool = False) -> NDArray:
    """The L1 (``ord=1``) or L2 (``ord=2``) norm over ``axis`` (all axes give shape ``(1,)``).

    >>> from fluxion.mx import nd
    >>> nd.norm(nd.array([3, 4])).asnumpy().tolist()
    [5.0]
    """
    if ord not in (1, 2):
        raise ValueError(f"norm: ord must be 1 or 2, got {ord!r}")

    def go(x: Any) -> Any:
        dims = None if axis is None else ((axis,) if isinstance(axis, int) else tuple(axis))
        a = x.abs() if ord == 1 else x * x
        s = a.sum() if dims is None else a.sum(dims, keepdim=keepdims)
        out = s if ord == 1 else s.sqrt()
        return _full_reduce(out, axis, keepdims)

    return _run(go, data)


# ---------------------------------------------------------------------------- elementwise


def clip(data: Any, a_min: float, a_max: float) -> NDArray:
    """Clamp ``data`` to ``[a_min, a_max]``."""
    return _run(fluxion.clamp, data, a_min, a_max)


def where(condition: Any, x: Any, y: Any) -> NDArray:
    """Pick ``x`` where ``condition`` is non-zero, else ``y``."""
    return _run(lambda c, a, b: fluxion.where(fluxion.ne(c, 0), a, b), condition, x, y)


def softmax(data: Any, axis: int = -1) -> NDArray:
    """Softmax along ``axis``."""
    return _run(fluxion.softmax, data, axis)


def log_softmax(data: Any, axis: int = -1) -> NDArray:
    """Log-softmax along ``axis``."""
    return _run(fluxion.log_softmax, data, axis)


def relu(data: Any) -> NDArray:
    """``max(data, 0)``."""
    return _run(fluxion.relu, data)


def sigmoid(data: Any) -> NDArray:
    """The logistic function."""
    return _run(fluxion.sigmoid, data)


def tanh(data: Any) -> NDArray:
    """The hyperbolic tangent."""
    return _run(fluxion.tanh, data)


_ACTIVATIONS = {
    "relu": fluxion.relu,
    "sigmoid": fluxion.sigmoid,
    "tanh": fluxion.tanh,
    "softrelu": F.softplus,
    "softsign": lambda x: x / (1 + x.abs()),
}


def Activation(data: Any, act_type: str) -> NDArray:  # noqa: N802 - MXNet's operator name
    """Apply the activation ``act_type``: relu, sigmoid, tanh, softrelu or softsign."""
    if act_type not in _ACTIVATIONS:
        raise ValueError(
            f"Activation: unknown act_type {act_type!r}; use one of {sorted(_ACTIVATIONS)}"
        )
    return _run(_ACTIVATIONS[act_type], data)


# Elementwise functions with MXNet's names: (mx name, fluxion function).
_ELEMENTWISE = {
    "exp": fluxion.exp,
    "log": fluxion.log,
    "log1p": fluxion.log1p,
    "expm1": fluxion.expm1,
    "sqrt": fluxion.sqrt,
    "rsqrt": fluxion.rsqrt,
    "square": fluxion.square,
    "abs": fluxion.abs,
    "sign": fluxion.sign,
    "sin": fluxion.sin,
    "cos": fluxion.cos,
    "tan": fluxion.tan,
    "arcsin": fluxion.asin,
    "arccos": fluxion.acos,
    "arctan": fluxion.atan,
    "sinh": fluxion.sinh,
    "cosh": fluxion.cosh,
    "floor": fluxion.floor,
    "ceil": fluxion.ceil,
    "round": fluxion.round,
    "trunc": fluxion.trunc,
    "negative": fluxion.neg,
    "reciprocal": fluxion.reciprocal,
    "erf": fluxion.erf,
    "add": fluxion.add,
    "subtract": fluxion.sub,
    "multiply": fluxion.mul,
    "divide": fluxion.div,
    "power": fluxion.pow,
    "maximum": fluxion.maximum,
    "minimum": fluxion.minimum,
    "broadcast_add": fluxion.add,
    "broadcast_sub": fluxion.sub,
    "broadcast_mul": fluxion.mul,
    "broadcast_div": fluxion.div,
    "broadcast_power": fluxion.pow,
    "broadcast_maximum": fluxion.maximum,
    "broadcast_minimum": fluxion.minimum,
    "elemwise_add": fluxion.add,
    "elemwise_sub": fluxion.sub,
    "elemwise_mul": fluxion.mul,
    "elemwise_div": fluxion.div,
}


def _elementwise(name: str, fn: Any) -> Any:
    def op(*args: Any) -> NDArray:
        return _run(fn, *args)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"MXNet's ``{name}``: elementwise ``fluxion.{fn.__name__}`` on arrays."
    return op


for _name, _fn in _ELEMENTWISE.items():
    globals()[_name] = _elementwise(_name, _fn)
    __all__.append(_name)
del _name, _fn


# ---------------------------------------------------------------------------- layers


def Dropout(  # noqa: N802 - MXNet's operator name
    data: Any, p: float = 0.5, mode: str = "training", axes: tuple = (), **kwargs: Any
) -> NDArray:
    """Zero elements with probability ``p`` (scaling the rest by ``1/(1-p)``) in training mode.

    Training mode is :func:`fluxion.mx.autograd.is_training` (on inside ``autograd.record()``);
    ``mode='always'`` drops in predict mode too. ``axes`` shares one mask along those axes.

    >>> from fluxion.mx import nd
    >>> x = nd.ones((2, 3))
    >>> (nd.Dropout(x, p=0.5) == x).min().asscalar()  # predict mode: the identity
    np.float32(1.0)
    """
    if mode not in ("training", "always"):
        raise ValueError(f"Dropout: mode must be 'training' or 'always', got {mode!r}")
    active = mode == "always" or _autograd.is_training()
    if not active or p == 0:
        return _run(lambda x: x.reshape(tuple(x.shape)), data)  # the identity (a view)
    if not axes:
        return _run(F.dropout, data, p, True)
    shape = tuple(1 if i in {a % data.ndim for a in axes} else s for i, s in enumerate(data.shape))
    keep = (fluxion.rand(shape, dtype=data.dtype) >= p).to(data.dtype) / (1 - p)
    return _run(fluxion.mul, data, keep)


def BatchNorm(  # noqa: N802 - MXNet's operator name
    data: Any,
    gamma: Any,
    beta: Any,
    moving_mean: Any,
    moving_var: Any,
    eps: float = 1e-3,
    momentum: float = 0.9,
    fix_gamma: bool = True,
    use_global_stats: bool = False,
    axis: int = 1,
    **kwargs: Any,
) -> NDArray:
    """Batch normalization over every axis but ``axis``, MXNet's conventions.

    In training mode (:func:`fluxion.mx.autograd.is_training`) it normalizes with the batch's
    mean and (biased) variance and updates the moving statistics in place:
    ``moving = momentum * moving + (1 - momentum) * batch``. In predict mode (or with
    ``use_global_stats``) it uses the moving statistics. ``fix_gamma`` uses a scale of 1.

    >>> from fluxion.mx import nd
    >>> x = nd.array([[1, 2], [3, 6]])
    >>> g, b, mm, mv = nd.ones(2), nd.zeros(2), nd.zeros(2), nd.ones(2)
    >>> nd.BatchNorm(x, g, b, mm, mv, eps=0.0).asnumpy().tolist()  # predict mode
    [[1.0, 2.0], [3.0, 6.0]]
    """
    ax = axis % data.ndim
    dims = tuple(i for i in range(data.ndim) if i != ax)
    bshape = tuple(s if i == ax else 1 for i, s in enumerate(data.shape))
    training = _autograd.is_training() and not use_global_stats

    def go(x: Any, g: Any, b: Any) -> Any:
        if training:
            mean = x.mean(dims)
            var = ((x - mean.reshape(bshape)) ** 2).mean(dims)
            with fluxion.no_grad():
                moving_mean.mul_(momentum).add_(mean.detach() * (1 - momentum))
                moving_var.mul_(momentum).add_(var.detach() * (1 - momentum))
        else:
            mean, var = moving_mean, moving_var
        scale = fluxion.ones_like(g) if fix_gamma else g
        xhat = (x - mean.reshape(bshape)) / (var.reshape(bshape) + eps).sqrt()
        return xhat * scale.reshape(bshape) + b.reshape(bshape)

    return _run(go, data, gamma, beta)
