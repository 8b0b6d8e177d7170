"""In-place ops against PyTorch: the same code runs on fluxion and on torch.

Two kinds of tests:

* ``assert_same(fn)`` runs ``fn(lib)`` once per library and compares what it returns (values,
  dtypes, ``requires_grad``, ``grad_fn`` names, versions, gradients) or what it raises (type and
  message);
* tests that take ``lib`` assert fixed expectations, so each expectation is checked against
  PyTorch itself too.

Known differences from PyTorch are listed at the end of this file (and asserted there).
"""

from __future__ import annotations

import importlib
import importlib.util
import re

import numpy as np
import pytest

import fluxion

LIBS = ["fluxion"] + (["torch"] if importlib.util.find_spec("torch") else [])
# torch warns that backward(create_graph=True) makes a .grad <-> graph reference cycle
pytestmark = pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")

LEAF = "a leaf Variable that requires grad is being used in an in-place operation."
VIEW_LEAF = "a view of a leaf Variable that requires grad is being used in an in-place operation."
NO_GRAD_VIEW = "A view was created in no_grad mode and is being modified inplace with grad mode"
OVERLAP = "unsupported operation: more than one element of the written-to tensor refers to a"
MODIFIED = "one of the variables needed for gradient computation has been modified by an inplace"


@pytest.fixture(params=LIBS)
def lib(request):
    return importlib.import_module(request.param)


# ------------------------------------------------------------------ running both libraries


def _is_tensor(v) -> bool:
    return isinstance(v, fluxion.Tensor) or type(v).__name__ in ("Tensor", "Parameter")


def _observe(v):
    """What we compare: tensors become (array, dtype name, requires_grad, grad_fn name)."""
    if _is_tensor(v):
        fn = v.grad_fn
        return (
            np.array(v.detach().numpy()),
            str(v.dtype).split(".")[-1],
            v.requires_grad,
            None if fn is None else type(fn).__name__,
        )
    if isinstance(v, (list, tuple)):
        return [_observe(x) for x in v]
    if isinstance(v, dict):
        return {k: _observe(x) for k, x in v.items()}
    return v


def _outcome(fn, lib):
    try:
        return ("ok", _observe(fn(lib)))
    except Exception as exc:  # noqa: BLE001 - the exception *is* the outcome compared
        return ("raise", type(exc).__name__, str(exc))


def _assert_close(a, b, where: str) -> None:
    if isinstance(a, tuple) and len(a) == 4 and isinstance(a[0], np.ndarray):
        assert isinstance(b, tuple) and len(b) == 4, f"{where}: tensor vs {b!r}"
        assert a[1:] == b[1:], f"{where}: (dtype, requires_grad, grad_fn) {a[1:]} != {b[1:]}"
        assert a[0].shape == b[0].shape, f"{where}: shape {a[0].shape} != {b[0].shape}"
        if a[0].dtype.kind == "f":
            np.testing.assert_allclose(a[0], b[0], rtol=2e-6, atol=1e-6, err_msg=where)
        else:
            np.testing.assert_array_equal(a[0], b[0], err_msg=where)
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{where}: {a!r} != {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_close(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), f"{where}: {a!r} != {b!r}"
        for k in a:
            _assert_close(a[k], b[k], f"{where}[{k!r}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def assert_same(fn, match: str | None = None):
    """Run ``fn`` on both libraries; return fluxion's outcome.

    Results must agree (floats to float32 precision). Raised exceptions must have the same type
    and, unless ``match`` is given, the same message; with ``match`` both messages must contain
    it (PyTorch's message names internals fluxion does not have).
    """
    torch = pytest.importorskip("torch")
    ours, theirs = _outcome(fn, fluxion), _outcome(fn, torch)
    assert ours[0] == theirs[0], f"fluxion {ours} / torch {theirs}"
    if ours[0] == "raise":
        assert ours[1] == theirs[1], f"fluxion raised {ours}, torch raised {theirs}"
        if match is None:
            assert ours[2] == theirs[2]
        else:
            assert match in ours[2], ours[2]
            assert match in theirs[2], theirs[2]
    else:
        _assert_close(ours[1], theirs[1], "result")
    return ours


# ------------------------------------------------------------------ every in-place method


X = [[1.0, -2.0, 3.0], [0.5, 4.0, -1.5]]


def _x(lib, requires_grad=False):
    return lib.tensor(X, requires_grad=requires_grad)


def _b(lib, requires_grad=False):
    return lib.tensor([[0.5, 1.5, -2.0], [2.0, -0.25, 1.0]], requires_grad=requires_grad)


def _mask(lib):
    return lib.tensor([[True, False, True], [False, False, True]])


def _index(lib):
    return lib.tensor([[1, 0, 1], [0, 1, 0]])


# name -> fn(lib, y, b): one in-place call on y (2x3 float32) with b (2x3 float32)
OPS = {
    "add_": lambda lib, y, b: y.add_(b, alpha=2),
    "add_scalar": lambda lib, y, b: y.add_(3),
    "add_row": lambda lib, y, b: y.add_(b[0]),
    "sub_": lambda lib, y, b: y.sub_(b, alpha=0.5),
    "sub_scalar": lambda lib, y, b: y.sub_(1.5),
    "mul_": lambda lib, y, b: y.mul_(b),
    "mul_scalar": lambda lib, y, b: y.mul_(2.5),
    "mul_column": lambda lib, y, b: y.mul_(b[:, :1]),
    "div_": lambda lib, y, b: y.div_(b),
    "div_scalar": lambda lib, y, b: y.div_(4),
    "div_floor": lambda lib, y, b: y.div_(b, rounding_mode="floor"),
    "div_trunc": lambda lib, y, b: y.div_(b, rounding_mode="trunc"),
    "pow_scalar": lambda lib, y, b: y.pow_(2),
    "pow_tensor": lambda lib, y, b: y.abs_().pow_(b),
    "zero_": lambda lib, y, b: y.zero_(),
    "fill_number": lambda lib, y, b: y.fill_(2.5),
    "fill_tensor": lambda lib, y, b: y.fill_(b[0, 1]),
    "copy_": lambda lib, y, b: y.copy_(b),
    "copy_broadcast": lambda lib, y, b: y.copy_(b[0]),
    "copy_int": lambda lib, y, b: y.copy_(lib.tensor([1, 2, 3])),
    "copy_float64": lambda lib, y, b: y.copy_(b.double() * 3),
    "clamp_": lambda lib, y, b: y.clamp_(-1, 2),
    "clamp_min": lambda lib, y, b: y.clamp_(min=0.0),
    "clip_": lambda lib, y, b: y.clip_(max=1.0),
    "masked_fill_": lambda lib, y, b: y.masked_fill_(_mask(lib), -7.0),
    "masked_fill_tensor": lambda lib, y, b: y.masked_fill_(_mask(lib), b[1, 1]),
    "exp_": lambda lib, y, b: y.exp_(),
    "neg_": lambda lib, y, b: y.neg_(),
    "sqrt_": lambda lib, y, b: y.abs_().sqrt_(),
    "relu_": lambda lib, y, b: y.relu_(),
    "sigmoid_": lambda lib, y, b: y.sigmoid_(),
    "tanh_": lambda lib, y, b: y.tanh_(),
    "abs_": lambda lib, y, b: y.abs_(),
    "addcmul_": lambda lib, y, b: y.addcmul_(b, b * 3, value=0.5),
    "addcdiv_": lambda lib, y, b: y.addcdiv_(b, b + 3, value=2),
    "lerp_scalar": lambda lib, y, b: y.lerp_(b, 0.3),
    "lerp_tensor": lambda lib, y, b: y.lerp_(b, b.sigmoid()),
    "scatter_": lambda lib, y, b: y.scatter_(0, _index(lib), b),
    "scatter_value": lambda lib, y, b: y.scatter_(1, _index(lib)[:, :2], 9.0),
    "scatter_add_": lambda lib, y, b: y.scatter_add_(0, _index(lib), b),
    "index_add_": lambda lib, y, b: y.index_add_(1, lib.tensor([2, 0]), b[:, :2], alpha=3),
    "index_fill_": lambda lib, y, b: y.index_fill_(1, lib.tensor([2, 0]), -1.0),
    "unsqueeze_": lambda lib, y, b: y.unsqueeze_(1),
    "squeeze_": lambda lib, y, b: y.unsqueeze_(0).squeeze_(),
    "squeeze_dim": lambda lib, y, b: y.unsqueeze_(0).squeeze_(0),
    "squeeze_dims": lambda lib, y, b: y.unsqueeze_(0).unsqueeze_(0).squeeze_((0, 1)),
    "t_": lambda lib, y, b: y.t_(),
    "iadd": lambda lib, y, b: y.__iadd__(b),
    "iadd_scalar": lambda lib, y, b: y.__iadd__(1),
    "isub": lambda lib, y, b: y.__isub__(2),
    "imul": lambda lib, y, b: y.__imul__(b),
    "itruediv": lambda lib, y, b: y.__itruediv__(b),
    "ifloordiv": lambda lib, y, b: y.__ifloordiv__(b),
    "imod": lambda lib, y, b: y.__imod__(1.5),
    "ipow": lambda lib, y, b: y.__ipow__(2),
    "floor_divide_": lambda lib, y, b: y.floor_divide_(0.75),
    "remainder_": lambda lib, y, b: y.remainder_(b),
    "setitem_int": lambda lib, y, b: y.__setitem__(0, 5.0),
    "setitem_int_tensor": lambda lib, y, b: y.__setitem__(1, b[0]),
    "setitem_slice": lambda lib, y, b: y.__setitem__((slice(None), slice(1, None)), b[:, :2]),
    "setitem_slice_scalar_tensor": lambda lib, y, b: y.__setitem__(slice(1, 2), b[0, 0]),
    "setitem_ellipsis": lambda lib, y, b: y.__setitem__((Ellipsis, 1), -1.0),
    "setitem_mask": lambda lib, y, b: y.__setitem__(_mask(lib), 0.0),
    "setitem_mask_tensor": lambda lib, y, b: y.__setitem__(_mask(lib), b[_mask(lib)]),
    "setitem_index": lambda lib, y, b: y.__setitem__(lib.tensor([1, 0]), b.flip(0)),
    "setitem_index_pair": lambda lib, y, b: y.__setitem__(
        (lib.tensor([1, 0]), lib.tensor([2, 2])), 4.0
    ),
}
RESHAPING = {"unsqueeze_", "squeeze_", "squeeze_dim", "squeeze_dims", "t_"}


def _run_op(name: str, mode: str):
    """``mode``: plain (nothing requires grad), grad (self is a non-leaf), both (and ``b``
    requires grad), src (only ``b`` requires grad), view (self is a view of a non-leaf)."""
    op = OPS[name]

    def run(lib):
        x = _x(lib, requires_grad=mode in ("grad", "both", "view"))
        b = _b(lib, requires_grad=mode in ("both", "src", "view"))
        y = x if mode in ("plain", "src") else x * 1
        target = y.t().t() if mode == "view" else y  # a view (a chain of two) of y
        out = op(lib, target, b)
        seen = {"self": target, "returned_self": out is target, "version": target._version}
        if mode == "view":
            seen["base"] = y
            seen["base_version"] = y._version
            seen.pop("self")  # torch names a modified view's grad_fn AsStridedBackward0
            seen["self_values"] = target.detach()
        if y.requires_grad:
            (y * y).sum().backward()
            seen["x.grad"] = x.grad if mode != "src" else None  # x is y: not a leaf any more
            seen["b.grad"] = b.grad
        return seen

    return run


# torch: "derivative for aten::floor_divide_ is not implemented"; fluxion declares it ZERO
NO_GRAD = {"floor_divide_", "ifloordiv"}
MODES = ["plain", "grad", "both", "src", "view"]


@pytest.mark.parametrize(
    "name, mode", [(n, m) for n in sorted(OPS) for m in MODES if m == "plain" or n not in NO_GRAD]
)
def test_inplace_method_matches_torch(name, mode):
    assert_same(_run_op(name, mode))


def test_inplace_ops_table_covers_every_inplace_method():
    methods = {
        n for n in dir(fluxion.Tensor) if n.endswith("_") and not n.startswith("_") and n != "_"
    }
    random_fills = {"uniform_", "normal_", "bernoulli_", "random_", "exponential_"}
    not_inplace = {"requires_grad_", "detach_"}
    covered = {n for n in methods if any(k == n or k.startswith(n[:-1]) for k in OPS)}
    covered |= {n for n in methods if any(f"{n}(" in code for code in INT_CODES)}
    assert methods - random_fills - not_inplace - covered == set()


def test_every_torch_inplace_operator_exists():
    torch = pytest.importorskip("torch")
    theirs = {n for n in dir(torch.Tensor) if re.fullmatch(r"__i[a-z]+__", n)}
    theirs -= {"__init__", "__index__", "__int__", "__invert__", "__iter__"}
    theirs -= {"__idiv__", "__ilshift__", "__irshift__"}  # Python 2 division; shifts: not yet
    assert theirs - set(dir(fluxion.Tensor)) == set()
    for name in ("iadd", "ifloordiv", "imod", "ipow", "iand", "ior", "ixor"):
        assert assert_same(lambda lib, n=name: _inplace_operator(lib, n))


def _inplace_operator(lib, name):
    i = lib.tensor([5, -7, 9])
    alias = i
    code = {
        "iadd": "+=",
        "ifloordiv": "//=",
        "imod": "%=",
        "ipow": "**=",
        "iand": "&=",
        "ior": "|=",
        "ixor": "^=",
    }[name]
    exec(f"i {code} 3", {"i": i})  # noqa: S102 - the statement form, not the method
    return alias, alias._version


# ------------------------------------------------------------------ dtypes and shapes


@pytest.mark.parametrize(
    "code",
    [
        "lib.tensor([1, 2, 3]).add_(0.5)",  # result type Float can't be cast to Long
        "lib.tensor([1, 2, 3]).add_(lib.tensor([0.5, 1.0, 1.0]))",
        "lib.tensor([1, 2, 3]).mul_(1.5)",
        "lib.tensor([1, 2, 3]).div_(2)",
        "lib.tensor([True, False]).add_(lib.tensor([1, 2]))",
        "lib.tensor([1, 2, 3]).add_(lib.tensor([1.0, 2.0, 3.0], requires_grad=True))",
        "lib.tensor([4, 5, -7]).div_(2, rounding_mode='floor')",
        "lib.tensor([4, 5, -7]).div_(lib.tensor(2), rounding_mode='trunc')",
        "lib.tensor([4.0, 5.0]).add_(lib.tensor([1.0, 2.0], dtype=lib.float64))",
        "lib.tensor([4.0, 5.0]).add_(lib.tensor([1, 2]))",
        "lib.tensor([4, 5]).add_(lib.tensor([True, False]))",
        "lib.tensor([4, 5]).add_(lib.tensor([1, 2]), alpha=2)",
        "lib.tensor([4, 5]).add_(lib.tensor([1, 2]), alpha=0.5)",  # float alpha, int result
        "lib.tensor([4, 5]).sub_(1, alpha=0.5)",
        "lib.tensor([4.0, 5.0]).add_(1, alpha=True)",  # bool alpha, float result
        "lib.tensor([True, False]).add_(lib.tensor([True, True]), alpha=True)",
        "lib.tensor([4, 5], dtype=lib.int32).add_(lib.tensor([1, 2]))",
        "lib.tensor([4, 5], dtype=lib.uint8).sub_(lib.tensor([1, 2], dtype=lib.int8))",
        "lib.ones(3, dtype=lib.int64).copy_(lib.tensor([1.7, -2.2, 3.0]))",
        "lib.ones(3, dtype=lib.int64).copy_(lib.tensor([1.5, 2.0, 3.0], requires_grad=True))",
        "lib.ones(3).copy_(lib.tensor([True, False, True]))",
        "lib.ones(3, dtype=lib.bool).copy_(lib.tensor([0.0, 2.0, 0.0]))",
        "lib.ones(3).copy_(2)",
        "lib.ones(3).copy_([1.0, 2.0, 3.0])",
        "lib.ones(3).fill_(lib.tensor(2, dtype=lib.int64))",
        "lib.ones(3, dtype=lib.int64).fill_(2.7)",
        "lib.ones(3, dtype=lib.bool).fill_(0.5)",
        "lib.ones(3).fill_(lib.ones(2))",
        "lib.zeros(3).add_(lib.ones(2, 3))",  # output with shape [3] doesn't match [2, 3]
        "lib.zeros(2, 3).add_(lib.ones(2, 4))",
        "lib.zeros(2, 3).mul_(lib.ones(3, 1))",
        "(lib.zeros(3) * lib.ones(3, requires_grad=True)).add_(lib.ones(2, 3))",
        "(lib.zeros(2, 1) * lib.ones(1, requires_grad=True)).mul_(lib.ones(2, 3))",
        "lib.zeros(2, 3).add_(lib.ones(3)).mul_(lib.tensor([[2.0], [3.0]]))",
        "lib.ones(3).copy_(lib.ones(4))",
        "lib.ones(2, 3).copy_(lib.ones(2, 4))",
        "lib.ones(2, 3).copy_(lib.ones(3, 3))",
        "lib.zeros(2, 3).__setitem__(0, lib.ones(4))",
        "lib.zeros(2, 3).__setitem__(lib.tensor([0]), lib.ones(4))",
        "lib.zeros(3, dtype=lib.int64).__setitem__(slice(0, 2), lib.tensor([1.5, 2.5]))",
        "lib.zeros(3, dtype=lib.int64).__setitem__(lib.tensor([0, 1]), lib.tensor([1.5, 2.5]))",
        "lib.zeros(3).__setitem__(slice(0, 2), lib.tensor([1, 2]))",
        "lib.zeros(3).__setitem__(lib.tensor([0, 1]), lib.tensor([1, 2]))",
        "lib.zeros(3, dtype=lib.int64).__setitem__(0, 2.9)",
    ],
)
def test_inplace_dtype_and_shape_rules_match_torch(code):
    def run(lib):
        namespace = {"lib": lib}
        if code.startswith("lib.zeros") and "__setitem__" in code:
            t = eval(code.split(".__setitem__")[0], namespace)  # noqa: S307 - test table
            namespace["t"] = t
            eval("t.__setitem__" + code.split(".__setitem__")[1], namespace)  # noqa: S307
            return t, t._version
        t = eval(code, namespace)  # noqa: S307 - test table
        return t, t._version

    assert_same(run)


@pytest.mark.parametrize("index", ["0", "slice(None)", "(slice(None), 0)", "...", "None"])
@pytest.mark.parametrize(
    "value", ["lib.ones(2, 2)", "lib.ones(4, 3)", "lib.ones(1, 1, 3)", "lib.ones(2, 1, 3)"]
)
@pytest.mark.parametrize("grad", [False, True])
def test_setitem_value_shape_rules_match_torch(index, value, grad):
    def run(lib):
        x = lib.zeros(2, 3, requires_grad=grad)
        y = x * 1 if grad else x
        namespace = {"lib": lib, "y": y}
        exec(f"y[{index}] = {value}", namespace)  # noqa: S102 - test table
        return y, y._version

    assert_same(run)


@pytest.mark.parametrize(
    "code",
    [
        "y[...] = 5",
        "y[:] = 5",
        "y[:, :] = lib.tensor(5.0)",
        "y[...] = x[0] * 2",
        "y[(Ellipsis,)] = x[0] * 2",
        "y[None] = x[0] * 2",
        "y[None, ...] = 5",
        "y[0:2] = x.flip(0)",
        "y[0:1] = x[1]",
    ],
)
def test_setitem_whole_tensor_writes_self_like_torch(code):
    def run(lib):
        x = _x(lib, requires_grad=True)
        y = x * 1
        exec(code, {"lib": lib, "x": x, "y": y})  # noqa: S102 - test table
        (y * y).sum().backward()
        return y, x.grad

    assert_same(run)


@pytest.mark.parametrize(
    "code",
    [
        "y = x * 1\ny.mul_(x)\ny.add_(1)\ny.exp_()",
        "y = x * 1\ny[()] = x * 3",
        "y = x * 1\ny[...] = 5",
        "y = x * 1\ny.unsqueeze_(0)\ny.squeeze_()",
    ],
)
def test_inplace_on_zero_dim_tensors_matches_torch(code):
    def run(lib):
        namespace = {"x": lib.tensor(2.0, requires_grad=True)}
        exec(code, namespace)  # noqa: S102 - test table
        y = namespace["y"]
        y.backward()
        return y, namespace["x"].grad, y._version

    assert_same(run)


def test_inplace_on_empty_tensors_matches_torch():
    def run(lib):
        x = lib.zeros(0, 3, requires_grad=True)
        y = x * 1
        y.add_(1)
        y[0:0] = 2
        y.mul_(lib.ones(3))
        y.exp_()
        y.sum().backward()
        return y, x.grad, y._version

    assert_same(run)


def test_inplace_on_non_contiguous_tensors_matches_torch():
    def run(lib):
        x = lib.arange(12.0).reshape(3, 4)
        x.t().mul_(lib.tensor([1.0, 2.0, 3.0]))
        x[:, ::2].add_(10)
        x[::2].exp_()
        x.t()[1:].clamp_(max=20)
        x.t()[0] = lib.tensor([-1.0, -2.0, -3.0])
        return x, x._version

    assert_same(run)


INT_CODES = [
    "i.add_(1); i.mul_(2); i.clamp_(max=4); i[0] = 9; i.neg_(); i.abs_()",
    "i.sqrt_()",
    "i.exp_()",
    "i.sigmoid_()",
    "i.relu_()",
    "i.pow_(-1)",
    "i.pow_(0.5)",
    "i.pow_(2)",
    "i.masked_fill_(lib.tensor([True, False, True]), 2.5)",
    "i.addcmul_(i, i, value=2)",
    "i.div_(2, rounding_mode='floor')",
    "i //= 2",
    "i %= 3",
    "i.fill_(lib.tensor(True))",
    "i.zero_()",
    "i.copy_(lib.tensor([1.9, -1.9, 0.5]))",
    "i.scatter_add_(0, lib.tensor([0, 0]), lib.tensor([5, 6]))",
    "i.index_fill_(0, lib.tensor([1]), 7)",
    "i **= 2",
    "i &= 6",
    "i |= lib.tensor([1, 2, 4])",
    "i ^= 3",
    "i.bitwise_and_(lib.tensor([1, 1, 1]))",
    "i.bitwise_or_(2)",
    "i.bitwise_xor_(lib.tensor(True))",
    "i.floor_divide_(lib.tensor([3, -2, 5]))",
    "i.remainder_(lib.tensor([3, -2, 5]))",
    "i.floor_divide_(0)",
    "i.remainder_(0)",
    "i //= 0.5",
]


@pytest.mark.parametrize("code", INT_CODES)
def test_inplace_on_integer_tensors_matches_torch(code):
    def run(lib):
        i = lib.tensor([-4, 9, 2])
        exec(code, {"lib": lib, "i": i})  # noqa: S102 - test table
        return i, i._version

    assert_same(run)


def test_retain_grad_follows_tensor_through_inplace():
    def run(lib):
        x = _x(lib, requires_grad=True)
        y = x * 2
        y.retain_grad()
        y.mul_(3)
        z = x * 1
        z.retain_grad()
        z[0] = 5.0
        w = x * 1
        w.retain_grad()
        w.t_()
        (y + z + w.t() * 2).sum().backward()
        return x.grad, y.grad, z.grad, w.grad

    assert_same(run)


def test_hook_registered_before_inplace_sees_grad_of_old_version():
    def run(lib):
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        seen = []
        y.register_hook(lambda g: seen.append(g.clone()))
        y.mul_(3)
        y.sum().backward()
        return x.grad, seen

    assert_same(run)


# ------------------------------------------------------------------ expanded (overlapping) tensors


@pytest.mark.parametrize(
    "code",
    [
        "x.add_(1)",
        "x.mul_(2)",
        "x.exp_()",
        "x.clamp_(0, 0.5)",
        "x.copy_(lib.zeros(2, 3))",
        "x.zero_()",  # fills may write one location many times
        "x.fill_(2)",
        "x.__setitem__(0, 2.0)",  # one row of an expanded tensor does not overlap itself
        "x.__setitem__(0, lib.tensor([5.0, 6.0, 7.0]))",
        "x.__setitem__((slice(None), 0), 2.0)",
        "x[0].add_(1)",
        "x[:, 0].add_(1)",
    ],
)
@pytest.mark.parametrize("grad", [False, True])
def test_inplace_on_expanded_tensor_matches_torch(code, grad):
    def run(lib):
        src = lib.ones(1, 3, requires_grad=True)
        if grad:
            x = (src * 1).expand(2, 3)
            if code == "x.zero_()":
                pytest.skip("torch refuses zero_ but allows fill_ here; fluxion allows both")
        else:
            x = src.detach().expand(2, 3)
        exec(code, {"lib": lib, "x": x})  # noqa: S102 - test table
        return x.detach(), x._version

    assert_same(run, match=OVERLAP)


def test_backward_through_write_to_expanded_view_raises_like_torch():
    def run(lib):
        x = lib.ones(3, requires_grad=True)
        y = x * 1
        y.expand(2, 3).fill_(2)
        y.sum().backward()

    assert_same(run, match=OVERLAP)


def test_inplace_on_expanded_tensor_under_no_grad_matches_torch():
    def run(lib):
        x = lib.ones(3, requires_grad=True).expand(2, 3)
        with lib.no_grad():
            x.mul_(2)

    assert_same(run, match=OVERLAP)


# ------------------------------------------------------------------ version counters


def test_version_counter_shared_by_views_and_detach_not_data(lib):
    x = lib.zeros(2, 3)
    v, w, d = x[0], x.t(), x.detach()
    assert (x._version, v._version, w._version, d._version) == (0, 0, 0, 0)
    x.add_(1)
    assert (x._version, v._version, w._version, d._version) == (1, 1, 1, 1)
    v.add_(1)
    assert (x._version, v._version, w._version, d._version) == (2, 2, 2, 2)
    d[1] = 3
    assert (x._version, v._version, w._version, d._version) == (3, 3, 3, 3)
    data = x.data
    data.add_(1)  # .data has its own counter
    assert (x._version, data._version) == (3, 1)
    assert x.tolist() == [[3.0, 3.0, 3.0], [4.0, 4.0, 4.0]]


def test_version_counter_counts_each_inplace_call(lib):
    x = lib.zeros(2, 3)
    x += 1
    x -= 1
    x *= 2
    x /= 2
    assert x._version == 4
    x.zero_()
    x.fill_(1)
    x.copy_(lib.ones(3))
    x[0] = 2
    x[lib.tensor([True, False])] = 3
    x.clamp_(0, 1)
    x.t_()
    x.unsqueeze_(0)
    x.squeeze_(0)
    assert x._version == 13
    assert (x + 1)._version == 0 and x.clone()._version == 0 and x.exp()._version == 0


def test_version_counter_of_graph_tensors(lib):
    x = _x(lib, requires_grad=True)
    y = x * 2
    seen = [y._version]
    y.add_(1)
    seen.append(y._version)
    y[0] = 0
    seen.append(y._version)
    y.exp_()
    seen.append(y._version)
    v = y[1]
    v.mul_(2)
    seen.append((y._version, v._version))
    assert seen == [0, 1, 2, 3, (4, 4)]
    assert x._version == 0


def test_version_counter_bumped_by_failed_write_is_not_bumped(lib):
    x = lib.zeros(3)
    with pytest.raises(RuntimeError):
        x.add_(lib.ones(2, 3))
    y = lib.zeros(3, dtype=lib.int64)
    with pytest.raises(RuntimeError):
        y.add_(0.5)
    assert (x._version, y._version) == (0, 0)


def test_data_writes_are_invisible_to_autograd(lib):
    x = _x(lib, requires_grad=True)
    y = x.exp()
    y.data.mul_(2)  # no error at backward: .data is cut out of the version checks
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(np.array(X, dtype=np.float32)), rtol=1e-6)
    assert y._version == 0


def test_detach_writes_are_seen_by_autograd(lib):
    x = _x(lib, requires_grad=True)
    y = x.exp()
    y.detach().mul_(2)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()


def test_detach_of_leaf_can_be_written_through_its_views(lib):
    x = _x(lib, requires_grad=True)
    d = x.detach()
    d[0].mul_(2)
    d.t()[1].add_(1)
    assert x.grad_fn is None and x.requires_grad and d.grad_fn is None
    assert x._version == d._version == 2
    assert x.tolist() == [[2.0, -3.0, 6.0], [0.5, 5.0, -1.5]]


# ------------------------------------------------------------------ leaf errors


@pytest.mark.parametrize(
    "code",
    [
        "x.add_(1)",
        "x.mul_(lib.ones(3))",
        "x.exp_()",
        "x.zero_()",
        "x.fill_(2)",
        "x.copy_(lib.ones(3))",
        "x.clamp_(0, 1)",
        "x.masked_fill_(lib.tensor([True, False, True]), 0.0)",
        "x.index_fill_(0, lib.tensor([0]), 0.0)",
        "x.unsqueeze_(0)",
        "x.t_()",
        "x.squeeze_()",
        "x.__setitem__(lib.tensor([0]), 1.0)",
        "x.__iadd__(1)",
    ],
)
def test_inplace_on_leaf_that_requires_grad_raises(lib, code):
    x = lib.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=re.escape(LEAF)):
        exec(code, {"lib": lib, "x": x})  # noqa: S102 - test table
    assert x._version == 0 and x.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    "code",
    ["x[0].add_(1)", "x.t().mul_(2)", "x[1:].exp_()", "x.__setitem__(0, 1.0)", "x[0].zero_()"],
)
def test_inplace_on_view_of_leaf_that_requires_grad_raises(lib, code):
    x = lib.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=re.escape(VIEW_LEAF)):
        exec(code, {"lib": lib, "x": x})  # noqa: S102 - test table


def test_inplace_on_leaf_under_no_grad_is_allowed_and_bumps_version(lib):
    x = lib.ones(2, 3, requires_grad=True)
    with lib.no_grad():
        x.add_(1)
        x.mul_(2)
        x.exp_()
        x.zero_()
        x.fill_(3)
        x.copy_(lib.ones(3))
        x[0] = 2
        x.clamp_(0, 1.5)
        x[0].mul_(2)  # views of the leaf too
        x.t().sub_(1)
    assert x._version == 10
    assert x.requires_grad and x.grad_fn is None and x.is_leaf
    assert x.tolist() == [[2.0, 2.0, 2.0], [0.0, 0.0, 0.0]]


def test_optimizer_style_update_under_no_grad(lib):
    p = _x(lib, requires_grad=True)
    (p * p).sum().backward()
    with lib.no_grad():
        p.add_(p.grad, alpha=-0.1)
        p.mul_(0.5)
        p.grad.zero_()
    assert p.requires_grad and p.grad_fn is None and p.is_leaf
    assert p._version == 2
    np.testing.assert_allclose(p.detach().numpy(), 0.5 * 0.8 * np.array(X), rtol=1e-6)
    (p * 3).sum().backward()  # the next step works: the leaf still accumulates
    np.testing.assert_allclose(p.grad.numpy(), np.full((2, 3), 3.0))


def test_view_made_under_no_grad_then_written_with_grad_raises():
    def run(lib):
        x = _x(lib, requires_grad=True)
        y = x * 2
        with lib.no_grad():
            v = y[1:]
        v.mul_(2)

    assert_same(run)


def test_view_of_leaf_made_under_no_grad_then_written_with_grad_raises():
    def run(lib):
        x = _x(lib, requires_grad=True)
        with lib.no_grad():
            v = x[0]
        v.mul_(2)

    assert_same(run)


def test_view_made_and_written_under_no_grad_is_untracked(lib):
    x = _x(lib, requires_grad=True)
    y = x * 2
    with lib.no_grad():
        y[1:].mul_(2)
    assert type(y.grad_fn).__name__ == "MulBackward0" and y._version == 1
    y.sum().backward()
    assert x.grad.tolist() == [[2.0] * 3] * 2


# ------------------------------------------------------------------ saved tensors modified


def _modified_error(fn, node: str, version: str | None = "is at version 1; expected version 0"):
    """Both raise; both messages name the tensor and versions; fluxion's names ``node``."""
    ours = assert_same(fn, match=MODIFIED)
    assert node in ours[2], ours[2]
    if version is not None:
        assert version in ours[2]
    return ours


def test_backward_after_saved_input_modified_raises():
    def run(lib):
        x = _x(lib, requires_grad=True)
        y = x * 2
        z = y * y
        y.add_(1)
        z.sum().backward()

    ours = _modified_error(run, "MulBackward0")
    assert "[torch.FloatTensor [2, 3]]" in ours[2]


def test_backward_after_saved_output_modified_raises():
    def run(lib):
        x = _x(lib, requires_grad=True)
        y = x.exp()
        y.add_(1)
        y.sum().backward()

    _modified_error(run, "ExpBackward0")


def test_backward_after_saved_leaf_modified_under_no_grad_raises():
    def run(lib):
        x = _x(lib, requires_grad=True)
        y = x.sigmoid() * x
        with lib.no_grad():
            x.mul_(2)
        y.sum().backward()

    _modified_error(run, "MulBackward0")


def test_backward_after_saved_view_modified_raises():
    def run(lib):
        x = _x(lib, requires_grad=True)
        y = x * 1
        z = y[0] * y[0]  # saves the view y[0]
        y[1, 1] = 2.0  # another region, but the same version counter
        z.sum().backward()

    _modified_error(run, "MulBackward0")


def test_backward_after_base_written_when_only_outputs_saved_is_fine():
    def run(lib):
        x = _x(lib, requires_grad=True)
        y = x * 1
        z = y[0] * 3 + y[0].exp()  # saves nothing of y (exp saves its own output)
        y[1, 1] = 2.0
        z.sum().backward()
        return x.grad

    assert_same(run)


def test_inplace_result_saved_then_modified_raises():
    def run(lib):
        x = _x(lib, requires_grad=True)
        y = x * 1
        y.exp_()  # ExpBackward0 saves its output: y itself
        y.add_(1)
        y.sum().backward()

    # PyTorch says "version 2; expected version 1" (absolute); fluxion counts from the exp_
    _modified_error(run, "ExpBackward0", version=None)


def test_inplace_result_through_view_saved_then_modified_raises():
    def run(lib):
        x = _x(lib, requires_grad=True)
        y = x.clone()
        y.t().exp_()
        y.unsqueeze(0).sub_(1)
        y.sum().backward()

    _modified_error(run, "ExpBackward0", version=None)


def test_inplace_with_self_as_other_operand_raises_at_backward():
    def run(lib):
        x = _x(lib, requires_grad=True)
        y = x * 1
        y.mul_(y)  # `other` is y, saved at version 0, then written
        y.sum().backward()

    _modified_error(run, "MulBackward0")


@pytest.mark.parametrize("same", [False, True])
def test_inplace_on_view_with_other_view_as_operand_raises_at_backward(same):
    def run(lib):
        x = _x(lib, requires_grad=True)
        y = x * 1
        v = y[0]
        v.mul_(v if same else y[1])
        y.sum().backward()

    _modified_error(run, "MulBackward0")


def test_saved_tensor_error_under_no_grad_write_after_inplace(lib):
    x = _x(lib, requires_grad=True)
    y = x * 1
    y.sigmoid_()
    z = y * y
    with lib.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match=MODIFIED):
        z.sum().backward()


# ------------------------------------------------------------------ gradients through in-place


def test_grad_of_inplace_on_nonleaf():
    def run(lib):
        x = _x(lib, requires_grad=True)
        y = x * 2
        y.mul_(x)
        y.sum().backward()
        return y, x.grad

    assert_same(run)


def test_chain_of_view_writes_then_write_over_saved_output_raises():
    def run(lib):
        x = _x(lib, requires_grad=True)
        y = x.clone()
        y[0].mul_(3)
        y[:, 1].add_(x[:, 0])
        y.t().exp_()  # ExpBackward0 saves its output, a view of y
        y.unsqueeze(0).sub_(1)  # ...which this write modifies
        y.sum().backward()

    _modified_error(run, "ExpBackward0", version=None)


def test_grad_through_chain_of_view_writes():
    def run(lib):
        x = _x(lib, requires_grad=True)
        y = x.clone()
        y[0].mul_(3)
        y[:, 1].add_(x[:, 0])
        y.unsqueeze(0).sub_(1)
        names = [type(y.grad_fn).__name__]
        y.t().exp_()
        names.append(type(y.grad_fn).__name__)
        (y * y).sum().backward()
        return y, x.grad, names

    assert_same(run)


def test_grad_through_view_writes_with_later_base_reads():
    def run(lib):
        x = _x(lib, requires_grad=True)
        w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 1
        y[1].mul_(w)
        y[:, 0] = w[:2] * 2
        y[0, 1:] += 5
        y.sum(0).pow(2).sum().backward()
        return y, x.grad, w.grad

    assert_same(run)


def test_grad_of_setitem_on_plain_tensor_from_value_that_requires_grad():
    def run(lib):
        w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = lib.zeros(3, 3)
        y[0] = w
        y[1:, 1] = w[:2] * w[1:]
        y[lib.tensor([2])] = w.exp()
        (y * y).sum().backward()
        return y, w.grad

    assert_same(run)


def test_grad_of_setitem_through_a_view():
    def run(lib):
        x = _x(lib, requires_grad=True)
        y = x * 1
        v = y[1]
        v[0] = 10.0
        v[1:] = v[1:] * 3
        (y * y).sum().backward()
        return y, x.grad

    assert_same(run)


def test_grad_of_inplace_ops_on_views_of_views():
    def run(lib):
        x = (lib.arange(24.0) / 10).reshape(2, 3, 4).requires_grad_()
        y = x * 1
        v = y.transpose(0, 2)[1:3]  # a view of a view
        v.mul_(v.detach() + 1)
        v[0].sub_(2)
        y.narrow(1, 1, 2).select(2, 0).exp_()
        (y.sin() * y).sum().backward()
        return y, x.grad

    assert_same(run)


def test_split_output_written_under_no_grad_matches_torch():
    def run(lib):
        x = _x(lib, requires_grad=True)
        y = x * 1
        a, b = y.split([1, 2], dim=1)
        with lib.no_grad():
            b.mul_(3)
        return y, y._version, a._version

    assert_same(run)


def test_double_backward_through_inplace_ops():
    def run(lib):
        x = _x(lib, requires_grad=True)
        y = x * x
        y.mul_(x)
        y.sigmoid_()
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        g.pow(2).sum().backward()
        return g, x.grad

    assert_same(run)


def test_double_backward_through_view_writes():
    def run(lib):
        x = _x(lib, requires_grad=True)
        y = x.clone()
        y[0].mul_(x[1])
        y.t().exp_()
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        g.sum().backward()
        return g, x.grad

    assert_same(run)


def test_double_backward_through_overwrites():
    def run(lib):
        x = _x(lib, requires_grad=True)
        w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 1
        y.copy_(w * w)
        y[0].fill_(w[1] ** 3)
        (g,) = lib.autograd.grad((y * y).sum(), w, create_graph=True)
        g.sum().backward()
        return g, w.grad

    assert_same(run)


def test_grad_of_inplace_with_mixed_float_dtypes():
    def run(lib):
        x = _x(lib, requires_grad=True)
        w = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        y = x * 1
        y.add_(w)
        y.mul_(w)
        z = x * 1
        z.copy_(w)
        (y + z).sum().backward()
        return y, z, x.grad, w.grad

    assert_same(run)


def test_retain_graph_backward_twice_through_inplace():
    def run(lib):
        x = _x(lib, requires_grad=True)
        y = x * 1
        y[0].exp_()
        y.sum().backward(retain_graph=True)
        y.sum().backward()
        return x.grad

    assert_same(run)


@pytest.mark.parametrize(
    "code, names",
    [
        ("y.add_(1)", ["AddBackward0"]),
        ("y.mul_(x)", ["MulBackward0"]),
        ("y.exp_()", ["ExpBackward0"]),
        ("y.zero_()", ["ZeroBackward0"]),
        ("y.fill_(1)", ["FillBackward2"]),
        ("y.fill_(x[0, 0])", ["FillBackward3"]),
        ("y.copy_(x)", ["CopyBackwards"]),
        ("y[0] = 1", ["CopySlices"]),
        ("y[0:1] = x[1]", ["CopySlices"]),
        ("y[lib.tensor([0])] = 1", ["IndexPutBackward0"]),
        ("y[0].mul_(2)", ["CopySlices"]),
        ("y.unsqueeze_(0)", ["UnsqueezeBackward1"]),
        ("y.squeeze_()", ["SqueezeBackward3"]),
        ("y.squeeze_(0)", ["SqueezeBackward4"]),
        ("y.t_()", ["TBackward1"]),
        ("y.masked_fill_(x > 0, 0.0)", ["MaskedFillBackward0"]),
        ("y.index_fill_(1, lib.tensor([0]), 2.0)", ["IndexFillBackward0"]),
        ("y.clamp_(0, 1)", ["ClampBackward1"]),
        ("y.relu_()", ["ReluBackward0"]),
    ],
)
def test_grad_fn_name_after_inplace(lib, code, names):
    x = _x(lib, requires_grad=True)
    y = x * 1
    exec(code, {"lib": lib, "x": x, "y": y})  # noqa: S102 - test table
    assert [type(y.grad_fn).__name__] == names


def test_grad_fn_after_inplace_points_at_previous_history(lib):
    x = _x(lib, requires_grad=True)
    y = x * 2
    mul = y.grad_fn
    y.add_(1)
    assert y.grad_fn.next_functions[0][0] is mul
    y.copy_(x)
    assert type(y.grad_fn.next_functions[0][0]).__name__ == "AddBackward0"


# ------------------------------------------------------------------ known differences


def test_inplace_stale_view_gradients_match_torch():
    """A view taken *before* an in-place write on its base (or a sibling view) re-derives its
    grad_fn at its next use, so the gradient includes the write, as PyTorch's does."""
    torch = pytest.importorskip("torch")

    def run(lib, write):
        x = _x(lib, requires_grad=True)
        y = x * 1
        v = y[0]
        if write == "base":
            y.mul_(2)
        elif write == "sibling":
            y[:, 0].mul_(3)
        else:
            y.mul_(2)
            y.add_(x)
        (v * v).sum().backward()
        return x.grad.tolist()

    for write in ("base", "sibling", "twice"):
        np.testing.assert_allclose(run(fluxion, write), run(torch, write), err_msg=write)


def test_known_difference_split_outputs_may_be_written_with_grad():
    """PyTorch forbids in-place writes (with grad) to outputs of split/chunk/unbind; fluxion
    replays each output as its own narrow/select view and gets the gradient of the same code
    written out of place."""
    torch = pytest.importorskip("torch")

    def inplace(lib):
        x = _x(lib, requires_grad=True)
        y = x * 1
        a, b = y.split([1, 2], dim=1)
        b.mul_(3)
        a.add_(b[:, :1])
        (y * y).sum().backward()
        return y.detach().numpy(), x.grad.numpy()

    def out_of_place(lib):
        x = _x(lib, requires_grad=True)
        a, b = (x * 1).split([1, 2], dim=1)
        b = b * 3
        y = lib.cat([a + b[:, :1], b], dim=1)
        (y * y).sum().backward()
        return y.detach().numpy(), x.grad.numpy()

    with pytest.raises(RuntimeError, match="output of a function that returns multiple views"):
        inplace(torch)
    for ours, theirs in zip(inplace(fluxion), out_of_place(torch)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


@pytest.mark.parametrize(
    "dtype, other, alpha",
    [
        ("float32", [0.5, -1.0, 2.0], -0.1),  # an optimiser's update
        ("float64", [0.5, -1.0, 2.0], 3),
        ("float16", [0.5, -1.0, 2.0], 0.25),
        ("int64", [1, -2, 3], 2),
        ("int32", [1, -2, 3], -3),
    ],
)
def test_add_alpha_without_graph_matches_torch(dtype, other, alpha):
    """add_(other, alpha=a) outside a graph scales on the arrays: torch's values and dtype."""
    torch = pytest.importorskip("torch")
    results = []
    for lib in (fluxion, torch):
        dt = getattr(lib, dtype)
        y = lib.tensor([1, 2, 3], dtype=dt)
        with lib.no_grad():
            y.add_(lib.tensor(other, dtype=dt), alpha=alpha)
        results.append(y)
    assert str(results[0].dtype).split(".")[1] == str(results[1].dtype).split(".")[1]
    np.testing.assert_array_equal(results[0].numpy(), results[1].numpy())
