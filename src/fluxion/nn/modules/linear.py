"""Affine layers: ``Identity``, ``Linear`` and ``Bilinear`` (PyTorch's names, arguments, init)."""

from __future__ import annotations

import math
from typing import Any

from ...creation import empty
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter
from ._layer_params import optional_parameter, reset_kaiming_uniform

__all__ = ["Identity", "Linear", "Bilinear"]


class Identity(Module):
    """Return the input unchanged (a placeholder; any constructor arguments are ignored).

    >>> layer = fluxion.nn.Identity(54, unused="argument")
    >>> x = fluxion.ones(2)
    >>> layer(x) is x
    True
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Linear(Module):
    """Apply ``y = x @ weight.T + bias``.

    ``weight`` is ``(out_features, in_features)`` and ``bias`` ``(out_features,)``; both are
    initialised like PyTorch: ``kaiming_uniform_(weight, a=sqrt(5))``, then
    ``bias ~ U(-1/sqrt(in_features), 1/sqrt(in_features))``.

    Args:
        in_features: Size of each input sample's last dim.
        out_features: Size of each output sample's last dim.
        bias: Learn an additive bias.
        device, dtype: Where and of what type the parameters are created.

    >>> layer = fluxion.nn.Linear(3, 4)
    >>> layer
    Linear(in_features=3, out_features=4, bias=True)
    >>> layer(fluxion.ones(2, 3)).shape
    fluxion.Size([2, 4])
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(empty((out_features, in_features), device=device, dtype=dtype))
        optional_parameter(self, "bias", bias, out_features, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise ``weight`` and ``bias`` with PyTorch's default scheme."""
        reset_kaiming_uniform(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Bilinear(Module):
    """Apply ``y[..., o] = x1[..., :] @ weight[o] @ x2[..., :] + bias[o]``.

    ``weight`` is ``(out_features, in1_features, in2_features)``; weight and bias are drawn from
    ``U(-1/sqrt(in1_features), 1/sqrt(in1_features))``, as in PyTorch.

    Args:
        in1_features: Size of the first input's last dim.
        in2_features: Size of the second input's last dim.
        out_features: Size of the output's last dim.
        bias: Learn an additive bias.
        device, dtype: Where and of what type the parameters are created.

    >>> layer = fluxion.nn.Bilinear(2, 3, 4)
    >>> layer(fluxion.ones(5, 2), fluxion.ones(5, 3)).shape
    fluxion.Size([5, 4])
    """

    def __init__(
        self,
        in1_features: int,
        in2_features: int,
        out_features: int,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = Parameter(
            empty((out_features, in1_features, in2_features), device=device, dtype=dtype)
        )
        optional_parameter(self, "bias", bias, out_features, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise ``weight`` and ``bias`` from ``U(-1/sqrt(in1), 1/sqrt(in1))``."""
        if self.in1_features <= 0:
            raise ValueError(
                f"in1_features must be > 0, but got (in1_features={self.in1_features})"
            )
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )
