"""``Parameter``: a tensor that a :class:`~fluxion.nn.Module` registers as one of its weights."""

from __future__ import annotations

from typing import Any

from ..creation import empty
from ..tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A tensor that becomes a module parameter when assigned as a :class:`Module` attribute.

    It shares storage (and the in-place version counter) with ``data``, is a graph leaf, and
    requires grad unless ``requires_grad=False``. Ops on a parameter return plain tensors.

    Args:
        data: The initial value (default: an empty float tensor).
        requires_grad: Whether the parameter requires gradient (default ``True``).

    >>> p = fluxion.nn.Parameter(fluxion.ones(2))
    >>> p
    Parameter containing:
    tensor([1., 1.], requires_grad=True)
    >>> isinstance(p, fluxion.Tensor), type(p * 2).__name__
    (True, 'Tensor')
    """

    __slots__ = ()

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> Parameter:
        if data is None:
            data = empty(0)
        elif not isinstance(data, Tensor):
            raise TypeError(
                f"Parameter(): data must be a Tensor, but got {type(data).__name__}; wrap it "
                "with fluxion.tensor(...) first"
            )
        # detach() aliases the storage and shares the version counter, cut out of any graph;
        # the alias then becomes a Parameter (same slot layout, so the class can be swapped).
        t = data.detach()
        t.__class__ = cls
        if requires_grad:
            t.requires_grad_(True)
        return t

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        pass  # everything happened in __new__ (Tensor.__init__ would reallocate)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo: dict) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.data.clone(), self.requires_grad)
        if self.grad is not None:
            result.grad = self.grad.clone()
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, proto: Any):
        return (Parameter, (self.detach(), self.requires_grad))
