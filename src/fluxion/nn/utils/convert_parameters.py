"""Flatten parameters to one vector and back (``torch.nn.utils.parameters_to_vector``)."""

from __future__ import annotations

from collections.abc import Iterable

from ... import ops as _ops
from ...tensor import Tensor
from ..module import typename

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """Return one 1-D tensor: every parameter flattened and concatenated, in order.

    The result is differentiable with respect to the parameters.

    >>> p = [fluxion.ones(2, 2), fluxion.zeros(3)]
    >>> fluxion.nn.utils.parameters_to_vector(p)
    tensor([1., 1., 1., 1., 0., 0., 0.])
    """
    return _ops.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy slices of the 1-D ``vec`` into the parameters (their ``.data`` then views ``vec``).

    >>> p = [fluxion.zeros(2), fluxion.zeros(1)]
    >>> fluxion.nn.utils.vector_to_parameters(fluxion.tensor([1.0, 2.0, 3.0]), p)
    >>> p
    [tensor([1., 2.]), tensor([3.])]
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {typename(vec)}")
    pointer = 0
    for param in parameters:
        n = param.numel()
        param.data = vec[pointer : pointer + n].view_as(param).data
        pointer += n
