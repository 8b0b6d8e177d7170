"""The legacy (PyTorch 0.1-0.3) ``Variable`` and its ``volatile`` flag.

``Variable(tensor)`` returns a :class:`fluxion.Tensor` that shares storage with ``tensor`` (every
tensor is a Variable, so ``isinstance(t, Variable)`` holds for any tensor).

``volatile`` follows the old autograd notes exactly: a volatile tensor never requires grad, and
any op with at least one volatile input produces a volatile output with no graph (``.creator`` /
``.grad_fn`` is None), even when other inputs (model parameters) require grad. Nothing is saved
for backward, so inference on a volatile input keeps no intermediate values alive. Unlike
``no_grad``, volatility travels with the data: one volatile input is enough, and the model's
parameters need no change.

>>> from fluxion.autograd import Variable
>>> w = fluxion.ones(3, requires_grad=True)
>>> x = Variable(fluxion.tensor([1.0, 2.0, 3.0]), volatile=True)
>>> y = (w * x).sum()
>>> y.volatile, y.requires_grad, y.creator is None
(True, False, True)
>>> y = (w * Variable(fluxion.tensor([1.0, 2.0, 3.0]))).sum()
>>> y.volatile, y.requires_grad, y.creator is y.grad_fn
(False, True, True)
"""

from __future__ import annotations

from typing import Any

__all__ = ["Variable"]


class _VariableMeta(type):
    """``isinstance(t, Variable)`` is true for every tensor, as in PyTorch."""

    def __instancecheck__(cls, obj: Any) -> bool:
        from ..tensor import Tensor

        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableMeta):
    """Wrap a tensor as a legacy ``Variable``: a tensor sharing storage with ``data``.

    Args:
        data: The tensor to wrap (its storage and version counter are shared; ``.data`` of the
            result is ``data``'s values).
        requires_grad: Make the result a leaf that requires grad (floating point only).
        volatile: Make the result volatile (legacy inference mode; see the module docstring).

    Returns:
        A :class:`fluxion.Tensor` (a leaf: the history of ``data``, if any, is not carried over).

    >>> v = Variable(fluxion.ones(2), requires_grad=True)
    >>> (v * 3).sum().backward()
    >>> v.grad
    tensor([3., 3.])
    """

    def __new__(cls, data: Any, requires_grad: bool = False, volatile: bool = False) -> Any:
        from ..tensor import Tensor

        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        if volatile and requires_grad:
            raise ValueError("Variable can't be volatile and require_grad at the same time!")
        t = data.detach()
        t.volatile = bool(volatile)
        if requires_grad:
            t.requires_grad_(True)
        return t
