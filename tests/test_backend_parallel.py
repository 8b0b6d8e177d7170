"""Large pointwise work split over threads (fluxion._backend) gives one NumPy call's bits.

Forwards and first-order rules of the arithmetic and transcendental ops run blockwise on a
thread pool above ``PARALLEL_MIN`` elements. Every result here is compared bit for bit with
the plain NumPy expression that the small-array path evaluates (which the op database checks
against torch), and the tests count the parallel calls so that they fail if the split never
happens.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import fluxion
import fluxion._backend as backend

# Not a multiple of any block or SIMD width: ranges end mid-vector.
N = 2 * backend.PARALLEL_MIN + 12345


@pytest.fixture
def splits(monkeypatch):
    """Three workers (uneven ranges), a fresh pool, and a count of the parallel splits."""
    monkeypatch.setattr(backend, "_WORKERS", 3)
    monkeypatch.setattr(backend, "_pool", None)
    monkeypatch.setattr(backend, "_helper_tids", [])
    monkeypatch.setattr(backend, "_steered", [-1])
    calls = []
    real = backend._run_split

    def counting(work, n):
        calls.append(n)
        return real(work, n)

    monkeypatch.setattr(backend, "_run_split", counting)
    yield calls
    if backend._pool is not None:
        backend._pool.shutdown()


def _same(actual, expected):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    assert actual.strides == expected.strides
    np.testing.assert_array_equal(actual, expected, strict=True)
    assert actual.tobytes() == expected.tobytes()  # signed zeros and NaN payloads too


def _arrays(dtype, *shifts, shape=(N,)):
    rng = np.random.default_rng(0)
    return [(rng.standard_normal(shape) + s).astype(dtype) for s in shifts]


BINARY = [
    ("mul", lambda a, b: a * b, lambda g, a, b: (g * b, g * a)),
    ("add", lambda a, b: a + b, lambda g, a, b: (g, g)),
    ("sub", lambda a, b: a - b, lambda g, a, b: (g, -g)),
    ("div", lambda a, b: a / b, lambda g, a, b: (g / b, -g * a / (b * b))),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,op,rule", BINARY, ids=[b[0] for b in BINARY])
def test_binary_forward_and_grads_are_one_calls_bits(splits, dtype, name, op, rule):
    a, b, g = _arrays(dtype, 0.0, 3.0, 0.0)
    x = fluxion.tensor(a, requires_grad=True)
    y = fluxion.tensor(b, requires_grad=True)
    out = op(x, y)
    _same(out.detach().numpy(), op(a, b))
    out.backward(fluxion.tensor(g))
    ga, gb = rule(g, a, b)
    _same(x.grad.numpy(), ga)
    _same(y.grad.numpy(), gb)
    assert len(splits) >= (1 if name == "add" else 2)  # add's rules pass the gradient on


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_with_numbers_and_alpha(splits, dtype):
    (a,) = _arrays(dtype, 0.5)
    t = fluxion.tensor(a)
    _same((t * 2).numpy(), a * 2)
    _same((2.5 * t).numpy(), 2.5 * a)
    _same((t / 3).numpy(), a / 3)
    _same((1 - t).numpy(), 1 - a)
    _same(fluxion.add(t, t, alpha=2.5).numpy(), a + a * dtype(2.5))
    _same(fluxion.sub(t, t, alpha=3).numpy(), a - a * dtype(3))
    assert len(splits) >= 6


# op name, NumPy forward (None: composite), the Tensor rule's expression on arrays, input shift
UNARY = [
    ("exp", np.exp, lambda g, x, r: g * r, 0.0),
    ("tanh", np.tanh, lambda g, x, r: g * (1 - r * r), 0.0),
    ("sin", np.sin, lambda g, x, r: g * np.cos(x), 0.0),
    ("cos", np.cos, lambda g, x, r: -g * np.sin(x), 0.0),
    ("sigmoid", None, lambda g, x, r: g * r * (1 - r), 0.0),
    ("relu", None, lambda g, x, r: g * (r > 0), 0.0),
    ("neg", np.negative, lambda g, x, r: -g, 0.0),
    ("log", np.log, lambda g, x, r: g / x, 6.0),
    ("sqrt", np.sqrt, lambda g, x, r: g / (r * 2), 6.0),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,fwd,rule,shift", UNARY, ids=[u[0] for u in UNARY])
def test_unary_forward_and_grads_are_one_calls_bits(splits, dtype, name, fwd, rule, shift):
    x_np, g = _arrays(dtype, shift, 0.0)
    x = fluxion.tensor(x_np, requires_grad=True)
    out = getattr(fluxion, name)(x)
    r = out.detach().numpy()
    if fwd is not None:
        _same(r, fwd(x_np))
    out.backward(fluxion.tensor(g))
    _same(x.grad.numpy(), rule(g, x_np, r))
    # through sum: the incoming gradient is a broadcast view with zero strides
    x.grad = None
    getattr(fluxion, name)(x).sum().backward()
    ones = np.broadcast_to(np.ones((), dtype), x_np.shape)
    _same(x.grad.numpy(), rule(ones, x_np, r))
    assert splits


@pytest.mark.parametrize("name", ["tanh", "sin", "mul"])
def test_double_backward_matches_first_order_bits(splits, name):
    # create_graph runs the Tensor rules; first order the raw (threaded) ones
    (x_np,) = _arrays(np.float32, 0.0)
    grads = []
    for create_graph in (False, True):
        x = fluxion.tensor(x_np, requires_grad=True)
        y = x * x if name == "mul" else getattr(fluxion, name)(x)
        (gx,) = fluxion.autograd.grad(y.sum(), x, create_graph=create_graph)
        grads.append(gx.detach().numpy())
    _same(grads[0], grads[1])


def test_matches_torch_on_the_benchmark_expression(splits):
    (x_np,) = _arrays(np.float32, 0.0, shape=(1000, backend.PARALLEL_MIN // 1000 + 600))
    x = fluxion.tensor(x_np, requires_grad=True)
    loss = ((x * x + 2 * x).sin() * x.exp().tanh()).sum()
    loss.backward()
    xt = torch.tensor(x_np, requires_grad=True)
    lt = ((xt * xt + 2 * xt).sin() * xt.exp().tanh()).sum()
    lt.backward()
    np.testing.assert_allclose(loss.item(), lt.item(), rtol=1e-4)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-5)
    assert len(splits) >= 10


def test_layouts_that_do_not_split_keep_numpys_result(splits):
    a, b = _arrays(np.float32, 0.0, 1.0, shape=(700, backend.PARALLEL_MIN // 700 + 100))
    row = b[0].copy()
    t = fluxion.tensor(a)
    _same((t * fluxion.tensor(row)).numpy(), a * row)  # broadcasting: one plain call
    _same((t.t() * 2).numpy(), a.T * 2)  # transposed: NumPy keeps the F layout
    assert splits == []
    _same((t * 2).numpy(), a * 2)
    assert splits == [a.size]


def test_small_arrays_do_not_split(splits):
    x = fluxion.tensor(np.ones(backend.PARALLEL_MIN - 1, np.float32), requires_grad=True)
    (x.sin() * x + x).tanh().sum().backward()
    assert splits == []


def test_mixed_dtypes_take_the_plain_rule(splits):
    # A chain of ufuncs into one float32 buffer would round a float64 gradient differently
    # from the rule's expression, which promotes: such operands take the plain path.
    from fluxion.ops import elementwise

    (x,) = _arrays(np.float32, 0.0)
    (g,) = _arrays(np.float64, 0.0)
    r = np.tanh(x)
    _same(elementwise._tanh_raw(g, r), g * (1 - r * r))
    _same(elementwise._sin_raw(g, x), g * np.cos(x))
    assert splits == []
    _same(elementwise._tanh_raw(g.astype(np.float32), r), g.astype(np.float32) * (1 - r * r))
    assert splits == [x.size]


def test_errors_in_a_worker_reach_the_caller(splits):
    def kernel(out, a):
        if a[0] != 0:  # every range but the caller's own
            raise FloatingPointError("boom")
        out[...] = a

    x = np.arange(N, dtype=np.float64)
    with pytest.raises(FloatingPointError, match="boom"):
        backend.blockwise(kernel, x.shape, x.dtype, x)


def test_ranges_are_aligned_and_cover_everything(splits):
    seen = []
    backend._run_split(lambda i, j: seen.append((i, j)), N)
    seen.sort()
    assert seen[0][0] == 0 and seen[-1][1] == N
    assert all(j == k for (_, j), (k, _) in zip(seen, seen[1:]))
    assert all(i % backend._ALIGN == 0 for i, _ in seen)


def test_numpys_error_state_applies_in_every_range(splits):
    a = np.ones(N, np.float32)
    a[-10:] = 0  # 0/0 only in the last range, which a pool thread computes
    x = fluxion.tensor(a)
    with np.errstate(invalid="ignore"):
        assert np.isnan((x / x).numpy()[-10:]).all()
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError):
        x / x
    assert len(splits) == 2
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError):
        x[-10:] / x[-10:]  # as the small path does


@pytest.mark.parametrize("mode", ["eager", "compiled", "traced"])
def test_gradient_sums_split_and_keep_numpys_bits(splits, mode, monkeypatch):
    """Two large gradients meeting at a leaf are added on the pool, bit for bit ``a + b``."""
    import fluxion.ops._compiled as compiled

    rng = np.random.default_rng(7)
    a, b = (rng.standard_normal(N).astype(np.float32) for _ in range(2))
    x = fluxion.tensor(rng.standard_normal(N).astype(np.float32), requires_grad=True)
    ta, tb = fluxion.tensor(a), fluxion.tensor(b)
    adds = []
    real_add = backend._add_large
    monkeypatch.setattr(
        backend, "_add_large", lambda xp, u, v: adds.append(u.size) or real_add(xp, u, v)
    )
    monkeypatch.setattr(compiled, "COMPILE_AFTER", 1 if mode == "compiled" else 10**9)

    def loss():
        return (x * ta).sum() + (x * tb).sum()

    run = fluxion.jit.trace_backward(loss) if mode == "traced" else lambda: loss().backward()
    for _ in range(3):
        x.grad = None
        run()
        np.testing.assert_array_equal(x.grad.numpy(), a + b)
    assert adds[-3:] == [N] * 3  # the sum at x, once per run


steering = pytest.mark.skipif(
    backend._getcpu is None or len(backend._ALLOWED) < 2,
    reason="needs glibc's sched_getcpu, sched_setaffinity and two CPUs",
)


@steering
def test_helpers_are_kept_off_the_callers_cpu(splits):
    x = _arrays(np.float32, 0.0)[0]
    _same(fluxion.exp(fluxion.tensor(x)).numpy(), np.exp(x))
    assert splits and backend._helper_tids
    cpu = backend._steered[0]
    assert cpu in backend._ALLOWED
    for tid in backend._helper_tids:
        assert os.sched_getaffinity(tid) == backend._ALLOWED - {cpu}
    # the caller moved: the next split moves the helpers off its new CPU
    other = min(backend._ALLOWED - {cpu})
    os.sched_setaffinity(0, {other})
    try:
        _same(fluxion.sin(fluxion.tensor(x)).numpy(), np.sin(x))
        assert backend._steered[0] == other
        for tid in backend._helper_tids:
            assert os.sched_getaffinity(tid) == backend._ALLOWED - {other}
    finally:
        os.sched_setaffinity(0, backend._ALLOWED)


@steering
def test_steering_stops_quietly_where_affinity_cannot_be_set(splits, monkeypatch):
    def refuse(pid, mask):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(backend, "_getcpu", backend._getcpu)  # restored after the test
    monkeypatch.setattr(os, "sched_setaffinity", refuse)
    x = _arrays(np.float32, 0.0)[0]
    _same(fluxion.tanh(fluxion.tensor(x)).numpy(), np.tanh(x))
    assert splits and backend._getcpu is None
    _same(fluxion.exp(fluxion.tensor(x)).numpy(), np.exp(x))  # and splits on without it
    assert len(splits) == 2


def test_a_forked_child_forgets_the_helpers(monkeypatch):
    monkeypatch.setattr(backend, "_helper_tids", [123])
    monkeypatch.setattr(backend, "_steered", [0])
    monkeypatch.setattr(backend, "_pool", object())
    backend._forget_pool_after_fork()
    assert backend._pool is None and backend._helper_tids == [] and backend._steered == [-1]


@steering
def test_an_ended_helper_is_forgotten_and_steering_goes_on(splits, monkeypatch):
    monkeypatch.setattr(backend, "_getcpu", backend._getcpu)  # restored after the test
    x = _arrays(np.float32, 0.0)[0]
    _same(fluxion.exp(fluxion.tensor(x)).numpy(), np.exp(x))  # starts the helpers
    live = list(backend._helper_tids)
    gone = 2**31 - 7  # above any Linux pid_max: no such thread
    backend._helper_tids.append(gone)
    backend._steered[0] = -1  # as if the caller had moved
    backend._steer()
    assert backend._helper_tids == live and backend._getcpu is not None
