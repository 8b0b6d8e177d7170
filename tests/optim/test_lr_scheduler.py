"""Learning-rate schedulers against ``torch.optim.lr_scheduler``.

The learning rates (and cycled momenta) must be *equal* to torch's, float for float, over many
epochs: PyTorch updates several schedules recursively, and the schedulers here use the same
recursions and the same operation order.
"""

from __future__ import annotations

import math
import pickle
import warnings

import pytest

import fluxion

torch = pytest.importorskip("torch")

EPOCHS = 100


class _Scale:
    """A callable object: its ``__dict__`` is saved in a scheduler's state dict."""

    def __init__(self, base: float) -> None:
        self.base = base

    def __call__(self, epoch: int) -> float:
        return self.base**epoch


def _optimizer(lib, kind: str = "SGD", groups: int = 2):
    params = [lib.zeros(2, requires_grad=True) for _ in range(groups)]
    lrs = [0.1, 0.05, 0.3][:groups]
    if kind == "SGD":
        return lib.optim.SGD(
            [{"params": [p], "lr": lr} for p, lr in zip(params, lrs)], lr=0.1, momentum=0.9
        )
    return getattr(lib.optim, kind)([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)])


# (id, optimiser kind, builder(S, opt) -> scheduler, epochs)
SCHEDULES = [
    ("StepLR", "SGD", lambda S, o: S.StepLR(o, step_size=7, gamma=0.5), EPOCHS),
    ("StepLR-default-gamma", "SGD", lambda S, o: S.StepLR(o, step_size=3), EPOCHS),
    (
        "MultiStepLR",
        "SGD",
        lambda S, o: S.MultiStepLR(o, milestones=[5, 10, 10, 30], gamma=0.3),
        EPOCHS,
    ),
    ("ExponentialLR", "SGD", lambda S, o: S.ExponentialLR(o, gamma=0.97), EPOCHS),
    ("CosineAnnealingLR", "SGD", lambda S, o: S.CosineAnnealingLR(o, T_max=17), EPOCHS),
    (
        "CosineAnnealingLR-eta_min-periodic",
        "Adam",
        lambda S, o: S.CosineAnnealingLR(o, T_max=10, eta_min=1e-3),
        EPOCHS,
    ),
    ("LambdaLR", "SGD", lambda S, o: S.LambdaLR(o, lr_lambda=lambda e: 0.95**e), EPOCHS),
    (
        "LambdaLR-per-group",
        "SGD",
        lambda S, o: S.LambdaLR(o, lr_lambda=[lambda e: 1 / (1 + e), _Scale(0.9)]),
        EPOCHS,
    ),
    (
        "MultiplicativeLR",
        "SGD",
        lambda S, o: S.MultiplicativeLR(o, lr_lambda=lambda e: 0.97 if e % 2 else 0.99),
        EPOCHS,
    ),
    ("ConstantLR", "SGD", lambda S, o: S.ConstantLR(o, factor=0.25, total_iters=8), 20),
    ("ConstantLR-default", "SGD", lambda S, o: S.ConstantLR(o), 20),
    (
        "LinearLR",
        "SGD",
        lambda S, o: S.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=15),
        40,
    ),
    ("LinearLR-default", "Adam", lambda S, o: S.LinearLR(o), 20),
    ("PolynomialLR", "SGD", lambda S, o: S.PolynomialLR(o, total_iters=30, power=2.0), 50),
    ("OneCycleLR", "SGD", lambda S, o: S.OneCycleLR(o, max_lr=0.5, total_steps=100), 100),
    (
        "OneCycleLR-three-phase-linear",
        "SGD",
        lambda S, o: S.OneCycleLR(
            o,
            max_lr=[0.5, 0.2],
            epochs=4,
            steps_per_epoch=25,
            pct_start=0.25,
            anneal_strategy="linear",
            three_phase=True,
            div_factor=10.0,
            final_div_factor=100.0,
            base_momentum=[0.8, 0.7],
        ),
        100,
    ),
    (
        "OneCycleLR-adam-betas",
        "Adam",
        lambda S, o: S.OneCycleLR(o, max_lr=0.01, total_steps=60),
        60,
    ),
    (
        "OneCycleLR-no-momentum",
        "Adagrad",
        lambda S, o: S.OneCycleLR(o, max_lr=0.1, total_steps=30, cycle_momentum=False),
        30,
    ),
    ("CyclicLR", "SGD", lambda S, o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=5), 60),
    (
        "CyclicLR-triangular2",
        "SGD",
        lambda S, o: S.CyclicLR(
            o,
            base_lr=[0.01, 0.02],
            max_lr=0.1,
            step_size_up=4,
            step_size_down=6,
            mode="triangular2",
        ),
        60,
    ),
    (
        "CyclicLR-exp-range-adam",
        "Adam",
        lambda S, o: S.CyclicLR(o, 0.001, 0.01, step_size_up=3, mode="exp_range", gamma=0.97),
        60,
    ),
    (
        "CyclicLR-custom-scale",
        "SGD",
        lambda S, o: S.CyclicLR(
            o,
            0.01,
            0.1,
            step_size_up=3,
            scale_fn=lambda x: 0.5**x,
            scale_mode="iterations",
            cycle_momentum=False,
        ),
        30,
    ),
    (
        "CosineAnnealingWarmRestarts",
        "SGD",
        lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=1e-3),
        EPOCHS,
    ),
    (
        "CosineAnnealingWarmRestarts-T_mult-1",
        "SGD",
        lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=7),
        40,
    ),
    (
        "SequentialLR",
        "SGD",
        lambda S, o: S.SequentialLR(
            o,
            schedulers=[
                S.LinearLR(o, start_factor=0.1, total_iters=5),
                S.CosineAnnealingLR(o, T_max=20),
                S.ExponentialLR(o, gamma=0.9),
            ],
            milestones=[5, 25],
        ),
        60,
    ),
    (
        "ChainedScheduler",
        "SGD",
        lambda S, o: S.ChainedScheduler(
            [S.ExponentialLR(o, gamma=0.95), S.StepLR(o, step_size=4, gamma=0.5)]
        ),
        40,
    ),
]
SCHEDULE_IDS = [s[0] for s in SCHEDULES]


def _snapshot(sched, opt) -> list:
    """Everything a schedule sets: last lrs, the groups' lrs and their momenta/betas."""
    groups = [
        (g["lr"], g.get("momentum"), tuple(g["betas"]) if "betas" in g else None)
        for g in opt.param_groups
    ]
    return [list(sched.get_last_lr()), groups]


def _run(lib, kind, build, epochs, start=None):
    opt = _optimizer(lib, kind)
    sched = build(lib.optim.lr_scheduler, opt)
    seq = [_snapshot(sched, opt)]
    for _ in range(epochs):
        opt.step()
        sched.step()
        seq.append(_snapshot(sched, opt))
    return seq, sched, opt


@pytest.mark.parametrize(("name", "kind", "build", "epochs"), SCHEDULES, ids=SCHEDULE_IDS)
def test_lr_scheduler_sequence_equals_torch(name, kind, build, epochs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning in the normal optimizer-then-scheduler order
        f_seq, _, _ = _run(fluxion, kind, build, epochs)
        t_seq, _, _ = _run(torch, kind, build, epochs)
    assert len(f_seq) == epochs + 1
    for epoch, (f, t) in enumerate(zip(f_seq, t_seq)):
        assert f == t, f"epoch {epoch}: {f} != {t}"


@pytest.mark.parametrize(("name", "kind", "build", "epochs"), SCHEDULES, ids=SCHEDULE_IDS)
def test_lr_scheduler_state_dict_round_trip_equals_torch(name, kind, build, epochs):
    """Save scheduler and optimiser half-way, restore both into new objects (scheduler built
    first, as PyTorch prescribes), continue: the rest of the sequence is torch's."""
    half = epochs // 2
    t_seq, _, _ = _run(torch, kind, build, epochs)
    f_seq, sched, opt = _run(fluxion, kind, build, half)
    sched_sd = pickle.loads(pickle.dumps(sched.state_dict()))
    opt_sd = pickle.loads(pickle.dumps(opt.state_dict()))
    new_opt = _optimizer(fluxion, kind)
    new_sched = build(fluxion.optim.lr_scheduler, new_opt)
    new_opt.load_state_dict(opt_sd)
    new_sched.load_state_dict(sched_sd)
    assert _snapshot(new_sched, new_opt) == t_seq[half]
    for epoch in range(half + 1, epochs + 1):
        new_opt.step()
        new_sched.step()
        assert _snapshot(new_sched, new_opt) == t_seq[epoch], f"epoch {epoch}"


@pytest.mark.parametrize(("name", "kind", "build", "epochs"), SCHEDULES, ids=SCHEDULE_IDS)
def test_lr_scheduler_state_dict_keys_match_torch(name, kind, build, epochs):
    fsd = _run(fluxion, kind, build, 3)[1].state_dict()
    tsd = _run(torch, kind, build, 3)[1].state_dict()
    _compare_state(fsd, tsd)


def _compare_state(fsd: dict, tsd: dict) -> None:
    tsd = {k: v for k, v in tsd.items() if k != "_scale_fn_ref"}
    assert set(fsd) == set(tsd)
    for key, tv in tsd.items():
        fv = fsd[key]
        if key == "_schedulers":
            for f_child, t_child in zip(fv, tv):
                _compare_state(f_child, t_child)
        elif isinstance(tv, (int, float, str, bool, list, tuple, dict)) or tv is None:
            assert fv == tv, key


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("StepLR", lambda S, o: S.StepLR(o, step_size=3, gamma=0.5)),
        ("MultiStepLR", lambda S, o: S.MultiStepLR(o, milestones=[2, 5, 5], gamma=0.5)),
        ("ExponentialLR", lambda S, o: S.ExponentialLR(o, gamma=0.9)),
        ("CosineAnnealingLR", lambda S, o: S.CosineAnnealingLR(o, T_max=7)),
        ("ConstantLR", lambda S, o: S.ConstantLR(o, factor=0.5, total_iters=4)),
        ("LinearLR", lambda S, o: S.LinearLR(o, start_factor=0.2, total_iters=6)),
        ("PolynomialLR", lambda S, o: S.PolynomialLR(o, total_iters=6, power=0.5)),
        ("LambdaLR", lambda S, o: S.LambdaLR(o, lambda e: 1 / (e + 1))),
        ("CosineAnnealingWarmRestarts", lambda S, o: S.CosineAnnealingWarmRestarts(o, 3, 2)),
    ],
)
def test_lr_scheduler_step_with_epoch_uses_closed_form_like_torch(name, build):
    """The deprecated ``step(epoch)``: same lrs (closed form) and the same warning."""
    results = []
    for lib in (fluxion, torch):
        opt = _optimizer(lib)
        sched = build(lib.optim.lr_scheduler, opt)
        seq = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for epoch in [1, 2, 5, 3, 9, 10, 4.5 if name.startswith("CosineAnnealingW") else 4]:
                opt.step()
                sched.step(epoch)
                seq.append(sched.get_last_lr())
        results.append((seq, sorted({str(c.message) for c in caught})))
    assert results[0] == results[1]


def test_lr_scheduler_resumes_with_last_epoch_like_torch():
    """``last_epoch`` > -1 with ``initial_lr`` present (a resumed run), and the cosine
    schedule's closed-form first step after resuming."""
    results = []
    for lib in (fluxion, torch):
        opt = _optimizer(lib)
        for g in opt.param_groups:
            g["initial_lr"] = g["lr"] * 2
        sched = lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, last_epoch=4)
        seq = [sched.get_last_lr()]
        for _ in range(8):
            opt.step()
            sched.step()
            seq.append(sched.get_last_lr())
        results.append(seq)
    assert results[0] == results[1]


def test_lr_scheduler_resume_without_initial_lr_raises_like_torch():
    errors = []
    for lib in (fluxion, torch):
        with pytest.raises(KeyError) as err:
            lib.optim.lr_scheduler.StepLR(_optimizer(lib), step_size=2, last_epoch=3)
        errors.append(str(err.value))
    assert errors[0] == errors[1]


# ---------------------------------------------------------------------------- ReduceLROnPlateau

PLATEAU_METRICS = [
    1.0,
    0.9,
    0.85,
    0.85,
    0.86,
    0.84999,
    0.9,
    0.95,
    0.7,
    0.7,
    0.7,
    0.7,
    0.7,
    0.69995,
    0.7,
    0.71,
    0.72,
    0.5,
    0.5,
    0.5,
    0.5,
    0.5,
    0.5,
    0.5,
    0.5,
    0.5,
    0.5,
    0.5,
    0.5,
    0.5,
    0.4,
]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"patience": 2},
        {"patience": 1, "factor": 0.5, "cooldown": 2},
        {"patience": 0, "factor": 0.5, "min_lr": 0.02},
        {"patience": 0, "factor": 0.5, "min_lr": [0.001, 0.04]},
        {"mode": "max", "patience": 1},
        {"threshold": 0.1, "threshold_mode": "abs", "patience": 1},
        {"mode": "max", "threshold": 0.05, "threshold_mode": "abs", "patience": 0},
        {"patience": 0, "factor": 0.9, "eps": 0.01},
    ],
    ids=str,
)
def test_lr_scheduler_reduce_on_plateau_equals_torch(kwargs):
    seqs = []
    for lib in (fluxion, torch):
        opt = _optimizer(lib)
        sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
        seq = [_snapshot(sched, opt)]
        for i, metric in enumerate(PLATEAU_METRICS):
            opt.step()
            sched.step(lib.tensor(metric) if i % 3 == 0 else metric)
            seq.append(
                _snapshot(sched, opt)
                + [sched.best, sched.num_bad_epochs, sched.cooldown_counter, sched.last_epoch]
            )
        seqs.append((seq, sched.state_dict()))
    assert seqs[0][0] == seqs[1][0]
    _compare_state(seqs[0][1], seqs[1][1])


def test_lr_scheduler_reduce_on_plateau_state_dict_round_trip():
    opt = _optimizer(fluxion)
    sched = fluxion.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", patience=1)
    for m in PLATEAU_METRICS[:10]:
        sched.step(m)
    sd = pickle.loads(pickle.dumps(sched.state_dict()))
    other = fluxion.optim.lr_scheduler.ReduceLROnPlateau(_optimizer(fluxion))
    other.load_state_dict(sd)
    assert (other.mode, other.best, other.num_bad_epochs, other.mode_worse) == (
        "max",
        sched.best,
        sched.num_bad_epochs,
        -math.inf,
    )


def test_lr_scheduler_reduce_on_plateau_new_group_with_min_lr_list_raises_like_torch():
    errors = []
    for lib in (fluxion, torch):
        opt = _optimizer(lib)
        sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, min_lr=[0.0, 0.0])
        opt.add_param_group({"params": [lib.zeros(1, requires_grad=True)]})
        sched.step(1.0)
        with pytest.raises(RuntimeError) as err:
            sched.step(2.0)
        errors.append(str(err.value))
    assert errors[0] == errors[1]


# ---------------------------------------------------------------------------- training


def test_lr_scheduler_drives_training_like_torch():
    """Adam + OneCycleLR (betas cycled) on a least-squares problem: same parameters."""
    import numpy as np

    rng = np.random.default_rng(0)
    a, b, w0 = rng.normal(size=(10, 4)), rng.normal(size=10), rng.normal(size=4)
    finals = []
    for lib in (fluxion, torch):
        w = lib.tensor(w0.copy(), requires_grad=True)
        am, bv = lib.tensor(a), lib.tensor(b)
        opt = lib.optim.Adam([w], lr=0.01)
        sched = lib.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=40)
        for _ in range(40):
            opt.zero_grad()
            ((lib.matmul(am, w) - bv) ** 2).mean().backward()
            opt.step()
            sched.step()
        finals.append(w.detach().numpy().copy())
    np.testing.assert_allclose(finals[0], finals[1], rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------- warnings, errors


def _warnings_of(fn) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [f"{c.category.__name__}: {c.message}" for c in caught]


def test_lr_scheduler_step_before_optimizer_step_warns_like_torch():
    def run(lib):
        opt = _optimizer(lib)
        sched = lib.optim.lr_scheduler.StepLR(opt, step_size=2)
        sched.step()
        sched.step()

    f, t = _warnings_of(lambda: run(fluxion)), _warnings_of(lambda: run(torch))
    assert f == t and len(f) == 1


def test_lr_scheduler_get_lr_outside_step_warns_like_torch():
    def run(lib):
        sched = lib.optim.lr_scheduler.StepLR(_optimizer(lib), step_size=2)
        return sched.get_lr()

    f, t = _warnings_of(lambda: run(fluxion)), _warnings_of(lambda: run(torch))
    assert f == t and len(f) == 1


def _raises_like_torch(make) -> None:
    errs = []
    for lib in (torch, fluxion):
        with pytest.raises(Exception) as err:
            make(lib.optim.lr_scheduler, _optimizer(lib))
        errs.append(err.value)
    assert type(errs[1]) is type(errs[0]) and str(errs[1]) == str(errs[0]), errs


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda S, o: S.StepLR(object(), step_size=2), id="not-an-optimizer"),
        pytest.param(lambda S, o: S.LambdaLR(o, [lambda e: 1.0]), id="lambda-count"),
        pytest.param(lambda S, o: S.MultiplicativeLR(o, [1.0, 2.0]), id="lambda-not-callable"),
        pytest.param(lambda S, o: S.ConstantLR(o, factor=1.5), id="constant-factor"),
        pytest.param(lambda S, o: S.LinearLR(o, start_factor=0), id="linear-start"),
        pytest.param(lambda S, o: S.LinearLR(o, end_factor=2), id="linear-end"),
        pytest.param(lambda S, o: S.ReduceLROnPlateau(o, factor=1.0), id="plateau-factor"),
        pytest.param(lambda S, o: S.ReduceLROnPlateau(o, mode="up"), id="plateau-mode"),
        pytest.param(
            lambda S, o: S.ReduceLROnPlateau(o, threshold_mode="x"), id="plateau-threshold"
        ),
        pytest.param(lambda S, o: S.ReduceLROnPlateau(o, min_lr=[0.1]), id="plateau-min-lrs"),
        pytest.param(lambda S, o: S.ReduceLROnPlateau(None), id="plateau-not-an-optimizer"),
        pytest.param(lambda S, o: S.OneCycleLR(o, max_lr=0.1), id="onecycle-no-length"),
        pytest.param(lambda S, o: S.OneCycleLR(o, 0.1, total_steps=0), id="onecycle-total"),
        pytest.param(
            lambda S, o: S.OneCycleLR(o, 0.1, epochs=2.0, steps_per_epoch=3), id="onecycle-epochs"
        ),
        pytest.param(
            lambda S, o: S.OneCycleLR(o, 0.1, epochs=2, steps_per_epoch=-3), id="onecycle-spe"
        ),
        pytest.param(
            lambda S, o: S.OneCycleLR(o, 0.1, total_steps=10, pct_start=1), id="onecycle-pct"
        ),
        pytest.param(
            lambda S, o: S.OneCycleLR(o, 0.1, total_steps=10, anneal_strategy="exp"),
            id="onecycle-anneal",
        ),
        pytest.param(
            lambda S, o: S.OneCycleLR(o, [0.1, 0.2, 0.3], total_steps=10), id="onecycle-max-lrs"
        ),
        pytest.param(
            lambda S, o: S.OneCycleLR(_no_momentum(o), 0.1, total_steps=10),
            id="onecycle-no-momentum",
        ),
        pytest.param(lambda S, o: _past_total(S, o), id="onecycle-past-end"),
        pytest.param(lambda S, o: S.CyclicLR(o, 0.1, 1.0, mode="sine"), id="cyclic-mode"),
        pytest.param(lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=0), id="warm-T0"),
        pytest.param(lambda S, o: S.CosineAnnealingWarmRestarts(o, 2, T_mult=0), id="warm-Tmult"),
        pytest.param(
            lambda S, o: S.CosineAnnealingWarmRestarts(o, 2, eta_min="0"), id="warm-eta-min"
        ),
        pytest.param(
            lambda S, o: S.CosineAnnealingWarmRestarts(o, 2).step(-1), id="warm-negative-epoch"
        ),
        pytest.param(lambda S, o: S.SequentialLR(o, [], []), id="sequential-empty"),
        pytest.param(
            lambda S, o: S.SequentialLR(o, [S.StepLR(o, 2), S.StepLR(o, 3)], []),
            id="sequential-milestones",
        ),
        pytest.param(
            lambda S, o: S.SequentialLR(o, [S.ReduceLROnPlateau(o)], []), id="sequential-plateau"
        ),
        pytest.param(lambda S, o: S.SequentialLR(o, [object()], []), id="sequential-not-sched"),
        pytest.param(lambda S, o: S.ChainedScheduler([]), id="chained-empty"),
    ],
)
def test_lr_scheduler_errors_match_torch(make):
    _raises_like_torch(make)


def _no_momentum(opt):
    lib = fluxion if isinstance(opt, fluxion.optim.Optimizer) else torch
    return lib.optim.Adagrad([lib.zeros(1, requires_grad=True)])


def _past_total(S, o):
    sched = S.OneCycleLR(o, 0.1, total_steps=2)
    for _ in range(3):
        o.step()
        sched.step()


def test_lr_scheduler_sequential_rejects_foreign_scheduler_like_torch():
    errors = []
    for lib in (torch, fluxion):
        opt, other = _optimizer(lib), _optimizer(lib)
        S = lib.optim.lr_scheduler
        with pytest.raises(ValueError) as err:
            S.SequentialLR(opt, [S.StepLR(opt, 2), S.StepLR(other, 2)], [3])
        errors.append(str(err.value).split(" has ")[0])
    assert errors[0] == errors[1]


def test_lr_scheduler_tensor_lr_is_filled_in_place():
    w = fluxion.zeros(1, requires_grad=True)
    lr = fluxion.tensor(0.1)
    opt = fluxion.optim.SGD([w], lr=lr)
    sched = fluxion.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] is lr
    assert lr.item() == pytest.approx(0.05)
    assert sched.get_last_lr()[0] is not lr
