"""Custom ``autograd.Function``: both definition styles, ctx API, validation, once_differentiable.

The classes are built by ``_fns(lib)`` from the same source for fluxion and for torch, and the
tests that take ``lib`` run on both, so the expected values and messages are PyTorch's.
"""

import gc
import importlib
import importlib.util
import re
import weakref

import numpy as np
import pytest

import fluxion
from fluxion.autograd import Function, FunctionCtx, once_differentiable
from fluxion.autograd.engine import Node

LIBS = ["fluxion"] + (["torch"] if importlib.util.find_spec("torch") else [])
FREED = "Trying to backward through the graph a second time"


@pytest.fixture(params=LIBS)
def lib(request):
    return importlib.import_module(request.param)


def close(t, expected):
    np.testing.assert_allclose(np.asarray(t.tolist(), dtype=float), expected, rtol=1e-5, atol=1e-7)


def _api(lib):
    """Function and once_differentiable of ``lib``."""
    if lib is fluxion:
        return Function, once_differentiable
    from torch.autograd.function import Function as TFunction
    from torch.autograd.function import once_differentiable as t_once

    return TFunction, t_once


def _fns(lib):
    """Define the same custom Functions against ``lib``; return them in a namespace dict."""
    F, once = _api(lib)
    ns = {}

    class Scale(F):  # old style, non-tensor argument, records what it saw
        seen = {}

        @staticmethod
        def forward(ctx, x, k):
            Scale.seen["fwd_grad_mode"] = lib.is_grad_enabled()
            ctx.k = k
            ctx.save_for_backward(x)
            return x * k

        @staticmethod
        def backward(ctx, grad):
            Scale.seen["needs"] = ctx.needs_input_grad
            Scale.seen["bwd_grad_mode"] = lib.is_grad_enabled()
            return grad * ctx.k, None

    class MulNew(F):  # new style with a default argument
        seen = {}

        @staticmethod
        def forward(x, y, k=2.0):
            return x * y * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            MulNew.seen["inputs"] = len(inputs), inputs[2]
            MulNew.seen["output_requires_grad"] = output.requires_grad
            x, y, k = inputs
            ctx.save_for_backward(x, y)
            ctx.k = k

        @staticmethod
        def backward(ctx, grad):
            x, y = ctx.saved_tensors
            return grad * y * ctx.k, grad * x * ctx.k, None

    class Cube(F):  # backward written in lib ops: differentiable again
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 3 * x**2 * grad

    class CubeOnce(F):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        @once
        def backward(ctx, grad):
            CubeOnce.grad_mode = lib.is_grad_enabled()
            (x,) = ctx.saved_tensors
            return 3 * x**2 * grad

    class SaveOut(F):  # saves its output
        @staticmethod
        def forward(ctx, x):
            out = x.exp()
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx, grad):
            (out,) = ctx.saved_tensors
            return grad * out

    class NoSave(F):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    class TwoOut(F):  # two tensor outputs plus a number and a string
        seen = []

        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3, 5, "s"

        @staticmethod
        def backward(ctx, ga, gb, g5, gs):
            TwoOut.seen.append((ga.tolist(), gb.tolist(), g5, gs))
            return ga * 2 + gb * 3

    class NoMaterialize(F):
        seen = []

        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, ga, gb):
            NoMaterialize.seen.append((ga is None, gb is None))
            out = 0
            if ga is not None:
                out = out + ga * 2
            if gb is not None:
                out = out + gb * 3
            return out

    class NonDiff(F):
        seen = []

        @staticmethod
        def forward(ctx, x):
            mask = (x > 1.5).long()
            ctx.mark_non_differentiable(mask)
            return x * 1, mask

        @staticmethod
        def backward(ctx, g, gmask):
            NonDiff.seen.append(gmask.tolist())
            return g * 2

    class Dirty(F):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    class Ident(F):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, grad):
            return grad * 5

    class Partial(F):  # returns None for an input that needs a grad
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, grad):
            return grad, None

    ns.update(
        {
            c.__name__: c
            for c in (
                Scale,
                MulNew,
                Cube,
                CubeOnce,
                SaveOut,
                NoSave,
                TwoOut,
                NoMaterialize,
                NonDiff,
                Dirty,
                Ident,
                Partial,
            )
        }
    )
    return ns


def _bad_backward(lib, result_fn, n_inputs=1):
    """A Function whose backward returns ``result_fn(lib, grad)``."""
    F, _ = _api(lib)

    class Bad(F):
        @staticmethod
        def forward(ctx, *args):
            return args[0] * 2

        @staticmethod
        def backward(ctx, grad):
            return result_fn(lib, grad)

    return Bad


# ------------------------------------------------------------------ basics


def test_function_old_style_forward_backward(lib):
    Scale = _fns(lib)["Scale"]
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = Scale.apply(x, 3.0)
    close(y, [3.0, 6.0])
    y.sum().backward()
    close(x.grad, [3.0, 3.0])
    assert Scale.seen == {"fwd_grad_mode": False, "needs": (True, False), "bwd_grad_mode": False}


def test_function_new_style_setup_context(lib):
    MulNew = _fns(lib)["MulNew"]
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = lib.tensor([3.0, 4.0], requires_grad=True)
    out = MulNew.apply(x, y)
    close(out, [6.0, 16.0])
    assert MulNew.seen == {"inputs": (3, 2.0), "output_requires_grad": False}
    out.sum().backward()
    close(x.grad, [6.0, 8.0])
    close(y.grad, [2.0, 4.0])
    close(MulNew.apply(x, y, k=3.0), [9.0, 24.0])
    assert MulNew.seen["inputs"] == (3, 3.0)


def test_function_grad_fn_name_and_type(lib):
    Scale = _fns(lib)["Scale"]
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = Scale.apply(x, 2.0)
    assert y.grad_fn.name() == "ScaleBackward"
    assert type(y.grad_fn).__name__ == "ScaleBackward"
    assert re.fullmatch(
        r"<\w+\.autograd\.function\.ScaleBackward object at 0x[0-9a-f]+>", repr(y.grad_fn)
    )
    assert "grad_fn=<ScaleBackward>" in repr(y)


def test_function_node_is_an_engine_node_and_the_ctx():
    Scale = _fns(fluxion)["Scale"]
    x = fluxion.tensor([1.0, 2.0], requires_grad=True)
    y = Scale.apply(x, 2.0)
    assert isinstance(y.grad_fn, Node) and isinstance(y.grad_fn, FunctionCtx)
    assert y.grad_fn.k == 2.0  # the ctx of forward is the grad_fn
    assert Scale._backward_cls is type(y.grad_fn)


def test_function_next_functions_cover_tensor_inputs_only(lib):
    MulNew = _fns(lib)["MulNew"]
    Scale = _fns(lib)["Scale"]
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    c = lib.tensor([1.0, 1.0])
    assert len(Scale.apply(x, 2.0).grad_fn.next_functions) == 1
    edges = MulNew.apply(x, c).grad_fn.next_functions
    assert len(edges) == 2
    assert type(edges[0][0]).__name__ == "AccumulateGrad" and edges[1] == (None, 0)


def test_function_no_input_requires_grad_gives_plain_outputs(lib):
    Scale = _fns(lib)["Scale"]
    y = Scale.apply(lib.ones(2), 2.0)
    assert not y.requires_grad and y.grad_fn is None
    x = lib.ones(2, requires_grad=True)
    with lib.no_grad():
        y = Scale.apply(x, 2.0)
    assert not y.requires_grad and y.grad_fn is None


def test_function_inside_a_larger_graph(lib):
    Cube = _fns(lib)["Cube"]
    x = lib.tensor([0.5, -1.0], requires_grad=True)
    y = (Cube.apply(x.sin()) * 2).sum()
    y.backward()
    xs = np.array([0.5, -1.0])
    close(x.grad, 2 * 3 * np.sin(xs) ** 2 * np.cos(xs))


def test_function_apply_with_keyword_argument(lib):
    Scale = _fns(lib)["Scale"]
    x = lib.ones(2, requires_grad=True)
    y = Scale.apply(x, k=4.0)
    y.sum().backward()
    close(x.grad, [4.0, 4.0])


# ------------------------------------------------------------------ saved tensors


def test_function_saved_tensor_modified_in_place_raises(lib):
    Cube = _fns(lib)["Cube"]
    x = lib.tensor(2.0, requires_grad=True)
    a = x * 1
    c = Cube.apply(a)
    a.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.backward()


def test_function_saved_output_modified_in_place_raises(lib):
    SaveOut = _fns(lib)["SaveOut"]
    x = lib.tensor(2.0, requires_grad=True)
    o = SaveOut.apply(x)
    o.add_(1)
    with pytest.raises(RuntimeError, match="is at version 1; expected version 0 instead"):
        o.backward()


def test_function_saved_tensors_freed_after_backward(lib):
    Cube = _fns(lib)["Cube"]
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x)
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    close(x.grad, [6.0, 24.0])
    with pytest.raises(RuntimeError, match=f"^{FREED}"):
        y.sum().backward()
    with pytest.raises(RuntimeError, match=f"^{FREED}"):
        _ = y.grad_fn.saved_tensors


def test_function_saving_nothing_can_run_twice(lib):
    NoSave = _fns(lib)["NoSave"]
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = NoSave.apply(x).sum()
    y.backward()
    y.backward()
    close(x.grad, [4.0, 4.0])


def test_function_saved_tensors_released_for_gc():
    Cube = _fns(fluxion)["Cube"]
    gc.disable()  # refcounting alone must free them: no reference cycle may hold them
    try:
        x = fluxion.tensor([1.0, 2.0], requires_grad=True)
        a = x * 1
        ref = weakref.ref(a)
        y = Cube.apply(a).sum()
        del a
        assert ref() is not None
        y.backward()
        assert ref() is None
    finally:
        gc.enable()


def test_function_saved_output_double_backward(lib):
    SaveOut = _fns(lib)["SaveOut"]
    x = lib.tensor(0.5, requires_grad=True)
    (g,) = lib.autograd.grad(SaveOut.apply(x), x, create_graph=True)
    (gg,) = lib.autograd.grad(g, x)
    close(g, np.exp(0.5))
    close(gg, np.exp(0.5))


def test_function_save_for_backward_rejects_non_tensors(lib):
    F, _ = _api(lib)

    class SaveNumber(F):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, 3)
            return x * 1

        @staticmethod
        def backward(ctx, grad):
            return grad

    with pytest.raises(
        TypeError, match="save_for_backward can only save variables, but argument 1"
    ):
        SaveNumber.apply(lib.ones(1, requires_grad=True))


def test_function_save_none(lib):
    F, _ = _api(lib)

    class SaveNone(F):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(None, x)
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            none, x = ctx.saved_tensors
            assert none is None
            return grad * 2

    x = lib.ones(2, requires_grad=True)
    SaveNone.apply(x).sum().backward()
    close(x.grad, [2.0, 2.0])


# ------------------------------------------------------------------ needs_input_grad


def test_function_needs_input_grad(lib):
    F, _ = _api(lib)
    seen = []

    class Four(F):
        @staticmethod
        def forward(ctx, a, b, c, d):
            return a + b

        @staticmethod
        def backward(ctx, grad):
            seen.append(ctx.needs_input_grad)
            return grad, grad, None, None

    Four.apply(lib.ones(1, requires_grad=True), lib.ones(1), 3, None).sum().backward()
    assert seen == [(True, False, False, False)]


# ------------------------------------------------------------------ outputs


def test_function_multiple_and_non_tensor_outputs(lib):
    TwoOut = _fns(lib)["TwoOut"]
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    a, b, five, s = TwoOut.apply(x)
    assert (five, s) == (5, "s")
    assert a.grad_fn is b.grad_fn
    b.sum().backward()  # `a` unused: its grad is materialised as zeros
    assert TwoOut.seen == [([0.0, 0.0], [1.0, 1.0], None, None)]
    close(x.grad, [3.0, 3.0])


def test_function_set_materialize_grads_false(lib):
    NoMaterialize = _fns(lib)["NoMaterialize"]
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    a, b = NoMaterialize.apply(x)
    b.sum().backward()
    assert NoMaterialize.seen == [(True, False)]
    close(x.grad, [3.0, 3.0])


def test_function_mark_non_differentiable(lib):
    NonDiff = _fns(lib)["NonDiff"]
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y, mask = NonDiff.apply(x)
    assert y.requires_grad and not mask.requires_grad and mask.grad_fn is None
    assert mask.tolist() == [0, 1, 1]
    y.sum().backward()
    assert NonDiff.seen == [[0, 0, 0]]
    close(x.grad, [2.0, 2.0, 2.0])


def test_function_mark_dirty(lib):
    Dirty = _fns(lib)["Dirty"]
    x = lib.tensor([3.0, 1.0, 2.0], requires_grad=True)
    y = x * 1
    z = Dirty.apply(y)
    assert z is y
    assert y.grad_fn.name() == "DirtyBackward"
    close(y, [6.0, 2.0, 4.0])
    z.sum().backward()
    close(x.grad, [2.0, 2.0, 2.0])


def test_function_mark_dirty_invalidates_earlier_saves(lib):
    Dirty = _fns(lib)["Dirty"]
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    w = y * y  # saves y
    Dirty.apply(y)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        w.sum().backward()


def test_function_mark_dirty_on_leaf_raises(lib):
    Dirty = _fns(lib)["Dirty"]
    x = lib.tensor([3.0, 1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        Dirty.apply(x)


def test_function_returning_an_input_gives_an_alias(lib):
    Ident = _fns(lib)["Ident"]
    x = lib.tensor([3.0, 1.0, 2.0], requires_grad=True)
    o = Ident.apply(x)
    assert o is not x and o.data_ptr() == x.data_ptr()
    assert o.grad_fn.name() == "IdentBackward"
    o.sum().backward()
    close(x.grad, [5.0, 5.0, 5.0])


def test_function_returning_none_grad(lib):
    Partial = _fns(lib)["Partial"]
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = lib.tensor([3.0, 4.0], requires_grad=True)
    Partial.apply(x, y).sum().backward()
    close(x.grad, [1.0, 1.0])
    assert y.grad is None


# ------------------------------------------------------------------ validation of backward results


def test_function_wrong_number_of_grads(lib):
    Bad = _bad_backward(lib, lambda lib, g: (g, g))
    x = lib.ones(2, requires_grad=True)
    with pytest.raises(
        RuntimeError,
        match=r"function BadBackward returned an incorrect number of gradients "
        r"\(expected 1, got 2\)",
    ):
        Bad.apply(x).sum().backward()


def test_function_too_few_grads(lib):
    F, _ = _api(lib)

    class Two(F):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, grad):
            return grad

    x = lib.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"\(expected 2, got 1\)"):
        Two.apply(x, x).sum().backward()


def test_function_extra_none_grads_are_ignored(lib):
    Bad = _bad_backward(lib, lambda lib, g: (g * 2, None, None))
    x = lib.ones(2, requires_grad=True)
    Bad.apply(x).sum().backward()
    close(x.grad, [2.0, 2.0])


def test_function_grad_for_non_tensor_input(lib):
    Bad = _bad_backward(lib, lambda lib, g: (g, g))
    x = lib.ones(2, requires_grad=True)
    with pytest.raises(
        RuntimeError,
        match="returned a gradient different than None at position 2, but the corresponding "
        "forward input was not a Variable",
    ):
        Bad.apply(x, 2.0).sum().backward()


def test_function_grad_of_wrong_shape(lib):
    Bad = _bad_backward(lib, lambda lib, g: lib.ones(3))
    x = lib.ones(2, requires_grad=True)
    with pytest.raises(
        RuntimeError,
        match=re.escape(
            "Function BadBackward returned an invalid gradient at index 0 - got [3] but expected "
            "shape compatible with [2]"
        ),
    ):
        Bad.apply(x).sum().backward()


def test_function_broadcast_grad_is_summed_to_input_shape(lib):
    Bad = _bad_backward(lib, lambda lib, g: lib.ones(3, 2))
    x = lib.ones(2, requires_grad=True)
    Bad.apply(x).sum().backward()
    close(x.grad, [3.0, 3.0])


def test_function_grad_dtype_is_cast_to_input_dtype(lib):
    Bad = _bad_backward(lib, lambda lib, g: lib.ones(2, dtype=lib.float64))
    x = lib.ones(2, requires_grad=True)
    Bad.apply(x).sum().backward()
    assert x.grad.dtype == lib.float32


def test_function_non_tensor_grad(lib):
    Bad = _bad_backward(lib, lambda lib, g: 3.0)
    x = lib.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"expected Variable or None \(got float\)"):
        Bad.apply(x).sum().backward()


# ------------------------------------------------------------------ higher order


def test_function_backward_in_lib_ops_is_double_differentiable(lib):
    Cube = _fns(lib)["Cube"]
    x = lib.tensor(2.0, requires_grad=True)
    (g1,) = lib.autograd.grad(Cube.apply(x), x, create_graph=True)
    (g2,) = lib.autograd.grad(g1, x, create_graph=True)
    (g3,) = lib.autograd.grad(g2, x)
    close(g1, 12.0)
    close(g2, 12.0)
    close(g3, 6.0)


def test_function_once_differentiable_first_order(lib):
    CubeOnce = _fns(lib)["CubeOnce"]
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    CubeOnce.apply(x).sum().backward()
    close(x.grad, [3.0, 12.0])
    assert CubeOnce.grad_mode is False


def test_function_once_differentiable_runs_without_grad_under_create_graph(lib):
    CubeOnce = _fns(lib)["CubeOnce"]
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    (g,) = lib.autograd.grad(CubeOnce.apply(x).sum(), x, create_graph=True)
    assert CubeOnce.grad_mode is False
    close(g, [3.0, 12.0])
    assert not g.requires_grad  # the incoming grad (ones) did not require grad


def test_function_once_differentiable_double_backward_raises(lib):
    CubeOnce = _fns(lib)["CubeOnce"]
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    z = (CubeOnce.apply(x) ** 2).sum()  # the grad reaching CubeOnce requires grad
    (g,) = lib.autograd.grad(z, x, create_graph=True)
    close(g, 2 * x.detach().numpy() ** 3 * 3 * x.detach().numpy() ** 2)
    assert g.requires_grad and g.grad_fn.name().endswith("Error")
    with pytest.raises(
        RuntimeError,
        match="trying to differentiate twice a function that was marked with @once_differentiable",
    ):
        g.sum().backward()


def test_function_once_differentiable_keeps_name():
    assert _fns(fluxion)["CubeOnce"].backward.__name__ == "backward"


# ------------------------------------------------------------------ definition errors


def test_function_instance_call_is_legacy_error(lib):
    Scale = _fns(lib)["Scale"]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inst = Scale()
    with pytest.raises(RuntimeError, match="Legacy autograd function with non-static forward"):
        inst(lib.ones(1), 2.0)


def test_function_missing_forward_or_backward(lib):
    F, _ = _api(lib)

    class NoForward(F):
        pass

    class NoBackward(F):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    x = lib.ones(1, requires_grad=True)
    with pytest.raises(NotImplementedError, match="You must implement the forward function"):
        NoForward.apply(x)
    with pytest.raises(NotImplementedError, match="You must implement either the backward or vjp"):
        NoBackward.apply(x).sum().backward()


def test_function_vjp_instead_of_backward(lib):
    F, _ = _api(lib)

    class ViaVjp(F):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def vjp(ctx, grad):
            return grad * 7

    x = lib.ones(2, requires_grad=True)
    ViaVjp.apply(x).sum().backward()
    close(x.grad, [7.0, 7.0])


# ------------------------------------------------------------------ hooks on the node


def test_function_node_hooks(lib):
    Scale = _fns(lib)["Scale"]
    log = []
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = Scale.apply(x, 3.0)
    y.grad_fn.register_prehook(lambda go: log.append(("pre", go[0].tolist())))
    y.grad_fn.register_hook(lambda gi, go: log.append(("post", gi[0].tolist())))
    y.sum().backward()
    assert log == [("pre", [1.0, 1.0]), ("post", [3.0, 3.0])]
