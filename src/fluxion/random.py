"""Random number state: ``manual_seed``, ``seed``, ``initial_seed`` and ``Generator``.

The generator is PyTorch's CPU generator, number for number: a Mersenne Twister (mt19937) seeded
like ``std::mt19937`` with the low 32 bits of the seed, whose 32-bit words feed fixed transforms
(``_uniform``, ``_normal``, ...). NumPy's ``MT19937`` bit generator runs the same recurrence, so
the words are drawn in bulk (full-range ``uint32`` draws are the raw words), never one Python call
per number, and the transforms are whole-array NumPy passes.
"""

from __future__ import annotations

import os
import queue
import sys
import threading

import numpy as np

from . import _backend

__all__ = [
    "Generator",
    "manual_seed",
    "seed",
    "initial_seed",
    "get_rng_state",
    "set_rng_state",
    "default_generator",
]

_DEFAULT_SEED = 67280421310721  # PyTorch's default_rng_seed_val
_N = 624  # mt19937 state words
_STATE_BYTES = 5056  # sizeof(CPUGeneratorImplState) in PyTorch
_LEGACY_BYTES = 5048  # sizeof(THGeneratorState), which set_state also accepts
_U32 = np.uint32
_U64 = np.uint64
_BIG_ENDIAN = sys.byteorder == "big"


def _nondeterministic_seed() -> int:
    # PyTorch keeps such seeds to 53 bits, so that they survive a round trip through a double.
    return int.from_bytes(os.urandom(8), "little") & ((1 << 53) - 1)


class Generator:
    """A source of random numbers with its own state (PyTorch's CPU generator).

    Args:
        device: Only ``"cpu"``.

    >>> g = fluxion.Generator().manual_seed(3)
    >>> a = fluxion.rand(2, generator=g)
    >>> _ = g.manual_seed(3)
    >>> bool((fluxion.rand(2, generator=g) == a).all())
    True
    """

    __slots__ = (
        "_bg",
        "_words",
        "_seed",
        "_fresh",
        "_next_double_normal",
        "_next_float_normal",
        "device",
    )

    def __init__(self, device: str = "cpu") -> None:
        if str(device) != "cpu":
            raise RuntimeError(f"Generator: only the cpu device is supported, got {device!r}")
        self.device = "cpu"
        self._bg = np.random.MT19937(0)
        self._words = np.random.Generator(self._bg).integers  # same stream, as uint32 arrays
        self.manual_seed(_DEFAULT_SEED)

    def __repr__(self) -> str:
        return f"<fluxion._C.Generator object at {hex(id(self))}>"

    def manual_seed(self, seed: int) -> Generator:
        """Seed the generator and return it.

        >>> fluxion.Generator().manual_seed(5).initial_seed()
        5
        """
        seed = _as_seed(seed)
        self._seed = seed
        self._bg._legacy_seeding(seed & 0xFFFFFFFF)  # std::mt19937's init_genrand
        self._fresh = True
        self._next_double_normal = None
        self._next_float_normal = None
        return self

    def seed(self) -> int:
        """Seed the generator from the OS's entropy and return the seed."""
        s = _nondeterministic_seed()
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        """Return the seed the generator was last seeded with."""
        return self._seed

    def get_state(self):
        """Return the state as a ``uint8`` tensor laid out as PyTorch's (5056 bytes).

        >>> g = fluxion.Generator().manual_seed(1)
        >>> s = g.get_state()
        >>> a = fluxion.rand(3, generator=g)
        >>> bool((fluxion.rand(3, generator=g.set_state(s)) == a).all())
        True
        """
        from .creation import from_numpy

        return from_numpy(_pack_state(self))

    def set_state(self, new_state) -> Generator:
        """Restore a state from :meth:`get_state` (or from PyTorch's ``get_rng_state``)."""
        from .tensor import Tensor

        if not isinstance(new_state, Tensor):
            raise TypeError(
                f"expected a torch.ByteTensor, but got {type(new_state).__name__}; "
                "pass the tensor get_state() returned"
            )
        data = new_state._data
        if data.dtype != np.uint8:
            raise TypeError(
                f"expected a torch.ByteTensor, but got a tensor of dtype {data.dtype}; "
                "pass the uint8 tensor get_state() returned"
            )
        _unpack_state(self, np.ascontiguousarray(data).reshape(-1))
        return self

    # ------------------------------------------------------------------ raw words

    def _u32(self, n: int) -> np.ndarray:
        """The next ``n`` 32-bit words (as uint64 values below 2**32)."""
        return self._u32_array(n).astype(_U64)

    def _u32_array(self, n: int) -> np.ndarray:
        """The next ``n`` 32-bit words as a uint32 array (half the memory of ``_u32``)."""
        self._fresh = False
        return self._words(0, 1 << 32, n, dtype=np.uint32)  # full range: one word per value

    def _u64(self, n: int) -> np.ndarray:
        """The next ``n`` 64-bit words; each is (first word << 32) | second word."""
        return _pair_words(self._u32_array(2 * n))


def _as_seed(seed) -> int:
    seed = int(seed)
    if seed < 0:
        if seed < -(1 << 63):
            raise RuntimeError("Overflow when unpacking long")
        seed += 1 << 64  # PyTorch reads a negative seed as its two's complement uint64
    elif seed >= 1 << 64:
        raise RuntimeError("Overflow when unpacking long")
    return seed


def _pack_state(g: Generator) -> np.ndarray:
    st = g._bg.state["state"]
    key, pos = st["key"], int(st["pos"])
    buf = np.zeros(_STATE_BYTES, np.uint8)
    head = buf[:24].view(np.uint64)
    head[0] = g._seed
    words = buf[8:16].view(np.int32)
    if pos >= _N:
        left, nxt = 1, (0 if g._fresh else _N)
    else:
        left, nxt = _N - pos + 1, pos
    words[0], words[1] = left, 1  # left, seeded
    head[2] = nxt
    buf[24 : 24 + 8 * _N].view(np.uint64)[:] = key.astype(np.uint64)
    tail = 24 + 8 * _N  # normal_x, normal_y, normal_rho (doubles), normal_is_valid (int)
    if g._next_double_normal is not None:
        buf[tail + 8 : tail + 16].view(np.float64)[0] = g._next_double_normal
        buf[tail + 24 : tail + 28].view(np.int32)[0] = 1
    if g._next_float_normal is not None:
        buf[_LEGACY_BYTES : _LEGACY_BYTES + 4].view(np.float32)[0] = g._next_float_normal
        buf[_LEGACY_BYTES + 4] = 1
    return buf


def _unpack_state(g: Generator, buf: np.ndarray) -> None:
    if buf.size not in (_STATE_BYTES, _LEGACY_BYTES):
        raise RuntimeError(
            f"Expected either a THGeneratorState of size {_LEGACY_BYTES} or a "
            f"CPUGeneratorImplState of size {_STATE_BYTES} but found the input RNG state size "
            f"to be {buf.size}"
        )
    seed = int(buf[:8].view(np.uint64)[0])
    left, seeded = (int(v) for v in buf[8:16].view(np.int32))
    nxt = int(buf[16:24].view(np.uint64)[0])
    if seeded != 1 or left < 1 or left > _N + 1 or nxt > _N:
        raise RuntimeError("The given RNG state is not valid: wrong mt19937 position fields")
    key = buf[24 : 24 + 8 * _N].view(np.uint64).astype(np.uint32)
    tail = 24 + 8 * _N
    double_valid = int(buf[tail + 24 : tail + 28].view(np.int32)[0])
    g._seed = seed
    g._bg.state = {
        "bit_generator": "MT19937",
        "state": {"key": key, "pos": _N if left == 1 else nxt},
    }
    g._fresh = left == 1 and nxt == 0
    g._next_double_normal = (
        float(buf[tail + 8 : tail + 16].view(np.float64)[0]) if double_valid else None
    )
    g._next_float_normal = None
    if buf.size == _STATE_BYTES and buf[_LEGACY_BYTES + 4]:
        g._next_float_normal = float(buf[_LEGACY_BYTES : _LEGACY_BYTES + 4].view(np.float32)[0])


default_generator = Generator()
default_generator.manual_seed(_nondeterministic_seed())


def manual_seed(seed: int) -> Generator:
    """Seed the default generator and return it.

    >>> _ = fluxion.manual_seed(0)
    >>> a = fluxion.randn(3)
    >>> _ = fluxion.manual_seed(0)
    >>> bool((fluxion.randn(3) == a).all())
    True
    """
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from the OS's entropy and return the seed.

    >>> s = fluxion.seed()
    >>> fluxion.initial_seed() == s
    True
    """
    return default_generator.seed()


def initial_seed() -> int:
    """Return the seed the default generator was last seeded with.

    >>> _ = fluxion.manual_seed(7)
    >>> fluxion.initial_seed()
    7
    """
    return default_generator.initial_seed()


def get_rng_state():
    """Return the default generator's state as a ``uint8`` tensor (PyTorch's layout).

    >>> s = fluxion.get_rng_state()
    >>> a = fluxion.rand(2)
    >>> fluxion.set_rng_state(s)
    >>> bool((fluxion.rand(2) == a).all())
    True
    """
    return default_generator.get_state()


def set_rng_state(new_state) -> None:
    """Restore the default generator's state from :func:`get_rng_state`."""
    default_generator.set_state(new_state)


def _gen(generator: Generator | None) -> Generator:
    return default_generator if generator is None else generator


# ---------------------------------------------------------------------- transforms
# Each returns a flat NumPy array of ``n`` values drawn from ``gen`` in PyTorch's order.
#
# Large draws run in chunks: this thread draws the words (NumPy's MT19937 releases the GIL while
# it fills an array) while the pool turns the chunks already drawn into numbers, each chunk in
# cache-sized blocks with per-thread scratch buffers. Every value depends only on its own words,
# so the split changes the time, never a bit.

_CHUNK = 1 << 19  # words per hand-off to the pool: a multiple of 32 (whole rows, whole pairs)
# Rows of 16 values per Box-Muller block. Each NumPy call hands the GIL over twice; passes this
# long (128K lanes) keep two threads busy where cache-sized ones would wait on each other
# (measured, 10M normals on 2 cores: 4096 rows 164 ms, 16384 rows 114 ms).
_ROWS = 16384
_local = threading.local()  # per-thread scratch buffers


def _scratch(name: str, shape: tuple, dtype) -> np.ndarray:
    """This thread's buffer ``name``, at least ``shape`` (reused across calls)."""
    buf = getattr(_local, name, None)
    if buf is None or buf.shape[-1] < shape[-1]:
        buf = np.empty(shape, dtype)
        setattr(_local, name, buf)
    return buf


def _chunked(gen: Generator, n_words: int, fill) -> None:
    """Draw ``n_words`` words from ``gen`` in order and call ``fill(words, start)`` on each chunk
    (``start``: the index of its first word).

    Pool threads run ``fill`` on the chunks already drawn while this thread draws the next, then
    this thread helps with what is left. It waits for its chunks, never for the pool's threads
    to be free, so a call from inside a pool thread cannot deadlock.
    """
    if n_words <= _CHUNK or _backend._WORKERS < 2:
        for start in range(0, n_words, _CHUNK):
            fill(gen._u32_array(min(_CHUNK, n_words - start)), start)
        return
    todo: queue.SimpleQueue = queue.SimpleQueue()
    finished = threading.Semaphore(0)
    errors: list = []

    def run(item) -> None:
        try:
            fill(*item)
        except BaseException as e:  # noqa: BLE001 - re-raised on the calling thread
            errors.append(e)
        finally:
            finished.release()

    def work() -> None:
        while (item := todo.get()) is not None:
            run(item)

    helpers = _backend._WORKERS - 1
    pool = _backend._get_pool()
    for _ in range(helpers):
        pool.submit(work)
    chunks = 0
    try:
        for start in range(0, n_words, _CHUNK):
            todo.put((gen._u32_array(min(_CHUNK, n_words - start)), start))
            chunks += 1
    finally:  # even when drawing raises (KeyboardInterrupt): never leave a pool thread waiting
        for _ in range(helpers):
            todo.put(None)
    while True:  # help with what the helpers have not taken
        try:
            item = todo.get_nowait()
        except queue.Empty:
            break
        if item is None:
            todo.put(None)  # a helper's stop: everything before it is taken
            break
        run(item)
    for _ in range(chunks):
        finished.acquire()
    if errors:
        raise errors[0]


def _uniform(
    gen: Generator, n: int, dtype, a: float = 0.0, b: float = 1.0, out: np.ndarray | None = None
) -> np.ndarray:
    """Uniform on [a, b): ``u * (b - a) + a`` (one fused multiply-add) with ``u`` from 53 random
    bits (two words) for double, 24 bits (one word) for float and half.

    Half computes in float and rounds; a value that rounds up to ``b`` becomes ``a``, so that
    the result stays below ``b``. ``out``: a flat contiguous array of ``dtype`` to fill instead
    of a new one.
    """
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        out = np.empty(n) if out is None else out
        plain = (a, b) == (0.0, 1.0)

        def fill64(words, start):
            o = out[start // 2 : start // 2 + words.size // 2]
            _double_from_words(words, o)
            if not plain:
                o[...] = _fma64(o, float(b) - float(a), float(a))

        _chunked(gen, 2 * n, fill64)
        return out
    dst, out = out, (out if dtype == np.float32 and out is not None else np.empty(n, np.float32))
    if (a, b) == (0.0, 1.0):
        _chunked(gen, n, lambda words, start: _float_from_words(words, out[start:]))
    else:
        fa, fb = _F(a), _F(b)
        # u * (b - a) is exact in double, and so is k * ((b - a) * 2**-24) for u = k * 2**-24
        scale, shift = float(fb - fa) * 2.0**-24, float(fa)

        def fill(words, start):
            k = words.view(np.int32)
            np.bitwise_and(k, 0xFFFFFF, out=k)
            t = _scratch("t64", (k.size,), np.float64)[: k.size]
            np.multiply(k, scale, out=t)
            np.add(t, shift, out=out[start : start + k.size], casting="unsafe")

        _chunked(gen, n, fill)
    if dtype == np.float32:
        return out
    v = out.astype(dtype)
    v[v == dtype.type(b)] = dtype.type(a)
    if dst is not None:
        dst[...] = v
    return v


def _float_from_words(words: np.ndarray, out: np.ndarray) -> None:
    """``out[:words.size]`` = the float uniforms of ``words``: low 24 bits times 2**-24."""
    k = words.view(np.int32)
    np.bitwise_and(k, 0xFFFFFF, out=k)
    o = out[: k.size]
    np.copyto(o, k, casting="unsafe")  # exact: below 2**24
    np.multiply(o, _F(2.0**-24), out=o)


def _double_from_words(words: np.ndarray, out: np.ndarray) -> None:
    """``out`` = the double uniforms of word pairs: 53 low bits of (first << 32) | second, times
    2**-53."""
    v = _pair_words(words)
    np.bitwise_and(v, _U64((1 << 53) - 1), out=v)
    np.multiply(v.view(np.int64), 2.0**-53, out=out)  # exact: below 2**53


def _pair_words(words: np.ndarray) -> np.ndarray:
    """(first << 32) | second for consecutive pairs of 32-bit words, as uint64 (``words`` is
    overwritten)."""
    v = words.view(np.uint64)
    if _BIG_ENDIAN:
        return v
    hi = np.left_shift(v, _U64(32))  # a little-endian pair reads first | second << 32
    np.right_shift(v, _U64(32), out=v)
    np.bitwise_or(hi, v, out=hi)
    return hi


def _uniform_double(gen: Generator, n: int) -> np.ndarray:
    return _uniform(gen, n, np.float64)


def _uniform_float(gen: Generator, n: int) -> np.ndarray:
    return _uniform(gen, n, np.float32)


def _normal(
    gen: Generator,
    n: int,
    dtype,
    mean: float = 0.0,
    std: float = 1.0,
    contiguous: bool = True,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Normal samples by Box-Muller, as PyTorch's CPU kernel makes them.

    Fewer than 16 values (or a strided output, see ``_normal_scalar``): one Box-Muller pair per
    two values from two double uniforms, the spare value cached in the generator. From 16 values
    on: all uniforms first, then Box-Muller over blocks of 16 (first 8 give the radius, last 8
    the angle); when ``n % 16`` is not 0, 16 fresh uniforms redo the last 16 values. float32
    and half take PyTorch's AVX2 kernel (``_box_muller_rows``), double the C library's
    functions. ``out``: a flat contiguous array of ``dtype`` to fill instead of a new one.
    """
    dtype = np.dtype(dtype)
    if n < 16 or not contiguous:
        v = _normal_scalar(gen, n, dtype, mean, std)
        if out is not None:
            out[...] = v
        return v
    full = n - n % 16
    if dtype == np.float64:
        out = np.empty(n) if out is None else out
        rows = out[:full].reshape(-1, 16)

        def fill64(words, start):
            stop = min(start + words.size, 2 * full)
            if stop > start:
                u = np.empty((stop - start) // 2)
                _double_from_words(words[: stop - start], u)
                _box_muller_libm(u, rows[start // 32 : stop // 32], mean, std)

        _chunked(gen, 2 * n, fill64)
        if n % 16:
            _box_muller_libm(_uniform_double(gen, 16), out[n - 16 :], mean, std)
        return out
    dst, out = out, (out if dtype == np.float32 and out is not None else np.empty(n, np.float32))
    rows = out[:full].reshape(-1, 16)

    def fill(words, start):
        stop = min(start + words.size, full)
        if stop > start:
            _box_muller_rows(words[: stop - start], rows[start // 16 : stop // 16], mean, std)

    # float32 draws all n uniforms first; half only the full blocks' before the tail
    _chunked(gen, n if dtype == np.float32 else full, fill)
    if n % 16:
        _box_muller_rows(gen._u32_array(16), out[n - 16 :].reshape(1, 16), mean, std)
    if dtype == np.float32:
        return out
    if dst is not None:
        dst[...] = out
    return out.astype(dtype)


def _normal_scalar(gen: Generator, n: int, dtype, mean: float, std: float) -> np.ndarray:
    """PyTorch's serial normal: double Box-Muller pairs ``r*cos``, ``r*sin``; the ``sin`` of an
    unfinished pair waits in the generator for the next call."""
    out = np.empty(n)
    k = 0
    if n and gen._next_double_normal is not None:
        out[0] = gen._next_double_normal
        gen._next_double_normal = None
        k = 1
    m = n - k
    pairs = (m + 1) // 2
    if pairs:
        u = _uniform_double(gen, 2 * pairs)
        r = np.sqrt(-2.0 * np.log1p(-u[1::2]))
        theta = 2.0 * np.pi * u[0::2]
        z = np.empty(2 * pairs)
        z[0::2] = r * np.cos(theta)
        z[1::2] = r * np.sin(theta)
        out[k:] = z[:m]
        if m % 2:
            gen._next_double_normal = float(z[-1])
    # ``* std + mean``: with mean 0 this still turns a -0 into +0
    out = out + 0.0 if (mean, std) == (0.0, 1.0) else _fma64(out, std, mean)
    return out.astype(dtype, copy=False)


def _box_muller_libm(u: np.ndarray, out: np.ndarray, mean: float, std: float) -> None:
    """PyTorch's ``normal_fill_16`` over blocks of 16 doubles."""
    u = u.reshape(-1, 16)
    radius = np.sqrt(-2.0 * np.log(1.0 - u[:, :8]))
    theta = 2.0 * np.pi * u[:, 8:]
    o = out.reshape(-1, 16)
    if (mean, std) == (0.0, 1.0):
        np.multiply(radius, np.cos(theta), out=o[:, :8])
        np.multiply(radius, np.sin(theta), out=o[:, 8:])
        o += 0.0  # ``* std + mean`` turns the -0 of u = 0 into +0
    else:
        o[:, :8] = _fma64(radius * np.cos(theta), std, mean)
        o[:, 8:] = _fma64(radius * np.sin(theta), std, mean)


def _fma64(a: np.ndarray, b: float, c: float) -> np.ndarray:
    """``a * b + c`` for doubles with (nearly always) one rounding, as a fused multiply-add.

    PyTorch's kernels are compiled with FMA contraction. The product's rounding error comes
    from Dekker's exact product, the sum's from Knuth's two-sum; only a tie after the final
    addition can round differently from a hardware FMA.
    """
    p = a * b
    split = 134217729.0  # 2**27 + 1
    ah = a * split
    ah = ah - (ah - a)
    al = a - ah
    bh = b * split
    bh = bh - (bh - b)
    bl = b - bh
    ep = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    s = p + c
    bb = s - p
    es = (p - (s - bb)) + (c - bb)
    return s + (ep + es)


# PyTorch's AVX2 normal kernel uses the Cephes-based ``log256_ps`` and ``sincos256_ps`` of
# avx_mathfun.h in float32, compiled with FMA contraction. The constants below are theirs;
# ``_box_muller_block`` replays the same float32 operation sequence, an FMA as one float64
# multiply-add rounded once to float32 (the product of two floats is exact in float64).
_F = np.float32
_LOG_P = tuple(
    float(_F(c))
    for c in (
        7.0376836292e-2,
        -1.1514610310e-1,
        1.1676998740e-1,
        -1.2420140846e-1,
        1.4249322787e-1,
        -1.6668057665e-1,
        2.0000714765e-1,
        -2.4999993993e-1,
        3.3333331174e-1,
    )
)
_LOG_Q1, _LOG_Q2 = _F(-2.12194440e-4), _F(0.693359375)
_DP1, _DP2, _DP3 = _F(-0.78515625), _F(-2.4187564849853515625e-4), _F(-3.77489497744594108e-8)
_SIN_P = tuple(float(_F(c)) for c in (-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1))
_COS_P = tuple(
    float(_F(c)) for c in (2.443315711809948e-005, -1.388731625493765e-003, 4.166664568298827e-002)
)
_FOPI = _F(1.27323954473516)
_THETA_SCALE = _F(2.0 * np.pi) * _F(2.0**-24)  # 2 pi u = k * this, exactly, for u = k 2**-24
_V32 = np.dtype((np.void, 32))  # eight float32 lanes as one item: halves of a row of 16
_SIGN = np.int32(-(1 << 31))
_I32, _U32V = np.int32, np.uint32


def _fma32(a, b, c, out: np.ndarray, t64: np.ndarray) -> None:
    """``out = float32(a * b + c)``, one fused multiply-add: the product of two floats is exact
    in float64, and the sum rounds once to float64, then to float32."""
    np.multiply(a, b, out=t64, dtype=np.float64)
    np.add(t64, c, out=out, casting="unsafe")


def _box_muller_rows(words: np.ndarray, out: np.ndarray, mean: float, std: float) -> None:
    """PyTorch's ``normal_fill_16_AVX2`` on rows of 16 words (``out``: rows of 16 floats)."""
    words = words.reshape(-1, 16)
    lanes = min(words.shape[0], _ROWS) * 8
    ints = _scratch("bm_i", (4, lanes), np.int32)
    floats = _scratch("bm_f", (8, lanes), np.float32)
    doubles = _scratch("bm_d", (2, lanes), np.float64)
    for r in range(0, words.shape[0], _ROWS):
        w, o = words[r : r + _ROWS], out[r : r + _ROWS]
        p = w.shape[0] * 8
        _box_muller_block(w, o, mean, std, ints[:, :p], floats[:, :p], doubles[:, :p])


def _box_muller_block(w, o, mean, std, ints, floats, doubles) -> None:
    """One block of rows: ``log256_ps`` of ``1 - u`` on lanes 0-7, ``sincos256_ps`` of
    ``2 pi u`` on lanes 8-15, all as whole-array NumPy passes over the block's scratch."""
    mul, add, sub = np.multiply, np.add, np.subtract
    band, bxor, shl, shr = np.bitwise_and, np.bitwise_xor, np.left_shift, np.right_shift
    wa, wt, i1, j = ints
    fv, ef, y, xm, z, tmp, ys, yc = floats
    x64, t64 = doubles
    halves = w.reshape(-1).view(_V32).reshape(-1, 2)
    np.copyto(wa.view(_V32), halves[:, 0])
    np.copyto(wt.view(_V32), halves[:, 1])

    # radius = sqrt(-2 log(1 - u)). 1 - u = V 2**-24 with V = 2**24 - k in [1, 2**24], and
    # k | 0xFF000000 is -V as an int32: its float is exact, sign bit set.
    np.bitwise_or(wa, _I32(-(1 << 24)), out=wa)
    np.copyto(fv, wa, casting="unsafe")
    bits = fv.view(_U32V)
    # log256_ps: x = m 2**e with m in [1/2, 1), and m < sqrt(1/2) becomes 2m, e - 1. Adding
    # 0x800000 - 0x3504F3 carries into the exponent exactly when m >= sqrt(1/2).
    add(bits, 0x4AFB0D, out=bits)
    shr(bits, 23, out=i1.view(_U32V))  # 256 (sign) + e + 126 + 24 (the 2**-24) + 1
    np.copyto(ef, i1, casting="unsafe")
    sub(ef, _F(407), out=ef)
    band(bits, 0x7FFFFF, out=bits)
    add(bits, 0x3F3504F3, out=bits)  # the mantissa, in [sqrt(1/2), sqrt(2))
    sub(fv, _F(1), out=xm)  # exact
    np.copyto(x64, xm)
    _fma32(x64, _LOG_P[0], _LOG_P[1], y, t64)
    for c in _LOG_P[2:]:
        _fma32(y, x64, c, y, t64)
    mul(xm, xm, out=z)
    mul(y, xm, out=y)
    mul(ef, _LOG_Q1, out=tmp)
    _fma32(y, z, tmp, y, t64)
    mul(z, _F(0.5), out=z)
    sub(y, z, out=y)
    add(y, xm, out=y)
    mul(ef, _LOG_Q2, out=ef)  # exact (e is a small integer, Q2 has 9 bits): no FMA to replay
    add(y, ef, out=y)
    mul(y, _F(-2), out=y)
    np.sqrt(y, out=y)  # the radius, from here on

    # sincos256_ps of theta = 2 pi u, in [0, 2 pi)
    x, jf, r = fv, ef, xm
    band(wt, 0xFFFFFF, out=wt)
    np.copyto(x, wt, casting="unsafe")
    mul(x, _THETA_SCALE, out=x)
    mul(x, _FOPI, out=tmp)
    np.copyto(j, tmp, casting="unsafe")  # truncates
    add(j, 1, out=j)
    band(j, -2, out=j)  # the octant j in {0, 2, 4, 6, 8}
    np.copyto(jf, j, casting="unsafe")
    # the reduction products are exact (small integer times short constants): no FMA to replay
    mul(jf, _DP1, out=tmp)
    add(x, tmp, out=r)
    mul(jf, _DP2, out=tmp)
    add(r, tmp, out=r)
    mul(jf, _DP3, out=tmp)
    add(r, tmp, out=r)
    mul(r, r, out=z)
    np.copyto(x64, z)
    _fma32(x64, _COS_P[0], _COS_P[1], yc, t64)
    _fma32(yc, x64, _COS_P[2], yc, t64)
    mul(yc, z, out=yc)
    mul(z, _F(-0.5), out=tmp)
    _fma32(yc, x64, tmp, yc, t64)
    add(yc, _F(1), out=yc)
    _fma32(x64, _SIN_P[0], _SIN_P[1], ys, t64)
    _fma32(ys, x64, _SIN_P[2], ys, t64)
    mul(ys, z, out=ys)
    _fma32(ys, r, r, ys, t64)
    # Octants 2 and 6 swap the polynomials, 4 and 6 negate the sine, 2 and 4 the cosine: as
    # bit operations on the floats (bit 1 of j -> swap mask, bit 2 -> sine sign).
    ju, i1u = j.view(_U32V), i1.view(_U32V)
    shl(ju, 30, out=i1u)  # sign bit where the polynomials swap
    shr(i1, 31, out=wa)  # arithmetic: all ones there
    shl(ju, 29, out=ju)
    band(j, _SIGN, out=j)  # the sine's sign bit
    bxor(i1, j, out=i1)  # the cosine's: sine's xor swap
    sb, cb, d = ys.view(_I32), yc.view(_I32), wt
    bxor(sb, cb, out=d)
    band(d, wa, out=d)
    bxor(sb, d, out=sb)
    bxor(sb, j, out=sb)
    bxor(cb, d, out=cb)
    bxor(cb, i1, out=cb)
    mul(yc, y, out=yc)
    mul(ys, y, out=ys)
    if (mean, std) != (0.0, 1.0):  # fma(n, std, mean)
        fs, fm = _F(std), float(_F(mean))
        _fma32(yc, fs, fm, yc, t64)
        _fma32(ys, fs, fm, ys, t64)
    elif y.min() == 0:  # fma(n, 1, 0) turns the -0 of a zero radius (u = 0) into +0
        add(yc, _F(0), out=yc)
        add(ys, _F(0), out=ys)
    halves = o.reshape(-1).view(_V32).reshape(-1, 2)
    np.copyto(halves[:, 0], yc.view(_V32))
    np.copyto(halves[:, 1], ys.view(_V32))


def _randperm(gen: Generator, n: int, dtype) -> np.ndarray:
    """A permutation of ``0 .. n-1`` by PyTorch's Fisher-Yates: step ``i`` swaps positions ``i``
    and ``j_i = i + word % (n - i)``.

    Without a loop per swap: position ``i`` is final after step ``i``, so ``r[i]`` is what
    position ``j_i`` held just before: what the last earlier step aimed at ``j_i`` moved there,
    else ``j_i`` itself. A step ``k`` moves there what position ``k`` held when step ``k``
    began, ``A[k]``, which follows the same rule (the last earlier step aimed at ``k``), a
    forest of pointers to earlier steps resolved by pointer doubling.
    """
    if n <= 1:
        return np.arange(n, dtype=dtype)
    m = n - 1
    shift = m.bit_length()
    it = np.int32 if shift < 31 else np.int64
    steps = np.arange(m, dtype=it)
    j = (gen._u32_array(m) % np.arange(n, 1, -1, dtype=_U32 if n < 1 << 32 else _U64)).astype(it)
    j += steps
    # the steps grouped by target, in step order within a group
    if 2 * shift < 63:
        key = j.astype(np.int64)
        key <<= shift
        key |= steps
        key.sort()  # a SIMD sort; the keys are unique
        order = (key & ((1 << shift) - 1)).astype(it)
        target = (key >> shift).astype(it)
    else:  # pragma: no cover - over 2**31 values
        order = np.argsort(j, kind="stable").astype(it)
        target = j[order]
    same = target[1:] == target[:-1]
    prev = np.empty(m, it)  # the previous step aimed at the same position, or -1
    prev[order[0]] = -1
    prev[order[1:]] = np.where(same, order[:-1], -1)
    last = np.full(n, -1, it)  # the last step aimed at each position, or -1
    ends = np.append(~same, True)
    last[target[ends]] = order[ends]
    earlier = np.where(j == steps, prev, last[:m])  # the last step before k aimed at k
    a = np.where(earlier < 0, steps, earlier)
    while True:
        nxt = a[a]
        if np.array_equal(nxt, a):
            break
        a = nxt
    # a[k] is now the root of k's chain: a step no earlier step aimed at, whose value is itself
    r = np.empty(n, it)
    r[:m] = np.where(prev < 0, j, a[prev])
    r[m] = a[last[m]] if last[m] >= 0 else m
    return r.astype(dtype, copy=False)


_FULL_MOD = {  # random_() with no bounds: word % (max + 1), or % (2**digits + 1) for floats
    "b": None,
    "int64": 1 << 63,
    "float64": (1 << 53) + 1,
    "float32": (1 << 24) + 1,
    "float16": (1 << 11) + 1,
    "int32": 1 << 31,
    "int16": 1 << 15,
    "int8": 1 << 7,
    "uint8": 1 << 8,
}


def _random_full(gen: Generator, n: int, dtype) -> np.ndarray:
    """``random_()``: integers on [0, 2**mantissa] for floats, [0, max] for integers."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return (gen._u32(n) & _U64(1)).astype(np.bool_)
    w = gen._u64(n) if dtype.name in ("int64", "float64") else gen._u32(n)
    return (w % _U64(_FULL_MOD[dtype.name])).astype(dtype)


def _float_bounds(dtype, low: int, high: int) -> tuple:
    """Move bounds a float dtype cannot hold inwards, to representable neighbours (PyTorch's
    ``update_from`` / ``update_to``), so that no draw rounds outside [low, high)."""
    digits = np.finfo(dtype).nmant + 1
    f = dtype.type
    up = int(f(low + 1))
    if up < low:
        low = up + (1 << (abs(low + 1).bit_length() - 1 - digits + 1))
    down = int(f(high - 1))
    if down >= high:
        high = down - (1 << (abs(high - 1).bit_length() - 1 - digits + 1))
    return low, high


def _random_from_to(gen: Generator, n: int, dtype, low: int, high: int | None) -> np.ndarray:
    """``random_(from, to)``: ``word % (to - from) + from``; ``to=None`` means the dtype's max."""
    dtype = np.dtype(dtype)
    low = int(low)
    if high is None:
        if dtype.kind == "f":
            top = 1 << np.finfo(dtype).nmant + 1
        elif dtype == np.bool_:
            top = 1
        else:
            top = int(np.iinfo(dtype).max)
        if low == -(1 << 63):
            w = gen._u64(n)
            return w.view(np.int64).astype(dtype)
        high = top + 1
    high = int(high)
    if low >= high:
        raise RuntimeError(
            f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
        )
    if dtype.kind == "f":
        low, high = _float_bounds(dtype, low, high)
    rng = high - low
    w = gen._u64(n) if rng >= 1 << 28 else gen._u32(n)  # wide ranges take 64-bit words
    v = (w % _U64(rng)) + _U64(low & 0xFFFFFFFFFFFFFFFF)  # wraps mod 2**64, as in C++
    return v.view(np.int64).astype(dtype)


def _bernoulli(gen: Generator, n: int, dtype, p: float) -> np.ndarray:
    """``bernoulli_(p)``: a double uniform (two words) below ``p``."""
    return (_uniform_double(gen, n) < p).astype(dtype)


def _bernoulli_tensor(gen: Generator, p: np.ndarray, dtype) -> np.ndarray:
    """``bernoulli_(p_tensor)``: double probabilities compare a double uniform, others a float."""
    if p.dtype == np.float64:
        return (_uniform_double(gen, p.size) < p).astype(dtype)
    return (_uniform_float(gen, p.size) < p.astype(np.float32)).astype(dtype)


def _exponential(gen: Generator, n: int, dtype, lambd: float) -> np.ndarray:
    """``exponential_(lambd)``: ``-1 / lambd * log1p(-u)`` in double, u a double uniform."""
    u = _uniform_double(gen, n)
    return ((-1.0 / lambd) * np.log1p(-u)).astype(dtype)


def _multinomial(gen: Generator, probs: np.ndarray, k: int, replacement: bool) -> np.ndarray:
    """Category indices drawn from each row of ``probs`` (validated by the caller)."""
    rows2 = probs.reshape(-1, probs.shape[-1])
    if not replacement or k == 1:
        q = _exponential(gen, rows2.size, rows2.dtype, 1.0).reshape(rows2.shape)
        q = rows2 / q
        if k == 1:
            idx = np.argmax(q, axis=-1)[:, None]
        else:
            idx = np.argsort(-q, axis=-1, kind="stable")[:, :k]
    else:
        acc = np.float32 if rows2.dtype == np.float16 else rows2.dtype
        cdf = np.cumsum(rows2.astype(acc), axis=-1)  # sequential sums, as PyTorch's loop
        cdf /= cdf[:, -1:]
        cdf[:, -1] = 1
        u = _uniform_double(gen, rows2.shape[0] * k).reshape(-1, k)
        idx = np.stack([np.searchsorted(c, v, side="left") for c, v in zip(cdf, u)])
    return idx.reshape(probs.shape[:-1] + (k,)).astype(np.int64)
