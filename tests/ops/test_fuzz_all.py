"""Hypothesis over the whole op database: random shapes, dtypes and values for every OpSpec.

For each spec of ``tests/ops/op_db.py`` Hypothesis draws inputs that the spec's own samples do
not cover: other dtypes per argument (float32/float64/int64/int32/bool/uint8), perturbed shapes
(a leading dim dropped or added, a dim set to 0 or 1, broadcast-incompatible shapes) and values
that include 0, negatives, large magnitudes, inf and nan. Fluxion must then agree with torch:
the same result (values with ``equal_nan``, dtype, shape), or both raise, with fluxion raising
torch's exception type (or a subclass). Only forward results are compared; gradients are
``test_op_db``'s job.

Specs built with ``make_inputs`` keep their index arrays (so that indices stay in range more
often than not); only their float arrays are redrawn.
"""

from __future__ import annotations

import traceback
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import fluxion

from .op_db import OpSpec, all_specs

torch = pytest.importorskip("torch")

SPECS = all_specs()
DTYPES = ("float32", "float64", "int64", "int32", "bool", "uint8")
# (rtol, atol) by result dtype
TOL = {"float32": (1e-4, 1e-5), "float64": (1e-9, 1e-12)}

# spec name -> why fluxion deliberately differs from torch on fuzzed inputs
ALLOWED: dict[str, str] = {}


# ---------------------------------------------------------------------------- inputs

SPECIAL_F = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 1e6, -1e6, 1e30, np.inf, -np.inf, np.nan])
SPECIAL_I = np.array([0, 1, -1, 2, -3, 7, 100, -1000, 2**20])


def _values(rng: np.random.Generator, shape: tuple, dtype: str, mode: str, domain) -> np.ndarray:
    """Draw an array: ``mode`` is "domain" (the spec's range), "special" or "small_ints"."""
    return np.asarray(_draw_values(rng, shape, dtype, mode, domain))


def _draw_values(rng, shape, dtype, mode, domain):
    kind = np.dtype(dtype).kind
    if dtype == "bool":
        return rng.random(size=shape) < 0.5
    if dtype == "uint8":
        pool = np.array([0, 1, 2, 3, 7, 128, 255]) if mode == "special" else np.arange(6)
        return rng.choice(pool, size=shape).astype(dtype)
    if mode == "small_ints":
        return rng.integers(-3, 4, size=shape).astype(dtype)
    if mode == "special":
        pool = SPECIAL_F if kind == "f" else SPECIAL_I
        special = rng.choice(pool, size=shape)
        lo, hi = domain
        plain = rng.uniform(lo, hi, size=shape)
        out = np.where(rng.random(size=shape) < 0.5, special, plain)
        return np.asarray(out).astype(dtype)
    lo, hi = domain
    if kind in "iu":
        return rng.integers(int(np.floor(lo)), int(np.ceil(hi)) + 1, size=shape).astype(dtype)
    return np.asarray(rng.uniform(lo, hi, size=shape)).astype(dtype)


def _perturb(draw, shapes: list) -> list:
    """Maybe change one argument's shape: drop/add a leading dim, a dim to 0 or 1, a mismatch."""
    how = draw(st.sampled_from(("keep", "keep", "keep", "drop", "add", "zero", "one", "bump")))
    if how == "keep" or not shapes:
        return shapes
    shapes = [tuple(s) for s in shapes]
    k = draw(st.integers(0, len(shapes) - 1))
    s = shapes[k]
    if how == "drop":
        s = s[1:]
    elif how == "add":
        s = (draw(st.integers(1, 3)),) + s
    elif s:
        i = draw(st.integers(0, len(s) - 1))
        new = {"zero": 0, "one": 1, "bump": s[i] + 1}[how]
        s = s[:i] + (new,) + s[i + 1 :]
    shapes[k] = s
    return shapes


@st.composite
def _inputs(draw, spec: OpSpec) -> list:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    mode = draw(st.sampled_from(("domain", "special", "special", "small_ints")))
    base = draw(st.sampled_from(spec.dtypes + DTYPES))

    def dtype_of(default):
        return draw(st.sampled_from((default, default, default) + DTYPES))

    if spec.make_inputs is None:
        shapes = _perturb(draw, list(draw(st.sampled_from(spec.shapes))))
        return [_values(rng, s, dtype_of(base), mode, spec.domain) for s in shapes]
    dt = draw(st.sampled_from(spec.dtypes))
    samples = spec.samples(rng, np.dtype(dt))
    sample = samples[draw(st.integers(0, len(samples) - 1))]
    out = []
    for a in sample:
        if isinstance(a, (np.ndarray, np.generic)) and np.asarray(a).dtype.kind == "f":
            a = np.asarray(a)
            a = _values(rng, a.shape, dtype_of(str(a.dtype)), mode, spec.domain)
        out.append(a)
    return out


# ---------------------------------------------------------------------------- comparison


def _run(lib, spec: OpSpec, sample: list):
    args = [lib.from_numpy(np.array(a)) if isinstance(a, np.ndarray) else a for a in sample]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                return spec.fn(lib, *args), None
    except Exception as exc:  # noqa: BLE001 - exception types are compared across libraries
        return None, exc


def _outputs(out) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _dtype_name(t) -> str:
    return str(t.dtype).replace("torch.", "").replace("fluxion.", "")


def _describe(sample: list) -> str:
    return ", ".join(
        f"{a.dtype}{list(a.shape)}" if isinstance(a, np.ndarray) else repr(a) for a in sample
    )


def _from_numpy_internals(exc: BaseException) -> bool:
    """True when the exception was raised inside NumPy (fluxion did not validate first)."""
    tb = traceback.extract_tb(exc.__traceback__)
    return bool(tb) and "/numpy/" in tb[-1].filename


def _compare(spec: OpSpec, sample: list) -> None:
    got, gerr = _run(fluxion, spec, sample)
    want, werr = _run(torch, spec, sample)
    where = f"{spec.name}({_describe(sample)})"
    if werr is not None:
        assert gerr is not None, f"{where}: torch raised {werr!r}, fluxion returned {got}"
        assert isinstance(gerr, type(werr)), (
            f"{where}: torch raised {type(werr).__name__}: {werr}; "
            f"fluxion raised {type(gerr).__name__}: {gerr}"
        )
        return
    if gerr is not None:
        raise AssertionError(f"{where}: torch returned a result, fluxion raised {gerr!r}") from gerr
    g_out, t_out = _outputs(got), _outputs(want)
    assert len(g_out) == len(t_out), f"{where}: {len(g_out)} outputs, torch has {len(t_out)}"
    for k, (g, t) in enumerate(zip(g_out, t_out)):
        what = f"{where} output {k}"
        if not isinstance(t, torch.Tensor):
            assert g == t, f"{what}: {g!r} != torch's {t!r}"
            continue
        assert _dtype_name(g) == _dtype_name(t), f"{what}: dtype {g.dtype} != torch's {t.dtype}"
        a, e = g.numpy(), t.numpy()
        assert a.shape == e.shape, f"{what}: shape {a.shape} != torch's {e.shape}"
        if e.dtype.kind == "f":
            rtol, atol = TOL.get(str(e.dtype), (1e-3, 1e-3))
            np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)
        else:
            np.testing.assert_array_equal(a, e, err_msg=what)


# ---------------------------------------------------------------------------- the test

FUZZ = settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)


def _params():
    out = []
    for spec in SPECS:
        marks = ()
        if spec.name in ALLOWED:
            marks = pytest.mark.xfail(reason=ALLOWED[spec.name], strict=False)
        out.append(pytest.param(spec, id=spec.name, marks=marks))
    return out


@pytest.mark.parametrize("spec", _params())
def test_fuzz_spec_matches_torch(spec: OpSpec) -> None:
    @FUZZ
    @given(sample=_inputs(spec))
    def check(sample):
        _compare(spec, sample)

    check()
