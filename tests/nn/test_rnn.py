"""``nn.RNN``, ``nn.LSTM``, ``nn.GRU`` and their cells against ``torch.nn`` (issue 3).

Each case builds the layer in both libraries from the same constructor, copies torch's weights
into fluxion (by ``state_dict`` key, so the names and shapes must be torch's), runs the same
inputs and initial states, and compares every output and final state, then the gradients of
the input, of the initial states and of every parameter, in float32 and float64. Also: default
initialisation bit for bit under the same seed, ``repr``, loading a torch ``state_dict``,
inter-layer dropout, and the errors of bad arguments (type and message).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import fluxion
from fluxion.testing import assert_close

from ._torch_compare import TOL, build, lib_tensor, raises_like_torch, to_numpy

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported")

DTYPES = ("float32", "float64")
_RNG = np.random.default_rng(2024)


def _x(*shape) -> np.ndarray:
    return _RNG.normal(size=shape)


def _flat(out) -> list:
    """Flatten nested (tuple) outputs: ``(output, (h_n, c_n))`` -> ``[output, h_n, c_n]``."""
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


def _nest(lib, args, dtype):
    """NumPy arrays (possibly in tuples) -> ``lib`` tensors that require grad."""
    if isinstance(args, tuple):
        return tuple(_nest(lib, a, dtype) for a in args)
    if args is None:
        return None
    return lib_tensor(lib, args, dtype, True)


def _run_compare(ctor, args, dtype, *, train=True, create_graph=False, seed=None) -> None:
    """Forward + backward in both libraries; outputs and every gradient must agree."""
    tol = TOL[dtype]
    tmod, fmod = build(ctor, dtype)
    tmod.train(train)
    fmod.train(train)
    t_args = [_nest(torch, a, dtype) for a in args]
    f_args = [_nest(fluxion, a, dtype) for a in args]
    if seed is not None:  # dropout masks: fluxion draws torch's numbers from the same seed
        torch.manual_seed(seed)
        fluxion.manual_seed(seed)
    t_out = _flat(tmod(*t_args))
    f_out = _flat(fmod(*f_args))
    assert len(f_out) == len(t_out)
    for f, t in zip(f_out, t_out):
        assert tuple(f.shape) == tuple(t.shape)
        assert f.dtype.name == str(t.dtype).removeprefix("torch.")
        assert_close(to_numpy(f), to_numpy(t), **tol)
    rng = np.random.default_rng(0)
    t_loss, f_loss = 0.0, 0.0
    for f, t in zip(f_out, t_out):
        r = rng.normal(size=tuple(t.shape))
        t_loss = t_loss + (t * lib_tensor(torch, r, dtype)).sum()
        f_loss = f_loss + (f * lib_tensor(fluxion, r, dtype)).sum()
    t_leaves = _flat(tuple(a for a in t_args if a is not None)) + list(tmod.parameters())
    f_leaves = _flat(tuple(a for a in f_args if a is not None)) + list(fmod.parameters())
    t_grads = torch.autograd.grad(t_loss, t_leaves, create_graph=create_graph)
    f_grads = fluxion.autograd.grad(f_loss, f_leaves, create_graph=create_graph)
    names = [f"input {i}" for i in range(len(t_leaves) - len(list(tmod.parameters())))]
    names += [n for n, _ in tmod.named_parameters()]
    for name, f, t in zip(names, f_grads, t_grads):
        assert_close(to_numpy(f), to_numpy(t), msg=name, **tol)
    if create_graph:  # second order: the gradient of sum(grad**2) with respect to every leaf
        t2 = torch.autograd.grad(sum((g * g).sum() for g in t_grads), t_leaves, allow_unused=True)
        f2 = fluxion.autograd.grad(sum((g * g).sum() for g in f_grads), f_leaves, allow_unused=True)
        for name, f, t in zip(names, f2, t2):
            if t is None:
                assert f is None or not to_numpy(f).any(), name
            else:
                assert_close(to_numpy(f), to_numpy(t), msg=name, **tol)


L, N, IN, H = 5, 3, 4, 6  # sequence length, batch, input features, hidden features

# (id, ctor(nn, T), forward args as NumPy arrays; a tuple of arrays is an LSTM (h0, c0))
LAYER_CASES = [
    ("rnn_tanh", lambda nn, T: nn.RNN(IN, H), [_x(L, N, IN)]),
    ("rnn_relu", lambda nn, T: nn.RNN(IN, H, nonlinearity="relu"), [_x(L, N, IN)]),
    ("rnn_h0", lambda nn, T: nn.RNN(IN, H), [_x(L, N, IN), _x(1, N, H)]),
    (
        "rnn_2layers_bidir_h0",
        lambda nn, T: nn.RNN(IN, H, num_layers=2, bidirectional=True),
        [_x(L, N, IN), _x(4, N, H)],
    ),
    ("rnn_batch_first", lambda nn, T: nn.RNN(IN, H, batch_first=True), [_x(N, L, IN)]),
    ("rnn_no_bias", lambda nn, T: nn.RNN(IN, H, bias=False, num_layers=2), [_x(L, N, IN)]),
    ("rnn_unbatched", lambda nn, T: nn.RNN(IN, H), [_x(L, IN), _x(1, H)]),
    (
        "rnn_unbatched_batch_first_bidir",
        lambda nn, T: nn.RNN(IN, H, batch_first=True, bidirectional=True),
        [_x(L, IN)],
    ),
    ("lstm", lambda nn, T: nn.LSTM(IN, H), [_x(L, N, IN)]),
    ("lstm_h0_c0", lambda nn, T: nn.LSTM(IN, H), [_x(L, N, IN), (_x(1, N, H), _x(1, N, H))]),
    (
        "lstm_2layers_bidir_batch_first",
        lambda nn, T: nn.LSTM(IN, H, num_layers=2, bidirectional=True, batch_first=True),
        [_x(N, L, IN), (_x(4, N, H), _x(4, N, H))],
    ),
    ("lstm_no_bias", lambda nn, T: nn.LSTM(IN, H, bias=False), [_x(L, N, IN)]),
    ("lstm_unbatched", lambda nn, T: nn.LSTM(IN, H), [_x(L, IN), (_x(1, H), _x(1, H))]),
    (
        "lstm_proj",
        lambda nn, T: nn.LSTM(IN, H, num_layers=2, proj_size=3, bidirectional=True),
        [_x(L, N, IN), (_x(4, N, 3), _x(4, N, H))],
    ),
    ("gru", lambda nn, T: nn.GRU(IN, H), [_x(L, N, IN)]),
    ("gru_h0", lambda nn, T: nn.GRU(IN, H), [_x(L, N, IN), _x(1, N, H)]),
    (
        "gru_2layers_bidir_batch_first",
        lambda nn, T: nn.GRU(IN, H, num_layers=2, bidirectional=True, batch_first=True),
        [_x(N, L, IN), _x(4, N, H)],
    ),
    ("gru_no_bias", lambda nn, T: nn.GRU(IN, H, bias=False), [_x(L, N, IN)]),
    ("gru_unbatched", lambda nn, T: nn.GRU(IN, H, num_layers=2), [_x(L, IN)]),
    # dropout only acts in training mode: in eval the layers must equal torch's
    ("gru_dropout_eval", lambda nn, T: nn.GRU(IN, H, num_layers=3, dropout=0.5), [_x(L, N, IN)]),
    ("sequence_of_one", lambda nn, T: nn.LSTM(IN, H, num_layers=2), [_x(1, N, IN)]),
]
CELL_CASES = [
    ("rnn_cell", lambda nn, T: nn.RNNCell(IN, H), [_x(N, IN), _x(N, H)]),
    ("rnn_cell_relu_no_hx", lambda nn, T: nn.RNNCell(IN, H, nonlinearity="relu"), [_x(N, IN)]),
    ("rnn_cell_unbatched", lambda nn, T: nn.RNNCell(IN, H, bias=False), [_x(IN), _x(H)]),
    ("lstm_cell", lambda nn, T: nn.LSTMCell(IN, H), [_x(N, IN), (_x(N, H), _x(N, H))]),
    ("lstm_cell_no_hx", lambda nn, T: nn.LSTMCell(IN, H, bias=False), [_x(N, IN)]),
    ("lstm_cell_unbatched", lambda nn, T: nn.LSTMCell(IN, H), [_x(IN), (_x(H), _x(H))]),
    ("gru_cell", lambda nn, T: nn.GRUCell(IN, H), [_x(N, IN), _x(N, H)]),
    ("gru_cell_no_bias_no_hx", lambda nn, T: nn.GRUCell(IN, H, bias=False), [_x(N, IN)]),
    ("gru_cell_unbatched", lambda nn, T: nn.GRUCell(IN, H), [_x(IN), _x(H)]),
]
ALL_CASES = LAYER_CASES + CELL_CASES
IDS = [c[0] for c in ALL_CASES]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "ctor", "args"), ALL_CASES, ids=IDS)
def test_rnn_matches_torch_outputs_and_gradients(name, ctor, args, dtype) -> None:
    _run_compare(ctor, args, dtype, train=name != "gru_dropout_eval")


@pytest.mark.parametrize(
    ("name", "ctor", "args"),
    [c for c in ALL_CASES if c[0] in ("rnn_h0", "lstm_h0_c0", "gru_h0", "lstm_cell", "gru_cell")],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_rnn_double_backward_matches_torch(name, ctor, args) -> None:
    _run_compare(ctor, args, "float64", create_graph=True)


@pytest.mark.parametrize(("name", "ctor", "args"), ALL_CASES, ids=IDS)
def test_rnn_repr_names_and_init_match_torch(name, ctor, args) -> None:
    """Same seed, same constructor: same repr, parameter names and order, weights bit for bit."""
    torch.manual_seed(5)
    tmod = ctor(torch.nn, None)
    fluxion.manual_seed(5)
    fmod = ctor(fluxion.nn, None)
    assert repr(fmod) == repr(tmod)
    t_names = [(k, tuple(p.shape)) for k, p in tmod.named_parameters()]
    assert [(k, tuple(p.shape)) for k, p in fmod.named_parameters()] == t_names
    f_state = fmod.state_dict()
    assert list(f_state) == list(tmod.state_dict())
    for key, value in tmod.state_dict().items():
        np.testing.assert_array_equal(to_numpy(f_state[key]), to_numpy(value), err_msg=key)
    assert fluxion.rand(1).item() == torch.rand(1).item()  # no extra or missing draws


def test_rnn_loads_torch_state_dict() -> None:
    """A torch LSTM's state_dict (torch keys, NumPy values) loads and gives torch's output."""
    torch.manual_seed(0)
    tmod = torch.nn.LSTM(IN, H, num_layers=2, bidirectional=True).double()
    fmod = fluxion.nn.LSTM(IN, H, num_layers=2, bidirectional=True, dtype=fluxion.float64)
    state = {k: fluxion.from_numpy(to_numpy(v).copy()) for k, v in tmod.state_dict().items()}
    result = fmod.load_state_dict(state)
    assert not result.missing_keys and not result.unexpected_keys
    x = _x(L, N, IN)
    t_out, (t_h, t_c) = tmod(torch.from_numpy(x))
    f_out, (f_h, f_c) = fmod(fluxion.from_numpy(x))
    for f, t in ((f_out, t_out), (f_h, t_h), (f_c, t_c)):
        assert_close(to_numpy(f), to_numpy(t), **TOL["float64"])
    with pytest.raises(RuntimeError, match="Missing key"):
        fmod.load_state_dict({k: v for k, v in state.items() if "reverse" not in k})


def test_rnn_all_weights_follow_torch_layout() -> None:
    tmod = torch.nn.GRU(IN, H, num_layers=2, bidirectional=True)
    fmod = fluxion.nn.GRU(IN, H, num_layers=2, bidirectional=True)
    t_layout = [[tuple(w.shape) for w in ws] for ws in tmod.all_weights]
    assert [[tuple(w.shape) for w in ws] for ws in fmod.all_weights] == t_layout
    assert fmod._flat_weights_names == tmod._flat_weights_names
    fmod.flatten_parameters()  # a no-op, as on CPU in torch


@pytest.mark.torch_mkl_bernoulli
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("p", [0.5, 1.0])
def test_rnn_dropout_between_layers_matches_torch(kind, p) -> None:
    """Same seed: the same dropout masks on every layer's output but the last (training)."""
    ctor = lambda nn, T: getattr(nn, kind)(IN, H, num_layers=3, dropout=p, bidirectional=True)  # noqa: E731
    _run_compare(ctor, [_x(L, N, IN)], "float64", seed=11)


def test_rnn_dropout_between_layers() -> None:
    """Dropout acts in training mode only, with a fresh mask on each call."""
    fmod = fluxion.nn.GRU(IN, H, num_layers=2, dropout=0.5)
    x = fluxion.from_numpy(_x(L, N, IN).astype(np.float32))
    fluxion.manual_seed(1)
    a = fmod(x)[0]
    fluxion.manual_seed(1)
    b = fmod(x)[0]
    c = fmod(x)[0]
    fmod.eval()
    d = fmod(x)[0]
    e = fmod(x)[0]
    assert np.array_equal(to_numpy(a), to_numpy(b))  # seeded: reproducible
    assert not np.array_equal(to_numpy(b), to_numpy(c))  # a fresh mask each call
    assert np.array_equal(to_numpy(d), to_numpy(e)) and not np.array_equal(to_numpy(a), to_numpy(d))


def test_rnn_dropout_on_single_layer_warns_like_torch() -> None:
    with warnings.catch_warnings(record=True) as t_w:
        warnings.simplefilter("always")
        torch.nn.RNN(IN, H, dropout=0.3)
    with warnings.catch_warnings(record=True) as f_w:
        warnings.simplefilter("always")
        fluxion.nn.RNN(IN, H, dropout=0.3)
    assert [str(w.message) for w in f_w] == [str(w.message) for w in t_w]
    assert [w.category for w in f_w] == [w.category for w in t_w]


def test_rnn_trains_like_torch() -> None:
    """Ten SGD steps on a GRU + Linear give torch's losses (float64)."""
    torch.manual_seed(0)
    t_rnn, t_lin = torch.nn.GRU(1, 8, batch_first=True).double(), torch.nn.Linear(8, 1).double()
    f_rnn = fluxion.nn.GRU(1, 8, batch_first=True, dtype=fluxion.float64)
    f_lin = fluxion.nn.Linear(8, 1, dtype=fluxion.float64)
    for f, t in ((f_rnn, t_rnn), (f_lin, t_lin)):
        f.load_state_dict(
            {k: fluxion.from_numpy(to_numpy(v).copy()) for k, v in t.state_dict().items()}
        )
    steps = np.linspace(0, 6, 20)
    x = np.sin(steps)[None, :, None].repeat(4, 0) * np.arange(1, 5)[:, None, None]
    y = np.cos(steps)[None, :, None].repeat(4, 0)
    t_params = list(t_rnn.parameters()) + list(t_lin.parameters())
    f_params = list(f_rnn.parameters()) + list(f_lin.parameters())
    for _ in range(10):
        t_loss = ((t_lin(t_rnn(torch.from_numpy(x))[0]) - torch.from_numpy(y)) ** 2).mean()
        f_loss = ((f_lin(f_rnn(fluxion.from_numpy(x))[0]) - fluxion.from_numpy(y)) ** 2).mean()
        assert_close(f_loss.item(), t_loss.item(), rtol=1e-9, atol=1e-12)
        for params, loss in ((t_params, t_loss), (f_params, f_loss)):
            for p in params:
                p.grad = None
            loss.backward()
        with torch.no_grad(), fluxion.no_grad():
            for fp, tp in zip(f_params, t_params):
                tp -= 0.5 * tp.grad
                fp -= 0.5 * fp.grad


# ------------------------------------------------------------------------ errors

ERRORS = [
    ("nonlinearity", lambda lib: lib.nn.RNN(3, 4, nonlinearity="sigmoid")),
    ("hidden_size_zero", lambda lib: lib.nn.RNN(3, 0)),
    ("hidden_size_float", lambda lib: lib.nn.GRU(3, 4.0)),
    ("num_layers_zero", lambda lib: lib.nn.LSTM(3, 4, 0)),
    ("dropout_range", lambda lib: lib.nn.RNN(3, 4, dropout=1.5)),
    ("proj_too_big", lambda lib: lib.nn.LSTM(3, 4, proj_size=4)),
    ("proj_negative", lambda lib: lib.nn.LSTM(3, 4, proj_size=-1)),
    ("input_1d", lambda lib: lib.nn.GRU(3, 4)(lib.ones(5))),
    ("input_4d", lambda lib: lib.nn.LSTM(3, 4)(lib.ones(1, 2, 3, 3))),
    ("input_size", lambda lib: lib.nn.RNN(3, 4)(lib.ones(2, 3, 4))),
    ("dtype", lambda lib: lib.nn.RNN(3, 4)(lib.ones(2, 3, 3, dtype=lib.float64))),
    ("hx_2d_for_batched", lambda lib: lib.nn.GRU(3, 4)(lib.ones(2, 3, 3), lib.ones(1, 4))),
    ("hx_3d_for_unbatched", lambda lib: lib.nn.RNN(3, 4)(lib.ones(2, 3), lib.ones(1, 1, 4))),
    ("hx_size", lambda lib: lib.nn.RNN(3, 4, 2)(lib.ones(2, 3, 3), lib.ones(1, 3, 4))),
    (
        "cx_size",
        lambda lib: lib.nn.LSTM(3, 4)(lib.ones(2, 3, 3), (lib.ones(1, 3, 4), lib.ones(1, 2, 4))),
    ),
    (
        "hx_cx_dims",
        lambda lib: lib.nn.LSTM(3, 4)(lib.ones(2, 3, 3), (lib.ones(1, 3, 4), lib.ones(3, 4))),
    ),
    ("cell_input_3d", lambda lib: lib.nn.LSTMCell(3, 4)(lib.ones(2, 2, 3))),
    ("cell_hidden_3d", lambda lib: lib.nn.GRUCell(3, 4)(lib.ones(2, 3), lib.ones(1, 2, 4))),
    ("cell_input_size", lambda lib: lib.nn.RNNCell(3, 4)(lib.ones(2, 4))),
    ("cell_batch", lambda lib: lib.nn.RNNCell(3, 4)(lib.ones(2, 3), lib.ones(3, 4))),
    ("cell_hidden_size", lambda lib: lib.nn.GRUCell(3, 4)(lib.ones(2, 3), lib.ones(2, 5))),
    ("lstm_cell_one_state", lambda lib: lib.nn.LSTMCell(3, 4)(lib.ones(2, 3), (lib.ones(2, 4),))),
    (
        "lstm_cell_cx_3d",
        lambda lib: lib.nn.LSTMCell(3, 4)(lib.ones(2, 3), (lib.ones(2, 4), lib.ones(2, 4, 1))),
    ),
]


@pytest.mark.parametrize(("name", "fn"), ERRORS, ids=[e[0] for e in ERRORS])
def test_rnn_bad_arguments_raise_like_torch(name, fn) -> None:
    if name != "dtype":
        raises_like_torch(fn)
        return
    with pytest.raises(ValueError) as t_exc:
        fn(torch)
    with pytest.raises(ValueError) as f_exc:
        fn(fluxion)
    assert str(f_exc.value) == str(t_exc.value).replace("torch.", "fluxion.")


def test_lstm_hx_must_be_a_tuple() -> None:
    with pytest.raises(TypeError, match=r"hx must be a tuple \(h_0, c_0\)"):
        fluxion.nn.LSTM(3, 4)(fluxion.ones(2, 1, 3), fluxion.zeros(1, 1, 4))
