"""``Flatten`` and ``Unflatten``: reshape a range of dims to one dim and back."""

from __future__ import annotations

from collections.abc import Sequence

from ...tensor import Tensor
from ..module import Module

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    """Flatten dims ``start_dim`` to ``end_dim`` (inclusive) into one dim.

    Args:
        start_dim: First dim to flatten (default 1: keep the batch dim).
        end_dim: Last dim to flatten.

    >>> fluxion.nn.Flatten()(fluxion.ones(2, 3, 4)).shape
    fluxion.Size([2, 12])
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expand dim ``dim`` into the shape ``unflattened_size``.

    Args:
        dim: The dim to expand.
        unflattened_size: Tuple (or list) of ints whose product is ``input.shape[dim]``; one
            entry may be ``-1``.

    >>> fluxion.nn.Unflatten(1, (3, 4))(fluxion.ones(2, 12)).shape
    fluxion.Size([2, 3, 4])
    """

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(
                "unflattened_size must be a tuple of ints, but found type "
                f"{type(unflattened_size).__name__}"
            )
        for i, size in enumerate(unflattened_size):
            if not isinstance(size, int):
                raise TypeError(
                    "unflattened_size must be tuple of ints, but found element of type "
                    f"{type(size).__name__} at pos {i}"
                )
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input: Tensor) -> Tensor:
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
