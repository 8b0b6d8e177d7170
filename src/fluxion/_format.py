"""``repr`` of tensors in PyTorch's format (4 decimals, ``3.`` for whole floats, suffixes)."""

from __future__ import annotations

import numpy as np

from . import dtypes as _dt

__all__ = ["format_tensor"]


def _float_formatter(arr: np.ndarray):
    finite = arr[np.isfinite(arr)].astype(np.float64)
    nonzero = np.abs(finite[finite != 0])
    if finite.size and np.all(finite == np.round(finite)):
        if nonzero.size and nonzero.max() > 1e8:
            return lambda v: f"{v:.4e}"
        return lambda v: f"{v:.0f}." if np.isfinite(v) else str(v)
    if nonzero.size and (
        nonzero.max() / nonzero.min() > 1000.0 or nonzero.max() > 1e8 or nonzero.min() < 1e-4
    ):
        return lambda v: f"{v:.4e}"
    return lambda v: f"{v:.4f}"


def _body(arr: np.ndarray, prefix: str) -> str:
    if arr.dtype.kind == "f":
        fmt = _float_formatter(arr)
        strs = [fmt(v) for v in arr.ravel()[: min(arr.size, 2000)]] or ["0"]
        width = max(len(s) for s in strs)
        formatter = {"float_kind": lambda v: fmt(v).rjust(width)}
    elif arr.dtype.kind == "b":
        width = 5 if not arr.all() else 4
        formatter = {"bool": lambda v: ("True" if v else "False").rjust(width)}
    else:
        width = max((len(str(v)) for v in arr.ravel()[:2000]), default=1)
        formatter = {"int": lambda v: str(v).rjust(width)}
    return np.array2string(
        arr,
        separator=", ",
        prefix=prefix,
        formatter=formatter,
        max_line_width=80,
        threshold=1000,
        edgeitems=3,
    )


def format_tensor(t, name: str = "tensor") -> str:
    """Return ``t`` formatted as ``tensor([...], <suffixes>)``."""
    arr = t._data
    prefix = name + "("
    suffixes = []
    if arr.size == 0:
        body = "[]"
        if arr.ndim != 1:
            suffixes.append(f"size={tuple(arr.shape)}")
    else:
        body = _body(np.asarray(arr), prefix)
    d = _dt.FROM_NP[arr.dtype]
    if d not in (_dt.get_default_dtype(), _dt.int64, _dt.bool):
        suffixes.append(f"dtype={d!r}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return prefix + ", ".join([body] + suffixes) + ")"
