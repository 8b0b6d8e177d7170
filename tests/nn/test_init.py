"""``fluxion.nn.init`` against ``torch.nn.init``.

Deterministic initialisers and the fan/gain formulas are compared exactly. Random initialisers
are compared two ways: bit for bit with torch after the same ``manual_seed`` (fluxion's random
streams reproduce torch's CPU generator), and by their bounds and spread, which hold whatever
the stream.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import fluxion
from fluxion.nn import init

torch = pytest.importorskip("torch")

from .._draws import assert_same_draws  # noqa: E402 - needs torch

tinit = torch.nn.init


def _pair(shape, dtype="float32"):
    return fluxion.empty(*shape, dtype=getattr(fluxion, dtype)), torch.empty(
        *shape, dtype=getattr(torch, dtype)
    )


# ----------------------------------------------------------------------------- formulas


@pytest.mark.parametrize(
    ("nonlinearity", "param"),
    [
        ("linear", None),
        ("conv2d", None),
        ("conv_transpose3d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("leaky_relu", 3),
        ("leaky_relu", math.sqrt(5)),
        ("selu", None),
    ],
)
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == tinit.calculate_gain(nonlinearity, param)


@pytest.mark.parametrize(("nonlinearity", "param"), [("swish", None), ("leaky_relu", True)])
def test_calculate_gain_errors_match_torch(nonlinearity, param):
    with pytest.raises(ValueError) as t_err:
        tinit.calculate_gain(nonlinearity, param)
    with pytest.raises(ValueError) as f_err:
        init.calculate_gain(nonlinearity, param)
    assert str(f_err.value) == str(t_err.value)


@pytest.mark.parametrize("shape", [(4, 3), (8, 2, 3), (6, 4, 3, 5), (2, 3, 1, 2, 2), (0, 3)])
def test_fan_in_and_fan_out_match_torch(shape):
    f, t = _pair(shape)
    expected = tinit._calculate_fan_in_and_fan_out(t)
    assert init._calculate_fan_in_and_fan_out(f) == expected
    assert init.calculate_fan_in_and_fan_out(f) == expected


def test_fan_requires_two_dimensions():
    with pytest.raises(ValueError) as t_err:
        tinit.xavier_uniform_(torch.empty(5))
    with pytest.raises(ValueError) as f_err:
        init.xavier_uniform_(fluxion.empty(5))
    assert str(f_err.value) == str(t_err.value)


def test_invalid_mode_message_matches_torch():
    with pytest.raises(ValueError) as t_err:
        tinit.kaiming_uniform_(torch.empty(3, 3), mode="fan_avg")
    with pytest.raises(ValueError) as f_err:
        init.kaiming_uniform_(fluxion.empty(3, 3), mode="fan_avg")
    assert str(f_err.value) == str(t_err.value)


# ----------------------------------------------------------------------------- deterministic


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_constant_ones_zeros_eye_match_torch(dtype):
    for f_fn, t_fn, shape in [
        (lambda x: init.constant_(x, 0.25), lambda x: tinit.constant_(x, 0.25), (2, 3)),
        (init.ones_, tinit.ones_, (4,)),
        (init.zeros_, tinit.zeros_, (2, 2, 2)),
        (init.eye_, tinit.eye_, (3, 5)),
        (init.eye_, tinit.eye_, (4, 2)),
    ]:
        f, t = _pair(shape, dtype)
        out = f_fn(f)
        assert out is f
        np.testing.assert_array_equal(f.numpy(), t_fn(t).numpy())


@pytest.mark.parametrize(
    ("shape", "groups"), [((4, 3, 5), 1), ((6, 4, 3, 3), 2), ((2, 2, 3, 3, 3), 1), ((4, 6, 2), 2)]
)
def test_dirac_matches_torch(shape, groups):
    f, t = _pair(shape)
    np.testing.assert_array_equal(init.dirac_(f, groups).numpy(), tinit.dirac_(t, groups).numpy())


@pytest.mark.parametrize(
    ("fn", "shape", "kwargs"),
    [("eye_", (2, 2, 2), {}), ("dirac_", (3, 3), {}), ("dirac_", (3, 2, 2), {"groups": 2})],
)
def test_shape_errors_match_torch(fn, shape, kwargs):
    f, t = _pair(shape)
    with pytest.raises(ValueError) as t_err:
        getattr(tinit, fn)(t, **kwargs)
    with pytest.raises(ValueError) as f_err:
        getattr(init, fn)(f, **kwargs)
    assert str(f_err.value) == str(t_err.value)


# ----------------------------------------------------------------------------- random: streams

RANDOM_CASES = [
    ("uniform_", (3, 5), {"a": -0.3, "b": 0.7}),
    ("normal_", (4, 6), {"mean": 0.5, "std": 2.0}),
    ("xavier_uniform_", (20, 30), {}),
    ("xavier_uniform_", (8, 4, 3, 3), {"gain": 2.0}),
    ("xavier_normal_", (20, 30), {}),
    ("kaiming_uniform_", (16, 9), {"a": math.sqrt(5)}),
    ("kaiming_uniform_", (8, 4, 3, 3), {"a": math.sqrt(5)}),
    ("kaiming_uniform_", (10, 7), {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", (10, 7), {}),
    ("kaiming_normal_", (6, 3, 5), {"mode": "fan_out", "nonlinearity": "relu"}),
    ("trunc_normal_", (50, 40), {"std": 0.02}),  # most mass inside [a, b]: redraw path
    ("trunc_normal_", (30, 20), {"mean": 0.0, "std": 5.0, "a": -1.0, "b": 2.0}),  # rejection
    ("trunc_normal_", (30, 20), {"mean": 1.0, "std": 0.5, "a": 1.5, "b": 3.0}),  # one-sided
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("fn", "shape", "kwargs"), RANDOM_CASES)
def test_random_init_same_stream_as_torch(fn, shape, kwargs, dtype):
    f, t = _pair(shape, dtype)
    fluxion.manual_seed(1234)
    torch.manual_seed(1234)
    getattr(init, fn)(f, **kwargs)
    getattr(tinit, fn)(t, **kwargs)
    assert_same_draws(f, t)


@pytest.mark.parametrize(("fn", "shape", "kwargs"), RANDOM_CASES[:3])
def test_random_init_with_generator_matches_torch(fn, shape, kwargs):
    f, t = _pair(shape)
    getattr(init, fn)(f, **kwargs, generator=fluxion.Generator().manual_seed(7))
    getattr(tinit, fn)(t, **kwargs, generator=torch.Generator().manual_seed(7))
    assert_same_draws(f, t)


def test_kaiming_uniform_linear_default_init_matches_torch():
    """What ``nn.Linear.reset_parameters`` does, step by step, after the same seed."""
    fluxion.manual_seed(0)
    torch.manual_seed(0)
    fw, tw = _pair((5, 7))
    init.kaiming_uniform_(fw, a=math.sqrt(5))
    tinit.kaiming_uniform_(tw, a=math.sqrt(5))
    fan_in, _ = init._calculate_fan_in_and_fan_out(fw)
    bound = 1 / math.sqrt(fan_in)
    fb, tb = _pair((5,))
    init.uniform_(fb, -bound, bound)
    tinit.uniform_(tb, -bound, bound)
    np.testing.assert_array_equal(fw.numpy(), tw.numpy())
    np.testing.assert_array_equal(fb.numpy(), tb.numpy())


# ----------------------------------------------------------------------------- random: laws


@pytest.mark.parametrize(
    ("fn", "shape", "kwargs", "bound"),
    [
        ("uniform_", (200, 100), {"a": -0.5, "b": 0.5}, 0.5),
        ("xavier_uniform_", (200, 100), {}, math.sqrt(6 / 300)),
        ("kaiming_uniform_", (200, 100), {"a": math.sqrt(5)}, 1 / math.sqrt(100)),
        (
            "kaiming_uniform_",
            (200, 100),
            {"mode": "fan_out"},
            math.sqrt(6) / math.sqrt(200),
        ),
    ],
)
def test_uniform_initialisers_fill_their_bounds(fn, shape, kwargs, bound):
    f = fluxion.empty(*shape, dtype=fluxion.float64)
    fluxion.manual_seed(3)
    getattr(init, fn)(f, **kwargs)
    values = f.numpy()
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > 0.99 * bound  # 20,000 draws reach the edges
    assert abs(values.std() - bound / math.sqrt(3)) < 0.02 * bound


@pytest.mark.parametrize(
    ("fn", "kwargs", "std"),
    [
        ("normal_", {"std": 0.3}, 0.3),
        ("xavier_normal_", {"gain": 2.0}, 2.0 * math.sqrt(2 / 300)),
        ("kaiming_normal_", {"nonlinearity": "relu"}, math.sqrt(2) / math.sqrt(100)),
    ],
)
def test_normal_initialisers_have_their_std(fn, kwargs, std):
    f = fluxion.empty(200, 100, dtype=fluxion.float64)
    fluxion.manual_seed(4)
    getattr(init, fn)(f, **kwargs)
    assert abs(f.numpy().std() - std) < 0.03 * std
    assert abs(f.numpy().mean()) < 0.03 * std


@pytest.mark.parametrize(("mean", "std", "a", "b"), [(0.0, 1.0, -2.0, 2.0), (0.0, 5.0, -1.0, 2.0)])
def test_trunc_normal_stays_in_bounds(mean, std, a, b):
    f = fluxion.empty(10000, dtype=fluxion.float64)
    fluxion.manual_seed(5)
    init.trunc_normal_(f, mean, std, a, b)
    v = f.numpy()
    assert v.min() >= a and v.max() <= b
    assert v.min() < a + 0.05 * (b - a) and v.max() > b - 0.05 * (b - a)


def test_trunc_normal_far_mean_warns_like_torch():
    with pytest.warns(UserWarning, match="mean is more than 2 std"):
        init.trunc_normal_(fluxion.empty(10), mean=10.0, std=1.0, a=-2.0, b=2.0)


# ----------------------------------------------------------------------------- autograd state


def test_init_on_parameter_records_no_graph():
    p = fluxion.nn.Parameter(fluxion.empty(4, 3))
    for fn in (init.xavier_uniform_, init.kaiming_normal_, init.zeros_, init.eye_, init.ones_):
        assert fn(p) is p
        assert p.grad_fn is None and p.is_leaf and p.requires_grad
    (p * 2).sum().backward()
    assert p.grad is not None


def test_zero_element_tensor_warns_and_is_untouched():
    for fn in (init.kaiming_uniform_, init.kaiming_normal_):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            out = fn(fluxion.empty(0, 3))
        assert any("zero-element" in str(x.message) for x in w)
        assert tuple(out.shape) == (0, 3)
