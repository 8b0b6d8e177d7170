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

import fnmatch
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Deviation:
    """A deliberate difference from torch: samples of ``specs`` (fnmatch patterns) for which
    ``when(sample)`` holds are not compared."""

    specs: tuple[str, ...]
    when: Callable[[list], bool]
    reason: str

    def applies(self, spec_name: str, sample: list) -> bool:
        return any(fnmatch.fnmatchcase(spec_name, p) for p in self.specs) and self.when(sample)


def _arrays(sample: list) -> list[np.ndarray]:
    return [a for a in sample if isinstance(a, np.ndarray)]


def _mixed_dtypes(sample: list) -> bool:
    return len({a.dtype for a in _arrays(sample)}) > 1


def _any_empty(sample: list) -> bool:
    return any(a.size == 0 for a in _arrays(sample))


def _any_bool(sample: list) -> bool:
    return any(a.dtype == bool for a in _arrays(sample))


def _any_int(sample: list) -> bool:
    return any(a.dtype.kind in "iu" for a in _arrays(sample))


def _any_non_finite(sample: list) -> bool:
    return any(a.dtype.kind == "f" and not np.isfinite(a).all() for a in _arrays(sample))


def _bias_dtype_differs(sample: list) -> bool:
    arrays = _arrays(sample)
    return len(arrays) == 3 and arrays[2].dtype != arrays[0].dtype


ALLOWED = [
    Deviation(
        ("matmul*", "mm*", "bmm", "baddbmm*", "addmm*", "addmv*", "mv", "dot*", "nn.linear*"),
        lambda s: _any_empty(s) and (_mixed_dtypes(s) or _any_bool(s)),
        "torch skips its dtype checks (one dtype, no bool kernel) when there is nothing to "
        "multiply; fluxion always checks",
    ),
    Deviation(
        ("einsum*",),
        lambda s: _mixed_dtypes(s) or _any_bool(s) or (len(_arrays(s)) > 2 and _any_int(s)),
        "torch's result for mixed, bool or (with 3+ operands) integer dtypes depends on its "
        "contraction path (mul promotes, bmm raises, a sum first gives int64 that the next "
        "product then rejects, sizes of 1 change the path); fluxion's einsum documents that "
        "operands share one dtype",
    ),
    Deviation(
        ("nn.conv*",),
        _any_non_finite,
        "with inf/nan inputs, which windows come out nan rather than +-inf depends on the "
        "algorithm (torch may use Winograd transforms, fluxion uses im2col + BLAS)",
    ),
    Deviation(
        ("nn.gelu*",),
        lambda s: any(a.dtype == np.float32 and np.isposinf(a).any() for a in _arrays(s)),
        "torch's vectorised float32 gelu (AVX-512 builds) gives nan for +inf, its scalar and "
        "float64 kernels give inf; fluxion gives inf",
    ),
    Deviation(
        ("nn.group_norm*", "nn.layer_norm*", "nn.batch_norm*", "nn.instance_norm*"),
        lambda s: any(
            a.dtype == np.float32 and (np.abs(a[np.isfinite(a)]) > 1.8e19).any() for a in _arrays(s)
        ),
        "squares of float32 values beyond 1.8e19 overflow, so the variance does: torch's "
        "Welford moments give nan for the whole group, fluxion's two-pass variance gives inf "
        "and outputs 0 where the centred value is finite",
    ),
    Deviation(
        ("nn.conv_transpose*",),
        _bias_dtype_differs,
        "torch promotes a bias of another dtype or raises, depending on the CPU kernel it picks "
        "(mkldnn or not); fluxion promotes",
    ),
]


def _allowed(spec_name: str, sample: list) -> bool:
    return any(d.applies(spec_name, sample) for d in ALLOWED)


# ---------------------------------------------------------------------------- inputs

SPECIAL_F = np.array(
    [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 1e6, -1e6, 1e30, np.inf, -np.inf, np.nan]
)
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
        if isinstance(a, np.generic):  # a 0-d array, as test_op_db passes it
            a = np.asarray(a)
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
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


def _same_family(gerr: BaseException, werr: BaseException) -> bool:
    """Fluxion raised torch's exception type, a subclass, or RuntimeError for NotImplementedError.

    torch raises ``NotImplementedError`` (a ``RuntimeError`` subclass) only from its dtype
    dispatcher ("... not implemented for 'Bool'"); fluxion may raise the plain ``RuntimeError``
    there, which every ``except RuntimeError`` in user code still catches.
    """
    if isinstance(gerr, type(werr)):
        return True
    return type(werr) is NotImplementedError and type(gerr) is RuntimeError


# Specs whose results add up many terms. With huge and small values mixed, the exact sum depends
# on the order of the additions (pairwise sums, BLAS blocking, float64 accumulators), so their
# absolute tolerance grows with the largest term: catastrophic cancellation is not a bug.
SUMS = (
    "sum*",
    "mean*",
    "var*",
    "std*",
    "norm*",
    "logsumexp*",
    "cumsum*",
    "matmul*",
    "mm*",
    "bmm",
    "mv",
    "dot*",
    "addmm*",
    "baddbmm*",
    "addmv*",
    "einsum*",
    "nn.conv*",
    "nn.linear*",
    "nn.*loss*",
    "nn.cross_entropy*",
    "nn.bce*",
    "nn.binary_cross_entropy*",
    "nn.avg_pool*",
    "nn.adaptive_avg_pool*",
)


def _sum_scale(sample: list) -> float:
    """A bound on the magnitude of one term: the product of the two largest finite inputs."""
    largest = sorted(
        (
            float(np.abs(a[np.isfinite(a)]).max())
            for a in _arrays(sample)
            if a.dtype.kind == "f" and np.isfinite(a).any()
        ),
        reverse=True,
    )[:2]
    n = max((a.size for a in _arrays(sample)), default=1)
    return float(np.prod([max(m, 1.0) for m in largest])) * n


def _tol_dtype(result_dtype, sample: list) -> str:
    """float32 tolerance when any float input is float32: torch may compute part of a float64
    result in float32 (binary_cross_entropy_with_logits' log_sigmoid of a float32 input)."""
    if any(a.dtype == np.float32 for a in _arrays(sample)):
        return "float32"
    return str(result_dtype)


def _compare(spec: OpSpec, sample: list) -> None:
    if _allowed(spec.name, sample):
        return
    got, gerr = _run(fluxion, spec, sample)
    want, werr = _run(torch, spec, sample)
    where = f"{spec.name}({_describe(sample)})"
    if werr is not None:
        assert gerr is not None, f"{where}: torch raised {werr!r}, fluxion returned {got}"
        assert _same_family(gerr, werr), (
            f"{where}: torch raised {type(werr).__name__}: {werr}; "
            f"fluxion raised {type(gerr).__name__}: {gerr}"
        )
        assert not _from_numpy_internals(gerr), (
            f"{where}: fluxion let NumPy raise {type(gerr).__name__}: {gerr} (torch: {werr}); "
            "validate the arguments and raise with a message that names the op"
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
            rtol, atol = TOL.get(_tol_dtype(e.dtype, sample), (1e-3, 1e-3))
            if any(fnmatch.fnmatchcase(spec.name, p) for p in SUMS):
                atol = max(atol, rtol * _sum_scale(sample))
            a, e = a.astype(np.float64), e.astype(np.float64)  # a huge atol must not overflow
            np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)
        else:
            np.testing.assert_array_equal(a, e, err_msg=what)


# ---------------------------------------------------------------------------- the test

# Few examples per spec (there are hundreds of specs): the whole file runs in about 30 s.
# derandomize: the same examples on every run, so that CI is deterministic.
FUZZ = settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.name) for s in SPECS])
def test_fuzz_spec_matches_torch(spec: OpSpec) -> None:
    @FUZZ
    @given(sample=_inputs(spec))
    def check(sample):
        _compare(spec, sample)

    check()


# ---------------------------------------------------------------------------- self-checks


def _fake(fn) -> OpSpec:
    return OpSpec("self_check", fn, shapes=[((3,),)])


X = np.array([1.0, -2.0, 3.0])


def test_fuzz_self_check_detects_wrong_values():
    with pytest.raises(AssertionError, match="self_check"):
        _compare(_fake(lambda lib, x: x if lib is torch else x + 1e-3), [X])


def test_fuzz_self_check_detects_wrong_dtype():
    with pytest.raises(AssertionError, match="dtype"):
        _compare(_fake(lambda lib, x: x if lib is torch else x.float()), [X])


def test_fuzz_self_check_detects_result_instead_of_error():
    def fn(lib, x):
        if lib is torch:
            raise RuntimeError("torch rejects this")
        return x

    with pytest.raises(AssertionError, match="fluxion returned"):
        _compare(_fake(fn), [X])


def test_fuzz_self_check_detects_other_exception_type():
    def fn(lib, x):
        raise (RuntimeError if lib is torch else TypeError)("no")

    with pytest.raises(AssertionError, match="TypeError"):
        _compare(_fake(fn), [X])


def test_fuzz_self_check_accepts_runtime_error_for_dispatch_errors():
    def fn(lib, x):
        raise (NotImplementedError if lib is torch else RuntimeError)("not for 'Bool'")

    _compare(_fake(fn), [X])


def test_fuzz_self_check_detects_errors_raised_inside_numpy():
    def fn(lib, x):
        if lib is torch:
            raise ValueError("shapes do not broadcast")
        return np.broadcast_shapes((2,), (3,))  # raises ValueError from NumPy's own code

    with pytest.raises(AssertionError, match="let NumPy raise"):
        _compare(_fake(fn), [X])


def test_fuzz_self_check_special_values_are_drawn():
    arr = _values(np.random.default_rng(0), (400,), "float32", "special", (-2.0, 2.0))
    assert np.isnan(arr).any() and np.isposinf(arr).any() and np.isneginf(arr).any()
    assert (arr == 0).any() and (arr < 0).any() and (np.abs(arr) >= 1e6).any()


@pytest.mark.parametrize("deviation", ALLOWED, ids=lambda d: d.specs[0])
def test_fuzz_allow_list_entries_match_specs(deviation: Deviation):
    names = [s.name for s in SPECS]
    assert any(fnmatch.fnmatchcase(n, p) for p in deviation.specs for n in names)
    assert deviation.reason
