"""Pointwise ops and their derivative rules.

Every rule is written with fluxion Tensor ops, so it is itself differentiable (double backward).
Non-smooth points are decided where the rule lives, matching PyTorch.
"""

from __future__ import annotations

import math

from .. import dtypes as _dt
from .._backend import PARALLEL_MIN as _PAR
from .._backend import blockwise, threaded, threaded_binary
from ..tensor import Tensor
from . import _registry
from ._registry import NOT_DIFFERENTIABLE, ZERO, defop, small_expr
from ._registry import xp as _xp

_ndarray = _xp.ndarray

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

# ------------------------------------------------------------------------ argument checks


def _tensors_only(ufunc: str, op: str, kind: str):
    """Forward of ops that take tensors only, as in PyTorch (``maximum(x, 2)`` is a TypeError).

    The check runs before promotion, which would turn a Python number into an array.
    """

    def forward(xp, input, other):
        if getattr(other, "dtype", None) is None:
            raise TypeError(
                f"{op}(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}"
            )
        input, other = _registry.promote_pair(input, other, kind)
        return getattr(xp, ufunc)(input, other)

    return forward


_BOOL_ERRORS = {  # PyTorch's exception for each op that rejects bool tensors
    "neg": RuntimeError(
        "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
        "invert a mask, use the `~` or `logical_not()` operator instead."
    ),
    "abs": NotImplementedError("\"abs_cpu\" not implemented for 'Bool'"),
    "relu": RuntimeError("Boolean inputs not supported for relu"),
}


def _no_bool(input, op: str):
    if input.dtype.kind == "b":
        raise _BOOL_ERRORS[op]
    return input


def _float_kernel(input, kernel: str):
    """Raise PyTorch's dispatch error unless ``input`` (an array) is floating point.

    ``kernel`` is the name PyTorch's message uses (``"softplus_cpu"``, ``"GeluKernelImpl"``).
    """
    if input.dtype.kind != "f":
        name = _dt.scalar_name(input.dtype)
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{name}'")
    return input


def _float_only(input, op: str):
    """Ops such as ``frac`` have no integer kernel in PyTorch."""
    return _float_kernel(input, f"{op}_cpu")


def _rounding(fn, input, op: str):
    """Rounding leaves integers unchanged (NumPy would turn them into float64)."""
    if input.dtype.kind == "f":
        return fn(input)
    if input.dtype.kind == "b":
        raise NotImplementedError(f"\"{op}_vml_cpu\" not implemented for 'Bool'")
    return input.copy()


_C_NAMES = {  # PyTorch's C++ names of dtypes in scalar-conversion messages
    "bool": "bool",
    "uint8": "uint8_t",
    "int8": "int8_t",
    "int16": "int16_t",
    "int32": "int",
    "int64": "int64_t",
    "float16": "c10::Half",
    "float32": "float",
    "float64": "double",
}


def _scalar_as(xp, value, dtype):
    """Convert a Python number to a 0-d array of ``dtype`` as PyTorch converts scalar arguments.

    Integers wrap into unsigned types within the magnitude of the type (``-1`` is 255 for
    uint8, as in PyTorch); floats are truncated toward zero and must fit; nan and inf never fit
    an integer type. Anything else raises PyTorch's RuntimeError instead of NumPy's
    OverflowError.
    """
    kind = dtype.kind
    if kind == "b":
        return xp.asarray(bool(value))
    if kind == "f":
        big = xp.finfo(dtype).max
        if isinstance(value, float) and math.isfinite(value) and not -big <= value <= big:
            raise RuntimeError(
                f"value cannot be converted to type {_C_NAMES[dtype.name]} without overflow"
            )
        return xp.asarray(value, dtype=dtype)
    info = xp.iinfo(dtype)
    if isinstance(value, float):
        fits = math.isfinite(value) and info.min <= value <= info.max
    else:
        value = int(value)
        fits = info.min <= value <= info.max or (kind == "u" and -info.max <= value < 0)
    if not fits:
        raise RuntimeError(
            f"value cannot be converted to type {_C_NAMES[dtype.name]} without overflow"
        )
    return xp.asarray(int(value)).astype(dtype)


def _result_dtype(a, b):
    """The dtype of promoted operands (one of them may be a Python number)."""
    return a.dtype if hasattr(a, "dtype") else b.dtype


def _alpha(xp, alpha, dtype):
    """``alpha`` of add/sub converted to the result dtype, with PyTorch's checks."""
    if dtype.kind in "biu" and isinstance(alpha, float):
        raise RuntimeError(
            "For integral input tensors, argument alpha must not be a floating point number."
        )
    return _scalar_as(xp, alpha, dtype)


# ------------------------------------------------------------------------ binary arithmetic

# Arithmetic on large arrays is split over threads (fluxion._backend): forwards and the raw
# (first-order) rules call these instead of the operators. Small operands go straight to the ufunc.
_add = threaded_binary("add")
_sub = threaded_binary("subtract")
_mul = threaded_binary("multiply")
_div = threaded_binary("true_divide")
_negative = threaded(lambda xp, input: xp.negative(input), "negative")


def _neg(grad):
    """``-grad`` for a raw gradient (an array or a NumPy scalar)."""
    return -grad if grad.size < _PAR else _negative(_xp, grad)


def _fused(kernel, grad, *operands):
    """A raw rule's chain of ufuncs in one buffer, blockwise on every core; None if small.

    ``kernel(out, grad, *operands)`` repeats the rule's expression operation by operation, in
    the same order, writing into ``out`` (of ``grad``'s shape and dtype), so the result is the
    expression's to the bit. Every array operand must have ``grad``'s shape and dtype; otherwise
    (and below the backend's size threshold) this returns None and the rule takes its plain path.
    """
    if type(grad) is not _ndarray:
        return None
    return blockwise(kernel, grad.shape, grad.dtype, grad, *operands)


def _add_fwd(xp, input, other, alpha=1):
    if alpha == 1:
        return _add(xp, input, other)
    return _add(xp, input, _mul(xp, other, _alpha(xp, alpha, _result_dtype(input, other))))


# with alpha at its default and small operands, the forward is exactly np.add (the generated
# call path then calls it directly)
_add_fwd.small_ufunc = _xp.add
add = defop(
    "add",
    _add_fwd,
    broadcasts=True,
    promote="promote",
    array_rules=True,
    grads={
        "input": lambda grad: grad,
        "other": lambda grad, alpha: grad if alpha == 1 else grad * alpha,
    },
    raw_grads={
        "input": lambda grad: grad,
        "other": lambda grad, alpha: grad if alpha == 1 else _mul(_xp, grad, alpha),
    },
)


def _sub_fwd(xp, input, other, alpha=1):
    if (
        getattr(input, "dtype", None) == xp.bool_
        or getattr(other, "dtype", None) == xp.bool_
        or type(other) is bool
        or type(input) is bool
    ):
        raise RuntimeError(
            "Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
            "trying to invert a mask, use the `~` or `logical_not()` operator instead."
        )
    input, other = _registry.promote_pair(input, other)  # after the check: bools become ints
    if alpha == 1:
        return _sub(xp, input, other)
    return _sub(xp, input, _mul(xp, other, _alpha(xp, alpha, _result_dtype(input, other))))


sub = defop(
    "sub",
    _sub_fwd,
    broadcasts=True,
    array_rules=True,
    grads={
        "input": lambda grad: grad,
        "other": lambda grad, alpha: -grad if alpha == 1 else grad * -alpha,
    },
    raw_grads={
        "input": lambda grad: grad,
        "other": lambda grad, alpha: _neg(grad) if alpha == 1 else _mul(_xp, grad, -alpha),
    },
)


def _rsub_fwd(xp, input, other, alpha=1):
    return _sub_fwd(xp, other, input, alpha)  # other - alpha * input


_rsub_scalar = defop(
    "rsub_scalar",
    _rsub_fwd,
    inputs=("input",),
    node_name="RsubBackward1",
    array_rules=True,
    grads={"input": lambda grad, alpha: -grad if alpha == 1 else grad * -alpha},
)
_rsub_tensor = defop(
    "rsub_tensor",
    _rsub_fwd,
    broadcasts=True,
    node_name="RsubBackward0",
    array_rules=True,
    grads={
        "input": lambda grad, alpha: -grad if alpha == 1 else grad * -alpha,
        "other": lambda grad: grad,
    },
)


def rsub(input, other, *, alpha=1):
    """Subtract ``alpha * input`` from ``other`` (``2 - x`` calls this).

    >>> fluxion.rsub(fluxion.tensor([1.0, 2.0]), 5)
    tensor([4., 3.])
    """
    if isinstance(other, Tensor):
        return _rsub_tensor(input, other, alpha)
    return _rsub_scalar(input, other, alpha)


mul = defop(
    "mul",
    _mul,
    broadcasts=True,
    promote="promote",
    array_rules=True,
    grads={"input": lambda grad, other: grad * other, "other": lambda grad, input: grad * input},
    raw_grads={
        "input": small_expr("grad * other")(
            lambda grad, other: grad * other if grad.size < _PAR else _mul(_xp, grad, other)
        ),
        "other": small_expr("grad * input")(
            lambda grad, input: grad * input if grad.size < _PAR else _mul(_xp, grad, input)
        ),
    },
)


def _div_other_kernel(out, grad, input, other):
    _xp.negative(grad, out=out)
    _xp.multiply(out, input, out=out)
    _xp.divide(out, _xp.multiply(other, other), out=out)


def _div_other_raw(grad, input, other):
    if grad.size >= _PAR and (out := _fused(_div_other_kernel, grad, input, other)) is not None:
        return out
    return -grad * input / (other * other)


_true_div = defop(
    "div",
    _div,
    broadcasts=True,
    promote="float",
    array_rules=True,
    grads={
        "input": lambda grad, other: grad / other,
        "other": lambda grad, input, other: -grad * input / (other * other),
    },
    raw_grads={
        "input": small_expr("grad / other")(
            lambda grad, other: grad / other if grad.size < _PAR else _div(_xp, grad, other)
        ),
        "other": _div_other_raw,
    },
)


def _int_checked(xp, fn, input, other, name: str):
    """Integer division by zero raises, as in PyTorch (NumPy would warn and return 0)."""
    d = input.dtype if hasattr(input, "dtype") else other.dtype
    if d.kind != "f":
        if d.kind == "b":
            raise NotImplementedError(f"\"{name}_cpu\" not implemented for 'Bool'")
        if not xp.all(other):
            raise RuntimeError("ZeroDivisionError")
    return fn(input, other)


def _div_round_fwd(xp, input, other, rounding_mode):
    if rounding_mode == "floor":
        return _int_checked(xp, xp.floor_divide, input, other, "div_floor")
    q = _int_checked(xp, xp.true_divide, input, other, "div_trunc")
    return xp.trunc(q).astype(q.dtype if input.dtype.kind == "f" else input.dtype)


# rounding division is piecewise constant: zero gradient almost everywhere, as in PyTorch
_div_rounding = defop(
    "div_rounding",
    _div_round_fwd,
    broadcasts=True,
    promote="promote",
    node_name="DivBackward2",
    grads={"input": ZERO, "other": ZERO},
)


def div(input, other, *, rounding_mode=None):
    """Divide ``input`` by ``other`` (true division, or ``'trunc'`` / ``'floor'`` rounding).

    >>> fluxion.div(fluxion.tensor([1, 3]), 2)
    tensor([0.5000, 1.5000])
    >>> fluxion.div(fluxion.tensor([-3., 3.]), 2, rounding_mode="floor")
    tensor([-2.,  1.])
    """
    if rounding_mode is None:
        return _true_div(input, other)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(
            f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
            f"'{rounding_mode}'"
        )
    return _div_rounding(input, other, rounding_mode)


true_divide = divide = div

floor_divide = defop(
    "floor_divide",
    lambda xp, input, other: _int_checked(xp, xp.floor_divide, input, other, "div_floor"),
    broadcasts=True,
    promote="promote",
    grads={"input": ZERO, "other": ZERO},
)


# d/d(other) of input - other * floor(input / other) is -floor(input / other) (piecewise)
def _scalar_checked(xp, fn, input, other, name: str):
    """``input`` op Python number: promote the pair first (int tensor % 0.5 is float32)."""
    input, other = _registry.promote_pair(input, other)
    return _int_checked(xp, fn, input, other, name)


_remainder_scalar = defop(
    "remainder_scalar",
    lambda xp, input, other: _scalar_checked(xp, xp.remainder, input, other, "remainder"),
    promote="promote",
    inputs=("input",),
    node_name="RemainderBackward0",
    grads={"input": lambda grad: grad},
)
_remainder_tensor = defop(
    "remainder_tensor",
    lambda xp, input, other: _int_checked(xp, xp.remainder, input, other, "remainder"),
    broadcasts=True,
    promote="promote",
    node_name="RemainderBackward1",
    grads={
        "input": lambda grad: grad,
        "other": lambda grad, input, other: -grad * floor_divide(input, other),
    },
)


def remainder(input, other):
    """Return the Python-style remainder of ``input / other`` (the sign of ``other``).

    >>> fluxion.remainder(fluxion.tensor([-3.0, 3.0]), 2)
    tensor([1., 1.])
    """
    if isinstance(other, Tensor):
        return _remainder_tensor(input, other)
    return _remainder_scalar(input, other)


_fmod_scalar = defop(
    "fmod_scalar",
    lambda xp, input, other: _scalar_checked(xp, xp.fmod, input, other, "fmod"),
    promote="promote",
    inputs=("input",),
    node_name="FmodBackward0",
    grads={"input": lambda grad: grad},
)
_fmod_tensor = defop(
    "fmod_tensor",
    lambda xp, input, other: _int_checked(xp, xp.fmod, input, other, "fmod"),
    broadcasts=True,
    promote="promote",
    node_name="FmodBackward1",
    grads={
        "input": lambda grad: grad,
        "other": lambda grad, input, other: -grad * div(input, other, rounding_mode="trunc"),
    },
)


def fmod(input, other):
    """Return the C-style remainder of ``input / other`` (the sign of ``input``).

    >>> fluxion.fmod(fluxion.tensor([-3.0, 3.0]), 2)
    tensor([-1.,  1.])
    """
    if isinstance(other, Tensor):
        return _fmod_tensor(input, other)
    return _fmod_scalar(input, other)


atan2 = defop(
    "atan2",
    _tensors_only("arctan2", "atan2", "float"),
    broadcasts=True,
    grads={
        "input": lambda grad, input, other: grad * other / (input * input + other * other),
        "other": lambda grad, input, other: -grad * input / (input * input + other * other),
    },
)

# ties split the gradient in half between the two inputs, as in PyTorch
maximum = defop(
    "maximum",
    _tensors_only("maximum", "maximum", "promote"),
    broadcasts=True,
    grads={
        "input": lambda grad, input, other: grad * _tie_weight(input, other),
        "other": lambda grad, input, other: grad * _tie_weight(other, input),
    },
)
minimum = defop(
    "minimum",
    _tensors_only("minimum", "minimum", "promote"),
    broadcasts=True,
    grads={
        "input": lambda grad, input, other: grad * _tie_weight(other, input),
        "other": lambda grad, input, other: grad * _tie_weight(input, other),
    },
)


def _tie_weight(winner, loser):
    """1 where ``winner > loser``, 0.5 on ties, 0 elsewhere (a constant: no graph)."""
    return (winner > loser).to(winner.dtype) + (winner == loser).to(winner.dtype) * 0.5


# ------------------------------------------------------------------------ pow


def _pow_input_grad(grad, input, exponent):
    # d(x^e)/dx = e x^(e-1); PyTorch defines it as 0 where e == 0 (also at x == 0)
    if not isinstance(exponent, Tensor):
        if exponent == 0:
            return grad * 0.0
        return grad * exponent * input.pow(exponent - 1)
    return grad * where(exponent == 0, 0.0, exponent * input.pow(exponent - 1))


def _pow_exponent_grad(grad, input, result):
    # d(x^e)/de = x^e log x, defined as 0 where x == 0 and e >= 0 (PyTorch's convention)
    if not isinstance(input, Tensor):
        return grad * result * math.log(input) if input != 0 else grad * 0.0
    return grad * where(input == 0, 0.0, result * input.log())


def _power(xp, input, exponent):
    """``xp.power``; integer powers with negative exponents give 1, -1 or 0 as in PyTorch."""
    if _is_bool(input) and _is_bool(exponent):  # NumPy would answer in int8
        raise NotImplementedError("\"pow\" not implemented for 'Bool'")
    if getattr(input, "dtype", getattr(exponent, "dtype", None)).kind in "iu":
        negative = xp.less(exponent, 0)
        if xp.any(negative):
            out = xp.power(input, xp.where(negative, 0, exponent))
            odd = xp.remainder(exponent, 2) != 0
            alt = xp.where(xp.equal(input, 1), 1, xp.where(xp.equal(input, -1), 1 - 2 * odd, 0))
            return xp.where(negative, alt, out).astype(out.dtype)
    return xp.power(input, exponent)


def _is_bool(x) -> bool:
    return type(x) is bool or getattr(getattr(x, "dtype", None), "kind", "") == "b"


def _pow_scalar_fwd(xp, input, exponent):
    if input.dtype.kind != "f":  # int tensor ** 0.5 is float32, bool ** 2 is int64
        datas = [input, exponent]
        _registry._promote(datas, "promote")
        input = datas[0]
    return xp.power(input, exponent)


_pow_scalar = defop(
    "pow_scalar",
    _pow_scalar_fwd,
    promote="promote",
    node_name="PowBackward0",
    inputs=("input",),
    grads={"input": _pow_input_grad},
)
_pow_tensor = defop(
    "pow_tensor",
    _power,
    broadcasts=True,
    promote="promote",
    node_name="PowBackward1",
    grads={"input": _pow_input_grad, "exponent": _pow_exponent_grad},
)
_pow_scalar_base = defop(
    "pow_scalar_base",
    _power,
    promote="promote",
    node_name="PowBackward2",
    inputs=("input", "exponent"),
    grads={"exponent": _pow_exponent_grad},
)


def pow(input, exponent):
    """Raise ``input`` to ``exponent`` (either may be a tensor; one may be a number).

    >>> fluxion.pow(fluxion.tensor([2.0, 3.0]), 2)
    tensor([4., 9.])
    """
    if not isinstance(exponent, Tensor):
        if (
            isinstance(input, Tensor)
            and input.dtype.is_floating_point is False
            and (isinstance(exponent, int) and exponent < 0)
        ):
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        return _pow_scalar(input, exponent)
    if not isinstance(input, Tensor):
        return _pow_scalar_base(input, exponent)
    return _pow_tensor(input, exponent)


def float_power(input, exponent):
    """Raise ``input`` to ``exponent`` in double precision: the result is always float64.

    >>> fluxion.float_power(fluxion.tensor([2, 3]), 2)
    tensor([4., 9.], dtype=fluxion.float64)
    """
    if isinstance(input, Tensor):
        input = input.to(_dt.float64)
    else:
        input = float(input)
    if isinstance(exponent, Tensor):
        exponent = exponent.to(_dt.float64)
    else:
        exponent = float(exponent)
    return pow(input, exponent)


# ------------------------------------------------------------------------ unary


# Transcendental ops are compute-bound, so large inputs are split over threads (see
# fluxion._backend.threaded); cheap memory-bound ops (neg, abs, relu) gain nothing from it.
_THREADED = {  # op name -> the NumPy ufunc its forward is (None: a composite forward)
    "exp": "exp", "exp2": "exp2", "expm1": "expm1", "log": "log", "log2": "log2",
    "log10": "log10", "log1p": "log1p", "sin": "sin", "cos": "cos", "tan": "tan",
    "asin": "arcsin", "acos": "arccos", "atan": "arctan", "sinh": "sinh", "cosh": "cosh",
    "tanh": "tanh", "sigmoid": None, "erf": None,
}  # fmt: skip


def _unary(name, fn, rule, promote="float", array_rules=True, raw=None, **kw):
    # array_rules: most pointwise rules are operator-only, so first-order backward runs them on
    # raw arrays; the ones calling Tensor methods (``input.cos()``) pass False. ``raw``: the
    # rule spelled on raw arrays with the threaded kernels (first-order backward).
    return defop(
        name,
        threaded(fn, _THREADED[name]) if name in _THREADED else fn,
        grads={"input": rule} if callable(rule) or rule is ZERO else rule,
        promote=promote,
        array_rules=array_rules,
        raw_grads=None if raw is None else {"input": raw},
        **kw,
    )


# The raw rules of the hot unary ops. Each kernel is its Tensor rule's expression, one ufunc at
# a time into one buffer (see _fused); below the size threshold the rule is the plain expression.


def _tanh_kernel(out, grad, result):  # grad * (1 - result * result)
    _xp.multiply(result, result, out=out)
    _xp.subtract(1, out, out=out)
    _xp.multiply(grad, out, out=out)


@small_expr("grad * (1 - result * result)")
def _tanh_raw(grad, result):
    if grad.size >= _PAR and (out := _fused(_tanh_kernel, grad, result)) is not None:
        return out
    return grad * (1 - result * result)


def _sigmoid_kernel(out, grad, result):  # grad * result * (1 - result)
    _xp.multiply(grad, result, out=out)
    _xp.multiply(out, _xp.subtract(1, result), out=out)


@small_expr("grad * result * (1 - result)")
def _sigmoid_raw(grad, result):
    if grad.size >= _PAR and (out := _fused(_sigmoid_kernel, grad, result)) is not None:
        return out
    return grad * result * (1 - result)


def _sin_kernel(out, grad, input):  # grad * input.cos()
    _xp.cos(input, out=out)
    _xp.multiply(grad, out, out=out)


def _sin_raw(grad, input):
    if grad.size >= _PAR and (out := _fused(_sin_kernel, grad, input)) is not None:
        return out
    return grad * _xp.cos(input)


def _cos_kernel(out, grad, input):  # -grad * input.sin()
    _xp.sin(input, out=out)
    _xp.multiply(_xp.negative(grad), out, out=out)


def _cos_raw(grad, input):
    if grad.size >= _PAR and (out := _fused(_cos_kernel, grad, input)) is not None:
        return out
    return -grad * _xp.sin(input)


def _sqrt_kernel(out, grad, result):  # grad / (result * 2)
    _xp.divide(grad, _xp.multiply(result, 2), out=out)


@small_expr("grad / (result * 2)")
def _sqrt_raw(grad, result):
    if grad.size >= _PAR and (out := _fused(_sqrt_kernel, grad, result)) is not None:
        return out
    return grad / (result * 2)


def _relu_kernel(out, grad, result):  # grad * (result > 0)
    _xp.multiply(grad, _xp.greater(result, 0), out=out)


@small_expr("grad * (result > 0)")
def _relu_raw(grad, result):
    if grad.size >= _PAR and (out := _fused(_relu_kernel, grad, result)) is not None:
        return out
    return grad * (result > 0)


neg = _unary(
    "neg",
    lambda xp, input: xp.negative(_no_bool(input, "neg")),
    lambda grad: -grad,
    promote=None,
    raw=_neg,
)
negative = neg
# d|x|/dx at 0 := 0 (sign(0) == 0), same as PyTorch
abs = _unary(
    "abs",
    lambda xp, input: xp.abs(_no_bool(input, "abs")),
    lambda grad, input: grad * input.sign(),
    promote=None,
    array_rules=False,
)
absolute = abs
exp = _unary(
    "exp",
    lambda xp, input: xp.exp(input),
    lambda grad, result: grad * result,
    raw=small_expr("grad * result")(
        lambda grad, result: grad * result if grad.size < _PAR else _mul(_xp, grad, result)
    ),
)
exp2 = _unary("exp2", lambda xp, input: xp.exp2(input), lambda grad, result: grad * result * _LN2)
expm1 = _unary("expm1", lambda xp, input: xp.expm1(input), lambda grad, result: grad * (result + 1))
log = _unary(
    "log",
    lambda xp, input: xp.log(input),
    lambda grad, input: grad / input,
    raw=small_expr("grad / input")(
        lambda grad, input: grad / input if grad.size < _PAR else _div(_xp, grad, input)
    ),
)
log2 = _unary("log2", lambda xp, input: xp.log2(input), lambda grad, input: grad / (input * _LN2))
log10 = _unary(
    "log10", lambda xp, input: xp.log10(input), lambda grad, input: grad / (input * _LN10)
)
log1p = _unary(
    "log1p",
    lambda xp, input: xp.log1p(input),
    lambda grad, input: grad / (input + 1),
    node_name="Log1PBackward0",
)
sqrt = _unary(
    "sqrt",
    lambda xp, input: xp.sqrt(input),
    lambda grad, result: grad / (result * 2),
    raw=_sqrt_raw,
)
rsqrt = _unary(
    "rsqrt",
    lambda xp, input: 1 / xp.sqrt(input),
    lambda grad, result: grad * result.pow(3) * -0.5,
    array_rules=False,
)
sin = _unary(
    "sin",
    lambda xp, input: xp.sin(input),
    lambda grad, input: grad * input.cos(),
    array_rules=False,
    raw=_sin_raw,
)
cos = _unary(
    "cos",
    lambda xp, input: xp.cos(input),
    lambda grad, input: -grad * input.sin(),
    array_rules=False,
    raw=_cos_raw,
)
tan = _unary(
    "tan", lambda xp, input: xp.tan(input), lambda grad, result: grad * (result * result + 1)
)
asin = _unary(
    "asin",
    lambda xp, input: xp.arcsin(input),
    lambda grad, input: grad * (1 - input * input).rsqrt(),
    array_rules=False,
)
acos = _unary(
    "acos",
    lambda xp, input: xp.arccos(input),
    lambda grad, input: -grad * (1 - input * input).rsqrt(),
    array_rules=False,
)
atan = _unary(
    "atan", lambda xp, input: xp.arctan(input), lambda grad, input: grad / (input * input + 1)
)
arcsin, arccos, arctan = asin, acos, atan
sinh = _unary(
    "sinh",
    lambda xp, input: xp.sinh(input),
    lambda grad, input: grad * input.cosh(),
    array_rules=False,
)
cosh = _unary(
    "cosh",
    lambda xp, input: xp.cosh(input),
    lambda grad, input: grad * input.sinh(),
    array_rules=False,
)
tanh = _unary(
    "tanh",
    lambda xp, input: xp.tanh(input),
    lambda grad, result: grad * (1 - result * result),
    raw=_tanh_raw,
)


def _sigmoid_fwd(xp, input):
    # exp(-|x|) never overflows; pick the algebraically equal form per sign
    e = xp.exp(-xp.abs(input))
    return xp.where(input >= 0, 1 / (1 + e), e / (1 + e)).astype(e.dtype, copy=False)


sigmoid = _unary(
    "sigmoid",
    _sigmoid_fwd,
    lambda grad, result: grad * result * (1 - result),
    raw=_sigmoid_raw,
)
# relu is maximum(0, x): zero first, so that relu(-0.0) is -0.0 and NaN stays NaN, PyTorch's bits.
# NumPy's maximum runs a scalar loop when one operand is a broadcast scalar (stride 0); against
# a row of zeros, rows of a contiguous input take its vector loop. Measured on LeNet's first
# activation (301K float32): 92 -> 37 us, the same bits.
_RELU_ROW = 1024
_relu_zeros: dict = {}


def _relu_fwd(xp, input):
    x = _no_bool(input, "relu")
    if (
        x.size < 16 * _RELU_ROW
        or x.dtype.char not in "fd"
        or xp is not _xp
        or not x.flags.c_contiguous
    ):
        return xp.maximum(0, x)
    zeros = _relu_zeros.get(x.dtype.char)
    if zeros is None:
        zeros = _relu_zeros[x.dtype.char] = _xp.zeros(_RELU_ROW, x.dtype)
    out = _xp.empty_like(x)
    flat, dst = x.reshape(-1), out.reshape(-1)
    n = flat.size - flat.size % _RELU_ROW
    _xp.maximum(zeros, flat[:n].reshape(-1, _RELU_ROW), out=dst[:n].reshape(-1, _RELU_ROW))
    _xp.maximum(0, flat[n:], out=dst[n:])
    return out


# relu'(0) := 0, same as PyTorch
relu = _unary(
    "relu",
    _relu_fwd,
    lambda grad, result: grad * (result > 0),
    promote=None,
    raw=_relu_raw,
)


def _softplus_fwd(xp, input, beta=1.0, threshold=20.0):
    bx = _float_kernel(input, "softplus_cpu") * beta
    soft = xp.logaddexp(0, bx) / beta
    return xp.where(bx > threshold, input, soft).astype(input.dtype, copy=False)


softplus = defop(
    "softplus",
    _softplus_fwd,
    grads={
        "input": lambda grad, input, beta, threshold: where(
            input * beta > threshold, grad, grad * (input * beta).sigmoid()
        )
    },
)


def _erf_fwd(xp, input):
    from .._backend import erf as _erf

    return _erf(xp, input)


erf = _unary(
    "erf",
    _erf_fwd,
    lambda grad, input: grad * (-(input * input)).exp() * _TWO_OVER_SQRT_PI,
    array_rules=False,
)


def _sign_fwd(xp, input):
    if input.dtype.kind == "b":
        return input.copy()
    out = xp.sign(input)
    if input.dtype.kind == "f":
        out = xp.nan_to_num(out)  # sign(nan) is 0 in PyTorch (NumPy: nan)
    return out


# piecewise-constant ops: the derivative exists almost everywhere and is 0 (PyTorch's choice)
sign = _unary("sign", _sign_fwd, ZERO, promote=None, array_rules=False)
# sgn is sign for real tensors; its own node name, as in PyTorch
sgn = _unary("sgn", _sign_fwd, ZERO, promote=None, array_rules=False)
floor = _unary("floor", lambda xp, input: _rounding(xp.floor, input, "floor"), ZERO, promote=None)
ceil = _unary("ceil", lambda xp, input: _rounding(xp.ceil, input, "ceil"), ZERO, promote=None)
trunc = _unary("trunc", lambda xp, input: _rounding(xp.trunc, input, "trunc"), ZERO, promote=None)
fix = trunc
_round = defop(
    "round",
    lambda xp, input, decimals=0: _rounding(xp.round, input, "round"),
    grads={"input": ZERO},
)


_round_decimals = defop(
    "round_decimals",
    lambda xp, input, decimals: xp.round(_float_kernel(input, "round_cpu"), decimals),
    node_name="RoundBackward1",
    grads={"input": ZERO},
)


def round(input, *, decimals: int = 0):
    """Round half to even, to ``decimals`` decimal places.

    >>> fluxion.round(fluxion.tensor([0.5, 1.5, 2.6]))
    tensor([0., 2., 3.])
    >>> fluxion.round(fluxion.tensor([1.2345, 1234.5]), decimals=-2)
    tensor([   0., 1200.])
    """
    if decimals == 0:
        return _round(input, 0)
    return _round_decimals(input, decimals)


frac = _unary(
    "frac",
    lambda xp, input: input - xp.trunc(_float_only(input, "frac")),
    lambda grad: grad,
    promote=None,
)
reciprocal = _unary(
    "reciprocal", lambda xp, input: 1 / input, lambda grad, result: -grad * result * result
)
square = _unary(
    "square",
    lambda xp, input: xp.square(input.astype(xp.int64) if input.dtype.kind == "b" else input),
    lambda grad, input: grad * input * 2,
    promote=None,
    node_name="PowBackward0",
)

# ------------------------------------------------------------------------ selection and clamping


def _where_fwd(xp, condition, input, other):
    if getattr(condition, "dtype", None) is None or condition.dtype.kind != "b":
        raise RuntimeError(
            "where expected condition to be a boolean tensor, but got a tensor with dtype "
            f"{getattr(condition, 'dtype', type(condition).__name__)}"
        )
    if getattr(input, "dtype", None) is not None or getattr(other, "dtype", None) is not None:
        input, other = _registry.promote_pair(input, other)
    else:  # two Python numbers: the result has the default dtype of their category
        input, other = _registry._promote2(xp.asarray(input), other, "promote")
    return xp.where(condition, input, other)


_where = defop(
    "where",
    _where_fwd,
    broadcasts=True,
    inputs=("condition", "input", "other"),
    node_name="WhereBackward0",
    grads={
        "input": lambda grad, condition: where(condition, grad, 0.0),
        "other": lambda grad, condition: where(condition, 0.0, grad),
    },
)


def where(condition, input=None, other=None):
    """Pick ``input`` where ``condition`` holds and ``other`` elsewhere.

    >>> fluxion.where(fluxion.tensor([True, False]), fluxion.tensor([1., 2.]), 0.0)
    tensor([1., 0.])
    """
    if input is None and other is None:
        from .indexing import nonzero

        return nonzero(condition, as_tuple=True)
    return _where(condition, input, other)


def _clamp_fwd(xp, input, min=None, max=None):
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if input.dtype.kind != "f":  # int tensor, float bound: PyTorch promotes (float32 result)
        datas = [input, min, max]
        _registry._promote(datas, "promote")
        input, min, max = datas
    if min is not None and max is not None and input.dtype.kind == "b":
        kernel = (
            "clamp_cpu" if hasattr(min, "dtype") or hasattr(max, "dtype") else "clamp_scalar_cpu"
        )
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")
    out = input
    if min is not None:
        out = xp.maximum(out, min)
    if max is not None:
        out = xp.minimum(out, max)
    return out.astype(input.dtype, copy=False)


def _clamp_mask(input, min, max):
    """Where clamp passes ``input`` through (bounds inclusive, as in PyTorch)."""
    keep = None
    if min is not None:
        keep = input >= min
    if max is not None:
        hi = input <= max
        keep = hi if keep is None else keep.logical_and(hi)
    return keep


def _clamp_min_grad(grad, input, min, max):
    # min wins where input < min, unless min > max (then max wins): PyTorch's clamp_backward
    below = input < min
    return where(below if max is None else below.logical_and(min < max), grad, 0.0)


def _clamp_max_grad(grad, input, min, max):
    above = input > max
    return where(above if min is None else above.logical_or(max < min), grad, 0.0)


_clamp_scalar = defop(
    "clamp_scalar",
    _clamp_fwd,
    inputs=("input",),
    node_name="ClampBackward1",
    grads={"input": lambda grad, input, min, max: where(_clamp_mask(input, min, max), grad, 0.0)},
)
_clamp_tensor = defop(
    "clamp_tensor",
    _clamp_fwd,
    broadcasts=True,
    promote="promote",
    inputs=("input", "min", "max"),
    node_name="ClampBackward0",
    grads={
        "input": lambda grad, input, min, max: where(_clamp_mask(input, min, max), grad, 0.0),
        "min": _clamp_min_grad,
        "max": _clamp_max_grad,
    },
)


def clamp(input, min=None, max=None):
    """Clamp ``input`` into ``[min, max]``; either bound may be None, a number or a tensor.

    Where ``min > max`` the result is ``max``. The gradient passes where ``input`` lies inside
    the bounds, ends included (PyTorch's choice at the kinks).

    >>> fluxion.clamp(fluxion.tensor([-2.0, 0.5, 3.0]), -1, 1)
    tensor([-1.0000,  0.5000,  1.0000])
    """
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return _clamp_tensor(input, min, max)
    return _clamp_scalar(input, min, max)


clip = clamp

_clamp_min_scalar = defop(
    "clamp_min_scalar",
    lambda xp, input, min: _clamp_fwd(xp, input, min, None),
    inputs=("input",),
    node_name="ClampMinBackward0",
    grads={"input": lambda grad, input, min: where(input >= min, grad, 0.0)},
)
_clamp_min_tensor = defop(
    "clamp_min_tensor",
    lambda xp, input, min: _clamp_fwd(xp, input, min, None),
    broadcasts=True,
    promote="promote",
    node_name="ClampMinBackward1",
    grads={
        "input": lambda grad, input, min: where(input >= min, grad, 0.0),
        "min": lambda grad, input, min: where(input < min, grad, 0.0),
    },
)
_clamp_max_scalar = defop(
    "clamp_max_scalar",
    lambda xp, input, max: _clamp_fwd(xp, input, None, max),
    inputs=("input",),
    node_name="ClampMaxBackward0",
    grads={"input": lambda grad, input, max: where(input <= max, grad, 0.0)},
)
_clamp_max_tensor = defop(
    "clamp_max_tensor",
    lambda xp, input, max: _clamp_fwd(xp, input, None, max),
    broadcasts=True,
    promote="promote",
    node_name="ClampMaxBackward1",
    grads={
        "input": lambda grad, input, max: where(input <= max, grad, 0.0),
        "max": lambda grad, input, max: where(input > max, grad, 0.0),
    },
)


def clamp_min(input, min):
    """Clamp from below: ``max(input, min)``.

    >>> fluxion.clamp_min(fluxion.tensor([-2.0, 3.0]), 0)
    tensor([0., 3.])
    """
    if isinstance(min, Tensor):
        return _clamp_min_tensor(input, min)
    return _clamp_min_scalar(input, min)


def clamp_max(input, max):
    """Clamp from above: ``min(input, max)``.

    >>> fluxion.clamp_max(fluxion.tensor([-2.0, 3.0]), 0)
    tensor([-2.,  0.])
    """
    if isinstance(max, Tensor):
        return _clamp_max_tensor(input, max)
    return _clamp_max_scalar(input, max)


def _lerp_fwd(xp, input, end, weight):
    # PyTorch's two-sided formula: exact at weight 1, and the same inf/nan as PyTorch
    diff = end - input
    if not hasattr(weight, "dtype"):
        return input + weight * diff if -0.5 < weight < 0.5 else end - diff * (1 - weight)
    small = xp.abs(weight) < 0.5
    return xp.where(small, input + weight * diff, end - diff * (1 - weight))


_lerp_scalar = defop(
    "lerp_scalar",
    _lerp_fwd,
    broadcasts=True,
    promote="promote",
    inputs=("input", "end"),
    node_name="LerpBackward0",
    grads={
        "input": lambda grad, weight: grad * (1 - weight),
        "end": lambda grad, weight: grad * weight,
    },
)
_lerp_tensor = defop(
    "lerp_tensor",
    _lerp_fwd,
    broadcasts=True,
    promote="promote",
    node_name="LerpBackward1",
    grads={
        "input": lambda grad, weight: grad * (1 - weight),
        "end": lambda grad, weight: grad * weight,
        "weight": lambda grad, input, end: grad * (end - input),
    },
)


_CPP_TYPES = {  # PyTorch's C++ type names in "expected dtype" messages
    "bool": "bool",
    "uint8": "unsigned char",
    "int8": "signed char",
    "int16": "short int",
    "int32": "int",
    "int64": "long int",
    "float16": "c10::Half",
    "float32": "float",
    "float64": "double",
}


def _lerp_check(input, end, weight) -> None:
    want = input._data.dtype
    # a 0-d weight is not checked: it takes part in type promotion like a number
    for name, t in (("end", end), ("weight", weight)):
        if isinstance(t, Tensor) and t._data.dtype != want and (name == "end" or t.ndim):
            raise RuntimeError(
                f"expected dtype {_CPP_TYPES.get(want.name, want.name)} for `{name}` but got "
                f"dtype {_CPP_TYPES.get(t._data.dtype.name, t._data.dtype.name)}"
            )
    if isinstance(weight, Tensor):
        arrays = (input._data, end._data, weight._data)
        common = _dt.promote_key(tuple((a.dtype, a.ndim == 0) for a in arrays))
        if common.kind != "f":
            _float_kernel(weight._data.astype(common), "lerp_kernel_tensor")
    else:
        _float_kernel(input._data, "lerp_kernel_scalar")


def lerp(input, end, weight):
    """Interpolate linearly: ``input + weight * (end - input)``; ``weight`` is a number or tensor.

    ``input``, ``end`` and a tensor ``weight`` must share one floating-point dtype.

    >>> fluxion.lerp(fluxion.tensor([0.0, 1.0]), fluxion.tensor([10.0, 3.0]), 0.5)
    tensor([5., 2.])
    """
    if isinstance(input, Tensor) and isinstance(end, Tensor):
        _lerp_check(input, end, weight)
    if isinstance(weight, Tensor):
        return _lerp_tensor(input, end, weight)
    return _lerp_scalar(input, end, weight)


def _nan_to_num_fwd(xp, input, nan=0.0, posinf=None, neginf=None):
    return xp.nan_to_num(input, nan=nan, posinf=posinf, neginf=neginf)


# the gradient passes only where input was finite (NaN/inf were replaced by constants)
nan_to_num = defop(
    "nan_to_num",
    _nan_to_num_fwd,
    grads={"input": lambda grad, input: where(input.isfinite(), grad, 0.0)},
)


def _addc_value(xp, value, input, op: str):
    """``value`` converted to the (promoted) dtype; bool tensors have no kernel in PyTorch."""
    if input.dtype.kind == "b":
        raise NotImplementedError(f"\"{op}_cpu_out\" not implemented for 'Bool'")
    return value if value == 1 else _scalar_as(xp, value, input.dtype)


def _addcmul_fwd(xp, input, tensor1, tensor2, value=1):
    return input + _addc_value(xp, value, input, "addcmul") * tensor1 * tensor2


def _addcdiv_fwd(xp, input, tensor1, tensor2, value=1):
    return input + _addc_value(xp, value, input, "addcdiv") * tensor1 / tensor2


addcmul = defop(
    "addcmul",
    _addcmul_fwd,
    broadcasts=True,
    promote="promote",
    grads={
        "input": lambda grad: grad,
        "tensor1": lambda grad, tensor2, value: grad * tensor2 * value,
        "tensor2": lambda grad, tensor1, value: grad * tensor1 * value,
    },
)
_addcdiv = defop(
    "addcdiv",
    _addcdiv_fwd,
    broadcasts=True,
    promote="promote",
    grads={
        "input": lambda grad: grad,
        "tensor1": lambda grad, tensor2, value: grad * value / tensor2,
        "tensor2": lambda grad, tensor1, tensor2, value: (
            -grad * value * tensor1 / (tensor2 * tensor2)
        ),
    },
)

_ADDCDIV_INT = (
    "Integer division with addcdiv is no longer supported, and in a future  release addcdiv will "
    "perform a true division of tensor1 and tensor2. The historic addcdiv behavior can be "
    "implemented as (input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for integer "
    "inputs and as (input + value * tensor1 / tensor2) for float inputs. The future addcdiv "
    "behavior is just the latter implementation: (input + value * tensor1 / tensor2), for all "
    "dtypes."
)


def addcdiv(input, tensor1, tensor2, value=1):
    """Return ``input + value * tensor1 / tensor2`` (the divisor operands must not both be integer).

    >>> fluxion.addcdiv(fluxion.tensor([1.0, 1.0]), fluxion.tensor([1.0, 3.0]),
    ...                 fluxion.tensor([2.0, 4.0]), value=2)
    tensor([2.0000, 2.5000])
    """
    if (
        isinstance(tensor1, Tensor)
        and isinstance(tensor2, Tensor)
        and tensor1._data.dtype.kind in "biu"
        and tensor2._data.dtype.kind in "biu"
    ):
        raise RuntimeError(_ADDCDIV_INT)
    return _addcdiv(input, tensor1, tensor2, value)


# ------------------------------------------------------------------------ comparisons and logic


def _nd(name, fn, promote="promote"):
    return defop(name, fn, NOT_DIFFERENTIABLE, inputs=("input", "other"), promote=promote)


eq = _nd("eq", lambda xp, input, other: xp.equal(input, other))
ne = _nd("ne", lambda xp, input, other: xp.not_equal(input, other))
lt = _nd("lt", lambda xp, input, other: xp.less(input, other))
le = _nd("le", lambda xp, input, other: xp.less_equal(input, other))
gt = _nd("gt", lambda xp, input, other: xp.greater(input, other))
ge = _nd("ge", lambda xp, input, other: xp.greater_equal(input, other))
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne
logical_and = _nd("logical_and", lambda xp, input, other: xp.logical_and(input, other), None)
logical_or = _nd("logical_or", lambda xp, input, other: xp.logical_or(input, other), None)
logical_xor = _nd("logical_xor", lambda xp, input, other: xp.logical_xor(input, other), None)


def _bitwise(name, fn):
    def forward(xp, input, other):
        if (
            input.dtype.kind == "f"
            or getattr(other, "dtype", None) is not None
            and other.dtype.kind == "f"
            or isinstance(other, float)
        ):
            raise NotImplementedError(f"\"{name}_cpu\" not implemented for 'Float'")
        return fn(xp, input, other)

    return _nd(name, forward)


bitwise_and = _bitwise("bitwise_and", lambda xp, a, b: xp.bitwise_and(a, b))
bitwise_or = _bitwise("bitwise_or", lambda xp, a, b: xp.bitwise_or(a, b))
bitwise_xor = _bitwise("bitwise_xor", lambda xp, a, b: xp.bitwise_xor(a, b))


def _bitwise_not_fwd(xp, input):
    if input.dtype.kind == "f":
        raise NotImplementedError("\"bitwise_not_cpu\" not implemented for 'Float'")
    return xp.invert(input)


bitwise_not = defop("bitwise_not", _bitwise_not_fwd, NOT_DIFFERENTIABLE)
logical_not = defop("logical_not", lambda xp, input: xp.logical_not(input), NOT_DIFFERENTIABLE)
isnan = defop("isnan", lambda xp, input: xp.isnan(input), NOT_DIFFERENTIABLE)
isinf = defop("isinf", lambda xp, input: xp.isinf(input), NOT_DIFFERENTIABLE)
isfinite = defop("isfinite", lambda xp, input: xp.isfinite(input), NOT_DIFFERENTIABLE)


# ------------------------------------------------------------------------ docstrings
# The one-line declarations above get their docstrings here, so that each defop block stays
# short: (summary, example call, its output). Every example runs as a doctest.

_DOCS = {
    "abs": (
        "Return the absolute value of each element.",
        "fluxion.abs(fluxion.tensor([-1.5, 0.0, 2.0]))",
        "tensor([1.5000, 0.0000, 2.0000])",
    ),
    "acos": (
        "Return the arccosine of each element (radians); ``arccos`` is an alias.",
        "fluxion.acos(fluxion.tensor([-0.5, 0.0, 0.5]))",
        "tensor([2.0944, 1.5708, 1.0472])",
    ),
    "add": (
        "Add ``alpha * other`` to ``input``, broadcasting (``x + y`` calls this).",
        "fluxion.add(fluxion.tensor([1.0, 2.0]), fluxion.tensor([10.0, 20.0]), alpha=2)",
        "tensor([21., 42.])",
    ),
    "addcmul": (
        "Return ``input + value * tensor1 * tensor2``.",
        "fluxion.addcmul(fluxion.tensor([1.0, 1.0]), fluxion.tensor([1.0, 3.0]), "
        "fluxion.tensor([2.0, 4.0]), value=0.5)",
        "tensor([2., 7.])",
    ),
    "asin": (
        "Return the arcsine of each element (radians); ``arcsin`` is an alias.",
        "fluxion.asin(fluxion.tensor([-0.5, 0.0, 0.5]))",
        "tensor([-0.5236,  0.0000,  0.5236])",
    ),
    "atan": (
        "Return the arctangent of each element (radians); ``arctan`` is an alias.",
        "fluxion.atan(fluxion.tensor([-1.5, 0.0, 2.0]))",
        "tensor([-0.9828,  0.0000,  1.1071])",
    ),
    "atan2": (
        "Return the angle of the point ``(other, input)``, elementwise, in ``(-pi, pi]``.",
        "fluxion.atan2(fluxion.tensor([1.0, -1.0]), fluxion.tensor([0.0, -1.0]))",
        "tensor([ 1.5708, -2.3562])",
    ),
    "bitwise_and": (
        "Compute the bitwise AND of integer or bool tensors (``x & y``).",
        "fluxion.bitwise_and(fluxion.tensor([12, 10]), fluxion.tensor([10, 6]))",
        "tensor([8, 2])",
    ),
    "bitwise_not": (
        "Compute the bitwise NOT of an integer or bool tensor (``~x``).",
        "fluxion.bitwise_not(fluxion.tensor([0, 5, -3]))",
        "tensor([-1, -6,  2])",
    ),
    "bitwise_or": (
        "Compute the bitwise OR of integer or bool tensors (``x | y``).",
        "fluxion.bitwise_or(fluxion.tensor([12, 10]), fluxion.tensor([10, 6]))",
        "tensor([14, 14])",
    ),
    "bitwise_xor": (
        "Compute the bitwise XOR of integer or bool tensors (``x ^ y``).",
        "fluxion.bitwise_xor(fluxion.tensor([12, 10]), fluxion.tensor([10, 6]))",
        "tensor([ 6, 12])",
    ),
    "ceil": (
        "Round each element up to the nearest integer (integers are returned unchanged).",
        "fluxion.ceil(fluxion.tensor([-1.5, 0.0, 2.0]))",
        "tensor([-1.,  0.,  2.])",
    ),
    "cos": (
        "Return the cosine of each element (radians).",
        "fluxion.cos(fluxion.tensor([0.0, 3.1415927]))",
        "tensor([ 1., -1.])",
    ),
    "cosh": (
        "Return the hyperbolic cosine of each element.",
        "fluxion.cosh(fluxion.tensor([0.0, 1.0]))",
        "tensor([1.0000, 1.5431])",
    ),
    "eq": (
        "Compare elementwise for equality (``x == y``); the result is a bool tensor.",
        "fluxion.eq(fluxion.tensor([1, 2, 3]), fluxion.tensor([1, 0, 3]))",
        "tensor([ True, False,  True])",
    ),
    "erf": (
        "Return the Gauss error function of each element.",
        "fluxion.erf(fluxion.tensor([0.0, 1.0, -2.0]))",
        "tensor([ 0.0000,  0.8427, -0.9953])",
    ),
    "exp": (
        "Return ``e ** input`` elementwise.",
        "fluxion.exp(fluxion.tensor([0.0, 1.0]))",
        "tensor([1.0000, 2.7183])",
    ),
    "exp2": (
        "Return ``2 ** input`` elementwise.",
        "fluxion.exp2(fluxion.tensor([0.0, 3.0, -1.0]))",
        "tensor([1.0000, 8.0000, 0.5000])",
    ),
    "expm1": (
        "Return ``exp(input) - 1``, accurate for small inputs.",
        "fluxion.expm1(fluxion.tensor([0.0, 1e-10]))",
        "tensor([0.0000e+00, 1.0000e-10])",
    ),
    "floor": (
        "Round each element down to the nearest integer (integers are returned unchanged).",
        "fluxion.floor(fluxion.tensor([-1.5, 0.0, 2.0]))",
        "tensor([-2.,  0.,  2.])",
    ),
    "floor_divide": (
        "Divide and round down (``x // y``); integer division by zero raises.",
        "fluxion.floor_divide(fluxion.tensor([7, -7]), 2)",
        "tensor([ 3, -4])",
    ),
    "frac": (
        "Return the fractional part ``input - trunc(input)`` (floating-point inputs only).",
        "fluxion.frac(fluxion.tensor([1.5, -2.25]))",
        "tensor([ 0.5000, -0.2500])",
    ),
    "ge": (
        "Compare elementwise ``input >= other``; the result is a bool tensor.",
        "fluxion.ge(fluxion.tensor([1, 2, 3]), 2)",
        "tensor([False,  True,  True])",
    ),
    "gt": (
        "Compare elementwise ``input > other``; the result is a bool tensor.",
        "fluxion.gt(fluxion.tensor([1, 2, 3]), 2)",
        "tensor([False, False,  True])",
    ),
    "isfinite": (
        "Test each element for being finite (not inf and not nan).",
        "fluxion.isfinite(fluxion.tensor([1.0, float('inf'), float('nan')]))",
        "tensor([ True, False, False])",
    ),
    "isinf": (
        "Test each element for being +inf or -inf.",
        "fluxion.isinf(fluxion.tensor([1.0, float('-inf'), float('nan')]))",
        "tensor([False,  True, False])",
    ),
    "isnan": (
        "Test each element for being nan.",
        "fluxion.isnan(fluxion.tensor([1.0, float('inf'), float('nan')]))",
        "tensor([False, False,  True])",
    ),
    "le": (
        "Compare elementwise ``input <= other``; the result is a bool tensor.",
        "fluxion.le(fluxion.tensor([1, 2, 3]), 2)",
        "tensor([ True,  True, False])",
    ),
    "log": (
        "Return the natural logarithm of each element.",
        "fluxion.log(fluxion.tensor([1.0, 2.7182817]))",
        "tensor([0., 1.])",
    ),
    "log10": (
        "Return the base-10 logarithm of each element.",
        "fluxion.log10(fluxion.tensor([1.0, 10.0]))",
        "tensor([0., 1.])",
    ),
    "log1p": (
        "Return ``log(1 + input)``, accurate for small inputs.",
        "fluxion.log1p(fluxion.tensor([0.0, 1e-10]))",
        "tensor([0.0000e+00, 1.0000e-10])",
    ),
    "log2": (
        "Return the base-2 logarithm of each element.",
        "fluxion.log2(fluxion.tensor([1.0, 8.0]))",
        "tensor([0., 3.])",
    ),
    "logical_and": (
        "Compute the elementwise logical AND (nonzero is true); the result is bool.",
        "fluxion.logical_and(fluxion.tensor([1, 0, 2]), fluxion.tensor([1, 1, 0]))",
        "tensor([ True, False, False])",
    ),
    "logical_not": (
        "Compute the elementwise logical NOT (nonzero is true); the result is bool.",
        "fluxion.logical_not(fluxion.tensor([1.0, 0.0]))",
        "tensor([False,  True])",
    ),
    "logical_or": (
        "Compute the elementwise logical OR (nonzero is true); the result is bool.",
        "fluxion.logical_or(fluxion.tensor([1, 0, 0]), fluxion.tensor([0, 0, 3]))",
        "tensor([ True, False,  True])",
    ),
    "logical_xor": (
        "Compute the elementwise logical XOR (nonzero is true); the result is bool.",
        "fluxion.logical_xor(fluxion.tensor([1, 0, 2]), fluxion.tensor([1, 1, 0]))",
        "tensor([False,  True,  True])",
    ),
    "lt": (
        "Compare elementwise ``input < other``; the result is a bool tensor.",
        "fluxion.lt(fluxion.tensor([1, 2, 3]), 2)",
        "tensor([ True, False, False])",
    ),
    "maximum": (
        "Return the elementwise maximum of two tensors (nan wins; ties share the gradient).",
        "fluxion.maximum(fluxion.tensor([1.0, 5.0]), fluxion.tensor([3.0, 2.0]))",
        "tensor([3., 5.])",
    ),
    "minimum": (
        "Return the elementwise minimum of two tensors (nan wins; ties share the gradient).",
        "fluxion.minimum(fluxion.tensor([1.0, 5.0]), fluxion.tensor([3.0, 2.0]))",
        "tensor([1., 2.])",
    ),
    "mul": (
        "Multiply ``input`` by ``other``, broadcasting (``x * y`` calls this).",
        "fluxion.mul(fluxion.tensor([1.0, 2.0]), fluxion.tensor([[3.0], [4.0]]))",
        "tensor([[3., 6.],\n        [4., 8.]])",
    ),
    "nan_to_num": (
        "Replace nan, +inf and -inf with ``nan``, ``posinf`` and ``neginf`` (default: the "
        "dtype's finite extremes).",
        "fluxion.nan_to_num(fluxion.tensor([float('nan'), 1.0, float('-inf')]), neginf=-9.0)",
        "tensor([ 0.,  1., -9.])",
    ),
    "ne": (
        "Compare elementwise ``input != other``; the result is a bool tensor.",
        "fluxion.ne(fluxion.tensor([1, 2, 3]), 2)",
        "tensor([ True, False,  True])",
    ),
    "neg": (
        "Negate each element (``-x``); bool tensors raise, as in PyTorch.",
        "fluxion.neg(fluxion.tensor([-1.5, 0.0, 2.0]))",
        "tensor([ 1.5000, -0.0000, -2.0000])",
    ),
    "reciprocal": (
        "Return ``1 / input`` elementwise (integers give a floating-point result).",
        "fluxion.reciprocal(fluxion.tensor([2.0, -4.0]))",
        "tensor([ 0.5000, -0.2500])",
    ),
    "rsqrt": (
        "Return ``1 / sqrt(input)`` elementwise.",
        "fluxion.rsqrt(fluxion.tensor([4.0, 0.25]))",
        "tensor([0.5000, 2.0000])",
    ),
    "sgn": (
        "Return the sign of each element (for real tensors the same as ``sign``).",
        "fluxion.sgn(fluxion.tensor([-1.5, 0.0, 2.0]))",
        "tensor([-1.,  0.,  1.])",
    ),
    "sign": (
        "Return -1, 0 or 1 for each element by its sign (0 for nan, as in PyTorch).",
        "fluxion.sign(fluxion.tensor([-1.5, 0.0, 2.0]))",
        "tensor([-1.,  0.,  1.])",
    ),
    "sin": (
        "Return the sine of each element (radians).",
        "fluxion.sin(fluxion.tensor([0.0, 1.5707964]))",
        "tensor([0., 1.])",
    ),
    "sinh": (
        "Return the hyperbolic sine of each element.",
        "fluxion.sinh(fluxion.tensor([0.0, 1.0]))",
        "tensor([0.0000, 1.1752])",
    ),
    "sqrt": (
        "Return the square root of each element (nan for negative inputs).",
        "fluxion.sqrt(fluxion.tensor([4.0, 2.0]))",
        "tensor([2.0000, 1.4142])",
    ),
    "square": (
        "Return ``input * input`` elementwise.",
        "fluxion.square(fluxion.tensor([-3, 2]))",
        "tensor([9, 4])",
    ),
    "sub": (
        "Subtract ``alpha * other`` from ``input``, broadcasting (``x - y`` calls this).",
        "fluxion.sub(fluxion.tensor([5.0, 5.0]), fluxion.tensor([1.0, 2.0]), alpha=2)",
        "tensor([3., 1.])",
    ),
    "tan": (
        "Return the tangent of each element (radians).",
        "fluxion.tan(fluxion.tensor([0.0, 0.7853982]))",
        "tensor([0., 1.])",
    ),
    "trunc": (
        "Round each element toward zero (integers are returned unchanged); ``fix`` is an alias.",
        "fluxion.trunc(fluxion.tensor([-1.5, 0.0, 2.0]))",
        "tensor([-1.,  0.,  2.])",
    ),
}
for _name, (_summary, _call, _out) in _DOCS.items():
    _registry.with_doc(globals()[_name], f"{_summary}\n\n>>> {_call}\n{_out}\n")
del _name, _summary, _call, _out
