"""``nn.Module`` and ``nn.Parameter`` against torch.

Every model here is built by one function that takes the library (``torch`` or ``fluxion``), so
the same code defines the reference and the module under test: names, order, ``state_dict`` keys,
``repr`` strings, error types and messages, and hook arguments are compared with torch's.
"""

from __future__ import annotations

import copy
import pickle
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import fluxion

torch = pytest.importorskip("torch")

LIBS = {"torch": torch, "fluxion": fluxion}


def _msg(exc: BaseException) -> str:
    """An exception's message with library names normalised (``torch.Size`` -> ``fluxion.Size``)."""
    s = str(exc).replace("torch.Size", "fluxion.Size").replace("dtype=torch.", "dtype=fluxion.")
    return s.replace("torch.nn.modules.module.Module", "fluxion.nn.module.Module")


def _both(fn):
    """``(fluxion_result, torch_result)`` of ``fn(lib)``."""
    return fn(fluxion), fn(torch)


def _raises_like(fn) -> tuple[BaseException, BaseException]:
    """Run ``fn(lib)`` for both libraries; both must raise the same type (returned for checks)."""
    errs = []
    for lib in (fluxion, torch):
        try:
            fn(lib)
        except Exception as e:  # noqa: BLE001  (we compare whatever torch raises)
            errs.append(e)
        else:
            errs.append(None)
    f_err, t_err = errs
    assert t_err is not None, "torch did not raise: the test is wrong"
    assert f_err is not None, f"fluxion did not raise; torch raised {t_err!r}"
    assert type(f_err) is type(t_err), (f_err, t_err)
    return f_err, t_err


def _assert_same_error(fn) -> None:
    f_err, t_err = _raises_like(fn)
    assert _msg(f_err) == _msg(t_err)


def _np(t) -> np.ndarray:
    return t.detach().numpy()


# ----------------------------------------------------------------------------- model builders


def _leaf_cls(lib):
    nn = lib.nn

    class Leaf(nn.Module):
        def __init__(self, n_in: int, n_out: int, bias: bool = True):
            super().__init__()
            self.weight = nn.Parameter(
                lib.arange(n_out * n_in, dtype=lib.float64).reshape(n_out, n_in) / 10
            )
            if bias:
                self.bias = nn.Parameter(lib.ones(n_out, dtype=lib.float64))
            else:
                self.register_parameter("bias", None)
            self.register_buffer("count", lib.tensor(0))
            self.register_buffer("scratch", lib.zeros(2), persistent=False)
            self.n_in, self.n_out = n_in, n_out

        def forward(self, x):
            y = x @ self.weight.t()
            return y if self.bias is None else y + self.bias

        def extra_repr(self) -> str:
            return f"in={self.n_in}, out={self.n_out}, bias={self.bias is not None}"

    return Leaf


def _net(lib):
    """A small tree: nested modules, a shared parameter, a shared module, a None child."""
    nn = lib.nn
    Leaf = _leaf_cls(lib)

    class Multi(nn.Module):
        def extra_repr(self) -> str:
            return "first line\nsecond line"

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = Leaf(3, 4)
            self.dec = Leaf(4, 2, bias=False)
            self.shared = self.enc  # the same module twice
            self.register_module("empty", None)
            self.seq = nn.Sequential(Leaf(2, 2), Multi())
            self.scale = nn.Parameter(lib.tensor(2.0, dtype=lib.float64))
            self.tied = self.scale  # the same parameter twice
            self.register_buffer("steps", lib.zeros(1, dtype=lib.int64))

        def forward(self, x):
            return self.seq[0](self.dec(self.enc(x))) * self.scale

    return Net()


# ----------------------------------------------------------------------------- Parameter


def test_parameter_repr_and_type():
    f, t = _both(lambda lib: lib.nn.Parameter(lib.tensor([1.0, -2.5])))
    assert repr(f) == repr(t)
    assert isinstance(f, fluxion.Tensor) and isinstance(f, fluxion.nn.Parameter)
    assert f.requires_grad and f.is_leaf and f.grad_fn is None
    assert type(f * 2) is fluxion.Tensor and type(f.detach()) is fluxion.Tensor


def test_parameter_no_grad_and_empty():
    f, t = _both(lambda lib: lib.nn.Parameter(lib.zeros(2, dtype=lib.int64), requires_grad=False))
    assert repr(f) == repr(t) and not f.requires_grad
    f, t = _both(lambda lib: lib.nn.Parameter())
    assert repr(f) == repr(t)


def test_parameter_integer_requires_grad_raises():
    f_err, t_err = _raises_like(lambda lib: lib.nn.Parameter(lib.zeros(2, dtype=lib.int64)))
    assert "floating point" in str(f_err)


def test_parameter_shares_storage_and_version_with_data():
    x = fluxion.zeros(3)
    p = fluxion.nn.Parameter(x)
    x.add_(1)
    assert p.tolist() == [1.0, 1.0, 1.0]
    tx = torch.zeros(3)
    tp = torch.nn.Parameter(tx)
    tx.add_(1)
    assert p._version == tp._version


def test_parameter_from_non_leaf_is_leaf():
    for lib in (fluxion, torch):
        y = lib.ones(2, requires_grad=True) * 2
        p = lib.nn.Parameter(y)
        assert p.is_leaf and p.grad_fn is None and p.requires_grad


def test_parameter_deepcopy_and_pickle():
    p = fluxion.nn.Parameter(fluxion.tensor([1.0, 2.0]))
    p.grad = fluxion.tensor([0.5, 0.5])
    q = copy.deepcopy(p)
    assert type(q) is fluxion.nn.Parameter and q.requires_grad
    assert q.tolist() == [1.0, 2.0] and q.grad.tolist() == [0.5, 0.5]
    q.data.add_(1)
    assert p.tolist() == [1.0, 2.0]
    r = pickle.loads(pickle.dumps(fluxion.nn.Parameter(fluxion.ones(2), requires_grad=False)))
    assert type(r) is fluxion.nn.Parameter and not r.requires_grad and r.tolist() == [1.0, 1.0]


def test_parameter_gets_grad_from_backward():
    p = fluxion.nn.Parameter(fluxion.tensor([1.0, 2.0]))
    (p * p).sum().backward()
    assert p.grad.tolist() == [2.0, 4.0]


# ----------------------------------------------------------------------------- registration


def test_module_named_parameters_match_torch():
    f, t = _both(_net)
    for kwargs in ({}, {"prefix": "model"}, {"recurse": False}, {"remove_duplicate": False}):
        fn = [n for n, _ in f.named_parameters(**kwargs)]
        tn = [n for n, _ in t.named_parameters(**kwargs)]
        assert fn == tn, kwargs
    assert len(list(f.parameters())) == len(list(t.parameters()))
    for (n, fp), (_, tp) in zip(f.named_parameters(), t.named_parameters()):
        np.testing.assert_array_equal(_np(fp), _np(tp), err_msg=n)
        assert type(fp) is fluxion.nn.Parameter


def test_module_named_buffers_children_modules_match_torch():
    f, t = _both(_net)
    for kwargs in ({}, {"prefix": "m"}, {"recurse": False}, {"remove_duplicate": False}):
        assert [n for n, _ in f.named_buffers(**kwargs)] == [
            n for n, _ in t.named_buffers(**kwargs)
        ]
    assert [n for n, _ in f.named_children()] == [n for n, _ in t.named_children()]
    assert [type(m).__name__ for m in f.children()] == [type(m).__name__ for m in t.children()]
    for kwargs in ({}, {"prefix": "root"}, {"remove_duplicate": False}):
        assert [n for n, _ in f.named_modules(**kwargs)] == [
            n for n, _ in t.named_modules(**kwargs)
        ]
    assert [type(m).__name__ for m in f.modules()] == [type(m).__name__ for m in t.modules()]


def test_module_getattr_returns_registered_objects():
    f = _net(fluxion)
    assert f.enc is f._modules["enc"] and f.scale is f._parameters["scale"]
    assert f.steps is f._buffers["steps"] and f.dec.bias is None
    _assert_same_error(lambda lib: _net(lib).missing)


def test_module_reassigning_changes_kind():
    def run(lib):
        m = lib.nn.Module()
        m.x = lib.nn.Parameter(lib.zeros(1))
        m.y = lib.nn.Module()
        m.y = lib.nn.Parameter(lib.zeros(1))
        m.register_buffer("z", lib.zeros(1))
        m.z = lib.ones(1)  # a tensor assigned to a buffer name stays a buffer
        m.w = lib.nn.Parameter(lib.zeros(1))
        m.w = None  # None keeps the slot
        return (
            list(m._parameters),
            list(m._modules),
            list(m._buffers),
            m.z.tolist(),
            list(m.state_dict()),
        )

    assert run(fluxion) == run(torch)


@pytest.mark.parametrize(
    "case",
    [
        "tensor_to_param",
        "int_to_module",
        "module_to_param",
        "int_to_buffer",
        "param_before_init",
        "module_before_init",
        "register_param_before_init",
        "register_buffer_before_init",
        "register_plain_tensor_as_param",
        "register_nonleaf_param",
        "param_name_dot",
        "param_name_empty",
        "param_name_not_str",
        "param_name_exists",
        "buffer_name_dot",
        "buffer_name_empty",
        "buffer_not_tensor",
        "buffer_name_exists",
        "module_not_module",
        "module_name_dot",
        "module_name_empty",
        "module_name_exists",
        "init_kwargs",
        "init_args",
        "no_forward",
        "train_not_bool",
        "to_int_dtype",
    ],
)
def test_module_errors_match_torch(case):
    def run(lib):
        nn = lib.nn
        m = nn.Module()
        m.p = nn.Parameter(lib.zeros(1))
        m.sub = nn.Module()
        m.register_buffer("b", lib.zeros(1))
        m.attr = 3

        class Early(nn.Module):
            def __init__(self, what):
                if what == "param":
                    self.p = nn.Parameter(lib.zeros(1))
                elif what == "module":
                    self.m = nn.Module()
                elif what == "register_param":
                    self.register_parameter("p", None)
                else:
                    self.register_buffer("b", None)

        if case == "tensor_to_param":
            m.p = lib.zeros(1)
        elif case == "module_to_param":
            m.p = nn.Module()
        elif case == "int_to_module":
            m.sub = 3
        elif case == "int_to_buffer":
            m.b = 3
        elif case == "param_before_init":
            Early("param")
        elif case == "module_before_init":
            Early("module")
        elif case == "register_param_before_init":
            Early("register_param")
        elif case == "register_buffer_before_init":
            Early("register_buffer")
        elif case == "register_plain_tensor_as_param":
            m.register_parameter("q", lib.zeros(1))
        elif case == "register_nonleaf_param":
            p = nn.Parameter(lib.zeros(1))
            q = p * 2
            q.__class__ = nn.Parameter
            m.register_parameter("q", q)
        elif case == "param_name_dot":
            m.register_parameter("a.b", None)
        elif case == "param_name_empty":
            m.register_parameter("", None)
        elif case == "param_name_not_str":
            m.register_parameter(3, None)
        elif case == "param_name_exists":
            m.register_parameter("attr", None)
        elif case == "buffer_name_dot":
            m.register_buffer("a.b", None)
        elif case == "buffer_name_empty":
            m.register_buffer("", None)
        elif case == "buffer_not_tensor":
            m.register_buffer("c", 3)
        elif case == "buffer_name_exists":
            m.register_buffer("p", None)
        elif case == "module_not_module":
            m.add_module("x", 3)
        elif case == "module_name_dot":
            m.add_module("a.b", None)
        elif case == "module_name_empty":
            m.add_module("", None)
        elif case == "module_name_exists":
            m.add_module("attr", None)
        elif case == "init_kwargs":
            nn.Module(foo=1)
        elif case == "init_args":
            nn.Module(1)
        elif case == "no_forward":
            m(lib.zeros(1))
        elif case == "train_not_bool":
            m.train(1)
        elif case == "to_int_dtype":
            m.to(lib.int64)

    _assert_same_error(run)


def test_module_delattr_removes_registration():
    def run(lib):
        m = _net(lib)
        del m.scale
        del m.steps
        del m.dec
        m.extra = 1
        del m.extra
        return list(m.state_dict()), hasattr(m, "extra")

    assert run(fluxion) == run(torch)


def test_module_dir_lists_registered_names():
    f, t = _both(_net)
    fd, td = set(dir(f)), set(dir(t))
    for name in ("enc", "dec", "scale", "steps", "seq", "forward"):
        assert name in fd and name in td


@pytest.mark.parametrize(
    "target",
    ["seq.0.weight", "enc.count", "seq.0", "", "nope.x", "enc.nope", "enc.n_in", "enc.count.x"],
)
def test_module_get_submodule_parameter_buffer(target):
    for getter in ("get_submodule", "get_parameter", "get_buffer"):

        def run(lib, getter=getter):
            return getattr(_net(lib), getter)(target)

        try:
            t = run(torch)
        except Exception:  # noqa: BLE001
            _assert_same_error(run)
            continue
        f = run(fluxion)
        assert type(f).__name__ == type(t).__name__
        if isinstance(t, torch.Tensor):
            np.testing.assert_array_equal(_np(f), _np(t))


# ----------------------------------------------------------------------------- state dict


def test_state_dict_keys_values_and_metadata_match_torch():
    f, t = _both(_net)
    fs, ts = f.state_dict(), t.state_dict()
    assert type(fs) is OrderedDict
    assert list(fs) == list(ts)
    for k in ts:
        np.testing.assert_array_equal(_np(fs[k]), _np(ts[k]), err_msg=k)
        assert not fs[k].requires_grad and type(fs[k]) is fluxion.Tensor
    assert dict(fs._metadata) == dict(ts._metadata)
    # values share storage with the parameters
    fs["scale"].add_(1)
    assert f.scale.item() == 3.0


def test_state_dict_prefix_keep_vars_and_destination():
    f, t = _both(_net)
    assert list(f.state_dict(prefix="model.")) == list(t.state_dict(prefix="model."))
    kept = f.state_dict(keep_vars=True)
    assert kept["scale"] is f.scale and kept["enc.count"] is f.enc.count
    dest = OrderedDict()
    assert f.state_dict(destination=dest) is dest and list(dest) == list(t.state_dict())


def test_load_state_dict_copies_in_place():
    ref = _net(torch).state_dict()
    values = {
        k: np.full(tuple(v.shape), i, dtype=v.numpy().dtype) for i, (k, v) in enumerate(ref.items())
    }

    def run(lib):
        m = _net(lib)
        params_before = dict(m.named_parameters())
        result = m.load_state_dict({k: lib.from_numpy(v.copy()) for k, v in values.items()})
        for name, p in m.named_parameters():
            assert p is params_before[name] and p.requires_grad
        return (
            repr(result),
            result.missing_keys,
            result.unexpected_keys,
            [(k, str(v.dtype).split(".")[-1], v.tolist()) for k, v in m.state_dict().items()],
        )

    f, t = run(fluxion), run(torch)
    assert f == t and f[0] == "<All keys matched successfully>"


def test_load_state_dict_from_torch_state_dict_gives_same_forward():
    t = _net(torch)
    with torch.no_grad():
        for p in t.parameters():
            p.uniform_(-1, 1)
    f = _net(fluxion)
    f.load_state_dict({k: fluxion.from_numpy(v.numpy().copy()) for k, v in t.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 3))
    np.testing.assert_allclose(
        _np(f(fluxion.from_numpy(x))), _np(t(torch.from_numpy(x))), rtol=1e-12
    )


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize("case", ["missing", "unexpected", "both", "size", "not_tensor", "scalar"])
def test_load_state_dict_errors_match_torch(case, strict):
    def run(lib):
        m = _net(lib)
        sd = m.state_dict()
        if case in ("missing", "both"):
            del sd["enc.bias"]
            del sd["steps"]
        if case in ("unexpected", "both"):
            sd["enc.extra"] = lib.zeros(1)
            sd["nosuch.weight"] = lib.zeros(1)
            sd["top"] = lib.zeros(1)
        if case == "size":
            sd["dec.weight"] = lib.zeros(5, 5, dtype=lib.float64)
        if case == "not_tensor":
            sd["scale"] = 3.0
        if case == "scalar":  # a 1-element 1-d value loads into a 0-d parameter
            sd["scale"] = lib.tensor([7.0], dtype=lib.float64)
        out = m.load_state_dict(sd, strict=strict)
        return (out.missing_keys, out.unexpected_keys, repr(out), m.scale.item())

    try:
        expected = run(torch)
    except Exception:  # noqa: BLE001
        _assert_same_error(run)
        return
    assert run(fluxion) == expected


def test_load_state_dict_assign_keeps_requires_grad():
    def run(lib):
        m = _net(lib)
        sd = {
            k: v.clone() + 1 if v.is_floating_point() else v.clone()
            for k, v in m.state_dict().items()
        }
        m.load_state_dict(sd, assign=True)
        return [
            (n, type(p).__name__, p.requires_grad, p.detach().numpy().tolist())
            for n, p in m.named_parameters()
        ]

    assert run(fluxion) == run(torch)


def test_load_state_dict_rejects_non_mapping():
    _assert_same_error(lambda lib: _net(lib).load_state_dict([1, 2]))


def test_extra_state_round_trip():
    def run(lib):
        class WithExtra(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.value = 1

            def get_extra_state(self):
                return {"value": self.value}

            def set_extra_state(self, state):
                self.value = state["value"]

        outer = lib.nn.Module()
        outer.inner = WithExtra()
        sd = outer.state_dict()
        sd["inner._extra_state"] = {"value": 5}
        outer.load_state_dict(sd)
        return list(sd), outer.inner.value

    assert run(fluxion) == run(torch)


# ----------------------------------------------------------------------------- modes, grads


def test_train_eval_recurse():
    f, t = _both(_net)
    f.eval(), t.eval()
    assert [m.training for m in f.modules()] == [m.training for m in t.modules()]
    f.seq.train(), t.seq.train()
    assert [m.training for m in f.modules()] == [m.training for m in t.modules()]
    assert f.train() is f and all(m.training for m in f.modules())


def test_zero_grad_set_to_none_and_zero():
    def run(lib, set_to_none):
        m = _net(lib)
        x = lib.ones(2, 3, dtype=lib.float64)
        m(x).sum().backward()
        had = [p.grad is not None for p in m.parameters()]
        m.zero_grad(set_to_none=set_to_none)
        return had, [None if p.grad is None else p.grad.tolist() for p in m.parameters()]

    for set_to_none in (True, False):
        assert run(fluxion, set_to_none) == run(torch, set_to_none)


def test_requires_grad_freezes_parameters():
    def run(lib):
        m = _net(lib)
        assert m.seq.requires_grad_(False) is m.seq
        return [(n, p.requires_grad) for n, p in m.named_parameters()]

    assert run(fluxion) == run(torch)


def test_apply_visits_children_first():
    def run(lib):
        seen = []
        m = _net(lib)
        assert m.apply(lambda mod: seen.append(type(mod).__name__)) is m
        return seen

    assert run(fluxion) == run(torch)


# ----------------------------------------------------------------------------- conversion


@pytest.mark.parametrize("how", ["to_float32", "float", "half", "double", "to_kw", "type"])
def test_to_dtype_converts_in_place_and_keeps_identity(how):
    def run(lib):
        m = _net(lib)
        m(lib.ones(1, 3, dtype=lib.float64)).sum().backward()
        before = {n: p for n, p in m.named_parameters()}
        if how == "to_float32":
            out = m.to(lib.float32)
        elif how == "float":
            out = m.float()
        elif how == "half":
            out = m.half()
        elif how == "double":
            out = m.float().double()
        elif how == "to_kw":
            out = m.to(device="cpu", dtype=lib.float32)
        else:
            out = m.type(lib.float32)
        assert out is m
        same = [p is before[n] for n, p in m.named_parameters()]
        return (
            same,
            [
                (n, str(p.dtype).split(".")[-1], str(p.grad.dtype).split(".")[-1])
                for n, p in m.named_parameters()
            ],
            [(n, str(b.dtype).split(".")[-1]) for n, b in m.named_buffers()],
            [type(p).__name__ for p in m.parameters()],
        )

    assert run(fluxion) == run(torch)


def test_to_converted_module_still_trains():
    m = _net(fluxion).to(fluxion.float32)
    out = m(fluxion.ones(2, 3))
    assert out.dtype == fluxion.float32
    out.sum().backward()
    assert all(p.grad is None or p.grad.dtype == fluxion.float32 for p in m.parameters())


def test_to_device_cpu_and_tensor_forms():
    m = _net(fluxion)
    assert m.to("cpu") is m and m.cpu() is m and m.to(fluxion.device("cpu")) is m
    m.to(fluxion.zeros(1, dtype=fluxion.float32))
    assert m.scale.dtype == fluxion.float32 and m.steps.dtype == fluxion.int64
    with pytest.raises(RuntimeError):
        m.to("cuda")


# ----------------------------------------------------------------------------- repr


def test_repr_tree_matches_torch():
    f, t = _both(_net)
    assert repr(f) == repr(t)
    f, t = _both(lambda lib: lib.nn.Module())
    assert repr(f) == repr(t)


def test_repr_of_module_with_only_multiline_extra_repr():
    def run(lib):
        class M(lib.nn.Module):
            def extra_repr(self):
                return "a=1\nb=2"

        outer = lib.nn.Module()
        outer.m = M()
        return repr(outer), repr(M())

    assert run(fluxion) == run(torch)


# ----------------------------------------------------------------------------- forward hooks


def _hooked_log(lib, register):
    """Run a two-level model with hooks; return the log of calls and the output."""
    log = []
    m = _net(lib)
    register(m, log)
    x = lib.ones(2, 3, dtype=lib.float64)
    out = m(x, **({}))
    return log, out.detach().numpy().tolist()


def test_forward_pre_and_post_hooks_order_and_results():
    def register(m, log):
        def pre(tag, ret=None):
            def hook(mod, args):
                log.append(("pre", tag, type(mod).__name__, len(args)))
                return ret

            return hook

        def post(tag, ret=None):
            def hook(mod, args, out):
                log.append(("post", tag, type(mod).__name__, tuple(out.shape)))
                return ret(out) if ret else None

            return hook

        m.register_forward_pre_hook(pre("a"))
        m.register_forward_pre_hook(pre("b", None), prepend=True)
        m.enc.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))  # non-tuple: tuple
        m.dec.register_forward_pre_hook(lambda mod, args: args[0] + 1)  # bare value: wrapped
        m.register_forward_hook(post("c"))
        m.register_forward_hook(post("d", lambda o: o * 10), prepend=True)
        m.seq[0].register_forward_hook(post("e"))

    f_log, f_out = _hooked_log(fluxion, register)
    t_log, t_out = _hooked_log(torch, register)
    assert f_log == t_log
    np.testing.assert_allclose(f_out, t_out, rtol=1e-12)


def test_forward_hooks_with_kwargs():
    def run(lib):
        class Scaled(lib.nn.Module):
            def forward(self, x, *, scale=1.0):
                return x * scale

        m = Scaled()
        seen = []

        def pre(mod, args, kwargs):
            seen.append(sorted(kwargs))
            return (args[0] + 1,), {"scale": kwargs.get("scale", 1.0) * 3}

        def post(mod, args, kwargs, out):
            seen.append(("post", kwargs["scale"]))
            return out - 1

        m.register_forward_pre_hook(pre, with_kwargs=True)
        m.register_forward_hook(post, with_kwargs=True)
        return seen, m(lib.tensor([1.0, 2.0]), scale=2.0).tolist()

    assert run(fluxion) == run(torch)


def test_forward_pre_hook_with_kwargs_bad_return():
    def run(lib):
        m = lib.nn.Sequential()
        m.register_forward_pre_hook(lambda mod, args, kwargs: 5, with_kwargs=True)
        m(lib.zeros(1))

    _assert_same_error(run)


def test_hook_handle_remove_and_context_manager():
    m = _net(fluxion)
    calls = []
    h = m.register_forward_hook(lambda mod, a, o: calls.append(1))
    x = fluxion.ones(1, 3, dtype=fluxion.float64)
    m(x)
    h.remove()
    h.remove()  # a second remove does nothing
    m(x)
    with m.register_forward_pre_hook(lambda mod, a: calls.append(2)):
        m(x)
    m(x)
    assert calls == [1, 2]
    assert not m._hooked  # the fast path is back


def test_forward_hook_always_call_runs_on_error():
    def run(lib):
        class Boom(lib.nn.Module):
            def forward(self, x):
                raise ValueError("boom")

        seen = []
        m = Boom()
        m.register_forward_hook(lambda mod, a, o: seen.append(("always", o)), always_call=True)
        m.register_forward_hook(lambda mod, a, o: seen.append(("normal", o)))
        with pytest.raises(ValueError, match="boom"):
            m(lib.zeros(1))
        return seen

    assert run(fluxion) == run(torch)


def test_global_forward_hooks():
    def run(lib):
        from_module = lib.nn.modules.module
        log = []
        h1 = from_module.register_module_forward_pre_hook(
            lambda mod, a: log.append(("gpre", type(mod).__name__))
        )
        h2 = from_module.register_module_forward_hook(
            lambda mod, a, o: log.append(("gpost", type(mod).__name__))
        )
        try:
            m = _net(lib)
            m.register_forward_pre_hook(lambda mod, a: log.append(("pre", type(mod).__name__)))
            m(lib.ones(1, 3, dtype=lib.float64))
        finally:
            h1.remove()
            h2.remove()
        m(lib.ones(1, 3, dtype=lib.float64))
        return log

    assert run(fluxion) == run(torch)


# ----------------------------------------------------------------------------- backward hooks


def _grads_repr(gs):
    return tuple(None if g is None else np.round(g.detach().numpy(), 12).tolist() for g in gs)


def _backward_hook_case(lib, case):
    """Return the hook log and the input grads for one backward-hook scenario."""
    nn = lib.nn
    log = []

    class Two(nn.Module):
        def forward(self, a, b, k):
            return a * b * k, (a + k).sum()

    class One(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(lib.tensor([1.0, -2.0, 3.0], dtype=lib.float64))

        def forward(self, x):
            return x * self.w

    def hook(tag, ret=None):
        def fn(mod, grad_input, grad_output):
            log.append((tag, "bw", _grads_repr(grad_input), _grads_repr(grad_output)))
            return ret(grad_input) if ret else None

        return fn

    def pre(tag, ret=None):
        def fn(mod, grad_output):
            log.append((tag, "pre", _grads_repr(grad_output)))
            return ret(grad_output) if ret else None

        return fn

    a = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
    b = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64)
    if case == "single":
        m = One()
        m.register_full_backward_hook(hook("m"))
        m.register_full_backward_pre_hook(pre("m"))
        (m(a) ** 2).sum().backward()
    elif case == "multi_inputs":  # b does not require grad, k is not a tensor
        m = Two()
        m.register_full_backward_hook(hook("m"))
        y, s = m(a, b, 3.0)
        (y.sum() + s * 2).backward()
    elif case == "unused_output":
        m = Two()
        m.register_full_backward_hook(hook("m"))
        m.register_full_backward_pre_hook(pre("m"))
        y, s = m(a, b, 3.0)
        y.sum().backward()
    elif case == "both_require_grad":
        b.requires_grad_(True)
        m = Two()
        m.register_full_backward_hook(hook("m"))
        y, _ = m(a, b, 3.0)
        y.pow(2).sum().backward()
    elif case == "modify_grad_input":
        m = One()
        m.register_full_backward_hook(hook("m", lambda gi: (gi[0] * 10,)))
        m.register_full_backward_hook(hook("m2"))
        m(a).sum().backward()
    elif case == "modify_grad_output":
        m = One()
        m.register_full_backward_pre_hook(pre("m", lambda go: (go[0] + 1,)))
        m.register_full_backward_hook(hook("m"))
        m(a).sum().backward()
    elif case == "nested_order":
        outer = nn.Sequential(One(), One())
        outer.register_full_backward_hook(hook("outer"))
        outer[0].register_full_backward_hook(hook("first"))
        outer[1].register_full_backward_hook(hook("second"))
        outer[1].register_full_backward_pre_hook(pre("second"))
        outer(a).sum().backward()
    elif case == "input_without_grad":
        m = One()
        m.register_full_backward_hook(hook("m"))
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            m(b).sum().backward()
        log.append(("warned", any("Full backward hook" in str(x.message) for x in w)))
    elif case == "no_grad_mode":
        m = One()
        m.register_full_backward_hook(hook("m"))
        with lib.no_grad():
            out = m(a)
        log.append(("requires_grad", out.requires_grad))
    elif case == "removed":
        m = One()
        h = m.register_full_backward_hook(hook("m"))
        h.remove()
        m(a).sum().backward()
    return (
        log,
        _grads_repr([a.grad, b.grad]),
        _grads_repr([p.grad for p in locals().get("m", locals().get("outer")).parameters()]),
    )


@pytest.mark.parametrize(
    "case",
    [
        "single",
        "multi_inputs",
        "unused_output",
        "both_require_grad",
        "modify_grad_input",
        "modify_grad_output",
        "nested_order",
        "input_without_grad",
        "no_grad_mode",
        "removed",
    ],
)
def test_full_backward_hooks_match_torch(case):
    assert _backward_hook_case(fluxion, case) == _backward_hook_case(torch, case)


def test_full_backward_hook_inputs_keep_requires_grad_false():
    def run(lib):
        seen = []

        class Check(lib.nn.Module):
            def forward(self, a, b):
                seen.append((a.requires_grad, b.requires_grad))
                return a * b

        m = Check()
        m.register_full_backward_hook(lambda mod, gi, go: None)
        a = lib.ones(2, requires_grad=True)
        m(a, lib.ones(2)).sum().backward()
        return seen, a.grad.tolist()

    assert run(fluxion) == run(torch)


@pytest.mark.parametrize("which", ["hook", "pre"])
def test_full_backward_hook_wrong_length_raises(which):
    def run(lib):
        m = lib.nn.Sequential()
        if which == "hook":
            m.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0]))
        else:
            m.register_full_backward_pre_hook(lambda mod, go: (go[0], go[0]))
        m(lib.ones(2, requires_grad=True)).sum().backward()

    _assert_same_error(run)


# ----------------------------------------------------------------------------- misc


def test_call_without_hooks_is_forward():
    m = _net(fluxion)
    x = fluxion.ones(2, 3, dtype=fluxion.float64)
    np.testing.assert_array_equal(_np(m(x)), _np(m.forward(x)))
    assert not m._hooked


def test_module_deepcopy_is_independent():
    f = _net(fluxion)
    g = copy.deepcopy(f)
    assert [n for n, _ in g.named_parameters()] == [n for n, _ in f.named_parameters()]
    assert g.tied is g.scale and g.shared is g.enc  # sharing survives the copy
    with fluxion.no_grad():
        g.scale.add_(1)
    assert f.scale.item() == 2.0 and g.scale.item() == 3.0
    assert type(g.scale) is fluxion.nn.Parameter


def test_module_pickle_round_trip():
    m = fluxion.nn.Sequential(fluxion.nn.Sequential())
    m.w = fluxion.nn.Parameter(fluxion.ones(2))
    m2 = pickle.loads(pickle.dumps(m))
    assert list(m2.state_dict()) == ["w"] and m2.w.tolist() == [1.0, 1.0]


def test_module_version_attribute_does_not_shadow_tensor_version():
    m = fluxion.nn.Module()
    m.w = fluxion.nn.Parameter(fluxion.zeros(2))
    assert m._version == torch.nn.Module._version
    with fluxion.no_grad():
        m.w.add_(1)
    assert m.w._version == 1
