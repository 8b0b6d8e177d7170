"""In-place ops (``add_``, ``zero_``, ``__setitem__``, ...): one mechanism for all of them.

An in-place op is its out-of-place twin followed by a *commit* into ``self``'s storage:

* no graph involved (grad mode off, or nothing requires grad): the op writes straight into
  ``self``'s array (``out=`` for arithmetic) and bumps the version counter;
* graph involved: the out-of-place op records its node as usual, then ``self`` takes the
  node as its ``grad_fn``. If that node saved ``self`` as its first input, the saved reference is
  swapped for a copy of the old value, so the gradient uses the value before the write (as
  PyTorch's ``original_self``); if it saved its output, the output becomes ``self``'s storage,
  checked against ``self``'s version counter;
* ``self`` is a view of a tensor in the graph: the base's history is rewritten through
  ``CopySlices`` (the base with the view's region replaced), exactly what PyTorch does, and the
  view's ``grad_fn`` is re-derived from the new base.

Saved tensors remember their version; backward raises if a saved tensor was modified since.
Ops that overwrite ``self`` entirely (``zero_``, ``fill_``, ``copy_``) record their own nodes,
named as in PyTorch (``ZeroBackward0``, ``FillBackward2``/``3``, ``CopyBackwards``).
"""

from __future__ import annotations

from .. import dtypes as _dt
from ..autograd.engine import Node
from ..autograd.grad_mode import enable_grad as _enable_grad
from ..autograd.grad_mode import state as _grad_state
from ..tensor import VOLATILE_SEEN, Tensor, _wrap
from . import _registry
from .elementwise import (
    add,
    addcdiv,
    addcmul,
    bitwise_and,
    bitwise_or,
    bitwise_xor,
    clamp,
    div,
    floor_divide,
    lerp,
    mul,
    pow,
    remainder,
    sub,
)

__all__ = [
    "add_",
    "sub_",
    "mul_",
    "div_",
    "pow_",
    "floor_divide_",
    "remainder_",
    "bitwise_and_",
    "bitwise_or_",
    "bitwise_xor_",
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
_NO_GRAD_VIEW_MSG = (
    "A view was created in no_grad mode and is being modified inplace with grad mode enabled. "
    "Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify "
    "your code by moving both the view and the inplace either both inside the no_grad block (if "
    "you don't want the inplace to be tracked) or both outside (if you want the inplace to be "
    "tracked)."
)
_OVERLAP_MSG = (
    "unsupported operation: more than one element of the written-to tensor refers to a single "
    "memory location. Please clone() the tensor before performing the operation."
)


def _view_root(t: Tensor) -> Tensor:
    """The tensor whose history a write through the view ``t`` rewrites (``detach()`` stops it)."""
    while True:
        src = t.__dict__.get("_view_src")
        if src is None:
            return t
        t = src[0]


def _check_leaf(self: Tensor) -> None:
    if _grad_state.enabled:
        if self.requires_grad and self.grad_fn is None:
            raise RuntimeError(_LEAF_MSG)
        if self.__dict__.get("_view_src") is not None:
            root = _view_root(self)
            if root.requires_grad:
                if not self.requires_grad:  # NOTE: only a no_grad view of a graph tensor is seen
                    raise RuntimeError(_NO_GRAD_VIEW_MSG)
                if root.grad_fn is None:
                    raise RuntimeError(_VIEW_LEAF_MSG)


def _tracking(self: Tensor, *others) -> bool:
    if not _grad_state.enabled:
        return False
    if VOLATILE_SEEN.cell_contents and _volatile_write(self, others):
        return False
    if self.requires_grad:
        return True
    for o in others:
        if isinstance(o, Tensor) and o.requires_grad:
            return True
    return False


def _volatile_write(self: Tensor, others: tuple) -> bool:
    """Legacy volatile: an in-place op with a volatile operand leaves ``self`` volatile."""
    if not (self._volatile or any(isinstance(o, Tensor) and o._volatile for o in others)):
        return False
    if self.requires_grad and self.grad_fn is None:
        return False  # a leaf that requires grad: the ordinary path raises the in-place leaf error
    _make_volatile(self)
    return True


def _make_volatile(self: Tensor) -> None:
    self.grad_fn = None
    self.requires_grad = False
    self._volatile = True


def _size_mismatch(a: tuple, b: tuple) -> RuntimeError:
    """PyTorch's broadcast error for shapes ``a`` (written to) and ``b`` (written)."""
    n = max(len(a), len(b))
    pa, pb = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    for i in range(n - 1, -1, -1):
        if pa[i] != pb[i] and pa[i] != 1 and pb[i] != 1:
            return RuntimeError(
                f"The size of tensor a ({pa[i]}) must match the size of tensor b ({pb[i]}) at "
                f"non-singleton dimension {i}"
            )
    return RuntimeError(f"shapes {list(a)} and {list(b)} do not broadcast")


def _writable(dst, fill: bool):
    """A writable alias of ``dst`` (an ``expand``-ed array is read-only in NumPy).

    PyTorch refuses writes where several elements share one memory location, except fills.
    """
    if not fill:
        for s, n in zip(dst.strides, dst.shape):
            if s == 0 and n > 1:
                raise RuntimeError(_OVERLAP_MSG)
    alias = dst.view()
    try:
        alias.flags.writeable = True
    except ValueError:  # memory we do not own (a read-only NumPy buffer)
        raise RuntimeError(
            "in-place operation on a tensor whose memory is read-only; clone() it first"
        ) from None
    return alias


def _can_cast(src, dst) -> bool:
    """PyTorch's ``can_cast``: no float to integer, nothing to bool, no complex to real.

    (Looser than NumPy's "same_kind", which also refuses signed to unsigned.)
    """
    s, d = src.kind, dst.kind
    if d == "b":
        return s == "b"
    if d in "iu":
        return s in "biu"
    return d == "c" or s != "c"


def _write(self: Tensor, data, mode: str = "op") -> None:
    """Copy ``data`` into ``self``'s storage with PyTorch's shape and cast rules.

    ``mode``: ``"op"`` (the result of ``self op other``: same shape, same-kind cast), ``"copy"``
    (``copy_``: broadcast, any cast) or ``"fill"`` (a constant; may write overlapping memory).
    """
    dst = self._data
    shape = getattr(data, "shape", ())
    if shape != dst.shape:
        try:
            broadcast = _registry.xp.broadcast_shapes(shape, dst.shape)
        except ValueError:
            broadcast = None
        if broadcast != dst.shape:
            if mode == "copy" or broadcast is None:
                raise _size_mismatch(dst.shape, shape)
            raise RuntimeError(
                f"output with shape {list(dst.shape)} doesn't match the broadcast shape "
                f"{list(broadcast)}"
            )
    if mode == "op" and hasattr(data, "dtype") and not _can_cast(data.dtype, dst.dtype):
        raise RuntimeError(
            f"result type {_dt.scalar_name(data.dtype)} can't be cast to "
            f"the desired output type {_dt.scalar_name(dst.dtype)}"
        )
    if not dst.flags.writeable:
        dst = _writable(dst, mode == "fill")
    dst[...] = data


class _SinceVersion:
    """A version counter read relative to the moment an in-place op saved its output.

    The engine expects a saved output at version 0; after ``y.exp_()`` the output *is* ``y``,
    whose counter is already past 0, so the node reads it through this offset.
    """

    __slots__ = ("_vc", "_at")

    def __init__(self, vc) -> None:
        self._vc, self._at = vc, vc.v

    @property
    def v(self) -> int:
        return self._vc.v - self._at


def _adopt(node: Node, self: Tensor) -> None:
    """Point ``node`` (about to become ``self``'s history) at ``self``'s storage and versions."""
    saved = getattr(node, "_saved", None)
    if saved:
        op = node._op
        for j, s in enumerate(saved):
            # Only the first input is ``self`` (PyTorch's original_self): if ``self`` is also
            # passed as another argument (``y.mul_(y)``), that saved operand goes stale and
            # backward raises, as in PyTorch.
            if s is self and op.save_idx[j] == 0:
                old = _wrap(self._data.copy())
                old.grad_fn, old.requires_grad = self.grad_fn, self.requires_grad
                old._output_nr = self._output_nr
                saved[j] = old
                node._versions[j] = 0
    if getattr(node, "_result", None) is not None:
        node._result = self._data  # after the write: the same values, now watched by self's counter


def _set_history(t: Tensor, node: Node, output_nr: int = 0) -> None:
    """Make ``node`` the history of ``t``; ``t.retain_grad()`` follows (as in PyTorch)."""
    old = t.grad_fn
    retained = None
    if old is not None and old._retain is not None:
        retained = old._retain.pop(t._output_nr, None)
    t.grad_fn = node
    t.requires_grad = True
    t._output_nr = output_nr
    if retained is not None and retained() is t:
        t.retain_grad()


def commit(self: Tensor, result: Tensor, mode: str = "op") -> Tensor:
    """Make ``self`` hold ``result``'s value and, when it has one, its history."""
    _check_leaf(self)
    node = result.grad_fn
    if node is None:
        _write(self, result._data, mode)
        self._bump()
        if VOLATILE_SEEN.cell_contents and result._volatile and not self._volatile:
            if not (self.requires_grad and self.grad_fn is None):  # never a parameter
                _make_volatile(self)
        return self
    _adopt(node, self)
    if self.__dict__.get("_view_src") is not None:
        return _commit_view(self, result, mode)
    _write(self, result._data, mode)
    self._bump()
    if getattr(node, "_result", None) is not None:
        node._rvc = _SinceVersion(self._vc)
    _set_history(self, node, result._output_nr)
    return self


# ----------------------------------------------------------------- in-place through views


def _view_chain(view: Tensor) -> tuple:
    """``(root, ops)``: the view ops (``(op, attrs)``, root first) that made ``view``."""
    chain = []
    t = view
    while True:
        src = t.__dict__.get("_view_src")
        if src is None:
            break
        parent, op, attrs = src
        chain.append((op, attrs))
        t = parent
    chain.reverse()
    return t, tuple(chain)


def _replay(chain: tuple, x: Tensor) -> Tensor:
    for op, attrs in chain:
        x = op.public(x, *attrs)
    return x


class CopySlices(Node):
    """Gradient of "base with a view's region replaced by ``src``" (PyTorch's CopySlices)."""

    __slots__ = ("_chain", "_shape", "_dtype")

    def apply(self, grads: list):
        grad = grads[0]
        edges = self.next_functions
        mask = _registry.xp.ones(self._shape, dtype=self._dtype)
        region = _replay(self._chain, _wrap(mask))._data  # constant: no graph needed
        if not region.flags.writeable:
            region = _writable(region, False)  # an expand()-ed view: PyTorch raises too
        region[...] = 0
        g_base = grad * _wrap(mask) if edges[0][0] is not None else None
        g_src = _replay(self._chain, grad) if edges[1][0] is not None else None
        return [g_base, g_src]


def _commit_view(view: Tensor, result: Tensor, mode: str) -> Tensor:
    root, chain = _view_chain(view)
    node = CopySlices()
    node.next_functions = (_registry_edge(root), (result.grad_fn, result._output_nr))
    node._chain, node._shape, node._dtype = chain, root._data.shape, root._data.dtype
    _write(view, result._data, mode)
    view._bump()
    if getattr(result.grad_fn, "_result", None) is not None:
        result.grad_fn._rvc = _SinceVersion(view._vc)
    _set_history(root, node)
    _refresh_view(view, root, chain)
    return view


def _refresh_view(view: Tensor, root: Tensor, chain: tuple) -> None:
    """Re-derive ``view.grad_fn`` from its base's (new) history."""
    view.grad_fn = _replay(chain, root).grad_fn
    view.requires_grad = True
    view._output_nr = 0
    view._view_version = view._vc.v


def refresh_stale_view(view: Tensor):
    """Re-derive the grad_fn of a view whose base (or a sibling view) was written in place.

    Without this, ``v = y[0]; y.mul_(2); v.sum().backward()`` would use the history from before
    the write and give a silently wrong gradient. Returns the (new) grad_fn.
    """
    if view.__dict__.get("_view_src") is None:  # not replayable (e.g. a split output)
        view._view_version = view._vc.v
        return view.grad_fn
    root, chain = _view_chain(view)
    if root.requires_grad:
        with _enable_grad():
            _refresh_view(view, root, chain)
    else:
        view._view_version = view._vc.v
    return view.grad_fn


def _registry_edge(t: Tensor) -> tuple:
    if not t.requires_grad:
        return (None, 0)
    if t.grad_fn is not None:
        return (t.grad_fn, t._output_nr)
    return (t._accumulator(), 0)


# ----------------------------------------------------------------- overwriting ops' nodes


class _Overwrite(Node):
    """Gradient of an op that overwrites ``self``: zero for the old ``self``; a second edge
    (``copy_``'s ``src``, ``fill_``'s 0-d value) gets ``grad`` summed to its shape and dtype."""

    __slots__ = ("_src_shape", "_src_dtype")

    def apply(self, grads: list):
        grad = grads[0]
        edges = self.next_functions
        out = [_wrap(_registry.xp.zeros_like(grad._data)) if edges[0][0] is not None else None]
        if len(edges) == 2:
            g = None
            if edges[1][0] is not None:
                g = grad
                if g._data.shape != self._src_shape:
                    g = _registry.sum_to(g, self._src_shape)
                if g._data.dtype != self._src_dtype:
                    g = g.to(_dt.FROM_NP[self._src_dtype])
            out.append(g)
        return out


class ZeroBackward0(_Overwrite):
    __slots__ = ()


class FillBackward2(_Overwrite):  # fill_(number)
    __slots__ = ()


class FillBackward3(_Overwrite):  # fill_(0-d tensor)
    __slots__ = ()


class CopyBackwards(_Overwrite):
    __slots__ = ()


def _overwrite(self: Tensor, data, cls: type, mode: str, src: Tensor | None = None) -> Tensor:
    """Commit ``data`` over ``self`` with a ``cls`` node (grad mode on, something requires grad)."""
    node = cls()
    if src is None:
        node.next_functions = (_registry_edge(self),)
    else:
        node.next_functions = (_registry_edge(self), _registry_edge(src))
        node._src_shape, node._src_dtype = src._data.shape, src._data.dtype
    result = _wrap(data)
    result.grad_fn = node
    result.requires_grad = True
    return commit(self, result, mode)


# ----------------------------------------------------------------- arithmetic (fast paths)


def _fast(self: Tensor, ufunc, other, slow) -> Tensor:
    """No graph: write ``ufunc(self, other)`` straight into ``self``'s storage.

    Anything NumPy refuses (a cast, a shape, a read-only ``expand``) goes through the
    out-of-place ``slow(self, other)``, so that promotion and errors are PyTorch's.
    """
    _check_leaf(self)
    o = other._data if isinstance(other, Tensor) else other
    dst = self._data
    try:
        ufunc(dst, o, out=dst, casting="same_kind")
    except (TypeError, ValueError):
        if isinstance(other, Tensor):
            shape = _registry.xp.broadcast_shapes  # PyTorch's message, not NumPy's
            try:
                shape(dst.shape, o.shape)
            except ValueError:
                raise _size_mismatch(dst.shape, o.shape) from None
        return commit(self, slow(self, other))
    self._bump()
    return self


def _kind(x) -> str:
    if isinstance(x, Tensor):
        return x._data.dtype.kind
    return "b" if type(x) is bool else "f" if isinstance(x, float) else "i"


def _check_alpha(self: Tensor, other, alpha) -> None:
    """PyTorch's checks of ``alpha`` against the kind of the result's dtype."""
    a, b = self._data.dtype.kind, _kind(other)
    if type(alpha) is bool and not a == b == "b":
        raise RuntimeError("Boolean alpha only supported for Boolean results.")
    if isinstance(alpha, float) and a not in "fc" and b not in "fc":
        raise RuntimeError(
            "For integral input tensors, argument alpha must not be a floating point number."
        )


def add_(self: Tensor, other, *, alpha=1) -> Tensor:
    """Add ``alpha * other`` to ``self`` in place.

    >>> x = fluxion.ones(2)
    >>> x.add_(fluxion.tensor([1.0, 2.0]), alpha=2)
    tensor([3., 5.])
    """
    if alpha != 1 or type(alpha) is not int:
        _check_alpha(self, other, alpha)
    if _tracking(self, other):
        return commit(self, add(self, other, alpha=alpha))
    if alpha != 1:
        # an optimiser's update (p.add_(grad, alpha=-lr)): the product on the arrays, with the
        # promotion of ``other * alpha`` (a Python number is weak), minus the op's call path
        data = getattr(other, "_data", None)
        if data is not None and data.ndim and type(alpha) in (int, float):  # weak, as in ops
            other = _wrap(data * alpha)
        else:
            other = other * alpha
    return _fast(self, _registry.xp.add, other, add)


def sub_(self: Tensor, other, *, alpha=1) -> Tensor:
    """Subtract ``alpha * other`` from ``self`` in place.

    >>> fluxion.ones(2).sub_(fluxion.tensor([1.0, 2.0]), alpha=0.5)
    tensor([0.5000, 0.0000])
    """
    if alpha != 1 or type(alpha) is not int:
        _check_alpha(self, other, alpha)
    if _tracking(self, other):
        return commit(self, sub(self, other, alpha=alpha))
    if alpha != 1:
        other = other * alpha
    return _fast(self, _registry.xp.subtract, other, sub)


def mul_(self: Tensor, other) -> Tensor:
    """Multiply ``self`` by ``other`` in place.

    >>> fluxion.ones(2).mul_(3)
    tensor([3., 3.])
    """
    if _tracking(self, other):
        return commit(self, mul(self, other))
    return _fast(self, _registry.xp.multiply, other, mul)


def div_(self: Tensor, other, *, rounding_mode=None) -> Tensor:
    """Divide ``self`` by ``other`` in place (``rounding_mode``: None, "trunc" or "floor").

    >>> fluxion.tensor([7.0, -7.0]).div_(2, rounding_mode="floor")
    tensor([ 3., -4.])
    """
    if rounding_mode is None and not _tracking(self, other) and self._data.dtype.kind == "f":
        return _fast(self, _registry.xp.true_divide, other, div)
    return commit(self, div(self, other, rounding_mode=rounding_mode))


def pow_(self: Tensor, exponent) -> Tensor:
    """Raise ``self`` to ``exponent`` in place.

    >>> fluxion.tensor([2.0, 3.0]).pow_(2)
    tensor([4., 9.])
    """
    return commit(self, pow(self, exponent))


def floor_divide_(self: Tensor, other) -> Tensor:
    """Divide ``self`` by ``other`` rounding down, in place (``x //= other``).

    >>> fluxion.tensor([7, -7]).floor_divide_(2)
    tensor([ 3, -4])
    """
    return commit(self, floor_divide(self, other))


def remainder_(self: Tensor, other) -> Tensor:
    """Replace ``self`` by ``self % other`` (sign of ``other``), in place (``x %= other``).

    >>> fluxion.tensor([7, -7]).remainder_(3)
    tensor([1, 2])
    """
    return commit(self, remainder(self, other))


def bitwise_and_(self: Tensor, other) -> Tensor:
    """``self &= other`` for integer and bool tensors.

    >>> fluxion.tensor([True, False]).bitwise_and_(fluxion.tensor([True, True]))
    tensor([ True, False])
    """
    return commit(self, bitwise_and(self, other))


def bitwise_or_(self: Tensor, other) -> Tensor:
    """``self |= other`` for integer and bool tensors.

    >>> fluxion.tensor([1, 2]).bitwise_or_(4)
    tensor([5, 6])
    """
    return commit(self, bitwise_or(self, other))


def bitwise_xor_(self: Tensor, other) -> Tensor:
    """``self ^= other`` for integer and bool tensors.

    >>> fluxion.tensor([3, 5]).bitwise_xor_(1)
    tensor([2, 4])
    """
    return commit(self, bitwise_xor(self, other))


def zero_(self: Tensor) -> Tensor:
    """Fill ``self`` with zeros.

    >>> fluxion.ones(2).zero_()
    tensor([0., 0.])
    """
    if _grad_state.enabled and self.requires_grad:
        return _overwrite(self, _registry.xp.zeros((), self._data.dtype), ZeroBackward0, "fill")
    return _fill(self, 0)


def fill_(self: Tensor, value) -> Tensor:
    """Fill ``self`` with ``value`` (a number or a 0-d tensor).

    >>> fluxion.zeros(2).fill_(fluxion.tensor(1.5))
    tensor([1.5000, 1.5000])
    """
    dtype = self._data.dtype
    if isinstance(value, Tensor):
        if value.dim() != 0:
            raise RuntimeError(
                f"fill_ only supports 0-dimension value tensor but got tensor with "
                f"{value.dim()} dimensions."
            )
        if _tracking(self, value) and dtype.kind == "f":
            data = value._data.astype(dtype)
            return _overwrite(self, data, FillBackward3, "fill", value)
        value = value.item()
    if _grad_state.enabled and self.requires_grad:  # a non-leaf: the result is a constant
        return _overwrite(self, _registry.xp.asarray(value).astype(dtype), FillBackward2, "fill")
    return _fill(self, value)


def _fill(self: Tensor, value) -> Tensor:
    _check_leaf(self)
    dst = self._data
    if not dst.flags.writeable:
        dst = _writable(dst, True)
    dst.fill(value)
    self._bump()
    return self


def copy_(self: Tensor, src, non_blocking: bool = False) -> Tensor:
    """Copy ``src`` (broadcast, cast to ``self``'s dtype) into ``self``; return ``self``.

    >>> fluxion.zeros(2, 2).copy_(fluxion.tensor([1, 2]))
    tensor([[1., 2.],
            [1., 2.]])
    """
    if not isinstance(src, Tensor):
        if not isinstance(src, (int, float, bool)):
            raise TypeError(
                f"copy_(): argument 'other' (position 1) must be Tensor, not {type(src).__name__}"
            )
        src = _wrap(_registry.xp.asarray(src))
    if _tracking(self, src) and self._data.dtype.kind == "f":
        return _overwrite(self, src._data, CopyBackwards, "copy", src)
    _check_leaf(self)
    _write(self, src._data, "copy")
    self._bump()
    return self


def clamp_(self: Tensor, min=None, max=None) -> Tensor:
    """Clamp ``self`` into ``[min, max]`` in place.

    >>> fluxion.tensor([-2.0, 0.5, 3.0]).clamp_(-1, 1)
    tensor([-1.0000,  0.5000,  1.0000])
    """
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


def _is_basic(key: tuple) -> bool:
    """Ints, slices, None and ``...`` only: ``self[key]`` is a view."""
    for k in key:
        if hasattr(k, "dtype") or type(k) is bool:
            return False
    return True


def _setitem_shape_error(vshape: tuple, target: tuple, dtype) -> RuntimeError:
    """PyTorch's error when a value of shape ``vshape`` cannot be written to ``target``."""
    vshape = tuple(vshape)
    while len(vshape) > len(target) and vshape[0] == 1:  # leading 1s are dropped first
        vshape = vshape[1:]
    if len(vshape) > len(target):
        return RuntimeError(
            f"expand({_dt.FROM_NP[dtype].legacy_name}{{{list(vshape)}}}, size={list(target)}): "
            f"the number of sizes provided ({len(target)}) must be greater or equal to the "
            f"number of dimensions in the tensor ({len(vshape)})"
        )
    lead = len(target) - len(vshape)
    for i in range(len(target) - 1, lead - 1, -1):
        v = vshape[i - lead]
        if v != 1 and v != target[i]:
            return RuntimeError(
                f"The expanded size of the tensor ({target[i]}) must match the existing size "
                f"({v}) at non-singleton dimension {i}.  Target sizes: {list(target)}.  "
                f"Tensor sizes: {list(vshape)}"
            )
    return RuntimeError(f"cannot write a value of shape {list(vshape)} to shape {list(target)}")


def _fits(vshape: tuple, target: tuple) -> bool:
    vshape = tuple(vshape)
    while len(vshape) > len(target) and vshape[0] == 1:
        vshape = vshape[1:]
    lead = len(target) - len(vshape)
    return lead >= 0 and all(v in (1, t) for v, t in zip(vshape, target[lead:]))


def setitem_(self: Tensor, index, value) -> None:
    """``self[index] = value`` (the engine of ``Tensor.__setitem__``).

    With a graph, as in PyTorch: a basic index writes through a view (``CopySlices``), an index
    that selects all of ``self`` (``...``, ``:``) writes ``self`` itself (``fill_`` from a 0-d
    value or a number, else ``copy_``), and an advanced index records ``IndexPutBackward0``.
    """
    ix = _indexing()
    key = ix.unwrap_index(index, self._data.shape)
    basic = _is_basic(key)
    is_tensor = isinstance(value, Tensor)
    if _tracking(self, value):
        if not basic:
            commit(self, ix.index_put_for_setitem(self, index, value))
            return
        region = ix.getitem(self, index)
        r = region._data
        whole = r.shape == self._data.shape and r.strides == self._data.strides
        target = self if whole else region
        if not r.flags.writeable:
            _writable(r, False)  # PyTorch refuses x[:, 0] = v on an expanded x
        if not is_tensor:
            value = _wrap(_registry.xp.asarray(value))
        elif not _fits(value._data.shape, r.shape):
            raise _setitem_shape_error(value._data.shape, r.shape, value._data.dtype)
        if value._data.ndim == 0 and r.ndim != 0:  # PyTorch's copy_to: fill_ from a 0-d value
            fill_(target, value)
        else:
            if value._data.ndim > r.ndim:  # drop leading 1s
                value = value.reshape(value._data.shape[value._data.ndim - r.ndim :])
            copy_(target, value)
        if not whole and self.__dict__.get("_view_src") is not None:  # self is a view too
            root, chain = _view_chain(self)
            _refresh_view(self, root, chain)
        return
    _check_leaf(self)
    data = value._data if is_tensor else value
    if not basic and is_tensor and data.dtype != self._data.dtype:
        raise RuntimeError(
            f"Index put requires the source and destination dtypes match, got "
            f"{_dt.scalar_name(self._data.dtype)} for the destination and "
            f"{_dt.scalar_name(data.dtype)} for the source."
        )
    dst = self._data
    if not dst.flags.writeable:
        if not basic:
            raise RuntimeError(_OVERLAP_MSG)
        _writable(dst[key], False)  # raises on overlapping writes
        dst = _writable(dst, True)
    try:
        dst[key] = data
    except ValueError:
        target = dst[key].shape
        vshape = getattr(data, "shape", ())
        if basic:
            raise _setitem_shape_error(vshape, target, data.dtype) from None
        raise RuntimeError(
            f"shape mismatch: value tensor of shape {list(vshape)} cannot be broadcast to "
            f"indexing result of shape {list(target)}"
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

_RENAMED: dict = {}


def _renamed(node: Node, name: str) -> Node:
    """Give ``node`` PyTorch's name for the in-place variant (``TBackward1`` for ``t_``)."""
    if node.name() != name:
        cls = _RENAMED.get((type(node), name))
        if cls is None:
            cls = _RENAMED[type(node), name] = type(name, (type(node),), {"__slots__": ()})
        node.__class__ = cls
    return node


def _restride(self: Tensor, new: Tensor, name: str) -> Tensor:
    _check_leaf(self)
    if self.__dict__.get("_view_src") is not None:
        # keep the view chain replayable: ``self`` becomes ``op(self as it was)``
        old = _wrap(self._data)
        old.grad_fn, old.requires_grad, old._vc = self.grad_fn, self.requires_grad, self._vc
        old._view_src = self._view_src
        self._view_src = (old,) + new._view_src[1:]
    self._data = new._data
    if new.grad_fn is not None:  # NOTE: retain_grad() stays with the old node, as in PyTorch
        self.grad_fn = _renamed(new.grad_fn, name)
        self._output_nr = 0
    self._bump()
    return self


def unsqueeze_(self: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dimension at ``dim``, in place."""
    return _restride(self, self.unsqueeze(dim), "UnsqueezeBackward1")


def squeeze_(self: Tensor, dim=None) -> Tensor:
    """Remove size-1 dimensions (all, or those in ``dim``), in place."""
    name = "SqueezeBackward3" if dim is None else "SqueezeBackward4"
    if isinstance(dim, (tuple, list)):
        name = "SqueezeBackward5"
    return _restride(self, self.squeeze(dim), name)


def t_(self: Tensor) -> Tensor:
    """Transpose a 2-D tensor in place."""
    return _restride(self, self.t(), "TBackward1")
