"""The Tensor: an array, its autograd state, and one-line delegations to ``fluxion.ops``.

The import circle between Tensor and ops is settled here, once: this module defines ``Tensor``
without importing ``ops``; the last line imports ``fluxion.ops`` as ``_ops``, and every method
calls ``_ops.<name>`` at call time. Nothing else imports in a circle.
"""

from __future__ import annotations

import builtins
import types
import weakref
from typing import Any

import numpy as np

from . import dtypes as _dt
from .autograd import engine as _engine
from .device import CPU, device

__all__ = ["Tensor"]

_ones_like = np.ones_like  # (CuPy arrays dispatch through __array_function__)

_new = object.__new__

# Legacy ``volatile`` (``fluxion.autograd.Variable(..., volatile=True)``): True from the moment the
# first volatile tensor is made, never reset. Generated op paths hold this very cell, so until
# then volatility costs them one cell read off the graph-recording path (docs/architecture.md).
VOLATILE_SEEN = types.CellType(False)

# The active ``fluxion.jit`` tracer, if any (a one-element list: generated op paths hold it).
# Each hook below costs one list read when nothing is being traced.
TRACE: list = [None]


class _Version:
    """In-place counter shared by a tensor and its views (and by ``.data`` / ``detach()``)."""

    __slots__ = ("v",)

    def __init__(self) -> None:
        self.v = 0


def _wrap(arr) -> Tensor:
    """Wrap a backend array as a fresh tensor that does not require grad (the hot path)."""
    t = _new(Tensor)
    t._data = arr
    t.grad_fn = None
    t.requires_grad = False
    t.grad = None
    t._vc = None
    if TRACE[0] is not None:  # made outside the traced ops: the tracer must not bake it in
        TRACE[0].born(t)
    return t


def _wrap_any(arr) -> Tensor:
    """Wrap an array or a NumPy scalar (what NumPy returns for 0-d results)."""
    if type(arr) is not np.ndarray:
        arr = np.asarray(arr)
    return _wrap(arr)


def _as_shape(args: tuple) -> tuple:
    """Accept ``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` as PyTorch does."""
    if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
        return tuple(args[0])
    return args


class Tensor:
    """A multi-dimensional array that can record operations for automatic differentiation.

    Create tensors with :func:`fluxion.tensor`, :func:`fluxion.zeros` and friends.

    >>> x = fluxion.tensor([2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([4., 6.])
    """

    __slots__ = ("_data", "grad_fn", "requires_grad", "grad", "_vc", "__dict__", "__weakref__")
    # Rarely set state lives in __dict__ with these class-level defaults.
    _output_nr = 0
    _hooks = None
    _post_acc_hooks = None
    _accum_ref = None
    _base = None
    _view_version = None  # views only: the version their grad_fn was derived at
    _volatile = False
    __array_priority__ = 1000  # make NumPy defer to our reflected operators

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from .creation import _legacy_tensor_init

        _legacy_tensor_init(self, args, kwargs)

    # ----------------------------------------------------------------- autograd state
    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def _version(self) -> int:
        vc = self._vc
        return 0 if vc is None else vc.v

    def _bump(self) -> None:
        if TRACE[0] is not None:
            TRACE[0].inplace(self)
        vc = self._vc
        if vc is None:
            vc = self._vc = _Version()
        vc.v += 1

    def _share_version(self, other: Tensor) -> None:
        vc = other._vc
        if vc is None:
            vc = other._vc = _Version()
        self._vc = vc
        self._base = other if other._base is None else other._base
        # a view's grad_fn is current for this version; an in-place write through its base or a
        # sibling view bumps the shared counter, and the next use re-derives the grad_fn
        self._view_version = vc.v

    def _accumulator(self) -> _engine.AccumulateGrad:
        ref = self._accum_ref
        acc = ref() if ref is not None else None
        return acc if acc is not None else _engine.make_accumulator(self)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place on a leaf and return ``self``."""
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use "
                "a computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        if requires_grad and self._volatile:
            raise ValueError("Variable can't be volatile and require_grad at the same time!")
        if requires_grad and self._data.dtype.kind not in "fc":
            raise RuntimeError(
                "only Tensors of floating point and complex dtype can require gradients "
                f"(got {self.dtype})"
            )
        self.requires_grad = builtins.bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if self.grad_fn is None:
            if not self.requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        node = self.grad_fn
        node._hooked = True
        if node._retain is None:
            node._retain = {}
        node._retain[self._output_nr] = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        node = self.grad_fn
        return node is not None and node._retain is not None and self._output_nr in node._retain

    def register_hook(self, hook):
        """Register ``hook(grad) -> Tensor | None``, called with this tensor's gradient."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            node = self.grad_fn
            node._hooked = True
            if node._tensor_hooks is None:
                node._tensor_hooks = {}
            hooks = node._tensor_hooks.setdefault(self._output_nr, [])
        hooks.append(hook)
        return _engine._RemovableHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Register ``hook(tensor)``, called after a leaf's ``.grad`` has been accumulated."""
        if self.grad_fn is not None:
            raise RuntimeError(
                "post accumulate grad hooks cannot be registered on non-leaf tensors"
            )
        if self._post_acc_hooks is None:
            self._post_acc_hooks = []
        self._post_acc_hooks.append(hook)
        return _engine._RemovableHandle(self._post_acc_hooks, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None) -> None:
        """Accumulate the gradient of this tensor into the ``.grad`` of graph leaves.

        Args:
            gradient: The vector in the vector-Jacobian product; required for non-scalars.
            retain_graph: Keep saved tensors for another backward (default: ``create_graph``).
            create_graph: Record the backward pass itself, for higher-order derivatives.
            inputs: Only accumulate into these tensors.
        """
        if (
            gradient is None
            and not retain_graph
            and not create_graph
            and inputs is None
            and self.grad_fn is not None
            and self._data.size == 1
            and self._data.dtype.kind == "f"
        ):
            # the common call, `loss.backward()`: what autograd.backward would check and build,
            # without its tuples and keyword handling
            _engine.run_backward((self,), [_wrap(_ones_like(self._data))], False, False)
            return
        from .autograd import backward

        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def detach(self) -> Tensor:
        """Return a tensor sharing storage with ``self`` that is cut out of the graph."""
        t = _wrap(self._data)
        t._share_version(self)
        if self._volatile:  # legacy: "if the input is volatile, the output will be volatile too"
            t._volatile = True
        return t

    def detach_(self) -> Tensor:
        """Cut ``self`` out of the graph, in place."""
        self.grad_fn = None
        self.requires_grad = False
        return self

    @property
    def data(self) -> Tensor:
        # NOTE: unlike detach(), .data has its own version counter: writes through it are
        # invisible to autograd's in-place checks, as in PyTorch.
        return _wrap(self._data)

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data

    @property
    def grad_fn_name(self) -> str | None:
        return None if self.grad_fn is None else self.grad_fn.name()

    # ----------------------------------------------------------------- legacy (0.1-0.3) autograd
    @property
    def volatile(self) -> builtins.bool:
        """Whether this tensor is volatile: ops on it record no graph (legacy inference flag).

        Set it on leaves only; see :class:`fluxion.autograd.Variable`.

        >>> x = fluxion.ones(2)
        >>> x.volatile = True
        >>> (x * 2).volatile, (x * 2).requires_grad
        (True, False)
        """
        return self._volatile

    @volatile.setter
    def volatile(self, value: builtins.bool) -> None:
        if type(value) is not builtins.bool:
            raise RuntimeError("volatile must be a bool")
        if self.grad_fn is not None:
            raise RuntimeError("volatile can only be set on leaf variables")
        if value and self.requires_grad:
            raise ValueError("Variable can't be volatile and require_grad at the same time!")
        self._volatile = value
        if value:
            VOLATILE_SEEN.cell_contents = True

    @property
    def creator(self):
        """The legacy name of :attr:`grad_fn` (the same object)."""
        return self.grad_fn

    # ----------------------------------------------------------------- metadata
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        """Return the shape, or the size of one dimension."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_ops._grad_helpers.norm_dim(dim, self._data.ndim)]

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return self._data.size

    nelement = numel

    @property
    def dtype(self) -> _dt.dtype:
        return _dt.FROM_NP[self._data.dtype]

    @property
    def device(self) -> device:
        return CPU

    @property
    def is_cuda(self) -> bool:
        return False

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def element_size(self) -> int:
        return self._data.itemsize

    def stride(self, dim: int | None = None):
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[dim]

    def is_contiguous(self) -> bool:
        return self._data.flags.c_contiguous

    def data_ptr(self) -> int:
        return self._data.__array_interface__["data"][0]

    def type(self, dtype=None):
        """Return the legacy type name (``'torch.FloatTensor'``), or cast to ``dtype``."""
        if dtype is None:
            return _dt.FROM_NP[self._data.dtype].legacy_name
        if isinstance(dtype, str):
            dtype = _LEGACY_BY_NAME.get(dtype, dtype)
        return self.to(dtype)

    def item(self):
        """Return the value of a one-element tensor as a Python number."""
        if TRACE[0] is not None:
            TRACE[0].escape(self, "item()")
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar"
            )
        return self._data.reshape(()).item()

    def tolist(self):
        if TRACE[0] is not None:
            TRACE[0].escape(self, "tolist()")
        return self._data.tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """Return the data as a NumPy array that shares memory with the tensor."""
        if TRACE[0] is not None:
            TRACE[0].escape(self, "numpy()")
        if self.requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        return self._data

    def __array__(self, dtype=None, copy=None):
        if TRACE[0] is not None:
            TRACE[0].escape(self, "__array__()")
        arr = self._data
        return arr if dtype is None else arr.astype(dtype)

    def __dlpack__(self, *args, **kwargs):
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __bool__(self) -> bool:
        if TRACE[0] is not None:
            TRACE[0].escape(self, "bool()")
        if self._data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with more than one value is ambiguous "
                f"(the tensor has {self._data.size} elements)"
            )
        return builtins.bool(self._data)

    def __float__(self) -> float:
        return builtins.float(self.item())

    def __int__(self) -> int:
        return builtins.int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return builtins.int(self.item())

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        from ._format import format_tensor

        return format_tensor(self)

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __deepcopy__(self, memo):
        t = _wrap(self._data.copy())
        t.requires_grad = self.requires_grad
        if self.grad is not None:
            t.grad = _wrap(self.grad._data.copy())
        memo[id(self)] = t
        return t

    def __reduce_ex__(self, proto):
        return (_rebuild, (self._data, self.requires_grad))

    # ----------------------------------------------------------------- conversions
    def to(self, *args, **kwargs) -> Tensor:
        """Return a tensor with the given dtype (and/or device); ``self`` when nothing changes."""
        return _ops.to(self, *args, **kwargs)

    def float(self) -> Tensor:
        return _ops.to(self, _dt.float32)

    def double(self) -> Tensor:
        return _ops.to(self, _dt.float64)

    def half(self) -> Tensor:
        return _ops.to(self, _dt.float16)

    def long(self) -> Tensor:
        return _ops.to(self, _dt.int64)

    def int(self) -> Tensor:
        return _ops.to(self, _dt.int32)

    def short(self) -> Tensor:
        return _ops.to(self, _dt.int16)

    def bool(self) -> Tensor:
        return _ops.to(self, _dt.bool)

    def byte(self) -> Tensor:
        return _ops.to(self, _dt.uint8)

    def cpu(self) -> Tensor:
        return self

    def clone(self, *, memory_format=None) -> Tensor:
        return _ops.clone(self)

    def contiguous(self, memory_format=None) -> Tensor:
        return _ops.contiguous(self)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return _ops.zeros(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return _ops.ones(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        return _ops.full(size, fill_value, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return _ops.empty(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False) -> Tensor:
        return _ops.tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)

    # ----------------------------------------------------------------- arithmetic dunders
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.sub(self, other)

    def __rsub__(self, other):
        return _ops.rsub(self, other)

    def __mul__(self, other):
        return _ops.mul(self, other)

    def __rmul__(self, other):
        return _ops.mul(other, self)

    def __truediv__(self, other):
        return _ops.div(self, other)

    def __rtruediv__(self, other):
        return _ops.mul(_ops.reciprocal(self), other)  # as PyTorch: grad_fn MulBackward0

    def __floordiv__(self, other):
        return _ops.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ops.floor_divide(other, self)

    def __mod__(self, other):
        return _ops.remainder(self, other)

    def __rmod__(self, other):
        return _ops.remainder(other, self)

    def __pow__(self, other):
        return _ops.pow(self, other)

    def __rpow__(self, other):
        return _ops.pow(other, self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __neg__(self):
        return _ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    def __invert__(self):
        return _ops.bitwise_not(self)

    def __and__(self, other):
        return _ops.bitwise_and(self, other)

    __rand__ = __and__

    def __or__(self, other):
        return _ops.bitwise_or(self, other)

    __ror__ = __or__

    def __xor__(self, other):
        return _ops.bitwise_xor(self, other)

    __rxor__ = __xor__

    def __eq__(self, other):  # type: ignore[override]
        return _ops.eq(self, other)

    def __ne__(self, other):  # type: ignore[override]
        return _ops.ne(self, other)

    def __lt__(self, other):
        return _ops.lt(self, other)

    def __le__(self, other):
        return _ops.le(self, other)

    def __gt__(self, other):
        return _ops.gt(self, other)

    def __ge__(self, other):
        return _ops.ge(self, other)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    def __setitem__(self, index, value) -> None:
        _ops.setitem_(self, index, value)

    # ----------------------------------------------------------------- in-place
    def __iadd__(self, other):
        return _ops.add_(self, other)

    def __isub__(self, other):
        return _ops.sub_(self, other)

    def __imul__(self, other):
        return _ops.mul_(self, other)

    def __itruediv__(self, other):
        return _ops.div_(self, other)

    def __ifloordiv__(self, other):
        return _ops.floor_divide_(self, other)

    def __imod__(self, other):
        return _ops.remainder_(self, other)

    def __ipow__(self, other):
        return _ops.pow_(self, other)

    def __iand__(self, other):
        return _ops.bitwise_and_(self, other)

    def __ior__(self, other):
        return _ops.bitwise_or_(self, other)

    def __ixor__(self, other):
        return _ops.bitwise_xor_(self, other)

    def add_(self, other, *, alpha=1):
        return _ops.add_(self, other, alpha=alpha)

    def sub_(self, other, *, alpha=1):
        return _ops.sub_(self, other, alpha=alpha)

    def mul_(self, other):
        return _ops.mul_(self, other)

    def div_(self, other, *, rounding_mode=None):
        return _ops.div_(self, other, rounding_mode=rounding_mode)

    def pow_(self, exponent):
        return _ops.pow_(self, exponent)

    def floor_divide_(self, other):
        return _ops.floor_divide_(self, other)

    def remainder_(self, other):
        return _ops.remainder_(self, other)

    def bitwise_and_(self, other):
        return _ops.bitwise_and_(self, other)

    def bitwise_or_(self, other):
        return _ops.bitwise_or_(self, other)

    def bitwise_xor_(self, other):
        return _ops.bitwise_xor_(self, other)

    def zero_(self):
        return _ops.zero_(self)

    def fill_(self, value):
        return _ops.fill_(self, value)

    def copy_(self, src, non_blocking=False):
        return _ops.copy_(self, src)

    def clamp_(self, min=None, max=None):
        return _ops.clamp_(self, min, max)

    clip_ = clamp_

    def masked_fill_(self, mask, value):
        return _ops.masked_fill_(self, mask, value)

    def exp_(self):
        return _ops.exp_(self)

    def neg_(self):
        return _ops.neg_(self)

    def sqrt_(self):
        return _ops.sqrt_(self)

    def relu_(self):
        return _ops.relu_(self)

    def sigmoid_(self):
        return _ops.sigmoid_(self)

    def tanh_(self):
        return _ops.tanh_(self)

    def abs_(self):
        return _ops.abs_(self)

    def addcmul_(self, tensor1, tensor2, *, value=1):
        return _ops.addcmul_(self, tensor1, tensor2, value=value)

    def addcdiv_(self, tensor1, tensor2, *, value=1):
        return _ops.addcdiv_(self, tensor1, tensor2, value=value)

    def lerp_(self, end, weight):
        return _ops.lerp_(self, end, weight)

    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        return _ops.scatter_(self, dim, index, src, value=value)

    def scatter_add_(self, dim, index, src):
        return _ops.scatter_add_(self, dim, index, src)

    def index_add_(self, dim, index, source, *, alpha=1):
        return _ops.index_add_(self, dim, index, source, alpha=alpha)

    def index_fill_(self, dim, index, value):
        return _ops.index_fill_(self, dim, index, value)

    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        return _ops.uniform_(self, a, b, generator=generator)

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        return _ops.normal_(self, mean, std, generator=generator)

    def bernoulli_(self, p=0.5, *, generator=None):
        return _ops.bernoulli_(self, p, generator=generator)

    def random_(self, *args, generator=None):
        return _ops.random_(self, *args, generator=generator)

    def exponential_(self, lambd=1.0, *, generator=None):
        return _ops.exponential_(self, lambd, generator=generator)

    def bernoulli(self, p=None, *, generator=None):
        return _ops.bernoulli(self, p, generator=generator)

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        return _ops.multinomial(self, num_samples, replacement, generator=generator)

    def unsqueeze_(self, dim):
        return _ops.unsqueeze_(self, dim)

    def squeeze_(self, dim=None):
        return _ops.squeeze_(self, dim)

    def t_(self):
        return _ops.t_(self)

    # ----------------------------------------------------------------- pointwise methods
    def add(self, other, *, alpha=1):
        return _ops.add(self, other, alpha=alpha)

    def sub(self, other, *, alpha=1):
        return _ops.sub(self, other, alpha=alpha)

    subtract = sub

    def mul(self, other):
        return _ops.mul(self, other)

    multiply = mul

    def div(self, other, *, rounding_mode=None):
        return _ops.div(self, other, rounding_mode=rounding_mode)

    divide = true_divide = div

    def floor_divide(self, other):
        return _ops.floor_divide(self, other)

    def remainder(self, other):
        return _ops.remainder(self, other)

    def fmod(self, other):
        return _ops.fmod(self, other)

    def pow(self, exponent):
        return _ops.pow(self, exponent)

    def neg(self):
        return _ops.neg(self)

    negative = neg

    def abs(self):
        return _ops.abs(self)

    absolute = abs

    def exp(self):
        return _ops.exp(self)

    def exp2(self):
        return _ops.exp2(self)

    def expm1(self):
        return _ops.expm1(self)

    def log(self):
        return _ops.log(self)

    def log2(self):
        return _ops.log2(self)

    def log10(self):
        return _ops.log10(self)

    def log1p(self):
        return _ops.log1p(self)

    def sqrt(self):
        return _ops.sqrt(self)

    def rsqrt(self):
        return _ops.rsqrt(self)

    def sin(self):
        return _ops.sin(self)

    def cos(self):
        return _ops.cos(self)

    def tan(self):
        return _ops.tan(self)

    def asin(self):
        return _ops.asin(self)

    arcsin = asin

    def acos(self):
        return _ops.acos(self)

    arccos = acos

    def atan(self):
        return _ops.atan(self)

    arctan = atan

    def atan2(self, other):
        return _ops.atan2(self, other)

    arctan2 = atan2

    def sinh(self):
        return _ops.sinh(self)

    def cosh(self):
        return _ops.cosh(self)

    def tanh(self):
        return _ops.tanh(self)

    def sigmoid(self):
        return _ops.sigmoid(self)

    def relu(self):
        return _ops.relu(self)

    def softplus(self, beta=1.0, threshold=20.0):
        return _ops.softplus(self, beta, threshold)

    def erf(self):
        return _ops.erf(self)

    def sign(self):
        return _ops.sign(self)

    def sgn(self):
        return _ops.sgn(self)

    def floor(self):
        return _ops.floor(self)

    def ceil(self):
        return _ops.ceil(self)

    def round(self, *, decimals=0):
        return _ops.round(self, decimals=decimals)

    def trunc(self):
        return _ops.trunc(self)

    fix = trunc

    def frac(self):
        return _ops.frac(self)

    def reciprocal(self):
        return _ops.reciprocal(self)

    def square(self):
        return _ops.square(self)

    def clamp(self, min=None, max=None):
        return _ops.clamp(self, min, max)

    clip = clamp

    def clamp_min(self, min):
        return _ops.clamp_min(self, min)

    def clamp_max(self, max):
        return _ops.clamp_max(self, max)

    def maximum(self, other):
        return _ops.maximum(self, other)

    def minimum(self, other):
        return _ops.minimum(self, other)

    def where(self, condition, other):
        return _ops.where(condition, self, other)

    def lerp(self, end, weight):
        return _ops.lerp(self, end, weight)

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        return _ops.nan_to_num(self, nan, posinf, neginf)

    def addcmul(self, tensor1, tensor2, *, value=1):
        return _ops.addcmul(self, tensor1, tensor2, value=value)

    def addcdiv(self, tensor1, tensor2, *, value=1):
        return _ops.addcdiv(self, tensor1, tensor2, value=value)

    def eq(self, other):
        return _ops.eq(self, other)

    def ne(self, other):
        return _ops.ne(self, other)

    def lt(self, other):
        return _ops.lt(self, other)

    def le(self, other):
        return _ops.le(self, other)

    def gt(self, other):
        return _ops.gt(self, other)

    def ge(self, other):
        return _ops.ge(self, other)

    def equal(self, other) -> bool:
        return _ops.equal(self, other)

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
        return _ops.allclose(self, other, rtol, atol, equal_nan)

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return _ops.isclose(self, other, rtol, atol, equal_nan)

    def isnan(self):
        return _ops.isnan(self)

    def isinf(self):
        return _ops.isinf(self)

    def isfinite(self):
        return _ops.isfinite(self)

    def logical_not(self):
        return _ops.logical_not(self)

    def logical_and(self, other):
        return _ops.logical_and(self, other)

    def logical_or(self, other):
        return _ops.logical_or(self, other)

    def logical_xor(self, other):
        return _ops.logical_xor(self, other)

    # ----------------------------------------------------------------- reductions
    def sum(self, dim=None, keepdim=False, *, dtype=None):
        return _ops.sum(self, dim, keepdim, dtype=dtype)

    def mean(self, dim=None, keepdim=False, *, dtype=None):
        return _ops.mean(self, dim, keepdim, dtype=dtype)

    def prod(self, dim=None, keepdim=False, *, dtype=None):
        return _ops.prod(self, dim, keepdim, dtype=dtype)

    def max(self, dim=None, keepdim=False):
        return _ops.max(self, dim, keepdim)

    def min(self, dim=None, keepdim=False):
        return _ops.min(self, dim, keepdim)

    def amax(self, dim=(), keepdim=False):
        return _ops.amax(self, dim, keepdim)

    def amin(self, dim=(), keepdim=False):
        return _ops.amin(self, dim, keepdim)

    def argmax(self, dim=None, keepdim=False):
        return _ops.argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return _ops.argmin(self, dim, keepdim)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return _ops.var(self, dim, unbiased, keepdim, correction=correction)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return _ops.std(self, dim, unbiased, keepdim, correction=correction)

    def logsumexp(self, dim, keepdim=False):
        return _ops.logsumexp(self, dim, keepdim)

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        return _ops.norm(self, p, dim, keepdim, dtype=dtype)

    def cumsum(self, dim, *, dtype=None):
        return _ops.cumsum(self, dim, dtype=dtype)

    def cumprod(self, dim, *, dtype=None):
        return _ops.cumprod(self, dim, dtype=dtype)

    def all(self, dim=None, keepdim=False):
        return _ops.all(self, dim, keepdim)

    def any(self, dim=None, keepdim=False):
        return _ops.any(self, dim, keepdim)

    def count_nonzero(self, dim=None):
        return _ops.count_nonzero(self, dim)

    def softmax(self, dim, dtype=None):
        return _ops.softmax(self, dim, dtype=dtype)

    def log_softmax(self, dim, dtype=None):
        return _ops.log_softmax(self, dim, dtype=dtype)

    # ----------------------------------------------------------------- shape
    def reshape(self, *shape):
        return _ops.reshape(self, _as_shape(shape))

    def view(self, *shape):
        if len(shape) == 1 and not isinstance(shape[0], (builtins.int, tuple, list, Size)):
            return _ops.view_dtype(self, shape[0])
        return _ops.view(self, _as_shape(shape))

    def view_as(self, other):
        return _ops.view(self, other.shape)

    def reshape_as(self, other):
        return _ops.reshape(self, other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        return _ops.flatten(self, start_dim, end_dim)

    def unflatten(self, dim, sizes):
        return _ops.unflatten(self, dim, sizes)

    def squeeze(self, dim=None):
        return _ops.squeeze(self, dim)

    def unsqueeze(self, dim):
        return _ops.unsqueeze(self, dim)

    def expand(self, *sizes):
        return _ops.expand(self, _as_shape(sizes))

    def expand_as(self, other):
        return _ops.expand(self, other.shape)

    def broadcast_to(self, size):
        return _ops.expand(self, tuple(size))

    def repeat(self, *sizes):
        return _ops.repeat(self, _as_shape(sizes))

    def tile(self, *dims):
        return _ops.tile(self, _as_shape(dims))

    def transpose(self, dim0, dim1):
        return _ops.transpose(self, dim0, dim1)

    swapaxes = swapdims = transpose

    def permute(self, *dims):
        return _ops.permute(self, _as_shape(dims))

    def t(self):
        return _ops.t(self)

    @property
    def T(self):
        return _ops.permute(self, tuple(range(self._data.ndim - 1, -1, -1)))

    @property
    def mT(self):
        return _ops.transpose(self, -2, -1)

    def movedim(self, source, destination):
        return _ops.movedim(self, source, destination)

    moveaxis = movedim

    def flip(self, *dims):
        return _ops.flip(self, _as_shape(dims))

    def roll(self, shifts, dims=None):
        return _ops.roll(self, shifts, dims)

    def split(self, split_size, dim=0):
        return _ops.split(self, split_size, dim)

    def chunk(self, chunks, dim=0):
        return _ops.chunk(self, chunks, dim)

    def unbind(self, dim=0):
        return _ops.unbind(self, dim)

    def tensor_split(self, indices_or_sections, dim=0):
        return _ops.tensor_split(self, indices_or_sections, dim)

    def narrow(self, dim, start, length):
        return _ops.narrow(self, dim, start, length)

    def select(self, dim, index):
        return _ops.select(self, dim, index)

    def tril(self, diagonal=0):
        return _ops.tril(self, diagonal)

    def triu(self, diagonal=0):
        return _ops.triu(self, diagonal)

    def diagonal(self, offset=0, dim1=0, dim2=1):
        return _ops.diagonal(self, offset, dim1, dim2)

    def unfold(self, dimension, size, step):
        return _ops.unfold(self, dimension, size, step)

    # ----------------------------------------------------------------- indexing
    def index_select(self, dim, index):
        return _ops.index_select(self, dim, index)

    def gather(self, dim, index):
        return _ops.gather(self, dim, index)

    def scatter(self, dim, index, src=None, *, value=None, reduce=None):
        return _ops.scatter(self, dim, index, src, value=value)

    def scatter_add(self, dim, index, src):
        return _ops.scatter_add(self, dim, index, src)

    def masked_fill(self, mask, value):
        return _ops.masked_fill(self, mask, value)

    def masked_select(self, mask):
        return _ops.masked_select(self, mask)

    def index_add(self, dim, index, source, *, alpha=1):
        return _ops.index_add(self, dim, index, source, alpha=alpha)

    def index_fill(self, dim, index, value):
        return _ops.index_fill(self, dim, index, value)

    def index_put(self, indices, values, accumulate=False):
        return _ops.index_put(self, indices, values, accumulate)

    def take_along_dim(self, indices, dim=None):
        return _ops.take_along_dim(self, indices, dim)

    def nonzero(self, *, as_tuple=False):
        return _ops.nonzero(self, as_tuple=as_tuple)

    # ----------------------------------------------------------------- linear algebra
    def matmul(self, other):
        return _ops.matmul(self, other)

    def mm(self, mat2):
        return _ops.mm(self, mat2)

    def bmm(self, mat2):
        return _ops.bmm(self, mat2)

    def mv(self, vec):
        return _ops.mv(self, vec)

    def dot(self, other):
        return _ops.dot(self, other)

    def outer(self, vec2):
        return _ops.outer(self, vec2)

    ger = outer

    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        return _ops.addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return _ops.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)


class Size(tuple):
    """The shape of a tensor: a tuple that prints like PyTorch's ``torch.Size``.

    >>> fluxion.zeros(2, 3).shape
    fluxion.Size([2, 3])
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"fluxion.Size({list(self)})"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n


def _rebuild(data, requires_grad):
    t = _wrap(data)
    t.requires_grad = requires_grad
    return t


_LEGACY_BY_NAME = {d.legacy_name: d for d in _dt.ALL}

from . import ops as _ops  # noqa: E402  (the one deliberate circle: see the module docstring)
