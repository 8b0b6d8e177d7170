"""``Dropout``: zero random elements while training (``fluxion.nn.functional.dropout``)."""

from __future__ import annotations

from ...tensor import Tensor
from .. import functional as F
from ..module import Module

__all__ = ["Dropout"]


class _DropoutNd(Module):
    """Shared ``p``/``inplace`` state, its check and ``repr``."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability ``p`` in training mode, scaling the rest by
    ``1 / (1 - p)``; pass the input through unchanged in eval mode.

    Args:
        p: Probability of zeroing an element.
        inplace: Overwrite the input instead of allocating the output.

    >>> drop = fluxion.nn.Dropout(0.5)
    >>> x = fluxion.ones(4)
    >>> drop.eval()(x) is x
    True
    >>> _ = fluxion.manual_seed(0)
    >>> set(drop.train()(x).tolist()) <= {0.0, 2.0}
    True
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)
