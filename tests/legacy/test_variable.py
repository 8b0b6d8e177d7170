"""Legacy (PyTorch 0.1-0.3) API: ``Variable``, ``volatile``, ``.creator``, typed constructors.

What torch 2.x still has (Variable as an alias factory, the typed constructors, the legacy
``backward`` keywords) is compared with torch. ``volatile`` is gone from torch 2.x (it warns and
ignores the flag), so its propagation table is checked against the semantics of the old autograd
notes, which the issue quotes: one volatile input makes the output volatile, with no graph, even
when parameters require grad; nothing is saved for backward.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import tracemalloc
import warnings

import numpy as np
import pytest
import torch

import fluxion
from fluxion.autograd import Variable
from fluxion.autograd.engine import Node
from fluxion.testing import assert_close as _assert_close

RNG = np.random.default_rng(0)


def assert_close(actual, expected):
    """Compare a fluxion tensor with a torch tensor (or another fluxion tensor)."""
    if isinstance(expected, torch.Tensor):
        expected = fluxion.tensor(expected.detach().numpy())
    _assert_close(actual, expected)


def _pair(shape, requires_grad=False, dtype=np.float64):
    data = RNG.standard_normal(shape).astype(dtype)
    return (
        fluxion.tensor(data, requires_grad=requires_grad),
        torch.tensor(data, requires_grad=requires_grad),
    )


def _volatile(shape=(3, 4)):
    x, _ = _pair(shape)
    return Variable(x, volatile=True)


def _torch_variable(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.autograd.Variable(*args, **kwargs)


# ---------------------------------------------------------------------------- Variable


def test_variable_returns_tensor_sharing_storage_and_version():
    f, t = _pair((3,))
    fv, tv = Variable(f), _torch_variable(t)
    assert isinstance(fv, fluxion.Tensor) and type(fv) is fluxion.Tensor
    assert (fv is f) == (tv is t)
    f.add_(1.0)
    t.add_(1.0)
    assert_close(fv, tv)  # the write through the original is visible in the Variable
    assert fv._version == tv._version == 1
    fv.data.mul_(2.0)
    tv.data.mul_(2.0)
    assert_close(f, t)  # .data shares storage too


def test_variable_requires_grad_backward_matches_torch():
    f, t = _pair((4,))
    fv = Variable(f, requires_grad=True)
    tv = _torch_variable(t, requires_grad=True)
    assert fv.requires_grad and fv.is_leaf and not f.requires_grad
    (fv.exp() * fv).sum().backward()
    (tv.exp() * tv).sum().backward()
    assert_close(fv.grad, tv.grad)


def test_variable_of_non_leaf_is_a_leaf_without_history():
    f, t = _pair((3,), requires_grad=True)
    fw, tw = f * 2, t * 2
    fv, tv = Variable(fw), _torch_variable(tw)
    assert fv.requires_grad == tv.requires_grad is False
    assert fv.grad_fn is None and tv.grad_fn is None


def test_variable_isinstance_holds_for_every_tensor():
    assert isinstance(fluxion.ones(2), Variable) == isinstance(
        torch.ones(2), torch.autograd.Variable
    )
    assert isinstance(Variable(fluxion.ones(2)), Variable)
    assert not isinstance([1.0], Variable)


def test_variable_bad_arguments_raise_like_torch():
    with pytest.raises(TypeError) as te:
        _torch_variable([1.0, 2.0])
    with pytest.raises(TypeError, match=str(te.value)):
        Variable([1.0, 2.0])
    with pytest.raises(ValueError) as te:
        _torch_variable(torch.ones(2), requires_grad=True, volatile=True)
    with pytest.raises(ValueError, match=str(te.value).replace("!", "")):
        Variable(fluxion.ones(2), requires_grad=True, volatile=True)
    with pytest.raises(RuntimeError):
        _torch_variable(torch.ones(2, dtype=torch.long), requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        Variable(fluxion.ones(2, dtype=fluxion.int64), requires_grad=True)


def test_creator_is_grad_fn():
    x = Variable(fluxion.ones(2), requires_grad=True)
    y = x * 3
    assert y.creator is y.grad_fn and y.creator is not None
    assert x.creator is None


# ---------------------------------------------------------------------------- typed constructors

CTORS = [
    "FloatTensor",
    "DoubleTensor",
    "HalfTensor",
    "LongTensor",
    "IntTensor",
    "ShortTensor",
    "CharTensor",
    "ByteTensor",
    "BoolTensor",
]
ARGS = [(), (2,), (2, 3), ([1.7, 2.0, 0.0],), ([[1, 2], [3, 4]],), ((2, 3),)]


@pytest.mark.parametrize("name", CTORS)
@pytest.mark.parametrize("args", ARGS, ids=repr)
def test_legacy_constructor_matches_torch(name, args):
    f = getattr(fluxion, name)(*args)
    t = getattr(torch, name)(*args)
    assert type(f) is fluxion.Tensor
    assert str(f.dtype).split(".")[1] == str(t.dtype).split(".")[1]
    assert tuple(f.shape) == tuple(t.shape)
    if args and isinstance(args[0], (list, tuple)):
        assert f.tolist() == t.tolist()
    assert isinstance(f, getattr(fluxion, name))
    others = [getattr(fluxion, n) for n in CTORS if n != name]
    assert not any(isinstance(f, o) for o in others)


def test_legacy_constructor_sizes_and_aliases_like_torch():
    assert tuple(fluxion.FloatTensor(fluxion.Size([2, 3])).shape) == tuple(
        torch.FloatTensor(torch.Size([2, 3])).shape
    )
    a = fluxion.ones(2)
    b = fluxion.FloatTensor(a)
    b.add_(1.0)
    assert b is not a and a.tolist() == [2.0, 2.0]  # same storage, as torch.FloatTensor(t)
    ta = torch.ones(2)
    torch.FloatTensor(ta).add_(1.0)
    assert ta.tolist() == a.tolist()
    assert fluxion.Tensor([2, 2, 2]).dtype == fluxion.float32  # the example


@pytest.mark.parametrize(
    "args",
    [(3.5,), ("ab",), (True,), (2, -1), (fluxion.ones(2, dtype=fluxion.int64),)],
    ids=["float", "str", "bool", "negative", "wrong-dtype-tensor"],
)
def test_legacy_constructor_errors_like_torch(args):
    targs = tuple(
        torch.ones(2, dtype=torch.long) if isinstance(a, fluxion.Tensor) else a for a in args
    )
    with pytest.raises(Exception) as te:
        torch.FloatTensor(*targs)
    with pytest.raises(type(te.value)):
        fluxion.FloatTensor(*args)


def test_legacy_constructor_rejects_keywords_like_torch():
    with pytest.raises(TypeError):
        torch.FloatTensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="requires_grad"):
        fluxion.FloatTensor([1.0], requires_grad=True)


# ---------------------------------------------------------------------------- volatile: flags


def test_volatile_leaf_flags():
    v = _volatile()
    assert v.volatile is True and v.requires_grad is False and v.creator is None
    assert fluxion.ones(2).volatile is False  # readable on every tensor
    assert Variable(fluxion.ones(2)).volatile is False


def test_volatile_setter_rules():
    x = fluxion.ones(2)
    x.volatile = True
    assert x.volatile
    x.volatile = False
    assert not x.volatile and not (x * 2).volatile
    w = fluxion.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="volatile can only be set on leaf variables"):
        (w * 2).volatile = True
    with pytest.raises(ValueError, match="volatile and require_grad"):
        w.volatile = True
    with pytest.raises(RuntimeError, match="volatile must be a bool"):
        x.volatile = 1
    v = _volatile()
    with pytest.raises(ValueError, match="volatile and require_grad"):
        v.requires_grad_()


# ---------------------------------------------------------------------------- volatile: table


def _check_volatile(y):
    assert y.volatile is True
    assert y.requires_grad is False
    assert y.creator is None and y.grad_fn is None


BINARY = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "matmul": lambda a, b: a @ b.T,
    "sub_reflected": lambda a, b: b - a,
    "cat": lambda a, b: fluxion.cat([a, b]),
    "stack": lambda a, b: fluxion.stack([b, a]),
    "where": lambda a, b: fluxion.where(a > 0, a, b),
    "maximum": lambda a, b: fluxion.maximum(b, a),
}


@pytest.mark.parametrize("op", sorted(BINARY))
@pytest.mark.parametrize("other", ["plain", "parameter", "volatile"])
def test_volatile_propagates_through_binary_ops(op, other):
    v = _volatile()
    o, _ = _pair((3, 4), requires_grad=other == "parameter")
    if other == "volatile":
        o = Variable(o, volatile=True)
    y = BINARY[op](v, o)
    _check_volatile(y)
    if other == "parameter":
        assert o.requires_grad and o.grad is None  # the parameter itself is untouched
    expected = BINARY[op](v.detach().clone().requires_grad_(False), o.detach())
    assert_close(y, expected)  # same values as the non-volatile computation


def test_non_volatile_with_parameter_records_and_matches_torch():
    f, t = _pair((3, 4))
    fw, tw = _pair((3, 4), requires_grad=True)
    fy, ty = (f * fw).tanh().sum(), (t * tw).tanh().sum()
    assert fy.volatile is False and fy.requires_grad and fy.creator is not None
    fy.backward()
    ty.backward()
    assert_close(fw.grad, tw.grad)


UNARY_CHAIN = [
    lambda x: x.exp(),
    lambda x: x[1:, ::2],
    lambda x: x.t(),
    lambda x: x.reshape(-1),
    lambda x: x.unsqueeze(0).expand(2, *x.shape),
    lambda x: x.clone(),
    lambda x: x.to(fluxion.float32),
    lambda x: (x > 0).float(),
    lambda x: fluxion.split(x, 1)[0],
    lambda x: x.sum(1),
    lambda x: x.max(0)[0],
]


def test_volatile_propagates_through_a_chain_with_parameters():
    w1, _ = _pair((4, 5), requires_grad=True)
    w2, _ = _pair((5,), requires_grad=True)
    y = (_volatile() @ w1).relu() * w2
    _check_volatile(y)
    for f in UNARY_CHAIN:
        y = f(y)
        _check_volatile(y)
    y = y + w2.sum()
    _check_volatile(y)
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()
    assert w1.grad is None and w2.grad is None


@pytest.mark.parametrize("f", UNARY_CHAIN, ids=range(len(UNARY_CHAIN)))
def test_volatile_propagates_through_unary_ops(f):
    _check_volatile(f(_volatile((3, 4))))


def test_volatile_multi_output_ops_mark_every_output():
    v = _volatile((4, 3))
    values, indices = v.max(1)
    _check_volatile(values)
    assert indices.volatile
    for part in fluxion.split(v, 2):
        _check_volatile(part)


def test_volatile_wins_under_enable_grad_and_no_grad():
    w, _ = _pair((3, 4), requires_grad=True)
    v = _volatile()
    with fluxion.enable_grad():
        _check_volatile(v * w)
    with fluxion.no_grad():
        _check_volatile(v * w)


# ---------------------------------------------------------------------------- volatile: in place


def test_inplace_on_volatile_stays_volatile():
    w, _ = _pair((3, 4), requires_grad=True)
    v = _volatile()
    before = v.detach().clone()
    assert v.add_(w) is v
    _check_volatile(v)
    assert_close(v, before + w.detach())
    v.mul_(2.0).exp_()
    _check_volatile(v)
    v.copy_(w)
    _check_volatile(v)
    v.fill_(fluxion.tensor(1.0, requires_grad=True))
    _check_volatile(v)
    v[0] = w[0]
    _check_volatile(v)


def test_inplace_with_volatile_operand_makes_result_volatile():
    w, _ = _pair((3, 4), requires_grad=True)
    y = w * 2  # non-volatile, has a graph
    assert y.creator is not None
    y.add_(_volatile())
    _check_volatile(y)
    y2 = w * 3
    y2.mul_(_volatile())
    _check_volatile(y2)


def test_inplace_on_parameter_with_volatile_operand():
    w, _ = _pair((3, 4), requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.add_(_volatile())  # grad mode: the usual leaf error, as for any in-place on w
    with fluxion.no_grad():  # an optimizer-style update leaves the parameter a parameter
        w.add_(_volatile())
        w.pow_(Variable(fluxion.full((3, 4), 2.0, dtype=fluxion.float64), volatile=True))
    assert w.requires_grad and not w.volatile and w.is_leaf


def test_detach_keeps_volatile_data_does_not():
    v = _volatile()
    assert v.detach().volatile
    assert not v.data.volatile


# ---------------------------------------------------------------------------- volatile: Function


class _Square(fluxion.autograd.Function):
    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x * x * w

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        return grad * 2 * x * w, grad * x * x


def test_custom_function_with_volatile_input_records_nothing():
    w, _ = _pair((3, 4), requires_grad=True)
    _check_volatile(_Square.apply(_volatile(), w))
    x, _ = _pair((3, 4))
    assert _Square.apply(x, w).creator is not None


# ---------------------------------------------------------------------------- volatile: memory


def _nodes_alive() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if Node in type(o).__mro__)


def _mlp():
    ws = [fluxion.randn(256, 256, requires_grad=True) * 0.05 for _ in range(6)]
    return [w.detach().requires_grad_() for w in ws]


def _forward(ws, x):
    for w in ws:
        x = (x @ w).tanh().exp()
    return x


def test_volatile_forward_creates_no_nodes_and_saves_nothing():
    ws = _mlp()
    base = _nodes_alive()
    y = _forward(ws, Variable(fluxion.randn(512, 256), volatile=True))
    _check_volatile(y)
    assert _nodes_alive() == base  # no graph node was ever created (none could save anything)
    del y

    def retained(x):
        gc.collect()
        tracemalloc.start()
        y = _forward(ws, x)
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        assert y.shape == (512, 256)
        return kept

    out_bytes = 512 * 256 * 4
    vol = retained(Variable(fluxion.randn(512, 256), volatile=True))
    reg = retained(fluxion.randn(512, 256))
    assert vol < 2 * out_bytes  # only the output is alive
    assert reg > 10 * out_bytes  # the graph keeps every intermediate for backward


# ---------------------------------------------------------------------------- the flag


def test_volatile_flag_is_off_until_a_volatile_tensor_exists():
    code = (
        "import fluxion\n"
        "from fluxion.tensor import VOLATILE_SEEN\n"
        "x = fluxion.ones(3, requires_grad=True)\n"
        "(x * 2).exp().sum().backward()\n"
        "print(VOLATILE_SEEN.cell_contents)\n"
        "fluxion.autograd.Variable(fluxion.ones(1), volatile=True)\n"
        "print(VOLATILE_SEEN.cell_contents)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


# ---------------------------------------------------------------------------- legacy backward


def test_legacy_backward_keywords_and_grad_data_zero():
    f, t = _pair((3,), requires_grad=True)
    fy, ty = f * f * 2, t * t * 2
    g = np.array([1.0, 2.0, 3.0])
    with pytest.warns(FutureWarning):
        fluxion.autograd.backward([fy], grad_variables=[fluxion.tensor(g)], retain_variables=True)
    torch.autograd.backward([ty], grad_tensors=[torch.tensor(g)], retain_graph=True)
    assert_close(f.grad, t.grad)
    grad = f.grad
    f.grad.data.zero_()
    t.grad.data.zero_()
    assert f.grad is grad
    assert_close(f.grad, t.grad)
    fy.backward(fluxion.tensor(g))  # the graph was retained
    ty.backward(torch.tensor(g))
    assert_close(f.grad, t.grad)


# ---------------------------------------------------------------------------- the old example


def test_resnet18_on_volatile_input():
    models = pytest.importorskip("fluxion.vision.models")
    if not hasattr(models, "resnet18"):
        pytest.skip("fluxion.vision.models.resnet18 is not written yet")
    fluxion.manual_seed(0)
    model = models.resnet18()
    x = fluxion.randn(1, 3, 64, 64)
    base = _nodes_alive()
    out = model(Variable(x, volatile=True))
    assert out.requires_grad is False and out.volatile is True and out.creator is None
    assert _nodes_alive() == base
    out2 = model(Variable(x))
    assert out2.requires_grad and not out2.volatile and out2.creator is not None
    assert_close(out, out2.detach())
