"""Random sampling ops: in-place fills (``uniform_``, ``normal_``, ...) and ``bernoulli``,
``normal``, ``multinomial``.

The numbers come from :mod:`fluxion.random` (PyTorch's CPU generator, number for number). An
in-place fill is an overwrite like ``zero_``: under no_grad, or when nothing requires grad, the
values go straight into ``self``'s storage and its version counter moves; on a non-leaf that
requires grad, ``self`` gets a node whose gradient is zero (``UniformBackward0``, ...), as in
PyTorch; on a leaf that requires grad it raises, as in PyTorch.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from .. import dtypes as _dt
from .. import random as _random
from ..autograd.grad_mode import state as _grad_state
from ..tensor import Tensor, _wrap
from . import _registry
from .inplace import _check_leaf, _Overwrite, _overwrite, _write

__all__ = [
    "uniform_",
    "normal_",
    "bernoulli_",
    "random_",
    "exponential_",
    "bernoulli",
    "normal",
    "multinomial",
]


class UniformBackward0(_Overwrite):
    __slots__ = ()


class NormalBackward0(_Overwrite):
    __slots__ = ()


class BernoulliBackward1(_Overwrite):  # bernoulli_(tensor p)
    __slots__ = ()


class BernoulliBackward2(_Overwrite):  # bernoulli_(float p)
    __slots__ = ()


class RandomBackward0(_Overwrite):  # random_(from, to)
    __slots__ = ()


class RandomBackward1(_Overwrite):  # random_(to)
    __slots__ = ()


class RandomBackward2(_Overwrite):  # random_()
    __slots__ = ()


class ExponentialBackward0(_Overwrite):
    __slots__ = ()


def _memory_order(arr):
    """Axes of ``arr`` from the slowest-varying in memory to the fastest (PyTorch fills a
    strided tensor in memory order)."""
    nd = arr.ndim
    order = sorted(range(nd), key=lambda i: -abs(arr.strides[i]) if arr.shape[i] > 1 else 0)
    return order


def _fill(self: Tensor, sample, cls: type, into=None) -> Tensor:
    """Overwrite ``self`` with ``sample(n)`` (a flat array of ``self``'s dtype), in memory order.

    ``into(flat)``, when given, writes the same numbers straight into a flat view of a
    contiguous NumPy ``self`` (no temporary, no copy) where no autograd node is needed.
    """
    _check_leaf(self)
    dst = self._data
    n = dst.size
    grad = _grad_state.enabled and self.requires_grad
    if into is not None and not grad and type(dst) is np.ndarray and dst.flags.c_contiguous:
        if dst.flags.writeable:
            into(dst.reshape(-1))
            self._bump()
            return self
    if dst.flags.c_contiguous or dst.ndim <= 1:
        data = sample(n).reshape(dst.shape)
    else:
        order = _memory_order(dst)
        flat = sample(n).reshape([dst.shape[i] for i in order])
        inverse = [0] * len(order)
        for k, i in enumerate(order):
            inverse[i] = k
        data = flat.transpose(inverse)
    if grad:
        return _overwrite(self, data, cls, "op")
    _write(self, data, "copy")
    self._bump()
    return self


def _float_dtype(self: Tensor, name: str):
    dt = self._data.dtype
    if dt.kind != "f":
        raise NotImplementedError(f"\"{name}\" not implemented for '{_dt.scalar_name(dt)}'")
    return dt


def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
    """Fill ``self`` with samples from the uniform distribution on ``[a, b)``.

    >>> _ = fluxion.manual_seed(0)
    >>> fluxion.empty(3).uniform_(-1, 1)
    tensor([-0.0075,  0.5364, -0.8230])
    """
    dt = _float_dtype(self, "check_uniform_bounds")
    if a > b:
        raise RuntimeError(
            f"uniform_ expects to return a [from, to) range, but found from={a} > to={b}"
        )
    gen = _random._gen(generator)
    return _fill(
        self,
        lambda n: _random._uniform(gen, n, dt, a, b),
        UniformBackward0,
        lambda flat: _random._uniform(gen, flat.size, dt, a, b, out=flat),
    )


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    """Fill ``self`` with samples from the normal distribution ``N(mean, std**2)``.

    >>> _ = fluxion.manual_seed(0)
    >>> fluxion.empty(2).normal_().shape
    fluxion.Size([2])
    """
    dt = _float_dtype(self, "normal_kernel_cpu")
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    gen = _random._gen(generator)
    contiguous = self._data.flags.c_contiguous  # a strided output takes the scalar path

    def sample(n):
        return _random._normal(gen, n, dt, mean, std, contiguous)

    def into(flat):
        _random._normal(gen, flat.size, dt, mean, std, contiguous, out=flat)

    return _fill(self, sample, NormalBackward0, into)


def bernoulli_(self: Tensor, p=0.5, *, generator=None) -> Tensor:
    """Fill ``self`` with 1 with probability ``p`` (a number or a tensor of probabilities), else 0.

    >>> _ = fluxion.manual_seed(0)
    >>> fluxion.empty(4).bernoulli_(1.0)
    tensor([1., 1., 1., 1.])
    """
    gen = _random._gen(generator)
    dt = self._data.dtype
    if isinstance(p, Tensor):
        probs = p._data
        shape = self._data.shape
        try:
            probs = _registry.xp.broadcast_to(probs, shape)
        except ValueError:
            raise RuntimeError(
                f"bernoulli_: p of shape {tuple(p.shape)} does not broadcast to self's shape "
                f"{tuple(shape)}"
            ) from None
        if ((probs < 0) | (probs > 1)).any():
            raise RuntimeError(
                "Expected p_in >= 0 && p_in <= 1 to be true, but got false. (bernoulli: every "
                "probability must lie in [0, 1])"
            )
        flat = probs.reshape(-1)
        return _fill(self, lambda n: _random._bernoulli_tensor(gen, flat, dt), BernoulliBackward1)
    if not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
    return _fill(self, lambda n: _random._bernoulli(gen, n, dt, p), BernoulliBackward2)


_C_NAMES = {  # the C++ type names PyTorch's range errors print
    "int32": "int",
    "int16": "short int",
    "int8": "signed char",
    "uint8": "unsigned char",
    "bool": "bool",
    "float16": "c10::Half",
}


def _check_in_range(dt, low: int, high_inc: int) -> None:
    """PyTorch's ``check_from_to_in_range``: both bounds must fit the dtype; float bounds past
    ``2**digits`` only warn (not every integer there is representable)."""
    xp = _registry.xp
    if dt.kind == "f":
        digits = xp.finfo(dt).nmant + 1
        top = float(xp.finfo(dt).max)
        lo_b, hi_b = -top, top
    elif dt.kind == "b":
        lo_b, hi_b = 0, 1
    else:
        lo_b, hi_b = int(xp.iinfo(dt).min), int(xp.iinfo(dt).max)
    for name, v in (("from", low), ("to - 1", high_inc)):
        if not lo_b <= v <= hi_b:
            raise RuntimeError(
                f"{name} is out of bounds for {_C_NAMES.get(dt.name, dt.name)}; pick bounds "
                f"that {_dt.scalar_name(dt)} can hold"
            )
        if dt.kind == "f" and not -(1 << digits) <= v <= 1 << digits:
            warnings.warn(
                f"{name} is out of bounds [-(2^{digits}), 2^{digits}]. Due to precision "
                f"limitations {_dt.scalar_name(dt)} can support discrete uniform distribution "
                "only within this range.",
                UserWarning,
                stacklevel=3,
            )


def random_(self: Tensor, *args, generator=None) -> Tensor:
    """Fill ``self`` with integers: ``random_(from, to)`` on ``[from, to)``, ``random_(to)`` on
    ``[0, to)``, ``random_()`` over ``[0, 2**mantissa]`` (floats) or ``[0, max]`` (integers).

    >>> _ = fluxion.manual_seed(0)
    >>> fluxion.empty(3, dtype=fluxion.int64).random_(10)
    tensor([4, 9, 3])
    """
    if len(args) > 2 or any(
        a is not None and not isinstance(a, numbers.Integral) or isinstance(a, bool) for a in args
    ):
        got = ", ".join(type(a).__name__ for a in args)
        raise TypeError(
            f"random_() received an invalid combination of arguments - got ({got}), but "
            "expected one of: (), (int from, int to), (int to)"
        )
    if len(args) == 1 and args[0] is None:
        raise TypeError("random_(): argument 'to' must be int, not NoneType")
    gen = _random._gen(generator)
    dt = self._data.dtype
    if not args:
        return _fill(self, lambda n: _random._random_full(gen, n, dt), RandomBackward2)
    if len(args) == 1:
        lo, hi, cls = 0, int(args[0]), RandomBackward1
    else:
        lo, hi, cls = int(args[0]), args[1], RandomBackward0
    if hi is None:
        if lo != -(1 << 63):
            top = 1 if dt.kind == "b" else None
            if dt.kind == "f":
                top = 1 << (_registry.xp.finfo(dt).nmant + 1)
            elif top is None:
                top = int(_registry.xp.iinfo(dt).max)
            _check_in_range(dt, lo, top)
        elif dt.name not in ("int64", "float32", "float64"):
            raise RuntimeError(
                "random_from_to_kernel_cpu: the full 64-bit range handles only int64, double "
                f"and float, got {_dt.scalar_name(dt)}"
            )
    else:
        hi = int(hi)
        if lo >= hi:
            raise RuntimeError(
                f"random_ expects 'from' to be less than 'to', but got from={lo} >= to={hi}"
            )
        _check_in_range(dt, lo, hi - 1)
    return _fill(self, lambda n: _random._random_from_to(gen, n, dt, lo, hi), cls)


def exponential_(self: Tensor, lambd: float = 1.0, *, generator=None) -> Tensor:
    """Fill ``self`` with samples from the exponential distribution with rate ``lambd``.

    >>> _ = fluxion.manual_seed(0)
    >>> bool((fluxion.empty(5).exponential_() >= 0).all())
    True
    """
    dt = _float_dtype(self, "exponential_cpu")
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    gen = _random._gen(generator)
    return _fill(self, lambda n: _random._exponential(gen, n, dt, lambd), ExponentialBackward0)


def bernoulli(input: Tensor, p=None, *, generator=None) -> Tensor:
    """Return 0/1 samples, 1 with probability ``input`` (elementwise) or ``p`` when given.

    >>> _ = fluxion.manual_seed(0)
    >>> fluxion.bernoulli(fluxion.tensor([0.0, 1.0, 1.0]))
    tensor([0., 1., 1.])
    """
    out = _wrap(_registry.xp.empty(input._data.shape, input._data.dtype))
    return bernoulli_(out, input if p is None else p, generator=generator)


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, requires_grad=False):
    """Return normal samples; ``mean`` and ``std`` are numbers or tensors (broadcast together).

    With two numbers, ``size`` gives the shape. With a tensor, the samples are standard normal
    draws scaled by ``std`` and shifted by ``mean`` (in that order, as PyTorch computes them),
    so gradients flow to tensor ``mean`` and ``std``.

    >>> _ = fluxion.manual_seed(0)
    >>> fluxion.normal(2.0, 0.5, (3,)).shape
    fluxion.Size([3])
    """
    from ..creation import empty

    mt, st = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not mt and not st:
        if size is None:
            raise TypeError(
                "normal() received an invalid combination of arguments - got (float, float); "
                "pass size=(...) with float mean and std, or make mean or std a tensor"
            )
        out = empty(size, dtype=dtype)
        normal_(out, mean, std, generator=generator)
        if requires_grad:
            out.requires_grad_(True)
        return out
    if st and (std._data < 0).any():
        raise RuntimeError("normal expects all elements of std >= 0.0")
    shapes = (mean._data.shape if mt else (), std._data.shape if st else ())
    try:
        shape = _registry.xp.broadcast_shapes(*shapes)
    except ValueError:
        from .inplace import _size_mismatch

        raise _size_mismatch(*shapes) from None
    out = empty(shape, dtype=(mean if mt else std).dtype)
    if mt and not st:  # PyTorch: normal_(0, std), then + mean
        normal_(out, 0.0, std, generator=generator)
        return out + mean
    normal_(out, 0.0, 1.0, generator=generator)
    return out * std + mean


def multinomial(
    input: Tensor, num_samples: int, replacement: bool = False, *, generator=None
) -> Tensor:
    """Draw ``num_samples`` category indices per row, with probabilities proportional to ``input``.

    Without replacement (or for one sample) PyTorch's exponential trick: the top ``num_samples``
    of ``input / q`` with ``q`` drawn by ``exponential_``. With replacement, one double uniform per
    sample, searched in the row's normalised cumulative sum.

    >>> _ = fluxion.manual_seed(0)
    >>> fluxion.multinomial(fluxion.tensor([0.0, 1.0, 0.0]), 2, replacement=True)
    tensor([1, 1])
    """
    probs = input._data
    if probs.ndim not in (1, 2):
        raise RuntimeError(
            f"prob_dist must be 1 or 2 dim, got a tensor of shape {tuple(probs.shape)}"
        )
    if probs.dtype.kind != "f":
        raise RuntimeError(
            "multinomial only supports floating-point dtypes for input, got: "
            f"{_dt.scalar_name(probs.dtype)}"
        )
    k = int(num_samples)
    if k <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    cats = probs.shape[-1]
    if not replacement and k > cats:
        raise RuntimeError(
            "cannot sample n_sample > prob_dist.size(-1) samples without replacement "
            f"(n_sample={k}, prob_dist.size(-1)={cats}); pass replacement=True"
        )
    if cats > 1 << 24:
        raise RuntimeError("number of categories cannot exceed 2^24")
    xp = _registry.xp
    if not replacement or k == 1:
        if not xp.isfinite(probs).all() or (probs < 0).any():
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    elif not xp.isfinite(probs).all():
        raise RuntimeError(
            "invalid multinomial distribution (encountering probability entry = infinity or NaN)"
        )
    elif (probs < 0).any():
        raise RuntimeError("invalid multinomial distribution (encountering probability entry < 0)")
    if (probs.reshape(-1, cats).sum(-1) <= 0).any():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    gen = _random._gen(generator)
    return _wrap(_random._multinomial(gen, probs, k, bool(replacement)))
