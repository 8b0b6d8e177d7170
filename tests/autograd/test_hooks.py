"""Tensor and node hooks: order, modification, removal, retain_grad, post-accumulate hooks.

Every test takes ``lib`` and runs on fluxion and, when installed, on torch, asserting the same
logs: the expected values below are what PyTorch does with the same code.
"""

import importlib
import importlib.util

import pytest

LIBS = ["fluxion"] + (["torch"] if importlib.util.find_spec("torch") else [])


@pytest.fixture(params=LIBS)
def lib(request):
    return importlib.import_module(request.param)


def vals(t):
    return None if t is None else t.tolist()


# ------------------------------------------------------------------ tensor hooks on leaves


def test_hooks_leaf_hooks_run_in_order_and_chain(lib):
    log = []
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: log.append(("h1", vals(g))) or g * 2)
    x.register_hook(lambda g: log.append(("h2", vals(g))))  # None: keeps the grad
    x.register_hook(lambda g: log.append(("h3", vals(g))) or g + 1)
    (x * 3).sum().backward()
    assert log == [("h1", [3.0, 3.0]), ("h2", [6.0, 6.0]), ("h3", [6.0, 6.0])]
    assert vals(x.grad) == [7.0, 7.0]


def test_hooks_remove_handle(lib):
    log = []
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: log.append("a"))
    handle = x.register_hook(lambda g: log.append("b") or g * 10)
    x.register_hook(lambda g: log.append("c"))
    (x * 1).sum().backward()
    handle.remove()
    handle.remove()  # removing twice is harmless
    x.grad = None
    (x * 1).sum().backward()
    assert log == ["a", "b", "c", "a", "c"]
    assert vals(x.grad) == [1.0, 1.0]


def test_hooks_handle_as_context_manager(lib):
    log = []
    x = lib.tensor([1.0], requires_grad=True)
    with x.register_hook(lambda g: log.append("in")):
        (x * 1).sum().backward()
    (x * 1).sum().backward()
    assert log == ["in"]


def test_hooks_leaf_used_twice_sees_summed_grad_once(lib):
    log = []
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: log.append(vals(g)))
    (x * 2 + x * 3).sum().backward()
    assert log == [[5.0, 5.0]]
    assert vals(x.grad) == [5.0, 5.0]


def test_hooks_run_on_every_backward(lib):
    log = []
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: log.append(vals(g)))
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert log == [[2.0, 4.0], [2.0, 4.0]]
    assert vals(x.grad) == [4.0, 8.0]


def test_hooks_register_on_tensor_without_grad_raises(lib):
    with pytest.raises(
        RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"
    ):
        lib.ones(2).register_hook(lambda g: g)


def test_hooks_changing_the_size_raises(lib):
    def bad(g):
        return g.sum()

    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.register_hook(bad)
    with pytest.raises(RuntimeError, match="hook 'bad' has changed the size of value"):
        y.sum().backward()


# ------------------------------------------------------------------ tensor hooks on non-leaves


def test_hooks_non_leaf_hook_changes_what_flows_on(lib):
    log = []
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: log.append(vals(g)) or g * 10)
    (y * y).sum().backward()
    assert log == [[4.0, 8.0]]
    assert vals(x.grad) == [80.0, 160.0]


def test_hooks_retain_grad_stores_the_grad_after_all_hooks(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g * 10)
    y.retain_grad()
    y.register_hook(lambda g: g + 1)  # registered after retain_grad, still runs before it
    (y * y).sum().backward()
    assert vals(y.grad) == [41.0, 81.0]
    assert vals(x.grad) == [82.0, 162.0]


def test_hooks_retain_grad_before_hook(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g * 10)
    (y * y).sum().backward()
    assert vals(y.grad) == [40.0, 80.0]
    assert vals(x.grad) == [80.0, 160.0]


def test_hooks_on_one_output_of_a_multi_output_node(lib):
    log = []
    x = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    a, b = x.unbind(0)
    b.register_hook(lambda g: log.append(vals(g)) or g * 100)
    (a * 2 + b).sum().backward()
    assert log == [[1.0, 1.0]]
    assert vals(x.grad) == [[2.0, 2.0], [100.0, 100.0]]


# ------------------------------------------------------------------ hooks and autograd.grad


def test_hooks_run_before_autograd_grad_captures(lib):
    log = []
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    x.register_hook(lambda g: log.append(("x", vals(g))) or g * 10)
    y.register_hook(lambda g: log.append(("y", vals(g))) or g * 10)
    (gx,) = lib.autograd.grad((y * y).sum(), [x])
    assert log == [("y", [4.0, 8.0]), ("x", [80.0, 160.0])]
    assert vals(gx) == [800.0, 1600.0]
    assert vals(y.grad) == [40.0, 80.0]
    assert x.grad is None


def test_hooks_grad_with_respect_to_retained_non_leaf(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    (gy,) = lib.autograd.grad((y * y).sum(), [y])
    assert vals(gy) == [4.0, 8.0]
    assert vals(y.grad) == [4.0, 8.0]


# ------------------------------------------------------------------ post-accumulate-grad hooks


def test_hooks_post_accumulate_grad_hook(lib):
    log = []
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    x.register_post_accumulate_grad_hook(lambda t: log.append(("post", t is x, vals(t.grad))))
    x.register_hook(lambda g: log.append(("pre", vals(g))))
    (x * 2).sum().backward()
    (x * 2).sum().backward()
    assert log == [
        ("pre", [2.0, 2.0]),
        ("post", True, [2.0, 2.0]),
        ("pre", [2.0, 2.0]),
        ("post", True, [4.0, 4.0]),
    ]


def test_hooks_post_accumulate_grad_hook_remove(lib):
    log = []
    x = lib.tensor([1.0], requires_grad=True)
    handle = x.register_post_accumulate_grad_hook(lambda t: log.append(1))
    (x * 2).sum().backward()
    handle.remove()
    (x * 2).sum().backward()
    assert log == [1]


def test_hooks_post_accumulate_grad_hook_not_on_non_leaf(lib):
    x = lib.tensor([1.0], requires_grad=True)
    with pytest.raises(
        RuntimeError, match="post accumulate grad hooks cannot be registered on non-leaf tensors"
    ):
        (x * 2).register_post_accumulate_grad_hook(lambda t: None)


def test_hooks_post_accumulate_grad_hook_not_run_by_autograd_grad(lib):
    log = []
    x = lib.tensor([1.0], requires_grad=True)
    x.register_post_accumulate_grad_hook(lambda t: log.append(1))
    lib.autograd.grad((x * 2).sum(), [x])
    assert log == []


# ------------------------------------------------------------------ node hooks


def test_hooks_node_prehook_and_hook(lib):
    log = []
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.grad_fn.register_prehook(
        lambda go: log.append(("pre", [vals(g) for g in go])) or (go[0] * 2,)
    )
    y.grad_fn.register_hook(
        lambda gi, go: log.append(("post", [vals(g) for g in gi], [vals(g) for g in go]))
    )
    y.sum().backward()
    assert log == [
        ("pre", [[1.0, 1.0]]),
        ("post", [[6.0, 6.0], None], [[2.0, 2.0]]),
    ]
    assert vals(x.grad) == [6.0, 6.0]


def test_hooks_node_hook_replaces_grad_inputs(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.grad_fn.register_hook(lambda gi, go: (gi[0] * 0 + 7, None))
    y.sum().backward()
    assert vals(x.grad) == [7.0, 7.0]


def test_hooks_node_hook_wrong_count_raises(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3

    def short(gi, go):
        return (gi[0],)

    y.grad_fn.register_hook(short)
    with pytest.raises(
        RuntimeError,
        match=r"hook 'short' has returned an incorrect number of values \(got 1, but expected 2\)",
    ):
        y.sum().backward()


def test_hooks_node_hook_remove(lib):
    log = []
    x = lib.tensor([1.0], requires_grad=True)
    y = x * 3
    h1 = y.grad_fn.register_prehook(lambda go: log.append("pre"))
    h2 = y.grad_fn.register_hook(lambda gi, go: log.append("post"))
    h1.remove()
    h2.remove()
    y.sum().backward()
    assert log == []
    assert vals(x.grad) == [3.0]


def test_hooks_tensor_hook_runs_before_node_prehook(lib):
    log = []
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.grad_fn.register_prehook(lambda go: log.append(("nodepre", vals(go[0]))))
    y.register_hook(lambda g: log.append(("tensor", vals(g))) or g * 2)
    y.sum().backward()
    assert log == [("tensor", [1.0, 1.0]), ("nodepre", [2.0, 2.0])]
    assert vals(x.grad) == [6.0, 6.0]


def test_hooks_accumulate_grad_node_hooks_and_leaf_hook_order(lib):
    log = []
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    acc = y.grad_fn.next_functions[0][0]
    assert acc.variable is x
    acc.register_prehook(lambda go: log.append(("accpre", vals(go[0]))))
    acc.register_hook(lambda gi, go: log.append(("accpost", gi, vals(go[0]))))
    x.register_hook(lambda g: log.append(("leaf", vals(g))) or g * 2)
    y.sum().backward()
    assert log == [
        ("leaf", [3.0, 3.0]),
        ("accpre", [6.0, 6.0]),
        ("accpost", (), [6.0, 6.0]),
    ]
    assert vals(x.grad) == [6.0, 6.0]


def test_hooks_see_grad_mode_of_create_graph(lib):
    log = []
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    y.register_hook(lambda g: log.append((lib.is_grad_enabled(), g.requires_grad)))
    y.sum().backward(retain_graph=True)
    lib.autograd.grad(y.sum(), [x], create_graph=True)
    assert log == [(False, False), (True, False)]
