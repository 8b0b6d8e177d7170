"""In-place weight initialisers (``torch.nn.init``), all running under ``no_grad``.

Every initialiser draws from the tensor's in-place random methods (``uniform_``, ``normal_``)
in the same order and with the same arguments as PyTorch, so that with fluxion's torch-identical
random streams, ``manual_seed(s)`` followed by the same initialisation gives the same weights.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from .. import ops as _ops
from ..autograd import no_grad
from ..tensor import Tensor

__all__ = [
    "calculate_gain",
    "calculate_fan_in_and_fan_out",
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "ones_",
    "zeros_",
    "eye_",
    "dirac_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
]

_LINEAR_FNS = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Return the recommended gain for ``nonlinearity`` (``param``: leaky_relu's slope).

    >>> calculate_gain("relu") == math.sqrt(2.0), calculate_gain("tanh")
    (True, 1.6666666666666667)
    """
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif (not isinstance(param, bool) and isinstance(param, int)) or isinstance(param, float):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4  # PyTorch's value: preserves the gradient scale, not the activations'
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """Return ``(fan_in, fan_out)`` of a weight shaped ``(out, in, *kernel)``.

    >>> calculate_fan_in_and_fan_out(fluxion.empty(4, 3, 5, 5))
    (75, 100)
    """
    if tensor.dim() < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"
        )
    receptive_field_size = 1
    for s in tensor.shape[2:]:
        receptive_field_size *= s
    return tensor.size(1) * receptive_field_size, tensor.size(0) * receptive_field_size


_calculate_fan_in_and_fan_out = calculate_fan_in_and_fan_out  # PyTorch's name, used by layers


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
    """Fill ``tensor`` with values drawn from U(a, b).

    >>> w = uniform_(fluxion.empty(3, 5), -0.5, 0.5)
    >>> bool((w.abs() <= 0.5).all())
    True
    """
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
    """Fill ``tensor`` with values drawn from N(mean, std**2).

    >>> normal_(fluxion.empty(2, 3)).shape
    fluxion.Size([2, 3])
    """
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator: Any = None,
) -> Tensor:
    """Fill ``tensor`` with N(mean, std**2) values truncated to ``[a, b]``.

    Uses PyTorch's sampler (and draw order): redraw out-of-range normals when most of the mass
    is inside ``[a, b]``, else rejection sampling from U(a, b).

    >>> w = trunc_normal_(fluxion.empty(100), std=1.0, a=-0.5, b=0.5)
    >>> bool((w.abs() <= 0.5).all())
    True
    """

    def norm_cdf(x: float) -> float:
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    if (mean < a - 2 * std) or (mean > b + 2 * std):
        warnings.warn(
            "mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
            "The distribution of values may be incorrect.",
            stacklevel=2,
        )
    with no_grad():
        p = norm_cdf((b - mean) / std) - norm_cdf((a - mean) / std)
        if p > 0.3:
            _trunc_by_redraw(tensor, mean, std, a, b, generator)
        else:
            _trunc_by_rejection(tensor, mean, std, a, b, generator)
    return tensor


def _trunc_by_redraw(tensor: Tensor, mean: float, std: float, a: float, b: float, gen) -> None:
    # bounds in the tensor's dtype, so the mask agrees with the values it can hold
    lo = tensor.new_tensor(a).item()
    hi = tensor.new_tensor(b).item()
    result = tensor.normal_(mean, std, generator=gen)
    while True:
        mask = (result < lo) | (result > hi)
        if not mask.any():
            break
        result = _ops.where(mask, _ops.empty_like(result).normal_(mean, std, generator=gen), result)
    if result is not tensor:
        tensor.copy_(result)


def _trunc_by_rejection(tensor: Tensor, mean: float, std: float, a: float, b: float, gen) -> None:
    mode = max(a, min(mean, b))
    log_peak = -0.5 * ((mode - mean) / std) ** 2
    accept_buf = _ops.empty_like(tensor)

    def log_pdf(x: Tensor) -> Tensor:
        return ((x - mean) / std).pow(2) * -0.5 - log_peak

    tensor.uniform_(a, b, generator=gen)
    candidates = log_pdf(tensor)
    pending = accept_buf.uniform_(generator=gen).log().gt(candidates)
    if not pending.any():
        return
    result = tensor
    draws = _ops.empty_like(tensor)
    while True:
        draws.uniform_(a, b, generator=gen)
        result = _ops.where(pending, draws, result)
        candidates = log_pdf(draws)
        pending = _ops.where(
            pending, accept_buf.uniform_(generator=gen).log().gt(candidates), pending
        )
        if not pending.any():
            break
    tensor.copy_(result)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill ``tensor`` with ``val``.

    >>> constant_(fluxion.empty(2), 0.5)
    tensor([0.5000, 0.5000])
    """
    with no_grad():
        return tensor.fill_(val)


def ones_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with ones.

    >>> ones_(fluxion.empty(2))
    tensor([1., 1.])
    """
    with no_grad():
        return tensor.fill_(1.0)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with zeros.

    >>> zeros_(fluxion.empty(2))
    tensor([0., 0.])
    """
    with no_grad():
        return tensor.zero_()


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D ``tensor`` with the identity matrix (ones on the main diagonal).

    >>> eye_(fluxion.empty(2, 3))
    tensor([[1., 0., 0.],
            [0., 1., 0.]])
    """
    if tensor.ndimension() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    with no_grad():
        tensor.copy_(_ops.eye(*tensor.shape, dtype=tensor.dtype))
    return tensor


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a 3-, 4- or 5-D conv weight with the Dirac delta (identity convolution per group).

    >>> w = dirac_(fluxion.empty(2, 2, 3))
    >>> w[:, :, 1]
    tensor([[1., 0.],
            [0., 1.]])
    """
    dimensions = tensor.ndimension()
    if dimensions not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tensor.size()
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_per_group = sizes[0] // groups
    min_dim = min(out_per_group, sizes[1])
    centre = tuple(s // 2 for s in sizes[2:])
    with no_grad():
        tensor.zero_()
        for g in range(groups):
            for d in range(min_dim):
                tensor[(g * out_per_group + d, d, *centre)] = 1
    return tensor


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Fill ``tensor`` from U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot).

    >>> w = xavier_uniform_(fluxion.empty(3, 5))
    >>> bool((w.abs() <= math.sqrt(6 / 8)).all())
    True
    """
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std  # the uniform bound with that standard deviation
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Fill ``tensor`` from N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out)).

    >>> xavier_normal_(fluxion.empty(3, 5)).shape
    fluxion.Size([3, 5])
    """
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    """He et al.'s standard deviation ``gain / sqrt(fan)`` for ``tensor``."""
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    return gain / math.sqrt(fan)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Any = None,
) -> Tensor:
    """Fill ``tensor`` from U(-bound, bound), bound = gain * sqrt(3 / fan) (He et al.).

    ``Linear`` and ``Conv`` initialise their weights with ``a=math.sqrt(5)``.

    >>> w = kaiming_uniform_(fluxion.empty(4, 3), a=math.sqrt(5))
    >>> bool((w.abs() <= 1 / math.sqrt(3)).all())
    True
    """
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    bound = math.sqrt(3.0) * std  # the uniform bound with that standard deviation
    with no_grad():
        return tensor.uniform_(-bound, bound, generator=generator)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Any = None,
) -> Tensor:
    """Fill ``tensor`` from N(0, std**2), std = gain / sqrt(fan) (He et al.).

    >>> kaiming_normal_(fluxion.empty(4, 3), mode="fan_out", nonlinearity="relu").shape
    fluxion.Size([4, 3])
    """
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    with no_grad():
        return tensor.normal_(0, std, generator=generator)
