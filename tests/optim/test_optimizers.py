"""Optimisers against ``torch.optim`` on the same parameters and losses.

Every optimiser and option combination is stepped 20 times on three problems (a quadratic, a
Rosenbrock-like valley and a two-layer MLP written with ``matmul``), in float32 and float64;
the parameters must follow torch's trajectory after every step. State dicts, hooks,
``zero_grad``, param groups and the errors are compared with torch too.
"""

from __future__ import annotations

import copy
import pickle
import warnings

import numpy as np
import pytest

import fluxion

torch = pytest.importorskip("torch")
torch_optimizer = pytest.importorskip("torch.optim.optimizer")


def _optimizer_module(lib):
    """``fluxion.optim.optimizer`` or ``torch.optim.optimizer`` (not an attribute in torch)."""
    return fluxion.optim.optimizer if lib is fluxion else torch_optimizer


STEPS = 20
# float32: torch fuses multiply-adds (FMA) in its CPU kernels and NumPy does not, so the last
# bit can differ per step; float64 agrees to rounding.
TOL = {"float32": 1e-6, "float64": 1e-12}

CASES = [
    ("SGD", {"lr": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1, "maximize": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True, "maximize": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("AdamW", {"lr": 0.01, "betas": (0.5, 0.9), "maximize": True}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.8}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "eps": 1e-4, "maximize": True}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.1, "eps": 1e-6, "maximize": True}),
]


def _case_id(case) -> str:
    name, kw = case
    return name + "-" + ",".join(f"{k}={v}" for k, v in kw.items())


# ---------------------------------------------------------------------------- problems
# Each problem: initial parameter arrays, and a loss written once for both libraries
# (``lib`` is ``fluxion`` or ``torch``; the data arrays are converted per library).


def _problem(kind: str, dtype: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    np_dtype = np.dtype(dtype)
    if kind == "quadratic":
        a = rng.normal(size=(6, 4)).astype(np_dtype)
        b = rng.normal(size=(6,)).astype(np_dtype)
        params = [rng.normal(size=(4,)).astype(np_dtype), rng.normal(size=()).astype(np_dtype)]
        data = {"a": a, "b": b}

        def loss(lib, p, d):
            r = lib.matmul(d["a"], p[0]) + p[1] - d["b"]
            return (r * r).sum() * 0.5

    elif kind == "rosenbrock":
        params = [np.array([-0.8, 1.2, 0.5], dtype=np_dtype)]
        data = {}

        def loss(lib, p, d):
            x = p[0]
            return ((1 - x[:-1]) ** 2).sum() * 0.5 + ((x[1:] - x[:-1] ** 2) ** 2).sum()

    else:  # a 2-layer MLP, tanh hidden layer, mean squared error
        x = rng.normal(size=(8, 5)).astype(np_dtype)
        y = rng.normal(size=(8, 3)).astype(np_dtype)
        params = [
            (rng.normal(size=(5, 7)) / np.sqrt(5)).astype(np_dtype),
            (rng.normal(size=(7,)) * 0.1).astype(np_dtype),
            (rng.normal(size=(7, 3)) / np.sqrt(7)).astype(np_dtype),
            (rng.normal(size=(3,)) * 0.1).astype(np_dtype),
        ]
        data = {"x": x, "y": y}

        def loss(lib, p, d):
            h = lib.tanh(lib.matmul(d["x"], p[0]) + p[1])
            out = lib.matmul(h, p[2]) + p[3]
            return ((out - d["y"]) ** 2).mean()

    return params, data, loss


def _leaves(lib, arrays):
    return [lib.tensor(a.copy(), requires_grad=True) for a in arrays]


def _data(lib, data):
    return {k: lib.tensor(v.copy()) for k, v in data.items()}


def _np(t) -> np.ndarray:
    return np.array(t.detach().numpy())


def _assert_close(f, t, tol: float, what: str = "") -> None:
    np.testing.assert_allclose(_np(f), _np(t), rtol=tol, atol=tol, err_msg=what)


class _Pair:
    """The same problem and optimiser in fluxion and in torch, stepped in lockstep."""

    def __init__(self, name, kwargs, kind="mlp", dtype="float32", sign=1.0, groups=None):
        arrays, data, self.loss = _problem(kind, dtype)
        self.fp, self.tp = _leaves(fluxion, arrays), _leaves(torch, arrays)
        self.fd, self.td = _data(fluxion, data), _data(torch, data)
        self.sign = -1.0 if kwargs.get("maximize") else sign
        self.name, self.kwargs = name, kwargs
        self.fopt = getattr(fluxion.optim, name)(self._params(self.fp, groups), **kwargs)
        self.topt = getattr(torch.optim, name)(self._params(self.tp, groups), **kwargs)
        self.tol = TOL[dtype]

    @staticmethod
    def _params(params, groups):
        if groups is None:
            return params
        return [dict(g, params=[params[i] for i in g["params"]]) for g in groups]

    def _backward(self, lib, params, data, opt):
        opt.zero_grad()
        loss = self.loss(lib, params, data) * self.sign
        loss.backward()
        return loss

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            f_loss = self._backward(fluxion, self.fp, self.fd, self.fopt)
            t_loss = self._backward(torch, self.tp, self.td, self.topt)
            _assert_close(f_loss, t_loss, self.tol * 10, "loss")
            self.fopt.step()
            self.topt.step()
            self.check()

    def check(self) -> None:
        for i, (f, t) in enumerate(zip(self.fp, self.tp)):
            _assert_close(f, t, self.tol, f"param {i}")

    def check_state(self) -> None:
        fsd, tsd = self.fopt.state_dict(), self.topt.state_dict()
        assert fsd["param_groups"] == tsd["param_groups"]
        assert sorted(fsd["state"]) == sorted(tsd["state"])
        for k, tstate in tsd["state"].items():
            fstate = fsd["state"][k]
            assert list(fstate) == list(tstate)
            for key, tv in tstate.items():
                fv = fstate[key]
                assert isinstance(fv, fluxion.Tensor)
                assert str(fv.dtype).split(".")[-1] == str(tv.dtype).split(".")[-1], key
                assert tuple(fv.shape) == tuple(tv.shape), key
                _assert_close(fv, tv, self.tol * 10, f"state {k}[{key}]")


# ---------------------------------------------------------------------------- trajectories


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["quadratic", "rosenbrock", "mlp"])
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_optimizer_trajectory_matches_torch(case, kind, dtype):
    pair = _Pair(*case, kind=kind, dtype=dtype)
    if dtype == "float32" and case[1].get("centered"):
        # centred RMSprop divides by sqrt(v - a * a), which cancels when the gradient keeps its
        # sign: torch's fused multiply-add in addcmul/lerp (one rounding) against NumPy's two
        # roundings then shows up to ~5e-6 relative on the Rosenbrock valley.
        pair.tol = 1e-5
    pair.step(STEPS)
    pair.check_state()


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_optimizer_state_dict_round_trip_mid_training(case):
    """Save after 10 steps, load into a new optimiser over copies of the parameters, and keep
    following torch's (uninterrupted) trajectory for 10 more steps."""
    pair = _Pair(*case, kind="mlp", dtype="float32")
    pair.step(10)
    saved = pickle.loads(pickle.dumps(pair.fopt.state_dict()))
    fresh = [fluxion.tensor(_np(p), requires_grad=True) for p in pair.fp]
    name, kwargs = case
    new_opt = getattr(fluxion.optim, name)(fresh, **dict(kwargs, lr=123.0))
    new_opt.load_state_dict(saved)
    assert new_opt.param_groups[0]["lr"] == kwargs["lr"]
    assert new_opt.param_groups[0]["params"][0] is fresh[0]
    pair.fp, pair.fopt = fresh, new_opt
    pair.step(10)
    pair.check_state()


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_optimizer_loads_torch_state_dict(case):
    """A torch state dict (tensors converted) loads into fluxion and training continues in
    lockstep: the layout, keys and step counters are torch's."""
    pair = _Pair(*case, kind="quadratic", dtype="float64")
    pair.step(5)
    tsd = pair.topt.state_dict()
    converted = {
        "state": {
            k: {key: fluxion.tensor(v.detach().numpy().copy()) for key, v in s.items()}
            for k, s in tsd["state"].items()
        },
        "param_groups": copy.deepcopy(tsd["param_groups"]),
    }
    pair.fopt.load_state_dict(converted)
    pair.step(5)


def test_optimizer_state_dict_matches_torch_before_any_step():
    for name, kwargs in CASES:
        pair = _Pair(name, kwargs)
        pair.check_state()  # Adagrad has state from construction, the others none


def test_optimizer_param_groups_with_own_options_match_torch():
    groups = [{"params": [0, 1], "lr": 0.02}, {"params": [2, 3], "momentum": 0.5}]
    pair = _Pair("SGD", {"lr": 0.05, "momentum": 0.9}, groups=groups)
    assert pair.fopt.param_groups[1]["lr"] == 0.05
    pair.step(STEPS)
    pair.check_state()
    groups = [{"params": [0, 1], "betas": (0.5, 0.9)}, {"params": [2, 3], "amsgrad": True}]
    pair = _Pair("Adam", {"lr": 0.01}, groups=groups)
    pair.step(STEPS)
    pair.check_state()


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_optimizer_skips_parameters_without_grad(name):
    """A parameter that gets no gradient is not moved and gets no state (as in torch)."""
    kwargs = {"lr": 0.05, "momentum": 0.9} if name == "SGD" else {"lr": 0.05}
    pair = _Pair(name, kwargs, kind="quadratic")
    extra_f = fluxion.tensor([1.0, 2.0], requires_grad=True)
    extra_t = torch.tensor([1.0, 2.0], requires_grad=True)
    pair.fopt.add_param_group({"params": [extra_f]})
    pair.topt.add_param_group({"params": [extra_t]})
    pair.step(3)
    assert extra_f.tolist() == [1.0, 2.0]
    assert (extra_f in pair.fopt.state) == (extra_t in pair.topt.state)
    pair.check_state()


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad"])
def test_optimizer_add_param_group_mid_training_matches_torch(name):
    pair = _Pair(name, {"lr": 0.02}, kind="mlp")
    # train only the first layer, then add the second
    fp, tp = pair.fp, pair.tp
    pair.fopt = getattr(fluxion.optim, name)(fp[:2], lr=0.02)
    pair.topt = getattr(torch.optim, name)(tp[:2], lr=0.02)
    pair.step(5)
    pair.fopt.add_param_group({"params": fp[2:], "lr": 0.05})
    pair.topt.add_param_group({"params": tp[2:], "lr": 0.05})
    pair.step(5)
    pair.check_state()


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad"])
def test_optimizer_lr_changed_between_steps_matches_torch(name):
    pair = _Pair(name, {"lr": 0.02}, kind="rosenbrock", dtype="float64")
    for lr in (0.02, 0.01, 0.005, 0.001):
        for opt in (pair.fopt, pair.topt):
            opt.param_groups[0]["lr"] = lr
        pair.step(3)


def test_optimizer_tensor_lr_matches_torch():
    pair = _Pair("SGD", {"lr": 0.05}, kind="quadratic")
    pair.fopt.param_groups[0]["lr"] = fluxion.tensor(0.03)
    pair.topt.param_groups[0]["lr"] = torch.tensor(0.03)
    pair.step(5)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad"])
def test_optimizer_step_closure_returns_loss(name):
    arrays, data, loss = _problem("quadratic", "float64")

    def run(lib):
        params, d = _leaves(lib, arrays), _data(lib, data)
        opt = getattr(lib.optim, name)(params, lr=0.05)

        def closure():
            opt.zero_grad()
            value = loss(lib, params, d)
            value.backward()
            return value

        losses = [opt.step(closure).item() for _ in range(5)]
        return losses, [_np(p) for p in params]

    results = [run(fluxion), run(torch)]
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    for f, t in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(f, t, rtol=1e-12, atol=1e-12)


def test_optimizer_closure_runs_with_grad_enabled():
    w = fluxion.tensor([1.0], requires_grad=True)
    opt = fluxion.optim.SGD([w], lr=0.1)
    with fluxion.no_grad():

        def closure():
            assert fluxion.is_grad_enabled()
            opt.zero_grad()
            loss = (w * w).sum()
            loss.backward()
            return loss

        opt.step(closure)
    assert w.tolist() == pytest.approx([0.8])


def test_optimizer_step_leaves_no_graph():
    pair = _Pair("Adam", {"lr": 0.01})
    pair.step(2)
    for p in pair.fp:
        assert p.is_leaf and p.grad_fn is None
    for s in pair.fopt.state.values():
        for v in s.values():
            assert v.grad_fn is None and not v.requires_grad


# ---------------------------------------------------------------------------- base class


def test_optimizer_zero_grad_set_to_none_and_to_zero():
    for lib in (fluxion, torch):
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        opt = lib.optim.SGD([w], lr=0.1)
        (w * w).sum().backward()
        grad = w.grad
        opt.zero_grad(set_to_none=False)
        assert w.grad is grad and w.grad.tolist() == [0.0, 0.0]
        opt.zero_grad()
        assert w.grad is None


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_optimizer_zero_grad_detaches_grad_with_history():
    for lib in (fluxion, torch):
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        opt = lib.optim.SGD([w], lr=0.1)
        (w * w).sum().backward(create_graph=True)
        assert w.grad.grad_fn is not None
        opt.zero_grad(set_to_none=False)
        assert w.grad.grad_fn is None and not w.grad.requires_grad
        assert w.grad.tolist() == [0.0, 0.0]


def test_optimizer_state_is_keyed_by_parameter():
    pair = _Pair("Adam", {"lr": 0.01}, kind="quadratic")
    pair.step(2)
    for f, t in zip(pair.fp, pair.tp):
        assert list(pair.fopt.state[f]) == list(pair.topt.state[t])
        assert pair.fopt.state[f]["step"].item() == pair.topt.state[t]["step"].item() == 2


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_optimizer_repr_and_defaults_match_torch(case):
    pair = _Pair(*case, kind="quadratic")
    assert repr(pair.fopt) == repr(pair.topt)
    assert pair.fopt.defaults == pair.topt.defaults


def test_optimizer_step_counter_dtype_follows_default_dtype():
    old = fluxion.get_default_dtype()
    old_t = torch.get_default_dtype()
    try:
        for dtype in ("float32", "float64"):
            fluxion.set_default_dtype(getattr(fluxion, dtype))
            torch.set_default_dtype(getattr(torch, dtype))
            pair = _Pair("Adam", {"lr": 0.01}, kind="quadratic", dtype="float64")
            pair.step(1)
            pair.check_state()
    finally:
        fluxion.set_default_dtype(old)
        torch.set_default_dtype(old_t)


def test_optimizer_named_parameters_store_param_names():
    for lib in (fluxion, torch):
        a, b = lib.zeros(2, requires_grad=True), lib.zeros(3, requires_grad=True)
        opt = lib.optim.SGD([("a", a), ("b", b)], lr=0.1)
        assert opt.param_groups[0]["param_names"] == ["a", "b"]
        assert opt.state_dict()["param_groups"][0]["param_names"] == ["a", "b"]


def test_optimizer_state_dict_shares_ids_across_groups_and_is_live():
    pair = _Pair(
        "SGD", {"lr": 0.05, "momentum": 0.9}, groups=[{"params": [0, 1]}, {"params": [2, 3]}]
    )
    pair.step(1)
    fsd, tsd = pair.fopt.state_dict(), pair.topt.state_dict()
    assert [g["params"] for g in fsd["param_groups"]] == [[0, 1], [2, 3]]
    assert fsd["param_groups"] == tsd["param_groups"]
    # the state tensors are the optimiser's own (as in torch), not copies
    assert fsd["state"][0]["momentum_buffer"] is pair.fopt.state[pair.fp[0]]["momentum_buffer"]


def test_optimizer_load_state_dict_casts_state_to_parameter_dtype():
    for lib in (fluxion, torch):
        w = lib.zeros(2, dtype=lib.float64, requires_grad=True)
        opt = lib.optim.Adam([w], lr=0.1)
        sd = {
            "state": {
                0: {
                    "step": lib.tensor(3.0),
                    "exp_avg": lib.ones(2),
                    "exp_avg_sq": lib.ones(2),
                }
            },
            "param_groups": [dict(opt.state_dict()["param_groups"][0])],
        }
        opt.load_state_dict(sd)
        state = opt.state[w]
        assert state["exp_avg"].dtype == lib.float64
        assert state["step"].dtype == lib.float32  # step is never cast


def test_optimizer_load_state_dict_turns_number_steps_into_tensors():
    w = fluxion.zeros(2, requires_grad=True)
    opt = fluxion.optim.Adam([w], lr=0.1)
    sd = {
        "state": {0: {"step": 3, "exp_avg": fluxion.ones(2), "exp_avg_sq": fluxion.ones(2)}},
        "param_groups": [dict(opt.state_dict()["param_groups"][0])],
    }
    opt.load_state_dict(sd)
    assert isinstance(opt.state[w]["step"], fluxion.Tensor)
    assert opt.state[w]["step"].item() == 3.0


def test_optimizer_load_state_dict_fills_missing_group_options():
    for lib in (fluxion, torch):
        w = lib.zeros(2, requires_grad=True)
        opt = lib.optim.SGD([w], lr=0.1)
        opt.load_state_dict(
            {
                "state": {},
                "param_groups": [
                    {"lr": 0.3, "momentum": 0, "dampening": 0, "weight_decay": 0, "params": [0]}
                ],
            }
        )
        group = opt.param_groups[0]
        assert (group["nesterov"], group["maximize"], group["differentiable"]) == (
            False,
            False,
            False,
        )


def test_optimizer_pickle_and_deepcopy():
    pair = _Pair("Adam", {"lr": 0.01}, kind="quadratic")
    pair.step(2)
    clone = copy.deepcopy(pair.fopt)
    assert clone.state_dict()["param_groups"] == pair.fopt.state_dict()["param_groups"]
    again = pickle.loads(pickle.dumps(pair.fopt))
    assert len(again.state) == len(pair.fopt.state)


def test_optimizer_step_hooks_run_in_torch_order():
    for lib in (fluxion, torch):
        _check_step_hooks(lib)


def _check_step_hooks(lib):
    calls = []
    w = lib.tensor([1.0], requires_grad=True)
    opt = lib.optim.SGD([w], lr=0.1)
    h1 = opt.register_step_pre_hook(lambda o, a, k: calls.append(("pre", o is opt)))
    h2 = opt.register_step_post_hook(lambda o, a, k: calls.append(("post", o is opt)))
    g1 = _optimizer_module(lib).register_optimizer_step_pre_hook(
        lambda o, a, k: calls.append(("gpre", True))
    )
    g2 = _optimizer_module(lib).register_optimizer_step_post_hook(
        lambda o, a, k: calls.append(("gpost", True))
    )
    try:
        (w * w).sum().backward()
        opt.step()
    finally:
        for h in (h1, h2, g1, g2):
            h.remove()
    opt.step()
    assert calls == [("gpre", True), ("pre", True), ("post", True), ("gpost", True)]


def test_optimizer_step_pre_hook_can_replace_arguments():
    for lib in (fluxion, torch):
        _check_pre_hook_replaces_arguments(lib)


def _check_pre_hook_replaces_arguments(lib):
    w = lib.tensor([1.0], requires_grad=True)
    opt = lib.optim.SGD([w], lr=0.1)
    seen = []

    def closure():
        seen.append(True)
        return lib.tensor(5.0)

    opt.register_step_pre_hook(lambda o, a, k: ((o,), {"closure": closure}))
    w.grad = lib.tensor([1.0])
    assert opt.step().item() == 5.0 and seen == [True]
    opt.register_step_pre_hook(lambda o, a, k: 3)
    with pytest.raises(RuntimeError, match="must return None or a tuple"):
        opt.step()


def test_optimizer_state_dict_hooks():
    for lib in (fluxion, torch):
        _check_state_dict_hooks(lib)


def _check_state_dict_hooks(lib):
    w = lib.tensor([1.0], requires_grad=True)
    opt = lib.optim.SGD([w], lr=0.1)
    calls = []
    opt.register_state_dict_pre_hook(lambda o: calls.append("pre"))
    opt.register_state_dict_post_hook(lambda o, sd: dict(sd, extra=1))
    opt.register_state_dict_post_hook(lambda o, sd: calls.append("post0"), prepend=True)
    sd = opt.state_dict()
    assert sd["extra"] == 1 and calls == ["pre", "post0"]
    opt.register_load_state_dict_pre_hook(lambda o, sd: calls.append("lpre"))
    opt.register_load_state_dict_post_hook(lambda o: calls.append("lpost"))
    del sd["extra"]
    opt.load_state_dict(sd)
    assert calls[-2:] == ["lpre", "lpost"]


# ---------------------------------------------------------------------------- errors


def _raises_like_torch(f_call, t_call) -> None:
    """Both calls raise the same exception type with the same message."""
    with pytest.raises(Exception) as t_err:
        t_call()
    with pytest.raises(Exception) as f_err:
        f_call()
    assert type(f_err.value) is type(t_err.value), (f_err.value, t_err.value)
    assert str(f_err.value) == str(t_err.value)


BAD_ARGS = [
    ("SGD", {"lr": -1}),
    ("SGD", {"lr": -0.5}),
    ("SGD", {"lr": 0.1, "momentum": -0.1}),
    ("SGD", {"lr": 0.1, "weight_decay": -1e-3}),
    ("SGD", {"lr": 0.1, "nesterov": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True}),
    ("SGD", {"lr": 0.1, "fused": True, "differentiable": True}),
    ("Adam", {"lr": -1}),
    ("Adam", {"eps": -1.0}),
    ("Adam", {"betas": (1.0, 0.999)}),
    ("Adam", {"betas": (0.9, -0.1)}),
    ("Adam", {"betas": (0, 0.999)}),
    ("Adam", {"weight_decay": -1.0}),
    ("Adam", {"fused": True, "foreach": True}),
    ("AdamW", {"lr": -1e-3}),
    ("AdamW", {"betas": (0.9, 1.5)}),
    ("RMSprop", {"lr": -1}),
    ("RMSprop", {"alpha": -0.5}),
    ("RMSprop", {"momentum": -0.5}),
    ("RMSprop", {"eps": -0.5}),
    ("RMSprop", {"weight_decay": -0.5}),
    ("Adagrad", {"lr": -1}),
    ("Adagrad", {"lr_decay": -1}),
    ("Adagrad", {"initial_accumulator_value": -1}),
    ("Adagrad", {"eps": -1}),
    ("Adagrad", {"weight_decay": -1}),
]


@pytest.mark.parametrize("case", BAD_ARGS, ids=_case_id)
def test_optimizer_bad_hyperparameters_raise_like_torch(case):
    name, kwargs = case
    _raises_like_torch(
        lambda: getattr(fluxion.optim, name)([fluxion.zeros(1, requires_grad=True)], **kwargs),
        lambda: getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)], **kwargs),
    )


def _same_param_twice(lib) -> list:
    w = lib.zeros(2, requires_grad=True)
    return [{"params": [w]}, {"params": [w]}]


def _both(make):
    """``make(lib)`` for fluxion and torch, as two zero-argument calls."""
    return (lambda: make(fluxion)), (lambda: make(torch))


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda lib: lib.optim.SGD([], lr=0.1), id="empty-list"),
        pytest.param(lambda lib: lib.optim.Adam(iter([])), id="empty-generator"),
        pytest.param(lambda lib: lib.optim.SGD(lib.zeros(2, requires_grad=True)), id="tensor"),
        pytest.param(
            lambda lib: lib.optim.SGD(lib.zeros(2, dtype=lib.float64, requires_grad=True)),
            id="double-tensor",
        ),
        pytest.param(lambda lib: lib.optim.SGD([1.0, 2.0], lr=0.1), id="not-a-tensor"),
        pytest.param(lambda lib: lib.optim.SGD([[1.0]], lr=0.1), id="a-list"),
        pytest.param(
            lambda lib: lib.optim.SGD([lib.zeros(2, requires_grad=True) * 2], lr=0.1),
            id="non-leaf",
        ),
        pytest.param(
            lambda lib: lib.optim.SGD([{"params": {lib.zeros(2, requires_grad=True)}}]),
            id="set-of-params",
        ),
        pytest.param(lambda lib: lib.optim.Adam(_same_param_twice(lib)), id="param-in-two-groups"),
        pytest.param(
            lambda lib: lib.optim.Adam(
                [
                    {"params": [("a", lib.zeros(2, requires_grad=True))]},
                    {"params": [lib.zeros(2, requires_grad=True)]},
                ]
            ),
            id="names-in-one-group-only",
        ),
        pytest.param(
            lambda lib: lib.optim.Adam(
                [("a", lib.zeros(2, requires_grad=True)), lib.zeros(2, requires_grad=True)]
            ),
            id="some-names-missing",
        ),
        pytest.param(
            lambda lib: lib.optim.SGD([lib.zeros(1, requires_grad=True)]).add_param_group(
                [lib.zeros(1, requires_grad=True)]
            ),
            id="group-not-a-dict",
        ),
        pytest.param(
            lambda lib: lib.optim.Optimizer(
                [lib.zeros(1, requires_grad=True)], {"lr": _optimizer_module(lib).required}
            ),
            id="required-option-missing",
        ),
        pytest.param(
            lambda lib: lib.optim.Optimizer([lib.zeros(1, requires_grad=True)], {}).step(),
            id="base-step",
        ),
    ],
)
def test_optimizer_construction_errors_match_torch(make):
    _raises_like_torch(*_both(make))


def test_optimizer_duplicate_parameter_in_group_warns_like_torch():
    messages = []
    for lib in (fluxion, torch):
        w = lib.zeros(2, requires_grad=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.optim.SGD([w, w], lr=0.1)
        messages.append([str(c.message) for c in caught if c.category is UserWarning])
    assert messages[0] == messages[1] and len(messages[0]) == 1


def test_optimizer_retained_grad_non_leaf_is_accepted():
    for lib in (fluxion, torch):
        y = lib.zeros(2, requires_grad=True) * 2
        y.retain_grad()
        opt = lib.optim.SGD([y], lr=0.1)
        assert opt.param_groups[0]["params"][0] is y


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(
            lambda sd: sd["param_groups"].append(dict(sd["param_groups"][0])), id="groups"
        ),
        pytest.param(lambda sd: sd["param_groups"][0]["params"].pop(), id="params"),
    ],
)
def test_optimizer_load_state_dict_size_errors_match_torch(mutate):
    def make(lib):
        opt = lib.optim.Adam([lib.zeros(2, requires_grad=True), lib.zeros(1, requires_grad=True)])
        sd = copy.deepcopy(opt.state_dict())
        mutate(sd)
        opt.load_state_dict(sd)

    _raises_like_torch(*_both(make))


def test_optimizer_in_place_update_of_grad_requiring_leaf_outside_step_still_raises():
    """The step runs under no_grad; outside it, the usual leaf rule applies."""
    w = fluxion.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w.add_(1.0)
