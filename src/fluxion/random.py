"""Random number state: ``manual_seed``, ``seed``, ``initial_seed`` and ``Generator``.

The generator is PyTorch's CPU generator, number for number: a Mersenne Twister (mt19937) seeded
like ``std::mt19937`` with the low 32 bits of the seed, whose 32-bit words feed fixed transforms
(``_uniform``, ``_normal``, ...). NumPy's ``MT19937`` bit generator runs the same recurrence, so
the words are drawn in bulk (``random_raw``), never one Python call per number.
"""

from __future__ import annotations

import os

import numpy as np

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
        self._fresh = False
        return self._bg.random_raw(n)

    def _u32_array(self, n: int) -> np.ndarray:
        """The next ``n`` 32-bit words as a uint32 array (half the memory of ``_u32``)."""
        self._fresh = False
        return self._words(0, 1 << 32, n, dtype=np.uint32)  # full range: one word per value

    def _u64(self, n: int) -> np.ndarray:
        """The next ``n`` 64-bit words; each is (first word << 32) | second word."""
        w = self._u32(2 * n)
        return (w[0::2] << _U64(32)) | w[1::2]


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


def _uniform(gen: Generator, n: int, dtype, a: float = 0.0, b: float = 1.0) -> np.ndarray:
    """Uniform on [a, b): ``u * (b - a) + a`` (one fused multiply-add) with ``u`` from 53 random
    bits (two words) for double, 24 bits (one word) for float and half.

    Half computes in float and rounds; a value that rounds up to ``b`` becomes ``a``, so that
    the result stays below ``b``.
    """
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        x = _uniform_double(gen, n)
        return x if (a, b) == (0.0, 1.0) else _fma64(x, float(b) - float(a), float(a))
    x = _uniform_float(gen, n)
    if (a, b) != (0.0, 1.0):
        fa, fb = _F(a), _F(b)
        x = _fma(x, fb - fa, fa, x, np.empty(n))
    if dtype == np.float32:
        return x
    v = x.astype(dtype)
    v[v == dtype.type(b)] = dtype.type(a)
    return v


def _normal(
    gen: Generator, n: int, dtype, mean: float = 0.0, std: float = 1.0, contiguous: bool = True
) -> np.ndarray:
    """Normal samples by Box-Muller, as PyTorch's CPU kernel makes them.

    Fewer than 16 values (or a strided output, see ``_normal_scalar``): one Box-Muller pair per
    two values from two double uniforms, the spare value cached in the generator. From 16 values
    on: all uniforms first, then Box-Muller over blocks of 16 (first 8 give the radius, last 8
    the angle); when ``n % 16`` is not 0, 16 fresh uniforms redo the last 16 values. float32
    and half take PyTorch's AVX2 kernel (``_box_muller_avx2``), double the C library's
    functions.
    """
    dtype = np.dtype(dtype)
    if n < 16 or not contiguous:
        return _normal_scalar(gen, n, dtype, mean, std)
    full = n - n % 16
    if dtype == np.float64:
        u = _uniform_double(gen, n)
        out = np.empty(n)
        _box_muller_libm(u[:full], out[:full], mean, std)
        if n % 16:
            _box_muller_libm(_uniform_double(gen, 16), out[n - 16 :], mean, std)
        return out
    # float32 fills all n uniforms first; half draws only the full blocks' before the tail
    u = _uniform_float(gen, n if dtype == np.float32 else full)
    out = np.empty(n, np.float32)
    _box_muller_avx2(u[:full], out[:full], mean, std)
    if n % 16:
        _box_muller_avx2(_uniform_float(gen, 16), out[n - 16 :], mean, std)
    return out.astype(dtype, copy=False)


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
    if (mean, std) != (0.0, 1.0):
        out = _fma64(out, std, mean)
    return out.astype(dtype, copy=False)


def _box_muller_libm(u: np.ndarray, out: np.ndarray, mean: float, std: float) -> None:
    """PyTorch's ``normal_fill_16`` over blocks of 16 doubles."""
    u = u.reshape(-1, 16)
    radius = np.sqrt(-2.0 * np.log(1.0 - u[:, :8]))
    theta = 2.0 * np.pi * u[:, 8:]
    o = out.reshape(-1, 16)
    if (mean, std) == (0.0, 1.0):
        o[:, :8] = radius * np.cos(theta)
        o[:, 8:] = radius * np.sin(theta)
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
# avx_mathfun.h in float32, compiled with FMA contraction. The constants below are theirs; the
# functions replay the same float32 operation sequence, an FMA as one float64 multiply-add
# rounded once to float32 (the product of two floats is exact in float64).
_F = np.float32
_LOG_P = tuple(
    _F(c)
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
_LOG_Q1, _LOG_Q2, _SQRTHF = _F(-2.12194440e-4), _F(0.693359375), _F(0.707106781186547524)
_DP1, _DP2, _DP3 = _F(-0.78515625), _F(-2.4187564849853515625e-4), _F(-3.77489497744594108e-8)
_SIN_P = (_F(-1.9515295891e-4), _F(8.3321608736e-3), _F(-1.6666654611e-1))
_COS_P = (_F(2.443315711809948e-005), _F(-1.388731625493765e-003), _F(4.166664568298827e-002))
_FOPI, _TWO_PI = _F(1.27323954473516), _F(2.0 * np.pi)
_BLOCK = 1 << 15  # elements per pass: keeps the temporaries in cache


def _fma(a, b, c, out, tmp):
    """``out = float32(a * b + c)`` with one rounding (a, b float32; exact product in float64)."""
    np.multiply(a, b, out=tmp, dtype=np.float64)
    np.add(tmp, c, out=out, casting="unsafe")
    return out


def _log_avx2(x: np.ndarray) -> np.ndarray:
    """``log256_ps`` for positive normal float32 ``x`` (the uniforms' ``1 - u`` are)."""
    n = x.size
    t64 = np.empty(n)
    bits = x.view(np.uint32)
    e = (bits >> np.uint32(23)).astype(np.int32)
    e -= 126
    ef = e.astype(_F)
    m = ((bits & np.uint32(0x007FFFFF)) | np.uint32(0x3F000000)).view(_F)
    small = m < _SQRTHF
    xm = m - _F(1)
    np.add(xm, m, out=xm, where=small)  # x < sqrt(1/2): x = 2x - 1, e -= 1
    ef -= small
    z = xm * xm
    y = np.empty(n, _F)
    _fma(xm, _LOG_P[0], _LOG_P[1], y, t64)
    for p in _LOG_P[2:]:
        _fma(y, xm, p, y, t64)
    y *= xm
    _fma(y, z, ef * _LOG_Q1, y, t64)
    z *= _F(0.5)
    y -= z
    y += xm
    ef *= _LOG_Q2  # exact (e is a small integer, Q2 has 9 bits): no contraction to replay
    y += ef
    return y


def _sincos_avx2(x: np.ndarray):
    """``sincos256_ps`` for float32 ``x`` in [0, 2*pi)."""
    n = x.size
    t64 = np.empty(n)
    j = (x * _FOPI).astype(np.int32)
    j += 1
    j &= ~1
    y = j.astype(_F)
    # the reduction products are exact (small integer times short constants): no FMA to replay
    r = x + y * _DP1
    r += y * _DP2
    r += y * _DP3
    sin_neg = (j & 4) != 0
    use_sin_poly = (j & 2) == 0
    cos_neg = ((j - 2) & 4) == 0
    z = r * r
    yc = np.empty(n, _F)
    _fma(z, _COS_P[0], _COS_P[1], yc, t64)
    _fma(yc, z, _COS_P[2], yc, t64)
    yc *= z
    _fma(yc, z, -(z * _F(0.5)), yc, t64)
    yc += _F(1)
    ys = np.empty(n, _F)
    _fma(z, _SIN_P[0], _SIN_P[1], ys, t64)
    _fma(ys, z, _SIN_P[2], ys, t64)
    ys *= z
    _fma(ys, r, r, ys, t64)
    s = np.where(use_sin_poly, ys, yc)
    c = np.where(use_sin_poly, yc, ys)
    np.negative(s, out=s, where=sin_neg)
    np.negative(c, out=c, where=cos_neg)
    return s, c


def _box_muller_avx2(u: np.ndarray, out: np.ndarray, mean: float, std: float) -> None:
    """PyTorch's ``normal_fill_16_AVX2`` over blocks of 16 float32 uniforms.

    Large fills are split over a few threads: each element depends only on its own two
    uniforms, so the split changes nothing but the time (NumPy releases the GIL in its loops).
    """
    u = u.reshape(-1, 16)
    o = out.reshape(-1, 16)
    rows = max(1, _BLOCK // 16)
    starts = range(0, u.shape[0], rows)
    if len(starts) < 8 or _workers() < 2:
        for b in starts:
            _box_muller_block(u[b : b + rows], o[b : b + rows], mean, std)
        return
    list(
        _pool().map(
            lambda b: _box_muller_block(u[b : b + rows], o[b : b + rows], mean, std), starts
        )
    )


def _box_muller_block(ub: np.ndarray, ob: np.ndarray, mean: float, std: float) -> None:
    radius = _log_avx2((_F(1) - ub[:, :8]).reshape(-1))
    radius *= _F(-2)
    np.sqrt(radius, out=radius)
    s, c = _sincos_avx2((_TWO_PI * ub[:, 8:]).reshape(-1))
    c *= radius
    s *= radius
    c, s = c.reshape(-1, 8), s.reshape(-1, 8)
    if (mean, std) == (0.0, 1.0):
        ob[:, :8] = c
        ob[:, 8:] = s
    else:
        fm, fs = _F(mean), _F(std)
        t64 = np.empty(c.shape)
        _fma(c, fs, fm, ob[:, :8], t64)
        _fma(s, fs, fm, ob[:, 8:], t64)


_POOL = None


def _workers() -> int:
    return min(4, os.cpu_count() or 1)


def _pool():
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(_workers(), thread_name_prefix="fluxion-rng")
    return _POOL


def _randperm(gen: Generator, n: int, dtype) -> np.ndarray:
    """A permutation of ``0 .. n-1`` by Fisher-Yates, one 32-bit word per swap."""
    w = (gen._u32(n - 1) % np.arange(n, 1, -1, dtype=np.uint64)).tolist() if n > 1 else []
    r = list(range(n))
    for i, z in enumerate(w):
        j = i + z
        r[i], r[j] = r[j], r[i]
    return np.array(r, dtype=dtype)


def _uniform_double(gen: Generator, n: int) -> np.ndarray:
    return (gen._u64(n) & _U64((1 << 53) - 1)).astype(np.float64) * (2.0**-53)


def _uniform_float(gen: Generator, n: int) -> np.ndarray:
    w = gen._u32_array(n)
    w &= np.uint32((1 << 24) - 1)
    x = w.view(np.int32).astype(np.float32)  # int32 -> float32 converts in one SIMD pass
    x *= np.float32(2.0**-24)
    return x


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
