"""PyTorch's legacy typed tensor constructors (``FloatTensor(2, 3)``, ``LongTensor([1, 2])``).

Each constructor takes sizes (``FloatTensor(2, 3)``, ``FloatTensor(fluxion.Size([2, 3]))``) or
data (a nested sequence, a NumPy array or a tensor of the same type), as in PyTorch. They return
plain :class:`fluxion.Tensor` objects; ``isinstance(t, fluxion.FloatTensor)`` checks the dtype.

>>> fluxion.FloatTensor(2, 3).shape
fluxion.Size([2, 3])
>>> fluxion.LongTensor([1.7, 2.0])
tensor([1, 2])
>>> t = fluxion.ones(2)
>>> isinstance(t, fluxion.FloatTensor), isinstance(t, fluxion.LongTensor)
(True, False)
"""

from __future__ import annotations

from typing import Any

from . import dtypes as _dt
from .creation import tensor as _tensor
from .creation import zeros as _zeros
from .tensor import Size, Tensor

__all__ = [
    "FloatTensor",
    "DoubleTensor",
    "HalfTensor",
    "LongTensor",
    "IntTensor",
    "ShortTensor",
    "CharTensor",
    "ByteTensor",
    "BoolTensor",
]


def _is_int(a: Any) -> bool:
    return not isinstance(a, bool) and hasattr(a, "__index__") and not hasattr(a, "shape")


class _LegacyTensorType(type):
    """Metaclass of the legacy constructors: calling one builds a tensor of its dtype."""

    dtype: _dt.dtype

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype

    def __call__(cls, *args: Any, device: Any = None, **kwargs: Any) -> Tensor:
        return _construct(cls, args, kwargs)

    def __repr__(cls) -> str:
        return f"<class 'fluxion.{cls.__name__}'>"


def _construct(cls: _LegacyTensorType, args: tuple, kwargs: dict) -> Tensor:
    name, dtype = cls.__name__, cls.dtype
    if kwargs:
        raise TypeError(
            f"{name}(): unexpected keyword argument(s) {sorted(kwargs)}; the legacy constructors "
            f"take sizes or data only (use fluxion.tensor(data, dtype={dtype}, ...) for more)"
        )
    if not args:
        return _zeros(0, dtype=dtype)
    if all(_is_int(a) for a in args) or (len(args) == 1 and isinstance(args[0], Size)):
        shape = tuple(int(a) for a in (args[0] if isinstance(args[0], Size) else args))
        for s in shape:
            if s < 0:
                raise RuntimeError(
                    f"Trying to create tensor with negative dimension {s}: {list(shape)}"
                )
        return _zeros(shape, dtype=dtype)
    if len(args) > 1:
        raise TypeError(f"{name}(): expected sizes (ints) or a single data argument, got {args!r}")
    data = args[0]
    if isinstance(data, Tensor):
        if data.dtype != dtype:
            raise TypeError(
                f"{name}(): expected a tensor of dtype {dtype} (got {data.dtype}); convert it "
                f"with .to({dtype}) or use fluxion.tensor(data, dtype={dtype})"
            )
        return data.detach()  # an alias sharing storage, as in PyTorch
    if isinstance(data, (str, bytes)):
        raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
    if isinstance(data, (bool, float, complex)):
        raise TypeError(f"new(): data must be a sequence (got {type(data).__name__})")
    return _tensor(data, dtype=dtype)


def _make(name: str, dtype: _dt.dtype) -> _LegacyTensorType:
    doc = (
        f"Legacy constructor of {dtype} tensors: ``{name}(*sizes)`` or ``{name}(data)``.\n\n"
        f"    >>> fluxion.{name}(2).dtype\n    {dtype!r}\n"
    )
    cls = _LegacyTensorType(name, (), {"dtype": dtype, "__doc__": doc, "__module__": __name__})
    return cls


FloatTensor = _make("FloatTensor", _dt.float32)
DoubleTensor = _make("DoubleTensor", _dt.float64)
HalfTensor = _make("HalfTensor", _dt.float16)
LongTensor = _make("LongTensor", _dt.int64)
IntTensor = _make("IntTensor", _dt.int32)
ShortTensor = _make("ShortTensor", _dt.int16)
CharTensor = _make("CharTensor", _dt.int8)
ByteTensor = _make("ByteTensor", _dt.uint8)
BoolTensor = _make("BoolTensor", _dt.bool)
