"""The standard layers of ``fluxion.nn`` against ``torch.nn`` (issue 3).

Every layer is built in both libraries from the same constructor call, fluxion's weights are
copied from torch's, and outputs, input gradients and parameter gradients are compared in
float32 and float64 (``_torch_compare.compare``). Also compared with torch: default
initialisation bit for bit under the same seed, ``repr``, ``state_dict`` names and shapes, and
the errors of bad arguments (type and message).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import fluxion
import fluxion.nn as fnn

from ._torch_compare import DTYPES, build, compare, raises_like_torch, to_numpy

torch = pytest.importorskip("torch")

from .._draws import assert_same_draws  # noqa: E402 - needs torch

_RNG = np.random.default_rng(1234)


def _x(*shape, scale: float = 1.0) -> np.ndarray:
    return _RNG.normal(size=shape) * scale


def _idx(high: int, *shape) -> np.ndarray:
    return _RNG.integers(0, high, size=shape)


# (id, ctor(nn, T), inputs, train): ctor is called with torch.nn and with fluxion.nn
CASES = [
    ("identity", lambda nn, T: nn.Identity(3, x=1), [_x(3, 4)], True),
    ("linear", lambda nn, T: nn.Linear(5, 3), [_x(4, 5)], True),
    ("linear_nobias_3d", lambda nn, T: nn.Linear(5, 3, bias=False), [_x(2, 4, 5)], True),
    ("linear_1d", lambda nn, T: nn.Linear(5, 3), [_x(5)], True),
    ("bilinear", lambda nn, T: nn.Bilinear(3, 4, 5), [_x(6, 3), _x(6, 4)], True),
    ("bilinear_1d", lambda nn, T: nn.Bilinear(3, 4, 5), [_x(3), _x(4)], True),
    (
        "bilinear_nobias_3d",
        lambda nn, T: nn.Bilinear(3, 4, 5, bias=False),
        [_x(2, 6, 3), _x(2, 6, 4)],
        True,
    ),
    ("conv1d", lambda nn, T: nn.Conv1d(2, 4, 3), [_x(2, 2, 9)], True),
    (
        "conv1d_all_args",
        lambda nn, T: nn.Conv1d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2),
        [_x(2, 4, 11)],
        True,
    ),
    ("conv1d_same_even", lambda nn, T: nn.Conv1d(2, 4, 4, padding="same"), [_x(2, 2, 9)], True),
    (
        "conv1d_valid_unbatched",
        lambda nn, T: nn.Conv1d(2, 4, 3, padding="valid", bias=False),
        [_x(2, 9)],
        True,
    ),
    *[
        (
            f"conv1d_{mode}",
            lambda nn, T, mode=mode: nn.Conv1d(2, 4, 3, padding=2, padding_mode=mode),
            [_x(2, 2, 8)],
            True,
        )
        for mode in ("reflect", "replicate", "circular")
    ],
    ("conv2d_lenet", lambda nn, T: nn.Conv2d(1, 6, 5), [_x(2, 1, 12, 12)], True),
    (
        "conv2d_all_args",
        lambda nn, T: nn.Conv2d(
            4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2
        ),
        [_x(2, 4, 9, 8)],
        True,
    ),
    (
        "conv2d_same_dilated",
        lambda nn, T: nn.Conv2d(3, 4, 4, padding="same", dilation=2),
        [_x(1, 3, 9, 9)],
        True,
    ),
    ("conv2d_unbatched", lambda nn, T: nn.Conv2d(3, 4, 3, bias=False), [_x(3, 7, 7)], True),
    *[
        (
            f"conv2d_{mode}",
            lambda nn, T, mode=mode: nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode),
            [_x(2, 2, 6, 7)],
            True,
        )
        for mode in ("reflect", "replicate", "circular")
    ],
    (
        "conv2d_same_reflect",
        lambda nn, T: nn.Conv2d(2, 3, (2, 3), padding="same", padding_mode="reflect"),
        [_x(2, 2, 6, 7)],
        True,
    ),
    ("convt1d", lambda nn, T: nn.ConvTranspose1d(4, 2, 3, stride=2), [_x(2, 4, 5)], True),
    (
        "convt1d_all_args",
        lambda nn, T: nn.ConvTranspose1d(
            4, 6, 3, stride=3, padding=1, output_padding=2, groups=2, dilation=2
        ),
        [_x(2, 4, 5)],
        True,
    ),
    (
        "convt2d",
        lambda nn, T: nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1),
        [_x(2, 4, 5, 5)],
        True,
    ),
    (
        "convt2d_all_args",
        lambda nn, T: nn.ConvTranspose2d(
            4, 6, (3, 2), stride=(2, 3), padding=(1, 0), groups=2, dilation=(2, 1), bias=False
        ),
        [_x(2, 4, 4, 5)],
        True,
    ),
    ("convt2d_unbatched", lambda nn, T: nn.ConvTranspose2d(4, 2, 2), [_x(4, 5, 5)], True),
    ("relu", lambda nn, T: nn.ReLU(), [_x(3, 4, 5)], True),
    ("relu_inplace", lambda nn, T: nn.ReLU(inplace=True), [_x(3, 4, 5)], True),
    ("relu6", lambda nn, T: nn.ReLU6(), [_x(3, 4, 5, scale=5)], True),
    ("relu6_inplace", lambda nn, T: nn.ReLU6(inplace=True), [_x(3, 4, 5, scale=5)], True),
    ("hardtanh", lambda nn, T: nn.Hardtanh(-2.0, 1.5), [_x(3, 4, 5, scale=3)], True),
    ("leaky_relu", lambda nn, T: nn.LeakyReLU(0.2), [_x(3, 4, 5)], True),
    ("leaky_relu_inplace", lambda nn, T: nn.LeakyReLU(inplace=True), [_x(3, 4, 5)], True),
    ("elu", lambda nn, T: nn.ELU(alpha=0.5), [_x(3, 4, 5)], True),
    ("elu_inplace", lambda nn, T: nn.ELU(inplace=True), [_x(3, 4, 5)], True),
    ("gelu", lambda nn, T: nn.GELU(), [_x(3, 4, 5)], True),
    ("gelu_tanh", lambda nn, T: nn.GELU("tanh"), [_x(3, 4, 5)], True),
    ("silu", lambda nn, T: nn.SiLU(), [_x(3, 4, 5)], True),
    ("silu_inplace", lambda nn, T: nn.SiLU(inplace=True), [_x(3, 4, 5)], True),
    ("mish", lambda nn, T: nn.Mish(), [_x(3, 4, 5, scale=3)], True),
    ("mish_inplace", lambda nn, T: nn.Mish(inplace=True), [_x(3, 4, 5)], True),
    ("sigmoid", lambda nn, T: nn.Sigmoid(), [_x(3, 4, 5)], True),
    ("tanh", lambda nn, T: nn.Tanh(), [_x(3, 4, 5)], True),
    ("softplus", lambda nn, T: nn.Softplus(), [_x(3, 4, 5, scale=10)], True),
    ("softplus_args", lambda nn, T: nn.Softplus(2.0, 5.0), [_x(3, 4, 5, scale=4)], True),
    ("softmax", lambda nn, T: nn.Softmax(dim=1), [_x(3, 4, 5)], True),
    ("log_softmax", lambda nn, T: nn.LogSoftmax(dim=-1), [_x(3, 4, 5)], True),
    ("dropout_eval", lambda nn, T: nn.Dropout(0.3), [_x(3, 4)], False),
    ("dropout_p0_train", lambda nn, T: nn.Dropout(0.0), [_x(3, 4)], True),
    ("maxpool1d", lambda nn, T: nn.MaxPool1d(3, stride=2, padding=1), [_x(2, 3, 11)], True),
    (
        "maxpool1d_ceil_dilated",
        lambda nn, T: nn.MaxPool1d(2, ceil_mode=True, dilation=2),
        [_x(2, 3, 10)],
        True,
    ),
    (
        "maxpool1d_indices",
        lambda nn, T: nn.MaxPool1d(3, 2, return_indices=True),
        [_x(2, 3, 11)],
        True,
    ),
    ("maxpool2d", lambda nn, T: nn.MaxPool2d(2), [_x(2, 3, 8, 8)], True),
    (
        "maxpool2d_all_args",
        lambda nn, T: nn.MaxPool2d(
            (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), ceil_mode=True
        ),
        [_x(2, 3, 9, 9)],
        True,
    ),
    (
        "maxpool2d_indices",
        lambda nn, T: nn.MaxPool2d(2, return_indices=True),
        [_x(3, 8, 7)],
        True,
    ),
    (
        "avgpool1d",
        lambda nn, T: nn.AvgPool1d(3, stride=2, padding=1, count_include_pad=False),
        [_x(2, 3, 10)],
        True,
    ),
    (
        "avgpool2d",
        lambda nn, T: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True),
        [_x(2, 3, 9, 9)],
        True,
    ),
    (
        "avgpool2d_divisor",
        lambda nn, T: nn.AvgPool2d(2, divisor_override=3),
        [_x(2, 3, 6, 6)],
        True,
    ),
    ("adaptive_avgpool1d", lambda nn, T: nn.AdaptiveAvgPool1d(4), [_x(2, 3, 10)], True),
    ("adaptive_avgpool2d", lambda nn, T: nn.AdaptiveAvgPool2d((5, 4)), [_x(2, 3, 7, 9)], True),
    ("adaptive_avgpool2d_1", lambda nn, T: nn.AdaptiveAvgPool2d(1), [_x(2, 3, 7, 9)], True),
    (
        "adaptive_avgpool2d_none",
        lambda nn, T: nn.AdaptiveAvgPool2d((3, None)),
        [_x(3, 7, 9)],
        True,
    ),
    ("flatten", lambda nn, T: nn.Flatten(), [_x(2, 3, 4, 5)], True),
    ("flatten_range", lambda nn, T: nn.Flatten(0, 2), [_x(2, 3, 4, 5)], True),
    ("unflatten", lambda nn, T: nn.Unflatten(1, (3, 4)), [_x(2, 12, 5)], True),
    ("unflatten_neg", lambda nn, T: nn.Unflatten(-1, [2, -1]), [_x(2, 12)], True),
    ("embedding", lambda nn, T: nn.Embedding(10, 4), [_idx(10, 3, 5)], True),
    (
        "embedding_padding_idx",
        lambda nn, T: nn.Embedding(10, 4, padding_idx=2),
        [np.array([[2, 1, 2], [0, 9, 2]])],
        True,
    ),
    (
        "embedding_scale_grad",
        lambda nn, T: nn.Embedding(6, 3, scale_grad_by_freq=True),
        [np.array([1, 1, 4, 1, 0])],
        True,
    ),
    (
        "embedding_max_norm",
        lambda nn, T: nn.Embedding(10, 4, max_norm=1.0),
        [np.array([[1, 3], [3, 7]])],
        True,
    ),
    (
        "embedding_max_norm_l1",
        lambda nn, T: nn.Embedding(10, 4, max_norm=0.5, norm_type=1.0),
        [np.array([5, 5, 0])],
        True,
    ),
    (
        "sequential_cnn",
        lambda nn, T: nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dropout(0.5),
            nn.Linear(4 * 4 * 4, 10),
            nn.LogSoftmax(dim=1),
        ),
        [_x(3, 1, 8, 8)],
        False,
    ),
]
CASE_IDS = [c[0] for c in CASES]
CTORS = [(c[0], c[1]) for c in CASES]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("ctor", "inputs", "train"), [c[1:] for c in CASES], ids=CASE_IDS)
def test_layer_matches_torch_outputs_and_gradients(ctor, inputs, train, dtype) -> None:
    compare(ctor, inputs, dtype, train=train)


@pytest.mark.parametrize(("name", "ctor"), CTORS, ids=CASE_IDS)
def test_layer_repr_and_state_dict_match_torch(name, ctor) -> None:
    tmod, fmod = build(ctor)
    assert repr(fmod) == repr(tmod)
    t_state = [(k, tuple(v.shape)) for k, v in tmod.state_dict().items()]
    f_state = [(k, tuple(v.shape)) for k, v in fmod.state_dict().items()]
    assert f_state == t_state
    t_params = [(k, p.requires_grad) for k, p in tmod.named_parameters()]
    assert [(k, p.requires_grad) for k, p in fmod.named_parameters()] == t_params


@pytest.mark.parametrize(("name", "ctor"), CTORS, ids=CASE_IDS)
def test_layer_default_init_is_torch_bit_for_bit(name, ctor) -> None:
    """Same seed, same constructor: identical weights (same init calls in the same order)."""
    for seed in (0, 7):
        torch.manual_seed(seed)
        tmod = ctor(torch.nn, None)
        fluxion.manual_seed(seed)
        fmod = ctor(fluxion.nn, None)
        f_state = fmod.state_dict()
        for key, value in tmod.state_dict().items():
            np.testing.assert_array_equal(to_numpy(f_state[key]), to_numpy(value), err_msg=key)
        # the next number drawn is the same too: no extra or missing draws
        assert fluxion.rand(1).item() == torch.rand(1).item()


REPRS = [
    lambda nn: nn.Conv2d(2, 4, 3, padding="same", bias=False, padding_mode="reflect"),
    lambda nn: nn.Conv1d(2, 4, 3, padding="valid", groups=2, dilation=2),
    lambda nn: nn.Conv2d(2, 4, 3, stride=2, padding=1, dilation=(1, 2), groups=2),
    lambda nn: nn.ConvTranspose2d(2, 4, 3, stride=2, output_padding=1, bias=False),
    lambda nn: nn.ConvTranspose1d(2, 4, 3, padding=1, dilation=2, groups=2),
    lambda nn: nn.MaxPool2d(2, return_indices=True),
    lambda nn: nn.MaxPool2d((2, 3), stride=1, padding=1, ceil_mode=True),
    lambda nn: nn.AvgPool1d(3),
    lambda nn: nn.AvgPool2d((3, 2), stride=(1, 2)),
    lambda nn: nn.AdaptiveAvgPool2d((None, 3)),
    lambda nn: nn.Embedding(10, 3, padding_idx=-1, max_norm=1.0, norm_type=1),
    lambda nn: nn.Embedding(10, 3, scale_grad_by_freq=True),
    lambda nn: nn.Unflatten(1, [2, 3]),
    lambda nn: nn.Softmax(),
    lambda nn: nn.Hardtanh(-2, 2, inplace=True),
    lambda nn: nn.ELU(alpha=0.5, inplace=True),
    lambda nn: nn.LeakyReLU(inplace=True),
    lambda nn: nn.SiLU(inplace=True),
    lambda nn: nn.ReLU6(inplace=True),
    lambda nn: nn.Mish(True),
    lambda nn: nn.Dropout(0.2, inplace=True),
    lambda nn: nn.Linear(3, 4, bias=False),
    lambda nn: nn.Bilinear(2, 3, 4, bias=False),
]


@pytest.mark.parametrize("ctor", REPRS)
def test_layer_repr_of_non_default_arguments_matches_torch(ctor) -> None:
    assert repr(ctor(fluxion.nn)) == repr(ctor(torch.nn))


def test_layer_repr_of_a_model_tree_matches_torch() -> None:
    def model(nn):
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(6 * 14 * 14, 10),
        )

    assert repr(model(fluxion.nn)) == repr(model(torch.nn))


# ------------------------------------------------------------------------ dtype / device args


@pytest.mark.parametrize(
    "ctor",
    [
        lambda nn, lib: nn.Linear(3, 4, dtype=lib.float64),
        lambda nn, lib: nn.Bilinear(2, 3, 4, dtype=lib.float64),
        lambda nn, lib: nn.Conv2d(2, 4, 3, dtype=lib.float64),
        lambda nn, lib: nn.ConvTranspose1d(2, 4, 3, dtype=lib.float64, device="cpu"),
        lambda nn, lib: nn.Embedding(5, 2, dtype=lib.float64),
    ],
)
def test_layer_factory_kwargs_set_parameter_dtype(ctor) -> None:
    torch.manual_seed(3)
    tmod = ctor(torch.nn, torch)
    fluxion.manual_seed(3)
    fmod = ctor(fluxion.nn, fluxion)
    for (name, tp), (fname, fp) in zip(tmod.named_parameters(), fmod.named_parameters()):
        assert name == fname
        assert fp.dtype == fluxion.float64
        assert_same_draws(to_numpy(fp), to_numpy(tp))


# ------------------------------------------------------------------------ constructor errors


@pytest.mark.parametrize(
    "fn",
    [
        lambda lib: lib.nn.Linear(-1, 4),
        lambda lib: lib.nn.Bilinear(0, 3, 4),
        lambda lib: lib.nn.Conv2d(3, 4, 3, groups=2),
        lambda lib: lib.nn.Conv2d(4, 3, 3, groups=2),
        lambda lib: lib.nn.Conv2d(4, 4, 3, groups=0),
        lambda lib: lib.nn.Conv2d(4, 4, 3, padding="full"),
        lambda lib: lib.nn.Conv1d(4, 4, 3, stride=2, padding="same"),
        lambda lib: lib.nn.Conv2d(4, 4, 3, padding_mode="mirror"),
        lambda lib: lib.nn.ConvTranspose2d(4, 4, 3, padding_mode="reflect"),
        lambda lib: lib.nn.Dropout(1.5),
        lambda lib: lib.nn.Dropout(-0.1),
        lambda lib: lib.nn.Hardtanh(1.0, 1.0),
        lambda lib: lib.nn.Unflatten(1, 6),
        lambda lib: lib.nn.Unflatten(1, (2, 3.0)),
        lambda lib: lib.nn.Embedding(5, 2, padding_idx=5),
        lambda lib: lib.nn.Embedding(5, 2, padding_idx=-6),
        lambda lib: lib.nn.Embedding(5, 2, _weight=lib.ones(4, 2)),
        lambda lib: lib.nn.Embedding.from_pretrained(lib.ones(4)),
        lambda lib: lib.nn.Identity()(lib.ones(1), lib.ones(1)),
    ],
)
def test_layer_constructor_errors_match_torch(fn) -> None:
    raises_like_torch(fn)


@pytest.mark.parametrize(
    "fn",
    [
        lambda lib: lib.nn.Linear(3, 4)(lib.ones(2, 5)),
        lambda lib: lib.nn.Bilinear(3, 4, 5)(lib.ones(2, 3), lib.ones(2, 5)),
        lambda lib: lib.nn.Bilinear(3, 4, 5)(lib.ones(2, 3), lib.ones(3, 4)),
        lambda lib: lib.nn.Bilinear(3, 4, 5)(lib.ones(2, 3), lib.ones(2, 1, 4)),
        lambda lib: lib.nn.functional.bilinear(
            lib.ones(2, 3, dtype=lib.float64), lib.ones(2, 4), lib.ones(5, 3, 4)
        ),
        lambda lib: lib.nn.functional.bilinear(
            lib.ones(2, 3), lib.ones(2, 4), lib.ones(5, 3, 4), lib.ones(5, dtype=lib.float64)
        ),
        lambda lib: lib.nn.functional.bilinear(
            lib.ones(3), lib.ones(4), lib.ones(5, 3, 4), lib.ones(4)
        ),
        lambda lib: lib.nn.Conv2d(3, 4, 3)(lib.ones(1, 2, 5, 5)),
        lambda lib: lib.nn.Conv2d(3, 4, 3)(lib.ones(5, 5)),
        lambda lib: lib.nn.Conv2d(3, 4, 7)(lib.ones(1, 3, 5, 5)),
        lambda lib: lib.nn.Conv2d(3, 4, 3, padding=3, padding_mode="reflect")(lib.ones(1, 3, 3, 3)),
        lambda lib: lib.nn.ConvTranspose2d(3, 4, 3, stride=2)(
            lib.ones(1, 3, 4, 4), output_size=(12, 12)
        ),
        lambda lib: lib.nn.ConvTranspose2d(3, 4, 3, stride=2)(
            lib.ones(1, 3, 4, 4), output_size=(9,)
        ),
        lambda lib: lib.nn.MaxPool2d(2, padding=2)(lib.ones(1, 1, 4, 4)),
        lambda lib: lib.nn.AvgPool2d(2)(lib.ones(4)),
        lambda lib: lib.nn.Embedding(5, 2)(lib.tensor([5])),
        lambda lib: lib.nn.Embedding(5, 2)(lib.tensor([1.0])),
        lambda lib: lib.nn.Unflatten(1, (2, 4))(lib.ones(2, 6)),
        lambda lib: lib.nn.GELU("fast")(lib.ones(2)),
        lambda lib: lib.nn.Mish()(lib.tensor([1, 2])),
    ],
)
def test_layer_forward_errors_match_torch(fn) -> None:
    raises_like_torch(fn)


# ------------------------------------------------------------------------ behaviours


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output_size", [(10, 10), (9, 10), [1, 2, 10, 9], (9, 9)])
def test_conv_transpose2d_output_size_matches_torch(output_size, dtype) -> None:
    compare(
        lambda nn, T: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1),
        [_x(1, 3, 5, 5)],
        dtype,
        forward_kwargs={"output_size": output_size},
    )


@pytest.mark.parametrize("output_size", [[12], [1, 2, 11], (4, 2, 12)])
def test_conv_transpose1d_output_size_matches_torch(output_size) -> None:
    inputs = [_x(4, 5)] if len(output_size) == 2 else [_x(1, 4, 5)]
    if len(output_size) == 3 and output_size[0] == 4:  # unbatched (C, L) with 3 sizes: error
        raises_like_torch(
            lambda lib: lib.nn.ConvTranspose1d(4, 2, 3, stride=2)(
                lib.ones(4, 5), output_size=output_size
            )
        )
        return
    compare(
        lambda nn, T: nn.ConvTranspose1d(4, 2, 3, stride=2),
        inputs,
        "float64",
        forward_kwargs={"output_size": output_size},
    )


@pytest.mark.parametrize(
    ("cls", "args"),
    [
        ("ReLU", ()),
        ("ReLU6", ()),
        ("LeakyReLU", (0.1,)),
        ("ELU", ()),
        ("SiLU", ()),
        ("Mish", ()),
        ("Hardtanh", (-0.5, 0.5)),
    ],
)
def test_activation_inplace_writes_into_its_input(cls, args) -> None:
    x = fluxion.tensor([-1.5, -0.2, 0.3, 2.0])
    expected = getattr(fnn, cls)(*args)(x.clone())
    out = getattr(fnn, cls)(*args, inplace=True)(x)
    assert out is x
    np.testing.assert_array_equal(x.numpy(), expected.numpy())


def test_softmax_without_dim_warns_and_picks_torch_dim() -> None:
    arr = _x(2, 3, 4)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax") as rec:
        f_out = fnn.Softmax()(fluxion.from_numpy(arr))
    assert rec[0].filename == __file__  # the warning points at the caller of the layer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_out = torch.nn.Softmax()(torch.from_numpy(arr))
    np.testing.assert_allclose(f_out.numpy(), t_out.numpy(), rtol=1e-12)


def test_dropout_train_zeroes_about_p_and_scales_the_rest() -> None:
    fluxion.manual_seed(0)
    drop = fnn.Dropout(0.25)
    x = fluxion.ones(200, 100, requires_grad=True)
    out = drop(x)
    values = out.detach().numpy()
    kept = values != 0
    assert abs(1 - kept.mean() - 0.25) < 0.01
    np.testing.assert_allclose(values[kept], 1 / 0.75)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), values)  # gradient uses the same mask
    drop.eval()
    assert drop(x) is x


def test_dropout_inplace_overwrites_the_input_in_training() -> None:
    fluxion.manual_seed(1)
    x = fluxion.ones(50, 50)
    out = fnn.Dropout(0.5, inplace=True)(x)
    assert out is x
    assert set(np.unique(x.numpy())) <= {0.0, 2.0}


def test_embedding_from_pretrained_freeze_and_padding_idx() -> None:
    weights = _x(5, 3)
    for freeze in (True, False):
        femb = fnn.Embedding.from_pretrained(fluxion.from_numpy(weights), freeze, padding_idx=1)
        temb = torch.nn.Embedding.from_pretrained(torch.from_numpy(weights), freeze, padding_idx=1)
        assert femb.weight.requires_grad == temb.weight.requires_grad == (not freeze)
        assert repr(femb) == repr(temb)
        idx = np.array([[1, 4], [0, 1]])
        f_out = femb(fluxion.from_numpy(idx))
        t_out = temb(torch.from_numpy(idx))
        np.testing.assert_array_equal(f_out.detach().numpy(), t_out.detach().numpy())
        if not freeze:
            f_out.sum().backward()
            t_out.sum().backward()
            np.testing.assert_array_equal(femb.weight.grad.numpy(), temb.weight.grad.numpy())
    # the pretrained values are used as they are: padding_idx is not zeroed
    assert femb.weight[1].tolist() == weights[1].tolist()


def test_embedding_max_norm_renormalises_weight_in_place_like_torch() -> None:
    weights = _x(6, 4, scale=2.0)
    femb = fnn.Embedding.from_pretrained(fluxion.from_numpy(weights.copy()), max_norm=1.5)
    temb = torch.nn.Embedding.from_pretrained(torch.from_numpy(weights.copy()), max_norm=1.5)
    idx = np.array([0, 2, 2])
    femb(fluxion.from_numpy(idx))
    temb(torch.from_numpy(idx))
    np.testing.assert_allclose(femb.weight.detach().numpy(), temb.weight.numpy(), rtol=1e-12)
    norms = np.linalg.norm(femb.weight.detach().numpy(), axis=1)
    assert np.all(norms[[0, 2]] <= 1.5 + 1e-9)
    np.testing.assert_array_equal(femb.weight.detach().numpy()[1], weights[1])  # not looked up


def test_embedding_reset_parameters_zeroes_padding_row() -> None:
    emb = fnn.Embedding(4, 3, padding_idx=-1)
    assert emb.padding_idx == 3
    with fluxion.no_grad():
        emb.weight.fill_(5.0)
    emb.reset_parameters()
    assert emb.weight[3].tolist() == [0.0, 0.0, 0.0]
    assert emb.weight.requires_grad


def test_linear_reset_parameters_bounds() -> None:
    layer = fnn.Linear(16, 8)
    bound = 1 / math.sqrt(16)
    assert float(layer.bias.abs().max()) <= bound
    # kaiming_uniform_(a=sqrt(5)) on fan_in 16: bound sqrt(6 / ((1 + 5) * 16)) = 1 / 4
    assert float(layer.weight.abs().max()) <= 0.25


def test_layers_train_a_small_model_like_torch() -> None:
    """Three SGD steps on the same model and data: the parameters stay equal to torch's."""

    def model(nn):
        return nn.Sequential(
            nn.Conv2d(1, 3, 3, padding=1),
            nn.GELU(),
            nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Linear(3 * 3 * 3, 5),
        )

    tmod, fmod = build(lambda nn, T: model(nn), "float64")
    x, y = _x(4, 1, 6, 6), _idx(5, 4)
    for _ in range(3):
        for mod, lib in ((tmod, torch), (fmod, fluxion)):
            mod.zero_grad()
            out = mod(lib.from_numpy(x))
            loss = lib.nn.functional.cross_entropy(out, lib.from_numpy(y))
            loss.backward()
            with lib.no_grad():
                for p in mod.parameters():
                    p -= 0.5 * p.grad
    f_state = fmod.state_dict()
    for key, value in tmod.state_dict().items():
        np.testing.assert_allclose(to_numpy(f_state[key]), to_numpy(value), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("cls", "args"), [("Hardtanh", ()), ("Hardtanh", (-2.0, 6.0)), ("ReLU6", ()), ("Mish", ())]
)
def test_clamping_activations_gradient_at_bounds_and_nan_matches_torch(cls, args) -> None:
    """hardtanh's gradient is 0 at the bounds themselves and passes NaN (unlike clamp)."""
    values = np.array([-3.0, -2.0, -1.0, -0.5, 0.0, 1.0, 6.0, 7.0, np.nan])
    outs = []
    for lib in (torch, fluxion):
        x = lib.from_numpy(values.copy()).requires_grad_(True)
        y = getattr(lib.nn, cls)(*args)(x)
        y.sum().backward()
        outs.append((to_numpy(y), to_numpy(x.grad)))
    np.testing.assert_array_equal(outs[1][0], outs[0][0])
    np.testing.assert_allclose(outs[1][1], outs[0][1], rtol=1e-12, equal_nan=True)


def test_hardtanh_functional_errors_and_integer_input_match_torch() -> None:
    raises_like_torch(lambda lib: lib.nn.functional.hardtanh(lib.ones(2), 2.0, 1.0))
    for lo, hi in ((-1, 2), (-1.5, 2.5)):
        t = torch.nn.functional.hardtanh(torch.tensor([1, 7, -2]), lo, hi)
        f = fluxion.nn.functional.hardtanh(fluxion.tensor([1, 7, -2]), lo, hi)
        assert f.dtype == fluxion.int64
        assert f.tolist() == t.tolist()
