"""Run every OpSpec of the op database through the same checks against torch.

Per (spec, dtype) and per sample (each sample also with non-contiguous inputs unless the spec
opts out):

* ``test_forward``: values, shape and dtype equal torch's; a ``grad_fn`` exactly when torch has one.
* ``test_grad``: backward of a seeded random ``grad_output`` gives torch's input gradients.
* ``test_gradcheck`` (float64): the analytic VJPs match central finite differences, computed by
  fluxion's own ``gradcheck`` (not torch's).
* ``test_gradgrad`` (float64): ``gradgradcheck`` through ``create_graph=True``, and the
  second-order gradients equal torch's.
* ``test_grad_fn_name``: ``grad_fn.name()`` equals torch's (``AddBackward0``).
"""

from __future__ import annotations

import numpy as np
import pytest

import fluxion
from fluxion.autograd import gradcheck, gradgradcheck

from .op_db import OpSpec, all_specs

torch = pytest.importorskip("torch")

SPECS = all_specs()
TOL = {  # (rtol, atol) for forward values and gradients vs torch
    "float64": (1e-10, 1e-10),
    "float32": (1e-5, 1e-5),
    "float16": (1e-3, 1e-3),
}
SEED = 1234


def _params(dtypes=None, want=lambda spec: True):
    out = []
    for spec in SPECS:
        for dt in spec.dtypes:
            if (dtypes is None or dt in dtypes) and want(spec):
                out.append(pytest.param(spec, dt, id=f"{spec.name}-{dt}"))
    return out


def _is_float(dt: str) -> bool:
    return np.dtype(dt).kind == "f"


ALL = _params()
GRAD = _params(want=lambda s: s.grad)
FLOAT64_GRAD = _params(("float64",), lambda s: s.grad)
FLOAT64_GRADGRAD = _params(("float64",), lambda s: s.grad and s.gradgrad)
FIRST = [
    pytest.param(s, s.dtypes[0], id=s.name) for s in SPECS if s.dtypes and _is_float(s.dtypes[0])
]


# ---------------------------------------------------------------------------- inputs


def _noncontig(arr: np.ndarray) -> np.ndarray:
    """Return an array with the values of ``arr`` whose memory layout is not C-contiguous."""
    if arr.ndim >= 2:
        return np.asfortranarray(arr)  # a transposed copy, seen through a transposed view
    if arr.ndim == 1:
        wide = np.empty((arr.shape[0], 2), dtype=arr.dtype)
        wide[:, 0] = arr
        return wide[:, 0]  # every other element of a wider buffer
    return arr.copy()


def _has_noncontig(sample: list) -> bool:
    return any(isinstance(a, np.ndarray) and a.ndim >= 1 and a.size > 1 for a in sample)


def _variants(spec: OpSpec, dt: str) -> list[tuple[str, list]]:
    """Return (label, sample) pairs: every sample, and its non-contiguous twin."""
    rng = np.random.default_rng(SEED)
    out = []
    for k, sample in enumerate(spec.samples(rng, np.dtype(dt))):
        sample = [np.asarray(a) if isinstance(a, np.generic) else a for a in sample]
        out.append((f"sample {k}", sample, False))
        if spec.noncontig and _has_noncontig(sample):
            out.append((f"sample {k} (non-contiguous)", sample, True))
    return out


def _diff_positions(spec: OpSpec, sample: list) -> list[int]:
    floats = [i for i, a in enumerate(sample) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    if spec.diff_args is None:
        return floats
    return [i for i in spec.diff_args if i in floats]


def _build(lib, spec: OpSpec, sample: list, noncontig: bool, grad: bool = True) -> tuple:
    """Turn the arrays of ``sample`` into ``lib`` tensors (each lib gets its own copy)."""
    diff = set(_diff_positions(spec, sample)) if grad else set()
    args, leaves = [], []
    for i, a in enumerate(sample):
        if not isinstance(a, np.ndarray):
            args.append(a)
            continue
        arr = _noncontig(a) if noncontig else a.copy()
        t = lib.from_numpy(arr)
        if i in diff:
            t.requires_grad_(True)
            leaves.append(t)
        args.append(t)
    return args, leaves


def _first(out):
    return out[0] if isinstance(out, (tuple, list)) else out


def _outputs(out) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _np(t) -> np.ndarray:
    return np.asarray(t.detach().numpy(force=True)) if hasattr(t, "detach") else np.asarray(t)


def _tol(spec: OpSpec, dt: str) -> tuple[float, float]:
    rtol, atol = TOL.get(dt, (0.0, 0.0))
    return (
        spec.rtol if spec.rtol is not None else rtol,
        spec.atol if spec.atol is not None else atol,
    )


def _close(actual, expected, spec: OpSpec, dt: str, what: str) -> None:
    a, e = _np(actual), _np(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != torch's {e.shape}"
    rtol, atol = _tol(spec, str(e.dtype) if e.dtype.kind == "f" else dt)
    if e.dtype.kind in "fc":
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(a, e, err_msg=what)


def _dtype_name(t) -> str:
    return str(t.dtype).replace("torch.", "").replace("fluxion.", "")


def _real_grad_fn(t):
    """torch's grad_fn, or None when it is a ``NotImplemented`` placeholder."""
    fn = t.grad_fn
    return None if fn is None or "::" in fn.name() else fn


def _grad_out(rng: np.random.Generator, out, dt: str) -> np.ndarray:
    return np.asarray(rng.standard_normal(size=tuple(out.shape))).astype(dt)


def _grads_or_zeros(leaves: list) -> list[np.ndarray]:
    return [_np(t.grad) if t.grad is not None else np.zeros(tuple(t.shape)) for t in leaves]


# ---------------------------------------------------------------------------- tests


@pytest.mark.parametrize(("spec", "dt"), ALL)
def test_forward(spec: OpSpec, dt: str) -> None:
    for label, sample, nc in _variants(spec, dt):
        f_args, _ = _build(fluxion, spec, sample, nc, grad=_is_float(dt))
        t_args, _ = _build(torch, spec, sample, nc, grad=_is_float(dt))
        f_out, t_out = _outputs(spec.fn(fluxion, *f_args)), _outputs(spec.fn(torch, *t_args))
        assert len(f_out) == len(t_out), f"{label}: {len(f_out)} outputs, torch has {len(t_out)}"
        for k, (f, t) in enumerate(zip(f_out, t_out)):
            what = f"{spec.name} {label} output {k}"
            assert _dtype_name(f) == _dtype_name(t), f"{what}: dtype {f.dtype} != {t.dtype}"
            _close(f, t, spec, dt, what)
        f, t = f_out[0], t_out[0]
        if _real_grad_fn(t) is not None:
            assert f.grad_fn is not None, f"{spec.name} {label}: torch has {t.grad_fn.name()}"
        if t.grad_fn is None:
            assert f.grad_fn is None, f"{spec.name} {label}: torch has no grad_fn"


@pytest.mark.parametrize(("spec", "dt"), [p for p in GRAD if _is_float(p.values[1])])
def test_grad(spec: OpSpec, dt: str) -> None:
    rng = np.random.default_rng(SEED + 1)
    for label, sample, nc in _variants(spec, dt):
        f_args, f_leaves = _build(fluxion, spec, sample, nc)
        t_args, t_leaves = _build(torch, spec, sample, nc)
        f_out, t_out = _first(spec.fn(fluxion, *f_args)), _first(spec.fn(torch, *t_args))
        if _real_grad_fn(t_out) is None:
            continue
        go = _grad_out(rng, t_out, _dtype_name(t_out))
        t_out.backward(torch.from_numpy(go.copy()))
        f_out.backward(fluxion.from_numpy(go.copy()))
        for i, (fl, f_g, t_g) in enumerate(
            zip(f_leaves, _grads_or_zeros(f_leaves), _grads_or_zeros(t_leaves))
        ):
            what = f"{spec.name} {label}: grad of differentiable input {i}"
            if fl.grad is not None:
                assert fl.grad.dtype is fl.dtype, f"{what}: dtype {fl.grad.dtype} != {fl.dtype}"
            _close(f_g, t_g, spec, dt, what)


@pytest.mark.parametrize(("spec", "dt"), FLOAT64_GRAD)
def test_gradcheck(spec: OpSpec, dt: str) -> None:
    for _label, sample, nc in _variants(spec, dt):
        args, leaves = _build(fluxion, spec, sample, nc)
        if not leaves:
            continue
        assert gradcheck(lambda *a: spec.fn(fluxion, *a), args, eps=spec.fd_eps)


def _second_order(lib, spec: OpSpec, sample: list, nc: bool, go: np.ndarray, vs: list) -> list:
    """Gradients of ``sum(v * dL/dx)`` w.r.t. the inputs and the grad_output, in ``lib``."""
    args, leaves = _build(lib, spec, sample, nc)
    out = _first(spec.fn(lib, *args))
    g_out = lib.from_numpy(go.copy()).requires_grad_(True)
    grads = lib.autograd.grad(out, leaves, g_out, create_graph=True, allow_unused=True)
    terms = [(g, lib.from_numpy(v.copy())) for g, v in zip(grads, vs) if g is not None]
    terms = [(g, v) for g, v in terms if g.requires_grad]
    wrt = leaves + [g_out]
    if not terms:
        return [np.zeros(tuple(t.shape)) for t in wrt]
    second = lib.autograd.grad([g for g, _ in terms], wrt, [v for _, v in terms], allow_unused=True)
    return [_np(s) if s is not None else np.zeros(tuple(t.shape)) for s, t in zip(second, wrt)]


@pytest.mark.parametrize(("spec", "dt"), FLOAT64_GRADGRAD)
def test_gradgrad(spec: OpSpec, dt: str) -> None:
    rng = np.random.default_rng(SEED + 2)
    for label, sample, nc in _variants(spec, dt):
        args, leaves = _build(fluxion, spec, sample, nc)
        out = _first(spec.fn(fluxion, *args))
        if not leaves or not out.requires_grad:
            continue
        assert gradgradcheck(lambda *a: spec.fn(fluxion, *a), args, eps=spec.fd_eps)
        go = _grad_out(rng, out, dt)
        vs = [np.asarray(rng.standard_normal(size=tuple(t.shape))) for t in leaves]
        f_sec = _second_order(fluxion, spec, sample, nc, go, vs)
        t_sec = _second_order(torch, spec, sample, nc, go, vs)
        for i, (f, t) in enumerate(zip(f_sec, t_sec)):
            wrt = "grad_output" if i == len(leaves) else f"differentiable input {i}"
            _close(f, t, spec, dt, f"{spec.name} {label}: second-order grad w.r.t. {wrt}")


@pytest.mark.parametrize(("spec", "dt"), FIRST)
def test_grad_fn_name(spec: OpSpec, dt: str) -> None:
    for label, sample, nc in _variants(spec, dt):
        if nc:
            continue
        f_args, _ = _build(fluxion, spec, sample, nc)
        t_args, _ = _build(torch, spec, sample, nc)
        f_out, t_out = _first(spec.fn(fluxion, *f_args)), _first(spec.fn(torch, *t_args))
        t_fn = _real_grad_fn(t_out)
        if t_fn is None:
            continue
        assert f_out.grad_fn is not None, f"{spec.name} {label}: torch has {t_fn.name()}"
        assert f_out.grad_fn.name() == t_fn.name(), f"{spec.name} {label}"
