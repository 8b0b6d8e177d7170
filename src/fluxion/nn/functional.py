"""Stateless neural-network functions with PyTorch's signatures (``torch.nn.functional``).

Everything here is a thin composition of public fluxion ops and the kernels in
``fluxion.ops.nn_ops`` (convolution, pooling, padding, embedding, NLL). This module validates
arguments with PyTorch's error types and messages; the kernels trust what they receive. Every
function is differentiable twice (double backward) because the kernels' backward rules are
themselves built from differentiable ops.
"""

from __future__ import annotations

import math
import warnings

from .. import dtypes as _dtypes
from .. import ops as _ops
from ..autograd import grad_mode as _grad_mode
from ..autograd import no_grad as _no_grad
from ..ops import nn_ops as _k
from ..tensor import Tensor

__all__ = [
    "linear",
    "relu",
    "relu_",
    "sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
    "softplus",
    "gelu",
    "silu",
    "leaky_relu",
    "elu",
    "dropout",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "nll_loss",
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "max_pool1d",
    "max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "pad",
    "one_hot",
    "bilinear",
    "hardtanh",
    "hardtanh_",
    "relu6",
    "mish",
    "kl_div",
    "embedding",
    "batch_norm",
    "instance_norm",
    "layer_norm",
    "group_norm",
]


def _scalar_name(t: Tensor) -> str:
    return t.dtype.scalar_name


def _float_kernel(t: Tensor, kernel: str) -> None:
    """PyTorch's dispatch error of a kernel that exists for floating-point dtypes only."""
    if not t.is_floating_point():
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_scalar_name(t)}'")


def _cant_cast(result, output) -> RuntimeError:
    return RuntimeError(
        f"result type {result.scalar_name} can't be cast to the desired output type "
        f"{output.scalar_name}"
    )


def _check_same_dtype(expected: Tensor, found: Tensor) -> None:
    if found is not None and found.dtype != expected.dtype:
        raise RuntimeError(
            f"expected scalar type {_scalar_name(expected)} but found {_scalar_name(found)}"
        )


# ------------------------------------------------------------------------ linear and activations


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Apply ``input @ weight.T + bias``.

    Args:
        input: Tensor of shape ``(*, in_features)``.
        weight: Tensor of shape ``(out_features, in_features)``.
        bias: Optional tensor of shape ``(out_features,)``.

    >>> F = fluxion.nn.functional
    >>> F.linear(fluxion.ones(2, 3), fluxion.ones(4, 3), fluxion.zeros(4)).shape
    fluxion.Size([2, 4])
    """
    if input.ndim and weight.ndim and input.shape[-1] != weight.shape[-1]:
        rows = math.prod(input.shape[:-1]) if input.ndim > 1 else 1
        wshape = tuple(weight.shape)[::-1]
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1]} and "
            f"{'x'.join(map(str, wshape))})"
        )
    if bias is None:
        return _ops.matmul(input, weight.t())
    if weight.ndim != 2:
        return _ops.matmul(input, weight) + bias
    if input.ndim == 2:
        return _ops.addmm(bias, input, weight.t())
    # fold the leading dims into one GEMM, as PyTorch does (grad_fn ViewBackward0)
    out = _ops.addmm(bias, input.reshape(-1, input.shape[-1]), weight.t())
    return out.reshape(tuple(input.shape[:-1]) + (weight.shape[0],))


_CPP_TYPE_NAMES = {
    "float16": "c10::Half",
    "float32": "float",
    "float64": "double",
    "int8": "signed char",
    "int16": "short int",
    "int32": "int",
    "int64": "long int",
    "uint8": "unsigned char",
    "bool": "bool",
}


def _cpp_name(t: Tensor) -> str:
    """How PyTorch's C++ checks print a dtype (``float``, ``double``, ``long int``)."""
    return _CPP_TYPE_NAMES.get(t.dtype.name, t.dtype.name)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Apply ``y[..., o] = sum_ij input1[..., i] * weight[o, i, j] * input2[..., j] + bias[o]``.

    Args:
        input1: Tensor of shape ``(*, in1_features)``.
        input2: Tensor of shape ``(*, in2_features)`` (same leading dims as ``input1``).
        weight: Tensor of shape ``(out_features, in1_features, in2_features)``.
        bias: Optional tensor of shape ``(out_features,)``.

    Returns:
        Tensor of shape ``(*, out_features)``.

    >>> F = fluxion.nn.functional
    >>> F.bilinear(fluxion.ones(2, 3), fluxion.ones(2, 4), fluxion.ones(5, 3, 4)).shape
    fluxion.Size([2, 5])
    """
    tensors = [("input1", input1), ("input2", input2), ("weight", weight)]
    if bias is not None:
        tensors.append(("bias", bias))
    if any(t.dtype != input1.dtype for _, t in tensors):
        got = ", ".join(f"{name}: {_cpp_name(t)}" for name, t in tensors)
        raise RuntimeError(f"All tensors must have the same dtype, got {got}")
    if input1.ndim != input2.ndim:
        raise RuntimeError(
            f"bilinear(): input dimensions do not match: got {input1.ndim} and {input2.ndim}"
        )
    for i in range(input1.ndim - 1):
        if input1.shape[i] != input2.shape[i]:
            raise RuntimeError(
                f"bilinear(): input batch dimensions do not match at dim {i}: got "
                f"{input1.shape[i]} and {input2.shape[i]}"
            )
    if weight.ndim != 3:
        raise RuntimeError(
            f"bilinear(): weight must be 3-D (out_features, in1_features, in2_features), but "
            f"got weight of size {list(weight.shape)}"
        )
    out_f, in1, in2 = weight.shape
    if input1.shape[-1] != in1:
        raise RuntimeError(
            f"bilinear(): input1 size does not match weight size: got {input1.shape[-1]} but "
            f"expected {in1}"
        )
    if input2.shape[-1] != in2:
        raise RuntimeError(
            f"bilinear(): input2 size does not match weight size: got {input2.shape[-1]} but "
            f"expected {in2}"
        )
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != out_f):
        raise RuntimeError(
            f"bilinear(): bias size does not match weight size: got "
            f"{bias.shape[0] if bias.ndim else 1} but expected {out_f}"
        )
    lead = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2, 1)
    # (N, i) @ (i, o * j) -> (N, o, j), then a batched (o, j) @ (j, 1) per row: two GEMMs
    left = _ops.matmul(x1, weight.permute(1, 0, 2).reshape(in1, out_f * in2))
    out = _ops.matmul(left.reshape(-1, out_f, in2), x2).reshape(lead + (out_f,))
    return out if bias is None else out + bias


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """Apply ``max(input, 0)`` elementwise.

    >>> fluxion.nn.functional.relu(fluxion.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """
    return _ops.relu_(input) if inplace else _ops.relu(input)


def relu_(input: Tensor) -> Tensor:
    """Apply ``relu`` in place."""
    return _ops.relu_(input)


def sigmoid(input: Tensor) -> Tensor:
    """Apply the logistic function ``1 / (1 + exp(-input))``.

    >>> fluxion.nn.functional.sigmoid(fluxion.tensor([0.0]))
    tensor([0.5000])
    """
    return _ops.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    """Apply the hyperbolic tangent elementwise.

    >>> fluxion.nn.functional.tanh(fluxion.tensor([0.0]))
    tensor([0.])
    """
    return _ops.tanh(input)


def _softmax_dim(ndim: int, name: str, stacklevel: int) -> int:
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
        "dim=X as an argument.",
        stacklevel=stacklevel,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """Apply softmax along ``dim`` (values in (0, 1) that sum to 1).

    >>> fluxion.nn.functional.softmax(fluxion.tensor([0.0, 0.0]), dim=0)
    tensor([0.5000, 0.5000])
    """
    if dim is None:
        dim = _softmax_dim(input.ndim, "softmax", _stacklevel)
    return _ops.softmax(input, dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """Apply ``log(softmax(input))`` along ``dim``, computed stably.

    >>> fluxion.nn.functional.log_softmax(fluxion.tensor([0.0, 0.0]), dim=0)
    tensor([-0.6931, -0.6931])
    """
    if dim is None:
        dim = _softmax_dim(input.ndim, "log_softmax", _stacklevel)
    return _ops.log_softmax(input, dim, dtype=dtype)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """Apply ``log(1 + exp(beta * x)) / beta`` (linear above ``threshold``).

    >>> fluxion.nn.functional.softplus(fluxion.tensor([0.0]))
    tensor([0.6931])
    """
    return _ops.softplus(input, beta, threshold)


def _inplace_source(input: Tensor, inplace: bool) -> Tensor:
    """What an in-place activation computes from: a copy when autograd records it.

    The node of the out-of-place kernel saves its input; writing the result into that same
    tensor would then fail backward's version check, so the kernel reads a clone instead.
    """
    if inplace and input.requires_grad and _grad_mode.is_grad_enabled():
        return input.clone()
    return input


def _maybe_inplace(input: Tensor, result: Tensor, inplace: bool) -> Tensor:
    return input.copy_(result) if inplace else result


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Apply the Gaussian error linear unit ``x * Phi(x)``.

    Args:
        input: Floating-point tensor.
        approximate: ``'none'`` (exact, with erf) or ``'tanh'`` (the tanh approximation).

    >>> fluxion.nn.functional.gelu(fluxion.tensor([0.0, 1.0]))
    tensor([0.0000, 0.8413])
    """
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return _k.gelu(input, approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """Apply ``x * sigmoid(x)`` (also known as swish).

    >>> fluxion.nn.functional.silu(fluxion.tensor([0.0, 1.0]))
    tensor([0.0000, 0.7311])
    """
    return _maybe_inplace(input, _k.silu(_inplace_source(input, inplace)), inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """Apply ``x if x > 0 else negative_slope * x``.

    >>> fluxion.nn.functional.leaky_relu(fluxion.tensor([-1.0, 2.0]), 0.1)
    tensor([-0.1000,  2.0000])
    """
    source = _inplace_source(input, inplace)
    return _maybe_inplace(input, _k.leaky_relu(source, negative_slope), inplace)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """Apply ``x if x > 0 else alpha * (exp(x) - 1)``.

    >>> fluxion.nn.functional.elu(fluxion.tensor([-1.0, 2.0]))
    tensor([-0.6321,  2.0000])
    """
    return _maybe_inplace(input, _k.elu(_inplace_source(input, inplace), alpha), inplace)


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """Clamp ``input`` to ``[min_val, max_val]``.

    Unlike ``clamp``, the gradient is 0 at the bounds themselves (``min_val < x < max_val``
    passes it), as in PyTorch's ``hardtanh_backward``; NaN passes its gradient.

    >>> fluxion.nn.functional.hardtanh(fluxion.tensor([-2.0, 0.5, 3.0]))
    tensor([-1.0000,  0.5000,  1.0000])
    """
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if input.dtype == _dtypes.bool:
        raise NotImplementedError("\"hardtanh_backward\" not implemented for 'Bool'")
    if not input.is_floating_point():
        min_val, max_val = int(min_val), int(max_val)  # PyTorch casts the bounds to the dtype
    # where() routes the gradient only through the middle branch: 0 at the bounds
    result = _ops.where(input <= min_val, min_val, _ops.where(input >= max_val, max_val, input)).to(
        input.dtype
    )
    return _maybe_inplace(input, result, inplace)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """Apply ``hardtanh`` in place."""
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """Apply ``min(max(input, 0), 6)`` (``hardtanh(input, 0, 6)``).

    >>> fluxion.nn.functional.relu6(fluxion.tensor([-1.0, 3.0, 8.0]))
    tensor([0., 3., 6.])
    """
    return hardtanh(input, 0.0, 6.0, inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """Apply ``x * tanh(softplus(x))``.

    >>> fluxion.nn.functional.mish(fluxion.tensor([0.0, 1.0]))
    tensor([0.0000, 0.8651])
    """
    _float_kernel(input, "mish_cpu")
    x = _inplace_source(input, inplace)
    return _maybe_inplace(input, x * _ops.tanh(_ops.softplus(x, 1.0, 20.0)), inplace)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    The mask is PyTorch's, draw for draw: ``empty_like(input).bernoulli_(1 - p)`` (filled in
    the input's memory order) divided by ``1 - p``, so a seeded fluxion run drops the same
    elements as a seeded torch run. Returns ``input`` itself when ``training`` is false or
    ``p == 0``, as PyTorch does.

    >>> x = fluxion.ones(4)
    >>> fluxion.nn.functional.dropout(x, 0.5, training=False) is x
    True
    >>> _ = fluxion.manual_seed(0)
    >>> fluxion.nn.functional.dropout(x, 0.5)
    tensor([0., 0., 2., 0.])
    """
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0 or input.numel() == 0:
        return input
    if p == 1.0:
        mask = _ops.zeros((), dtype=input.dtype)
    else:
        shape = tuple(input.shape)
        # slowest-varying dimension first: torch's empty_like keeps the input's strides
        order = sorted(range(len(shape)), key=lambda d: -input.stride(d) if shape[d] > 1 else 0)
        with _no_grad():
            noise = _ops.empty([shape[d] for d in order], dtype=input.dtype)
            noise.bernoulli_(1.0 - p)
            noise.div_(1.0 - p)
        mask = noise.permute(*[order.index(d) for d in range(len(shape))])
    return input.mul_(mask) if inplace else input * mask


# ------------------------------------------------------------------------ losses


def _reduction(size_average, reduce, reduction: str) -> str:
    """Resolve the legacy ``size_average``/``reduce`` flags and check ``reduction``."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
        warnings.warn(
            "size_average and reduce args will be deprecated, please use "
            f"reduction='{reduction}' instead.",
            stacklevel=3,
        )
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _warn_size(input: Tensor, target: Tensor) -> None:
    """Warn like PyTorch when shapes differ; raise its error when they do not broadcast."""
    if target.shape == input.shape:
        return
    warnings.warn(_SIZE_WARNING.format(_size(target), _size(input)), stacklevel=3)
    a, b = tuple(input.shape), tuple(target.shape)
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(
                f"The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                f"non-singleton dimension {i}"
            )


_SIZE_WARNING = (
    "Using a target size ({}) that is different to the input size ({}). This will likely lead "
    "to incorrect results due to broadcasting. Please ensure they have the same size."
)


def _size(t: Tensor) -> str:
    return f"torch.Size({list(t.shape)})"


def _weighted(loss: Tensor, input: Tensor, weight, reduction: str) -> Tensor:
    """PyTorch's per-element ``weight`` for mse/l1/huber: mean divides by ``weight.sum()``."""
    if weight is None:
        return _reduce(loss, reduction)
    if weight.shape != input.shape:
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "mean":
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """Mean squared error ``(input - target) ** 2``, reduced.

    Args:
        weight: Optional per-element weights (same shape as ``input``); ``'mean'`` then divides
            by ``weight.sum()``.

    >>> fluxion.nn.functional.mse_loss(fluxion.tensor([1.0, 3.0]), fluxion.tensor([0.0, 0.0]))
    tensor(5.)
    """
    _warn_size(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    if weight is None:
        return _k.mse_loss(input, target, reduction)
    diff = input - target
    return _weighted(diff * diff, input, weight, reduction)


def l1_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """Mean absolute error ``|input - target|``, reduced (gradient 0 where they are equal).

    >>> fluxion.nn.functional.l1_loss(fluxion.tensor([1.0, -3.0]), fluxion.tensor([0.0, 0.0]))
    tensor(2.)
    """
    _warn_size(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    return _weighted((input - target).abs(), input, weight, reduction)


def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """Squared error below ``beta`` (scaled by ``0.5 / beta``), absolute error above.

    >>> fluxion.nn.functional.smooth_l1_loss(fluxion.tensor([0.5, 3.0]), fluxion.zeros(2))
    tensor(1.3125)
    """
    _warn_size(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0.0:
        return l1_loss(input, target, reduction=reduction)
    return _k.smooth_l1_loss(input, target, reduction, float(beta))


def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """Half squared error below ``delta``, ``delta * (|d| - delta / 2)`` above.

    >>> fluxion.nn.functional.huber_loss(fluxion.tensor([0.5, 3.0]), fluxion.zeros(2))
    tensor(1.3125)
    """
    _warn_size(input, target)
    reduction = _reduction(None, None, reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    if input.dtype != target.dtype:  # PyTorch writes the loss into a tensor like input
        common = _dtypes.promote_types(input.dtype, target.dtype)
        if not input.is_floating_point() and common.is_floating_point:
            raise _cant_cast(common, input.dtype)
        if common.is_floating_point:
            target = target.to(input.dtype)
    if not _dtypes.promote_types(input.dtype, target.dtype).is_floating_point:
        _float_kernel(input, "huber_cpu")
    if weight is None:
        return _k.huber_loss(input, target, reduction, float(delta))
    if weight.shape != input.shape:
        raise ValueError("Weights and input must have the same size.")
    return _reduce(_k.huber_loss(input, target, "none", float(delta)) * weight, reduction)


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """Binary cross entropy between probabilities ``input`` and ``target``.

    The logs are clamped at -100 as in PyTorch, so an input of exactly 0 or 1 gives a finite
    loss; the gradient divides by ``max(x * (1 - x), 1e-12)``.

    >>> fluxion.nn.functional.binary_cross_entropy(fluxion.tensor([0.5]), fluxion.tensor([1.0]))
    tensor(0.6931)
    """
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(
            f"Using a target size ({_size(target)}) that is different to the input size "
            f"({_size(input)}) is deprecated. Please ensure they have the same size."
        )
    if target.dtype != input.dtype:
        raise RuntimeError(f"Found dtype {_scalar_name(target)} but expected {_scalar_name(input)}")
    _float_kernel(input, "binary_cross_entropy")
    if input.numel() and not bool(((input >= 0).logical_and(input <= 1)).all()):
        raise RuntimeError("all elements of input should be between 0 and 1")
    if weight is not None and weight.shape != input.shape:
        weight = weight.expand(input.shape)
    return _k.binary_cross_entropy(input, target, weight, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Binary cross entropy on logits: ``sigmoid`` and the loss fused, stable for any logit.

    Computes ``(1 - t) * x + (1 + (pos_weight - 1) * t) * softplus(-x)``, which never
    overflows.

    Args:
        weight: Optional weights, broadcast to ``input``'s shape.
        pos_weight: Optional weight of positive examples, broadcast along the last dim
            (one per class).

    >>> F = fluxion.nn.functional
    >>> F.binary_cross_entropy_with_logits(fluxion.tensor([1000.0, -1000.0]),
    ...                                    fluxion.tensor([0.0, 1.0]))
    tensor(1000.)
    """
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(
            f"Target size ({_size(target)}) must be the same as input size ({_size(input)})"
        )
    # PyTorch computes (1 - target).mul_(input)...: the loss takes target's dtype
    if target.dtype == _dtypes.bool:
        raise RuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` "
            "or `logical_xor()` operator instead."
        )
    if not target.is_floating_point() and input.is_floating_point():
        raise _cant_cast(_dtypes.promote_types(input.dtype, target.dtype), target.dtype)
    _float_kernel(input, "log_sigmoid_cpu")
    if pos_weight is not None and pos_weight.dtype == _dtypes.bool:  # pos_weight - 1
        raise RuntimeError(
            "Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
            "trying to invert a mask, use the `~` or `logical_not()` operator instead."
        )
    if input.dtype != target.dtype:
        input = input.to(target.dtype)
    return _k.binary_cross_entropy_with_logits(input, target, weight, pos_weight, reduction)


def _check_target_dtype(target: Tensor) -> None:
    if target.dtype.name not in ("int64", "uint8"):
        raise RuntimeError(
            f"expected target dtype to be Long or Byte, but got {_scalar_name(target)}"
        )


def _check_class_weight(weight, input: Tensor, n_classes: int, same_dtype: bool = True) -> None:
    if weight is None:
        return
    if weight.ndim != 1 or weight.shape[0] != n_classes:
        raise RuntimeError(
            f"weight tensor should be defined either for all {n_classes} classes or no classes "
            f"but got weight tensor of shape: {list(weight.shape)}"
        )
    if same_dtype:
        _check_same_dtype(input, weight)


def _nll_target(input: Tensor, target: Tensor) -> Tensor:
    """Check shapes like PyTorch's nll_loss_nd; return the target (reshaped if needed)."""
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    if input.ndim == 1:
        if target.ndim == 1 and target.shape[0] == 1:
            target = target.reshape(())
        if target.ndim != 0:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        return target
    if target.ndim == 0 or input.shape[0] != target.shape[0]:
        raise ValueError(
            f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
            f"({target.shape[0] if target.ndim else 1})."
        )
    if input.ndim == 2:
        if target.ndim != 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    elif input.ndim == 4:
        if tuple(target.shape) != (input.shape[0],) + tuple(input.shape[2:]):
            raise RuntimeError(
                f"size mismatch (got input: {list(input.shape)} , target: {list(target.shape)}"
            )
    elif tuple(target.shape) != (input.shape[0],) + tuple(input.shape[2:]):
        raise RuntimeError(
            f"Expected target size {[input.shape[0]] + list(input.shape[2:])}, got "
            f"{list(target.shape)}"
        )
    return target


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log likelihood: ``-weight[t] * input[n, t]`` for class-index targets ``t``.

    Args:
        input: Log-probabilities, shape ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``.
        target: int64 class indices, shape ``()``, ``(N,)`` or ``(N, d1, ...)``.
        weight: Optional per-class weights, shape ``(C,)``.
        ignore_index: Targets equal to this contribute nothing (nor to the mean's divisor).
        reduction: ``'mean'`` (divides by the summed weights), ``'sum'`` or ``'none'``.

    >>> logp = fluxion.tensor([[-1.0, -2.0], [-3.0, -4.0]])
    >>> fluxion.nn.functional.nll_loss(logp, fluxion.tensor([0, 1]))
    tensor(2.5000)
    """
    reduction = _reduction(size_average, reduce, reduction)
    target = _nll_target(input, target)
    _check_target_dtype(target)
    _float_kernel(
        input, "nll_loss_out_frame" if input.ndim <= 2 else "nll_loss2d_forward_out_frame"
    )
    n_classes = input.shape[0 if input.ndim == 1 else 1]
    _check_class_weight(weight, input, n_classes)
    return _nll_nd(input, target, weight, reduction, ignore_index)


def _nll_nd(input, target, weight, reduction, ignore_index):
    """PyTorch's nll_loss_nd: 3-D and 5-D+ inputs go through the 4-D kernel as (N, C, 1, -1)."""
    if input.ndim <= 2:
        return _k.nll_loss(input, target, weight, reduction, ignore_index)
    if input.ndim == 4:
        return _k.nll_loss2d(input, target, weight, reduction, ignore_index)
    n, c = input.shape[:2]
    out = _k.nll_loss2d(
        input.reshape(n, c, 1, -1), target.reshape(n, 1, -1), weight, reduction, ignore_index
    )
    return out.reshape(tuple(target.shape)) if reduction == "none" else out


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross entropy between logits ``input`` and class indices or class probabilities.

    Computed as ``nll_loss(log_softmax(input, class_dim), target)`` (stable for any logits).
    ``target`` holds class indices (int64, shape ``input.shape`` without the class dim) or
    class probabilities (floating, same shape as ``input``).

    Args:
        input: Logits, shape ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``.
        target: Class indices or probabilities.
        weight: Optional per-class weights, shape ``(C,)``.
        ignore_index: For class indices: targets to skip.
        reduction: ``'mean'``, ``'sum'`` or ``'none'``.
        label_smoothing: Mix ``label_smoothing / C`` of the uniform distribution into the target.

    >>> fluxion.nn.functional.cross_entropy(fluxion.tensor([[0.0, 0.0]]), fluxion.tensor([1]))
    tensor(0.6931)
    """
    reduction = _reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    cdim = 0 if input.ndim == 1 else 1
    n_classes = input.shape[cdim]
    if target.shape == input.shape:
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing, cdim)
    target = _nll_target(input, target)
    _check_target_dtype(target)
    logp = _ops.log_softmax(input, cdim)  # before the weight check: int input fails here
    _check_class_weight(weight, input, n_classes)
    nll = _nll_nd(logp, target, weight, reduction, ignore_index)
    if label_smoothing == 0.0:
        return nll
    # PyTorch's formula: (1 - eps) * nll + eps / C * (-sum_c weight_c * logp_c), same reduction
    if weight is not None:
        logp = logp * weight.reshape((n_classes,) + (1,) * (input.ndim - cdim - 1))
    smooth = (-logp.sum(cdim)).masked_fill(target == ignore_index, 0.0)  # nan * 0 would be nan
    if reduction == "mean":
        smooth = smooth.sum() / _k.nll_total_weight(target, weight, ignore_index, input.dtype)
    else:
        smooth = _reduce(smooth, reduction)
    return nll * (1.0 - label_smoothing) + smooth * (label_smoothing / n_classes)


def _cross_entropy_probs(input, target, weight, reduction, label_smoothing, cdim):
    if not target.is_floating_point():
        raise RuntimeError(
            "Expected floating point type for target with class probabilities, got "
            f"{_scalar_name(target)}"
        )
    n_classes = input.shape[cdim]
    _check_class_weight(weight, input, n_classes, same_dtype=False)  # here weight promotes
    if label_smoothing > 0.0:
        target = target * (1.0 - label_smoothing) + label_smoothing / n_classes
    prod = _ops.log_softmax(input, cdim) * target
    if weight is not None:  # PyTorch's order: (logp * target) * weight (it matters for inf)
        prod = prod * weight.reshape((n_classes,) + (1,) * (input.ndim - cdim - 1))
    if reduction == "none":
        return -prod.sum(cdim)
    total = -prod.sum()
    if reduction == "sum":
        return total
    return _k.div_by_count(total, input.numel() // n_classes if input.numel() else 0.0)


_KL_MEAN_WARNING = (
    "reduction: 'mean' divides the total loss by both the batch size and the support size."
    "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
    "'mean' will be changed to behave the same as 'batchmean' in the next major release."
)


def kl_div(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """Kullback-Leibler divergence of ``target`` from log-probabilities ``input``.

    Pointwise ``target * (log(target) - input)`` (0 where ``target == 0``), or with
    ``log_target`` ``exp(target) * (target - input)``.

    Args:
        input: Log-probabilities.
        target: Probabilities (log-probabilities with ``log_target=True``); broadcast to input.
        reduction: ``'batchmean'`` (sum / batch size: the mathematical KL divergence),
            ``'mean'`` (over all elements; warns), ``'sum'`` or ``'none'``.

    >>> F = fluxion.nn.functional
    >>> F.kl_div(fluxion.tensor([[-1.0, -1.0]]), fluxion.tensor([[0.5, 0.5]]),
    ...          reduction="batchmean")
    tensor(0.3069)
    """
    if size_average is not None or reduce is not None:
        reduction = _reduction(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn(_KL_MEAN_WARNING, stacklevel=2)
    if reduction not in ("mean", "sum", "none", "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if not input.is_floating_point() or not target.is_floating_point():
        raise RuntimeError("kl_div: Integral inputs not supported.")
    if log_target:
        loss = _ops.exp(target) * (target - input)
    else:
        # xlogy(target, target): 0 where target == 0 (NaN and negatives still give NaN). The
        # log reads 1 there, so no log(0) is evaluated; d/dtarget at 0 is then 0 where
        # PyTorch's xlogy backward gives 0 / 0 = NaN.
        safe = _ops.where(target == 0, 1.0, target)
        loss = target * _ops.log(safe) - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return _reduce(loss, reduction)


# ------------------------------------------------------------------------ convolution


def _tuple(value, n: int, name: str, op: str = "convolution") -> tuple:
    if isinstance(value, int) or hasattr(value, "__index__") and not isinstance(value, Tensor):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) == 1:
        return value * n
    if len(value) != n:
        raise RuntimeError(
            f"expected {name} to be a single integer value or a list of {n} values to match the "
            f"{op} dimensions, but got {name}={list(value)}"
        )
    return value


def _conv_args(input, weight, bias, stride, padding, dilation, groups, nd):
    """Validate like PyTorch; return (batched input, unbatched?, stride, padding pairs, dil)."""
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to conv{nd}d, but got "
            f"input of size: {list(input.shape)}"
        )
    unbatched = input.ndim == nd + 1
    x = input.unsqueeze(0) if unbatched else input
    if weight.ndim != nd + 2:
        raise RuntimeError(
            f"Expected {weight.ndim}-dimensional input for {weight.ndim}-dimensional weight "
            f"{list(weight.shape)}, but got {x.ndim}-dimensional input of size {list(x.shape)} "
            "instead"
        )
    stride = _tuple(stride, nd, "stride")
    dilation = _tuple(dilation, nd, "dilation")
    kernel = tuple(weight.shape[2:])
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            # PyTorch puts the odd extra element of an even kernel's padding on the right
            pads = tuple(
                (d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation)
            )
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        pads = tuple((p, p) for p in _tuple(padding, nd, "padding"))
        if any(p < 0 for p, _ in pads):
            raise RuntimeError("negative padding is not supported")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if weight.shape[0] == 0:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be at least {groups} at dimension 0, but "
            f"got weight of size {list(weight.shape)} instead"
        )
    if weight.shape[0] % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
            f"but got weight of size [{list(weight.shape)}] instead"
        )
    if x.shape[1] != weight.shape[1] * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {list(weight.shape)}, expected "
            f"input{list(x.shape)} to have {weight.shape[1] * groups} channels, but got "
            f"{x.shape[1]} channels instead"
        )
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != weight.shape[0]):
        raise RuntimeError(
            f"Given weight of size {list(weight.shape)}, expected bias to be 1-dimensional with "
            f"{weight.shape[0]} elements, but got bias of size {list(bias.shape)} instead"
        )
    _check_same_dtype(x, weight)
    _conv_kernel(x, dilation, transposed=False)
    if isinstance(padding, str) and bias is not None and bias.dtype != x.dtype:
        bias = bias.to(x.dtype)  # PyTorch's padding='same'/'valid' path casts the bias
    _check_same_dtype(x, bias)
    padded = [s + lo + hi for s, (lo, hi) in zip(x.shape[2:], pads)]
    eff = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if any(p < e for p, e in zip(padded, eff)):
        raise RuntimeError(
            f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). "
            f"Kernel size: ({' x '.join(map(str, eff))}). Kernel size can't be greater than "
            "actual input size"
        )
    return x, bias, unbatched, stride, pads, dilation


def _conv_kernel(x: Tensor, dilation: tuple, transposed: bool) -> None:
    """Raise where PyTorch's CPU convolution kernels have no implementation for the dtype.

    Plain convolutions run for every integer dtype; the dilated and transposed kernels only
    for int64 among integers; none for bool.
    """
    if x.is_floating_point():
        return
    if transposed:
        kernel = "slow_conv_transpose2d_out_cpu"
    elif any(d != 1 for d in dilation):
        kernel = "slow_conv_dilated<>"
    else:
        kernel = "slow_conv2d_cpu"
    if x.dtype == _dtypes.bool or (kernel != "slow_conv2d_cpu" and x.dtype != _dtypes.int64):
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_scalar_name(x)}'")


def _conv(input, weight, bias, stride, padding, dilation, groups, nd):
    x, bias, unbatched, stride, pads, dilation = _conv_args(
        input, weight, bias, stride, padding, dilation, groups, nd
    )
    out = _k.convolution(x, weight, bias, stride, pads, dilation, groups)[0]
    return out.squeeze(0) if unbatched else out


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    dilation=1,
    groups: int = 1,
) -> Tensor:
    """Apply a 1-D convolution over ``input`` of shape ``(N, C_in, L)`` or ``(C_in, L)``.

    Args:
        weight: ``(C_out, C_in / groups, kL)``.
        bias: Optional ``(C_out,)``.
        stride, padding, dilation: Ints or 1-tuples; ``padding`` may be ``'valid'``/``'same'``.
        groups: Split input and output channels into this many independent groups.

    >>> F = fluxion.nn.functional
    >>> F.conv1d(fluxion.ones(1, 1, 5), fluxion.ones(1, 1, 3), padding="same")
    tensor([[[2., 3., 3., 3., 2.]]])
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    dilation=1,
    groups: int = 1,
) -> Tensor:
    """Apply a 2-D convolution over ``input`` of shape ``(N, C_in, H, W)`` or ``(C_in, H, W)``.

    Implemented as im2col (a strided view of the padded input) times the weight matrix, in one
    batched BLAS product; the backward uses the same primitives, and is differentiable again.

    Args:
        weight: ``(C_out, C_in / groups, kH, kW)``.
        bias: Optional ``(C_out,)``.
        stride, padding, dilation: Ints or pairs; ``padding`` may be ``'valid'`` or ``'same'``.
        groups: Split input and output channels into this many independent groups.

    >>> F = fluxion.nn.functional
    >>> F.conv2d(fluxion.ones(1, 1, 4, 4), fluxion.ones(2, 1, 3, 3), stride=2, padding=1).shape
    fluxion.Size([1, 2, 2, 2])
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2)


def _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, nd):
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to "
            f"conv_transpose{nd}d, but got input of size: {list(input.shape)}"
        )
    unbatched = input.ndim == nd + 1
    x = input.unsqueeze(0) if unbatched else input
    stride = _tuple(stride, nd, "stride")
    padding = _tuple(padding, nd, "padding")
    output_padding = _tuple(output_padding, nd, "output_padding")
    dilation = _tuple(dilation, nd, "dilation")
    if weight.ndim != nd + 2 or x.shape[1] != weight.shape[0]:
        raise RuntimeError(
            f"Given transposed=1, weight of size {list(weight.shape)}, expected input"
            f"{list(x.shape)} to have {weight.shape[0]} channels, but got {x.shape[1]} channels "
            "instead"
        )
    if any(op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation)):
        raise RuntimeError("output padding must be smaller than either stride or dilation")
    _check_same_dtype(x, weight)
    _conv_kernel(x, dilation, transposed=True)
    kernel = weight.shape[2:]
    size = tuple(
        (s - 1) * st - 2 * p + d * (k - 1) + op + 1
        for s, st, p, d, k, op in zip(
            x.shape[2:], stride, padding, dilation, kernel, output_padding
        )
    )
    pads = tuple((p, p) for p in padding)
    # the transposed convolution is the input-gradient of a convolution with the same weight
    out = _k.conv_transpose(x, weight, bias, size, stride, pads, dilation, groups)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    output_padding=0,
    groups: int = 1,
    dilation=1,
) -> Tensor:
    """Apply a 1-D transposed convolution; ``weight`` is ``(C_in, C_out / groups, kL)``.

    >>> F = fluxion.nn.functional
    >>> F.conv_transpose1d(fluxion.ones(1, 1, 3), fluxion.ones(1, 1, 2))
    tensor([[[1., 2., 2., 1.]]])
    """
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 1
    )


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    output_padding=0,
    groups: int = 1,
    dilation=1,
) -> Tensor:
    """Apply a 2-D transposed convolution; ``weight`` is ``(C_in, C_out / groups, kH, kW)``.

    >>> F = fluxion.nn.functional
    >>> F.conv_transpose2d(fluxion.ones(1, 1, 2, 2), fluxion.ones(1, 3, 3, 3), stride=2).shape
    fluxion.Size([1, 3, 5, 5])
    """
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 2
    )


# ------------------------------------------------------------------------ pooling


def _pool_args(input, kernel_size, stride, padding, dilation, ceil_mode, name):
    if input.ndim not in (3, 4):
        raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")
    if 0 in input.shape[input.ndim - 3 :]:
        raise RuntimeError(
            "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but "
            f"got:{list(input.shape)}"
        )
    kernel = _tuple(kernel_size, 2, "kernel_size", name)
    stride = (
        kernel
        if stride is None or stride == [] or stride == ()
        else _tuple(stride, 2, "stride", name)
    )
    padding = _tuple(padding, 2, "padding", name)
    dilation = _tuple(dilation, 2, "dilation", name)
    if any(k <= 0 for k in kernel):
        raise RuntimeError(
            f"kernel size should be greater than zero, but got kH: {kernel[0]} kW: {kernel[1]}"
        )
    if any(s <= 0 for s in stride):
        raise RuntimeError("stride should not be zero")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(
            "dilation should be greater than zero, but got dilationH: "
            f"{dilation[0]} dilationW: {dilation[1]}"
        )
    for k, p, d in zip(kernel, padding, dilation):
        if p < 0 or p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(
                f"pad should be at most half of effective kernel size, but got pad={p}, "
                f"kernel_size={k} and dilation={d}"
            )
    size = input.shape[-2:]
    out = []
    for s, k, st, p, d in zip(size, kernel, stride, padding, dilation):
        eff = d * (k - 1) + 1
        o = (s + 2 * p - eff + (st - 1 if ceil_mode else 0)) // st + 1
        if ceil_mode and (o - 1) * st >= s + p:
            o -= 1
        out.append(o)
    if any(o < 1 for o in out):
        c = input.shape[-3]
        raise RuntimeError(
            f"Given input size: ({c}x{size[0]}x{size[1]}). Calculated output size: "
            f"({c}x{out[0]}x{out[1]}). Output size is too small"
        )
    return kernel, stride, padding, dilation


def max_pool2d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """Take the maximum over sliding 2-D windows of ``(N, C, H, W)`` or ``(C, H, W)`` input.

    Padding is with -inf; with ``return_indices`` also return the argmax as flat indices into
    each (unpadded) ``H * W`` plane. Ties go to the first maximum in scan order.

    >>> x = fluxion.arange(16.0).reshape(1, 1, 4, 4)
    >>> fluxion.nn.functional.max_pool2d(x, 2)
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
    """
    kernel, stride, padding, dilation = _pool_args(
        input, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d"
    )
    if input.dtype == _dtypes.bool:
        raise NotImplementedError("\"max_pool2d\" not implemented for 'Bool'")
    values, indices = _k.max_pool2d_with_indices(
        input, kernel, stride, padding, dilation, bool(ceil_mode)
    )
    return (values, indices) if return_indices else values


def avg_pool2d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """Average over sliding 2-D windows of ``(N, C, H, W)`` or ``(C, H, W)`` input.

    Args:
        count_include_pad: Count the zero padding in the divisor.
        divisor_override: Divide every window sum by this instead.

    >>> x = fluxion.arange(16.0).reshape(1, 1, 4, 4)
    >>> fluxion.nn.functional.avg_pool2d(x, 2)
    tensor([[[[ 2.5000,  4.5000],
              [10.5000, 12.5000]]]])
    """
    if input.ndim < 3:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-max(input.ndim, 1)}, "
            f"{max(input.ndim, 1) - 1}], but got -3)"
        )
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    if not input.is_floating_point() and input.dtype != _dtypes.int64:
        _float_kernel(input, "avg_pool2d")  # PyTorch's kernel: floating point and int64 only
    kernel, stride, padding, _ = _pool_args(
        input, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d"
    )
    return _k.avg_pool2d(
        input, kernel, stride, padding, bool(ceil_mode), bool(count_include_pad), divisor_override
    )


def max_pool1d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """Take the maximum over sliding windows of ``(N, C, L)`` or ``(C, L)`` input.

    >>> fluxion.nn.functional.max_pool1d(fluxion.tensor([[1.0, 3.0, 2.0, 0.0]]), 2)
    tensor([[3., 2.]])
    """
    if input.ndim not in (2, 3):
        raise RuntimeError(
            "max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size "
            f"for input, but got:{list(input.shape)}"
        )
    if not return_indices:  # max_pool1d_impl (without indices) is floating point only
        _float_kernel(input, "max_pool1d_impl")
    one = lambda v: v if v is None else (1, _tuple(v, 1, "pool", "max_pool1d")[0])  # noqa: E731
    out = max_pool2d(
        input.unsqueeze(-2),
        one(kernel_size),
        one(stride),
        (0, padding if isinstance(padding, int) else padding[0]),
        one(dilation),
        ceil_mode,
        True,
    )
    if return_indices:
        return out[0].squeeze(-2), out[1].squeeze(-2)
    return out[0].squeeze(-2)


def avg_pool1d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """Average over sliding windows of ``(N, C, L)`` or ``(C, L)`` input.

    >>> fluxion.nn.functional.avg_pool1d(fluxion.tensor([[1.0, 3.0, 2.0, 0.0]]), 2)
    tensor([[2., 1.]])
    """
    if input.ndim not in (2, 3):
        raise RuntimeError(
            f"avg_pool1d() Expected 2D or 3D input tensor, but got {list(input.shape)}"
        )
    one = lambda v: v if v is None else (1, _tuple(v, 1, "pool", "avg_pool1d")[0])  # noqa: E731
    pad = padding if isinstance(padding, int) else padding[0]
    out = avg_pool2d(
        input.unsqueeze(-2), one(kernel_size), one(stride), (0, pad), ceil_mode, count_include_pad
    )
    return out.squeeze(-2)


def _output_size(output_size, size: tuple, nd: int, name: str) -> tuple:
    if isinstance(output_size, (tuple, list)) and None in output_size:
        return tuple(s if o is None else int(o) for s, o in zip(size, output_size))
    return _tuple(output_size, nd, "output_size", name)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average-pool ``(N, C, H, W)`` or ``(C, H, W)`` input to ``output_size``.

    Each output cell averages PyTorch's adaptive window
    ``[floor(i * H / out_h), ceil((i + 1) * H / out_h))``; computed as two small matrix
    products with averaging matrices (``None`` in ``output_size`` keeps that dim).

    >>> x = fluxion.arange(16.0).reshape(1, 1, 4, 4)
    >>> fluxion.nn.functional.adaptive_avg_pool2d(x, 1)
    tensor([[[[7.5000]]]])
    """
    if input.ndim not in (3, 4):
        raise RuntimeError(
            f"adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got {list(input.shape)}"
        )
    _float_kernel(input, "adaptive_avg_pool2d")
    out = _output_size(output_size, tuple(input.shape[-2:]), 2, "adaptive_avg_pool2d")
    if out == (1, 1):
        return input.mean((-1, -2), keepdim=True)  # PyTorch's shortcut (MeanBackward1)
    return _k.adaptive_avg_pool2d(input, out)


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Average-pool ``(N, C, L)`` or ``(C, L)`` input to length ``output_size``.

    >>> fluxion.nn.functional.adaptive_avg_pool1d(fluxion.tensor([[1.0, 3.0, 2.0, 0.0]]), 2)
    tensor([[2., 1.]])
    """
    if input.ndim not in (2, 3):
        raise RuntimeError(
            f"adaptive_avg_pool1d(): Expected 2D or 3D tensor, but got {list(input.shape)}"
        )
    size = _tuple(output_size, 1, "output_size", "adaptive_avg_pool1d")[0]
    return adaptive_avg_pool2d(input.unsqueeze(-2), (1, size)).squeeze(-2)


# ------------------------------------------------------------------ padding, one_hot, embedding

_PAD_HELP = (
    "Supported combinations for non-constant padding:\n"
    "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
    "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
    "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)"
)


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last ``len(pad) // 2`` dims; ``pad`` lists (left, right) pairs, last dim first.

    Args:
        pad: ``(left, right)`` for the last dim, then ``(top, bottom)`` for the one before, ...
            Negative amounts crop (constant and reflect modes).
        mode: ``'constant'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
        value: Fill value for ``'constant'`` (default 0).

    >>> F = fluxion.nn.functional
    >>> F.pad(fluxion.tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect")
    tensor([[3., 2., 1., 2., 3., 2.]])
    >>> F.pad(fluxion.tensor([1.0, 2.0]), (1, 1), value=9.0)
    tensor([9., 1., 2., 9.])
    """
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    nd = len(pad) // 2
    if nd > input.ndim:
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input dimension but "
            f"got padding length {len(pad)} and input of dimension {input.ndim}"
        )
    if mode == "constant":
        for i in range(nd):
            d = input.ndim - 1 - i
            size = input.shape[d] + pad[2 * i] + pad[2 * i + 1]
            if size < 0:
                raise RuntimeError(
                    f"The input size {input.shape[d]}, plus negative padding {pad[2 * i]} and "
                    f"{pad[2 * i + 1]} resulted in a negative output size, which is invalid. "
                    f"Check dimension {d} of your input."
                )
        return _k.constant_pad_nd(input, pad, 0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if nd not in (1, 2, 3) or input.ndim not in (nd + 1, nd + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {input.ndim}D input tensor.\n"
            + _PAD_HELP
        )
    for i in range(nd):
        d = input.ndim - 1 - i
        lo, hi = pad[2 * i], pad[2 * i + 1]
        if mode == "reflect" and (lo >= input.shape[d] or hi >= input.shape[d]):
            raise RuntimeError(
                "Argument #4: Padding size should be less than the corresponding input "
                f"dimension, but got: padding ({lo}, {hi}) at dimension {d} of input "
                f"{list(input.shape)}"
            )
        if mode == "circular" and (lo > input.shape[d] or hi > input.shape[d]):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if mode != "reflect" and (lo < 0 or hi < 0):
            raise RuntimeError(f"{mode} padding does not support negative amounts in fluxion")
    return _k.index_pad(input, pad, mode)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Encode int64 class indices as one-hot int64 vectors along a new last dim.

    Args:
        tensor: int64 class indices of any shape.
        num_classes: Length of the new dim; ``-1`` infers ``tensor.max() + 1``.

    >>> fluxion.nn.functional.one_hot(fluxion.tensor([0, 2]))
    tensor([[1, 0, 0],
            [0, 0, 1]])
    """
    if tensor.dtype.name != "int64":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if tensor.numel() == 0:
        if num_classes == -1:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        return _k.one_hot(tensor, num_classes)
    lo, hi = int(tensor.min()), int(tensor.max())
    if lo < 0:
        raise RuntimeError("Class values must be non-negative.")
    if num_classes == -1:
        num_classes = hi + 1
    elif hi >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    return _k.one_hot(tensor, num_classes)


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Look up rows of ``weight`` by the integer indices in ``input``.

    Args:
        input: int64/int32 indices of any shape.
        weight: ``(num_embeddings, embedding_dim)``.
        padding_idx: This row gets no gradient (its value is still looked up).
        max_norm: First rescale, in place, each looked-up row whose ``norm_type``-norm exceeds
            this to norm ``max_norm`` (as PyTorch does; ``weight`` is modified).
        scale_grad_by_freq: Divide each row's gradient by how often it occurs in ``input``.

    Returns:
        Tensor of shape ``input.shape + (embedding_dim,)``.

    >>> w = fluxion.eye(3, requires_grad=True)
    >>> out = fluxion.nn.functional.embedding(fluxion.tensor([2, 0, 2]), w, padding_idx=0)
    >>> out.sum().backward()
    >>> w.grad
    tensor([[0., 0., 0.],
            [0., 0., 0.],
            [2., 2., 2.]])
    """
    if input.dtype.name not in ("int64", "int32"):
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got {input.type()} instead (while checking arguments for "
            "embedding)"
        )
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    num = weight.shape[0]
    if padding_idx is not None:
        if padding_idx > 0:
            if padding_idx >= num:
                raise AssertionError("Padding_idx must be within num_embeddings")
        elif padding_idx < 0:
            if padding_idx < -num:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = num + padding_idx
    if sparse:
        raise NotImplementedError("embedding: fluxion has no sparse gradients; use sparse=False")
    if input.numel() and (int(input.min()) < 0 or int(input.max()) >= num):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        _embedding_renorm_(weight, input, float(max_norm), float(norm_type))
    return _k.embedding(input, weight, padding_idx, bool(scale_grad_by_freq))


def _embedding_renorm_(weight: Tensor, input: Tensor, max_norm: float, norm_type: float) -> None:
    """Scale, in place and outside autograd, the looked-up rows whose norm exceeds max_norm."""
    with _grad_mode.no_grad():
        idx = input.reshape(-1)
        rows = weight.index_select(0, idx)
        norms = rows.norm(norm_type, 1, True)
        # PyTorch's embedding_renorm_: scale = max_norm / (norm + 1e-7); duplicates write alike
        scale = _ops.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).to(weight.dtype)
        weight[idx] = rows * scale


# ------------------------------------------------------------------------ normalisation


def _check_norm_dtype(input: Tensor, kernel: str, *tensors) -> None:
    _float_kernel(input, kernel)
    for t in tensors:
        if t is not None and t.dtype != input.dtype:
            raise RuntimeError(
                "mixed dtype (CPU): expect parameter to have scalar type of "
                f"{_scalar_name(input)}; got {_scalar_name(t)} (cast the parameters with "
                f".to({input.dtype}) or the input with .to({t.dtype}))"
            )


def _check_channels(t, name: str, c: int) -> None:
    if t is not None and t.numel() != c:
        raise RuntimeError(f"{name} should contain {c} elements not {t.numel()}")


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each channel of ``input`` (N, C, *) to zero mean and unit variance.

    In training the batch statistics are used and, when given, ``running_mean`` and
    ``running_var`` are updated in place: ``running = (1 - momentum) * running + momentum *
    batch`` (with the unbiased batch variance), as in PyTorch. Otherwise the running statistics
    normalise the input.

    Args:
        input: Tensor of shape ``(N, C)`` or ``(N, C, *)``.
        running_mean: ``(C,)`` buffer or None.
        running_var: ``(C,)`` buffer or None.
        weight: Optional ``(C,)`` scale.
        bias: Optional ``(C,)`` shift.
        training: Use (and track) the batch statistics.
        momentum: Weight of the new batch statistics in the running ones.
        eps: Added to the variance before the square root.

    >>> x = fluxion.tensor([[1.0], [3.0]])
    >>> rm, rv = fluxion.zeros(1), fluxion.ones(1)
    >>> fluxion.nn.functional.batch_norm(x, rm, rv, training=True, eps=0.0)
    tensor([[-1.],
            [ 1.]])
    >>> rm, rv
    (tensor([0.2000]), tensor([1.1000]))
    """
    if (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must either both be None or neither be None")
    if input.ndim < 2:
        raise RuntimeError(
            f"batch_norm: expected input of shape (N, C) or (N, C, *), but got input of size "
            f"{list(input.shape)}; add a batch dimension with input.unsqueeze(0)"
        )
    if training:
        shape = input.shape
        if shape[0] * math.prod(shape[2:]) == 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size {shape!r}"
            )
    elif running_mean is None:
        raise RuntimeError("running_mean must be defined in evaluation mode")
    c = input.shape[1]
    _check_channels(running_mean, "running_mean", c)
    _check_channels(running_var, "running_var", c)
    _check_channels(weight, "weight", c)
    _check_channels(bias, "bias", c)
    _check_norm_dtype(input, "batch_norm", weight, bias, running_mean, running_var)
    out, stats = _k.native_batch_norm(
        input, weight, bias, running_mean, running_var, bool(training), eps
    )
    if training and running_mean is not None:
        n = input.numel() // c
        with _no_grad():
            mean, var = stats.unbind(0)
            running_mean.mul_(1.0 - momentum).add_(mean, alpha=momentum)
            running_var.mul_(1.0 - momentum).add_(var, alpha=momentum * n / max(n - 1, 1))
    return out


def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each channel of each sample of ``input`` (N, C, *) separately.

    Computed as ``batch_norm`` of the input viewed as ``(1, N * C, *)``, as PyTorch does; the
    running statistics (when given) are updated with the mean over the batch.

    >>> x = fluxion.tensor([[[1.0, 3.0]], [[0.0, 4.0]]])
    >>> fluxion.nn.functional.instance_norm(x, eps=0.0)
    tensor([[[-1.,  1.]],
    <BLANKLINE>
            [[-1.,  1.]]])
    """
    if input.ndim < 2:
        raise RuntimeError(
            f"instance_norm: expected input of shape (N, C, *), but got input of size "
            f"{list(input.shape)}"
        )
    n, c = input.shape[:2]
    if use_input_stats and math.prod(input.shape[2:]) == 1:
        raise ValueError(
            f"Expected more than 1 spatial element when training, got input size {input.shape!r}"
        )
    shape = (1, n * c) + tuple(input.shape[2:])
    rm = running_mean.repeat(n) if running_mean is not None else None
    rv = running_var.repeat(n) if running_var is not None else None
    w = weight.repeat(n) if weight is not None else None
    b = bias.repeat(n) if bias is not None else None
    out = batch_norm(input.reshape(shape), rm, rv, w, b, use_input_stats, momentum, eps)
    if use_input_stats and running_mean is not None:
        with _no_grad():
            running_mean.copy_(rm.reshape(n, c).mean(0))
            running_var.copy_(rv.reshape(n, c).mean(0))
    return out.reshape(input.shape)


def layer_norm(
    input: Tensor,
    normalized_shape,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise ``input`` over its last ``len(normalized_shape)`` dimensions.

    Args:
        input: Tensor of shape ``(*, *normalized_shape)``.
        normalized_shape: Trailing shape to normalise over (an int or a sequence of ints).
        weight: Optional elementwise scale of shape ``normalized_shape``.
        bias: Optional elementwise shift of shape ``normalized_shape``.
        eps: Added to the variance before the square root.

    >>> fluxion.nn.functional.layer_norm(fluxion.tensor([[1.0, 3.0]]), (2,), eps=0.0)
    tensor([[-1.,  1.]])
    """
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    elif isinstance(normalized_shape, (list, tuple)) or hasattr(normalized_shape, "__len__"):
        normalized_shape = tuple(int(s) for s in normalized_shape)
    else:
        raise TypeError(
            "layer_norm(): argument 'normalized_shape' (position 2) must be tuple of ints, not "
            f"{type(normalized_shape).__name__}"
        )
    k = len(normalized_shape)
    if k == 0:
        raise RuntimeError(
            "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least "
            "one element, but got normalized_shape = []"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != normalized_shape:
            raise RuntimeError(
                f"Expected {name} to be of same shape as normalized_shape, but got {name} of "
                f"shape {list(t.shape)} and normalized_shape = {list(normalized_shape)}"
            )
    if input.ndim < k or tuple(input.shape[input.ndim - k :]) != normalized_shape:
        ns = list(normalized_shape)
        raise RuntimeError(
            f"Given normalized_shape={ns}, expected input with shape [*, "
            f"{', '.join(map(str, ns))}], but got input of size{list(input.shape)}"
        )
    _check_norm_dtype(input, "LayerNormKernelImpl", weight, bias)
    return _k.native_layer_norm(input, weight, bias, k, eps)[0]


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise groups of channels of ``input`` (N, C, *), each sample separately.

    Args:
        input: Tensor of shape ``(N, C, *)`` with ``C`` divisible by ``num_groups``.
        num_groups: Number of channel groups sharing statistics.
        weight: Optional per-channel ``(C,)`` scale.
        bias: Optional per-channel ``(C,)`` shift.
        eps: Added to the variance before the square root.

    >>> x = fluxion.tensor([[[1.0], [3.0]]])
    >>> fluxion.nn.functional.group_norm(x, 1, eps=0.0)
    tensor([[[-1.],
             [ 1.]]])
    """
    if input.ndim < 2:
        raise RuntimeError(
            f"Expected at least 2 dimensions for input tensor but received {input.ndim}"
        )
    n, c = input.shape[:2]
    if num_groups <= 0 or c % num_groups:
        raise RuntimeError(
            "Expected number of channels in input to be divisible by num_groups, but got input "
            f"of shape {list(input.shape)} and num_groups={num_groups}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.ndim != 1 or t.shape[0] != c):
            raise RuntimeError(
                f"Expected {name} to be a vector of size equal to the number of channels in "
                f"input, but got {name} of shape {list(t.shape)} and input of shape "
                f"{list(input.shape)}"
            )
    _check_norm_dtype(input, "GroupNormKernelImpl", weight, bias)
    return _k.native_group_norm(input, weight, bias, int(num_groups), eps)[0]
