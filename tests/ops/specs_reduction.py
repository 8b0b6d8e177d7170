"""OpSpecs for the reduction family (``fluxion/ops/reduction.py``).

Shapes cover 0-d, empty (where torch allows the reduction), negative and tuple dims and keepdim;
``test_op_db`` also reruns every sample with non-contiguous inputs. Inputs with ties or zeros
are built by hand: ties are only two-way (central differences then give the same even split as
PyTorch's rule), and samples with exact zeros skip the second-order check (the second
derivative does not exist there, or the first-order rule is piecewise).
"""

from __future__ import annotations

import math

import numpy as np

from .op_db import OpSpec, register

FLOATS = ("float64", "float32")
ALL_NUM = ("float64", "float32", "int64", "int32")
ANY_DTYPE = ("float64", "float32", "int64", "int32", "uint8", "bool")

FULL = [((),), ((5,),), ((3, 4),), ((2, 3, 4),), ((0,),), ((2, 0),)]
FULL_NONEMPTY = [((),), ((5,),), ((3, 4),), ((2, 3, 4),)]
DIM1 = [((3, 4),), ((2, 3, 4),), ((4, 0),)]  # reduced over dim 1 / -1
DIM1_NONEMPTY = [((3, 4),), ((2, 3, 4),), ((5, 1),)]
TUPLE = [((2, 3, 4),), ((3, 4, 2),)]


def fixed(*arrays):
    """``make_inputs`` with hand-written one-tensor samples, one per array."""

    def make(rng, dt):
        return [[np.asarray(a, dtype=np.float64).astype(dt)] for a in arrays]

    return make


def spec(name, fn, shapes=None, **kw):
    register(OpSpec(name, fn, shapes=shapes or [], **kw))


# ------------------------------------------------------------------------ sum, mean

spec("sum", lambda lib, x: x.sum(), FULL, dtypes=ANY_DTYPE)
spec("sum_dim", lambda lib, x: lib.sum(x, 1), DIM1, dtypes=ALL_NUM + ("bool",))
spec("sum_dim_neg_keepdim", lambda lib, x: x.sum(-1, keepdim=True), DIM1 + [((3,),)])
spec("sum_dims_tuple", lambda lib, x: x.sum((0, -1)), TUPLE)
spec("sum_dims_tuple_keepdim", lambda lib, x: x.sum((2, 0), keepdim=True), TUPLE)
spec("sum_0d_dim", lambda lib, x: x.sum(0), [((),)])
spec("sum_empty_tuple_dims", lambda lib, x: x.sum(()), [((3, 4),)])
spec("sum_dtype", lambda lib, x: x.sum(dtype=lib.float64), [((3, 4),)], dtypes=FLOATS + ("int64",))
spec("mean", lambda lib, x: x.mean(), FULL)
spec("mean_dim", lambda lib, x: lib.mean(x, -1), DIM1 + [((3,),)])
spec("mean_dims_tuple_keepdim", lambda lib, x: x.mean((0, 2), keepdim=True), TUPLE)
spec(
    "mean_dtype",
    lambda lib, x: x.mean(dtype=lib.float64),
    [((3, 4),)],
    dtypes=("int64",),
    rtol=1e-12,
    atol=1e-12,
)

# ------------------------------------------------------------------------ prod

spec("prod", lambda lib, x: x.prod(), FULL, dtypes=ALL_NUM, domain=(0.5, 1.5))
spec("prod_dim", lambda lib, x: lib.prod(x, 1), DIM1, dtypes=ALL_NUM, domain=(-1.5, 1.5))
spec("prod_dim_neg_keepdim", lambda lib, x: x.prod(-1, keepdim=True), DIM1 + [((),)])
spec("prod_int_dtype", lambda lib, x: x.prod(), [((3,),)], dtypes=("uint8", "bool", "int32"))
spec("prod_dtype", lambda lib, x: x.prod(1, dtype=lib.float64), [((2, 3),)], dtypes=FLOATS)
_ZEROS_2D = [[1.5, 0.0, 2.0, -1.0], [0.0, 0.0, 3.0, 1.0], [2.0, 1.5, -0.5, 1.0]]  # 1, 2, 0 zeros
spec(
    "prod_zeros",
    lambda lib, x: x.prod(),
    make_inputs=fixed([2.0, 0.0, -1.5], [0.0, 1.0, 0.0], [[1.0, 2.0], [0.0, 3.0]]),
    gradgrad=False,
)
spec("prod_dim_zeros", lambda lib, x: x.prod(1), make_inputs=fixed(_ZEROS_2D), gradgrad=False)
spec(
    "prod_dim0_zeros_keepdim",
    lambda lib, x: x.prod(0, keepdim=True),
    make_inputs=fixed(_ZEROS_2D),
    gradgrad=False,
)

# ------------------------------------------------------------------------ max, min, amax, amin

for _name in ("max", "min"):
    spec(_name, lambda lib, x, n=_name: getattr(x, n)(), FULL_NONEMPTY, dtypes=ALL_NUM)
    spec(
        f"{_name}_dim",
        lambda lib, x, n=_name: getattr(lib, n)(x, 1),
        DIM1_NONEMPTY,
        dtypes=ALL_NUM + ("bool",),
    )
    spec(
        f"{_name}_dim_neg_keepdim",
        lambda lib, x, n=_name: getattr(x, n)(-1, keepdim=True),
        DIM1_NONEMPTY + [((),)],
    )
    spec(f"{_name}_dim_empty_other_dim", lambda lib, x, n=_name: getattr(x, n)(1), [((0, 3),)])
    spec(
        f"{_name}_dim_fields",
        lambda lib, x, n=_name: getattr(x, n)(dim=0).indices,
        [((4, 3),)],
        grad=False,
    )
    spec(
        f"{_name}_binary",
        lambda lib, x, y, n=_name: getattr(lib, n)(x, y),
        [((3, 4), (3, 4)), ((3, 1), (4,))],
    )
    spec(
        f"{_name}_ties",
        lambda lib, x, n=_name: getattr(x, n)(),
        make_inputs=fixed([[1.0, 3.0, 3.0], [2.0, -1.0, 0.5]], [-2.0, 1.0, 0.0, -2.0]),
        gradgrad=False,
    )

for _name in ("amax", "amin"):
    spec(_name, lambda lib, x, n=_name: getattr(lib, n)(x), FULL_NONEMPTY, dtypes=ALL_NUM)
    spec(
        f"{_name}_dim",
        lambda lib, x, n=_name: getattr(x, n)(1),
        DIM1_NONEMPTY + [((0, 3),)],
        dtypes=ALL_NUM,
    )
    spec(
        f"{_name}_dim_neg_keepdim",
        lambda lib, x, n=_name: getattr(x, n)(-1, keepdim=True),
        DIM1_NONEMPTY + [((),)],
    )
    spec(f"{_name}_dims_tuple", lambda lib, x, n=_name: getattr(lib, n)(x, (0, 2)), TUPLE)
    spec(
        f"{_name}_dims_tuple_keepdim",
        lambda lib, x, n=_name: getattr(x, n)((-1, 0), keepdim=True),
        TUPLE,
    )
    spec(
        f"{_name}_ties",
        lambda lib, x, n=_name: getattr(x, n)(1),
        make_inputs=fixed([[1.0, 3.0, 3.0], [-1.0, 2.0, -1.0], [0.5, 0.5, 0.0]]),
        gradgrad=False,
    )

for _name in ("argmax", "argmin"):
    spec(
        _name, lambda lib, x, n=_name: getattr(lib, n)(x), FULL_NONEMPTY, dtypes=ALL_NUM, grad=False
    )
    spec(
        f"{_name}_dim",
        lambda lib, x, n=_name: getattr(x, n)(1),
        DIM1_NONEMPTY + [((0, 3),)],
        dtypes=ALL_NUM,
        grad=False,
    )
    spec(
        f"{_name}_dim_neg_keepdim",
        lambda lib, x, n=_name: getattr(x, n)(-1, keepdim=True),
        DIM1_NONEMPTY + [((),)],
        grad=False,
    )
    spec(
        f"{_name}_keepdim_no_dim",
        lambda lib, x, n=_name: getattr(x, n)(keepdim=True),
        [((3, 4),)],
        grad=False,
    )
    spec(
        f"{_name}_ties",
        lambda lib, x, n=_name: getattr(x, n)(1),
        make_inputs=fixed([[1.0, 3.0, 3.0], [-1.0, 2.0, -1.0], [0.5, 0.5, 0.5]]),
        grad=False,
    )

# ------------------------------------------------------------------------ var, std

for _name in ("var", "std"):
    spec(_name, lambda lib, x, n=_name: getattr(x, n)(), FULL_NONEMPTY[1:])
    # n <= correction (one element, empty): inf or NaN like torch; no gradient checks there
    spec(
        f"{_name}_degenerate",
        lambda lib, x, n=_name: getattr(x, n)(-1),
        [((1,),), ((0,),), ((3, 1),), ((2, 0),)],
        grad=False,
    )
    spec(f"{_name}_dim", lambda lib, x, n=_name: getattr(lib, n)(x, 1), DIM1[:2])
    spec(
        f"{_name}_unbiased_false",
        lambda lib, x, n=_name: getattr(x, n)(-1, unbiased=False, keepdim=True),
        DIM1[:2],
    )
    spec(f"{_name}_bool_overload", lambda lib, x, n=_name: getattr(x, n)(False), [((3, 4),)])
    spec(
        f"{_name}_correction",
        lambda lib, x, n=_name: getattr(x, n)(dim=(0, 2), correction=2),
        TUPLE,
    )
    spec(
        f"{_name}_correction0_keepdim",
        lambda lib, x, n=_name: getattr(x, n)(dim=(0, 1), correction=0, keepdim=True),
        TUPLE,
    )
    # std of one element is 0: torch's double backward gives NaN there (masked_fill_ after
    # dividing by 0), fluxion gives 0, so the second-order comparison is skipped
    spec(
        f"{_name}_0d_dim",
        lambda lib, x, n=_name: getattr(x, n)(0, correction=0),
        [((),)],
        gradgrad=False,
    )
    spec(
        f"{_name}_constant",
        lambda lib, x, n=_name: getattr(x, n)(1),
        make_inputs=fixed([[2.0, 2.0, 2.0], [1.0, -1.0, 0.5]]),
        gradgrad=False,
    )

# ------------------------------------------------------------------------ logsumexp

spec("logsumexp", lambda lib, x: lib.logsumexp(x, 1), DIM1_NONEMPTY)
spec("logsumexp_neg_keepdim", lambda lib, x: x.logsumexp(-1, keepdim=True), DIM1 + [((),)])
spec("logsumexp_dims_tuple", lambda lib, x: lib.logsumexp(x, (0, 2)), TUPLE)
spec("logsumexp_large", lambda lib, x: x.logsumexp(0), [((4, 3),)], domain=(500.0, 505.0))
spec(
    "logsumexp_int",
    lambda lib, x: x.logsumexp(0),
    [((4, 3),)],
    dtypes=("int64",),
    rtol=1e-6,
    atol=1e-6,
)
spec(
    "logsumexp_neg_inf",
    lambda lib, x: x.logsumexp(1),
    make_inputs=fixed([[-math.inf, 1.0, 2.0], [-math.inf, -math.inf, 0.5]]),
)

# ------------------------------------------------------------------------ norm

_PS = [
    ("fro", "fro"),
    ("2", 2),
    ("1", 1),
    ("inf", math.inf),
    ("ninf", -math.inf),
    ("3", 3),
    ("1p5", 1.5),
    ("0p5", 0.5),
    ("0", 0),
    ("neg1", -1),
]
# NOTE: for p in (1, inf, -inf) torch's second-order gradients are ZeroTensors, which
# test_op_db cannot turn into NumPy arrays, so those specs skip the second-order check
for _label, _p in _PS:
    _kw = {
        "domain": (0.2, 2.0) if _p in (0.5, -1) else (-2.0, 2.0),
        "gradgrad": _p not in (1, math.inf, -math.inf),
    }
    spec(f"norm_p{_label}", lambda lib, x, p=_p: x.norm(p), FULL_NONEMPTY, **_kw)
    spec(f"norm_p{_label}_dim", lambda lib, x, p=_p: lib.norm(x, p, dim=1), DIM1_NONEMPTY, **_kw)
spec("norm_dims_tuple_keepdim", lambda lib, x: x.norm(dim=(0, 2), keepdim=True), TUPLE)
spec("norm_p3_neg_dim_keepdim", lambda lib, x: x.norm(3, dim=-1, keepdim=True), DIM1_NONEMPTY)
spec("norm_dtype", lambda lib, x: x.norm(dtype=lib.float64), [((3, 4),)])
spec("norm_empty", lambda lib, x: x.norm(), [((0,),), ((2, 0),)])
for _label, _p in [("2", 2), ("1", 1), ("inf", math.inf), ("3", 3), ("1p5", 1.5)]:
    spec(
        f"norm_p{_label}_zero_vector",
        lambda lib, x, p=_p: x.norm(p, dim=1),
        make_inputs=fixed([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]]),
        gradgrad=False,
    )

# ------------------------------------------------------------------------ cumsum, cumprod

spec("cumsum", lambda lib, x: lib.cumsum(x, 0), FULL, dtypes=ALL_NUM + ("bool",))
spec("cumsum_neg_dim", lambda lib, x: x.cumsum(-1), DIM1 + [((),)])
spec(
    "cumsum_dtype",
    lambda lib, x: x.cumsum(1, dtype=lib.float64),
    [((3, 4),)],
    dtypes=FLOATS + ("int64",),
)
spec("cumprod", lambda lib, x: lib.cumprod(x, 0), FULL, dtypes=ALL_NUM, domain=(0.5, 1.5))
spec("cumprod_neg_dim", lambda lib, x: x.cumprod(-1), DIM1 + [((),)], domain=(-1.5, 1.5))
spec("cumprod_zeros", lambda lib, x: x.cumprod(1), make_inputs=fixed(_ZEROS_2D), gradgrad=False)
spec(
    "cumprod_zeros_dim0",
    lambda lib, x: x.cumprod(0),
    make_inputs=fixed([[1.5, 0.0, 2.0], [0.0, 0.0, 3.0], [2.0, 1.5, 0.0], [-1.0, 2.0, 1.0]]),
    gradgrad=False,
)

# ------------------------------------------------------------------------ all, any, count_nonzero

for _name in ("all", "any"):
    spec(
        _name,
        lambda lib, x, n=_name: getattr(x, n)(),
        FULL,
        dtypes=ANY_DTYPE,
        domain=(-1.0, 1.0),
        grad=False,
    )
    spec(
        f"{_name}_dim",
        lambda lib, x, n=_name: getattr(lib, n)(x, 1),
        DIM1,
        dtypes=ANY_DTYPE,
        domain=(-1.0, 1.0),
        grad=False,
    )
    spec(
        f"{_name}_dims_tuple_keepdim",
        lambda lib, x, n=_name: getattr(x, n)((0, -1), keepdim=True),
        TUPLE,
        dtypes=("float64", "int64"),
        domain=(0.0, 1.0),
        grad=False,
    )
spec(
    "count_nonzero",
    lambda lib, x: lib.count_nonzero(x),
    FULL,
    dtypes=ANY_DTYPE,
    domain=(-1.0, 1.0),
    grad=False,
)
spec(
    "count_nonzero_dims",
    lambda lib, x: lib.count_nonzero(x, (0, -1)),
    TUPLE,
    dtypes=("float64", "int64"),
    domain=(-1.0, 1.0),
    grad=False,
)
spec(
    "count_nonzero_dim",
    lambda lib, x: x.count_nonzero(1),
    DIM1,
    dtypes=("int64",),
    domain=(-1.0, 1.0),
    grad=False,
)

# ------------------------------------------------------------------------ softmax, log_softmax

for _name in ("softmax", "log_softmax"):
    spec(_name, lambda lib, x, n=_name: getattr(lib, n)(x, 1), DIM1)
    spec(
        f"{_name}_neg_dim",
        lambda lib, x, n=_name: getattr(x, n)(-1),
        [((),), ((5,),), ((2, 3, 4),), ((0, 3),)],
    )
    spec(f"{_name}_dim0", lambda lib, x, n=_name: getattr(x, n)(0), [((4, 3),), ((1, 3),)])
    spec(
        f"{_name}_large",
        lambda lib, x, n=_name: getattr(x, n)(1),
        [((3, 4),)],
        domain=(500.0, 520.0),
    )
    spec(
        f"{_name}_dtype",
        lambda lib, x, n=_name: getattr(x, n)(1, dtype=lib.float64),
        [((3, 4),)],
        dtypes=("float32", "int64"),
        rtol=1e-12,
        atol=1e-12,
    )
