"""OpSpecs for the elementwise family (``fluxion/ops/elementwise.py``).

Domains keep finite differences away from non-smooth points (log on (0.1, 4), divisors away
from 0). Ops that are piecewise constant are still checked: their gradient is zero.
"""

from __future__ import annotations

import numpy as np

from .op_db import OpSpec, register

UNARY = [((),), ((5,),), ((3, 4),), ((2, 3, 2),), ((0,),), ((2, 0),)]
BINARY = [
    ((), ()),
    ((5,), (5,)),
    ((3, 4), (3, 4)),
    ((3, 1), (1, 4)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((4, 3), (3,)),
    ((0,), (0,)),
    ((2, 0), (2, 1)),
]
TERNARY = [
    ((), (), ()),
    ((5,), (5,), (5,)),
    ((3, 4), (3, 4), (3, 4)),
    ((3, 1), (1, 4), (3, 4)),
    ((), (2, 3), (3,)),
    ((2, 0), (2, 1), (0,)),
]
# clamp's input must have the broadcast shape (torch's own backward fails otherwise)
CLAMP = [
    ((), (), ()),
    ((5,), (5,), (5,)),
    ((3, 4), (3, 4), (3, 4)),
    ((3, 4), (3, 1), (4,)),
    ((2, 3), (), (3,)),
    ((2, 0), (2, 1), (0,)),
]
FLOATS = ("float64", "float32")
INTS = ("int64",)


def _sample(rng, shape, dom, dt):
    """Draw one array: ``dom`` is (lo, hi), ``"nonzero"`` (|x| in (0.5, 2)) or a callable."""
    if callable(dom):
        return np.asarray(dom(rng, shape)).astype(dt)
    if dom == "nonzero":
        mag = rng.uniform(0.5, 2.0, size=shape)
        return (mag * rng.choice([-1.0, 1.0], size=shape)).astype(dt)
    if dom == "bool":
        return rng.random(size=shape) > 0.5
    if np.dtype(dt).kind in "iu":
        lo, hi = dom
        return rng.integers(int(np.floor(lo)), int(np.ceil(hi)) + 1, size=shape).astype(dt)
    return rng.uniform(*dom, size=shape).astype(dt)


def gen(*doms, shapes=BINARY):
    """Return a ``make_inputs`` drawing argument ``k`` of every shape set from ``doms[k]``."""

    def make(rng, dt):
        return [[_sample(rng, s, d, dt) for s, d in zip(ss, doms)] for ss in shapes]

    return make


def _ties(rng, shape):
    """Small integers as floats, so that maximum/minimum/eq see many exact ties."""
    return rng.integers(-2, 3, size=shape).astype(np.float64)


def _special(rng, shape):
    """Finite values mixed with NaN, +inf and -inf."""
    x = rng.uniform(-2.0, 2.0, size=shape)
    pick = rng.integers(0, 4, size=shape)
    return np.where(pick == 1, np.nan, np.where(pick == 2, np.inf, np.where(pick == 3, -np.inf, x)))


def _softplus(lib, x, **kw):
    fn = lib.nn.functional.softplus if lib.__name__ == "torch" else lib.softplus
    return fn(x, **kw)


def unary(name, fn, domain=(-2.0, 2.0), **kw):
    kw.setdefault("shapes", UNARY)
    return OpSpec(name, fn, domain=domain, **kw)


def binary(name, fn, *doms, **kw):
    shapes = kw.pop("shapes", BINARY)
    if not doms:
        doms = ((-2.0, 2.0), (-2.0, 2.0))
    return OpSpec(name, fn, make_inputs=gen(*doms, shapes=shapes), **kw)


P = (0.1, 4.0)  # strictly positive domain
NZ = "nonzero"

register(
    # ------------------------------------------------------------------ arithmetic
    binary("add", lambda lib, x, y: lib.add(x, y)),
    binary("add_alpha", lambda lib, x, y: lib.add(x, y, alpha=2.5)),
    binary("add_int", lambda lib, x, y: x + y, dtypes=INTS),
    unary("add_scalar", lambda lib, x: x + 2.5),
    unary("radd_scalar", lambda lib, x: 2 + x),
    binary("sub", lambda lib, x, y: lib.sub(x, y)),
    binary("sub_alpha", lambda lib, x, y: lib.sub(x, y, alpha=0.5)),
    binary("sub_method_alpha", lambda lib, x, y: x.sub(y, alpha=-2)),
    unary("sub_scalar", lambda lib, x: x - 1.5),
    unary("rsub_scalar", lambda lib, x: 2 - x),
    unary("rsub_fn", lambda lib, x: lib.rsub(x, 1.5, alpha=2)),
    binary("rsub_tensor", lambda lib, x, y: lib.rsub(x, y)),
    unary("rsub_int", lambda lib, x: 2 - x, domain=(-5, 5), dtypes=INTS),
    binary("mul", lambda lib, x, y: lib.mul(x, y)),
    binary("mul_int", lambda lib, x, y: x * y, dtypes=INTS),
    unary("mul_scalar", lambda lib, x: x * 3),
    unary("rmul_scalar", lambda lib, x: 0.5 * x),
    binary("div", lambda lib, x, y: lib.div(x, y), (-2.0, 2.0), NZ),
    binary("div_int", lambda lib, x, y: x / y, (-5, 5), (1, 3), dtypes=INTS),
    binary(
        "div_trunc", lambda lib, x, y: lib.div(x, y, rounding_mode="trunc"), (-4, 4), NZ, grad=False
    ),
    binary(
        "div_floor", lambda lib, x, y: lib.div(x, y, rounding_mode="floor"), (-4, 4), NZ, grad=False
    ),
    binary(
        "div_trunc_int",
        lambda lib, x, y: lib.div(x, y, rounding_mode="trunc"),
        (-7, 7),
        (1, 3),
        dtypes=INTS,
    ),
    binary(
        "div_floor_int",
        lambda lib, x, y: lib.div(x, y, rounding_mode="floor"),
        (-7, 7),
        (1, 3),
        dtypes=INTS,
    ),
    unary("div_scalar", lambda lib, x: x / 4),
    unary("rdiv_scalar", lambda lib, x: 2 / x, domain=(0.5, 2.0)),
    binary("floor_divide", lambda lib, x, y: lib.floor_divide(x, y), (-4, 4), NZ, grad=False),
    binary(
        "floor_divide_int", lambda lib, x, y: lib.floor_divide(x, y), (-7, 7), (-3, -1), dtypes=INTS
    ),
    unary("floordiv_scalar", lambda lib, x: x // 0.7, domain=(-4.0, 4.0), grad=False),
    binary("remainder", lambda lib, x, y: lib.remainder(x, y), (-4, 4), NZ),
    binary("remainder_int", lambda lib, x, y: lib.remainder(x, y), (-7, 7), (1, 3), dtypes=INTS),
    unary("mod_scalar", lambda lib, x: x % 0.7, domain=(-4.0, 4.0)),
    unary("mod_2", lambda lib, x: x % 2, domain=(-4.0, 4.0)),
    unary("floordiv_2", lambda lib, x: x // 2, domain=(-4.0, 4.0), grad=False),
    unary("floordiv_2_int", lambda lib, x: x // 2, domain=(-7, 7), dtypes=INTS),
    unary("mod_2_int", lambda lib, x: x % 2, domain=(-7, 7), dtypes=INTS),
    binary("fmod", lambda lib, x, y: lib.fmod(x, y), (-4, 4), NZ),
    binary("fmod_int", lambda lib, x, y: lib.fmod(x, y), (-7, 7), (1, 3), dtypes=INTS),
    unary("fmod_scalar", lambda lib, x: lib.fmod(x, 0.7), domain=(-4.0, 4.0)),
    binary("atan2", lambda lib, x, y: lib.atan2(x, y), NZ, NZ),
    binary("maximum", lambda lib, x, y: lib.maximum(x, y)),
    binary("minimum", lambda lib, x, y: lib.minimum(x, y)),
    # at ties the gradient is split in half, which is also what central differences see; the
    # VJP itself jumps there, so there is no second derivative to check
    binary("maximum_ties", lambda lib, x, y: lib.maximum(x, y), _ties, _ties, gradgrad=False),
    binary("minimum_ties", lambda lib, x, y: lib.minimum(x, y), _ties, _ties, gradgrad=False),
    binary("maximum_int", lambda lib, x, y: lib.maximum(x, y), (-3, 3), (-3, 3), dtypes=INTS),
    # ------------------------------------------------------------------ pow
    unary("pow_0", lambda lib, x: lib.pow(x, 0)),
    unary("pow_0.5", lambda lib, x: lib.pow(x, 0.5), domain=P),
    unary("pow_-1", lambda lib, x: lib.pow(x, -1), domain=(0.5, 2.0)),
    unary("pow_2", lambda lib, x: lib.pow(x, 2)),
    unary("pow_3", lambda lib, x: x.pow(3)),
    unary("pow_2.5", lambda lib, x: x**2.5, domain=P),
    unary("pow_int", lambda lib, x: x**2, domain=(-5, 5), dtypes=INTS),
    binary("pow_tensor", lambda lib, x, y: lib.pow(x, y), (0.5, 2.0), (-2.0, 2.0)),
    binary(
        "pow_tensor_0d",
        lambda lib, x, y: x**y,
        (0.5, 2.0),
        (1.0, 3.0),
        shapes=[((3, 2), ()), ((), (4,))],
    ),
    unary("pow_scalar_base", lambda lib, x: lib.pow(2.0, x)),
    unary("rpow_scalar", lambda lib, x: 2**x),
    unary("rpow_float", lambda lib, x: 1.5**x),
    unary("pow_scalar_sq", lambda lib, x: x**2),
    unary("float_power", lambda lib, x: lib.float_power(x, 2.5), domain=P),
    binary("float_power_tensor", lambda lib, x, y: lib.float_power(x, y), (0.5, 2.0), (-2, 2)),
    unary("float_power_base", lambda lib, x: lib.float_power(2, x)),
    unary("float_power_int", lambda lib, x: lib.float_power(x, 2), domain=(-5, 5), dtypes=INTS),
    # ------------------------------------------------------------------ unary
    unary("neg", lambda lib, x: lib.neg(x)),
    unary("neg_op", lambda lib, x: -x),
    unary("abs", lambda lib, x: lib.abs(x)),
    unary("abs_int", lambda lib, x: lib.abs(x), domain=(-5, 5), dtypes=INTS),
    unary("exp", lambda lib, x: lib.exp(x)),
    unary("exp_int", lambda lib, x: lib.exp(x), domain=(-3, 3), dtypes=INTS),
    unary("exp2", lambda lib, x: lib.exp2(x)),
    unary("expm1", lambda lib, x: lib.expm1(x)),
    unary("log", lambda lib, x: lib.log(x), domain=P),
    unary("log2", lambda lib, x: lib.log2(x), domain=P),
    unary("log10", lambda lib, x: lib.log10(x), domain=P),
    unary("log1p", lambda lib, x: lib.log1p(x), domain=(-0.5, 3.0)),
    unary("sqrt", lambda lib, x: lib.sqrt(x), domain=P),
    unary("sqrt_int", lambda lib, x: lib.sqrt(x), domain=(0, 9), dtypes=INTS),
    unary("rsqrt", lambda lib, x: lib.rsqrt(x), domain=P),
    unary("sin", lambda lib, x: lib.sin(x)),
    unary("cos", lambda lib, x: lib.cos(x)),
    unary("tan", lambda lib, x: lib.tan(x), domain=(-1.2, 1.2)),
    unary("asin", lambda lib, x: lib.asin(x), domain=(-0.9, 0.9)),
    unary("acos", lambda lib, x: lib.acos(x), domain=(-0.9, 0.9)),
    unary("atan", lambda lib, x: lib.atan(x)),
    unary("sinh", lambda lib, x: lib.sinh(x)),
    unary("cosh", lambda lib, x: lib.cosh(x)),
    unary("tanh", lambda lib, x: lib.tanh(x)),
    unary("sigmoid", lambda lib, x: lib.sigmoid(x), domain=(-6.0, 6.0)),
    unary("relu", lambda lib, x: lib.relu(x)),
    unary("softplus", lambda lib, x: _softplus(lib, x)),
    unary("softplus_beta", lambda lib, x: _softplus(lib, x, beta=2.0, threshold=1.5)),
    unary("erf", lambda lib, x: lib.erf(x)),
    unary("sign", lambda lib, x: lib.sign(x)),
    unary("sign_int", lambda lib, x: lib.sign(x), domain=(-3, 3), dtypes=INTS),
    unary("floor", lambda lib, x: lib.floor(x)),
    unary("ceil", lambda lib, x: lib.ceil(x)),
    unary("round", lambda lib, x: lib.round(x), domain=(-4.0, 4.0)),
    unary("round_decimals", lambda lib, x: lib.round(x, decimals=2)),
    unary("round_neg_decimals", lambda lib, x: lib.round(x * 100, decimals=-1), gradgrad=False),
    unary("trunc", lambda lib, x: lib.trunc(x), domain=(-4.0, 4.0)),
    unary("frac", lambda lib, x: lib.frac(x), domain=(-4.0, 4.0)),
    unary("reciprocal", lambda lib, x: lib.reciprocal(x), domain=(0.5, 2.0)),
    unary("reciprocal_neg", lambda lib, x: x.reciprocal(), domain=(-2.0, -0.5)),
    unary("square", lambda lib, x: lib.square(x)),
    # aliases: same op, same node name as PyTorch
    unary("absolute", lambda lib, x: lib.absolute(x)),
    unary("negative", lambda lib, x: lib.negative(x)),
    unary("arcsin", lambda lib, x: lib.arcsin(x), domain=(-0.9, 0.9)),
    unary("arccos", lambda lib, x: lib.arccos(x), domain=(-0.9, 0.9)),
    unary("arctan", lambda lib, x: lib.arctan(x)),
    unary("fix", lambda lib, x: lib.fix(x), domain=(-4.0, 4.0)),
    unary("sgn", lambda lib, x: lib.sgn(x)),
    unary("sgn_method", lambda lib, x: x.sgn()),
    binary("true_divide", lambda lib, x, y: lib.true_divide(x, y), (-2.0, 2.0), NZ),
    binary("divide", lambda lib, x, y: lib.divide(x, y), (-2.0, 2.0), NZ),
    # ------------------------------------------------------------------ selection and clamping
    OpSpec(
        "where",
        lambda lib, c, x, y: lib.where(c, x, y),
        make_inputs=gen("bool", (-2, 2), (-2, 2), shapes=TERNARY),
    ),
    OpSpec(
        "where_scalar",
        lambda lib, c, x: lib.where(c, x, 0.5),
        make_inputs=gen("bool", (-2, 2), shapes=[s[:2] for s in BINARY]),
    ),
    OpSpec(
        "where_method",
        lambda lib, c, x, y: x.where(c, y),
        make_inputs=gen("bool", (-2, 2), (-2, 2), shapes=TERNARY),
    ),
    unary("clamp", lambda lib, x: lib.clamp(x, -0.5, 0.7)),
    unary("clamp_min", lambda lib, x: lib.clamp(x, min=-0.5)),
    unary("clamp_max", lambda lib, x: lib.clamp(x, max=0.5)),
    unary("clamp_min_fn", lambda lib, x: lib.clamp_min(x, -0.5)),
    unary("clamp_max_method", lambda lib, x: x.clamp_max(0.5)),
    unary("clip", lambda lib, x: lib.clip(x, -0.5, 0.7)),
    unary("clamp_int", lambda lib, x: lib.clamp(x, -2, 3), domain=(-5, 5), dtypes=INTS),
    # tensor bounds, drawn so that min > max happens too (the result is then max)
    OpSpec(
        "clamp_tensor",
        lambda lib, x, lo, hi: lib.clamp(x, lo, hi),
        make_inputs=gen((-2, 2), (-1.5, 0.5), (-0.5, 1.5), shapes=CLAMP),
    ),
    binary("clamp_tensor_min", lambda lib, x, lo: lib.clamp(x, min=lo)),
    binary("clamp_tensor_max", lambda lib, x, hi: lib.clamp(x, max=hi)),
    binary("clamp_min_tensor", lambda lib, x, lo: lib.clamp_min(x, lo)),
    binary("clamp_max_tensor", lambda lib, x, hi: x.clamp_max(hi)),
    binary("lerp", lambda lib, x, y: lib.lerp(x, y, 0.3)),
    OpSpec(
        "lerp_tensor",
        lambda lib, x, y, w: lib.lerp(x, y, w),
        make_inputs=gen((-2, 2), (-2, 2), (0, 1), shapes=TERNARY),
    ),
    unary("nan_to_num", lambda lib, x: lib.nan_to_num(x), make_inputs=gen(_special, shapes=UNARY)),
    unary(
        "nan_to_num_args",
        lambda lib, x: x.nan_to_num(nan=1.5, posinf=3.0, neginf=-4.0),
        make_inputs=gen(_special, shapes=UNARY),
    ),
    OpSpec(
        "addcmul",
        lambda lib, x, a, b: lib.addcmul(x, a, b),
        make_inputs=gen((-2, 2), (-2, 2), (-2, 2), shapes=TERNARY),
    ),
    OpSpec(
        "addcmul_value",
        lambda lib, x, a, b: lib.addcmul(x, a, b, value=-0.5),
        make_inputs=gen((-2, 2), (-2, 2), (-2, 2), shapes=TERNARY),
    ),
    OpSpec(
        "addcdiv",
        lambda lib, x, a, b: lib.addcdiv(x, a, b, value=2),
        make_inputs=gen((-2, 2), (-2, 2), NZ, shapes=TERNARY),
    ),
    # ------------------------------------------------------------------ comparisons and logic
    *[
        binary(op, lambda lib, x, y, op=op: getattr(lib, op)(x, y), _ties, _ties, grad=False)
        for op in ("eq", "ne", "lt", "le", "gt", "ge")
    ],
    *[
        unary(f"{op}_scalar", lambda lib, x, f=f: f(x), grad=False)
        for op, f in [
            ("eq", lambda x: x == 1.0),
            ("ne", lambda x: x != 1.0),
            ("lt", lambda x: x < 0.5),
            ("le", lambda x: x <= 0.5),
            ("gt", lambda x: x > 0.5),
            ("ge", lambda x: x >= 0.5),
        ]
    ],
    binary("lt_int", lambda lib, x, y: x < y, (-3, 3), (-3, 3), dtypes=INTS),
    *[
        binary(op, lambda lib, x, y, op=op: getattr(lib, op)(x, y), _ties, _ties, grad=False)
        for op in ("greater", "greater_equal", "less", "less_equal", "not_equal")
    ],
    *[
        binary(op, lambda lib, x, y, op=op: getattr(lib, op)(x, y), _ties, "bool", grad=False)
        for op in ("logical_and", "logical_or", "logical_xor")
    ],
    *[
        binary(op, lambda lib, x, y, op=op: getattr(lib, op)(x, y), (-8, 8), (-8, 8), dtypes=INTS)
        for op in ("bitwise_and", "bitwise_or", "bitwise_xor")
    ],
    binary("bitwise_and_bool", lambda lib, x, y: x & y, "bool", "bool", dtypes=("bool",)),
    binary("bitwise_or_bool", lambda lib, x, y: x | y, "bool", "bool", dtypes=("bool",)),
    unary("bitwise_xor_scalar", lambda lib, x: x ^ 3, domain=(-8, 8), dtypes=INTS),
    unary("bitwise_not", lambda lib, x: lib.bitwise_not(x), domain=(-8, 8), dtypes=INTS),
    unary(
        "invert_bool", lambda lib, x: ~x, make_inputs=gen("bool", shapes=UNARY), dtypes=("bool",)
    ),
    *[
        unary(
            op, lambda lib, x, op=op: getattr(lib, op)(x), make_inputs=gen(_special, shapes=UNARY)
        )
        for op in ("isnan", "isinf", "isfinite")
    ],
    unary(
        "logical_not",
        lambda lib, x: lib.logical_not(x),
        make_inputs=gen(_ties, shapes=UNARY),
        grad=False,
    ),
)
