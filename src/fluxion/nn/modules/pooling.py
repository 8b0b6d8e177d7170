"""Pooling layers: ``MaxPool1d/2d``, ``AvgPool1d/2d``, ``AdaptiveAvgPool1d/2d``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...tensor import Tensor
from .. import functional as F
from ..module import Module

__all__ = [
    "MaxPool1d",
    "MaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
]


def _single(value) -> tuple:
    return tuple(value) if hasattr(value, "__iter__") else (value,)


class _MaxPoolNd(Module):
    """Shared state, ``forward`` and ``repr`` of the max-pooling layers (arguments kept as given).

    Subclasses name their functional in ``_pool`` (``F.max_pool1d`` or ``F.max_pool2d``).
    """

    _pool: Callable[..., Any]

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        dilation=1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )

    def forward(self, input: Tensor):
        return self._pool(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            ceil_mode=self.ceil_mode,
            return_indices=self.return_indices,
        )


class MaxPool1d(_MaxPoolNd):
    """Take the maximum over sliding windows of ``(N, C, L)`` or ``(C, L)`` input.

    Args:
        kernel_size: Window length.
        stride: Window step (default ``kernel_size``).
        padding: Implicit ``-inf`` padding on both sides (at most half the kernel).
        dilation: Spacing between window elements.
        return_indices: Also return the argmax indices (into each unpadded row).
        ceil_mode: Round the output length up instead of down.

    >>> fluxion.nn.MaxPool1d(2)(fluxion.tensor([[1.0, 3.0, 2.0, 0.0]]))
    tensor([[3., 2.]])
    """

    _pool = staticmethod(F.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """Take the maximum over sliding 2-D windows of ``(N, C, H, W)`` or ``(C, H, W)`` input.

    Args:
        kernel_size: Int or ``(kH, kW)``.
        stride: Int or pair (default ``kernel_size``).
        padding: Int or pair of implicit ``-inf`` padding (at most half the kernel).
        dilation: Int or pair: spacing between window elements.
        return_indices: Also return the argmax as flat indices into each ``H * W`` plane.
        ceil_mode: Round the output size up instead of down.

    >>> pool = fluxion.nn.MaxPool2d(2)
    >>> pool
    MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
    >>> pool(fluxion.arange(16.0).reshape(1, 1, 4, 4))
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
    """

    _pool = staticmethod(F.max_pool2d)


class _AvgPoolNd(Module):
    """Shared ``repr`` of the average-pooling layers."""

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """Average over sliding windows of ``(N, C, L)`` or ``(C, L)`` input.

    Args:
        kernel_size: Window length.
        stride: Window step (default ``kernel_size``).
        padding: Implicit zero padding on both sides.
        ceil_mode: Round the output length up instead of down.
        count_include_pad: Count the zero padding in each window's divisor.

    >>> fluxion.nn.AvgPool1d(2)(fluxion.tensor([[1.0, 3.0, 2.0, 0.0]]))
    tensor([[2., 1.]])
    """

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__()
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool1d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
        )


class AvgPool2d(_AvgPoolNd):
    """Average over sliding 2-D windows of ``(N, C, H, W)`` or ``(C, H, W)`` input.

    Args:
        kernel_size: Int or ``(kH, kW)``.
        stride: Int or pair (default ``kernel_size``).
        padding: Int or pair of implicit zero padding.
        ceil_mode: Round the output size up instead of down.
        count_include_pad: Count the zero padding in each window's divisor.
        divisor_override: Divide every window sum by this instead.

    >>> fluxion.nn.AvgPool2d(2)(fluxion.arange(16.0).reshape(1, 1, 4, 4))
    tensor([[[[ 2.5000,  4.5000],
              [10.5000, 12.5000]]]])
    """

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )


class _AdaptiveAvgPoolNd(Module):
    """Shared ``output_size`` state and ``repr`` of the adaptive average-pooling layers."""

    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Average-pool ``(N, C, L)`` or ``(C, L)`` input to length ``output_size``.

    >>> fluxion.nn.AdaptiveAvgPool1d(2)(fluxion.tensor([[1.0, 3.0, 2.0, 0.0]]))
    tensor([[2., 1.]])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Average-pool ``(N, C, H, W)`` or ``(C, H, W)`` input to ``output_size``.

    Args:
        output_size: Int or ``(out_h, out_w)``; ``None`` in the pair keeps that input size.

    >>> pool = fluxion.nn.AdaptiveAvgPool2d((1, 1))
    >>> pool(fluxion.arange(16.0).reshape(1, 1, 4, 4))
    tensor([[[[7.5000]]]])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(input, self.output_size)
