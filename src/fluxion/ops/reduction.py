"""Reductions: sum, mean, prod, max/min, var/std, logsumexp, norm, cumsum, all/any."""

from __future__ import annotations

from ._grad_helpers import expand_reduced, norm_dims
from ._registry import defop


def _sum_fwd(xp, input, dim=None, keepdim=False, dtype=None):
    axes = norm_dims(dim, input.ndim, "sum")
    if dtype is not None:
        from ..dtypes import to_dtype

        out_dtype = to_dtype(dtype).np
    elif input.dtype.kind in "biu":
        out_dtype = xp.int64  # integer sums never overflow a small type, as in PyTorch
    else:
        out_dtype = input.dtype
    return xp.sum(input, axis=axes, keepdims=keepdim, dtype=out_dtype)


sum = defop("sum", _sum_fwd,
            grads={"input": lambda grad, input_shape, dim, keepdim:
                   expand_reduced(grad, input_shape, dim, keepdim)})


def _mean_fwd(xp, input, dim=None, keepdim=False, dtype=None):
    if dtype is None and input.dtype.kind != "f":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {_TORCH_NAMES.get(input.dtype.name, input.dtype.name)}"
        )
    axes = norm_dims(dim, input.ndim, "mean")
    out = xp.mean(input, axis=axes, keepdims=keepdim, dtype=None if dtype is None else
                  __import__("fluxion").dtypes.to_dtype(dtype).np)
    return xp.asarray(out, dtype=out.dtype)


def _mean_grad(grad, input_shape, dim, keepdim):
    count = 1
    for d in norm_dims(dim, len(input_shape)):
        count *= input_shape[d]
    return expand_reduced(grad, input_shape, dim, keepdim) / count


mean = defop("mean", _mean_fwd, grads={"input": _mean_grad})

_TORCH_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char",
                "uint8": "Byte", "bool": "Bool"}
