"""gradcheck / gradgradcheck / numerical_jacobian and testing.assert_close.

Where the behaviour is PyTorch's (return values, exception types, messages), the same code runs
through torch too.
"""

from __future__ import annotations

import importlib
import importlib.util

import numpy as np
import pytest

import fluxion
from fluxion.autograd import GradcheckError, gradcheck, gradgradcheck
from fluxion.autograd.gradcheck import numerical_jacobian
from fluxion.testing import assert_close

LIBS = ["fluxion"] + (["torch"] if importlib.util.find_spec("torch") else [])


@pytest.fixture(params=LIBS)
def lib(request):
    return importlib.import_module(request.param)


def _x(lib, values=(0.5, -1.5, 2.0)):
    return lib.tensor(list(values), dtype=lib.float64, requires_grad=True)


def _wrong_backward(lib, factor=3.0):
    """``x * x`` whose backward is ``grad * factor`` (wrong); its own backward is right."""

    class Square(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            return grad * factor

    return Square.apply


def _wrong_double_backward(lib):
    """``x ** 3`` with a right first derivative whose own derivative is wrong (constant 3x0²)."""

    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x.detach() ** 2  # detached: the second derivative is lost

    return Cube.apply


def test_gradcheck_passes_for_correct_ops(lib):
    x, y = _x(lib), _x(lib, (1.0, 2.0, -0.5))
    assert lib.autograd.gradcheck(lambda a, b: (a * b).sin() + a / (b * b + 1), (x, y))
    assert lib.autograd.gradcheck(lambda a: (a.exp() * a).sum(), x)


def test_gradcheck_raises_gradcheck_error_with_both_jacobians(lib):
    with pytest.raises(RuntimeError) as info:
        lib.autograd.gradcheck(_wrong_backward(lib), (_x(lib),))
    assert type(info.value).__name__ == "GradcheckError"
    msg = str(info.value)
    assert msg.startswith("Jacobian mismatch for output 0 with respect to input 0,\nnumerical:")
    assert "\nanalytical:" in msg


def test_gradcheck_message_is_pytorchs():
    x = fluxion.tensor([1.0, 2.0], dtype=fluxion.float64, requires_grad=True)
    with pytest.raises(GradcheckError) as info:
        gradcheck(_wrong_backward(fluxion), (x,))
    assert str(info.value) == (
        "Jacobian mismatch for output 0 with respect to input 0,\n"
        "numerical:tensor([[2.0000, 0.0000],\n        [0.0000, 4.0000]], dtype=fluxion.float64)\n"
        "analytical:tensor([[3., 0.],\n        [0., 3.]], dtype=fluxion.float64)\n"
    )


def test_gradcheck_returns_false_without_raise_exception(lib):
    assert lib.autograd.gradcheck(_wrong_backward(lib), (_x(lib),), raise_exception=False) is False


def test_gradcheck_needs_an_input_that_requires_grad(lib):
    x = lib.tensor([1.0], dtype=lib.float64)
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        lib.autograd.gradcheck(lambda t: t * 2, (x,))


def test_gradcheck_warns_for_single_precision_inputs(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning, match="not a double precision"):
        assert lib.autograd.gradcheck(lambda t: t * 2, (x,), eps=1e-2, atol=1e-2, rtol=1e-2)


def test_gradcheck_checks_every_output_and_passes_non_tensor_args(lib):
    x = _x(lib)
    assert lib.autograd.gradcheck(lambda t, k: (t * k, t.exp()), (x, 2.5))
    bad = _wrong_backward(lib)
    with pytest.raises(RuntimeError, match="output 1 with respect to input 0"):
        lib.autograd.gradcheck(lambda t: (t * 2, bad(t)), (x,))


def test_gradcheck_handles_zero_dim_empty_and_non_contiguous_inputs():
    scalar = fluxion.tensor(0.7, dtype=fluxion.float64, requires_grad=True)
    empty = fluxion.zeros(0, 3, dtype=fluxion.float64, requires_grad=True)
    base = np.asfortranarray(np.arange(6.0).reshape(2, 3) / 7)
    strided = fluxion.from_numpy(base).requires_grad_()
    assert not strided.is_contiguous()
    assert gradcheck(lambda a, b, c: (a * c).sum() + b.sum(), (scalar, empty, strided))


def test_gradcheck_restores_the_inputs():
    x = _x(fluxion)
    before = x.detach().clone()
    gradcheck(lambda t: t.sin(), (x,))
    assert np.array_equal(x.detach().numpy(), before.numpy())
    assert x.grad is None


def test_gradgradcheck_passes_for_correct_second_derivatives(lib):
    x, y = _x(lib), _x(lib, (1.0, 2.0, -0.5))
    assert lib.autograd.gradgradcheck(lambda a, b: (a * b).sin() * a, (x, y))
    go = lib.tensor([1.0, -2.0, 0.5], dtype=lib.float64, requires_grad=True)
    assert lib.autograd.gradgradcheck(lambda a: a.exp() * a, (x,), grad_outputs=(go,))
    assert lib.autograd.gradgradcheck(lambda a: a * a, (x,), gen_non_contig_grad_outputs=True)


def test_gradgradcheck_detects_a_wrong_double_backward(lib):
    cube = _wrong_double_backward(lib)
    x = _x(lib)
    assert lib.autograd.gradcheck(cube, (x,))  # first order is right
    assert lib.autograd.gradgradcheck(cube, (x,), raise_exception=False) is False
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        lib.autograd.gradgradcheck(cube, (x,))


def test_numerical_jacobian_is_central_differences_in_float64():
    x = fluxion.tensor([1.0, 2.0], dtype=fluxion.float64, requires_grad=True)
    y = fluxion.tensor(3.0, dtype=fluxion.float64, requires_grad=True)
    (jx,), (jy,) = numerical_jacobian(lambda a, b: a * a * b, (x, y))
    assert jx.dtype is fluxion.float64 and tuple(jx.shape) == (2, 2)
    np.testing.assert_allclose(jx.numpy(), [[6.0, 0.0], [0.0, 12.0]], atol=1e-6)
    np.testing.assert_allclose(jy.numpy(), [[1.0, 4.0]], atol=1e-6)


def test_exports():
    assert fluxion.testing.gradcheck is gradcheck
    assert fluxion.testing.gradgradcheck is gradgradcheck
    assert issubclass(fluxion.autograd.GradcheckError, RuntimeError)


# ---------------------------------------------------------------------------- assert_close


def _assert_close(lib):
    return assert_close if lib is fluxion else lib.testing.assert_close


def _message(fn, *args, **kwargs) -> tuple[type, str]:
    try:
        fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the type is part of what is compared
        return type(exc), str(exc)
    return type(None), ""


CLOSE_CASES = [  # (id, build(lib) -> (actual, expected, kwargs))
    ("equal", lambda L: (L.tensor([1.0, 2.0]), L.tensor([1.0, 2.0]), {})),
    ("within_float32_tolerance", lambda L: (L.tensor([1.0]), L.tensor([1.000001]), {})),
    ("one_mismatch", lambda L: (L.tensor([1.0, 2.0, 3.0]), L.tensor([1.0, 2.5, 3.0]), {})),
    (
        "float64_tolerance",
        lambda L: (
            L.tensor([1.0, 2.0], dtype=L.float64),
            L.tensor([1.0, 2.000001], dtype=L.float64),
            {},
        ),
    ),
    (
        "custom_tolerances",
        lambda L: (L.tensor([1.0]), L.tensor([1.1]), {"rtol": 0.2, "atol": 0.0}),
    ),
    ("only_rtol", lambda L: (L.tensor([1.0]), L.tensor([1.0]), {"rtol": 0.1})),
    ("only_atol", lambda L: (L.tensor([1.0]), L.tensor([1.0]), {"atol": 0.1})),
    ("dtype_mismatch", lambda L: (L.tensor([1.0]), L.tensor([1.0], dtype=L.float64), {})),
    (
        "dtype_unchecked",
        lambda L: (L.tensor([1.0]), L.tensor([1.0], dtype=L.float64), {"check_dtype": False}),
    ),
    ("shape_mismatch", lambda L: (L.tensor([1.0, 2.0]), L.tensor([1.0]), {})),
    ("int_mismatch", lambda L: (L.tensor([1, 2, 3]), L.tensor([1, 2, 4]), {})),
    ("bool_equal", lambda L: (L.tensor([True]), L.tensor([True]), {})),
    ("nan_differs", lambda L: (L.tensor([float("nan")]), L.tensor([float("nan")]), {})),
    (
        "nan_equal",
        lambda L: (L.tensor([float("nan")]), L.tensor([float("nan")]), {"equal_nan": True}),
    ),
    ("infinities", lambda L: (L.tensor([float("inf")]), L.tensor([float("inf")]), {})),
    ("zero_d_scalars", lambda L: (L.tensor(1.0), L.tensor(2.0), {})),
    ("python_scalars", lambda L: (1, 2, {})),
    ("tensor_vs_number", lambda L: (L.tensor(1.0), 1.0, {})),
    ("custom_message", lambda L: (L.tensor([1.0]), L.tensor([2.0]), {"msg": "custom"})),
    (
        "sequence_item",
        lambda L: ([L.tensor(1.0), L.tensor(2.0)], [L.tensor(1.0), L.tensor(2.5)], {}),
    ),
    ("sequence_length", lambda L: ([L.tensor(1.0)], [L.tensor(1.0), L.tensor(2.0)], {})),
    ("mapping_item", lambda L: ({"a": L.tensor(1.0)}, {"a": L.tensor(1.5)}, {})),
    (
        "matrix_index",
        lambda L: (L.tensor([[1.0, 2.0], [3.0, 4.0]]), L.tensor([[1.0, 2.0], [3.0, 5.0]]), {}),
    ),
    ("requires_grad_ignored", lambda L: (L.tensor([1.0], requires_grad=True), L.tensor([1.0]), {})),
    ("empty", lambda L: (L.zeros(0, 2), L.zeros(0, 2), {})),
]


@pytest.mark.parametrize("build", [c[1] for c in CLOSE_CASES], ids=[c[0] for c in CLOSE_CASES])
def test_assert_close_behaves_like_pytorch(build, lib):
    actual, expected, kwargs = build(lib)
    kind, msg = _message(_assert_close(lib), actual, expected, **kwargs)
    if lib is not fluxion:
        actual, expected, kwargs = build(fluxion)
        f_kind, f_msg = _message(assert_close, actual, expected, **kwargs)
        assert f_kind is kind
        if kind is AssertionError:  # same first line; the numbers differ in the last digits
            assert (
                f_msg.replace("torch.", "fluxion.").split("\n")[0]
                == msg.replace("torch.", "fluxion.").split("\n")[0]
            )
            assert f_msg.count("\n") == msg.count("\n")


def test_assert_close_message():
    with pytest.raises(AssertionError) as info:
        assert_close(fluxion.tensor([1.0, 2.0, 3.0]), fluxion.tensor([1.0, 2.5, 3.0]))
    assert str(info.value) == (
        "Tensor-likes are not close!\n\n"
        "Mismatched elements: 1 / 3 (33.3%)\n"
        "Greatest absolute difference: 0.5 at index (1,) (up to 1e-05 allowed)\n"
        "Greatest relative difference: 0.2 at index (1,) (up to 1.3e-06 allowed)"
    )
    with pytest.raises(AssertionError, match="The failure occurred for item \\[1\\]"):
        a, b = fluxion.tensor(2.0), fluxion.tensor(3.0)
        assert_close([fluxion.tensor(1.0), a], [fluxion.tensor(1.0), b])
