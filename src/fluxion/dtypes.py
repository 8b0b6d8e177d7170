"""fluxion dtypes and PyTorch's type-promotion rules.

A :class:`dtype` wraps a NumPy dtype. Tensors store NumPy (or CuPy) arrays, so the dtype of a
tensor is looked up from its array's dtype with one dict access.

Promotion follows PyTorch, not NumPy: operands are ranked by *category*
(bool < integer < floating) and by *priority* (dimensioned tensor > zero-dim tensor > Python
scalar). A lower-priority operand only changes the result when its category is higher, and then
it contributes the default dtype of that category (``float32`` for floats, ``int64`` for ints).
So ``float32_tensor + 2.5`` stays ``float32`` and ``int_tensor / int_tensor`` is ``float32``.
"""

from __future__ import annotations

import builtins

import numpy as np

__all__ = [
    "dtype",
    "float16",
    "float32",
    "float64",
    "half",
    "float",
    "double",
    "int8",
    "int16",
    "int32",
    "int64",
    "short",
    "int",
    "long",
    "uint8",
    "bool",
    "get_default_dtype",
    "set_default_dtype",
    "promote_types",
    "result_type",
]


class dtype:
    """A tensor element type, such as ``fluxion.float32``.

    >>> fluxion.float32.is_floating_point, fluxion.float32.itemsize
    (True, 4)
    """

    __slots__ = (
        "name",
        "np",
        "is_floating_point",
        "is_signed",
        "itemsize",
        "_category",
        "scalar_name",
        "legacy_name",
    )

    def __init__(self, name: str, np_dtype: np.dtype, category: int, scalar_name: str) -> None:
        self.name = name
        self.scalar_name = scalar_name  # how PyTorch's messages name it: "Float", "Long"
        self.legacy_name = f"torch.{scalar_name}Tensor"  # Tensor.type(): "torch.FloatTensor"
        self.np = np.dtype(np_dtype)
        self.is_floating_point = category == 2
        self.is_signed = self.np.kind in "fi"
        self.itemsize = self.np.itemsize
        self._category = category  # 0 bool, 1 integer, 2 floating

    def __repr__(self) -> str:
        return f"fluxion.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))

    def to_complex(self):  # pragma: no cover - complex dtypes are not supported yet
        raise TypeError("fluxion does not support complex dtypes yet")


float16 = half = dtype("float16", np.float16, 2, "Half")
float32 = float = dtype("float32", np.float32, 2, "Float")
float64 = double = dtype("float64", np.float64, 2, "Double")
int8 = dtype("int8", np.int8, 1, "Char")
int16 = short = dtype("int16", np.int16, 1, "Short")
int32 = int = dtype("int32", np.int32, 1, "Int")
int64 = long = dtype("int64", np.int64, 1, "Long")
uint8 = dtype("uint8", np.uint8, 1, "Byte")
bool = dtype("bool", np.bool_, 0, "Bool")

ALL = (float16, float32, float64, int8, int16, int32, int64, uint8, bool)
FLOATING = (float16, float32, float64)

# NumPy dtype -> fluxion dtype. NumPy's builtin dtypes are singletons, so this is an identity map.
FROM_NP: dict = {d.np: d for d in ALL}
_NAMES = {d.name: d for d in ALL}


def _by_name(name: str) -> dtype:
    return _NAMES[name]


class _Defaults:
    float = float32


_defaults = _Defaults()


def get_default_dtype() -> dtype:
    """Return the default floating-point dtype (``float32`` unless changed).

    >>> fluxion.get_default_dtype()
    fluxion.float32
    """
    return _defaults.float


def set_default_dtype(d: dtype) -> None:
    """Set the dtype that float literals and ``rand``/``zeros`` produce.

    Args:
        d: ``fluxion.float32`` or ``fluxion.float64`` (or ``float16``).
    """
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _defaults.float = d
    _PROMOTE_CACHE.clear()


def to_dtype(d) -> dtype:
    """Convert a fluxion dtype, NumPy dtype, Python type or name to a fluxion :class:`dtype`."""
    if type(d) is dtype:
        return d
    if d is builtins.float:
        return _defaults.float
    if d is builtins.int:
        return int64
    if d is builtins.bool:
        return bool
    if isinstance(d, str) and d in _NAMES:
        return _NAMES[d]
    try:
        return FROM_NP[np.dtype(d)]
    except (TypeError, KeyError):
        raise TypeError(f"fluxion does not support dtype {d!r}") from None


def promote_types(a: dtype, b: dtype) -> dtype:
    """Return the smallest dtype both ``a`` and ``b`` convert to, as PyTorch defines it.

    >>> fluxion.promote_types(fluxion.int32, fluxion.float16)
    fluxion.float16
    >>> fluxion.promote_types(fluxion.uint8, fluxion.int8)
    fluxion.int16
    """
    a, b = to_dtype(a), to_dtype(b)
    if a is b:
        return a
    if a._category != b._category:
        # NOTE: unlike NumPy, int32 with float16 gives float16: the float operand wins outright.
        return a if a._category > b._category else b
    return FROM_NP[np.promote_types(a.np, b.np)]


_SCALAR_CATEGORY = {builtins.bool: 0, builtins.int: 1, builtins.float: 2}


def _promote_key(key: tuple) -> dtype:
    """Promote (np dtype or Python scalar type, is_zero_dim) pairs by PyTorch's priority rules."""
    classes: list = [None, None, None]  # dimensioned tensors, zero-dim tensors, Python scalars
    for item, zero_dim in key:
        if type(item) is type:
            cat = _SCALAR_CATEGORY[item]
            d, prio = (bool, int64, _defaults.float)[cat], 2
        else:
            d, prio = FROM_NP[item], (1 if zero_dim else 0)
        cur = classes[prio]
        classes[prio] = d if cur is None else promote_types(cur, d)
    out = classes[0]
    if classes[1] is not None and (out is None or classes[1]._category > out._category):
        out = classes[1]
    if classes[2] is not None and (out is None or classes[2]._category > out._category):
        out = classes[2]
    return out


_PROMOTE_CACHE: dict = {}


def promote_key(key: tuple) -> np.dtype:
    """Return the NumPy dtype of an op's result for a promotion key (cached)."""
    try:
        return _PROMOTE_CACHE[key]
    except KeyError:
        out = _PROMOTE_CACHE[key] = _promote_key(key).np
        return out


def result_type(*operands) -> dtype:
    """Return the dtype PyTorch gives an op over ``operands`` (tensors and Python numbers).

    >>> fluxion.result_type(fluxion.tensor([1, 2]), 2.5)
    fluxion.float32
    """
    key = []
    for o in operands:
        data = getattr(o, "_data", None)
        if data is not None:
            key.append((data.dtype, data.ndim == 0))
        else:
            key.append((type(o), True))
    return FROM_NP[promote_key(tuple(key))]


def scalar_name(d) -> str:
    """PyTorch's name for a dtype in messages (``"Float"``); accepts NumPy dtypes too."""
    if type(d) is not dtype:
        d = FROM_NP.get(np.dtype(d))
        if d is None:
            return str(d)
    return d.scalar_name
