"""The loss layers of ``fluxion.nn`` against ``torch.nn`` (issue 3).

Each loss is built in both libraries with the same arguments (class weights and
``pos_weight`` become buffers), called on the same inputs, and the loss and the gradients of
the input (and of a floating target, where torch computes one) are compared in float32 and
float64. Also compared: ``repr``, ``state_dict`` keys, warnings and errors.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import fluxion
import fluxion.nn as fnn

from ._torch_compare import DTYPES, build, compare, raises_like_torch

torch = pytest.importorskip("torch")

_RNG = np.random.default_rng(99)


def _x(*shape, scale: float = 1.0) -> np.ndarray:
    return _RNG.normal(size=shape) * scale


def _idx(high: int, *shape) -> np.ndarray:
    return _RNG.integers(0, high, size=shape)


def _softmax(a: np.ndarray, axis: int = 1) -> np.ndarray:
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax(a: np.ndarray, axis: int = 1) -> np.ndarray:
    return np.log(_softmax(a, axis))


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-a))


_W4 = [1.0, 2.0, 0.5, 1.5]
_TARGET_WITH_IGNORED = np.array([0, 1, 3, 1, 2])

# (id, ctor(nn, T), inputs, grad mask): grad mask says which inputs require grad
CASES = [
    ("mse", lambda nn, T: nn.MSELoss(), [_x(4, 3), _x(4, 3)], None),
    ("mse_sum", lambda nn, T: nn.MSELoss(reduction="sum"), [_x(4, 3), _x(4, 3)], None),
    ("mse_none", lambda nn, T: nn.MSELoss(reduction="none"), [_x(4, 3), _x(4, 3)], None),
    ("l1", lambda nn, T: nn.L1Loss(), [_x(4, 3), _x(4, 3)], None),
    ("l1_none", lambda nn, T: nn.L1Loss(reduction="none"), [_x(2, 3, 2), _x(2, 3, 2)], None),
    (
        "smooth_l1",
        lambda nn, T: nn.SmoothL1Loss(beta=0.5),
        [_x(4, 5, scale=2), _x(4, 5, scale=2)],
        None,
    ),
    ("smooth_l1_beta0", lambda nn, T: nn.SmoothL1Loss(beta=0.0), [_x(4, 5), _x(4, 5)], None),
    (
        "huber",
        lambda nn, T: nn.HuberLoss(reduction="sum", delta=0.7),
        [_x(4, 5, scale=2), _x(4, 5, scale=2)],
        None,
    ),
    ("ce", lambda nn, T: nn.CrossEntropyLoss(), [_x(5, 4), _idx(4, 5)], None),
    ("ce_weight", lambda nn, T: nn.CrossEntropyLoss(weight=T(_W4)), [_x(5, 4), _idx(4, 5)], None),
    (
        "ce_ignore_index",
        lambda nn, T: nn.CrossEntropyLoss(ignore_index=1),
        [_x(5, 4), _TARGET_WITH_IGNORED],
        None,
    ),
    (
        "ce_label_smoothing",
        lambda nn, T: nn.CrossEntropyLoss(label_smoothing=0.2),
        [_x(5, 4), _idx(4, 5)],
        None,
    ),
    *[
        (
            f"ce_all_{reduction}",
            lambda nn, T, reduction=reduction: nn.CrossEntropyLoss(
                weight=T(_W4), ignore_index=1, reduction=reduction, label_smoothing=0.1
            ),
            [_x(5, 4), _TARGET_WITH_IGNORED],
            None,
        )
        for reduction in ("mean", "sum", "none")
    ],
    (
        "ce_probs",
        lambda nn, T: nn.CrossEntropyLoss(),
        [_x(5, 4), _softmax(_x(5, 4))],
        None,
    ),
    *[
        (
            f"ce_probs_weight_smoothing_{reduction}",
            lambda nn, T, reduction=reduction: nn.CrossEntropyLoss(
                weight=T(_W4), label_smoothing=0.3, reduction=reduction
            ),
            [_x(5, 4), _softmax(_x(5, 4))],
            None,
        )
        for reduction in ("mean", "sum", "none")
    ],
    (
        "ce_kdim",
        lambda nn, T: nn.CrossEntropyLoss(weight=T(_W4), ignore_index=0),
        [_x(2, 4, 3, 3), _idx(4, 2, 3, 3)],
        None,
    ),
    (
        "ce_kdim_probs",
        lambda nn, T: nn.CrossEntropyLoss(label_smoothing=0.1),
        [_x(2, 4, 3), _softmax(_x(2, 4, 3))],
        None,
    ),
    ("ce_unbatched", lambda nn, T: nn.CrossEntropyLoss(), [_x(4), np.array(2)], None),
    ("nll", lambda nn, T: nn.NLLLoss(), [_log_softmax(_x(5, 4)), _idx(4, 5)], None),
    (
        "nll_weight_ignore",
        lambda nn, T: nn.NLLLoss(weight=T(_W4), ignore_index=1),
        [_log_softmax(_x(5, 4)), _TARGET_WITH_IGNORED],
        None,
    ),
    (
        "nll_kdim_none",
        lambda nn, T: nn.NLLLoss(reduction="none"),
        [_log_softmax(_x(2, 4, 5)), _idx(4, 2, 5)],
        None,
    ),
    ("bce", lambda nn, T: nn.BCELoss(), [_sigmoid(_x(4, 3)), _RNG.random((4, 3))], None),
    (
        "bce_weight_none",
        lambda nn, T: nn.BCELoss(weight=T([0.5, 1.0, 2.0]), reduction="none"),
        [_sigmoid(_x(4, 3)), _RNG.random((4, 3))],
        None,
    ),
    (
        "bce_logits",
        lambda nn, T: nn.BCEWithLogitsLoss(),
        [_x(4, 3, scale=3), (_RNG.random((4, 3)) > 0.5) * 1.0],
        None,
    ),
    (
        "bce_logits_pos_weight",
        lambda nn, T: nn.BCEWithLogitsLoss(pos_weight=T([1.0, 3.0, 0.5])),
        [_x(4, 3, scale=3), _RNG.random((4, 3))],
        None,
    ),
    (
        "bce_logits_weight_pos_weight_sum",
        lambda nn, T: nn.BCEWithLogitsLoss(
            weight=T([2.0, 1.0, 0.5]), pos_weight=T([1.0, 3.0, 0.5]), reduction="sum"
        ),
        [_x(2, 4, 3, scale=3), _RNG.random((2, 4, 3))],
        None,
    ),
    (
        "kl_batchmean",
        lambda nn, T: nn.KLDivLoss(reduction="batchmean"),
        [_log_softmax(_x(5, 4)), _softmax(_x(5, 4))],
        None,
    ),
    (
        "kl_sum",
        lambda nn, T: nn.KLDivLoss(reduction="sum"),
        [_log_softmax(_x(5, 4)), _softmax(_x(5, 4))],
        None,
    ),
    (
        "kl_none_log_target",
        lambda nn, T: nn.KLDivLoss(reduction="none", log_target=True),
        [_log_softmax(_x(5, 4)), _log_softmax(_x(5, 4))],
        None,
    ),
    (
        "kl_zero_target",  # xlogy: a zero target contributes 0 (its own gradient is NaN in both)
        lambda nn, T: nn.KLDivLoss(reduction="batchmean"),
        [_log_softmax(_x(2, 3)), np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])],
        [True, False],
    ),
]
CASE_IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("ctor", "inputs", "grad"), [c[1:] for c in CASES], ids=CASE_IDS)
def test_loss_matches_torch_value_and_gradients(ctor, inputs, grad, dtype) -> None:
    compare(ctor, inputs, dtype, grad=grad)


@pytest.mark.parametrize("ctor", [c[1] for c in CASES], ids=CASE_IDS)
def test_loss_repr_and_state_dict_match_torch(ctor) -> None:
    tmod, fmod = build(ctor)
    assert repr(fmod) == repr(tmod)
    assert list(fmod.state_dict()) == list(tmod.state_dict())
    assert [b.dtype for b in fmod.buffers()] == [fluxion.float32] * len(list(tmod.buffers()))


def test_loss_buffers_follow_module_dtype() -> None:
    loss = fnn.CrossEntropyLoss(weight=fluxion.tensor(_W4)).double()
    assert loss.weight.dtype == fluxion.float64
    out = loss(fluxion.from_numpy(_x(5, 4)), fluxion.from_numpy(_idx(4, 5)))
    assert out.dtype == fluxion.float64
    bce = fnn.BCEWithLogitsLoss(pos_weight=fluxion.ones(3))
    assert list(bce.state_dict()) == ["pos_weight"]


@pytest.mark.parametrize(
    ("cls", "kwargs", "reduction"),
    [
        ("MSELoss", {"size_average": False}, "sum"),
        ("L1Loss", {"reduce": False}, "none"),
        ("CrossEntropyLoss", {"size_average": True, "reduce": True}, "mean"),
        ("NLLLoss", {"size_average": False, "reduce": True}, "sum"),
        ("KLDivLoss", {"reduce": False}, "none"),
        ("BCEWithLogitsLoss", {"size_average": False}, "sum"),
    ],
)
def test_loss_legacy_flags_warn_and_map_like_torch(cls, kwargs, reduction) -> None:
    with pytest.warns(UserWarning, match=f"please use reduction='{reduction}' instead") as rec:
        loss = getattr(fnn, cls)(**kwargs)
    assert rec[0].filename == __file__  # the warning points at the constructor's caller
    assert loss.reduction == reduction
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert getattr(torch.nn, cls)(**kwargs).reduction == reduction


def test_kl_div_mean_warns_like_torch() -> None:
    args = (_log_softmax(_x(3, 4)), _softmax(_x(3, 4)))
    with pytest.warns(UserWarning) as f_rec:
        f_out = fnn.KLDivLoss()(*[fluxion.from_numpy(a) for a in args])
    with pytest.warns(UserWarning) as t_rec:
        t_out = torch.nn.KLDivLoss()(*[torch.from_numpy(a) for a in args])
    assert str(f_rec[0].message) == str(t_rec[0].message)
    np.testing.assert_allclose(f_out.item(), t_out.item(), rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fnn.KLDivLoss(reduction="batchmean")(*[fluxion.from_numpy(a) for a in args])


@pytest.mark.parametrize(
    "fn",
    [
        lambda lib: lib.nn.HuberLoss(delta="1"),
        lambda lib: lib.nn.MSELoss(reduction="avg")(lib.ones(2), lib.ones(2)),
        lambda lib: lib.nn.KLDivLoss(reduction="avg")(lib.ones(2), lib.ones(2)),
        lambda lib: lib.nn.KLDivLoss(reduction="sum")(lib.tensor([1, 2]), lib.tensor([1, 2])),
        lambda lib: lib.nn.CrossEntropyLoss(label_smoothing=1.5)(
            lib.ones(2, 3), lib.tensor([0, 1])
        ),
        lambda lib: lib.nn.CrossEntropyLoss()(lib.ones(2, 3), lib.tensor([0, 1, 2])),
        lambda lib: lib.nn.CrossEntropyLoss()(lib.ones(2, 3), lib.ones(2)),
        lambda lib: lib.nn.CrossEntropyLoss(weight=lib.ones(4))(lib.ones(2, 3), lib.tensor([0, 1])),
        lambda lib: lib.nn.NLLLoss()(lib.ones(2, 3), lib.tensor([0.0, 1.0])),
        lambda lib: lib.nn.BCELoss()(lib.full((2,), 0.5), lib.ones(3)),
        lambda lib: lib.nn.BCELoss()(lib.full((2,), 1.5), lib.ones(2)),
        lambda lib: lib.nn.BCEWithLogitsLoss()(lib.ones(2), lib.ones(3)),
        lambda lib: lib.nn.SmoothL1Loss(beta=-1.0)(lib.ones(2), lib.ones(2)),
        lambda lib: lib.nn.HuberLoss(delta=0.0)(lib.ones(2), lib.ones(2)),
    ],
)
def test_loss_errors_match_torch(fn) -> None:
    raises_like_torch(fn)


def test_cross_entropy_loss_trains_a_linear_classifier_like_torch() -> None:
    """Five SGD steps through Linear + CrossEntropyLoss(label_smoothing, weight): same weights."""
    x, y = _x(16, 6), _idx(3, 16)

    def model(nn, T):
        return nn.Linear(6, 3)

    tmod, fmod = build(model, "float64")
    losses = []
    for mod, lib in ((tmod, torch), (fmod, fluxion)):
        crit = lib.nn.CrossEntropyLoss(
            weight=lib.tensor([1.0, 2.0, 0.5], dtype=lib.float64), label_smoothing=0.1
        )
        trace = []
        for _ in range(5):
            mod.zero_grad()
            loss = crit(mod(lib.from_numpy(x)), lib.from_numpy(y))
            loss.backward()
            trace.append(loss.item())
            with lib.no_grad():
                for p in mod.parameters():
                    p -= 0.3 * p.grad
        losses.append(trace)
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-12)
    assert losses[1][-1] < losses[1][0]
