"""``fluxion.mx.autograd``: record/pause, train/predict mode, grad_req, implicit-sum backward.

Gradients are compared with torch on the same inputs; recording and mode semantics follow
MXNet's documentation and source (``_RecordingStateScope``).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

import fluxion
from fluxion.mx import autograd, nd

RNG = np.random.default_rng(1)


def _data(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _torch_grad(fn, a):
    t = torch.tensor(a, requires_grad=True)
    y = fn(t)
    y.backward(torch.ones_like(y))
    return t.grad.numpy()


# ---------------------------------------------------------------------------- the seed example


def test_seed_example():
    x = nd.arange(10).reshape((2, 5))
    x.attach_grad()
    with autograd.record():
        y = 2 * nd.dot(x.T, x)
    y.backward()
    want = _torch_grad(lambda t: 2 * (t.T @ t), np.arange(10, dtype=np.float32).reshape(2, 5))
    np.testing.assert_array_equal(x.grad.asnumpy(), want)
    assert x.grad.asnumpy().tolist() == [[40.0] * 5, [140.0] * 5]  # the numbers
    assert isinstance(x.grad, nd.NDArray)


# ---------------------------------------------------------------------------- recording


def test_recording_is_off_by_default_and_fluxion_is_unaffected():
    assert not autograd.is_recording() and not autograd.is_training()
    assert fluxion.is_grad_enabled()  # importing fluxion.mx leaves plain fluxion alone
    w = fluxion.ones(2, requires_grad=True)
    assert (w * 2).requires_grad  # plain fluxion still records by default
    x = nd.ones(3)
    x.attach_grad()
    y = x * 2
    assert not y.requires_grad and y.grad_fn is None  # not recorded outside record()
    with autograd.record():
        z = x * 2
    assert z.requires_grad and z.grad_fn is not None


def test_backward_of_unrecorded_array_says_to_use_record():
    x = nd.ones(3)
    x.attach_grad()
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match=r"autograd\.record\(\)"):
        y.backward()
    with pytest.raises(RuntimeError, match=r"autograd\.record\(\)"):
        autograd.grad(y, [x])


def test_record_pause_nesting_and_restoration():
    x = nd.ones(3)
    x.attach_grad()
    with autograd.record():
        assert autograd.is_recording() and autograd.is_training()
        a = x * 2
        with autograd.pause():
            assert not autograd.is_recording() and not autograd.is_training()
            b = x * 2
            with autograd.record(train_mode=False):
                assert autograd.is_recording() and not autograd.is_training()
                c = x * 2
            assert not autograd.is_recording()
        with autograd.pause(train_mode=True):
            assert autograd.is_training() and not autograd.is_recording()
        assert autograd.is_recording() and autograd.is_training()
        d = x * 2
    assert not autograd.is_recording() and not autograd.is_training()
    assert fluxion.is_grad_enabled()
    assert a.requires_grad and not b.requires_grad and c.requires_grad and d.requires_grad


def test_scope_restores_after_an_exception():
    with pytest.raises(KeyError):
        with autograd.record():
            raise KeyError
    assert not autograd.is_recording() and not autograd.is_training()
    assert fluxion.is_grad_enabled()


def test_train_and_predict_mode_leave_recording_alone():
    with autograd.train_mode():
        assert autograd.is_training() and not autograd.is_recording()
    with autograd.record():
        with autograd.predict_mode():
            assert not autograd.is_training() and autograd.is_recording()
    assert not autograd.is_training()


def test_set_recording_and_set_training_return_previous():
    assert autograd.set_recording(True) is False
    try:
        x = nd.ones(2)
        x.attach_grad()
        assert (x * 2).requires_grad
    finally:
        assert autograd.set_recording(False) is True
    assert autograd.set_training(True) is False
    assert autograd.set_training(False) is True


def test_mx_state_is_thread_local():
    seen = []
    with autograd.record():
        t = threading.Thread(
            target=lambda: seen.append((autograd.is_recording(), autograd.is_training()))
        )
        t.start()
        t.join()
    assert seen == [(False, False)]


def test_fluxion_functions_inside_record_are_recorded():
    x = nd.array(_data(4))
    x.attach_grad()
    with autograd.record():
        y = fluxion.tanh(x).sum()  # a plain fluxion function on an NDArray
    y.backward()
    np.testing.assert_allclose(
        x.grad.asnumpy(), _torch_grad(lambda t: t.tanh().sum(), x.asnumpy()), rtol=1e-6
    )


# ---------------------------------------------------------------------------- implicit sum


FUNCS = {
    "square": lambda m, x: m.square(x) if m is nd else x * x,
    "exp_mul": lambda m, x: (x.exp() * x) if m is nd else x.exp() * x,
    "matmul": lambda m, x: nd.dot(x, x.T) if m is nd else x @ x.T,
    "softmax": lambda m, x: nd.softmax(x) if m is nd else torch.softmax(x, -1),
    "sum_axis": lambda m, x: nd.sum(x, axis=1) if m is nd else x.sum(1),
}


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_implicit_sum_equals_explicit_ones_and_torch(name):
    a = _data(3, 4)
    f = FUNCS[name]
    x = nd.array(a)
    x.attach_grad()
    with autograd.record():
        y = f(nd, x)
    y.backward()
    implicit = x.grad.asnumpy().copy()
    with autograd.record():
        y = f(nd, x)
    y.backward(nd.ones_like(y))
    np.testing.assert_array_equal(x.grad.asnumpy(), implicit)
    np.testing.assert_allclose(
        implicit, _torch_grad(lambda t: f(torch, t), a), rtol=1e-5, atol=1e-6
    )


def test_backward_with_out_grad_matches_torch():
    a, g = _data(3, 4), _data(3, 4)
    x = nd.array(a)
    x.attach_grad()
    with autograd.record():
        y = x * x * x
    y.backward(nd.array(g))
    t = torch.tensor(a, requires_grad=True)
    (t * t * t).backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.asnumpy(), t.grad.numpy(), rtol=1e-6)


def test_autograd_backward_multiple_heads_with_head_grads():
    a, b = _data(3), _data(3)
    x, y = nd.array(a), nd.array(b)
    x.attach_grad()
    y.attach_grad()
    with autograd.record():
        h1, h2 = x * y, (x + y).exp()
    autograd.backward([h1, h2], [nd.ones(3), nd.full(3, 2.0)])
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    torch.autograd.backward([tx * ty, (tx + ty).exp()], [torch.ones(3), torch.full((3,), 2.0)])
    np.testing.assert_allclose(x.grad.asnumpy(), tx.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(y.grad.asnumpy(), ty.grad.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="same length"):
        autograd.backward([h1, h2], [nd.ones(3)])


# ---------------------------------------------------------------------------- grad_req


def _step(x, scale):
    with autograd.record():
        y = (x * x * scale).sum()
    y.backward()


def test_grad_req_write_overwrites_each_backward():
    a = _data(4)
    x = nd.array(a)
    x.attach_grad()
    buf = x.grad
    np.testing.assert_array_equal(buf.asnumpy(), np.zeros(4, np.float32))
    for scale in (1.0, 3.0, 5.0):
        _step(x, scale)
        np.testing.assert_allclose(x.grad.asnumpy(), 2 * scale * a, rtol=1e-6)
    assert x.grad is buf  # the same buffer, written in place


def test_grad_req_add_accumulates():
    a = _data(4)
    x = nd.array(a)
    x.attach_grad(grad_req="add")
    total = np.zeros(4, np.float32)
    for scale in (1.0, 3.0, 5.0):
        _step(x, scale)
        total += 2 * scale * a
        np.testing.assert_allclose(x.grad.asnumpy(), total, rtol=1e-5)
    x.grad[:] = 0  # the usual way to reset an 'add' buffer
    _step(x, 1.0)
    np.testing.assert_allclose(x.grad.asnumpy(), 2 * a, rtol=1e-6)


def test_grad_req_null_never_writes():
    x, w = nd.array(_data(4)), nd.array(_data(4))
    x.attach_grad(grad_req="null")
    w.attach_grad()
    for _ in range(2):
        with autograd.record():
            y = (x * w).sum()
        y.backward()  # recorded (x is a marked variable) but x's gradient is not computed
        np.testing.assert_array_equal(x.grad.asnumpy(), np.zeros(4, np.float32))
        np.testing.assert_allclose(w.grad.asnumpy(), x.asnumpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="grad_req"):
        x.attach_grad(grad_req="sometimes")


def test_mark_variables_with_own_buffers():
    a = _data(3)
    x, g = nd.array(a), nd.zeros(3)
    autograd.mark_variables(x, g, "add")
    for _ in range(2):
        with autograd.record():
            y = x.exp()
        y.backward()
    np.testing.assert_allclose(g.asnumpy(), 2 * np.exp(a), rtol=1e-6)
    assert x.grad is g
    with pytest.raises(ValueError, match="shape"):
        autograd.mark_variables([x], [nd.zeros(4)])


def test_second_backward_needs_retain_graph():
    x = nd.array(_data(3))
    x.attach_grad()
    with autograd.record():
        y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.asnumpy().copy()
    y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), first)  # 'write': same value again
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


# ---------------------------------------------------------------------------- grad and detach


def test_autograd_grad_returns_list_and_leaves_grad_alone():
    a = _data(3)
    x = nd.array(a)
    x.attach_grad()
    with autograd.record():
        z = nd.exp(x) + x
    dx = autograd.grad(z, [x])
    assert isinstance(dx, list) and len(dx) == 1 and isinstance(dx[0], nd.NDArray)
    np.testing.assert_allclose(dx[0].asnumpy(), np.exp(a) + 1, rtol=1e-6)
    np.testing.assert_array_equal(x.grad.asnumpy(), np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="empty"):
        autograd.grad(z, [])


def test_autograd_grad_create_graph_second_order_matches_torch():
    a = _data(4)
    x = nd.array(a)
    x.attach_grad()
    with autograd.record():
        y = (x * x * x).sum()
        (dx,) = autograd.grad(y, [x], create_graph=True)
        z = (dx * dx).sum()
    z.backward()
    t = torch.tensor(a, requires_grad=True)
    (tdx,) = torch.autograd.grad((t**3).sum(), t, create_graph=True)
    (tdx * tdx).sum().backward()
    np.testing.assert_allclose(x.grad.asnumpy(), t.grad.numpy(), rtol=1e-5)


def test_detach_is_not_tracked_and_has_no_grad():
    x = nd.array(_data(3))
    x.attach_grad()
    with autograd.record():
        d = x.detach()
        y = d * 2
        z = (x * d).sum()
    assert isinstance(d, nd.NDArray) and d.grad is None
    assert not d.requires_grad and not y.requires_grad
    z.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), d.asnumpy(), rtol=1e-6)  # d is a constant


def test_is_training_drives_dropout_through_backward_train_mode():
    x = nd.ones((50, 50))
    x.attach_grad()
    with autograd.record(train_mode=False):
        y = nd.Dropout(x, p=0.5)
    y.backward(train_mode=False)
    np.testing.assert_array_equal(x.grad.asnumpy(), np.ones((50, 50), np.float32))


def test_plain_fluxion_parameters_accumulate_like_torch():
    w = fluxion.tensor(_data(3), requires_grad=True)
    x = nd.array(_data(3))
    for _ in range(2):
        with autograd.record():
            y = (x * w).sum()
        y.backward()
    np.testing.assert_allclose(w.grad.detach().numpy(), 2 * x.asnumpy(), rtol=1e-6)
