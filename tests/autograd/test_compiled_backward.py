"""The compiled backward recognises a repeated graph shape, and only that shape.

From the second backward of a structure on, ``ops/_compiled.py`` runs a generated function;
from the third, a generated ``match`` recognises the graph without the full walk. These tests
alternate graphs that a careless check would confuse (same classes, different sharing; same
root, different depth; hooks added later) and compare every gradient with torch.
"""

from __future__ import annotations

import numpy as np
import pytest

import fluxion

torch = pytest.importorskip("torch")

ROUNDS = 6


def _leaves(lib, n):
    rng = np.random.default_rng(3)
    return [lib.tensor(rng.uniform(0.5, 1.5, 4), requires_grad=True) for _ in range(n)]


GRAPHS = {
    "square": lambda a, b: (a * a).sum(),  # one leaf reached twice
    "product": lambda a, b: (a * b).sum(),  # the same classes, two leaves
    "shared_node": lambda a, b: ((a + b) * (a + b)).sum(),  # two nodes, equal structure
    "one_node": lambda a, b: (lambda s: s * s)(a + b).sum(),  # one node reached twice
    "deeper": lambda a, b: ((a * b).tanh() * a).sum(),
}


def test_alternating_graph_shapes_give_torch_gradients():
    fa, fb = _leaves(fluxion, 2)
    ta, tb = _leaves(torch, 2)
    for _ in range(ROUNDS):
        for name, graph in GRAPHS.items():
            for x in (fa, fb, ta, tb):
                x.grad = None
            graph(fa, fb).backward()
            graph(ta, tb).backward()
            for f, t in ((fa, ta), (fb, tb)):
                if t.grad is None:
                    assert f.grad is None, name
                else:
                    np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=1e-6)


def test_hooks_added_to_a_compiled_shape_still_run():
    a, b = _leaves(fluxion, 2)
    seen = []
    for i in range(ROUNDS):
        a.grad = b.grad = None
        y = a * b
        if i >= 3:  # the shape has been compiled and matched by now
            y.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 2)
        y.sum().backward()
        factor = 2.0 if i >= 3 else 1.0
        np.testing.assert_allclose(a.grad.numpy(), factor * b.detach().numpy())
    assert len(seen) == ROUNDS - 3


def test_retain_graph_and_freed_graph_errors_survive_matching():
    a, b = _leaves(fluxion, 2)
    for _ in range(ROUNDS):
        a.grad = None
        loss = (a * b).tanh().sum()
        loss.backward(retain_graph=True)
        loss.backward()
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            loss.backward()
    ta, tb = _leaves(torch, 2)
    (ta * tb).tanh().sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), 2 * ta.grad.numpy(), rtol=1e-6)


def _dropping_function(lib):
    class Drop(lib.autograd.Function):
        """Identity whose backward sends no gradient on."""

        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, grad):
            return None

    return Drop


def test_no_gradient_through_a_skipped_node_reaches_nothing():
    # Drop's None makes cat's node (run through its own apply) skip; the inline nodes after it
    # must see no gradient rather than fail on None
    for lib in (fluxion, torch):
        drop = _dropping_function(lib)
        a, b = _leaves(lib, 2)
        for _ in range(ROUNDS):
            y = drop.apply(lib.cat([a * 2.0, b * 3.0])) * 1.0 + a.sum()
            y.sum().backward()
            assert b.grad is None
            np.testing.assert_allclose(a.grad.numpy(), np.full(4, 8.0))  # from a.sum() alone
            a.grad = None


def _small_expr_rules():
    from fluxion.ops import REGISTRY

    for name, op in sorted(REGISTRY.items()):
        for rule, _ in op.raw_rules or ():
            if getattr(rule, "small_expr", None) is not None:
                yield pytest.param(rule, id=f"{name}:{rule.small_expr}")


@pytest.mark.parametrize("rule", list(_small_expr_rules()))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_small_expr_is_what_the_rule_computes(rule, dtype):
    # the compiled backward writes small_expr in place of the call: it must be the rule's own
    # arithmetic, to the bit (values away from 0 so every rule is defined)
    rng = np.random.default_rng(7)
    code = rule.__code__
    names = code.co_varnames[: code.co_argcount]
    args = [rng.uniform(0.5, 2.0, (3, 5)).astype(dtype) for _ in names]
    args[-1][0, :2] = -args[-1][0, :2]  # some negatives (relu's mask)
    expected = rule(*args)
    got = eval(rule.small_expr, {}, dict(zip(names, args)))  # noqa: S307 - our own declaration
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
