"""The backend seam: array modules and the few kernels NumPy lacks.

Everything outside ``_backend`` gets its array module as ``xp`` from here (NumPy for CPU
tensors; CuPy, imported lazily, for CUDA tensors).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["xp_for", "erf", "cupy", "threaded", "PARALLEL_MIN"]

# NumPy ufuncs release the GIL, so one large elementwise call split over a small pool uses every
# core. Below this many elements the thread hand-off costs more than it saves (measured: exp on
# 4M float32 elements 8.0 ms -> 4.3 ms on 2 cores; on 64K elements splitting is slower).
PARALLEL_MIN = 1 << 18
_WORKERS = max(1, min(os.cpu_count() or 1, 8))
_pool: ThreadPoolExecutor | None = None


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix="fluxion-elementwise")
    return _pool


def _forget_pool_after_fork() -> None:
    """A forked child (a DataLoader worker) inherits the pool object but not its threads."""
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def threaded(forward, ufunc: str | None = None):
    """Wrap the forward of a unary pointwise op so that large inputs are split over threads.

    ``forward(xp, input, *attrs)`` must be elementwise in ``input``. Each thread computes one
    slice of the flattened input straight into its slice of the output (with ``out=`` when the
    forward is the NumPy ufunc named ``ufunc``), so the result is bit-identical to one call and
    no joining copy is made.
    """
    if _WORKERS == 1:
        return forward
    uf = getattr(np, ufunc) if ufunc is not None else None

    def run(xp, input, *attrs):
        if xp is not np or input.size < PARALLEL_MIN or not input.flags.c_contiguous:
            return forward(xp, input, *attrs)
        flat = input.reshape(-1)
        dtype = forward(xp, flat[:1], *attrs).dtype
        out = np.empty(input.shape, dtype=dtype)
        flat_out = out.reshape(-1)
        step = -(-flat.size // _WORKERS)

        def work(i: int) -> None:
            if uf is not None and dtype == input.dtype:
                uf(flat[i : i + step], out=flat_out[i : i + step])
            else:
                flat_out[i : i + step] = forward(xp, flat[i : i + step], *attrs)

        for f in [_get_pool().submit(work, i) for i in range(0, flat.size, step)]:
            f.result()
        return out

    run.__wrapped__ = forward
    return run


_vec_erf = np.frompyfunc(math.erf, 1, 1)


def erf(xp, x):
    """Error function, exact to the platform's libm (``math.erf``) on CPU."""
    if xp is np:
        # np.asarray: frompyfunc returns a Python float for a 0-d input
        return np.asarray(_vec_erf(x)).astype(x.dtype if x.dtype.kind == "f" else np.float64)
    return xp.erf(x)  # pragma: no cover - cupyx.scipy.special on GPU


def cupy():
    """Import CuPy, with a clear error when it is missing."""
    try:
        import cupy as cp  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise RuntimeError(
            "fluxion: a CUDA device was requested but CuPy is not installed; "
            "install fluxion[gpu] (cupy) on a machine with an NVIDIA GPU"
        ) from exc
    return cp


def xp_for(device) -> object:
    """Return the array module for ``device`` (``numpy`` for CPU)."""
    if device is None or getattr(device, "type", device) == "cpu":
        return np
    return cupy()
