"""Convolution layers: ``Conv1d``, ``Conv2d``, ``ConvTranspose1d``, ``ConvTranspose2d``."""

from __future__ import annotations

from collections.abc import Sequence

from ...creation import empty
from ...tensor import Tensor
from .. import functional as F
from ..module import Module
from ..parameter import Parameter
from ._layer_params import optional_parameter, reset_kaiming_uniform

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]


def _ntuple(value, n: int) -> tuple:
    """``(value,) * n`` for a scalar, ``tuple(value)`` for an iterable (PyTorch's ``_pair``)."""
    if isinstance(value, Sequence) or hasattr(value, "__iter__"):
        return tuple(value)
    return (value,) * n


class _ConvNd(Module):
    """Shared state, checks, initialisation and ``repr`` of the convolution layers."""

    _nd = 0

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: tuple,
        stride: tuple,
        padding: str | tuple,
        dilation: tuple,
        transposed: bool,
        output_padding: tuple,
        groups: int,
        bias: bool,
        padding_mode: str,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if isinstance(padding, str):
            valid_padding_strings = {"same", "valid"}  # a set, printed as PyTorch prints it
            if padding not in valid_padding_strings:
                raise ValueError(
                    f"Invalid padding string {padding!r}, should be one of {valid_padding_strings}"
                )
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        valid_padding_modes = {"zeros", "reflect", "replicate", "circular"}
        if padding_mode not in valid_padding_modes:
            raise ValueError(
                f"padding_mode must be one of {valid_padding_modes}, but got "
                f"padding_mode='{padding_mode}'"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = output_padding
        self.groups = groups
        self.padding_mode = padding_mode
        # F.pad's argument for the non-zero padding modes: last dim first, (left, right) pairs
        if isinstance(padding, str):
            pads = [0, 0] * len(kernel_size)
            if padding == "same":
                for i, (d, k) in enumerate(zip(dilation, kernel_size)):
                    total = d * (k - 1)
                    j = len(kernel_size) - 1 - i
                    pads[2 * j], pads[2 * j + 1] = total // 2, total - total // 2
            self._reversed_padding_repeated_twice = pads
        else:
            self._reversed_padding_repeated_twice = [p for p in reversed(padding) for _ in (0, 1)]
        if transposed:
            shape = (in_channels, out_channels // groups, *kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *kernel_size)
        self.weight = Parameter(empty(shape, device=device, dtype=dtype))
        optional_parameter(self, "bias", bias, out_channels, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise like PyTorch: ``kaiming_uniform_(weight, a=sqrt(5))``, bias uniform."""
        reset_kaiming_uniform(self.weight, self.bias)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        s += f", stride={self.stride}"
        if self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    """A convolution whose ``forward`` pads (non-zero modes) and calls ``F.conv{nd}d``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
        n = self._nd
        super().__init__(
            in_channels,
            out_channels,
            _ntuple(kernel_size, n),
            _ntuple(stride, n),
            padding if isinstance(padding, str) else _ntuple(padding, n),
            _ntuple(dilation, n),
            False,
            (0,) * n,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )

    def _conv_forward(self, input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        conv = F.conv1d if self._nd == 1 else F.conv2d
        if self.padding_mode != "zeros":
            padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return conv(padded, weight, bias, self.stride, 0, self.dilation, self.groups)
        return conv(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input: Tensor) -> Tensor:
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_Conv):
    """Apply a 1-D convolution over ``(N, C_in, L)`` or ``(C_in, L)`` input.

    Args:
        in_channels: Channels of the input.
        out_channels: Channels of the output.
        kernel_size: Length of the kernel.
        stride: Step of the kernel.
        padding: Amount added to both sides, or ``'valid'`` (none) or ``'same'`` (output length
            equals input length; stride 1 only).
        dilation: Spacing between kernel elements.
        groups: Split channels into this many independent groups.
        bias: Learn an additive bias.
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
        device, dtype: Where and of what type the parameters are created.

    >>> conv = fluxion.nn.Conv1d(2, 4, 3, padding="same")
    >>> conv
    Conv1d(2, 4, kernel_size=(3,), stride=(1,), padding=same)
    >>> conv(fluxion.ones(1, 2, 10)).shape
    fluxion.Size([1, 4, 10])
    """

    _nd = 1


class Conv2d(_Conv):
    """Apply a 2-D convolution over ``(N, C_in, H, W)`` or ``(C_in, H, W)`` input.

    Args:
        in_channels: Channels of the input.
        out_channels: Channels of the output.
        kernel_size: Int or ``(kH, kW)``.
        stride: Int or pair: step of the kernel.
        padding: Int or pair added to both sides, or ``'valid'`` or ``'same'`` (stride 1 only).
        dilation: Int or pair: spacing between kernel elements.
        groups: Split channels into this many independent groups.
        bias: Learn an additive bias.
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
        device, dtype: Where and of what type the parameters are created.

    >>> conv = fluxion.nn.Conv2d(1, 6, 5)
    >>> conv
    Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))
    >>> conv(fluxion.ones(2, 1, 28, 28)).shape
    fluxion.Size([2, 6, 24, 24])
    """

    _nd = 2


class _ConvTransposeNd(_ConvNd):
    """A transposed convolution: ``forward(input, output_size=None)`` calls
    ``F.conv_transpose{nd}d``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups: int = 1,
        bias: bool = True,
        dilation=1,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
        if padding_mode != "zeros":
            raise ValueError(
                f'Only "zeros" padding mode is supported for {self.__class__.__name__}'
            )
        n = self._nd
        super().__init__(
            in_channels,
            out_channels,
            _ntuple(kernel_size, n),
            _ntuple(stride, n),
            _ntuple(padding, n),
            _ntuple(dilation, n),
            True,
            _ntuple(output_padding, n),
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )

    def _output_padding(self, input: Tensor, output_size) -> tuple:
        """The ``output_padding`` that makes the output ``output_size`` (PyTorch's rule)."""
        if output_size is None:
            return self.output_padding
        n = self._nd
        non_spatial = 2 if input.ndim == n + 2 else 1
        if len(output_size) == non_spatial + n:
            output_size = output_size[non_spatial:]
        if len(output_size) != n:
            raise ValueError(
                f"ConvTranspose{n}D: for {input.ndim}D input, output_size must have {n} or "
                f"{non_spatial + n} elements (got {len(output_size)})"
            )
        spatial = tuple(input.shape[non_spatial:])
        min_sizes = [
            (spatial[d] - 1) * self.stride[d]
            - 2 * self.padding[d]
            + self.dilation[d] * (self.kernel_size[d] - 1)
            + 1
            for d in range(n)
        ]
        max_sizes = [m + s - 1 for m, s in zip(min_sizes, self.stride)]
        for size, lo, hi in zip(output_size, min_sizes, max_sizes):
            if size < lo or size > hi:
                raise ValueError(
                    f"requested an output size of {output_size}, but valid sizes range from "
                    f"{min_sizes} to {max_sizes} (for an input of torch.Size({list(spatial)}))"
                )
        return tuple(s - m for s, m in zip(output_size, min_sizes))

    def forward(self, input: Tensor, output_size: Sequence[int] | None = None) -> Tensor:
        if self.padding_mode != "zeros":
            raise ValueError(f"Only `zeros` padding mode is supported for ConvTranspose{self._nd}d")
        output_padding = self._output_padding(input, output_size)
        conv = F.conv_transpose1d if self._nd == 1 else F.conv_transpose2d
        return conv(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            output_padding,
            self.groups,
            self.dilation,
        )


class ConvTranspose1d(_ConvTransposeNd):
    """Apply a 1-D transposed convolution (the gradient of ``Conv1d`` with respect to its input).

    ``weight`` is ``(in_channels, out_channels / groups, kL)``. ``forward(input, output_size)``
    picks the ``output_padding`` that gives the requested length.

    Args:
        in_channels: Channels of the input.
        out_channels: Channels of the output.
        kernel_size: Length of the kernel.
        stride: Step of the kernel (upsampling factor).
        padding: ``dilation * (kernel_size - 1) - padding`` is cut from both output ends.
        output_padding: Extra length added to one side of the output.
        groups: Split channels into this many independent groups.
        bias: Learn an additive bias.
        dilation: Spacing between kernel elements.
        padding_mode: Only ``'zeros'``.
        device, dtype: Where and of what type the parameters are created.

    >>> up = fluxion.nn.ConvTranspose1d(4, 2, 3, stride=2)
    >>> up(fluxion.ones(1, 4, 5)).shape
    fluxion.Size([1, 2, 11])
    >>> up(fluxion.ones(1, 4, 5), output_size=[12]).shape
    fluxion.Size([1, 2, 12])
    """

    _nd = 1


class ConvTranspose2d(_ConvTransposeNd):
    """Apply a 2-D transposed convolution (the gradient of ``Conv2d`` with respect to its input).

    ``weight`` is ``(in_channels, out_channels / groups, kH, kW)``. ``forward(input,
    output_size)`` picks the ``output_padding`` that gives the requested height and width.

    Args:
        in_channels: Channels of the input.
        out_channels: Channels of the output.
        kernel_size: Int or pair.
        stride: Int or pair (upsampling factor).
        padding: Int or pair: ``dilation * (kernel_size - 1) - padding`` is cut from both sides.
        output_padding: Int or pair: extra size added to one side of the output.
        groups: Split channels into this many independent groups.
        bias: Learn an additive bias.
        dilation: Int or pair: spacing between kernel elements.
        padding_mode: Only ``'zeros'``.
        device, dtype: Where and of what type the parameters are created.

    >>> up = fluxion.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1)
    >>> up
    ConvTranspose2d(4, 2, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))
    >>> up(fluxion.ones(1, 4, 5, 5), output_size=(10, 10)).shape
    fluxion.Size([1, 2, 10, 10])
    """

    _nd = 2
