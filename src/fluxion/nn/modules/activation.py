"""Activation layers: thin modules over ``fluxion.nn.functional`` (PyTorch's names and reprs)."""

from __future__ import annotations

import warnings

from ...tensor import Tensor
from .. import functional as F
from ..module import Module

__all__ = [
    "ReLU",
    "ReLU6",
    "Hardtanh",
    "LeakyReLU",
    "ELU",
    "GELU",
    "SiLU",
    "Mish",
    "Sigmoid",
    "Tanh",
    "Softplus",
    "Softmax",
    "LogSoftmax",
]


def _inplace_str(inplace: bool, sep: str = ", ") -> str:
    return f"{sep}inplace=True" if inplace else ""


class ReLU(Module):
    """Apply ``max(x, 0)`` elementwise.

    Args:
        inplace: Overwrite the input instead of allocating the output.

    >>> fluxion.nn.ReLU()(fluxion.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace, "")


class Hardtanh(Module):
    """Clamp elementwise to ``[min_val, max_val]`` (gradient 0 at and beyond the bounds).

    Args:
        min_val: Lower bound.
        max_val: Upper bound; must be greater than ``min_val``.
        inplace: Overwrite the input instead of allocating the output.
        min_value, max_value: Deprecated spellings of ``min_val`` and ``max_val``.

    >>> fluxion.nn.Hardtanh(-2.0, 2.0)(fluxion.tensor([-3.0, 1.0, 3.0]))
    tensor([-2.,  1.,  2.])
    """

    def __init__(
        self,
        min_val: float = -1.0,
        max_val: float = 1.0,
        inplace: bool = False,
        min_value: float | None = None,
        max_value: float | None = None,
    ) -> None:
        super().__init__()
        if min_value is not None:
            warnings.warn(
                "keyword argument `min_value` is deprecated and renamed to `min_val`",
                FutureWarning,
                stacklevel=2,
            )
            min_val = min_value
        if max_value is not None:
            warnings.warn(
                "keyword argument `max_value` is deprecated and renamed to `max_val`",
                FutureWarning,
                stacklevel=2,
            )
            max_val = max_value
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace
        if self.max_val <= self.min_val:
            raise AssertionError(
                f"max_val ({self.max_val}) must be greater than min_val ({self.min_val})"
            )

    def forward(self, input: Tensor) -> Tensor:
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace_str(self.inplace)}"


class ReLU6(Hardtanh):
    """Apply ``min(max(x, 0), 6)`` elementwise.

    >>> fluxion.nn.ReLU6()(fluxion.tensor([-1.0, 3.0, 8.0]))
    tensor([0., 3., 6.])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace, "")


class LeakyReLU(Module):
    """Apply ``x if x > 0 else negative_slope * x`` elementwise.

    Args:
        negative_slope: Slope for negative inputs.
        inplace: Overwrite the input instead of allocating the output.

    >>> fluxion.nn.LeakyReLU(0.1)(fluxion.tensor([-1.0, 2.0]))
    tensor([-0.1000,  2.0000])
    """

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}{_inplace_str(self.inplace)}"


class ELU(Module):
    """Apply ``x if x > 0 else alpha * (exp(x) - 1)`` elementwise.

    Args:
        alpha: Scale of the negative part.
        inplace: Overwrite the input instead of allocating the output.

    >>> fluxion.nn.ELU()(fluxion.tensor([-1.0, 2.0]))
    tensor([-0.6321,  2.0000])
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace_str(self.inplace)}"


class GELU(Module):
    """Apply the Gaussian error linear unit ``x * Phi(x)``.

    Args:
        approximate: ``'none'`` (exact, with erf) or ``'tanh'``.

    >>> fluxion.nn.GELU()(fluxion.tensor([0.0, 1.0]))
    tensor([0.0000, 0.8413])
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """Apply ``x * sigmoid(x)`` elementwise (swish).

    >>> fluxion.nn.SiLU()(fluxion.tensor([0.0, 1.0]))
    tensor([0.0000, 0.7311])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.silu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace, "")


class Mish(Module):
    """Apply ``x * tanh(softplus(x))`` elementwise.

    >>> fluxion.nn.Mish()(fluxion.tensor([0.0, 1.0]))
    tensor([0.0000, 0.8651])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.mish(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace, "")


class Sigmoid(Module):
    """Apply ``1 / (1 + exp(-x))`` elementwise.

    >>> fluxion.nn.Sigmoid()(fluxion.tensor([0.0]))
    tensor([0.5000])
    """

    def forward(self, input: Tensor) -> Tensor:
        return input.sigmoid()


class Tanh(Module):
    """Apply the hyperbolic tangent elementwise.

    >>> fluxion.nn.Tanh()(fluxion.tensor([0.0]))
    tensor([0.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return input.tanh()


class Softplus(Module):
    """Apply ``log(1 + exp(beta * x)) / beta`` (the identity where ``beta * x > threshold``).

    Args:
        beta: Sharpness.
        threshold: Above this value of ``beta * x`` the output is ``x``.

    >>> fluxion.nn.Softplus()(fluxion.tensor([0.0]))
    tensor([0.6931])
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    """Apply softmax along ``dim``: values in (0, 1) that sum to 1.

    Args:
        dim: The dimension to normalise (``None``: PyTorch's deprecated implicit choice).

    >>> fluxion.nn.Softmax(dim=0)(fluxion.tensor([0.0, 0.0]))
    tensor([0.5000, 0.5000])
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """Apply ``log(softmax(x))`` along ``dim``, computed stably.

    Args:
        dim: The dimension to normalise (``None``: PyTorch's deprecated implicit choice).

    >>> fluxion.nn.LogSoftmax(dim=0)(fluxion.tensor([0.0, 0.0]))
    tensor([-0.6931, -0.6931])
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
