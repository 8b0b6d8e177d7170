"""The backward engine: graph shapes, accumulation, retain/create_graph, inputs=, errors, memory.

Most tests take ``lib``: they run once on fluxion and, when torch is installed, once more on
torch, so every expected value and message below is also checked against PyTorch itself.
"""

import gc
import importlib
import importlib.util
import math
import re
import warnings
import weakref

import numpy as np
import pytest

import fluxion
from fluxion.autograd.engine import AccumulateGrad, Node

LIBS = ["fluxion"] + (["torch"] if importlib.util.find_spec("torch") else [])
FREED = "Trying to backward through the graph a second time"
# torch warns that backward(create_graph=True) makes a .grad <-> graph reference cycle
pytestmark = pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")


@pytest.fixture(params=LIBS)
def lib(request):
    return importlib.import_module(request.param)


def close(t, expected):
    np.testing.assert_allclose(np.asarray(t.tolist(), dtype=float), expected, rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------ graph shapes


def test_engine_diamond_graph(lib):
    x = lib.tensor(2.0, requires_grad=True)
    a = x * 3  # a = 3x
    b = a * a  # b = 9x^2
    c = a + b  # c = 3x + 9x^2
    d = c * a  # d = 9x^2 + 27x^3 -> d' = 18x + 81x^2
    d.backward()
    close(x.grad, 18 * 2 + 81 * 4)


def test_engine_shared_subexpression_used_three_times(lib):
    x = lib.tensor([0.5, -1.0], requires_grad=True)
    y = x.exp()
    z = (y * y + y).sum()  # dz/dx = 2 e^{2x} + e^x
    z.backward()
    xs = np.array([0.5, -1.0])
    close(x.grad, 2 * np.exp(2 * xs) + np.exp(xs))


def test_engine_same_input_twice_in_one_op(lib):
    x = lib.tensor([1.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    close(x.grad, [2.0, 6.0])


def test_engine_multiple_roots_share_a_subgraph(lib):
    x = lib.tensor(2.0, requires_grad=True)
    a = x * x
    lib.autograd.backward([a, a * 3])  # d(a + 3a)/dx = 8x
    close(x.grad, 16.0)


def test_engine_leaf_as_root(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    v = lib.tensor([3.0, 4.0])
    x.backward(v)
    close(x.grad, [3.0, 4.0])
    assert x.grad is not v  # the leaf owns its .grad
    v.mul_(0)
    close(x.grad, [3.0, 4.0])


def test_engine_constant_branch_gets_no_edge(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    c = lib.tensor([5.0, 6.0])
    y = x * c
    (fn0, nr0), (fn1, nr1) = y.grad_fn.next_functions
    assert type(fn0).__name__ == "AccumulateGrad" and nr0 == 0
    assert fn1 is None and nr1 == 0


# ------------------------------------------------------------------ accumulation and retain_graph


def test_engine_accumulates_across_backward_calls(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    first = x.grad
    for _ in range(2):
        (x * x).sum().backward()
    close(x.grad, [6.0, 12.0])
    assert x.grad is first  # accumulated in place, as PyTorch does


def test_engine_retain_graph_then_second_backward_error(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    z = (x * x).sum()
    z.backward(retain_graph=True)
    z.backward(retain_graph=True)
    z.backward()  # frees the saved tensors
    close(x.grad, [6.0, 12.0])
    with pytest.raises(RuntimeError) as info:
        z.backward()
    assert str(info.value).startswith(FREED)
    assert "retain_graph=True" in str(info.value)
    close(x.grad, [6.0, 12.0])


def test_engine_graph_without_saved_tensors_runs_twice(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = lib.tensor([3.0, 4.0], requires_grad=True)
    s = (x + y).sum()
    s.backward()
    s.backward()  # AddBackward0 / SumBackward0 saved nothing: no error, as in torch
    close(x.grad, [2.0, 2.0])
    close(y.grad, [2.0, 2.0])


def test_engine_autograd_grad_frees_the_graph_too(lib):
    x = lib.tensor(2.0, requires_grad=True)
    y = x.exp()
    lib.autograd.grad(y, x)
    with pytest.raises(RuntimeError, match=f"^{FREED}"):
        lib.autograd.grad(y, x)


def test_engine_create_graph_default_retains(lib):
    x = lib.tensor(2.0, requires_grad=True)
    y = x**3
    (g,) = lib.autograd.grad(y, x, create_graph=True)
    (g2,) = lib.autograd.grad(y, x)  # retain_graph defaulted to create_graph=True
    close(g, 12.0)
    close(g2, 12.0)


# ------------------------------------------------------------------ higher order


def test_engine_third_derivative_of_cube(lib):
    x = lib.tensor(2.0, requires_grad=True)
    y = x**3
    (g1,) = lib.autograd.grad(y, x, create_graph=True)
    (g2,) = lib.autograd.grad(g1, x, create_graph=True)
    (g3,) = lib.autograd.grad(g2, x)
    close(g1, 12.0)  # 3x^2
    close(g2, 12.0)  # 6x
    close(g3, 6.0)
    assert g1.requires_grad and g2.requires_grad and not g3.requires_grad


def test_engine_backward_create_graph_grad_is_differentiable(lib):
    x = lib.tensor(2.0, requires_grad=True)
    (x**3).backward(create_graph=True)
    g = x.grad
    assert g.requires_grad and g.grad_fn is not None
    close(g, 12.0)
    x.grad = None
    g.backward()
    close(x.grad, 12.0)


def test_engine_create_graph_leaves_sharing_a_grad_stay_independent(lib):
    # add hands the same gradient to both leaves: each must own a copy
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = lib.tensor([1.0, 2.0], requires_grad=True)
    (x + y).sum().backward(create_graph=True)
    assert x.grad is not y.grad
    (x + y).sum().backward()
    close(x.grad, [2.0, 2.0])
    close(y.grad, [2.0, 2.0])


def test_engine_grad_of_grad_mixed_partials(lib):
    x = lib.tensor(1.5, requires_grad=True)
    w = lib.tensor(-0.5, requires_grad=True)
    f = (x * w).exp()
    gx, gw = lib.autograd.grad(f, [x, w], create_graph=True)
    (gxw,) = lib.autograd.grad(gx, w)  # d/dw (w e^{xw}) = e^{xw} (1 + xw)
    e = math.exp(1.5 * -0.5)
    close(gx, -0.5 * e)
    close(gw, 1.5 * e)
    close(gxw, e * (1 + 1.5 * -0.5))


# ------------------------------------------------------------------ inputs=


def test_engine_backward_inputs_leaf(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    w = lib.tensor([3.0, 4.0], requires_grad=True)
    (x * w).sum().backward(inputs=[x])
    close(x.grad, [3.0, 4.0])
    assert w.grad is None


def test_engine_backward_inputs_single_tensor(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    w = lib.tensor([3.0, 4.0], requires_grad=True)
    (x * w).sum().backward(inputs=w)
    close(w.grad, [1.0, 2.0])
    assert x.grad is None


def test_engine_backward_inputs_non_leaf(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    (h * 3).sum().backward(inputs=[h])
    close(h.grad, [3.0, 3.0])
    assert x.grad is None


def test_engine_backward_inputs_non_leaf_retains_its_grad(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    h = x + 1  # AddBackward0 saves nothing, so the graph can run again
    (h * 3).sum().backward(inputs=[h])
    assert h.retains_grad  # PyTorch calls retain_grad() on non-leaf inputs
    close(h.grad, [3.0, 3.0])
    assert x.grad is None
    (h * 2).sum().backward()
    close(h.grad, [5.0, 5.0])
    close(x.grad, [2.0, 2.0])


def test_engine_grad_does_not_run_nodes_below_its_inputs(lib):
    x = lib.tensor([0.0, 1.0], requires_grad=True)
    h = x.exp()
    lib.autograd.grad((h * 3).sum(), [h])
    h.sum().backward()  # ExpBackward0 never ran, so its saved result is still there
    close(x.grad, np.exp([0.0, 1.0]))


def test_engine_backward_inputs_empty_error(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="`inputs` argument to `backward\\(\\)` cannot be empty"):
        (x * 2).sum().backward(inputs=[])


# ------------------------------------------------------------------ autograd.grad


def test_engine_grad_does_not_touch_dot_grad(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    (g,) = lib.autograd.grad((x * x).sum(), x)
    close(g, [2.0, 4.0])
    assert x.grad is None


def test_engine_grad_unused_input_error(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    w = lib.tensor([3.0, 4.0], requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        lib.autograd.grad((x * 2).sum(), [x, w])
    assert str(info.value) == (
        "The differentiated Tensor at index 1 appears to not have been used in the graph. "
        "Set allow_unused=True if this is the desired behavior."
    )


def test_engine_grad_allow_unused_and_materialize(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    w = lib.tensor([3.0, 4.0], requires_grad=True)
    gx, gw = lib.autograd.grad((x * 2).sum(), [x, w], allow_unused=True, retain_graph=True)
    close(gx, [2.0, 2.0])
    assert gw is None
    gx, gw = lib.autograd.grad((x * 2).sum(), [x, w], materialize_grads=True)
    close(gw, [0.0, 0.0])
    with pytest.raises(ValueError, match="allow_unused"):
        lib.autograd.grad((x * 2).sum(), [x, w], materialize_grads=True, allow_unused=False)


def test_engine_grad_unreached_non_leaf_is_unused(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    (g,) = lib.autograd.grad((x * 3).sum(), [h], allow_unused=True)
    assert g is None


def test_engine_grad_with_grad_outputs_and_multiple_outputs(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    w = lib.tensor([3.0, 4.0], requires_grad=True)
    gx, gw = lib.autograd.grad(
        [x * 2, x * w], [x, w], grad_outputs=[lib.ones(2), lib.tensor([1.0, 10.0])]
    )
    close(gx, [2 + 3, 2 + 40])
    close(gw, [1.0, 20.0])


def test_engine_grad_with_respect_to_the_output_itself(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    gy, gx = lib.autograd.grad(y, [y, x], lib.tensor([5.0, 6.0]))
    close(gy, [5.0, 6.0])
    close(gx, [5.0, 6.0])


def test_engine_grad_count_mismatch_and_shape_mismatch(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="got 2 tensors and 1 gradients"):
        lib.autograd.grad([x * 2, x * 3], [x], grad_outputs=[lib.ones(2)])
    with pytest.raises(RuntimeError, match="got 2 tensors and 1 gradients"):
        lib.autograd.backward([x * 2, x * 3], [lib.ones(2)])
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output\[0\] has a shape of"):
        (x * 2).backward(lib.ones(3))


def test_engine_grad_errors_for_inputs(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(
        RuntimeError, match="One of the differentiated Tensors does not require grad"
    ):
        lib.autograd.grad((x * 2).sum(), [lib.ones(2)])
    with pytest.raises(RuntimeError, match="`inputs` argument to `grad\\(\\)` cannot be empty"):
        lib.autograd.grad((x * 2).sum(), [])


# ------------------------------------------------------------------ errors


def test_engine_non_scalar_backward_needs_gradient(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(
        RuntimeError, match="^grad can be implicitly created only for scalar outputs"
    ):
        (x * 2).backward()


def test_engine_backward_on_tensor_not_requiring_grad(lib):
    with pytest.raises(
        RuntimeError,
        match="^element 0 of tensors does not require grad and does not have a grad_fn",
    ):
        lib.ones(2).sum().backward()
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="^element 1 of tensors does not require grad"):
        lib.autograd.backward([(x * 2).sum(), lib.ones(1).sum()])


@pytest.mark.parametrize(
    "make",
    [
        lambda lib: lib.ones(2, dtype=lib.int64, requires_grad=True),
        lambda lib: lib.tensor([1, 2], requires_grad=True),
        lambda lib: lib.ones(2, dtype=lib.int64).requires_grad_(),
        lambda lib: lib.zeros(2, dtype=lib.bool, requires_grad=True),
    ],
)
def test_engine_integer_tensor_cannot_require_grad(lib, make):
    with pytest.raises(RuntimeError, match="(?i)^only Tensors of floating point"):
        make(lib)


def test_engine_legacy_backward_keywords(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    with pytest.warns(FutureWarning, match="grad_variables"):
        lib.autograd.backward([x * x], grad_variables=[lib.ones(2)])
    close(x.grad, [2.0, 4.0])


def test_engine_legacy_retain_variables_keyword():
    # torch 2.x dropped retain_variables; fluxion still accepts it, with a FutureWarning
    x = fluxion.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    with pytest.warns(FutureWarning, match="retain_variables"):
        fluxion.autograd.backward([y], grad_tensors=[fluxion.ones(2)], retain_variables=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fluxion.autograd.backward([y], [fluxion.ones(2)])  # the graph was retained
    close(x.grad, [4.0, 8.0])


# ------------------------------------------------------------------ .grad of non-leaves


def test_engine_non_leaf_grad_is_none_unless_retained(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h2 = x * 3
    h2.retain_grad()
    (h * h2).sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns when reading a non-leaf's .grad
        assert h.grad is None
    close(h2.grad, [2.0, 4.0])
    assert not h.is_leaf and not h2.is_leaf and x.is_leaf
    assert h2.retains_grad and not h.retains_grad


def test_engine_retained_grad_accumulates(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.retain_grad()  # twice is harmless
    z = (y * y).sum()
    z.backward(retain_graph=True)
    z.backward()
    close(y.grad, [8.0, 16.0])


# ------------------------------------------------------------------ graph structure


def test_engine_next_functions_and_accumulate_grad(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = lib.tensor([3.0, 4.0], requires_grad=True)
    z = x * y + x
    add = z.grad_fn
    assert add.name() == "AddBackward0"
    (mul, mul_nr), (acc_x, acc_nr) = add.next_functions
    assert (mul.name(), mul_nr, acc_nr) == ("MulBackward0", 0, 0)
    assert type(acc_x).__name__ == "AccumulateGrad"
    assert acc_x.variable is x
    assert mul.next_functions[0][0] is acc_x  # one AccumulateGrad per leaf, shared
    assert mul.next_functions[1][0].variable is y
    assert acc_x.next_functions == ()


def test_engine_accumulate_grad_is_a_node():
    x = fluxion.tensor([1.0], requires_grad=True)
    acc = (x * 2).grad_fn.next_functions[0][0]
    assert isinstance(acc, AccumulateGrad) and isinstance(acc, Node)
    assert isinstance((x * 2).grad_fn, Node)


def test_engine_grad_fn_repr_and_name(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x + 1
    assert re.fullmatch(r"<AddBackward0 object at 0x[0-9a-f]+>", repr(y.grad_fn))
    assert y.grad_fn.name() == "AddBackward0"
    assert (x * 2).sum().grad_fn.name() == "SumBackward0"
    assert x.grad_fn is None


def test_engine_multi_output_node_edges(lib):
    x = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    a, b = x.unbind(0)
    assert a.grad_fn is b.grad_fn
    (a * 10 + b).sum().backward()
    close(x.grad, [[10.0, 10.0], [1.0, 1.0]])


# ------------------------------------------------------------------ scale and memory


def test_engine_deep_chain_has_no_recursion_limit():
    x = fluxion.tensor([1.0, 2.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0000001
    y.sum().backward()
    factor = float(np.float32(1.0000001))  # the float32 the product really uses
    np.testing.assert_allclose(x.grad.numpy(), [factor**100_000] * 2, rtol=1e-4)
    del y  # tearing down a 100,000-node graph must not recurse either


def test_engine_frees_saved_tensors_after_backward():
    gc.disable()  # refcounting alone must release the graph: no cycles may keep it alive
    try:
        x = fluxion.tensor([1.0, 2.0], requires_grad=True)
        a = x.exp()  # ExpBackward0 saves its result array
        b = a.sin()  # SinBackward0 saves the tensor a
        arr, tens = weakref.ref(a._data), weakref.ref(a)
        out = b.sum()
        del a, b
        assert arr() is not None and tens() is not None
        out.backward(retain_graph=True)
        assert arr() is not None and tens() is not None
        out.backward()
        assert tens() is None
        assert arr() is None
    finally:
        gc.enable()


def test_engine_frees_graph_of_autograd_grad():
    gc.disable()
    try:
        x = fluxion.tensor([1.0, 2.0], requires_grad=True)
        a = x.exp()
        ref = weakref.ref(a._data)
        out = a.sin().sum()
        del a
        fluxion.autograd.grad(out, x)
        assert ref() is None
    finally:
        gc.enable()


def test_engine_dropping_the_output_frees_the_graph():
    gc.disable()
    try:
        x = fluxion.tensor([1.0, 2.0], requires_grad=True)
        a = x.exp()
        ref = weakref.ref(a.grad_fn)
        out = a.sin().sum()
        del a, out
        assert ref() is None
    finally:
        gc.enable()


# ------------------------------------------------------------------ detach / .data


def test_engine_detach_shares_storage_but_is_untracked(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    d.add_(10)
    close(x, [11.0, 12.0])
    y = (d * x).sum()
    y.backward()
    close(x.grad, [11.0, 12.0])  # d was a constant
    assert d.grad is None


def test_engine_data_shares_storage_but_is_untracked(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    dt = x.data
    assert not dt.requires_grad and dt.grad_fn is None
    dt.mul_(3)
    close(x, [3.0, 6.0])
    assert x.requires_grad


def test_engine_detach_of_non_leaf_cuts_history(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    d = h.detach()
    (h * d).sum().backward()
    close(x.grad, [4.0, 8.0])  # only through h: 2 * d


def test_engine_in_place_on_detached_saved_input_is_caught(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = h.sin()  # saves its input h
    h.detach().zero_()  # the alias shares h's version counter
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


@pytest.mark.parametrize("alias", [False, True], ids=["direct", "detached"])
def test_engine_in_place_on_saved_result_is_caught(lib, alias):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()  # ExpBackward0 saves its result
    (y.detach() if alias else y).add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


# ------------------------------------------------------------------ grad mode inside backward


def test_engine_backward_runs_with_grad_mode_of_create_graph(lib):
    seen = []
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: seen.append(lib.is_grad_enabled()))
    (x * x).sum().backward()
    (x * x).sum().backward(create_graph=True)
    y = (x * x).sum()
    with lib.no_grad():
        y.backward()  # backward itself works under no_grad
    assert seen == [False, True, False]
    assert lib.is_grad_enabled()
