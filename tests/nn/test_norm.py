"""``BatchNorm1d/2d/3d``, ``LayerNorm``, ``GroupNorm`` and the normalisation functionals against
torch (issue 3).

Layers are built in both libraries from the same constructor, fluxion's parameters and buffers
are copied from torch's, and outputs, input and parameter gradients, and the buffers after the
call (running statistics) are compared in float32 and float64, in training and eval mode
(``_torch_compare.compare``). Also: running statistics over several steps (momentum, cumulative
average), ``num_batches_tracked``, double backward, loading torch state dicts (including old
checkpoints without ``num_batches_tracked``), ``repr``, and the errors of bad arguments.
"""

from __future__ import annotations

import numpy as np
import pytest

import fluxion
import fluxion.nn.functional as F
from fluxion.testing import assert_close

from ._torch_compare import DTYPES, TOL, build, compare, lib_tensor, raises_like_torch, to_numpy

torch = pytest.importorskip("torch")

_RNG = np.random.default_rng(77)


def _x(*shape, scale: float = 1.0, shift: float = 0.0) -> np.ndarray:
    return _RNG.normal(size=shape) * scale + shift


def _randomize(nn, module):
    """Random affine parameters and running statistics (defaults are 1 / 0, which hide bugs)."""
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, t in module.state_dict(keep_vars=True).items():
            if name.endswith("num_batches_tracked"):
                t.fill_(4)
            elif name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            else:
                t.copy_(torch.randn(t.shape, generator=gen))
    return module


def _rand_ctor(ctor):
    """A constructor whose torch module gets random parameters (fluxion's are then copied)."""

    def make(nn, T):
        module = ctor(nn, T)
        return _randomize(nn, module) if nn is torch.nn else module

    return make


# (id, ctor(nn, T), inputs, train)
CASES = [
    ("bn1d_2d", lambda nn, T: nn.BatchNorm1d(4), [_x(6, 4, scale=2, shift=1)], True),
    ("bn1d_3d", lambda nn, T: nn.BatchNorm1d(3), [_x(4, 3, 5)], True),
    ("bn1d_eval", lambda nn, T: nn.BatchNorm1d(3), [_x(4, 3, 5)], False),
    ("bn2d", lambda nn, T: nn.BatchNorm2d(3), [_x(2, 3, 4, 5, shift=3)], True),
    ("bn2d_eval", lambda nn, T: nn.BatchNorm2d(3), [_x(2, 3, 4, 5)], False),
    (
        "bn2d_momentum",
        lambda nn, T: nn.BatchNorm2d(3, momentum=0.5, eps=1e-3),
        [_x(2, 3, 2, 2)],
        True,
    ),
    ("bn2d_cumulative", lambda nn, T: nn.BatchNorm2d(3, momentum=None), [_x(2, 3, 2, 2)], True),
    ("bn2d_no_affine", lambda nn, T: nn.BatchNorm2d(3, affine=False), [_x(2, 3, 3, 3)], True),
    (
        "bn2d_no_running_stats",
        lambda nn, T: nn.BatchNorm2d(3, track_running_stats=False),
        [_x(2, 3, 3, 3)],
        True,
    ),
    (
        "bn2d_no_running_stats_eval",
        lambda nn, T: nn.BatchNorm2d(3, track_running_stats=False),
        [_x(2, 3, 3, 3)],
        False,
    ),
    ("bn3d", lambda nn, T: nn.BatchNorm3d(2), [_x(2, 2, 2, 3, 2)], True),
    ("layer_norm_int", lambda nn, T: nn.LayerNorm(5), [_x(3, 4, 5, scale=3)], True),
    ("layer_norm_shape", lambda nn, T: nn.LayerNorm([4, 5], eps=1e-3), [_x(3, 4, 5)], True),
    ("layer_norm_1d_input", lambda nn, T: nn.LayerNorm(6), [_x(6)], True),
    (
        "layer_norm_no_affine",
        lambda nn, T: nn.LayerNorm(5, elementwise_affine=False),
        [_x(2, 5)],
        True,
    ),
    ("layer_norm_no_bias", lambda nn, T: nn.LayerNorm((2, 3), bias=False), [_x(4, 2, 3)], False),
    ("group_norm", lambda nn, T: nn.GroupNorm(2, 6), [_x(3, 6, 4)], True),
    ("group_norm_4d", lambda nn, T: nn.GroupNorm(3, 6, eps=1e-3), [_x(2, 6, 2, 3)], False),
    ("group_norm_2d_input", lambda nn, T: nn.GroupNorm(2, 4), [_x(3, 4)], True),
    ("group_norm_instance", lambda nn, T: nn.GroupNorm(4, 4, affine=False), [_x(2, 4, 5)], True),
    ("group_norm_no_bias", lambda nn, T: nn.GroupNorm(2, 4, bias=False), [_x(2, 4, 3)], True),
    ("bn1d_no_bias", lambda nn, T: nn.BatchNorm1d(3, bias=False), [_x(4, 3)], True),
    ("bn2d_no_bias_eval", lambda nn, T: nn.BatchNorm2d(3, bias=False), [_x(2, 3, 2, 2)], False),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("ctor", "inputs", "train"), [c[1:] for c in CASES], ids=IDS)
def test_norm_layer_matches_torch_outputs_and_gradients(ctor, inputs, train, dtype) -> None:
    compare(_rand_ctor(ctor), inputs, dtype, train=train)


@pytest.mark.parametrize(("ctor", "inputs", "train"), [c[1:] for c in CASES], ids=IDS)
def test_norm_layer_repr_state_and_init_match_torch(ctor, inputs, train) -> None:
    torch.manual_seed(0)
    tmod = ctor(torch.nn, None)
    fluxion.manual_seed(0)
    fmod = ctor(fluxion.nn, None)
    assert repr(fmod) == repr(tmod)
    t_state = tmod.state_dict()
    f_state = fmod.state_dict()
    assert [(k, tuple(v.shape), str(v.dtype)[6:]) for k, v in t_state.items()] == [
        (k, tuple(v.shape), v.dtype.name) for k, v in f_state.items()
    ]
    for key, value in t_state.items():
        np.testing.assert_array_equal(to_numpy(f_state[key]), to_numpy(value), err_msg=key)
    assert [k for k, _ in fmod.named_parameters()] == [k for k, _ in tmod.named_parameters()]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum", [0.1, 0.7, None])
@pytest.mark.parametrize("nd", [1, 2])
def test_batch_norm_running_stats_over_several_steps(nd, momentum, dtype) -> None:
    """Five training steps (with backward) and then eval: buffers, outputs and grads as torch."""
    shape = (4, 3) if nd == 1 else (2, 3, 3, 2)
    ctor = lambda nn, T: getattr(nn, f"BatchNorm{nd}d")(3, momentum=momentum)  # noqa: E731
    tmod, fmod = build(_rand_ctor(ctor), dtype)
    tol = TOL[dtype]
    for step in range(6):
        train = step < 5
        tmod.train(train)
        fmod.train(train)
        x = _x(*shape, scale=step + 1, shift=step)
        tx, fx = lib_tensor(torch, x, dtype, True), lib_tensor(fluxion, x, dtype, True)
        t_out, f_out = tmod(tx), fmod(fx)
        assert_close(to_numpy(f_out), to_numpy(t_out), **tol)
        (t_out * t_out).sum().backward()
        (f_out * f_out).sum().backward()
        assert_close(to_numpy(fx.grad), to_numpy(tx.grad), **tol)
        f_state = fmod.state_dict()
        for key, value in tmod.state_dict().items():
            assert_close(to_numpy(f_state[key]), to_numpy(value), msg=key, **tol)
    assert int(fmod.num_batches_tracked) == 5 + 4  # _randomize started the count at 4
    for name, tp in tmod.named_parameters():
        assert_close(to_numpy(dict(fmod.named_parameters())[name].grad), to_numpy(tp.grad), **tol)


def test_batch_norm_buffers_follow_module_dtype() -> None:
    fmod = fluxion.nn.BatchNorm1d(3).double()
    assert fmod.running_mean.dtype == fluxion.float64
    assert fmod.num_batches_tracked.dtype == fluxion.int64
    fmod(fluxion.ones(2, 3, dtype=fluxion.float64))
    assert fmod.num_batches_tracked.item() == 1


@pytest.mark.parametrize("case", ["bn_train", "bn_eval", "layer_norm", "group_norm"])
def test_norm_double_backward_matches_torch(case) -> None:
    """A gradient penalty (grad of the sum of squared first gradients) matches torch's."""
    rng = np.random.default_rng(5)
    x, w, b = rng.normal(size=(3, 4, 5)), rng.normal(size=4), rng.normal(size=4)
    rm, rv = rng.normal(size=4), rng.uniform(0.5, 2, 4)
    if case == "layer_norm":
        w, b = rng.normal(size=5), rng.normal(size=5)

    def run(lib, fn):
        xs, ws, bs = (lib_tensor(lib, a, "float64", True) for a in (x, w, b))
        out = fn(lib, xs, ws, bs)
        g = lib_tensor(lib, rng_g, "float64")
        grads = lib.autograd.grad((out * g).sum(), (xs, ws, bs), create_graph=True)
        penalty = sum((gr * gr * gr).sum() for gr in grads)  # cubed: nonzero 3rd-order terms
        return lib.autograd.grad(penalty, (xs, ws, bs), allow_unused=True)

    rng_g = rng.normal(size=x.shape)
    fns = {
        "bn_train": lambda lib, x, w, b: lib.nn.functional.batch_norm(
            x, None, None, w, b, training=True
        ),
        "bn_eval": lambda lib, x, w, b: lib.nn.functional.batch_norm(
            x, lib_tensor(lib, rm, "float64"), lib_tensor(lib, rv, "float64"), w, b
        ),
        "layer_norm": lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (5,), w, b),
        "group_norm": lambda lib, x, w, b: lib.nn.functional.group_norm(x, 2, w, b),
    }
    t_grads = run(torch, fns[case])
    f_grads = run(fluxion, fns[case])
    for f, t in zip(f_grads, t_grads):
        if t is None:
            assert f is None or not to_numpy(f).any()
        else:
            assert_close(to_numpy(f), to_numpy(t), **TOL["float64"])


def test_norm_grad_fn_names_are_torch_names() -> None:
    x = fluxion.ones(2, 3, 4, requires_grad=True)
    assert type(F.batch_norm(x, None, None, training=True).grad_fn).__name__ == (
        "NativeBatchNormBackward0"
    )
    assert type(F.layer_norm(x, (4,)).grad_fn).__name__ == "NativeLayerNormBackward0"
    assert type(F.group_norm(x, 3).grad_fn).__name__ == "NativeGroupNormBackward0"


# ------------------------------------------------------------------------ functional


@pytest.mark.parametrize("dtype", DTYPES)
def test_functional_batch_norm_updates_running_stats_like_torch(dtype) -> None:
    x = _x(5, 3, 4, scale=2, shift=1)
    stats = {}
    for lib in (torch, fluxion):
        rm = lib_tensor(lib, np.zeros(3), dtype)
        rv = lib_tensor(lib, np.ones(3), dtype)
        out = lib.nn.functional.batch_norm(
            lib_tensor(lib, x, dtype), rm, rv, training=True, momentum=0.3, eps=1e-4
        )
        stats[lib.__name__] = [to_numpy(t) for t in (out, rm, rv)]
    for f, t in zip(stats["fluxion"], stats["torch"]):
        assert_close(f, t, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("use_input_stats", [True, False])
def test_functional_instance_norm_matches_torch(use_input_stats, dtype) -> None:
    x, w, b = _x(2, 3, 5), _x(3), _x(3)
    results = {}
    for lib in (torch, fluxion):
        xs, ws, bs = (lib_tensor(lib, a, dtype, True) for a in (x, w, b))
        rm = lib_tensor(lib, np.full(3, 0.5), dtype)
        rv = lib_tensor(lib, np.full(3, 2.0), dtype)
        out = lib.nn.functional.instance_norm(
            xs, rm, rv, ws, bs, use_input_stats=use_input_stats, momentum=0.2
        )
        (out * out * out).sum().backward()
        results[lib.__name__] = [to_numpy(t) for t in (out, rm, rv, xs.grad, ws.grad, bs.grad)]
    for f, t in zip(results["fluxion"], results["torch"]):
        assert_close(f, t, **TOL[dtype])


# ------------------------------------------------------------------------ state dicts


def test_batch_norm_loads_torch_state_dict() -> None:
    tmod = _randomize(torch.nn, torch.nn.BatchNorm2d(3))
    state = {k: fluxion.from_numpy(to_numpy(v).copy()) for k, v in tmod.state_dict().items()}
    fmod = fluxion.nn.BatchNorm2d(3)
    result = fmod.load_state_dict(state)
    assert not result.missing_keys and not result.unexpected_keys
    tmod.eval()
    fmod.eval()
    x = _x(2, 3, 2, 2).astype(np.float32)
    assert_close(to_numpy(fmod(fluxion.from_numpy(x))), to_numpy(tmod(torch.from_numpy(x))))
    assert fmod.num_batches_tracked.item() == 4


def test_batch_norm_loads_checkpoint_without_num_batches_tracked() -> None:
    """Version-1 checkpoints (no num_batches_tracked) load strictly, as in torch."""
    for lib in (torch, fluxion):
        module = lib.nn.BatchNorm1d(2)
        module.num_batches_tracked.fill_(7)
        state = module.state_dict()
        del state["num_batches_tracked"]
        state._metadata[""]["version"] = 1
        module.load_state_dict(state)
        assert module.num_batches_tracked.item() == 7
        state._metadata[""]["version"] = 2  # a current checkpoint must have the key
        with pytest.raises(RuntimeError, match="Missing key"):
            module.load_state_dict(state)


# ------------------------------------------------------------------------ errors

ERRORS = [
    ("bn1d_4d", lambda lib: lib.nn.BatchNorm1d(3)(lib.ones(2, 3, 4, 4))),
    ("bn2d_3d", lambda lib: lib.nn.BatchNorm2d(3)(lib.ones(2, 3, 4))),
    ("bn3d_4d", lambda lib: lib.nn.BatchNorm3d(3)(lib.ones(2, 3, 4, 4))),
    ("bn_one_value", lambda lib: lib.nn.BatchNorm1d(3)(lib.ones(1, 3))),
    ("bn_channels", lambda lib: lib.nn.BatchNorm1d(3)(lib.ones(2, 4))),
    (
        "f_bn_weight",
        lambda lib: lib.nn.functional.batch_norm(
            lib.ones(2, 3), lib.zeros(3), lib.ones(3), lib.ones(4)
        ),
    ),
    (
        "f_bn_bias",
        lambda lib: lib.nn.functional.batch_norm(
            lib.ones(2, 3), lib.zeros(3), lib.ones(3), None, lib.ones(2)
        ),
    ),
    (
        "f_bn_running_var",
        lambda lib: lib.nn.functional.batch_norm(lib.ones(2, 3), lib.zeros(3), lib.ones(2)),
    ),
    (
        "f_bn_eval_without_stats",
        lambda lib: lib.nn.functional.batch_norm(lib.ones(2, 3), None, None),
    ),
    (
        "f_bn_one_stat",
        lambda lib: lib.nn.functional.batch_norm(lib.ones(2, 3), lib.zeros(3), None, training=True),
    ),
    (
        "f_bn_integer",
        lambda lib: lib.nn.functional.batch_norm(
            lib.ones(2, 3, dtype=lib.int64), None, None, training=True
        ),
    ),
    ("ln_input_shape", lambda lib: lib.nn.LayerNorm(3)(lib.ones(2, 4))),
    ("ln_too_many_dims", lambda lib: lib.nn.functional.layer_norm(lib.ones(3, 4), (2, 3, 4))),
    ("ln_empty_shape", lambda lib: lib.nn.functional.layer_norm(lib.ones(3, 4), ())),
    (
        "ln_weight_shape",
        lambda lib: lib.nn.functional.layer_norm(lib.ones(3, 4), (4,), lib.ones(3)),
    ),
    (
        "ln_bias_shape",
        lambda lib: lib.nn.functional.layer_norm(lib.ones(3, 4), (4,), None, lib.ones(2, 2)),
    ),
    ("ln_int_shape_type", lambda lib: lib.nn.functional.layer_norm(lib.ones(3, 4), 4.0)),
    ("ln_integer", lambda lib: lib.nn.functional.layer_norm(lib.ones(3, 4, dtype=lib.int64), (4,))),
    ("gn_channels", lambda lib: lib.nn.GroupNorm(2, 4)(lib.ones(2, 6, 3))),
    ("gn_ctor", lambda lib: lib.nn.GroupNorm(4, 6)),
    ("gn_1d", lambda lib: lib.nn.functional.group_norm(lib.ones(4), 2)),
    ("gn_weight", lambda lib: lib.nn.functional.group_norm(lib.ones(2, 4), 2, lib.ones(3))),
    (
        "gn_integer",
        lambda lib: lib.nn.functional.group_norm(lib.ones(2, 4, dtype=lib.int64), 2),
    ),
]


@pytest.mark.parametrize(("name", "fn"), ERRORS, ids=[e[0] for e in ERRORS])
def test_norm_bad_arguments_raise_like_torch(name, fn) -> None:
    if name != "bn_one_value":
        raises_like_torch(fn)
        return
    with pytest.raises(ValueError) as t_exc:
        fn(torch)
    with pytest.raises(ValueError) as f_exc:
        fn(fluxion)
    assert str(f_exc.value) == str(t_exc.value).replace("torch.Size", "fluxion.Size")


def test_batch_norm_mixed_dtypes_raise() -> None:
    for lib in (torch, fluxion):
        x = lib.ones(2, 3)
        with pytest.raises(RuntimeError, match="mixed dtype"):
            lib.nn.functional.batch_norm(
                x, lib.zeros(3, dtype=lib.float64), lib.ones(3, dtype=lib.float64), training=True
            )
