"""Tests of ``fluxion.nn.functional`` beyond the op database (``tests/ops/specs_nn.py``).

Randomness (dropout), errors and warnings (same type and message as torch), gradients that
deliberately differ from finite differences (``padding_idx``, non-smooth points), and small
end-to-end models compared with torch.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import fluxion
import fluxion.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _pair(arr: np.ndarray, requires_grad: bool = False):
    """The same values as a fluxion tensor and a torch tensor."""
    f = fluxion.from_numpy(arr.copy())
    t = torch.from_numpy(arr.copy())
    if requires_grad:
        f.requires_grad_(True)
        t.requires_grad_(True)
    return f, t


def _close(f, t, rtol=1e-6, atol=1e-6) -> None:
    np.testing.assert_allclose(
        np.asarray(f.detach().numpy()), t.detach().numpy(), rtol=rtol, atol=atol
    )


def _lib_tensor(lib, a, dtype=None):
    t = lib.from_numpy(np.asarray(a))
    return t if dtype is None else t.to(getattr(lib, dtype))


# ------------------------------------------------------------------------ seed example


def test_functional_seed_example_matches_torch() -> None:
    """``z = matmul(x, w) + b; loss = binary_cross_entropy_with_logits(z, y)``: torch's loss
    and gradients for x, w and b."""
    rng = np.random.default_rng(0)
    xs, ws, bs = rng.normal(size=(8, 5)), rng.normal(size=(5, 3)), rng.normal(size=(3,))
    ys = (rng.random((8, 3)) > 0.5).astype(np.float64)
    fx, tx = _pair(xs, True)
    fw, tw = _pair(ws, True)
    fb, tb = _pair(bs, True)
    fy, ty = _pair(ys)
    f_loss = F.binary_cross_entropy_with_logits(fluxion.matmul(fx, fw) + fb, fy)
    t_loss = TF.binary_cross_entropy_with_logits(torch.matmul(tx, tw) + tb, ty)
    f_loss.backward()
    t_loss.backward()
    _close(f_loss, t_loss, 1e-12, 1e-12)
    for f, t in ((fx, tx), (fw, tw), (fb, tb)):
        _close(f.grad, t.grad, 1e-12, 1e-12)


def test_functional_small_cnn_matches_torch() -> None:
    """conv -> relu -> max_pool -> flatten -> linear -> cross_entropy, loss and all gradients."""
    rng = np.random.default_rng(1)
    arrays = {
        "x": rng.normal(size=(4, 1, 10, 10)),
        "w1": rng.normal(size=(3, 1, 3, 3)) * 0.3,
        "b1": rng.normal(size=(3,)) * 0.1,
        "w2": rng.normal(size=(5, 75)) * 0.1,
        "b2": rng.normal(size=(5,)) * 0.1,
    }
    target = rng.integers(0, 5, size=(4,))

    def run(lib):
        p = {k: _lib_tensor(lib, v).requires_grad_(True) for k, v in arrays.items()}
        fn = lib.nn.functional
        h = fn.max_pool2d(fn.relu(fn.conv2d(p["x"], p["w1"], p["b1"], padding=1)), 2)
        h = fn.dropout(h, 0.5, training=False)
        logits = fn.linear(h.reshape(4, -1), p["w2"], p["b2"])
        loss = fn.cross_entropy(logits, _lib_tensor(lib, target), label_smoothing=0.1)
        loss.backward()
        return loss, p

    f_loss, f_p = run(fluxion)
    t_loss, t_p = run(torch)
    _close(f_loss, t_loss, 1e-10, 1e-10)
    for k in arrays:
        _close(f_p[k].grad, t_p[k].grad, 1e-10, 1e-10)


def test_functional_conv_double_backward_matches_torch() -> None:
    """A Hessian-vector product through conv2d + tanh (create_graph=True) equals torch's."""
    rng = np.random.default_rng(2)
    xs, ws, vs = rng.normal(size=(2, 2, 6, 6)), rng.normal(size=(3, 2, 3, 3)), None

    def hvp(lib):
        x = _lib_tensor(lib, xs).requires_grad_(True)
        w = _lib_tensor(lib, ws).requires_grad_(True)
        y = lib.nn.functional.conv2d(x, w, stride=2, padding=1).tanh().pow(2).sum()
        gx, gw = lib.autograd.grad(y, (x, w), create_graph=True)
        v = _lib_tensor(lib, np.ones(tuple(gx.shape)))
        return lib.autograd.grad((gx * v).sum() + gw.sum(), (x, w))

    for f, t in zip(hvp(fluxion), hvp(torch)):
        _close(f, t, 1e-10, 1e-10)
    assert vs is None


# ------------------------------------------------------------------------ dropout


def test_dropout_statistics_and_scaling() -> None:
    fluxion.manual_seed(0)
    x = fluxion.ones(200, 500)
    out = F.dropout(x, p=0.3).numpy()
    kept = out != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(out[kept], 1 / 0.7, rtol=1e-6)
    assert abs(out.mean() - 1.0) < 0.02  # the scaling keeps the expectation


def test_dropout_gradient_is_the_scaled_mask() -> None:
    fluxion.manual_seed(1)
    x = fluxion.randn(50, 40, requires_grad=True)
    out = F.dropout(x, p=0.5)
    out.sum().backward()
    mask = out.detach().numpy() != 0
    np.testing.assert_allclose(x.grad.numpy(), mask * 2.0)
    assert out.grad_fn.name() == "MulBackward0"


def test_dropout_uses_fluxion_rng() -> None:
    x = fluxion.ones(100)
    fluxion.manual_seed(5)
    a = F.dropout(x, 0.5)
    fluxion.manual_seed(5)
    b = F.dropout(x, 0.5)
    fluxion.manual_seed(6)
    c = F.dropout(x, 0.5)
    assert bool((a == b).all())
    assert not bool((a == c).all())


def test_dropout_eval_and_p0_return_input_itself() -> None:
    x = fluxion.randn(3, requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x


def test_dropout_p1_zeroes_everything() -> None:
    x = fluxion.randn(4, 3, requires_grad=True)
    out = F.dropout(x, 1.0)
    assert not out.numpy(force=True).any()
    out.sum().backward()
    assert not x.grad.numpy().any()


def test_dropout_inplace() -> None:
    fluxion.manual_seed(0)
    x = fluxion.ones(1000)
    out = F.dropout(x, 0.5, inplace=True)
    assert out is x
    assert set(np.unique(x.numpy()).tolist()) <= {0.0, 2.0}


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_rejects_bad_p(p) -> None:
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        F.dropout(fluxion.ones(3), p)


# ------------------------------------------------------------------------ errors: same as torch

ERROR_CASES = {
    "conv2d_channels": lambda L: L.nn.functional.conv2d(
        _lib_tensor(L, np.ones((1, 2, 5, 5), np.float32)),
        _lib_tensor(L, np.ones((4, 3, 3, 3), np.float32)),
    ),
    "conv2d_dims": lambda L: L.nn.functional.conv2d(
        _lib_tensor(L, np.ones((5, 5), np.float32)),
        _lib_tensor(L, np.ones((4, 3, 3, 3), np.float32)),
    ),
    "conv2d_kernel_too_big": lambda L: L.nn.functional.conv2d(
        _lib_tensor(L, np.ones((1, 3, 2, 2), np.float32)),
        _lib_tensor(L, np.ones((4, 3, 3, 3), np.float32)),
    ),
    "conv2d_dtype": lambda L: L.nn.functional.conv2d(
        _lib_tensor(L, np.ones((1, 3, 5, 5), np.float32)),
        _lib_tensor(L, np.ones((4, 3, 3, 3), np.float64)),
    ),
    "conv2d_bias": lambda L: L.nn.functional.conv2d(
        _lib_tensor(L, np.ones((1, 3, 5, 5), np.float32)),
        _lib_tensor(L, np.ones((4, 3, 3, 3), np.float32)),
        _lib_tensor(L, np.ones(3, np.float32)),
    ),
    "conv2d_same_stride": lambda L: L.nn.functional.conv2d(
        _lib_tensor(L, np.ones((1, 3, 5, 5), np.float32)),
        _lib_tensor(L, np.ones((4, 3, 3, 3), np.float32)),
        stride=2,
        padding="same",
    ),
    "conv2d_padding_string": lambda L: L.nn.functional.conv2d(
        _lib_tensor(L, np.ones((1, 3, 5, 5), np.float32)),
        _lib_tensor(L, np.ones((4, 3, 3, 3), np.float32)),
        padding="foo",
    ),
    "conv2d_groups": lambda L: L.nn.functional.conv2d(
        _lib_tensor(L, np.ones((1, 4, 5, 5), np.float32)),
        _lib_tensor(L, np.ones((3, 2, 3, 3), np.float32)),
        groups=2,
    ),
    "conv2d_stride0": lambda L: L.nn.functional.conv2d(
        _lib_tensor(L, np.ones((1, 3, 5, 5), np.float32)),
        _lib_tensor(L, np.ones((4, 3, 3, 3), np.float32)),
        stride=0,
    ),
    "conv2d_negative_padding": lambda L: L.nn.functional.conv2d(
        _lib_tensor(L, np.ones((1, 3, 5, 5), np.float32)),
        _lib_tensor(L, np.ones((4, 3, 3, 3), np.float32)),
        padding=-1,
    ),
    "conv2d_stride_length": lambda L: L.nn.functional.conv2d(
        _lib_tensor(L, np.ones((1, 3, 5, 5), np.float32)),
        _lib_tensor(L, np.ones((4, 3, 3, 3), np.float32)),
        stride=(1, 2, 3),
    ),
    "conv1d_4d_weight": lambda L: L.nn.functional.conv1d(
        _lib_tensor(L, np.ones((1, 3, 5), np.float32)),
        _lib_tensor(L, np.ones((4, 3, 3, 3), np.float32)),
    ),
    "conv_transpose2d_channels": lambda L: L.nn.functional.conv_transpose2d(
        _lib_tensor(L, np.ones((1, 2, 5, 5), np.float32)),
        _lib_tensor(L, np.ones((3, 2, 3, 3), np.float32)),
    ),
    "cross_entropy_int32_target": lambda L: L.nn.functional.cross_entropy(
        _lib_tensor(L, np.ones((3, 4), np.float32)), _lib_tensor(L, np.array([0, 1, 2], np.int32))
    ),
    "cross_entropy_float_target": lambda L: L.nn.functional.cross_entropy(
        _lib_tensor(L, np.ones((3, 4), np.float32)), _lib_tensor(L, np.array([0.0, 1, 2]))
    ),
    "cross_entropy_target_too_big": lambda L: L.nn.functional.cross_entropy(
        _lib_tensor(L, np.ones((3, 4), np.float32)), _lib_tensor(L, np.array([0, 1, 5]))
    ),
    "cross_entropy_negative_target": lambda L: L.nn.functional.cross_entropy(
        _lib_tensor(L, np.ones((3, 4), np.float32)), _lib_tensor(L, np.array([0, 1, -1]))
    ),
    "cross_entropy_batch_size": lambda L: L.nn.functional.cross_entropy(
        _lib_tensor(L, np.ones((3, 4), np.float32)), _lib_tensor(L, np.array([0, 1]))
    ),
    "cross_entropy_long_probabilities": lambda L: L.nn.functional.cross_entropy(
        _lib_tensor(L, np.ones((3, 4), np.float32)), _lib_tensor(L, np.zeros((3, 4), np.int64))
    ),
    "cross_entropy_multi_target": lambda L: L.nn.functional.cross_entropy(
        _lib_tensor(L, np.ones((3, 4), np.float32)), _lib_tensor(L, np.zeros((3, 5), np.float32))
    ),
    "cross_entropy_reduction": lambda L: L.nn.functional.cross_entropy(
        _lib_tensor(L, np.ones((3, 4), np.float32)),
        _lib_tensor(L, np.array([0, 1, 2])),
        reduction="foo",
    ),
    "cross_entropy_label_smoothing": lambda L: L.nn.functional.cross_entropy(
        _lib_tensor(L, np.ones((3, 4), np.float32)),
        _lib_tensor(L, np.array([0, 1, 2])),
        label_smoothing=1.5,
    ),
    "cross_entropy_weight_shape": lambda L: L.nn.functional.cross_entropy(
        _lib_tensor(L, np.ones((3, 4), np.float32)),
        _lib_tensor(L, np.array([0, 1, 2])),
        weight=_lib_tensor(L, np.ones(3, np.float32)),
    ),
    "cross_entropy_weight_dtype": lambda L: L.nn.functional.cross_entropy(
        _lib_tensor(L, np.ones((3, 4), np.float32)),
        _lib_tensor(L, np.array([0, 1, 2])),
        weight=_lib_tensor(L, np.ones(4)),
    ),
    "nll_loss_3d_target": lambda L: L.nn.functional.nll_loss(
        _lib_tensor(L, np.ones((3, 4, 5), np.float32)), _lib_tensor(L, np.zeros((3, 6), np.int64))
    ),
    "nll_loss_4d_target": lambda L: L.nn.functional.nll_loss(
        _lib_tensor(L, np.ones((3, 4, 5, 6), np.float32)),
        _lib_tensor(L, np.zeros((3, 5, 7), np.int64)),
    ),
    "nll_loss_0d_input": lambda L: L.nn.functional.nll_loss(
        _lib_tensor(L, np.float32(3.0)), _lib_tensor(L, np.array(1))
    ),
    "nll_loss_double_target": lambda L: L.nn.functional.nll_loss(
        _lib_tensor(L, np.ones((3, 4), np.float32)), _lib_tensor(L, np.array([0.0, 1, 2]))
    ),
    "binary_cross_entropy_size": lambda L: L.nn.functional.binary_cross_entropy(
        _lib_tensor(L, np.full((3, 4), 0.5, np.float32)), _lib_tensor(L, np.ones(3, np.float32))
    ),
    "binary_cross_entropy_range": lambda L: L.nn.functional.binary_cross_entropy(
        _lib_tensor(L, np.full((3, 4), 2.0, np.float32)),
        _lib_tensor(L, np.ones((3, 4), np.float32)),
    ),
    "binary_cross_entropy_nan": lambda L: L.nn.functional.binary_cross_entropy(
        _lib_tensor(L, np.full((3, 4), np.nan, np.float32)),
        _lib_tensor(L, np.ones((3, 4), np.float32)),
    ),
    "bce_with_logits_size": lambda L: L.nn.functional.binary_cross_entropy_with_logits(
        _lib_tensor(L, np.ones((3, 4), np.float32)), _lib_tensor(L, np.ones(3, np.float32))
    ),
    "mse_loss_weight_shape": lambda L: L.nn.functional.mse_loss(
        _lib_tensor(L, np.ones((3, 4), np.float32)),
        _lib_tensor(L, np.ones((3, 4), np.float32)),
        weight=_lib_tensor(L, np.ones(4, np.float32)),
    ),
    "mse_loss_broadcast": lambda L: L.nn.functional.mse_loss(
        _lib_tensor(L, np.ones((3, 4), np.float32)), _lib_tensor(L, np.ones(5, np.float32))
    ),
    "smooth_l1_negative_beta": lambda L: L.nn.functional.smooth_l1_loss(
        _lib_tensor(L, np.ones((3, 4), np.float32)),
        _lib_tensor(L, np.ones((3, 4), np.float32)),
        beta=-1.0,
    ),
    "huber_zero_delta": lambda L: L.nn.functional.huber_loss(
        _lib_tensor(L, np.ones((3, 4), np.float32)),
        _lib_tensor(L, np.ones((3, 4), np.float32)),
        delta=0.0,
    ),
    "gelu_approximate": lambda L: L.nn.functional.gelu(
        _lib_tensor(L, np.ones(3, np.float32)), approximate="foo"
    ),
    "one_hot_too_big": lambda L: L.nn.functional.one_hot(_lib_tensor(L, np.array([0, 3])), 3),
    "one_hot_negative": lambda L: L.nn.functional.one_hot(_lib_tensor(L, np.array([0, -1])), 3),
    "one_hot_float": lambda L: L.nn.functional.one_hot(_lib_tensor(L, np.array([0.0, 1.0])), 3),
    "one_hot_empty": lambda L: L.nn.functional.one_hot(_lib_tensor(L, np.zeros(0, np.int64))),
    "one_hot_int32": lambda L: L.nn.functional.one_hot(_lib_tensor(L, np.array([1], np.int32))),
    "embedding_out_of_range": lambda L: L.nn.functional.embedding(
        _lib_tensor(L, np.array([0, 3])), _lib_tensor(L, np.ones((3, 2), np.float32))
    ),
    "embedding_float_indices": lambda L: L.nn.functional.embedding(
        _lib_tensor(L, np.array([0.0, 1.0], np.float32)),
        _lib_tensor(L, np.ones((3, 2), np.float32)),
    ),
    "embedding_padding_idx": lambda L: L.nn.functional.embedding(
        _lib_tensor(L, np.array([0, 1])), _lib_tensor(L, np.ones((3, 2), np.float32)), padding_idx=3
    ),
    "embedding_1d_weight": lambda L: L.nn.functional.embedding(
        _lib_tensor(L, np.array([0, 1])), _lib_tensor(L, np.ones(3, np.float32))
    ),
    "pad_odd_length": lambda L: L.nn.functional.pad(
        _lib_tensor(L, np.ones((2, 3), np.float32)), (1,)
    ),
    "pad_too_long": lambda L: L.nn.functional.pad(
        _lib_tensor(L, np.ones((2, 3), np.float32)), (1, 2, 3, 4, 5, 6)
    ),
    "pad_reflect_too_big": lambda L: L.nn.functional.pad(
        _lib_tensor(L, np.ones((1, 2, 3), np.float32)), (3, 3), mode="reflect"
    ),
    "pad_circular_wraps_twice": lambda L: L.nn.functional.pad(
        _lib_tensor(L, np.ones((1, 2, 3), np.float32)), (4, 2), mode="circular"
    ),
    "pad_unknown_mode": lambda L: L.nn.functional.pad(
        _lib_tensor(L, np.ones((1, 2, 3), np.float32)), (1, 2), mode="foo"
    ),
    "pad_value_with_replicate": lambda L: L.nn.functional.pad(
        _lib_tensor(L, np.ones((1, 2, 3), np.float32)), (1, 2), mode="replicate", value=2.0
    ),
    "pad_replicate_1d_input": lambda L: L.nn.functional.pad(
        _lib_tensor(L, np.ones(3, np.float32)), (1, 2), mode="replicate"
    ),
    "max_pool2d_padding": lambda L: L.nn.functional.max_pool2d(
        _lib_tensor(L, np.ones((1, 3, 5, 5), np.float32)), 3, padding=2
    ),
    "max_pool2d_stride0": lambda L: L.nn.functional.max_pool2d(
        _lib_tensor(L, np.ones((1, 3, 5, 5), np.float32)), 3, stride=0
    ),
    "max_pool2d_output_too_small": lambda L: L.nn.functional.max_pool2d(
        _lib_tensor(L, np.ones((1, 3, 2, 2), np.float32)), 3
    ),
    "max_pool2d_2d_input": lambda L: L.nn.functional.max_pool2d(
        _lib_tensor(L, np.ones((5, 5), np.float32)), 3
    ),
    "max_pool1d_1d_input": lambda L: L.nn.functional.max_pool1d(
        _lib_tensor(L, np.ones(5, np.float32)), 2
    ),
    "avg_pool2d_2d_input": lambda L: L.nn.functional.avg_pool2d(
        _lib_tensor(L, np.ones((5, 5), np.float32)), 3
    ),
    "avg_pool2d_padding": lambda L: L.nn.functional.avg_pool2d(
        _lib_tensor(L, np.ones((1, 3, 5, 5), np.float32)), 3, padding=2
    ),
    "avg_pool2d_divisor_zero": lambda L: L.nn.functional.avg_pool2d(
        _lib_tensor(L, np.ones((1, 3, 5, 5), np.float32)), 3, divisor_override=0
    ),
    "adaptive_avg_pool2d_dims": lambda L: L.nn.functional.adaptive_avg_pool2d(
        _lib_tensor(L, np.ones((5, 5), np.float32)), 2
    ),
    "linear_shapes": lambda L: L.nn.functional.linear(
        _lib_tensor(L, np.ones((5, 2, 3), np.float32)), _lib_tensor(L, np.ones((5, 4), np.float32))
    ),
}


@pytest.mark.parametrize("name", sorted(ERROR_CASES))
def test_functional_error_matches_torch(name) -> None:
    """Same exception type and the same message as torch."""
    case = ERROR_CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as t_err:
            case(torch)
        with pytest.raises(Exception) as f_err:
            case(fluxion)
    assert type(f_err.value) is type(t_err.value), f_err.value
    assert str(f_err.value) == str(t_err.value)


def test_conv2d_wrong_channels_message() -> None:
    with pytest.raises(RuntimeError) as err:
        F.conv2d(fluxion.ones(1, 2, 5, 5), fluxion.ones(4, 3, 3, 3))
    assert str(err.value) == (
        "Given groups=1, weight of size [4, 3, 3, 3], expected input[1, 2, 5, 5] to have 3 "
        "channels, but got 2 channels instead"
    )


def test_pad_negative_output_size_is_a_runtime_error() -> None:
    with pytest.raises(RuntimeError, match="negative output size"):
        F.pad(fluxion.ones(2, 3), (-2, -2))


def test_embedding_unsupported_options_say_so() -> None:
    with pytest.raises(NotImplementedError, match="sparse"):
        F.embedding(fluxion.tensor([0]), fluxion.ones(2, 2), sparse=True)


# ------------------------------------------------------------------------ warnings


def test_legacy_reduction_flags_warn_and_map() -> None:
    x, y = fluxion.tensor([1.0, 3.0]), fluxion.tensor([0.0, 0.0])
    with pytest.warns(UserWarning, match="reduction='sum'"):
        assert F.mse_loss(x, y, size_average=False).item() == 10.0
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert F.mse_loss(x, y, reduce=False).tolist() == [1.0, 9.0]


def test_mse_loss_warns_on_broadcasting() -> None:
    with pytest.warns(UserWarning, match="Using a target size"):
        F.mse_loss(fluxion.ones(3, 4), fluxion.ones(4))


def test_softmax_implicit_dim_warns() -> None:
    x = np.random.default_rng(0).normal(size=(2, 3, 4))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        f = F.softmax(fluxion.from_numpy(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = TF.softmax(torch.from_numpy(x))
    _close(f, t)


# ------------------------------------------------------------------------ gradients vs torch
# (cases the op database cannot check by finite differences)


def _grads_vs_torch(fn, *arrays, create_graph=False):
    """Run ``fn(lib, *tensors)`` in both libs and compare outputs and input gradients."""
    results = []
    for lib in (fluxion, torch):
        ts = [_lib_tensor(lib, a) for a in arrays]
        leaves = [t.requires_grad_(True) for t in ts if t.is_floating_point()]
        out = fn(lib, *ts)
        out.sum().backward()
        results.append((out, [t.grad for t in leaves]))
    (f_out, f_grads), (t_out, t_grads) = results
    _close(f_out, t_out)
    for f, t in zip(f_grads, t_grads):
        _close(f, t)


@pytest.mark.parametrize("keep", [True, False])
@pytest.mark.parametrize(
    ("size", "stride", "padding", "groups"),
    [((20, 18), 1, 2, 1), ((9, 11), 1, 0, 2), ((40, 36), 2, 1, 2), ((7, 8), 2, 1, 1)],
)
def test_conv2d_weight_grad_from_kept_or_recomputed_columns(
    monkeypatch, keep, size, stride, padding, groups
) -> None:
    # the weight gradient reads the forward's im2col columns (batch-first for output rows of
    # 16 and more, batch-last below) when they were kept, and recomputes them when not
    from fluxion.ops import nn_ops

    if not keep:
        monkeypatch.setattr(nn_ops, "_KEEP_COLS", 0)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 4) + size)
    w = rng.normal(size=(6, 4 // groups, 3, 3))
    _grads_vs_torch(
        lambda lib, a, b: lib.nn.functional.conv2d(a, b, None, stride, padding, 1, groups), x, w
    )


def test_leaky_relu_and_elu_slope_at_zero_match_torch() -> None:
    x = np.array([-1.0, 0.0, 2.0])
    _grads_vs_torch(lambda lib, t: lib.nn.functional.leaky_relu(t, 0.1), x)
    _grads_vs_torch(lambda lib, t: lib.nn.functional.elu(t, 2.0), x)
    _grads_vs_torch(lambda lib, t: lib.nn.functional.relu(t), x)


def test_embedding_padding_idx_row_gets_no_gradient() -> None:
    idx = np.array([[0, 2, 2], [4, 1, 2]])
    w = np.random.default_rng(0).normal(size=(5, 3))
    _grads_vs_torch(lambda lib, i, w: lib.nn.functional.embedding(i, w, padding_idx=2), idx, w)
    _grads_vs_torch(
        lambda lib, i, w: lib.nn.functional.embedding(i, w, padding_idx=-1),
        np.array([0, 4, 4, 1]),
        w,
    )
    weight = fluxion.from_numpy(w.copy()).requires_grad_(True)
    F.embedding(fluxion.from_numpy(idx), weight, padding_idx=2).sum().backward()
    assert not weight.grad.numpy()[2].any()


def test_embedding_scale_grad_by_freq_matches_torch() -> None:
    w = np.random.default_rng(0).normal(size=(5, 2))
    _grads_vs_torch(
        lambda lib, i, w: lib.nn.functional.embedding(i, w, padding_idx=0, scale_grad_by_freq=True),
        np.array([0, 4, 3, 3, 3, 1]),
        w,
    )


def test_embedding_double_backward() -> None:
    idx = fluxion.tensor([1, 1, 0])
    w = fluxion.randn(3, 2, dtype=fluxion.float64, requires_grad=True)
    out = F.embedding(idx, w, padding_idx=0)
    (g,) = fluxion.autograd.grad((out * out).sum(), w, create_graph=True)
    (gg,) = fluxion.autograd.grad(g.sum(), w)
    # d/dw of sum(2 * count_i * w_i) = 2 * count_i, the padding row excluded
    np.testing.assert_allclose(gg.numpy(), [[0.0, 0.0], [4.0, 4.0], [0.0, 0.0]])


def test_max_pool2d_ties_pick_the_first_maximum_like_torch() -> None:
    x = np.array([[[[1.0, 1.0, 0.0], [1.0, 0.5, 2.0], [2.0, 2.0, 2.0]]]])

    def fn(lib, t):
        out, idx = lib.nn.functional.max_pool2d(t, 2, stride=1, return_indices=True)
        fn.indices.append(idx.numpy().tolist())
        return out

    fn.indices = []
    _grads_vs_torch(fn, x)
    assert fn.indices[0] == fn.indices[1]


def test_max_pool2d_propagates_nan() -> None:
    x = np.array([[[[1.0, np.nan], [0.0, 2.0]]]])
    f = F.max_pool2d(fluxion.from_numpy(x), 2)
    assert np.isnan(f.numpy()).all()


@pytest.mark.parametrize("kernel", [2, 3])
def test_max_pool2d_indices_of_nans_and_ties_match_torch(kernel) -> None:
    # ties keep the first maximum; a NaN wins and the last NaN of a window gives the index
    rng = np.random.default_rng(5)
    x = rng.integers(0, 3, (2, 3, 12, 12)).astype(np.float32)
    x[0, 0, 0, :2] = np.nan
    x[1, 2, 4:6, 3] = np.nan
    fv, fi = F.max_pool2d(fluxion.from_numpy(x), kernel, return_indices=True)
    tv, ti = torch.nn.functional.max_pool2d(torch.from_numpy(x), kernel, return_indices=True)
    np.testing.assert_array_equal(fi.numpy(), ti.numpy())
    np.testing.assert_array_equal(fv.numpy(), tv.numpy())


@pytest.mark.parametrize(
    ("nd", "kernel", "size"),
    [(1, 2, (15,)), (1, 4, (16,)), (2, (2, 3), (13, 14)), (2, 3, (7, 9)), (2, 2, (6, 8))],
)
def test_tiling_max_pool_matches_torch_with_ties_nans_and_infs(nd, kernel, size) -> None:
    # stride == kernel: windows tile the input (leftover rows and columns are dropped); the
    # tiled kernel must keep PyTorch's first-maximum ties and last-NaN rule
    rng = np.random.default_rng(nd)
    x = rng.integers(-2, 3, (2, 3) + size).astype(np.float32)
    x.reshape(-1)[rng.choice(x.size, 6, replace=False)] = -np.inf

    def pooled(lib, data):
        t = lib.from_numpy(data.copy()).requires_grad_()
        values, idx = getattr(lib.nn.functional, f"max_pool{nd}d")(t, kernel, return_indices=True)
        values.sum().backward()
        return values.detach().numpy(), idx.numpy(), t.grad.numpy()

    for data in (x, np.where(rng.random(x.shape) < 0.05, np.float32(np.nan), x)):
        for ours, theirs in zip(pooled(fluxion, data), pooled(torch, data)):
            np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("padding", [0, 8])
def test_max_pool2d_with_more_than_255_kernel_positions_matches_torch(padding) -> None:
    # 17x17 = 289 positions: the winner's code no longer fits the uint8 of small kernels
    x = np.random.default_rng(0).normal(size=(2, 3, 40, 40))
    _grads_vs_torch(
        lambda lib, t: lib.nn.functional.max_pool2d(t, 17, stride=3, padding=padding), x
    )


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # target grad -logit(0)
def test_binary_cross_entropy_at_zero_and_one_is_finite() -> None:
    x = np.array([0.0, 1.0, 0.5])
    y = np.array([1.0, 0.0, 1.0])
    _grads_vs_torch(lambda lib, a, b: lib.nn.functional.binary_cross_entropy(a, b), x, y)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # 0 / 0
def test_cross_entropy_all_ignored_is_nan_like_torch() -> None:
    x = np.random.default_rng(0).normal(size=(3, 4))
    t = np.array([-100, -100, -100])
    for smoothing in (0.0, 0.2):
        f = F.cross_entropy(fluxion.from_numpy(x), fluxion.from_numpy(t), label_smoothing=smoothing)
        assert np.isnan(f.item())


def test_activation_inplace_flags() -> None:
    x = np.array([-1.5, 0.5, 2.0])
    for name, kw in (
        ("relu", {}),
        ("silu", {}),
        ("leaky_relu", {"negative_slope": 0.2}),
        ("elu", {"alpha": 0.5}),
    ):
        f = fluxion.from_numpy(x.copy())
        out = getattr(F, name)(f, inplace=True, **kw)
        t = getattr(TF, name)(torch.from_numpy(x.copy()), **kw)
        assert out is f
        _close(f, t)


def test_one_hot_infers_num_classes() -> None:
    out = F.one_hot(fluxion.tensor([[0, 2], [1, 4]]))
    assert out.shape == (2, 2, 5)
    assert out.dtype is fluxion.int64
    assert out.grad_fn is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("ignore_index", [-100, 3])
def test_nll_plain_path_has_the_general_paths_bits(monkeypatch, dtype, reduction, ignore_index):
    """(N, C) with valid targets and no weight skips the bookkeeping, with the same bits."""
    from fluxion.ops import nn_ops

    rng = np.random.default_rng(11)
    scores = rng.standard_normal((67, 10)).astype(dtype)
    target = rng.integers(0, 10, 67)
    target[target == ignore_index] = 0  # an ignore_index in range that no target uses
    args = (target, None, reduction, ignore_index)
    assert nn_ops._nll_plain(np, scores.shape, *args)
    fast = nn_ops._nll_fwd(np, scores, *args)
    coef = nn_ops._nll_coef_fwd(np, target, None, scores.shape, reduction, ignore_index, dtype)
    monkeypatch.setattr(nn_ops, "_nll_plain", lambda *a: False)
    assert fast.dtype == dtype
    np.testing.assert_array_equal(fast, nn_ops._nll_fwd(np, scores, *args))
    general = nn_ops._nll_coef_fwd(np, target, None, scores.shape, reduction, ignore_index, dtype)
    np.testing.assert_array_equal(coef, general)


def test_nll_plain_path_leaves_ignored_and_bad_targets_to_the_general_path():
    from fluxion.ops import nn_ops

    scores = np.zeros((3, 4), np.float32)
    for target in ([0, -100, 2], [0, 4, 1], [0, -1, 1]):
        assert not nn_ops._nll_plain(np, scores.shape, np.array(target), None, "mean", -100)
    assert not nn_ops._nll_plain(np, scores.shape, np.array([0, 2, 1]), None, "mean", 2)
    x = fluxion.zeros(3, 4, requires_grad=True)
    with pytest.raises(IndexError, match="Target 4 is out of bounds"):
        F.nll_loss(x, fluxion.tensor([0, 4, 1]))
    loss = F.nll_loss(x - 1, fluxion.tensor([0, -100, 2]))  # the ignored row counts for nothing
    loss.backward()
    assert float(loss) == 1.0
    np.testing.assert_array_equal(x.grad.numpy()[1], 0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("size", [7, 40 * 1024 + 5, 64 * 1024])
def test_relu_has_torchs_bits(dtype, size) -> None:
    """Signed zeros and NaN included, below and above the size where rows of zeros are used."""
    x = torch.randn(size, dtype=dtype)
    x[:6] = torch.tensor([float("nan"), -0.0, 0.0, float("inf"), -float("inf"), -1.0])
    x[-3:] = torch.tensor([-0.0, float("nan"), -2.0])
    got = fluxion.nn.functional.relu(fluxion.tensor(x.numpy())).numpy()
    assert got.tobytes() == torch.relu(x).numpy().tobytes()
    strided = fluxion.tensor(x.numpy())[::2]  # not contiguous: NumPy's plain call
    assert strided.relu().numpy().tobytes() == torch.relu(x[::2]).numpy().tobytes()


@pytest.mark.parametrize(("out_channels", "groups"), [(5, 1), (6, 1), (7, 1), (12, 2)])
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_with_products_padded_to_eight_rows_matches_torch(
    monkeypatch, out_channels, groups, bias
) -> None:
    """Under OpenBLAS's Haswell-family kernels, 5-7 output channels per group run as 8-row
    products (long output rows: the forward and the weight gradient from kept columns). Forced
    here whatever this machine's BLAS is, and checked against torch and the unpadded kernels."""
    from fluxion.ops import nn_ops

    rng = np.random.default_rng(11)
    x = rng.normal(size=(4, 2 * groups, 20, 18)).astype(np.float32)
    w = rng.normal(size=(out_channels, 2, 3, 3)).astype(np.float32)
    b = rng.normal(size=(out_channels,)).astype(np.float32)

    def conv(lib, a, weight, bias_):
        return lib.nn.functional.conv2d(a, weight, bias_ if bias else None, 1, 1, 1, groups)

    def run(lib):
        ts = [_lib_tensor(lib, a).requires_grad_(True) for a in (x, w, b)]
        out = conv(lib, *ts)
        (out * out).sum().backward()
        return [out] + [t.grad for t in ts[:2]] + ([ts[2].grad] if bias else [])

    plain = run(fluxion)
    padded = []
    real = nn_ops._zero_padded
    monkeypatch.setattr(nn_ops, "blas_core", lambda: "haswell")
    monkeypatch.setattr(nn_ops, "_zero_padded", lambda *a: padded.append(a) or real(*a))
    got = run(fluxion)
    assert len(padded) == 2  # the forward's weights and the weight gradient's output gradient
    for g, p, t in zip(got, plain, run(torch)):
        _close(g, t, rtol=1e-4, atol=1e-3)
        _close(g, p, rtol=1e-5, atol=1e-4)
    monkeypatch.setattr(nn_ops, "blas_core", lambda: "skylakex")
    padded.clear()
    run(fluxion)
    assert not padded  # other kernel families keep the unpadded products


def test_blas_core_names_the_kernels_openblas_runs() -> None:
    """``OPENBLAS_CORETYPE`` chooses OpenBLAS's kernels at load: a fresh process reports it."""
    import os
    import platform
    import subprocess
    import sys

    from fluxion._backend import blas_core

    if not blas_core():
        pytest.skip("NumPy's BLAS here is not an OpenBLAS that reports its core")
    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("the core names below are x86 ones")
    code = "from fluxion._backend import blas_core; print(blas_core())"
    env = {**os.environ, "OPENBLAS_CORETYPE": "Nehalem"}  # SSE4.2: any x86-64 NumPy 2 runs on
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "nehalem", out.stderr
    if os.environ.get("OPENBLAS_CORETYPE"):
        assert blas_core() == os.environ["OPENBLAS_CORETYPE"].lower()
