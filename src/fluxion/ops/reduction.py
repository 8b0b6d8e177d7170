"""Reductions and scans: sum, mean, prod, max/min, var/std, logsumexp, norm, cumsum, softmax.

Ops whose PyTorch node name depends on the overload (``x.sum()`` gives ``SumBackward0``,
``x.sum(1)`` gives ``SumBackward1``) are two declarations behind one public function.
Every tie and non-smooth point is decided next to its rule, the way PyTorch decides it.
"""

from __future__ import annotations

import builtins
import math
from collections import namedtuple

from .. import creation as _creation
from .. import dtypes as _dt
from ..tensor import Tensor, _wrap
from ._grad_helpers import expand_reduced, norm_dim, norm_dims
from ._registry import NOT_DIFFERENTIABLE, defop
from ._registry import with_doc as _doc
from ._registry import xp as _xp
from .conversion import to
from .elementwise import maximum, minimum, where

__all__ = [
    "sum",
    "mean",
    "prod",
    "max",
    "min",
    "amax",
    "amin",
    "argmax",
    "argmin",
    "var",
    "std",
    "logsumexp",
    "norm",
    "cumsum",
    "cumprod",
    "all",
    "any",
    "count_nonzero",
    "softmax",
    "log_softmax",
]

_INF = math.inf


def _axes(dim, ndim: int, op: str) -> tuple:
    """NumPy axes for ``dim`` (``None`` or ``()``: all); a 0-d tensor accepts dim 0 or -1."""
    axes = norm_dims(dim, ndim, op)
    return axes if ndim else ()


def _int_acc(input, xp):
    """PyTorch accumulates integer and bool sums/products in int64."""
    return xp.int64 if input.dtype.kind in "biu" else None


def _count(shape: tuple, axes: tuple) -> int:
    n = 1
    for d in axes:
        n *= shape[d]
    return n


# ------------------------------------------------------------------------ sum, mean


# NOTE: forwards call array methods (input.sum) rather than xp.sum: for small arrays the
# methods skip NumPy's __array_function__ dispatch and cost half as much per call.


def _sum_fwd(xp, input, dim=None, keepdim=False):
    axes = None if dim is None else _axes(dim, input.ndim, "sum")
    return input.sum(axis=axes, keepdims=keepdim, dtype=_int_acc(input, xp))


def _sum_grad(grad, input_shape, dim, keepdim):
    return expand_reduced(grad, input_shape, dim, keepdim)


_sum_all = defop("sum", _sum_fwd, grads={"input": _sum_grad}, array_rules=True)
_sum_dim = defop(
    "sum_dim", _sum_fwd, grads={"input": _sum_grad}, node_name="SumBackward1", array_rules=True
)


def sum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum the elements of ``input``, over ``dim`` (an int or tuple) or over all of them.

    Integer and bool inputs sum in int64, as in PyTorch. ``dtype`` casts the input first.

    >>> fluxion.tensor([[1., 2.], [3., 4.]]).sum(0)
    tensor([4., 6.])
    >>> fluxion.tensor([True, True]).sum()
    tensor(2)
    """
    if dtype is not None:
        input = to(input, dtype)
    if dim is None:
        return _sum_all(input, None, keepdim)
    return _sum_dim(input, dim, keepdim)


def _mean_fwd(xp, input, dim=None, keepdim=False):
    if input.dtype.kind != "f":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {_dt.scalar_name(input.dtype)}"
        )
    axes = None if dim is None else _axes(dim, input.ndim, "mean")
    n = input.size if axes is None else _count(input.shape, axes)
    # half precision accumulates in float32 (as NumPy's mean and PyTorch do)
    acc = xp.float32 if input.dtype == xp.float16 else None
    total = input.sum(axis=axes, keepdims=keepdim, dtype=acc)
    if n == 0:  # NaN like PyTorch, without NumPy's empty-slice warning
        return total * xp.nan
    return (total / n).astype(input.dtype, copy=False)


def _mean_grad(grad, input_shape, dim, keepdim):
    count = _count(input_shape, _axes(dim, len(input_shape), "mean"))
    return expand_reduced(grad, input_shape, dim, keepdim) / builtins.max(count, 1)


_mean_all = defop("mean", _mean_fwd, grads={"input": _mean_grad}, array_rules=True)
_mean_dim = defop(
    "mean_dim", _mean_fwd, grads={"input": _mean_grad}, node_name="MeanBackward1", array_rules=True
)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    """Average the elements of ``input`` over ``dim`` (or all); integer inputs need ``dtype``.

    >>> fluxion.tensor([[1., 2.], [3., 4.]]).mean(1)
    tensor([1.5000, 3.5000])
    """
    if dtype is not None:
        input = to(input, dtype)
    if dim is None:
        return _mean_all(input, None, keepdim)
    return _mean_dim(input, dim, keepdim)


# ------------------------------------------------------------------------ prod


def _prod_fwd(xp, input, dim=None, keepdim=False):
    axis = None if dim is None or input.ndim == 0 else norm_dim(dim, input.ndim, "prod")
    return input.prod(axis=axis, keepdims=keepdim, dtype=_int_acc(input, xp))


def prod_backward(grad, input, result, dim=None, keepdim=False):
    """Gradient of ``prod``, exact with zeros in the input (PyTorch's ``prod_backward``).

    No zero in a slice: ``result / input``. One zero: only the zero gets the product of the
    others. Two or more zeros: the whole slice gets 0. No division ever meets a zero, so the
    rule stays finite under double backward.
    """
    shape = tuple(input.shape)
    g = expand_reduced(grad, shape, dim, keepdim)
    if input.numel() == 0:
        return g
    zero = input == 0
    if not zero.any():
        return g * expand_reduced(result, shape, dim, keepdim) / input
    if dim is None:
        count = zero.sum(None, True)
        safe = where(zero, 1.0, input)
        others = safe.prod().reshape((1,) * len(shape))
    else:
        count = zero.sum(dim, True)
        safe = where(zero, 1.0, input)
        others = safe.prod(dim, True)
    # NOTE: first derivatives are exact; second derivatives at exact zeros are not (the
    # products of the others are treated as constant 0 where another zero sits in the slice)
    return g * where(zero, where(count == 1, others, 0.0), where(count == 0, others / safe, 0.0))


_prod_all = defop("prod", _prod_fwd, grads={"input": prod_backward})
_prod_dim = defop("prod_dim", _prod_fwd, grads={"input": prod_backward}, node_name="ProdBackward1")


def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Multiply the elements of ``input``, over one ``dim`` (an int) or over all of them.

    >>> fluxion.tensor([[1., 2.], [3., 4.]]).prod(1)
    tensor([ 2., 12.])
    >>> fluxion.tensor([2, 3]).prod()
    tensor(6)
    """
    if dtype is not None:
        input = to(input, dtype)
    if dim is None:
        return _prod_all(input, None, keepdim)
    if not hasattr(dim, "__index__"):
        raise TypeError(
            f"prod(): argument 'dim' must be int, not {type(dim).__name__}; reduce one "
            "dimension at a time, e.g. x.prod(0).prod(0)"
        )
    return _prod_dim(input, dim, keepdim)


# ------------------------------------------------------------------------ max, min, amax, amin


def _return_type(name: str):
    """A ``(values, indices)`` named tuple that prints like ``torch.return_types.<name>``."""
    cls = namedtuple(name, ("values", "indices"))
    cls.__module__ = "fluxion.return_types"
    cls.__repr__ = lambda self: (
        f"fluxion.return_types.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"
    )
    return cls


_MaxResult = _return_type("max")
_MinResult = _return_type("min")


def _check_nonempty(input, op: str) -> None:
    if input.size == 0:
        raise RuntimeError(
            f"{op}(): Expected reduction dim to be specified for input.numel() == 0. "
            "Specify the reduction dim with the 'dim' argument."
        )


def _check_dim_nonempty(input, axes: tuple, op: str) -> None:
    for d in axes:
        if input.shape[d] == 0:
            raise IndexError(f"{op}(): Expected reduction dim {d} to have non-zero size.")


def evenly_distribute_backward(grad, input, result):
    """Split the gradient of a full max/min evenly among the tied elements (as PyTorch)."""
    mask = input.isnan() if result.isnan() else input == result
    return where(mask, grad / mask.sum(), 0.0)


def _max_all_fwd(xp, input):
    _check_nonempty(input, "max")
    return input.max()


def _min_all_fwd(xp, input):
    _check_nonempty(input, "min")
    return input.min()


_max_all = defop(
    "max", _max_all_fwd, node_name="MaxBackward1", grads={"input": evenly_distribute_backward}
)
_min_all = defop(
    "min", _min_all_fwd, node_name="MinBackward1", grads={"input": evenly_distribute_backward}
)


def _select_dim_fwd(xp, input, dim, keepdim, op, arg):
    d = norm_dim(dim, input.ndim, op)
    if input.ndim == 0:
        return input.copy(), xp.zeros((), dtype=xp.int64)
    _check_dim_nonempty(input, (d,), op)
    idx = arg(input, axis=d, keepdims=True)  # first occurrence on ties; NaN wins, as in PyTorch
    values = xp.take_along_axis(input, idx, axis=d)
    if not keepdim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    return values, idx.astype(xp.int64, copy=False)


def value_selecting_backward(grad, dim, keepdim, indices, input_shape):
    """Send the gradient of ``max(dim)``/``min(dim)`` to the selected index only."""
    if not input_shape:
        return grad
    d = norm_dim(dim, len(input_shape))
    idx = _wrap(indices)
    if not keepdim:
        idx, grad = idx.unsqueeze(d), grad.unsqueeze(d)
    pos = _creation.arange(input_shape[d]).reshape(
        tuple(-1 if i == d else 1 for i in range(len(input_shape)))
    )
    return where(idx == pos, grad, 0.0)


_max_dim = defop(
    "max_dim",
    lambda xp, input, dim, keepdim=False: _select_dim_fwd(
        xp, input, dim, keepdim, "max", xp.argmax
    ),
    grads={"input": value_selecting_backward},
    aux=("indices",),
    node_name="MaxBackward0",
)
_min_dim = defop(
    "min_dim",
    lambda xp, input, dim, keepdim=False: _select_dim_fwd(
        xp, input, dim, keepdim, "min", xp.argmin
    ),
    grads={"input": value_selecting_backward},
    aux=("indices",),
    node_name="MinBackward0",
)


def max(input, dim=None, keepdim=False):
    """Return the largest element; with ``dim``, the named tuple ``(values, indices)``.

    ``max(input, other)`` (a tensor as second argument) is :func:`maximum`. The gradient of the
    full reduction is split evenly among ties; with ``dim`` it goes to the returned index.

    >>> x = fluxion.tensor([[1., 5.], [7., 3.]])
    >>> x.max()
    tensor(7.)
    >>> x.max(1).indices
    tensor([1, 0])
    """
    if dim is None:
        return _max_all(input)
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    return _MaxResult(*_max_dim(input, dim, keepdim))


def min(input, dim=None, keepdim=False):
    """Return the smallest element; with ``dim``, the named tuple ``(values, indices)``.

    >>> x = fluxion.tensor([[1., 5.], [7., 3.]])
    >>> x.min(0).values
    tensor([1., 3.])
    """
    if dim is None:
        return _min_all(input)
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    return _MinResult(*_min_dim(input, dim, keepdim))


def _amax_fwd(xp, input, dim, keepdim, op, fn):
    axes = _axes(dim, input.ndim, op)
    if dim is None or dim == ():
        _check_nonempty(input, op)
    _check_dim_nonempty(input, axes, op)
    return getattr(input, fn)(axis=axes, keepdims=keepdim)


def amax_backward(grad, input, result, dim, keepdim):
    """Split the gradient evenly among the elements equal to the extreme of their slice."""
    shape = tuple(input.shape)
    axes = _axes(dim, len(shape), "amax")
    mask = input == expand_reduced(result, shape, axes, keepdim)
    return where(mask, expand_reduced(grad, shape, axes, keepdim) / mask.sum(axes, True), 0.0)


amax = _doc(
    defop(
        "amax",
        lambda xp, input, dim=(), keepdim=False: _amax_fwd(xp, input, dim, keepdim, "amax", "max"),
        grads={"input": amax_backward},
    ),
    """Return the maximum over ``dim`` (int or tuple; ``()``: all dims).

    Ties share the gradient evenly, as in PyTorch.

    >>> fluxion.amax(fluxion.tensor([[1., 5.], [7., 3.]]), dim=0)
    tensor([7., 5.])
    """,
)
amin = _doc(
    defop(
        "amin",
        lambda xp, input, dim=(), keepdim=False: _amax_fwd(xp, input, dim, keepdim, "amin", "min"),
        grads={"input": amax_backward},
    ),
    """Return the minimum over ``dim`` (int or tuple; ``()``: all dims).

    >>> fluxion.amin(fluxion.tensor([[1., 5.], [7., 3.]]), dim=1)
    tensor([1., 3.])
    """,
)


def _arg_fwd(xp, input, dim, keepdim, op, fn):
    if input.dtype.kind == "b":
        raise RuntimeError(f"{op}(): does not support bool input; convert it with .long() first")
    if dim is None:
        if input.size == 0:
            raise IndexError(
                f"{op}(): Expected reduction dim to be specified for input.numel() == 0."
            )
        out = xp.asarray(fn(input), dtype=xp.int64)
        return out.reshape((1,) * input.ndim) if keepdim else out
    d = norm_dim(dim, input.ndim, op)
    if input.ndim == 0:
        return xp.zeros((), dtype=xp.int64)
    _check_dim_nonempty(input, (d,), op)
    return fn(input, axis=d, keepdims=keepdim).astype(xp.int64, copy=False)


argmax = _doc(
    defop(
        "argmax",
        lambda xp, input, dim=None, keepdim=False: _arg_fwd(
            xp, input, dim, keepdim, "argmax", xp.argmax
        ),
        NOT_DIFFERENTIABLE,
    ),
    """Return the index of the largest element (of the flattened input if ``dim`` is None).

    >>> fluxion.argmax(fluxion.tensor([[1., 5.], [7., 3.]]))
    tensor(2)
    >>> fluxion.argmax(fluxion.tensor([[1., 5.], [7., 3.]]), dim=1)
    tensor([1, 0])
    """,
)
argmin = _doc(
    defop(
        "argmin",
        lambda xp, input, dim=None, keepdim=False: _arg_fwd(
            xp, input, dim, keepdim, "argmin", xp.argmin
        ),
        NOT_DIFFERENTIABLE,
    ),
    """Return the index of the smallest element (of the flattened input if ``dim`` is None).

    >>> fluxion.argmin(fluxion.tensor([[1., 5.], [7., 3.]]), dim=0)
    tensor([0, 1])
    """,
)

# ------------------------------------------------------------------------ var, std


def _var_args(dim, unbiased, correction) -> tuple:
    """Resolve PyTorch's overloads: ``var(False)`` means ``unbiased=False``."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    if correction is None:
        correction = 0 if unbiased is False else 1
    return dim, correction


def _var_acc(xp, input, dim, unbiased, keepdim, correction, op):
    """The variance accumulated in float64, as PyTorch's CPU kernels do for narrower floats
    (float32 squares of 1e20 would overflow; the std of such values is finite)."""
    if input.dtype.kind != "f":
        raise RuntimeError(
            "std and var only support floating point and complex dtypes, got "
            f"{_dt.scalar_name(input.dtype)}; convert with .float() first"
        )
    if input.dtype.itemsize < 8:
        input = input.astype(xp.float64)
    dim, correction = _var_args(dim, unbiased, correction)
    axes = _axes(dim, input.ndim, op)
    n = _count(input.shape, axes)
    if n - correction > 0:
        return xp.var(input, axis=axes, ddof=correction, keepdims=keepdim)
    # PyTorch divides by max(0, n - correction): inf or NaN, without NumPy's warnings
    with xp.errstate(divide="ignore", invalid="ignore"):
        mu = xp.sum(input, axis=axes, keepdims=True) / n
        dev = input - mu
        return xp.sum(dev * dev, axis=axes, keepdims=keepdim) / input.dtype.type(0)


def _var_fwd(xp, input, dim=None, unbiased=None, keepdim=False, correction=None):
    out = _var_acc(xp, input, dim, unbiased, keepdim, correction, "var")
    with xp.errstate(over="ignore"):  # a float32 variance above 3.4e38 is inf, as in PyTorch
        return xp.asarray(out).astype(input.dtype, copy=False)


def var_backward(grad, input, dim, unbiased, keepdim, correction):
    """``2 (x - mean) / (n - correction)``, broadcast over the reduced dims."""
    dim, correction = _var_args(dim, unbiased, correction)
    shape = tuple(input.shape)
    axes = _axes(dim, len(shape), "var")
    n = _count(shape, axes)
    scale = 2.0 / (n - correction) if n - correction > 0 else _INF
    g = expand_reduced(grad, shape, axes, keepdim)
    return g * (input - input.mean(axes, True)) * scale


def _std_fwd(xp, input, dim=None, unbiased=None, keepdim=False, correction=None):
    out = xp.sqrt(_var_acc(xp, input, dim, unbiased, keepdim, correction, "std"))
    return xp.asarray(out).astype(input.dtype, copy=False)


def std_backward(grad, input, result, dim, unbiased, keepdim, correction):
    """``var_backward(grad / (2 std))``, with 0 where the std is 0 (as in PyTorch)."""
    zero = result == 0
    grad_var = where(zero, 0.0, grad / where(zero, 1.0, result * 2))
    return var_backward(grad_var, input, dim, unbiased, keepdim, correction)


# NOTE: `correction` is keyword-only in PyTorch; it is positional-or-keyword here so the public
# function keeps the fast path (no keyword repacking per call).
var = _doc(
    defop(
        "var",
        lambda xp, input, dim=None, unbiased=None, keepdim=False, correction=None: _var_fwd(
            xp, input, dim, unbiased, keepdim, correction
        ),
        grads={"input": var_backward},
    ),
    """Return the variance over ``dim`` with Bessel's ``correction`` (default 1).

    ``unbiased=False`` means ``correction=0``; ``var(False)`` is accepted as in PyTorch.

    >>> fluxion.tensor([1., 2., 3., 4.]).var()
    tensor(1.6667)
    >>> fluxion.tensor([1., 2., 3., 4.]).var(correction=0)
    tensor(1.2500)
    """,
)
std = _doc(
    defop("std", _std_fwd, grads={"input": std_backward}),
    """Return the standard deviation over ``dim`` (see :func:`var` for the arguments).

    >>> fluxion.tensor([[1., 3.], [2., 2.]]).std(1)
    tensor([1.4142, 0.0000])
    """,
)

# ------------------------------------------------------------------------ logsumexp


def _logsumexp_fwd(xp, input, dim, keepdim=False):
    axes = _axes(dim, input.ndim, "logsumexp")
    if input.size == 0:
        with xp.errstate(divide="ignore"):
            return xp.log(xp.sum(xp.exp(input), axis=axes, keepdims=keepdim))
    m = input.max(axis=axes, keepdims=True)
    m = xp.where(xp.isinf(m), 0, m)  # all -inf (or an inf) in a slice: do not shift by inf
    out = xp.log(xp.exp(input - m).sum(axis=axes, keepdims=True)) + m
    return out if keepdim else out.squeeze(axes)


def _logsumexp_grad(grad, input, result, dim, keepdim):
    shape = tuple(input.shape)
    axes = _axes(dim, len(shape), "logsumexp")
    r = expand_reduced(result, shape, axes, keepdim)
    return expand_reduced(grad, shape, axes, keepdim) * (input - r).exp()


logsumexp = _doc(
    defop("logsumexp", _logsumexp_fwd, promote="float", grads={"input": _logsumexp_grad}),
    """Compute ``log(sum(exp(input)))`` over ``dim`` without overflow.

    Args:
        input: Tensor (integers are converted to the default float dtype).
        dim: Dimension or tuple of dimensions to reduce.
        keepdim: Keep reduced dimensions with size 1.

    >>> fluxion.logsumexp(fluxion.tensor([0.0, 0.0]), dim=0)
    tensor(0.6931)
    >>> fluxion.logsumexp(fluxion.tensor([1000.0, 1000.0]), dim=0)  # no overflow
    tensor(1000.6932)
    """,
)

# ------------------------------------------------------------------------ norm


def _norm_p(p):
    if p is None or p == "fro":
        return 2.0
    if isinstance(p, str):
        raise RuntimeError(
            f"norm: p={p!r} is not supported; use p='fro', a number, inf or -inf "
            "(matrix norms such as 'nuc' are not implemented)"
        )
    return float(p)


def _norm_fwd(xp, input, p="fro", dim=None, keepdim=False, dtype=None):
    if input.dtype.kind != "f":
        raise RuntimeError(
            "linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
            f"{_dt.scalar_name(input.dtype)}"
        )
    if dtype is not None:
        input = input.astype(_dt.to_dtype(dtype).np)
    p = _norm_p(p)
    axes = _axes(dim, input.ndim, "norm")
    a = xp.abs(input)
    if (p < 0 or math.isinf(p)) and builtins.any(input.shape[d] == 0 for d in axes):
        # max / min / sum of a ** p with p < 0 have no identity: nothing to return for empties
        where = "an empty tensor" if dim is None else f"the dimension {_first_empty(input, axes)}"
        raise RuntimeError(
            f"linalg.vector_norm cannot compute the {p:g} norm on {where} because "
            f"{'the' if dim is None else 'this dimension is empty and the'} operation does not "
            "have an identity"
        )
    if p != 0.0 and _count(input.shape, axes) == 1:
        out = a.sum(axis=axes, keepdims=keepdim)  # one element: |x|, even where x * x overflows
    elif p == 2.0:
        out = xp.sqrt((a * a).sum(axis=axes, keepdims=keepdim))
    elif p == 1.0:
        out = a.sum(axis=axes, keepdims=keepdim)
    elif p == 0.0:
        out = (a != 0).sum(axis=axes, keepdims=keepdim, dtype=input.dtype)
    elif math.isinf(p):
        out = (xp.amax if p > 0 else xp.amin)(a, axis=axes, keepdims=keepdim)
    else:
        with xp.errstate(divide="ignore"):  # 0 ** negative p is inf, and the norm is then 0
            out = (a**p).sum(axis=axes, keepdims=keepdim) ** (1.0 / p)
    return xp.asarray(out, dtype=input.dtype)


def _first_empty(input, axes) -> int:
    return next(d for d in axes if input.shape[d] == 0)


def norm_backward(grad, input, result, p, dim, keepdim, dtype):
    """Gradient of the vector p-norm (PyTorch's ``linalg_vector_norm_backward``).

    At a zero vector the gradient is 0 for every p, as in PyTorch; ``inf``/``-inf`` norms split
    the gradient among tied elements; ``p == 0`` has gradient 0.
    """
    x = input if dtype is None else input.to(dtype)
    p = _norm_p(p)
    shape = tuple(x.shape)
    axes = _axes(dim, len(shape), "norm")
    g = expand_reduced(grad, shape, axes, keepdim)
    r = expand_reduced(result, shape, axes, keepdim)
    zero_norm = r == 0
    if p == 0.0:
        out = g * 0.0
    elif p == 1.0:
        out = g * x.sign()
    elif p == 2.0:
        out = x * where(zero_norm, 0.0, g / where(zero_norm, 1.0, r))
    elif math.isinf(p):
        mask = x.abs() == r
        out = where(mask, x.sign() * g / mask.sum(axes, True), 0.0)
    else:
        ax = x.abs()
        if p < 1.0:  # |x|^(p-1) is infinite at 0: define the term as 0 there, like PyTorch
            zx = x == 0
            scaled = where(zx, 0.0, x.sign() * where(zx, 1.0, ax).pow(p - 1.0))
        elif p < 2.0:
            scaled = x.sign() * ax.pow(p - 1.0)
        else:
            scaled = x * ax.pow(p - 2.0)
        out = scaled * where(zero_norm, 0.0, g / where(zero_norm, 1.0, r).pow(p - 1.0))
    return out.to(input.dtype)


norm = _doc(
    defop("norm", _norm_fwd, grads={"input": norm_backward}, node_name="LinalgVectorNormBackward0"),
    """Return the vector p-norm of ``input`` over ``dim`` (all elements if None).

    Args:
        input: Floating-point tensor.
        p: ``'fro'`` (= 2), any number, ``inf`` (max abs) or ``-inf`` (min abs).
        dim: Dimension or tuple of dimensions.
        keepdim: Keep reduced dimensions with size 1.
        dtype: Compute (and return) in this dtype.

    >>> fluxion.tensor([3., 4.]).norm()
    tensor(5.)
    >>> fluxion.tensor([[3., -4.], [1., 1.]]).norm(1, dim=1)
    tensor([7., 2.])
    """,
)

# ------------------------------------------------------------------------ cumsum, cumprod


def _scan_fwd(xp, input, dim, dtype, op, fn):
    d = norm_dim(dim, input.ndim, op)
    dt = _dt.to_dtype(dtype).np if dtype is not None else _int_acc(input, xp)
    if input.ndim == 0:
        return input.astype(dt or input.dtype)
    return fn(input, axis=d, dtype=dt)


def _reverse_cumsum_fwd(xp, input, dim):
    d = norm_dim(dim, input.ndim, "cumsum")
    if input.ndim == 0:
        return input.copy()
    return xp.flip(xp.cumsum(xp.flip(input, d), axis=d), d)


# reverse_cumsum is the adjoint of cumsum (and vice versa): each is the other's rule
_reverse_cumsum = defop(
    "reverse_cumsum", _reverse_cumsum_fwd, grads={"input": lambda grad, dim: cumsum(grad, dim)}
)


def cumprod_backward(grad, input, result, dim):
    """Gradient of ``cumprod``, exact with zeros and O(n) (no quadratic products).

    Before the first zero of a slice: ``reverse_cumsum(grad * result) / input``. At the first
    zero: the reverse cumulative sum of ``grad`` times the cumulative product with that zero
    replaced by 1. After it every product contains the zero, so the gradient is 0.
    """
    if input.ndim == 0 or input.numel() == 0:
        return grad
    zero = input == 0
    if not zero.any():
        return _reverse_cumsum(grad * result, dim) / input
    seen = zero.cumsum(dim)
    before = seen == 0
    first = zero.logical_and(seen == 1)
    left = _reverse_cumsum(grad * result, dim) / where(before, input, 1.0)
    at_zero = _reverse_cumsum(grad * where(first, 1.0, input).cumprod(dim), dim)
    return where(before, left, where(first, at_zero, 0.0))


cumsum = _doc(
    defop(
        "cumsum",
        lambda xp, input, dim, dtype=None: _scan_fwd(xp, input, dim, dtype, "cumsum", xp.cumsum),
        grads={"input": lambda grad, dim, input_dtype: _reverse_cumsum(grad, dim).to(input_dtype)},
    ),
    """Return the cumulative sum along ``dim`` (integers accumulate in int64).

    >>> fluxion.tensor([1., 2., 3.]).cumsum(0)
    tensor([1., 3., 6.])
    """,
)
cumprod = _doc(
    defop(
        "cumprod",
        lambda xp, input, dim, dtype=None: _scan_fwd(xp, input, dim, dtype, "cumprod", xp.cumprod),
        grads={
            "input": lambda grad, input, result, dim, input_dtype: cumprod_backward(
                grad, input.to(result.dtype), result, dim
            ).to(input_dtype)
        },
    ),
    """Return the cumulative product along ``dim``.

    >>> fluxion.tensor([1., 2., 3.]).cumprod(0)
    tensor([1., 2., 6.])
    """,
)

# ------------------------------------------------------------------------ all, any, count_nonzero


def _logical_fwd(xp, input, dim, keepdim, fn):
    if dim == ():  # PyTorch reduces nothing for an empty dim list here (unlike sum)
        out = input != 0
    else:
        axes = None if dim is None else _axes(dim, input.ndim, fn.__name__)
        out = xp.asarray(fn(input, axis=axes, keepdims=keepdim))
    return out.astype(xp.uint8) if input.dtype == xp.uint8 else out


all = _doc(
    defop(
        "all",
        lambda xp, input, dim=None, keepdim=False: _logical_fwd(xp, input, dim, keepdim, xp.all),
        NOT_DIFFERENTIABLE,
    ),
    """Test whether all elements (over ``dim``) are non-zero; uint8 in gives uint8 out.

    >>> fluxion.tensor([[1, 0], [1, 1]]).all(1)
    tensor([False,  True])
    """,
)
any = _doc(
    defop(
        "any",
        lambda xp, input, dim=None, keepdim=False: _logical_fwd(xp, input, dim, keepdim, xp.any),
        NOT_DIFFERENTIABLE,
    ),
    """Test whether any element (over ``dim``) is non-zero.

    >>> fluxion.tensor([[0., 0.], [0., 2.]]).any(1)
    tensor([False,  True])
    """,
)


def _count_nonzero_fwd(xp, input, dim=None):
    axes = None if dim is None else _axes(dim, input.ndim, "count_nonzero")
    return xp.asarray(xp.count_nonzero(input, axis=axes), dtype=xp.int64)


count_nonzero = _doc(
    defop("count_nonzero", _count_nonzero_fwd, NOT_DIFFERENTIABLE),
    """Count the non-zero elements, over ``dim`` (int or tuple) or all.

    >>> fluxion.count_nonzero(fluxion.tensor([[0., 1.], [2., 3.]]), dim=0)
    tensor([1, 2])
    """,
)

# ------------------------------------------------------------------------ softmax, log_softmax


def _softmax_prep(xp, input, dim, dtype, op):
    d = norm_dim(dim, input.ndim, op)  # the dim first, as in PyTorch
    if dtype is not None:
        input = input.astype(_dt.to_dtype(dtype).np)
    elif input.dtype.kind != "f" and input.size:  # an empty tensor is returned as it is
        raise NotImplementedError(
            f"\"{op}\" not implemented for '{_dt.scalar_name(input.dtype)}'; pass "
            "dtype=fluxion.float32 or convert the input to a floating-point dtype"
        )
    return input, (d if input.ndim else None)


def _softmax_fwd(xp, input, dim, dtype=None):
    x, d = _softmax_prep(xp, input, dim, dtype, "softmax")
    if x.size == 0:
        return x.copy()
    e = xp.exp(x - x.max(axis=d, keepdims=True))  # shift by the max: exp never overflows
    e /= e.sum(axis=d, keepdims=True)
    return e


def _log_softmax_fwd(xp, input, dim, dtype=None):
    x, d = _softmax_prep(xp, input, dim, dtype, "log_softmax")
    if x.size == 0:
        return x.copy()
    s = x - x.max(axis=d, keepdims=True)
    s -= xp.log(xp.exp(s).sum(axis=d, keepdims=True))
    return s


def _softmax_dim(dim, result):
    return dim if result.ndim else None


softmax = _doc(
    defop(
        "softmax",
        _softmax_fwd,
        grads={
            "input": lambda grad, result, dim, input_dtype: (
                result * (grad - (grad * result).sum(_softmax_dim(dim, result), True))
            ).to(input_dtype)
        },
    ),
    """Apply softmax along ``dim``: ``exp(x) / exp(x).sum(dim)``, shifted by the max.

    Args:
        input: Floating-point tensor (integers need ``dtype``).
        dim: The dimension that sums to 1.
        dtype: Cast the input to this dtype first.

    >>> fluxion.softmax(fluxion.tensor([0.0, 0.0]), dim=0)
    tensor([0.5000, 0.5000])
    """,
)


def _log_softmax_grad_raw(grad, result, dim, input_dtype):
    """The log_softmax rule on raw arrays (first-order backward): the same NumPy calls."""
    g = grad - _xp.exp(result) * grad.sum(axis=_softmax_dim(dim, result), keepdims=True)
    return g if g.dtype == input_dtype.np else g.astype(input_dtype.np)


log_softmax = _doc(
    defop(
        "log_softmax",
        _log_softmax_fwd,
        grads={
            "input": lambda grad, result, dim, input_dtype: (
                grad - result.exp() * grad.sum(_softmax_dim(dim, result), True)
            ).to(input_dtype)
        },
        raw_grads={"input": _log_softmax_grad_raw},
    ),
    """Apply ``log(softmax(x))`` along ``dim``, computed stably as ``x - logsumexp(x)``.

    >>> fluxion.log_softmax(fluxion.tensor([0.0, 0.0]), dim=0)
    tensor([-0.6931, -0.6931])
    """,
)
