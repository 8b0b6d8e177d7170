"""``fluxion.nn.utils`` (gradient clipping, parameter/vector conversion) against torch."""

from __future__ import annotations

import numpy as np
import pytest

import fluxion
from fluxion.nn import utils

torch = pytest.importorskip("torch")
tutils = torch.nn.utils

SHAPES = [(3, 4), (5,), (2, 2, 3), ()]


def _params(lib, dtype: str, scale: float = 1.0, with_none: bool = True):
    """Parameters with the same seeded grads in both libraries (one without a grad)."""
    rng = np.random.default_rng(0)
    params = []
    for shape in SHAPES:
        p = lib.nn.Parameter(lib.from_numpy(np.asarray(rng.standard_normal(shape), dtype=dtype)))
        p.grad = lib.from_numpy(np.asarray(rng.standard_normal(shape) * scale, dtype=dtype))
        params.append(p)
    if with_none:
        params.append(lib.nn.Parameter(lib.zeros(2, dtype=getattr(lib, dtype))))
    return params


TOL = {"float32": 1e-6, "float64": 1e-12}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("norm_type", [2.0, 1, 3.0, 0.5, float("inf"), "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(dtype, norm_type, max_norm):
    fp, tp = _params(fluxion, dtype), _params(torch, dtype)
    f_total = utils.clip_grad_norm_(fp, max_norm, norm_type=norm_type)
    t_total = tutils.clip_grad_norm_(tp, max_norm, norm_type=norm_type)
    np.testing.assert_allclose(f_total.numpy(), t_total.numpy(), rtol=TOL[dtype])
    assert f_total.dtype == getattr(fluxion, dtype) and f_total.shape == t_total.shape
    for f, t in zip(fp, tp):
        assert (f.grad is None) == (t.grad is None)
        if t.grad is not None:
            np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=TOL[dtype], atol=1e-7)


def test_clip_grad_norm_single_tensor_and_generator():
    f = fluxion.nn.Parameter(fluxion.ones(4))
    f.grad = fluxion.full((4,), 3.0)
    t = torch.nn.Parameter(torch.ones(4))
    t.grad = torch.full((4,), 3.0)
    assert utils.clip_grad_norm_(f, 1.0).item() == tutils.clip_grad_norm_(t, 1.0).item()
    np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=1e-6)
    gen = (p for p in _params(fluxion, "float64"))
    assert utils.clip_grad_norm_(gen, 1.0).item() > 1.0  # a generator is consumed once, correctly


def test_clip_grad_norm_without_grads_returns_zero():
    f = utils.clip_grad_norm_([fluxion.nn.Parameter(fluxion.ones(2))], 1.0)
    t = tutils.clip_grad_norm_([torch.nn.Parameter(torch.ones(2))], 1.0)
    assert f.item() == t.item() == 0.0 and f.dtype == fluxion.float32


# NOTE: NumPy warns when inf * 0 makes a nan; torch is silent (reported, core behaviour)
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_clip_grad_norm_nonfinite(bad):
    def setup(lib):
        params = _params(lib, "float64", with_none=False)
        params[0].grad[0, 0] = bad
        return params

    with pytest.raises(RuntimeError) as t_err:
        tutils.clip_grad_norm_(setup(torch), 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError) as f_err:
        utils.clip_grad_norm_(setup(fluxion), 1.0, error_if_nonfinite=True)
    assert str(f_err.value) == str(t_err.value)
    # without the check, the gradients are scaled by the non-finite norm, as in torch
    fp, tp = setup(fluxion), setup(torch)
    f_total = utils.clip_grad_norm_(fp, 1.0)
    t_total = tutils.clip_grad_norm_(tp, 1.0)
    np.testing.assert_array_equal(f_total.numpy(), t_total.numpy())
    for f, t in zip(fp, tp):
        np.testing.assert_array_equal(f.grad.numpy(), t.grad.numpy())


def test_clip_grad_norm_records_no_graph():
    p = fluxion.nn.Parameter(fluxion.ones(3))
    (p * 5).sum().backward()
    total = utils.clip_grad_norm_([p], 1.0)
    assert p.grad.grad_fn is None and not p.grad.requires_grad and total.grad_fn is None


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("clip", [0.1, 1, 100.0])
def test_clip_grad_value_matches_torch(dtype, clip):
    fp, tp = _params(fluxion, dtype, scale=2.0), _params(torch, dtype, scale=2.0)
    assert utils.clip_grad_value_(fp, clip) is None
    tutils.clip_grad_value_(tp, clip)
    for f, t in zip(fp, tp):
        if t.grad is not None:
            np.testing.assert_array_equal(f.grad.numpy(), t.grad.numpy())
    f = fluxion.nn.Parameter(fluxion.ones(2))
    f.grad = fluxion.tensor([-5.0, 5.0])
    utils.clip_grad_value_(f, clip)
    expected = np.clip(np.array([-5.0, 5.0], dtype=np.float32), -clip, clip)
    np.testing.assert_array_equal(f.grad.numpy(), expected)


def test_parameters_to_vector_matches_torch_and_is_differentiable():
    fp, tp = _params(fluxion, "float64"), _params(torch, "float64")
    fv, tv = utils.parameters_to_vector(fp), tutils.parameters_to_vector(tp)
    np.testing.assert_array_equal(fv.detach().numpy(), tv.detach().numpy())
    w = np.arange(fv.numel(), dtype=np.float64)
    (fv * fluxion.from_numpy(w)).sum().backward()
    (tv * torch.from_numpy(w)).sum().backward()
    for f, t in zip(fp, tp):
        np.testing.assert_array_equal(f.grad.numpy(), t.grad.numpy())


def test_vector_to_parameters_matches_torch():
    fp, tp = _params(fluxion, "float64"), _params(torch, "float64")
    n = sum(p.numel() for p in tp)
    vec = np.linspace(-1, 1, n)
    fvec = fluxion.from_numpy(vec.copy())
    utils.vector_to_parameters(fvec, fp)
    tutils.vector_to_parameters(torch.from_numpy(vec.copy()), tp)
    for f, t in zip(fp, tp):
        assert type(f) is fluxion.nn.Parameter and f.requires_grad
        np.testing.assert_array_equal(f.detach().numpy(), t.detach().numpy())
    # like torch, the parameters now view the vector's memory
    fvec[0] = 100.0
    assert fp[0].detach().numpy()[0, 0] == 100.0


def test_vector_to_parameters_type_error_matches_torch():
    with pytest.raises(TypeError) as t_err:
        tutils.vector_to_parameters([1.0], [torch.nn.Parameter(torch.zeros(1))])
    with pytest.raises(TypeError) as f_err:
        utils.vector_to_parameters([1.0], [fluxion.nn.Parameter(fluxion.zeros(1))])
    assert str(f_err.value) == str(t_err.value)


def test_clip_then_step_trains_a_module():
    """The usual loop: backward, clip, SGD step by hand; same trajectory as torch."""

    def run(lib):
        m = lib.nn.Module()
        m.w = lib.nn.Parameter(lib.tensor([[0.5, -1.0], [2.0, 0.25]], dtype=lib.float64))
        x = lib.tensor([[1.0, 2.0], [3.0, -1.0]], dtype=lib.float64)
        norms = []
        for _ in range(5):
            m.zero_grad()
            ((x @ m.w) ** 2).sum().backward()
            norms.append(float(lib.nn.utils.clip_grad_norm_(m.parameters(), 1.0)))
            with lib.no_grad():
                m.w -= 0.1 * m.w.grad
        return norms, m.w.detach().numpy()

    (fn, fw), (tn, tw) = run(fluxion), run(torch)
    np.testing.assert_allclose(fn, tn, rtol=1e-12)
    np.testing.assert_allclose(fw, tw, rtol=1e-12)
