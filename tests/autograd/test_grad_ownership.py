"""Who owns a leaf's ``.grad``: the leaf takes a gradient array nothing else refers to.

PyTorch's AccumulateGrad steals an incoming gradient whose use count is 1 and copies any
other. fluxion does the same with the array's reference count, in the engine's walk, in the
compiled backward (the same graph shape from the third backward on) and in ``trace_backward``.
These tests check both sides: a private array is kept (no copy), and a shared one (passed
through to two leaves, or the caller's own ``gradient``) is never aliased by a ``.grad``.
"""

from __future__ import annotations

import weakref

import numpy as np
import pytest

import fluxion
from fluxion import autograd

torch = pytest.importorskip("torch")

RUNS = 4  # runs 1-2 go through the engine's walk, later ones through the compiled backward


class _Fresh(autograd.Function):
    """Identity whose backward returns a new array and remembers it (weakly)."""

    made: list = []

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        g = fluxion.tensor(np.asarray(grad.numpy()) * 2.0)
        _Fresh.made.append(weakref.ref(g._data))
        return g


def test_leaf_keeps_a_private_gradient_without_copying():
    x = fluxion.ones(3, requires_grad=True)
    for _ in range(RUNS):
        x.grad = None
        _Fresh.made.clear()
        _Fresh.apply(x).sum().backward()
        made = _Fresh.made[0]()
        assert made is not None and x.grad._data is made
        np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])


def test_gradient_passed_through_to_two_leaves_is_not_shared():
    a = fluxion.tensor([1.0, 2.0], requires_grad=True)
    b = fluxion.tensor([3.0, 4.0], requires_grad=True)
    for _ in range(RUNS):
        a.grad = b.grad = None
        ((a + b) * 3.0).sum().backward()  # add hands mul's fresh gradient to both leaves
        assert not np.shares_memory(a.grad._data, b.grad._data)
        a.grad.add_(1.0)
        np.testing.assert_array_equal(b.grad.numpy(), [3.0, 3.0])
        np.testing.assert_array_equal(a.grad.numpy(), [4.0, 4.0])


def test_callers_gradient_is_never_aliased():
    x = fluxion.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(RUNS):
        x.grad = None
        g = fluxion.tensor([0.5, 0.25])
        (x + 0.0).backward(g)  # add passes the caller's array straight to the leaf
        assert not np.shares_memory(x.grad._data, g._data)
        g.mul_(100.0)
        np.testing.assert_array_equal(x.grad.numpy(), [0.5, 0.25])


def test_views_of_a_shared_buffer_are_copied():
    w = fluxion.ones(2, 3, requires_grad=True)
    keep = []
    for _ in range(RUNS):
        w.grad = None
        y = w.t() * 2.0
        y.register_hook(keep.append)  # the hook holds the gradient: the leaf must not take it
        y.sum().backward()
        np.testing.assert_array_equal(w.grad.numpy(), np.full((2, 3), 2.0))
        assert w.grad.numpy().flags.c_contiguous
        assert not np.shares_memory(w.grad._data, keep[-1]._data)  # not the hook's array


@pytest.mark.parametrize("traced", [False, True])
def test_linear_weight_gradient_is_row_major_and_matches_torch(traced):
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((5, 4)).astype(np.float32)
    ws = rng.standard_normal((3, 4)).astype(np.float32)
    bs = rng.standard_normal(3).astype(np.float32)
    w = fluxion.tensor(ws, requires_grad=True)
    b = fluxion.tensor(bs, requires_grad=True)
    x = fluxion.tensor(xs)

    def loss(x):
        return fluxion.nn.functional.linear(x, w, b).tanh().sum()

    run = fluxion.jit.trace_backward(loss) if traced else lambda x: loss(x).backward()
    tw = torch.tensor(ws, requires_grad=True)
    tb = torch.tensor(bs, requires_grad=True)
    torch.nn.functional.linear(torch.tensor(xs), tw, tb).tanh().sum().backward()
    for _ in range(RUNS):
        w.grad = b.grad = None
        run(x)
        assert w.grad._data.flags.c_contiguous  # the layout of the weight, as in PyTorch
        np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_mm_gradient_of_a_column_major_operand_matches_torch_in_float64():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((6, 5))
    m = rng.standard_normal((7, 5))
    fa, fm = fluxion.tensor(a, requires_grad=True), fluxion.tensor(m, requires_grad=True)
    ta, tm = torch.tensor(a, requires_grad=True), torch.tensor(m, requires_grad=True)
    for lib, x, y in ((fluxion, fa, fm), (torch, ta, tm)):
        out = lib.mm(x, y.t())  # y.t() is column-major
        (out * out).sum().backward(create_graph=lib is fluxion)
    np.testing.assert_allclose(fm.grad.detach().numpy(), tm.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(fa.grad.detach().numpy(), ta.grad.numpy(), rtol=1e-12)
