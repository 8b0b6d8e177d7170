"""dtype inference, type promotion and ``repr``, compared with PyTorch.

The explicit tables state PyTorch's answers, so they run without torch; where torch is installed
the same cases (and a full grid of operand kinds) also run through torch and must agree.
"""

from __future__ import annotations

import importlib.util
import itertools
import operator

import numpy as np
import pytest

import fluxion

HAVE_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch is the oracle")


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _name(dtype) -> str:
    return str(dtype).replace("torch.", "").replace("fluxion.", "")


# ---------------------------------------------------------------------------- inference

INFERENCE = [  # (id, build(lib), PyTorch's dtype)
    ("float_list", lambda L: L.tensor([1.0, 2.0]), "float32"),
    ("int_list", lambda L: L.tensor([1, 2]), "int64"),
    ("bool_list", lambda L: L.tensor([True, False]), "bool"),
    ("int_and_float", lambda L: L.tensor([1, 2.5]), "float32"),
    ("bool_and_int", lambda L: L.tensor([True, 2]), "int64"),
    ("bool_and_float", lambda L: L.tensor([True, 2.5]), "float32"),
    ("float_scalar", lambda L: L.tensor(3.5), "float32"),
    ("int_scalar", lambda L: L.tensor(3), "int64"),
    ("bool_scalar", lambda L: L.tensor(False), "bool"),
    ("empty_list", lambda L: L.tensor([]), "float32"),
    ("nested_empty", lambda L: L.tensor([[], []]), "float32"),
    ("nested_int", lambda L: L.tensor([[1, 2], [3, 4]]), "int64"),
    ("numpy_float64", lambda L: L.tensor(np.array([1.0, 2.0])), "float64"),
    ("numpy_float32", lambda L: L.tensor(np.array([1.0], dtype=np.float32)), "float32"),
    ("numpy_float16", lambda L: L.tensor(np.array([1.0], dtype=np.float16)), "float16"),
    ("numpy_int32", lambda L: L.tensor(np.array([1, 2], dtype=np.int32)), "int32"),
    ("numpy_int16", lambda L: L.tensor(np.array([1, 2], dtype=np.int16)), "int16"),
    ("numpy_int8", lambda L: L.tensor(np.array([1, 2], dtype=np.int8)), "int8"),
    ("numpy_uint8", lambda L: L.tensor(np.array([1, 2], dtype=np.uint8)), "uint8"),
    ("numpy_bool", lambda L: L.tensor(np.array([True])), "bool"),
    ("numpy_0d", lambda L: L.tensor(np.array(2.0)), "float64"),
    ("numpy_scalar_float64", lambda L: L.tensor(np.float64(1.5)), "float64"),
    ("numpy_scalar_float32", lambda L: L.tensor(np.float32(1.5)), "float32"),
    ("numpy_scalar_int32", lambda L: L.tensor(np.int32(1)), "int32"),
    ("list_numpy_float64", lambda L: L.tensor([np.float64(1.5), 2.5]), "float64"),
    ("list_numpy_int32_and_int", lambda L: L.tensor([np.int32(1), 2]), "int64"),
    ("list_numpy_float16_and_int", lambda L: L.tensor([np.float16(1), 2]), "float16"),
    ("list_numpy_float16_and_float", lambda L: L.tensor([np.float16(1), 2.5]), "float32"),
    ("list_numpy_int8_uint8", lambda L: L.tensor([np.int8(1), np.uint8(2)]), "int16"),
    ("list_bool_and_numpy_int8", lambda L: L.tensor([True, np.int8(3)]), "int8"),
    ("list_of_0d_float64", lambda L: L.tensor([L.tensor(1.0, dtype=L.float64), 2.0]), "float64"),
    ("list_of_0d_int32", lambda L: L.tensor([L.tensor(1, dtype=L.int32), 2]), "int64"),
    ("as_tensor_numpy", lambda L: L.as_tensor(np.array([1.0, 2.0])), "float64"),
    ("as_tensor_list", lambda L: L.as_tensor([1, 2]), "int64"),
    ("from_numpy_int32", lambda L: L.from_numpy(np.array([1, 2], dtype=np.int32)), "int32"),
    ("dtype_argument", lambda L: L.tensor([1, 2], dtype=L.float16), "float16"),
    ("zeros", lambda L: L.zeros(2), "float32"),
    ("ones_int32", lambda L: L.ones(2, dtype=L.int32), "int32"),
    ("arange_int", lambda L: L.arange(5), "int64"),
    ("arange_float_start", lambda L: L.arange(0.5, 3), "float32"),
    ("arange_float_step", lambda L: L.arange(0, 3, 0.5), "float32"),
    ("linspace", lambda L: L.linspace(0, 1, 5), "float32"),
    ("full_int", lambda L: L.full((2,), 3), "int64"),
    ("full_float", lambda L: L.full((2,), 3.0), "float32"),
    ("full_bool", lambda L: L.full((2,), True), "bool"),
    ("eye", lambda L: L.eye(2), "float32"),
    ("zeros_like_int", lambda L: L.zeros_like(L.tensor([1, 2])), "int64"),
    ("rand", lambda L: L.rand(2), "float32"),
    ("randint", lambda L: L.randint(0, 5, (3,)), "int64"),
]


@pytest.mark.parametrize(
    ("build", "expected"), [p[1:] for p in INFERENCE], ids=[p[0] for p in INFERENCE]
)
def test_dtype_inference_matches_pytorch(build, expected):
    assert build(fluxion).dtype is getattr(fluxion, expected)


@needs_torch
@pytest.mark.parametrize("build", [p[1] for p in INFERENCE], ids=[p[0] for p in INFERENCE])
def test_dtype_inference_agrees_with_torch(build, torch):
    assert _name(build(fluxion).dtype) == _name(build(torch).dtype)


def test_dtype_inference_follows_the_default_dtype():
    fluxion.set_default_dtype(fluxion.float64)
    try:
        assert fluxion.tensor([1.0]).dtype is fluxion.float64
        assert fluxion.tensor([1, 2]).dtype is fluxion.int64
        assert (fluxion.tensor([1, 2]) / 2).dtype is fluxion.float64
        assert fluxion.tensor([1.0]).__repr__() == "tensor([1.])"
    finally:
        fluxion.set_default_dtype(fluxion.float32)
    assert fluxion.tensor([1.0]).dtype is fluxion.float32


# ---------------------------------------------------------------------------- promotion

PROMOTION = [  # (id, build(lib), PyTorch's dtype)
    ("int_div_int", lambda L: L.tensor([1, 2]) / L.tensor([2, 2]), "float32"),
    ("int_times_float_scalar", lambda L: L.tensor([1, 2]) * 2.5, "float32"),
    ("int_plus_int_scalar", lambda L: L.tensor([1, 2], dtype=L.int32) + 2, "int32"),
    (
        "float32_plus_float64",
        lambda L: L.tensor([1.0]) + L.tensor([1.0], dtype=L.float64),
        "float64",
    ),
    (
        "float32_plus_0d_float64",
        lambda L: L.tensor([1.0]) + L.tensor(1.0, dtype=L.float64),
        "float32",
    ),
    ("int_plus_0d_float64", lambda L: L.tensor([1, 2]) + L.tensor(1.0, dtype=L.float64), "float64"),
    ("int32_plus_0d_int64", lambda L: L.tensor([1], dtype=L.int32) + L.tensor(1), "int32"),
    ("0d_int_plus_0d_float", lambda L: L.tensor(1) + L.tensor(1.0, dtype=L.float64), "float64"),
    (
        "uint8_plus_int8",
        lambda L: L.tensor([1], dtype=L.uint8) + L.tensor([1], dtype=L.int8),
        "int16",
    ),
    (
        "uint8_plus_0d_int8",
        lambda L: L.tensor([1], dtype=L.uint8) + L.tensor(1, dtype=L.int8),
        "uint8",
    ),
    ("bool_plus_int_scalar", lambda L: L.tensor([True]) + 2, "int64"),
    ("bool_plus_bool", lambda L: L.tensor([True]) + L.tensor([True]), "bool"),
    ("bool_times_float_scalar", lambda L: L.tensor([True]) * 1.5, "float32"),
    (
        "float16_plus_int32",
        lambda L: L.tensor([1.0], dtype=L.float16) + L.tensor([1], dtype=L.int32),
        "float16",
    ),
    ("float16_plus_float_scalar", lambda L: L.tensor([1.0], dtype=L.float16) + 2.5, "float16"),
    ("int_eq_float", lambda L: L.tensor([1, 2]) == L.tensor([1.0, 2.5]), "bool"),
    ("int_exp", lambda L: L.tensor([1, 2]).exp(), "float32"),
    ("bool_sqrt", lambda L: L.tensor([True]).sqrt(), "float32"),
    ("int_sum", lambda L: L.tensor([1, 2], dtype=L.int32).sum(), "int64"),
    ("bool_sum", lambda L: L.tensor([True, True]).sum(), "int64"),
    ("int_pow_half", lambda L: L.tensor([1, 2]) ** 0.5, "float32"),
    ("int_pow_int", lambda L: L.tensor([1, 2]) ** 2, "int64"),
    ("int_scalar_pow_int", lambda L: 2 ** L.tensor([1, 2]), "int64"),
    ("float_scalar_pow_int", lambda L: 2.5 ** L.tensor([1, 2]), "float32"),
    ("int_atan2", lambda L: L.atan2(L.tensor([1, 2]), L.tensor([1, 1])), "float32"),
    ("int_clamp_float", lambda L: L.tensor([1, 2]).clamp(0.5, 1.5), "float32"),
    (
        "where_int_float_scalar",
        lambda L: L.where(L.tensor([True, False]), L.tensor([1, 2]), 2.5),
        "float32",
    ),
    (
        "maximum_int_float64",
        lambda L: L.maximum(L.tensor([1, 2]), L.tensor([1.5, 0.5], dtype=L.float64)),
        "float64",
    ),
    ("int_square", lambda L: L.tensor([1, 2]).square(), "int64"),
    ("int_floor", lambda L: L.tensor([1, 2]).floor(), "int64"),
    ("double_method", lambda L: L.tensor([1, 2]).double(), "float64"),
    ("long_method", lambda L: L.tensor([1.7, -1.7]).long(), "int64"),
]


@pytest.mark.parametrize(
    ("build", "expected"), [p[1:] for p in PROMOTION], ids=[p[0] for p in PROMOTION]
)
def test_promotion_matches_pytorch(build, expected):
    assert build(fluxion).dtype is getattr(fluxion, expected)


@needs_torch
@pytest.mark.parametrize("build", [p[1] for p in PROMOTION], ids=[p[0] for p in PROMOTION])
def test_promotion_agrees_with_torch(build, torch):
    f, t = build(fluxion), build(torch)
    assert _name(f.dtype) == _name(t.dtype)
    np.testing.assert_allclose(f.numpy().astype(float), t.numpy().astype(float), rtol=1e-6)


def test_result_type_and_promote_types():
    assert fluxion.result_type(fluxion.tensor([1, 2]), 2.5) is fluxion.float32
    assert fluxion.result_type(
        fluxion.tensor([1.0]), fluxion.tensor(1.0, dtype=fluxion.float64)
    ) is (fluxion.float32)
    assert fluxion.result_type(2, fluxion.tensor([True])) is fluxion.int64
    assert fluxion.promote_types(fluxion.uint8, fluxion.int8) is fluxion.int16
    assert fluxion.promote_types(fluxion.int32, fluxion.float16) is fluxion.float16
    assert fluxion.promote_types(fluxion.bool, fluxion.uint8) is fluxion.uint8


# The grid: every dtype as a 1-d tensor and as a 0-d tensor, and Python bool/int/float scalars.
DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
OPERANDS = [("tensor", d) for d in DTYPES] + [("0d", d) for d in DTYPES]
OPERANDS += [("scalar", "bool"), ("scalar", "int"), ("scalar", "float")]
PAIRS = [(a, b) for a, b in itertools.product(OPERANDS, OPERANDS) if "scalar" not in (a[0], b[0])]
PAIRS += [
    (a, b)
    for a, b in itertools.product(OPERANDS, OPERANDS)
    if (a[0] == "scalar") != (b[0] == "scalar")
]
BINARY_OPS = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": operator.truediv,
    "floordiv": operator.floordiv,
    "eq": operator.eq,
    "lt": operator.lt,
}


def _operand(lib, kind: str, dtype: str):
    if kind == "scalar":
        return {"bool": True, "int": 3, "float": 2.5}[dtype]
    values = [True, True] if dtype == "bool" else [3, 2]
    return lib.tensor(values if kind == "tensor" else values[0], dtype=getattr(lib, dtype))


def _outcome(fn, *args):
    try:
        return fn(*args), None
    except Exception as exc:  # noqa: BLE001 - comparing which exception each library raises
        return None, exc


@needs_torch
@pytest.mark.parametrize(("a", "b"), PAIRS, ids=[f"{a[0]}-{a[1]}-{b[0]}-{b[1]}" for a, b in PAIRS])
def test_promotion_grid_agrees_with_torch(a, b, torch):
    fa, fb = _operand(fluxion, *a), _operand(fluxion, *b)
    ta, tb = _operand(torch, *a), _operand(torch, *b)
    assert _name(fluxion.result_type(fa, fb)) == _name(torch.result_type(ta, tb))
    for name, op in BINARY_OPS.items():
        (f, f_exc), (t, t_exc) = _outcome(op, fa, fb), _outcome(op, ta, tb)
        if t_exc is not None or f_exc is not None:
            assert type(f_exc) is type(t_exc), f"{name}: fluxion {f_exc!r}, torch {t_exc!r}"
            continue
        assert _name(f.dtype) == _name(t.dtype), f"{name}: {f.dtype} != {t.dtype}"
        np.testing.assert_allclose(
            f.numpy().astype(float), t.numpy().astype(float), rtol=1e-3, err_msg=name
        )


# ---------------------------------------------------------------------------- repr

nan, inf = float("nan"), float("inf")

REPRS = [  # (id, build(lib), PyTorch's repr with 'torch.' replaced by 'fluxion.')
    # the seed examples
    (
        "seed_leaf",
        lambda L: L.ones(2, 2, requires_grad=True),
        "tensor([[1., 1.],\n        [1., 1.]], requires_grad=True)",
    ),
    (
        "seed_add",
        lambda L: L.ones(2, 2, requires_grad=True) + 2,
        "tensor([[3., 3.],\n        [3., 3.]], grad_fn=<AddBackward0>)",
    ),
    (
        "seed_mean",
        lambda L: (L.ones(2, 2, requires_grad=True) * 27).mean(),
        "tensor(27., grad_fn=<MeanBackward0>)",
    ),
    (
        "seed_grad",
        lambda L: L.full((2, 2), 4.5),
        "tensor([[4.5000, 4.5000],\n        [4.5000, 4.5000]])",
    ),
    ("seed_vector", lambda L: L.tensor([0.1, 1, 10]), "tensor([ 0.1000,  1.0000, 10.0000])"),
    ("seed_vjp", lambda L: L.tensor([0.2, 2.0, 20.0]), "tensor([ 0.2000,  2.0000, 20.0000])"),
    # float formatting
    ("whole", lambda L: L.tensor([1.0, 2.0]), "tensor([1., 2.])"),
    (
        "four_decimals",
        lambda L: L.tensor([1.5, 2.25, -3.125]),
        "tensor([ 1.5000,  2.2500, -3.1250])",
    ),
    ("zero_d", lambda L: L.tensor(3.0), "tensor(3.)"),
    ("zero_d_fraction", lambda L: L.tensor(-0.25), "tensor(-0.2500)"),
    ("negative_zero", lambda L: L.tensor([-0.0, 1.0]), "tensor([-0., 1.])"),
    ("small_is_scientific", lambda L: L.tensor([1e-5, 1.0]), "tensor([1.0000e-05, 1.0000e+00])"),
    ("large_is_scientific", lambda L: L.tensor([1e10, 1.0]), "tensor([1.0000e+10, 1.0000e+00])"),
    ("wide_range_whole", lambda L: L.tensor([1e8, 1.0]), "tensor([1.0000e+08, 1.0000e+00])"),
    ("wide_range", lambda L: L.tensor([0.1, 100000.0]), "tensor([1.0000e-01, 1.0000e+05])"),
    ("just_fixed", lambda L: L.tensor([0.1, 99.0]), "tensor([ 0.1000, 99.0000])"),
    ("zero_d_scientific", lambda L: L.tensor(1e20), "tensor(1.0000e+20)"),
    ("nonfinite", lambda L: L.tensor([nan, inf, -inf, 1.0]), "tensor([nan, inf, -inf, 1.])"),
    ("nonfinite_fraction", lambda L: L.tensor([nan, 1.5]), "tensor([   nan, 1.5000])"),
    ("all_nan", lambda L: L.tensor([nan, nan]), "tensor([nan, nan])"),
    ("zeros", lambda L: L.zeros(3), "tensor([0., 0., 0.])"),
    (
        "matrix",
        lambda L: L.arange(6.0).reshape(2, 3) / 7,
        "tensor([[0.0000, 0.1429, 0.2857],\n        [0.4286, 0.5714, 0.7143]])",
    ),
    (
        "three_d",
        lambda L: L.arange(8.0).reshape(2, 2, 2) - 3,
        "tensor([[[-3., -2.],\n         [-1.,  0.]],\n\n"
        "        [[ 1.,  2.],\n         [ 3.,  4.]]])",
    ),
    (
        "line_wrap",
        lambda L: L.arange(12.0) / 3,
        "tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,\n"
        "        3.0000, 3.3333, 3.6667])",
    ),
    (
        "summarised",
        lambda L: L.arange(1500),
        "tensor([   0,    1,    2,  ..., 1497, 1498, 1499])",
    ),
    (
        "summarised_float",
        lambda L: L.arange(2000.0),
        "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
        "        1.9990e+03])",
    ),
    # ints and bools
    ("int", lambda L: L.tensor([1, 2, -30]), "tensor([  1,   2, -30])"),
    ("int_zero_d", lambda L: L.tensor(7), "tensor(7)"),
    ("int32", lambda L: L.tensor([1, 2], dtype=L.int32), "tensor([1, 2], dtype=fluxion.int32)"),
    (
        "uint8",
        lambda L: L.tensor([1, 200], dtype=L.uint8),
        "tensor([  1, 200], dtype=fluxion.uint8)",
    ),
    ("bool", lambda L: L.tensor([True, False]), "tensor([ True, False])"),
    ("bool_all_true", lambda L: L.tensor([True, True]), "tensor([True, True])"),
    ("bool_zero_d", lambda L: L.tensor(True), "tensor(True)"),
    # empty tensors
    ("empty", lambda L: L.tensor([]), "tensor([])"),
    ("empty_int", lambda L: L.tensor([], dtype=L.int64), "tensor([], dtype=fluxion.int64)"),
    ("empty_2d", lambda L: L.zeros(0, 3), "tensor([], size=(0, 3))"),
    (
        "empty_2d_int32",
        lambda L: L.zeros(2, 0, dtype=L.int32),
        "tensor([], size=(2, 0), dtype=fluxion.int32)",
    ),
    (
        "empty_requires_grad",
        lambda L: L.zeros(0, requires_grad=True),
        "tensor([], requires_grad=True)",
    ),
    # suffixes
    (
        "requires_grad",
        lambda L: L.tensor([1.0], requires_grad=True),
        "tensor([1.], requires_grad=True)",
    ),
    (
        "float64",
        lambda L: L.tensor([1.0, 2.0], dtype=L.float64),
        "tensor([1., 2.], dtype=fluxion.float64)",
    ),
    (
        "float16",
        lambda L: L.tensor([1.5, 2.0], dtype=L.float16),
        "tensor([1.5000, 2.0000], dtype=fluxion.float16)",
    ),
    (
        "float64_requires_grad",
        lambda L: L.tensor([1.0], dtype=L.float64, requires_grad=True),
        "tensor([1.], dtype=fluxion.float64, requires_grad=True)",
    ),
    (
        "float64_grad_fn",
        lambda L: L.tensor([1.5], dtype=L.float64, requires_grad=True) * 2,
        "tensor([3.], dtype=fluxion.float64, grad_fn=<MulBackward0>)",
    ),
    (
        "suffix_wraps",
        lambda L: (L.arange(9.0) / 3).double().requires_grad_() * 2,
        "tensor([0.0000, 0.6667, 1.3333, 2.0000, 2.6667, 3.3333, 4.0000, 4.6667, 5.3333],\n"
        "       dtype=fluxion.float64, grad_fn=<MulBackward0>)",
    ),
]


@pytest.mark.parametrize(("build", "expected"), [p[1:] for p in REPRS], ids=[p[0] for p in REPRS])
def test_repr_matches_pytorch_printout(build, expected):
    assert repr(build(fluxion)) == expected


@needs_torch
@pytest.mark.parametrize("build", [p[1] for p in REPRS], ids=[p[0] for p in REPRS])
def test_repr_agrees_with_torch(build, torch):
    assert repr(build(fluxion)) == repr(build(torch)).replace("torch.", "fluxion.")


def test_str_equals_repr_and_dtype_repr():
    t = fluxion.tensor([1.5, 2.0])
    assert str(t) == repr(t)
    assert repr(fluxion.float32) == "fluxion.float32"
    assert repr(fluxion.zeros(2, 3).shape) == "fluxion.Size([2, 3])"


@needs_torch
@pytest.mark.parametrize("make", ["tensor", "as_tensor"])
def test_python_floats_go_straight_to_the_requested_float_dtype(make):
    import torch

    for v in (0.485, 0.1, 1 / 3, 1e-300):
        ours = getattr(fluxion, make)([v, 2.0], dtype=fluxion.float64)
        ref = getattr(torch, make)([v, 2.0], dtype=torch.float64)
        assert ours.tolist() == ref.tolist()  # not rounded through float32 on the way
