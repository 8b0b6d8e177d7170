"""``repr`` of tensors, character for character as PyTorch prints them.

A port of ``torch/_tensor_str.py`` (default print options): one formatter per tensor decides
between integer mode (``3.``), fixed point (4 decimals) and scientific notation from the nonzero
finite values only, pads every element to a common width, wraps lines at 80 characters, and
summarises tensors of more than 1000 elements with ``...`` around 3 edge items per dimension.
"""

from __future__ import annotations

import math

import numpy as np

from . import dtypes as _dt

__all__ = ["format_tensor"]

PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3
LINEWIDTH = 80


class _Formatter:
    """Choose the number format and the common element width for one tensor."""

    def __init__(self, arr: np.ndarray) -> None:
        self.floating = arr.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = arr.reshape(-1)
        if not self.floating:
            for v in flat.tolist():
                self.max_width = max(self.max_width, len(f"{v}"))
            return
        values = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        if values.size == 0:  # only zeros, NaN and infinities: integer mode, width 1
            return
        absolute = np.abs(values)
        lo, hi = float(absolute.min()), float(absolute.max())
        vals = values.tolist()
        self.int_mode = all(v == math.ceil(v) for v in vals)
        if self.int_mode:
            if hi / lo > 1000.0 or hi > 1.0e8:
                self.sci_mode = True
                widths = [len(f"{v:.{PRECISION}e}") for v in vals]
            else:
                widths = [len(f"{v:.0f}") + 1 for v in vals]  # + 1 for the trailing "."
        elif hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4:
            self.sci_mode = True
            widths = [len(f"{v:.{PRECISION}e}") for v in vals]
        else:
            widths = [len(f"{v:.{PRECISION}f}") for v in vals]
        self.max_width = max(self.max_width, *widths)

    def format(self, v) -> str:
        if not self.floating:
            ret = f"{v}"
        elif self.sci_mode:
            ret = f"{v:{self.max_width}.{PRECISION}e}"
        elif self.int_mode:
            ret = f"{v:.0f}"
            if not (math.isinf(v) or math.isnan(v)):
                ret += "."
        else:
            ret = f"{v:.{PRECISION}f}"
        return (self.max_width - len(ret)) * " " + ret


def _summarized(arr: np.ndarray) -> np.ndarray:
    """Keep only the edge items that a summarised printout shows (they decide the format)."""
    if arr.ndim == 0:
        return arr
    n = arr.shape[0]
    if arr.ndim == 1:
        if n > 2 * EDGEITEMS:
            return np.concatenate((arr[:EDGEITEMS], arr[-EDGEITEMS:]))
        return arr
    rows = range(n)
    if n > 2 * EDGEITEMS:
        rows = list(range(EDGEITEMS)) + list(range(n - EDGEITEMS, n))
    return np.stack([_summarized(arr[i]) for i in rows])


def _vector(arr: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    per_line = max(1, int(math.floor((LINEWIDTH - indent) / (fmt.max_width + 2))))
    if summarize and arr.shape[0] > 2 * EDGEITEMS:
        data = (
            [fmt.format(v) for v in arr[:EDGEITEMS].tolist()]
            + [" ..."]
            + [fmt.format(v) for v in arr[-EDGEITEMS:].tolist()]
        )
    else:
        data = [fmt.format(v) for v in arr.tolist()]
    lines = [", ".join(data[i : i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(arr: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    if arr.ndim == 0:
        return fmt.format(arr.item())
    if arr.ndim == 1:
        return _vector(arr, indent, summarize, fmt)
    n = arr.shape[0]
    if summarize and n > 2 * EDGEITEMS:
        slices = (
            [_nested(arr[i], indent + 1, summarize, fmt) for i in range(EDGEITEMS)]
            + ["..."]
            + [_nested(arr[i], indent + 1, summarize, fmt) for i in range(n - EDGEITEMS, n)]
        )
    else:
        slices = [_nested(arr[i], indent + 1, summarize, fmt) for i in range(n)]
    return "[" + ("," + "\n" * (arr.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _body(arr: np.ndarray, indent: int) -> str:
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)  # as PyTorch: half values print through float
    summarize = arr.size > THRESHOLD
    fmt = _Formatter(_summarized(arr) if summarize else arr)
    return _nested(arr, indent, summarize, fmt)


def _add_suffixes(text: str, suffixes: list, indent: int) -> str:
    """Append ``, suffix`` items, moving one to a new line when it would pass 80 columns."""
    parts = [text]
    last_line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > LINEWIDTH:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def format_tensor(t, name: str = "tensor") -> str:
    """Return ``t`` formatted as PyTorch does: ``tensor([...], <suffixes>)``.

    >>> print(fluxion.tensor([[1.0, 2.5], [3.0, -4.0]], requires_grad=True))
    tensor([[ 1.0000,  2.5000],
            [ 3.0000, -4.0000]], requires_grad=True)
    >>> fluxion.tensor([1e-5, 1.0]), fluxion.tensor([], dtype=fluxion.int32)
    (tensor([1.0000e-05, 1.0000e+00]), tensor([], dtype=fluxion.int32))
    """
    arr = np.asarray(t._data)
    prefix = name + "("
    indent = len(prefix)
    suffixes = []
    d = _dt.FROM_NP[arr.dtype]
    default = _dt.get_default_dtype()
    if arr.size == 0:
        body = "[]"
        if arr.ndim != 1:  # the shape is all an empty tensor has to show
            suffixes.append(f"size={tuple(arr.shape)}")
        if d is not default:  # no elements to infer an integer dtype from
            suffixes.append(f"dtype={d!r}")
    else:
        body = _body(arr, indent)
        if d not in (default, _dt.int64, _dt.bool):
            suffixes.append(f"dtype={d!r}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)
