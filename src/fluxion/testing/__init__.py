"""Testing helpers with PyTorch's semantics: ``assert_close``, ``gradcheck``, ``gradgradcheck``.

These run on the host and compare values with NumPy (a test tool, not an op: nothing here is
on a hot path or recorded by autograd).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .. import dtypes as _dt
from ..autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from ..tensor import Tensor

__all__ = ["assert_close", "gradcheck", "gradgradcheck", "GradcheckError"]

# Default (rtol, atol) per dtype, the same as torch.testing.assert_close.
_DEFAULT_TOLERANCES = {
    _dt.float16: (1e-3, 1e-5),
    _dt.float32: (1.3e-6, 1e-5),
    _dt.float64: (1e-7, 1e-7),
}


class _Mismatch(AssertionError):
    """An ``AssertionError`` raised deep in a comparison, before the item path is known."""


def _tolerances(*dtypes) -> tuple[float, float]:
    rtols, atols = zip(*(_DEFAULT_TOLERANCES.get(d, (0.0, 0.0)) for d in dtypes))
    return max(rtols), max(atols)


def _is_scalar(x) -> bool:
    return isinstance(x, (bool, int, float, np.number, np.bool_))


def _compare_values(
    actual: np.ndarray,
    expected: np.ndarray,
    rtol: float,
    atol: float,
    equal_nan: bool,
    scalar: bool,
    exact: bool,
) -> str | None:
    """Return the failure message, or None when every element is close."""
    shape = actual.shape
    a = actual.astype(np.float64).reshape(-1)  # flat: 0-d arrays would turn into scalars
    e = expected.astype(np.float64).reshape(-1)
    with np.errstate(invalid="ignore", over="ignore"):
        close = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan)
        if exact and actual.dtype.kind != "f":
            close = (actual == expected).reshape(-1)
        if close.all():
            return None
        abs_diff = np.abs(a - e)
        abs_diff[close] = 0
        with np.errstate(divide="ignore"):
            rel_diff = abs_diff / np.abs(e)
        rel_diff[close] = 0
    abs_up = "" if exact else f" (up to {atol} allowed)"
    rel_up = "" if exact else f" (up to {rtol} allowed)"
    kind = "equal" if exact else "close"
    if scalar:
        av, ev = actual.reshape(()).item(), expected.reshape(()).item()
        return (
            f"Scalars are not {kind}!\n\nExpected {ev} but got {av}.\n"
            f"Absolute difference: {_num(abs_diff[0])}{abs_up}\n"
            f"Relative difference: {_num(rel_diff[0])}{rel_up}"
        )
    bad = int((~close).sum())
    total = close.size
    k_abs = int(np.argmax(np.where(close, -1, _nan_to_big(abs_diff))))
    k_rel = int(np.argmax(np.where(close, -1, _nan_to_big(rel_diff))))
    i_abs = tuple(int(i) for i in np.unravel_index(k_abs, shape))
    i_rel = tuple(int(i) for i in np.unravel_index(k_rel, shape))
    return (
        f"Tensor-likes are not {kind}!\n\n"
        f"Mismatched elements: {bad} / {total} ({100.0 * bad / total:.1f}%)\n"
        f"Greatest absolute difference: {_num(abs_diff[k_abs])} at index {i_abs}{abs_up}\n"
        f"Greatest relative difference: {_num(rel_diff[k_rel])} at index {i_rel}{rel_up}"
    )


def _nan_to_big(x: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(x), np.inf, x)


def _num(v) -> str:
    v = float(v)
    return str(int(v)) if v.is_integer() and abs(v) < 2**53 else str(v)


def _compare_tensors(actual, expected, rtol, atol, equal_nan, check_dtype) -> None:
    if tuple(actual.shape) != tuple(expected.shape):
        raise _Mismatch(
            f"The values for attribute 'shape' do not match: {actual.shape} != {expected.shape}."
        )
    if check_dtype and actual.dtype is not expected.dtype:
        raise _Mismatch(
            f"The values for attribute 'dtype' do not match: {actual.dtype!r} != "
            f"{expected.dtype!r}."
        )
    if rtol is None:
        rtol, atol = _tolerances(actual.dtype, expected.dtype)
    a, e = np.asarray(actual._data), np.asarray(expected._data)
    exact = a.dtype.kind != "f" and e.dtype.kind != "f"
    msg = _compare_values(a, e, rtol, atol, equal_nan, a.ndim == 0, exact and rtol == atol == 0)
    if msg is not None:
        raise _Mismatch(msg)


def _compare_arrays(actual, expected, rtol, atol, equal_nan, check_dtype) -> None:
    if actual.shape != expected.shape:
        raise _Mismatch(
            f"The values for attribute 'shape' do not match: {actual.shape} != {expected.shape}."
        )
    if check_dtype and actual.dtype != expected.dtype:
        raise _Mismatch(
            f"The values for attribute 'dtype' do not match: {actual.dtype} != {expected.dtype}."
        )
    if rtol is None:
        rtol, atol = _tolerances(_dt.to_dtype(actual.dtype), _dt.to_dtype(expected.dtype))
    exact = actual.dtype.kind != "f" and expected.dtype.kind != "f"
    msg = _compare_values(
        actual, expected, rtol, atol, equal_nan, actual.ndim == 0, exact and rtol == atol == 0
    )
    if msg is not None:
        raise _Mismatch(msg)


def _compare_scalars(actual, expected, rtol, atol, equal_nan) -> None:
    floating = isinstance(actual, (float, np.floating)) or isinstance(
        expected, (float, np.floating)
    )
    if rtol is None:
        rtol, atol = (1e-7, 1e-7) if floating else (0.0, 0.0)
    exact = not floating and rtol == atol == 0
    msg = _compare_values(
        np.asarray(actual), np.asarray(expected), rtol, atol, equal_nan, True, exact
    )
    if msg is not None:
        raise _Mismatch(msg)


def _compare(actual, expected, path: list, **kw) -> None:
    try:
        if isinstance(actual, Tensor) and isinstance(expected, Tensor):
            _compare_tensors(actual, expected, **kw)
        elif isinstance(actual, np.ndarray) and isinstance(expected, np.ndarray):
            _compare_arrays(actual, expected, **kw)
        elif _is_scalar(actual) and _is_scalar(expected):
            kw.pop("check_dtype")
            _compare_scalars(actual, expected, **kw)
        elif isinstance(actual, Mapping) and isinstance(expected, Mapping):
            if set(actual) != set(expected):
                raise _Mismatch(
                    f"The keys of the mappings do not match:\nMissing keys in the actual "
                    f"mapping: {sorted(map(str, set(expected) - set(actual)))}\nExtra keys in "
                    f"the actual mapping: {sorted(map(str, set(actual) - set(expected)))}"
                )
            for k in expected:
                _compare(actual[k], expected[k], path + [k], **kw)
        elif (
            isinstance(actual, Sequence)
            and isinstance(expected, Sequence)
            and not isinstance(actual, str)
            and not isinstance(expected, str)
        ):
            if len(actual) != len(expected):
                raise _Mismatch(
                    f"The length of the sequences mismatch: {len(actual)} != {len(expected)}"
                )
            for i, (a, e) in enumerate(zip(actual, expected)):
                _compare(a, e, path + [i], **kw)
        else:
            raise TypeError(
                f"No comparison pair was able to handle inputs of type {type(actual)} and "
                f"{type(expected)}."
            )
    except _Mismatch as exc:
        if path and not getattr(exc, "_located", False):
            located = _Mismatch(
                f"{exc}\n\nThe failure occurred for item {''.join(f'[{p!r}]' for p in path)}"
            )
            located._located = True
            raise located from None
        raise


def assert_close(
    actual: Any,
    expected: Any,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    equal_nan: bool = False,
    check_dtype: bool = True,
    msg: str | Callable[[str], str] | None = None,
) -> None:
    """Assert that ``actual`` and ``expected`` are close, as ``torch.testing.assert_close``.

    Tensors (and NumPy arrays) must have the same shape and, with ``check_dtype``, the same
    dtype; then every element must satisfy ``|actual - expected| <= atol + rtol * |expected|``.
    Sequences and mappings are compared element by element. Without ``rtol``/``atol`` the
    defaults depend on the dtype: float16 ``(1e-3, 1e-5)``, float32 ``(1.3e-6, 1e-5)``, float64
    ``(1e-7, 1e-7)``, and exact equality for integers and bools.

    Args:
        actual: Actual value.
        expected: Expected value.
        rtol: Relative tolerance; give it together with ``atol``.
        atol: Absolute tolerance; give it together with ``rtol``.
        equal_nan: Treat two NaNs as equal.
        check_dtype: Require equal dtypes (otherwise the looser tolerances of the two apply).
        msg: Replacement error message, or a callable that maps the default message to one.

    Raises:
        AssertionError: with the number of mismatched elements and the greatest differences.

    >>> fluxion.testing.assert_close(fluxion.tensor([1.0, 2.0]), fluxion.tensor([1.0, 2.000001]))
    >>> fluxion.testing.assert_close(fluxion.tensor([1.0, 2.0]), fluxion.tensor([1.0, 2.5]))
    Traceback (most recent call last):
        ...
    AssertionError: Tensor-likes are not close!
    <BLANKLINE>
    Mismatched elements: 1 / 2 (50.0%)
    Greatest absolute difference: 0.5 at index (1,) (up to 1e-05 allowed)
    Greatest relative difference: 0.2 at index (1,) (up to 1.3e-06 allowed)
    """
    if (rtol is None) != (atol is None):
        missing = "rtol" if rtol is None else "atol"
        raise ValueError(
            f"Both 'rtol' and 'atol' must be either specified or omitted, but got no {missing}."
        )
    try:
        _compare(
            actual,
            expected,
            [],
            rtol=rtol,
            atol=atol,
            equal_nan=equal_nan,
            check_dtype=check_dtype,
        )
    except _Mismatch as exc:
        text = str(exc)
        if msg is not None:
            text = msg(text) if callable(msg) else msg
        raise AssertionError(text) from None
