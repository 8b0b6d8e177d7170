"""The backend seam: array modules and the few kernels NumPy lacks.

Everything outside ``_backend`` gets its array module as ``xp`` from here (NumPy for CPU
tensors; CuPy, imported lazily, for CUDA tensors).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["xp_for", "erf", "cupy"]

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
