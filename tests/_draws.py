"""Comparing random draws with torch's: bit for bit, except where torch's kernels use FMA.

fluxion reproduces torch's generator (mt19937) and its transforms exactly as torch's AVX2 and
default CPU kernels compute them. torch's AVX-512 builds of the same transforms let the compiler
fuse ``u * (b - a) + a`` and Box-Muller's products into fused multiply-adds, which round once
instead of twice: the same draws, a last bit apart in some elements. On those machines the
comparison allows 4 ulps (of the larger of the value and 1); everywhere else it is exact.
"""

from __future__ import annotations

import numpy as np
import torch

TORCH_FMA = torch.backends.cpu.get_cpu_capability().startswith("AVX512")


def draws_differ(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Flat indices where ``a`` and ``b`` (same shape and dtype) are not the same draw."""
    if a.dtype.kind != "f":
        return np.flatnonzero(a != b)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    if TORCH_FMA:
        # ulps of the larger of the values and 1: Box-Muller's cos near a zero turns a last-bit
        # difference of its argument into a larger relative one of a small sample
        big = np.maximum(np.maximum(np.abs(a), np.abs(b)), 1).astype(a.dtype)
        with np.errstate(invalid="ignore"):
            same |= np.abs(a.astype(np.float64) - b.astype(np.float64)) <= 4 * np.spacing(big)
    return np.flatnonzero(~same)


def assert_same_draws(a, b) -> None:
    """``a`` (fluxion or NumPy) and ``b`` (torch or NumPy) hold the same draws."""
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    assert a.shape == b.shape, (a.shape, b.shape)
    bad = draws_differ(a, b)
    assert bad.size == 0, (
        f"{bad.size} of {a.size} differ, first at {bad[:5]}: {a.flat[bad[0]]} vs {b.flat[bad[0]]}"
    )
