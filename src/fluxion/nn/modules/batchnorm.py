"""Batch normalisation layers: ``BatchNorm1d``, ``BatchNorm2d``, ``BatchNorm3d`` (PyTorch's API).

The layers hold the affine parameters and the running statistics and call
``fluxion.nn.functional.batch_norm``; the running statistics are updated there, in place.
"""

from __future__ import annotations

from typing import Any

from ... import int64
from ...creation import ones, tensor, zeros
from ...tensor import Tensor
from .. import functional as F
from ..module import Module
from ._layer_params import optional_parameter, reset_affine

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]


class _NormBase(Module):
    """Parameters and running-statistics buffers shared by the batch-norm layers."""

    _version = 2  # version 2 added num_batches_tracked (see _load_from_state_dict)

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        optional_parameter(self, "weight", affine, num_features, device, dtype)
        optional_parameter(self, "bias", affine and bias, num_features, device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("running_var", ones(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """Reset the running mean to 0, the running variance to 1 and the batch count to 0."""
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """Reset the running statistics, ``weight`` to 1 and ``bias`` to 0."""
        self.reset_running_stats()
        reset_affine(self, self.affine)

    def _check_input_dim(self, input: Tensor) -> None:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )

    def _load_from_state_dict(
        self,
        state_dict: dict,
        prefix: str,
        local_metadata: dict,
        strict: bool,
        missing_keys: list,
        unexpected_keys: list,
        error_msgs: list,
    ) -> None:
        version = local_metadata.get("version", None)
        if (version is None or version < 2) and self.track_running_stats:
            # checkpoints written before num_batches_tracked existed: keep the current count
            key = prefix + "num_batches_tracked"
            if key not in state_dict:
                nbt = self.num_batches_tracked
                state_dict[key] = nbt if nbt is not None else tensor(0, dtype=int64)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )


class _BatchNorm(_NormBase):
    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked)
        # eval mode normalises with the running statistics when there are any
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )


class BatchNorm1d(_BatchNorm):
    """Normalise each feature of a ``(N, C)`` or ``(N, C, L)`` input over the batch.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``, with the batch statistics in training
    mode (the running estimates are updated with ``momentum``; ``momentum=None`` keeps a
    cumulative average) and the running estimates in eval mode.

    Args:
        num_features: Number of features ``C``.
        eps: Added to the variance before the square root.
        momentum: Weight of each new batch in the running statistics, or None for the
            cumulative moving average.
        affine: Learn a per-feature ``weight`` (init 1) and ``bias`` (init 0).
        bias: With ``affine``, also learn ``bias`` (keyword only).
        track_running_stats: Keep ``running_mean``, ``running_var`` and
            ``num_batches_tracked`` buffers; without them batch statistics are used always.
        device, dtype: Where and of what type parameters and buffers are created.

    >>> bn = fluxion.nn.BatchNorm1d(2)
    >>> bn
    BatchNorm1d(2, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    >>> bn(fluxion.tensor([[1.0, 2.0], [3.0, 6.0]])).detach()
    tensor([[-1.0000, -1.0000],
            [ 1.0000,  1.0000]])
    >>> bn.running_mean, bn.num_batches_tracked
    (tensor([0.2000, 0.4000]), tensor(1))
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")


class BatchNorm2d(_BatchNorm):
    """Normalise each channel of an ``(N, C, H, W)`` input over the batch and spatial dims.

    Same arguments and behaviour as :class:`BatchNorm1d`, with ``num_features`` channels.

    >>> bn = fluxion.nn.BatchNorm2d(3).eval()
    >>> bn(fluxion.ones(2, 3, 4, 4)).shape
    fluxion.Size([2, 3, 4, 4])
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() != 4:
            raise ValueError(f"expected 4D input (got {input.dim()}D input)")


class BatchNorm3d(_BatchNorm):
    """Normalise each channel of an ``(N, C, D, H, W)`` input over the batch and spatial dims.

    Same arguments and behaviour as :class:`BatchNorm1d`, with ``num_features`` channels.

    >>> fluxion.nn.BatchNorm3d(3)(fluxion.ones(2, 3, 1, 2, 2)).shape
    fluxion.Size([2, 3, 1, 2, 2])
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() != 5:
            raise ValueError(f"expected 5D input (got {input.dim()}D input)")
