"""Per-sample normalisation layers: ``LayerNorm`` and ``GroupNorm`` (PyTorch's API)."""

from __future__ import annotations

from typing import Any

from ...tensor import Tensor
from .. import functional as F
from ..module import Module
from ._layer_params import optional_parameter, reset_affine

__all__ = ["LayerNorm", "GroupNorm"]


class LayerNorm(Module):
    """Normalise each sample over its last dimensions (``normalized_shape``).

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with the statistics of each sample's
    trailing ``normalized_shape`` elements; ``weight`` and ``bias`` (init 1 and 0) have the shape
    ``normalized_shape``.

    Args:
        normalized_shape: Trailing shape to normalise over (an int or a sequence of ints).
        eps: Added to the variance before the square root.
        elementwise_affine: Learn ``weight`` (and ``bias``, unless ``bias=False``).
        bias: Learn ``bias`` (when ``elementwise_affine``).
        device, dtype: Where and of what type the parameters are created.

    >>> ln = fluxion.nn.LayerNorm(2)
    >>> ln
    LayerNorm((2,), eps=1e-05, elementwise_affine=True, bias=True)
    >>> ln(fluxion.tensor([[1.0, 3.0]])).detach()
    tensor([[-1.0000,  1.0000]])
    """

    def __init__(
        self,
        normalized_shape,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        shape = self.normalized_shape
        optional_parameter(self, "weight", elementwise_affine, shape, device, dtype)
        optional_parameter(self, "bias", elementwise_affine and bias, shape, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Set ``weight`` to 1 and ``bias`` to 0."""
        reset_affine(self, self.elementwise_affine)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )


class GroupNorm(Module):
    """Normalise each sample over groups of channels of an ``(N, C, *)`` input.

    The ``C`` channels are split into ``num_groups`` groups; each group of each sample is
    normalised with its own statistics, then scaled and shifted per channel.

    Args:
        num_groups: Number of groups; must divide ``num_channels``.
        num_channels: Number of channels ``C``.
        eps: Added to the variance before the square root.
        affine: Learn a per-channel ``weight`` (init 1) and ``bias`` (init 0).
        bias: With ``affine``, also learn ``bias`` (keyword only).
        device, dtype: Where and of what type the parameters are created.

    >>> gn = fluxion.nn.GroupNorm(1, 2)
    >>> gn
    GroupNorm(1, 2, eps=1e-05, affine=True, bias=True)
    >>> gn(fluxion.tensor([[[1.0], [3.0]]])).detach()
    tensor([[[-1.0000],
             [ 1.0000]]])
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(
                f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})"
            )
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        optional_parameter(self, "weight", affine, num_channels, device, dtype)
        optional_parameter(self, "bias", affine and bias, num_channels, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Set ``weight`` to 1 and ``bias`` to 0."""
        reset_affine(self, self.affine)

    def forward(self, input: Tensor) -> Tensor:
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )
