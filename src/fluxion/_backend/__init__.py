"""The backend seam: array modules and the few kernels NumPy lacks.

Everything outside ``_backend`` gets its array module as ``xp`` from here (NumPy for CPU
tensors; CuPy, imported lazily, for CUDA tensors).

Large elementwise work is split over a small thread pool (NumPy ufuncs release the GIL): see
``threaded``, ``threaded_binary`` and ``blockwise``. Each thread writes its own contiguous
range of one output array, so the result is bit-identical to one NumPy call.
"""

from __future__ import annotations

import ctypes
import functools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import _malloc  # noqa: F401 - tunes glibc's malloc on import (see _malloc)

__all__ = [
    "blas_core",
    "xp_for",
    "erf",
    "cupy",
    "threaded",
    "threaded_binary",
    "blockwise",
    "add_grads",
    "PARALLEL_MIN",
]

# Below this many elements the thread hand-off costs more than it saves (measured: exp on 4M
# float32 elements 8.0 ms -> 4.3 ms on 2 cores; on 64K elements splitting is slower). On a
# 2-core AVX-512 VM the crossover is near 1M: relu's rule on 300K elements 86 us in one call,
# 169 us split; tanh's on 2M 1244 -> 790 us split; a multiply breaks even only at 2M.
PARALLEL_MIN = 1 << 20
# Ranges start at multiples of this many elements, so every SIMD loop sees the same vectors
# (and the same tail) as one call over the whole array would.
_ALIGN = 1 << 10
# Elements per step of a fused kernel (``blockwise``), so that its operands and temporaries stay
# in cache. Measured on tanh's rule (3 ufuncs, 4M float32, 2 threads): 16K-element blocks 6.6 ms
# (call overhead and GIL hand-offs dominate), 64K 2.6 ms, 256K 2.0 ms, one block per thread 2.3 ms.
BLOCK = 1 << 18


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may run on (taskset, cpusets)
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


_WORKERS = max(1, min(_cpu_count(), 8))
_pool: ThreadPoolExecutor | None = None


def _libc_getcpu():
    """glibc's ``sched_getcpu`` (the CPU the calling thread runs on), or None without it."""
    try:
        fn = ctypes.CDLL("libc.so.6", use_errno=True).sched_getcpu
    except (OSError, AttributeError):  # pragma: no cover - not glibc (macOS, Windows, musl)
        return None
    fn.restype = ctypes.c_int
    fn.argtypes = ()
    return fn if fn() >= 0 else None


# Steering: the pool's threads are kept off the CPU of the thread that hands them work.
# Without it Linux's scheduler places a woken helper on its waker's CPU ("wake affine") and only
# later moves it, so both halves of a split often run one after the other on one core. Measured
# on a 2-core VM, sin on 4M float32 split in two: 3.8-4.1 ms median with the helper on the
# caller's CPU 75% of the time, 2.0-2.4 ms steered (one core alone: 3.8 ms).
_getcpu = _libc_getcpu() if hasattr(os, "sched_setaffinity") and _WORKERS > 1 else None
_helper_tids: list[int] = []  # native thread ids of the pool's threads
_steered = [-1]  # the CPU the helpers are kept off now (-1: none yet)


def _keep_off(tid: int, cpu: int) -> bool:
    global _getcpu
    try:
        os.sched_setaffinity(tid, _ALLOWED - {cpu})
    except ProcessLookupError:  # the thread has ended (a pool shut down)
        _helper_tids.remove(tid)
    except OSError:  # not permitted (seccomp), or the CPU set changed: stop steering
        _getcpu = None
        return False
    return True


def _helper_started() -> None:
    tid = threading.get_native_id()
    _helper_tids.append(tid)
    if _getcpu is not None and _steered[0] >= 0:
        _keep_off(tid, _steered[0])


def _steer() -> None:
    """Keep the pool's threads off the calling thread's CPU, before handing them work.

    One ``sched_getcpu`` call per split; the helpers' CPU masks change only when the caller
    has moved to another CPU since the last split.
    """
    cpu = _getcpu()
    if cpu != _steered[0] and len(_ALLOWED) > 1 and cpu in _ALLOWED:
        _steered[0] = cpu
        for tid in tuple(_helper_tids):
            if not _keep_off(tid, cpu):
                return


def _allowed_cpus() -> frozenset:
    try:
        return frozenset(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        return frozenset()


_ALLOWED = _allowed_cpus()


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        # _WORKERS threads although a split uses _WORKERS - 1 (the caller runs one range): the
        # spare keeps splits moving while fluxion.random's chunked drawing holds helpers here.
        _pool = ThreadPoolExecutor(
            _WORKERS, thread_name_prefix="fluxion-elementwise", initializer=_helper_started
        )
    if _getcpu is not None:
        _steer()
    return _pool


def _forget_pool_after_fork() -> None:
    """A forked child (a DataLoader worker) inherits the pool object but not its threads."""
    global _pool
    _pool = None
    _helper_tids.clear()
    _steered[0] = -1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _run_split(work, n: int) -> None:
    """Call ``work(start, stop)`` over contiguous ranges covering ``range(n)``, in parallel.

    The calling thread runs the first range itself; the pool runs the others, under the
    caller's ``np.errstate`` (``all="raise"`` raises from any range).
    """
    step = -(-n // _WORKERS)
    step = -(-step // _ALIGN) * _ALIGN
    err = np.geterr()  # NumPy's error state is per thread: the caller's applies to every range
    pool = _get_pool()
    futures = [
        pool.submit(_in_errstate, err, work, i, min(i + step, n)) for i in range(step, n, step)
    ]
    try:
        work(0, min(step, n))
    finally:
        for f in futures:
            f.result()


def _in_errstate(err: dict, work, start: int, stop: int) -> None:
    with np.errstate(**err):
        work(start, stop)


def _flat(a, shape: tuple, n: int):
    """``a`` as something sliceable by flat element ranges of an output of ``shape``, or None.

    Python numbers and 0-d arrays pass through (NumPy broadcasts them itself). Arrays of the
    output's shape qualify when C-contiguous, one-dimensional, or all-zero strides (a broadcast
    scalar, like the gradient of ``sum``): exactly the cases where one NumPy call would also
    return a C-contiguous result. Anything else (broadcasting, transposed layouts) gives None.
    """
    if type(a) is not np.ndarray or a.ndim == 0:
        return a
    if a.shape != shape:
        return None
    if a.flags.c_contiguous:
        return a.reshape(-1)
    if a.ndim == 1:
        return a
    if not any(a.strides):
        return as_strided(a, (n,), (0,))
    return None


def _split(kernel, shape: tuple, dtype, operands, block: int):
    """Run ``kernel(out, *operands)`` over flat ranges of a new array; None if it cannot split."""
    n = math.prod(shape)
    flats = []
    for a in operands:
        f = _flat(a, shape, n)
        if f is None:
            return None
        flats.append(f)
    if dtype is None:  # a ufunc's own result dtype, from one element of each operand
        dtype = kernel(None, *[f[:1] if type(f) is np.ndarray and f.ndim else f for f in flats])
    out = np.empty(shape, dtype)
    flat_out = out.reshape(-1)
    sliced = [type(f) is np.ndarray and f.ndim == 1 for f in flats]

    def work(start: int, stop: int) -> None:
        for i in range(start, stop, block):
            j = min(i + block, stop)
            kernel(flat_out[i:j], *[f[i:j] if s else f for f, s in zip(flats, sliced)])

    _run_split(work, n)
    return out


def blockwise(kernel, shape: tuple, dtype, *operands, block: int = BLOCK):
    """Run ``kernel(out, *operands)`` over slices of a new ``shape`` array, on every core.

    ``kernel`` must be elementwise and write its result into ``out`` (NumPy ufuncs with
    ``out=``); it is called on consecutive slices of at most ``block`` elements (so a chain of
    ufuncs works in cache), split over the thread pool. Returns None, so that the caller takes
    its plain NumPy path, when the work is small, an operand does not have the output's shape
    and a layout that slices flat (see ``_flat``), or an array operand is not of ``dtype`` (a
    chain of ufuncs writing into a ``dtype`` buffer must round as the plain expression does).

    >>> from fluxion._backend import blockwise
    >>> x = np.arange(1 << 20, dtype=np.float32)
    >>> y = blockwise(lambda out, a: np.multiply(a, a, out=out), x.shape, x.dtype, x)
    >>> y is None or bool((y == x * x).all())
    True
    """
    if _WORKERS == 1 or math.prod(shape) < PARALLEL_MIN:
        return None
    for a in operands:
        if type(a) is np.ndarray and a.dtype != dtype:
            return None
    return _split(kernel, shape, dtype, operands, block)


def _ufunc_kernel(uf):
    """``kernel(out, *args)`` for ``_split``; with ``out=None`` it returns the result dtype."""

    def kernel(out, *args):
        if out is None:
            return uf(*args).dtype
        uf(*args, out=out)

    return kernel


def threaded(forward, ufunc: str | None = None):
    """Wrap the forward of a unary pointwise op so that large inputs are split over threads.

    ``forward(xp, input, *attrs)`` must be elementwise in ``input``. Each thread computes one
    range of the flattened input straight into its range of the output (with ``out=`` when the
    forward is the NumPy ufunc named ``ufunc``), so the result is bit-identical to one call and
    no joining copy is made.
    """
    if _WORKERS == 1:
        return forward
    uf = getattr(np, ufunc) if ufunc is not None else None
    direct = _ufunc_kernel(uf) if uf is not None else None

    def run(xp, input, *attrs):
        if xp is not np or input.size < PARALLEL_MIN or not input.flags.c_contiguous:
            return forward(xp, input, *attrs)
        dtype = forward(xp, input.reshape(-1)[:1], *attrs).dtype
        if uf is not None and dtype == input.dtype:
            return _split(direct, input.shape, dtype, (input,), input.size)

        def kernel(out, a):  # a composite forward: in cache-sized blocks
            out[...] = forward(xp, a, *attrs)

        return _split(kernel, input.shape, dtype, (input,), BLOCK)

    run.__wrapped__ = forward
    return run


def threaded_binary(ufunc: str):
    """The forward ``f(xp, input, other)`` of a binary NumPy ufunc, split over threads when large.

    Small operands cost one Python frame and two size checks more than the bare ufunc. Large
    ones split when both have the output's shape (or one is a number) and a flat layout;
    broadcasting and transposed layouts take one plain call.
    """
    uf = getattr(np, ufunc)
    kernel = _ufunc_kernel(uf)
    nd = np.ndarray

    def large(xp, input, other):
        if xp is not np or _WORKERS == 1:
            return getattr(xp, ufunc)(input, other)
        shape = other.shape if type(input) is not nd or input.ndim == 0 else input.shape
        out = _split(kernel, shape, None, (input, other), 1 << 62)
        return uf(input, other) if out is None else out

    def run(xp, input, other):
        try:
            small = input.size < PARALLEL_MIN
        except AttributeError:  # a Python number first (reflected ops: 2 - x)
            small = True
        if small and (type(other) is not nd or other.size < PARALLEL_MIN):
            return uf(input, other)
        return large(xp, input, other)

    run.__name__ = run.__qualname__ = f"{ufunc}_forward"
    run.small_ufunc = uf  # what it calls for operands below PARALLEL_MIN (fluxion.jit uses it)
    return run


_add_large = threaded_binary("add")
_nd = np.ndarray


def add_grads(a, b):
    """``a + b`` for two gradients that meet at a node, on every core when they are large.

    NumPy arrays of at least ``PARALLEL_MIN`` elements go through ``threaded_binary("add")``
    (bit-identical to one call); anything else (small or CuPy arrays, Tensors under
    ``create_graph``) is ``a + b``. A 4M-element float32 gradient sum: 0.76 -> 0.46 ms on 2 cores.

    >>> from fluxion._backend import add_grads
    >>> add_grads(np.ones(3), np.arange(3.0))
    array([1., 2., 3.])
    """
    if type(a) is _nd and a.size >= PARALLEL_MIN:
        return _add_large(np, a, b)
    return a + b


_vec_erf = np.frompyfunc(math.erf, 1, 1)


@functools.cache
def blas_core() -> str:
    """The kernel family NumPy's OpenBLAS runs here, lower case (``"haswell"``, ``"skylakex"``,
    ``"zen"``...), or ``""`` where that is unknown (another BLAS, not Linux).

    Read once from the OpenBLAS library this process has loaded (``openblas_get_corename``,
    under the names the NumPy wheels' ``scipy_openblas`` builds give it). Kernel choices that
    depend on it are deterministic for a given machine and environment (``OPENBLAS_CORETYPE``).

    >>> isinstance(blas_core(), str)
    True
    """
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower()}
    except OSError:  # pragma: no cover - not Linux
        return ""
    # NumPy's own copy first (a wheel's numpy.libs), then any other OpenBLAS in the process
    for path in sorted(paths, key=lambda p: "numpy" not in p):
        try:
            lib = ctypes.CDLL(path)
        except OSError:  # pragma: no cover - a mapped file that is not a loadable library
            continue
        for name in _CORENAME_SYMBOLS:
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                fn.argtypes = ()
                core = fn()
                return core.decode("ascii", "replace").strip().lower() if core else ""
    return ""


_CORENAME_SYMBOLS = (
    "scipy_openblas_get_corename64_",
    "scipy_openblas_get_corename",
    "openblas_get_corename64_",
    "openblas_get_corename",
)


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
