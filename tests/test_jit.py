"""fluxion.jit.trace_backward: replays give eager mode's numbers bit for bit, or run eagerly."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import fluxion
import fluxion.nn.functional as F
from fluxion.jit import trace_backward


def _params(rng, *shapes, dtype=np.float32):
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    return [fluxion.tensor(a.copy(), requires_grad=True) for a in arrays], [
        fluxion.tensor(a.copy(), requires_grad=True) for a in arrays
    ]


def _same(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy(), strict=True)


def _check(make_loss, shapes, batches, dtype=np.float32, zero_grad_every=2):
    """Run the same steps eagerly and traced; losses and every .grad must be identical."""
    rng = np.random.default_rng(0)
    eager_p, traced_p = _params(rng, *shapes, dtype=dtype)
    step = trace_backward(lambda *xs: make_loss(traced_p, *xs))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback to eager mode would fail the test
        for i, xs in enumerate(batches):
            loss = make_loss(eager_p, *xs)
            loss.backward()
            traced = step(*xs)
            _same(traced, loss)
            assert traced.grad_fn is None and not traced.requires_grad
            for pe, pt in zip(eager_p, traced_p):
                _same(pt.grad, pe.grad)
            if i % zero_grad_every == 1:  # both the first-grad copy and accumulation paths
                for p in eager_p + traced_p:
                    p.grad = None
    assert step.replays == len(batches) - 1
    return step


def _chain(p, x):
    (w,) = p
    y = x
    for _ in range(10):
        y = y + w
        y = y * w
        y = fluxion.tanh(y)
        y = fluxion.exp(y)
    return y.sum()


def test_overhead_chain_replays_bitwise():
    rng = np.random.default_rng(1)
    batches = [(fluxion.tensor(rng.uniform(-0.1, 0.1, 16).astype(np.float32)),) for _ in range(4)]
    _check(_chain, [(16,)], batches)


def _mlp(p, x, y):
    w1, b1, w2, b2 = p
    h = F.relu(F.linear(x, w1, b1))
    return F.cross_entropy(F.linear(h, w2, b2), y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mlp_with_integer_targets(dtype):
    rng = np.random.default_rng(2)
    batches = [
        (
            fluxion.tensor(rng.standard_normal((8, 5)).astype(dtype)),
            fluxion.tensor(rng.integers(0, 3, 8)),
        )
        for _ in range(4)
    ]
    _check(_mlp, [(7, 5), (7,), (3, 7), (3,)], batches, dtype=dtype)


def _rnn(p, xs, target):
    w_ih, w_hh, b, w_out = p
    h = fluxion.zeros(xs.shape[1], 6)
    outs = []
    for t in range(xs.shape[0]):
        h = fluxion.tanh(xs[t] @ w_ih.t() + h @ w_hh.t() + b)
        outs.append(h @ w_out.t())
    return F.mse_loss(fluxion.stack(outs), target)


def _rnn_batches(seed):
    rng = np.random.default_rng(seed)
    return [
        (
            fluxion.tensor(rng.standard_normal((5, 4, 1)).astype(np.float32)),
            fluxion.tensor(rng.standard_normal((5, 4, 1)).astype(np.float32)),
        )
        for _ in range(3)
    ]


def test_rnn_loop_with_stack_and_indexing():
    _check(_rnn, [(6, 1), (6, 6), (6,), (1, 6)], _rnn_batches(3))


def _mixed(p, x, k):
    w, v = p
    a = (w * x.double()).sum(1)  # promotion: float32 parameter times float64 input
    b, idx = (v.unsqueeze(0) + x).max(dim=1)  # broadcasting; an op with an index output
    parts = fluxion.split(x.t() * v.unsqueeze(1), 2)  # a multi-output op, unused outputs
    c = fluxion.cat([parts[0], parts[-1] * 2], 0)
    d = (x[:, 1:] ** 2).mean() + (x.reshape(-1)[::2] * k).sum()
    return a.sum() + b.float().pow(2).sum() + c.sum() + d + idx.float().sum()


def test_promotion_broadcast_views_and_multi_output_ops():
    rng = np.random.default_rng(4)
    batches = [
        (fluxion.tensor(rng.standard_normal((3, 5)).astype(np.float32)), 2.5) for _ in range(3)
    ]
    _check(_mixed, [(3, 5), (5,)], batches)


def test_inputs_that_require_grad_get_their_own_grads():
    w = fluxion.tensor([1.0, -2.0, 0.5], requires_grad=True)
    step = trace_backward(lambda x: (w * x).sin().sum())
    for i in range(3):
        x = fluxion.tensor([0.1 * i, 0.2, 0.3], requires_grad=True)
        x_ref = fluxion.tensor([0.1 * i, 0.2, 0.3], requires_grad=True)
        step(x)
        w_ref = fluxion.tensor([1.0, -2.0, 0.5], requires_grad=True)
        (w_ref * x_ref).sin().sum().backward()
        _same(x.grad, x_ref.grad)
    assert step.replays == 2


def _randn(*shape):
    return fluxion.tensor(np.random.default_rng(sum(shape)).standard_normal(shape))


def test_new_signature_traces_again():
    w = _randn(4, 3).requires_grad_()
    step = trace_backward(lambda x: (x @ w).square().mean())
    step(_randn(2, 4))
    step(_randn(5, 4))
    step(_randn(5, 4))
    assert len(step.programs) == 2 and step.replays == 1


def test_changed_parameter_dtype_traces_again():
    w = _randn(3).float().requires_grad_()
    step = trace_backward(lambda x: (x * w).sum())
    step(fluxion.ones(3))
    with fluxion.no_grad():
        w.data = w.data.double()
    w.grad = None
    step(fluxion.ones(3, dtype=fluxion.float64))  # a new key anyway
    loss = step(fluxion.ones(3, dtype=fluxion.float64))
    assert loss.dtype == fluxion.float64 and w.grad.dtype == fluxion.float64
    assert step.replays == 1


def _falls_back(fn, *args, match):
    step = trace_backward(fn)
    with pytest.warns(UserWarning, match=match):
        first = step(*args)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once only
        second = step(*args)
    assert step.replays == 0
    return first, second


def test_random_numbers_fall_back_to_eager():
    w = fluxion.ones(1000, requires_grad=True)
    c = fluxion.arange(1000.0)
    fluxion.manual_seed(0)
    a, b = _falls_back(lambda: (F.dropout(w, 0.5) * c).sum(), match="random")
    assert a.item() != b.item()  # fresh masks each call, as in eager mode


def test_data_dependent_control_flow_falls_back():
    w = fluxion.tensor([1.0, -1.0], requires_grad=True)

    def fn(x):
        y = (w * x).sum()
        return y * 2 if y.item() > 0 else y * 3

    _falls_back(fn, fluxion.tensor([1.0, 0.0]), match=r"item\(\)")
    w.grad = None
    trace_backward(fn)  # a fresh wrapper: the branch still follows the data
    with pytest.warns(UserWarning):
        trace_backward(fn)(fluxion.tensor([0.0, 1.0]))
    assert w.grad.tolist() == [0.0, 3.0]


def test_in_place_update_falls_back():
    w = fluxion.tensor([1.0, 2.0], requires_grad=True)
    stats = fluxion.zeros(2)

    def fn(x):
        y = w * x
        with fluxion.no_grad():
            stats.add_(y)
        return y.sum()

    _falls_back(fn, fluxion.tensor([1.0, 1.0]), match="in-place")
    assert stats.tolist() == [2.0, 4.0]


def test_custom_function_falls_back():
    class Double(fluxion.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    w = fluxion.tensor([1.0, 2.0], requires_grad=True)
    _falls_back(lambda: Double.apply(w).exp().sum(), match="DoubleBackward|outside the registry")
    assert w.grad.tolist() == pytest.approx([4 * np.exp(2), 4 * np.exp(4)])


def test_hook_added_after_tracing_is_honoured():
    w = fluxion.tensor([1.0, 2.0], requires_grad=True)
    step = trace_backward(lambda: (w * w).sum())
    step()
    step()
    assert step.replays == 1
    w.register_hook(lambda g: g * 10)
    w.grad = None
    with pytest.warns(UserWarning, match="hooks"):
        step()
    assert w.grad.tolist() == [20.0, 40.0]


def test_errors_are_eager_errors():
    w = fluxion.ones(3, requires_grad=True)
    step = trace_backward(lambda: w * 2)
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="only for scalar outputs"):
        step()
    with pytest.raises(RuntimeError, match="must match the size"):
        trace_backward(lambda x: (w + x).sum())(fluxion.ones(4))


def test_no_grad_runs_eagerly_like_eager_mode():
    w = fluxion.ones(3, requires_grad=True)
    step = trace_backward(lambda: (w * 2).sum())
    with fluxion.no_grad(), pytest.raises(RuntimeError, match="does not require grad"):
        step()


def test_replay_frees_nothing_it_should_keep_and_returns_extra_outputs():
    w = fluxion.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    step = trace_backward(lambda x: ((x @ w).sum(), x @ w))
    for _ in range(2):
        loss, out = step(fluxion.eye(2))
        _same(out, w.detach())
        assert loss.item() == 10.0
    assert step.replays == 1


def test_replays_call_the_unchecked_forwards_and_keep_the_checks_for_new_shapes():
    """mm, addmm and t replay their bare forwards (``defop(replay=...)``); a new signature is
    traced, and so checked, again: mismatched shapes raise the eager error."""
    from fluxion.ops import linalg, shape

    w = _randn(4, 3).requires_grad_()
    b = _randn(3).requires_grad_()

    def loss(x):
        return (F.linear(x, w.t(), b) @ w.t()).square().sum()

    x = _randn(2, 4)
    step = trace_backward(loss)
    for _ in range(3):
        w.grad = b.grad = None
        step(x)
    got = (w.grad.numpy().copy(), b.grad.numpy().copy())
    w.grad = b.grad = None
    loss(x).backward()
    assert step.replays == 2
    np.testing.assert_array_equal(got[0], w.grad.numpy())
    np.testing.assert_array_equal(got[1], b.grad.numpy())
    (program,) = step.programs.values()
    called = [v for v in program.run.__globals__.values() if callable(v)]
    assert linalg._addmm_replay in called
    assert linalg._mm_fwd not in called and linalg._addmm_fwd not in called
    assert shape._t_fwd not in called
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        step(_randn(2, 5))


def test_a_repeated_call_is_computed_once_and_stays_bitwise():
    """The RNN's ``w.t()`` in every step: one transpose per weight in the replay."""
    from fluxion.ops import REGISTRY

    step = _check(_rnn, [(6, 1), (6, 6), (6,), (1, 6)], _rnn_batches(5))
    (program,) = step.programs.values()
    transposes = [v for v in program.run.__globals__.values() if v is REGISTRY["t"].replay]
    assert len(transposes) == 3  # 15 in the trace


def test_calls_that_differ_only_in_a_signed_zero_or_a_scalar_type_stay_apart():
    w = _randn(3).requires_grad_()

    def fn():
        a, b = w * 0.0, w * -0.0
        c, d = w + 1, w + 1.0  # int and float scalars: the same values here, kept apart
        e, f = w * 2, w * 2  # equal calls: computed once, returned as two arrays
        return (a + b + c + d + e + f).sum(), a, b, e, f

    step = trace_backward(fn)
    eager = fn()
    for _ in range(2):
        w.grad = None
        loss, a, b, e, f = step()
    for got, want in zip((loss, a, b, e, f), eager):
        assert got.numpy().tobytes() == want.detach().numpy().tobytes()
    assert np.signbit(b.numpy()).tolist() == np.signbit(-w.detach().numpy()).tolist()
    assert not np.shares_memory(e.numpy(), f.numpy())
    assert step.replays == 1
