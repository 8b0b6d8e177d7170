"""Loss layers: thin modules over the losses of ``fluxion.nn.functional``.

Per-class ``weight`` and ``pos_weight`` are buffers (they appear in ``state_dict`` and follow
``module.to(...)``), as in PyTorch.
"""

from __future__ import annotations

import sys
import warnings

from ...tensor import Tensor
from .. import functional as F
from ..module import Module

__all__ = [
    "L1Loss",
    "MSELoss",
    "SmoothL1Loss",
    "HuberLoss",
    "NLLLoss",
    "CrossEntropyLoss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "KLDivLoss",
]


def _outside_this_file() -> int:
    """The ``stacklevel`` (seen from the caller) of the first frame outside this file."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    return level


def _legacy_reduction(size_average, reduce) -> str:
    """Map the deprecated ``size_average``/``reduce`` flags to ``reduction``, warning."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(
        "size_average and reduce args will be deprecated, please use "
        f"reduction='{reduction}' instead.",
        stacklevel=_outside_this_file(),  # the user's constructor call, however deep the class
    )
    return reduction


class _Loss(Module):
    """Holds ``reduction`` (``'mean'``, ``'sum'`` or ``'none'``; checked when called)."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__()
        if size_average is not None or reduce is not None:
            self.reduction = _legacy_reduction(size_average, reduce)
        else:
            self.reduction = reduction


class _WeightedLoss(_Loss):
    """A loss with an optional per-class ``weight`` buffer."""

    def __init__(
        self, weight: Tensor | None = None, size_average=None, reduce=None, reduction="mean"
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class L1Loss(_Loss):
    """Mean absolute error ``|input - target|``, reduced.

    Args:
        reduction: ``'mean'``, ``'sum'`` or ``'none'``.

    >>> fluxion.nn.L1Loss()(fluxion.tensor([1.0, -3.0]), fluxion.zeros(2))
    tensor(2.)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error ``(input - target) ** 2``, reduced.

    Args:
        reduction: ``'mean'``, ``'sum'`` or ``'none'``.

    >>> fluxion.nn.MSELoss()(fluxion.tensor([1.0, 3.0]), fluxion.zeros(2))
    tensor(5.)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Squared error (scaled by ``0.5 / beta``) below ``beta``, absolute error above.

    Args:
        reduction: ``'mean'``, ``'sum'`` or ``'none'``.
        beta: Where the loss switches from quadratic to linear (``0`` gives ``L1Loss``).

    >>> fluxion.nn.SmoothL1Loss()(fluxion.tensor([0.5, 3.0]), fluxion.zeros(2))
    tensor(1.3125)
    """

    def __init__(
        self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Half squared error below ``delta``, ``delta * (|d| - delta / 2)`` above.

    Args:
        reduction: ``'mean'``, ``'sum'`` or ``'none'``.
        delta: Where the loss switches from quadratic to linear (positive).

    >>> fluxion.nn.HuberLoss()(fluxion.tensor([0.5, 3.0]), fluxion.zeros(2))
    tensor(1.3125)
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        if not isinstance(delta, (float, int)):
            raise TypeError(f"delta must be a float or int, got: {type(delta)}")
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class NLLLoss(_WeightedLoss):
    """Negative log likelihood of class-index targets given log-probabilities.

    Args:
        weight: Optional per-class weights ``(C,)`` (a buffer).
        ignore_index: Targets equal to this contribute nothing (nor to the mean's divisor).
        reduction: ``'mean'`` (divides by the summed target weights), ``'sum'`` or ``'none'``.

    >>> loss = fluxion.nn.NLLLoss()
    >>> loss(fluxion.tensor([[-1.0, -2.0], [-3.0, -4.0]]), fluxion.tensor([0, 1]))
    tensor(2.5000)
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average=None,
        ignore_index: int = -100,
        reduce=None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
        )


class CrossEntropyLoss(_WeightedLoss):
    """Cross entropy between logits and class indices or class probabilities.

    ``input`` is ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``; ``target`` holds int64 class
    indices (``input``'s shape without the class dim) or probabilities (``input``'s shape).

    Args:
        weight: Optional per-class weights ``(C,)`` (a buffer).
        ignore_index: For class indices: targets to skip.
        reduction: ``'mean'``, ``'sum'`` or ``'none'``.
        label_smoothing: Mix this much of the uniform distribution into the target, in [0, 1].

    >>> loss = fluxion.nn.CrossEntropyLoss(label_smoothing=0.1)
    >>> loss(fluxion.tensor([[0.0, 0.0]]), fluxion.tensor([1]))
    tensor(0.6931)
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average=None,
        ignore_index: int = -100,
        reduce=None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class BCELoss(_WeightedLoss):
    """Binary cross entropy between probabilities ``input`` and ``target`` (logs clamped at
    -100).

    Args:
        weight: Optional weights, broadcast to ``input`` (a buffer).
        reduction: ``'mean'``, ``'sum'`` or ``'none'``.

    >>> fluxion.nn.BCELoss()(fluxion.tensor([0.5]), fluxion.tensor([1.0]))
    tensor(0.6931)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross entropy on logits: sigmoid and loss fused, stable for any logit.

    Args:
        weight: Optional weights, broadcast to ``input`` (a buffer).
        reduction: ``'mean'``, ``'sum'`` or ``'none'``.
        pos_weight: Optional weight of positive examples per class, broadcast along the last
            dim (a buffer).

    >>> loss = fluxion.nn.BCEWithLogitsLoss(pos_weight=fluxion.tensor([2.0]))
    >>> loss(fluxion.tensor([0.0]), fluxion.tensor([1.0]))
    tensor(1.3863)
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average=None,
        reduce=None,
        reduction: str = "mean",
        pos_weight: Tensor | None = None,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, pos_weight=self.pos_weight, reduction=self.reduction
        )


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence of ``target`` from the log-probabilities ``input``.

    Args:
        reduction: ``'batchmean'`` (the mathematical KL divergence), ``'mean'`` (over all
            elements; warns), ``'sum'`` or ``'none'``.
        log_target: ``target`` holds log-probabilities.

    >>> loss = fluxion.nn.KLDivLoss(reduction="batchmean")
    >>> loss(fluxion.tensor([[-1.0, -1.0]]), fluxion.tensor([[0.5, 0.5]]))
    tensor(0.3069)
    """

    def __init__(
        self, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
