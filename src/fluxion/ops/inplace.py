"""In-place ops (``add_``, ``zero_``, ``__setitem__``, ...): one mechanism for all of them.

An in-place op is its out-of-place twin followed by a *commit* into ``self``'s storage:

* no graph involved (grad mode off, or nothing requires grad): the op writes straight into
  ``self``'s array (``out=`` for arithmetic) and bumps the version counter;
* graph involved: the out-of-place op records its node as usual, then ``self`` takes the
  node as its ``grad_fn``. If that node saved ``self`` itself, the saved reference is swapped for
  a copy of the old value, so the gradient uses the value before the write;
* ``self`` is a view of a tensor in the graph: the base's history is rewritten through
  ``CopySlices`` (the base with the view's region replaced), exactly what PyTorch does, and the
  view's ``grad_fn`` is re-derived from the new base.

Saved tensors remember their version; backward raises if a saved tensor was modified since.
"""

from __future__ import annotations

from .. import dtypes as _dt
from ..autograd.engine import Node
from ..autograd.grad_mode import state as _grad_state
from ..tensor import Tensor, _wrap
from . import _registry
from .conversion import clone
from .elementwise import add, addcdiv, addcmul, clamp, div, lerp, mul, pow, sub

__all__ = [
    "add_",
    "sub_",
    "mul_",
    "div_",
    "pow_",
    "zero_",
    "fill_",
    "copy_",
    "clamp_",
    "clip_",
    "masked_fill_",
    "exp_",
    "neg_",
    "sqrt_",
    "relu_",
    "sigmoid_",
    "tanh_",
    "abs_",
    "addcmul_",
    "addcdiv_",
    "lerp_",
    "setitem_",
    "scatter_",
    "scatter_add_",
    "index_add_",
    "index_fill_",
    "unsqueeze_",
    "squeeze_",
    "t_",
]

_LEAF_MSG = "a leaf Variable that requires grad is being used in an in-place operation."
_VIEW_LEAF_MSG = (
    "a view of a leaf Variable that requires grad is being used in an in-place operation."
)


def _check_leaf(self: Tensor) -> None:
    if _grad_state.enabled:
        if self.requires_grad and self.grad_fn is None:
            raise RuntimeError(_LEAF_MSG)
        base = self._base
        if (
            base is not None
            and base.requires_grad
            and base.grad_fn is None
            and self.__dict__.get("_view_src") is not None
        ):
            raise RuntimeError(_VIEW_LEAF_MSG)


def _tracking(self: Tensor, *others) -> bool:
    if not _grad_state.enabled:
        return False
    if self.requires_grad:
        return True
    for o in others:
        if isinstance(o, Tensor) and o.requires_grad:
            return True
    return False


def _write(self: Tensor, data) -> None:
    """Copy ``data`` into ``self``'s storage with PyTorch's shape and cast rules."""
    dst = self._data
    shape = getattr(data, "shape", ())
    if shape != dst.shape:
        try:
            broadcast = _registry.xp.broadcast_shapes(shape, dst.shape)
        except ValueError:
            broadcast = None
        if broadcast != dst.shape:
            raise RuntimeError(
                f"output with shape {list(dst.shape)} doesn't match the broadcast shape "
                f"{list(broadcast if broadcast is not None else shape)}"
            )
    kind = getattr(data, "dtype", None)
    if kind is not None and not _registry.xp.can_cast(data.dtype, dst.dtype, "same_kind"):
        raise RuntimeError(
            f"result type {_dt.scalar_name(data.dtype)} can't be cast to "
            f"the desired output type {_dt.scalar_name(dst.dtype)}"
        )
    if not dst.flags.writeable:
        raise RuntimeError(
            "unsupported operation: more than one element of the written-to tensor refers to a "
            "single memory location. Please clone() the tensor before performing the operation."
        )
    dst[...] = data


def commit(self: Tensor, result: Tensor) -> Tensor:
    """Make ``self`` hold ``result``'s value and, when it has one, its history."""
    _check_leaf(self)
    node = result.grad_fn
    if node is not None and self.__dict__.get("_view_src") is not None:
        return _commit_view(self, result)
    if node is not None:
        saved = getattr(node, "_saved", None)
        if saved:
            for i, s in enumerate(saved):
                if s is self:  # the rule needs the value from before the write
                    old = _wrap(self._data.copy())
                    old.grad_fn, old.requires_grad = self.grad_fn, self.requires_grad
                    old._output_nr = self._output_nr
                    if self.grad_fn is None and self.requires_grad:
                        old._accum_ref = self._accum_ref
                    saved[i] = old
                    node._versions[i] = 0
    _write(self, result._data)
    self._bump()
    if node is not None:
        self.grad_fn = node
        self.requires_grad = True
        self._output_nr = result._output_nr
    return self


# ----------------------------------------------------------------- in-place through views


def _replay_view(view: Tensor, x: Tensor) -> Tensor:
    """Apply to ``x`` the chain of view ops that made ``view`` from its base."""
    chain = []
    t = view
    while t.__dict__.get("_view_src") is not None:
        parent, op, attrs = t._view_src
        chain.append((op, attrs))
        t = parent
    for op, attrs in reversed(chain):
        x = op.public(x, *attrs)
    return x


class CopySlices(Node):
    """Gradient of "base with a view's region replaced by ``src``" (PyTorch's CopySlices)."""

    __slots__ = ("_view", "_shape", "_dtype")

    def apply(self, grads: list):
        grad = grads[0]
        edges = self.next_functions
        mask = _registry.xp.ones(self._shape, dtype=self._dtype)
        _replay_view(self._view, _wrap(mask))._data[...] = 0  # constant: no graph needed
        g_base = grad * _wrap(mask) if edges[0][0] is not None else None
        g_src = _replay_view(self._view, grad) if edges[1][0] is not None else None
        return [g_base, g_src]


def _commit_view(view: Tensor, result: Tensor) -> Tensor:
    base = view._base
    node = CopySlices()
    node.next_functions = (_registry_edge(base), _registry_edge(result))
    node._view, node._shape, node._dtype = view, base._data.shape, base._data.dtype
    _write(view, result._data)
    view._bump()
    base.grad_fn = node
    base.requires_grad = True
    base._output_nr = 0
    fresh = _replay_view(view, base)
    view.grad_fn = fresh.grad_fn
    view.requires_grad = True
    return view


def _registry_edge(t: Tensor) -> tuple:
    if not t.requires_grad:
        return (None, 0)
    if t.grad_fn is not None:
        return (t.grad_fn, t._output_nr)
    return (t._accumulator(), 0)


# ----------------------------------------------------------------- arithmetic (fast paths)


def _fast(self: Tensor, ufunc, other) -> Tensor:
    _check_leaf(self)
    o = other._data if isinstance(other, Tensor) else other
    dst = self._data
    try:
        ufunc(dst, o, out=dst, casting="same_kind")
    except (TypeError, ValueError):
        _write(self, ufunc(dst, o))  # raises PyTorch's error for casts/shapes
    self._bump()
    return self


def add_(self: Tensor, other, *, alpha=1) -> Tensor:
    """Add ``alpha * other`` to ``self`` in place.

    >>> x = fluxion.ones(2)
    >>> x.add_(fluxion.tensor([1.0, 2.0]), alpha=2)
    tensor([3., 5.])
    """
    if _tracking(self, other):
        return commit(self, add(self, other, alpha=alpha))
    if alpha != 1:
        other = other * alpha
    return _fast(self, _registry.xp.add, other)


def sub_(self: Tensor, other, *, alpha=1) -> Tensor:
    """Subtract ``alpha * other`` from ``self`` in place."""
    if _tracking(self, other):
        return commit(self, sub(self, other, alpha=alpha))
    if alpha != 1:
        other = other * alpha
    return _fast(self, _registry.xp.subtract, other)


def mul_(self: Tensor, other) -> Tensor:
    """Multiply ``self`` by ``other`` in place."""
    if _tracking(self, other):
        return commit(self, mul(self, other))
    return _fast(self, _registry.xp.multiply, other)


def div_(self: Tensor, other, *, rounding_mode=None) -> Tensor:
    """Divide ``self`` by ``other`` in place."""
    if rounding_mode is None and not _tracking(self, other) and self._data.dtype.kind == "f":
        return _fast(self, _registry.xp.true_divide, other)
    return commit(self, div(self, other, rounding_mode=rounding_mode))


def pow_(self: Tensor, exponent) -> Tensor:
    """Raise ``self`` to ``exponent`` in place."""
    return commit(self, pow(self, exponent))


def zero_(self: Tensor) -> Tensor:
    """Fill ``self`` with zeros.

    >>> fluxion.ones(2).zero_()
    tensor([0., 0.])
    """
    return fill_(self, 0)


def fill_(self: Tensor, value) -> Tensor:
    """Fill ``self`` with ``value`` (a number or 0-d tensor)."""
    if isinstance(value, Tensor):
        if value.dim() != 0:
            raise RuntimeError(
                f"fill_ only supports 0-dimension value tensor but got tensor with "
                f"{value.dim()} dimensions."
            )
        if _tracking(self, value):
            return commit(self, add(mul(self, 0.0), value.expand(self.shape)))
        value = value.item()
    _check_leaf(self)
    if _grad_state.enabled and self.requires_grad:  # non-leaf: the result is a constant
        return commit(self, _constant_like(self, value))
    self._data.fill(value)
    self._bump()
    return self


def _constant_like(self: Tensor, value) -> Tensor:
    """A tensor equal to ``value`` everywhere that still records (a zero gradient) to ``self``."""
    return add(mul(self, 0.0), value)


def copy_(self: Tensor, src) -> Tensor:
    """Copy ``src`` (broadcast, cast to ``self``'s dtype) into ``self``."""
    if not isinstance(src, Tensor):
        src = _wrap(_registry.xp.asarray(src))
    if _tracking(self, src):
        moved = src.to(self.dtype).expand(self.shape)
        return commit(self, add(mul(self, 0.0), moved) if self.requires_grad else clone(moved))
    _check_leaf(self)
    if src.shape != self.shape:
        try:
            _registry.xp.broadcast_to(src._data, self._data.shape)
        except ValueError:
            raise RuntimeError(
                f"The size of tensor a ({list(self.shape)}) must match the size of tensor b "
                f"({list(src.shape)}) for copy_"
            ) from None
    if not self._data.flags.writeable:
        _write(self, src._data)
    self._data[...] = src._data
    self._bump()
    return self


def clamp_(self: Tensor, min=None, max=None) -> Tensor:
    """Clamp ``self`` into ``[min, max]`` in place."""
    return commit(self, clamp(self, min, max))


clip_ = clamp_


def _unary_inplace(name: str):
    def inplace(self: Tensor) -> Tensor:
        from . import elementwise

        return commit(self, getattr(elementwise, name)(self))

    inplace.__name__ = inplace.__qualname__ = name + "_"
    inplace.__doc__ = f"Apply ``{name}`` to ``self`` in place."
    return inplace


exp_ = _unary_inplace("exp")
neg_ = _unary_inplace("neg")
sqrt_ = _unary_inplace("sqrt")
relu_ = _unary_inplace("relu")
sigmoid_ = _unary_inplace("sigmoid")
tanh_ = _unary_inplace("tanh")
abs_ = _unary_inplace("abs")


def addcmul_(self: Tensor, tensor1, tensor2, *, value=1) -> Tensor:
    """``self += value * tensor1 * tensor2`` in place."""
    return commit(self, addcmul(self, tensor1, tensor2, value=value))


def addcdiv_(self: Tensor, tensor1, tensor2, *, value=1) -> Tensor:
    """``self += value * tensor1 / tensor2`` in place."""
    return commit(self, addcdiv(self, tensor1, tensor2, value=value))


def lerp_(self: Tensor, end, weight) -> Tensor:
    """``self += weight * (end - self)`` in place."""
    return commit(self, lerp(self, end, weight))


# ----------------------------------------------------------------- indexing writes


def _indexing():
    from . import indexing

    return indexing


def setitem_(self: Tensor, index, value) -> None:
    """``self[index] = value`` (the engine of ``Tensor.__setitem__``)."""
    value_is_tensor = isinstance(value, Tensor)
    if _tracking(self, value):
        commit(self, _indexing().index_put_for_setitem(self, index, value))
        return
    _check_leaf(self)
    idx = _indexing().unwrap_index(index, self._data.shape)
    data = value._data if value_is_tensor else value
    if value_is_tensor and data.dtype.kind == "f" and self._data.dtype.kind != "f":
        raise RuntimeError(
            f"Index put requires the source and destination dtypes match, got "
            f"{_dt.FROM_NP[self._data.dtype]} for the destination and {value.dtype} for the "
            "source."
        )
    try:
        self._data[idx] = data
    except ValueError as exc:
        raise RuntimeError(
            f"setitem: cannot assign a value of shape "
            f"{list(getattr(data, 'shape', ()))} to the indexed region: {exc}"
        ) from None
    self._bump()


def masked_fill_(self: Tensor, mask, value) -> Tensor:
    """Fill ``self`` with ``value`` where ``mask`` is True, in place."""
    return commit(self, _indexing().masked_fill(self, mask, value))


def scatter_(self: Tensor, dim, index, src=None, *, value=None) -> Tensor:
    """Write ``src`` (or ``value``) into ``self`` at ``index`` along ``dim``, in place."""
    return commit(self, _indexing().scatter(self, dim, index, src, value=value))


def scatter_add_(self: Tensor, dim, index, src) -> Tensor:
    """Add ``src`` into ``self`` at ``index`` along ``dim``, in place."""
    return commit(self, _indexing().scatter_add(self, dim, index, src))


def index_add_(self: Tensor, dim, index, source, *, alpha=1) -> Tensor:
    """Add ``alpha * source`` into ``self`` at ``index`` along ``dim``, in place."""
    return commit(self, _indexing().index_add(self, dim, index, source, alpha=alpha))


def index_fill_(self: Tensor, dim, index, value) -> Tensor:
    """Fill ``self`` with ``value`` at ``index`` along ``dim``, in place."""
    return commit(self, _indexing().index_fill(self, dim, index, value))


# ----------------------------------------------------------------- in-place shape changes


def _restride(self: Tensor, new: Tensor) -> Tensor:
    _check_leaf(self)
    self._data = new._data
    if new.grad_fn is not None:
        self.grad_fn = new.grad_fn
    self._bump()
    return self


def unsqueeze_(self: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dimension at ``dim``, in place."""
    return _restride(self, self.unsqueeze(dim))


def squeeze_(self: Tensor, dim=None) -> Tensor:
    """Remove size-1 dimensions, in place."""
    return _restride(self, self.squeeze(dim))


def t_(self: Tensor) -> Tensor:
    """Transpose a 2-D tensor in place."""
    return _restride(self, self.t())
