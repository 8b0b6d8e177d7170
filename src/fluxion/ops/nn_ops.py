"""Neural-network kernels: activations, convolution, pooling, padding, embedding, NLL loss.

Every forward runs on raw arrays and receives the array module ``xp``. Convolution and pooling
use im2col through strided views (``sliding_window_view``) and BLAS matrix products; col2im
(scattering window gradients back onto the input) loops over kernel positions only, each step
one vectorised strided add, never over pixels or the batch.

Each linear kernel is declared together with its adjoint, so that every backward rule is itself
made of differentiable ops and double backward works: ``convolution`` ->
``convolution_backward_input`` (the transposed convolution) and ``convolution_backward_weight``,
which differentiate into each other; max pooling's scatter and gather; average pooling and its
spread; constant padding with the opposite padding; index padding and its scatter.

``fluxion.nn.functional`` validates arguments (with PyTorch's messages) and calls the kernels
here with normalised arguments; the kernels trust them.
"""

from __future__ import annotations

import functools
import itertools
import math

from .._backend import blas_core
from ..tensor import Tensor, _wrap
from ._registry import NOT_DIFFERENTIABLE, defop, promote_pair
from ._registry import xp as _reg_xp
from .elementwise import _float_kernel, _scalar_as, erf, exp, sigmoid, softplus, tanh, where

# Nothing here is exported at the top level: several names (``embedding``, ``convolution``) exist
# in torch's namespace with other signatures. ``fluxion.nn.functional`` is the public face.
__all__: list[str] = []

_SQRT1_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715

# ------------------------------------------------------------------------ activations


def _gelu_fwd(xp, input, approximate="none"):
    from .._backend import erf as _erf

    _float_kernel(input, "GeluKernelImpl")
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (input + _GELU_C * input * input * input)
        return (0.5 * input * (1.0 + xp.tanh(inner))).astype(input.dtype, copy=False)
    return (0.5 * input * (1.0 + _erf(xp, input * _SQRT1_2))).astype(input.dtype, copy=False)


def _gelu_grad(grad, input, approximate):
    """d gelu / dx, written with Tensor ops so that it is itself differentiable."""
    if approximate == "tanh":
        x2 = input * input
        t = tanh((input + x2 * input * _GELU_C) * _SQRT_2_OVER_PI)
        dinner = (x2 * (3.0 * _GELU_C) + 1.0) * _SQRT_2_OVER_PI
        return grad * ((t + 1.0) * 0.5 + input * 0.5 * (1.0 - t * t) * dinner)
    cdf = (erf(input * _SQRT1_2) + 1.0) * 0.5
    pdf = exp(input * input * -0.5) * _INV_SQRT_2PI
    return grad * (cdf + input * pdf)


gelu = defop("gelu", _gelu_fwd, grads={"input": _gelu_grad})


def _silu_fwd(xp, input):
    e = xp.exp(
        -xp.abs(_float_kernel(input, "silu_cpu"))
    )  # the stable sigmoid, as in elementwise.sigmoid
    s = xp.where(input >= 0, 1 / (1 + e), e / (1 + e))
    return (input * s).astype(input.dtype, copy=False)


def _silu_grad(grad, input):
    s = sigmoid(input)
    return grad * s * (1.0 + input * (1.0 - s))


silu = defop("silu", _silu_fwd, grads={"input": _silu_grad})


def _leaky_relu_fwd(xp, input, negative_slope=0.01):
    _float_kernel(input, "leaky_relu_cpu")
    return xp.where(input > 0, input, input * negative_slope).astype(input.dtype, copy=False)


# the slope at 0 is negative_slope (PyTorch: input > 0 ? grad : grad * negative_slope)
leaky_relu = defop(
    "leaky_relu",
    _leaky_relu_fwd,
    grads={
        "input": lambda grad, input, negative_slope: where(input > 0, grad, grad * negative_slope)
    },
)


def _elu_fwd(xp, input, alpha=1.0):
    _float_kernel(input, "elu_cpu")
    neg = alpha * xp.expm1(xp.minimum(input, 0))  # minimum: no overflow warning for large x
    return xp.where(input > 0, input, neg).astype(input.dtype, copy=False)


# at 0 the left branch is used: d/dx = alpha * exp(0) = alpha, as in PyTorch's elu_backward
elu = defop(
    "elu",
    _elu_fwd,
    grads={
        "input": lambda grad, input, alpha: where(
            input > 0, grad, grad * alpha * exp(input.clamp(None, 0.0))
        )
    },
)

# ------------------------------------------------------------------------ im2col machinery


def _pad(xp, x, pads, value):
    """Pad the last ``len(pads)`` dims of ``x`` by ``(lo, hi)`` pairs (all >= 0) with ``value``."""
    if not any(lo or hi for lo, hi in pads):
        return x
    lead = x.ndim - len(pads)
    shape = x.shape[:lead] + tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[lead:], pads))
    out = xp.full(shape, value, dtype=x.dtype)
    out[(Ellipsis,) + tuple(slice(lo, lo + s) for s, (lo, _) in zip(x.shape[lead:], pads))] = x
    return out


@functools.lru_cache(maxsize=4096)  # per layer geometry: 25 tuples a 5x5 kernel, every call
def _at(kpos, dilation, out, stride):
    """Index of the strided view holding kernel position ``kpos`` of every window."""
    return (Ellipsis,) + tuple(
        slice(k * d, k * d + (o - 1) * s + 1, s) for k, d, o, s in zip(kpos, dilation, out, stride)
    )


@functools.lru_cache(maxsize=4096)
def _at_bl(kpos, dilation, out, stride):
    """``_at`` for a batch-last array: the spatial slices, then the batch axis."""
    return _at(kpos, dilation, out, stride) + (slice(None),)


def _col2im(xp, cols, size, kernel, stride, padding, dilation, batch_last=False):
    """Sum ``cols[..., *kernel, *out]`` back onto an input of spatial ``size`` (adjoint of im2col).

    One strided add per kernel position (prod(kernel) iterations), each over the whole batch.
    With ``batch_last`` the batch axis comes last, ``cols[C, *kernel, *out, N]`` gives
    ``[C, *size, N]`` (a view when the padding is cropped: the caller transposes it anyway).
    """
    nd = len(kernel)
    tail = 1 if batch_last else 0
    out = cols.shape[cols.ndim - nd - tail : cols.ndim - tail]
    lead = cols.shape[: cols.ndim - 2 * nd - tail]
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(size, padding))
    dx = xp.zeros(lead + padded + cols.shape[cols.ndim - tail :], dtype=cols.dtype)
    for into, src in _col2im_pairs(tuple(kernel), dilation, out, stride, batch_last):
        dx[into] += cols[src]
    if not any(lo or hi for lo, hi in padding):
        return dx
    crop = tuple(slice(lo, lo + s) for s, (lo, _) in zip(size, padding))
    cropped = dx[(Ellipsis,) + crop + (slice(None),) * tail]
    return cropped if batch_last else xp.ascontiguousarray(cropped)


@functools.lru_cache(maxsize=256)
def _col2im_pairs(kernel, dilation, out, stride, batch_last):
    """``_col2im``'s (target, source) index pair per kernel position, built once per geometry."""
    at = _at_bl if batch_last else _at
    rest = (slice(None),) * (len(kernel) + batch_last)
    return tuple(
        (at(kpos, dilation, out, stride), (Ellipsis,) + kpos + rest)
        for kpos in itertools.product(*[range(k) for k in kernel])
    )


def _conv_out(size, kernel, stride, padding, dilation):
    return tuple(
        (s + lo + hi - d * (k - 1) - 1) // st + 1
        for s, k, st, (lo, hi), d in zip(size, kernel, stride, padding, dilation)
    )


# ------------------------------------------------------------------------ convolution
#
# Shapes: input (N, C, *S), weight (O, C/groups, *K), output (N, O, *out). padding is a tuple of
# (lo, hi) pairs per spatial dim (asymmetric for padding='same' with even kernels).


# Convolutions work in a batch-last layout, ``(C, *S, N)``: the image axes are transposed once
# (input in, output out), and then every im2col copy and col2im add moves runs of ``out_w * N``
# contiguous elements instead of rows of ``out_w`` (LeNet: rows of 10-28 floats, where NumPy's
# per-row loop overhead dominated). The products are one BLAS call per group over all images.


def _batch_last(xp, x, groups: int, pads=None):
    """``(N, C, *S)`` -> contiguous ``(G, C/G, *S_padded, N)``, zero-padded by ``pads``."""
    n, c = x.shape[:2]
    spatial = x.shape[2:]
    moved = x.transpose(tuple(range(1, x.ndim)) + (0,))  # (C, *S, N), a view
    if pads is None or not any(lo or hi for lo, hi in pads):
        xt = xp.ascontiguousarray(moved)
    else:
        padded = tuple(s + lo + hi for s, (lo, hi) in zip(spatial, pads))
        xt = xp.zeros((c,) + padded + (n,), dtype=x.dtype)
        inner = tuple(slice(lo, lo + s) for s, (lo, _) in zip(spatial, pads))
        xt[(slice(None),) + inner + (slice(None),)] = moved
    return xt.reshape((groups, c // groups) + xt.shape[1:])


def _batch_first(xp, y):
    """``(C, *S, N)`` (any strides) -> contiguous ``(N, C, *S)``."""
    return xp.ascontiguousarray(y.transpose((y.ndim - 1,) + tuple(range(y.ndim - 1))))


def _cols_bl(xp, input, kernel, stride, padding, dilation, groups, out):
    """im2col, batch innermost: ``(G, C/G * prod(K), prod(out) * N)``, one copy per position."""
    n, c = input.shape[:2]
    x = _batch_last(xp, input, groups, padding)
    cols = xp.empty((groups, c // groups) + tuple(kernel) + tuple(out) + (n,), dtype=input.dtype)
    _fill_cols(xp, cols, x, kernel, stride, dilation, x.strides[:2], (), x.strides[-1:])
    k = c // groups * math.prod(kernel)  # explicit sizes (no -1): empty batches reshape too
    return cols.reshape(groups, k, math.prod(out) * n)


def _grad_bl(xp, grad_output, groups: int):
    """The output gradient as ``(G, O/G, prod(out) * N)``."""
    n, o = grad_output.shape[:2]
    gy = _batch_last(xp, grad_output, groups)
    return gy.reshape(groups, o // groups, math.prod(grad_output.shape[2:]) * n)


# Output rows at least this long go batch-first through the forward (see _conv_fwd).
_LONG_ROWS = 16


def _fill_cols(xp, dst, src, kernel, stride, dilation, before, between=(), after=()):
    """im2col: ``dst[*b, *kpos, *m, *opos, *a] = src[..., opos * stride + kpos * dilation]``.

    ``src`` ends in its spatial axes, unless ``after`` names a trailing batch axis; ``before``,
    ``between`` and ``after`` are the ``src`` strides of ``dst``'s axes around its kernel and
    output axes. One copy from a window view of ``src`` (every index stays in bounds: ``out``
    is the convolution's output size), so NumPy's copy loop runs over the output positions
    innermost, merged with the batch axis where that is last (LeNet's second layer: runs of
    640 floats). Measured on LeNet's layers: 247 -> 220 us and 84 -> 59 us against one block
    copy per kernel position, which was itself 5-10x faster than copying the windows with the
    short kernel axes innermost.
    """
    nd = len(kernel)
    spatial = src.strides[src.ndim - nd - len(after) : src.ndim - len(after)]
    strides = before + tuple(t * d for t, d in zip(spatial, dilation)) + between
    strides += tuple(t * s for t, s in zip(spatial, stride)) + after
    dst[...] = xp.lib.stride_tricks.as_strided(src, dst.shape, strides)  # read, never written
    return dst


def _group_cols(xp, input, kernel, stride, padding, dilation, groups, out):
    """im2col for long rows: ``(G, C/G * prod(K), N, prod(out))``, the forward's one copy.

    The batch axis sits between the kernel and output axes: each image's columns are rows of
    ``prod(out)`` (LeNet's first layer: 784), and the forward is one product per group over all
    images, which OpenBLAS splits over its threads (LeNet: 0.24 ms as 64 products, 0.17 ms as
    one), with the bias added along contiguous rows.
    """
    n, c = input.shape[:2]
    x = _pad(xp, input, padding, 0)
    x = x.reshape((n, groups, c // groups) + x.shape[2:])
    k = c // groups * math.prod(kernel)  # explicit sizes (no -1): empty batches reshape too
    flat = xp.empty((groups, k, n, math.prod(out)), dtype=input.dtype)
    cols = flat.reshape((groups, c // groups) + tuple(kernel) + (n,) + tuple(out))
    st = x.strides
    _fill_cols(xp, cols, x, kernel, stride, dilation, st[1:3], st[:1])
    return flat


def _conv_fwd(xp, input, weight, bias, stride, padding, dilation, groups):
    o = weight.shape[0]
    kernel = weight.shape[2:]
    out = _conv_out(input.shape[2:], kernel, stride, padding, dilation)
    if out[-1] >= _LONG_ROWS:
        # long output rows: im2col copies rows of the input image, not of the batch-last
        # layout (LeNet's 28x28 layer: 560 vs 920 us batch-last), then one product per group
        n, p = input.shape[0], math.prod(out)
        cols = _group_cols(xp, input, kernel, stride, padding, dilation, groups, out)
        g, k = cols.shape[:2]
        og = o // g
        w = weight.reshape(g, og, k)
        rows = _product_rows(xp, og, w.dtype)
        if rows != og:
            w = _zero_padded(xp, w, rows)
        y = xp.matmul(w, cols.reshape(g, k, n * p))[:, :og]  # (G, Og, N*P)
        if bias is not None:
            y += bias.reshape(g, og, 1)
        result = xp.empty((n, o) + out, dtype=y.dtype)  # (N, O, P): one copy to the output layout
        result.reshape(n, g, og, p)[...] = y.reshape(g, og, n, p).transpose(2, 0, 1, 3)
        return result, _kept(xp, cols)
    cols = _cols_bl(xp, input, kernel, stride, padding, dilation, groups, out)
    w = weight.reshape(groups, o // groups, cols.shape[1])
    y = xp.matmul(w, cols)  # (G, Og, P*N): one BLAS product per group
    if bias is not None:
        y += bias.reshape(groups, o // groups, 1)
    return _batch_first(xp, y.reshape((o,) + out + (input.shape[0],))), _kept(xp, cols)


# OpenBLAS's Haswell-family sgemm kernels ("haswell", and "zen", which runs them) take 5-7 rows
# as tails of 4, 2 and 1 rows, at a fraction of their 8-row kernel's speed. With 5-7 output
# channels per group, the long-rows products get 8 rows, the extra ones zero (measured on a
# 2-core Zen 5 VM under OPENBLAS_CORETYPE=Haswell, interleaved A/B, new/old: forward products
# 0.59-0.94, weight gradients 0.55-0.65 across 1- and 3-channel inputs; LeNet's first layer
# 0.46 -> 0.30 ms for its weight gradient). With 4 rows or fewer, or 8 and more, padding
# measured no better or worse; SkylakeX kernels run the unpadded per-image products up to 7x
# faster, so other BLAS builds keep them.
_ROW_PAD_CORES = ("haswell", "zen")


def _product_rows(xp, og: int, dtype) -> int:
    """Rows to give the long-rows products of ``og`` output channels per group (see above)."""
    if 4 < og < 8 and xp is _reg_xp and dtype.char == "f" and blas_core() in _ROW_PAD_CORES:
        return 8
    return og


def _zero_padded(xp, a, rows: int):
    """``a`` (G, R, ...) in a new zero array of ``rows`` rows: ``out[:, :R] = a``."""
    out = xp.zeros((a.shape[0], rows) + a.shape[2:], dtype=a.dtype)
    out[:, : a.shape[1]] = a
    return out


# The forward's im2col columns are kept for the weight gradient (LeNet: 0.4-0.5 ms a layer
# not spent copying them again) up to this size; larger ones (3x3 kernels over big images hold
# 9x the input) are recomputed in backward rather than held from forward to backward.
_KEEP_COLS = 16 << 20


def _kept(xp, cols):
    """The columns to keep (an aux output), or an empty array when they are too large."""
    return cols if cols.nbytes <= _KEEP_COLS else xp.empty((0,), dtype=cols.dtype)


def _conv_bw_input_fwd(xp, grad_output, weight, input_size, stride, padding, dilation, groups):
    n, o = grad_output.shape[:2]
    out = grad_output.shape[2:]
    kernel = weight.shape[2:]
    c = weight.shape[1] * groups
    w = weight.reshape(groups, o // groups, weight.shape[1] * math.prod(kernel))
    cols = xp.matmul(w.transpose(0, 2, 1), _grad_bl(xp, grad_output, groups))  # (G, K, P*N)
    cols = cols.reshape((c,) + kernel + out + (n,))
    dx = _col2im(xp, cols, input_size, kernel, stride, padding, dilation, batch_last=True)
    return _batch_first(xp, dx)


def _conv_bw_weight_fwd(
    xp, input, grad_output, kernel_size, stride, padding, dilation, groups, cols=None
):
    c = input.shape[1]
    n, o = grad_output.shape[:2]
    out = grad_output.shape[2:]
    og = o // groups
    if cols is not None and cols.ndim == 4:  # the forward's (G, K, N, P) columns
        p = math.prod(out)
        rows = _product_rows(xp, og, grad_output.dtype)
        if rows != og:  # one product over every image, the gradient's rows padded with zeros
            k = cols.shape[1]
            gy = _zero_padded(xp, grad_output.reshape(n, groups, og, p).transpose(1, 2, 0, 3), rows)
            flat = cols.reshape(groups, k, n * p).transpose(0, 2, 1)
            dw = xp.ascontiguousarray(xp.matmul(gy.reshape(groups, rows, n * p), flat)[:, :og])
        else:  # N products (G, Og, P) @ (G, P, K) over strided views of the columns, summed
            gy = grad_output.reshape(n, groups, og, p)
            dw = xp.matmul(gy, cols.transpose(2, 0, 3, 1)).sum(axis=0)
        return dw.reshape((o, c // groups) + tuple(kernel_size))
    if cols is None or cols.ndim != 3:  # not kept: im2col again, (G, K, L)
        cols = _cols_bl(xp, input, kernel_size, stride, padding, dilation, groups, out)
    # cols (G, K, L) against the batch-last gradient (G, Og, L), L = (*out, N): A @ B.T. The
    # gradient's copy keeps runs of N (LeNet's second layer 40 us, 72 us with Og innermost for
    # a plain A @ B); the product costs about the same under OpenBLAS's Haswell kernels (0.187
    # vs 0.183 ms) and 0.035 ms more under its SkylakeX ones (an earlier host measured 1.3-3x)
    dw = _contract(xp, cols, _grad_bl(xp, grad_output, groups).transpose(0, 2, 1))  # (G, K, Og)
    return dw.transpose(0, 2, 1).reshape((o, c // groups) + tuple(kernel_size))


# On an earlier host OpenBLAS's sgemm slowed down several times once the contracted length
# passed about 8K with a small output ((6, 50176) @ (50176, 25): 1.0 ms in one product, 0.25 ms
# in pieces). Under this VM's Haswell kernels pieces gain nothing (the padded 8-row weight
# gradient above: 0.31 ms in one product, 0.33 ms in pieces), so it takes one product.
_CONTRACT_CHUNK = 8192


def _contract(xp, a, b):
    """``a @ b`` per group, (G, M, L) @ (G, L, K) (any strides): a long L goes in pieces."""
    n = a.shape[-1]
    if n <= _CONTRACT_CHUNK:
        return xp.matmul(a, b)
    acc = None
    for s in range(0, n, _CONTRACT_CHUNK):
        part = xp.matmul(a[..., s : s + _CONTRACT_CHUNK], b[:, s : s + _CONTRACT_CHUNK])
        if acc is None:
            acc = part
        else:
            acc += part
    return acc


def _conv_input_grad(grad, weight, input_shape, stride, padding, dilation, groups):
    return convolution_backward_input(
        grad, weight, tuple(input_shape[2:]), stride, padding, dilation, groups
    )


def _conv_weight_grad(grad, input, weight_shape, stride, padding, dilation, groups, cols):
    # cols (the forward's im2col) serve only the raw rule: this one must stay differentiable in
    # input, so it goes through convolution_backward_weight
    return convolution_backward_weight(
        input, grad, tuple(weight_shape[2:]), stride, padding, dilation, groups
    )


def _conv_bias_grad(xp, grad):
    """``grad.sum((0, 2, ...))`` as one matrix-vector product over the spatial positions, then a
    sum over the batch: 3x faster than NumPy's reduction over the non-adjacent axes (LeNet's
    first layer, 64x6x28x28: 45 -> 14 us), and as accurate (BLAS dot products, not a running
    float32 sum).
    """
    if grad.dtype.char not in "fd":  # BLAS dots for float32/64; NumPy's sum for the others
        return grad.sum(axis=(0,) + tuple(range(2, grad.ndim)))
    n, c = grad.shape[:2]
    p = math.prod(grad.shape[2:])
    per_image = grad.reshape(n * c, p) @ xp.ones(p, dtype=grad.dtype)
    return per_image.reshape(n, c).sum(axis=0)


convolution = defop(
    "convolution",
    _conv_fwd,
    inputs=("input", "weight", "bias"),
    aux=("cols",),
    grads={
        "input": _conv_input_grad,
        "weight": _conv_weight_grad,
        "bias": lambda grad: grad.sum((0,) + tuple(range(2, grad.ndim))),
    },
    raw_grads={  # first-order backward: the two kernels' forwards, straight on the arrays
        "input": lambda grad, weight, input_shape, stride, padding, dilation, groups: (
            _conv_bw_input_fwd(
                _reg_xp, grad, weight, tuple(input_shape[2:]), stride, padding, dilation, groups
            )
        ),
        "weight": lambda grad, input, weight_shape, stride, padding, dilation, groups, cols: (
            _conv_bw_weight_fwd(
                _reg_xp,
                input,
                grad,
                tuple(weight_shape[2:]),
                stride,
                padding,
                dilation,
                groups,
                cols,
            )
        ),
        "bias": lambda grad: _conv_bias_grad(_reg_xp, grad),
    },
)
convolution.__doc__ = """Convolve ``input`` (N, C, *S) with ``weight`` (O, C/groups, *K).

    Low-level kernel behind ``fluxion.nn.functional.conv1d/conv2d``: ``stride`` and ``dilation``
    are tuples, ``padding`` a tuple of ``(lo, hi)`` pairs, arguments are not validated.
    Returns ``(output, cols)``: ``cols`` are the im2col columns, kept for the weight gradient
    (empty when over 16 MiB; an implementation detail whose layout may change).

    >>> K, x, w = fluxion.ops.nn_ops, fluxion.ones(1, 1, 3, 3), fluxion.ones(1, 1, 2, 2)
    >>> y, cols = K.convolution(x, w, None, (1, 1), ((0, 0), (0, 0)), (1, 1), 1)
    >>> y.shape
    fluxion.Size([1, 1, 2, 2])
    """

# The transposed convolution. Both kernels are linear in each argument; their VJPs are the
# other two kernels, which closes the set under differentiation.
convolution_backward_input = defop(
    "convolution_backward_input",
    _conv_bw_input_fwd,
    grads={
        "grad_output": lambda grad, weight, stride, padding, dilation, groups: convolution(
            grad, weight, None, stride, padding, dilation, groups
        )[0],
        "weight": lambda grad, grad_output, weight_shape, stride, padding, dilation, groups: (
            convolution_backward_weight(
                grad, grad_output, tuple(weight_shape[2:]), stride, padding, dilation, groups
            )
        ),
    },
)
convolution_backward_input.__doc__ = """Return the gradient of ``convolution`` w.r.t. its input.

    This is the transposed convolution of ``grad_output`` with ``weight`` onto an input of
    spatial size ``input_size``.

    >>> K, g, w = fluxion.ops.nn_ops, fluxion.ones(1, 1, 2, 2), fluxion.ones(1, 1, 2, 2)
    >>> K.convolution_backward_input(g, w, (3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1), 1)
    tensor([[[[1., 2., 1.],
              [2., 4., 2.],
              [1., 2., 1.]]]])
    """

convolution_backward_weight = defop(
    "convolution_backward_weight",
    _conv_bw_weight_fwd,
    grads={
        "input": lambda grad, grad_output, input_shape, stride, padding, dilation, groups: (
            convolution_backward_input(
                grad_output, grad, tuple(input_shape[2:]), stride, padding, dilation, groups
            )
        ),
        "grad_output": lambda grad, input, stride, padding, dilation, groups: convolution(
            input, grad, None, stride, padding, dilation, groups
        )[0],
    },
)
convolution_backward_weight.__doc__ = """Return the gradient of ``convolution`` w.r.t. its weight.

    >>> K, x, g = fluxion.ops.nn_ops, fluxion.ones(1, 1, 3, 3), fluxion.ones(1, 1, 2, 2)
    >>> K.convolution_backward_weight(x, g, (2, 2), (1, 1), ((0, 0), (0, 0)), (1, 1), 1)
    tensor([[[[4., 4.],
              [4., 4.]]]])
    """

# ------------------------------------------------------------------------ pooling
#
# Pooling kernels work on the last len(kernel_size) dims; every leading dim is a batch dim.


def _pool_geometry(size, kernel, stride, padding, dilation, ceil_mode):
    """Output size and the (lo, hi) padding that makes every window fit (PyTorch's formula)."""
    out, pads = [], []
    for s, k, st, p, d in zip(size, kernel, stride, padding, dilation):
        eff = d * (k - 1) + 1
        o = (s + 2 * p - eff + (st - 1 if ceil_mode else 0)) // st + 1
        if ceil_mode and (o - 1) * st >= s + p:
            o -= 1  # the last window must start inside the input or the left padding
        out.append(o)
        pads.append((p, max(0, (o - 1) * st + eff - s - p)))
    return tuple(out), tuple(pads)


def _lowest(xp, dtype):
    return -xp.inf if dtype.kind == "f" else xp.iinfo(dtype).min


def _max_pool_fwd(xp, input, kernel_size, stride, padding, dilation, ceil_mode):
    nd = len(kernel_size)
    size = input.shape[-nd:]
    out, pads = _pool_geometry(size, kernel_size, stride, padding, dilation, ceil_mode)
    kpositions = list(itertools.product(*[range(n) for n in kernel_size]))
    inside = not any(lo or hi for lo, hi in pads)
    tiled = inside and stride == kernel_size and all(d == 1 for d in dilation)
    if tiled:  # contiguous planes; the codes are the offsets in the input plane
        views = _tiled_planes(xp, input, kernel_size, out)
        codes = _plane_offsets(size, kpositions, dilation)
    else:  # strided views of the padded input; the codes are the kernel positions
        x = _pad(xp, input, pads, _lowest(xp, input.dtype))
        views = [x[_at(kpos, dilation, out, stride)] for kpos in kpositions]
        codes = range(len(kpositions))
    values, arg = _running_max(xp, views, codes, nan_aware=False)
    if input.dtype.kind == "f" and len(kpositions) > 1 and values.size and xp.isnan(values.max()):
        # PyTorch's rule is (val > maxval) || isnan(val): the index of the last NaN wins. Only
        # inputs with a NaN pay for that test (maximum already propagates NaN to the values)
        values, arg = _running_max(xp, views, codes, nan_aware=True)
    if tiled:
        return values, arg + _window_starts(xp, size, out, stride)
    if inside:  # every window inside the input: a table lookup
        offs = xp.array(_plane_offsets(size, kpositions, dilation), dtype=xp.int64)
        return values, offs.take(arg) + _window_starts(xp, size, out, stride)
    # flat index in the unpadded input plane of the winning position. PyTorch never visits the
    # padding: where it won (every element of the window is the padding value, e.g. -inf),
    # the index is the window's first element
    kpos = xp.unravel_index(arg, kernel_size)
    coords, inside = [], True
    for i in range(nd):
        shape = [1] * nd
        shape[i] = out[i]
        start = (xp.arange(out[i]) * stride[i] - padding[i]).reshape(shape)
        c = start + kpos[i] * dilation[i]
        coords.append((c, start + dilation[i] * (-(start // dilation[i])).clip(0)))
        inside = inside & (c >= 0) & (c < size[i])
    flat = 0
    for i, (c, first) in enumerate(coords):
        flat = flat * size[i] + xp.where(inside, c, first)
    return values, flat.astype(xp.int64, copy=False)


def _tiled_planes(xp, x, kernel, out):
    """Split ``x`` into ``prod(kernel)`` contiguous planes ``(*K, *lead, *out)``, one per position.

    For windows that tile the input (stride == kernel, no padding, no dilation; leftover rows and
    columns are dropped). One copy, after which the running max reads contiguous memory, where
    NumPy's loops are several times faster than over strided views (LeNet's 2x2 pools: 0.49 ->
    0.30 ms and 0.26 -> 0.17 ms).
    """
    nd = len(kernel)
    lead = x.shape[: x.ndim - nd]
    crop = x[(Ellipsis,) + tuple(slice(0, o * k) for o, k in zip(out, kernel))]
    split = crop.reshape(lead + tuple(v for o, k in zip(out, kernel) for v in (o, k)))
    n = len(lead)
    order = tuple(n + 2 * i + 1 for i in range(nd)) + tuple(range(n))
    order += tuple(n + 2 * i for i in range(nd))
    count = math.prod(kernel)  # explicit sizes (no -1): empty batches reshape too
    return xp.ascontiguousarray(split.transpose(order)).reshape((count,) + lead + tuple(out))


def _plane_offsets(size, kpositions, dilation) -> list:
    """Offset of each kernel position from its window's first element in a flat input plane."""
    plane = [math.prod(size[i + 1 :]) for i in range(len(size))]
    return [sum(k * d * p for k, d, p in zip(kpos, dilation, plane)) for kpos in kpositions]


def _window_starts(xp, size, out, stride):
    """Flat index in the input plane of each window's first element, shape ``out`` (int64)."""
    starts = xp.zeros(out, dtype=xp.int64)
    step = 1
    for i in reversed(range(len(size))):
        shape = [1] * len(size)
        shape[i] = out[i]
        starts += (xp.arange(out[i], dtype=xp.int64) * (stride[i] * step)).reshape(shape)
        step *= size[i]
    return starts


def _running_max(xp, views, codes, nan_aware: bool):
    """Max over ``views`` (one per kernel position, each over the whole batch), winner's code.

    ``codes`` (increasing) name the positions. No window copy and no reduction over a tiny
    trailing axis (both slow in NumPy). The code is updated arithmetically (``arg += better *
    (code - arg)``, as ``arg < code``): a masked ``copyto`` is a branch per element, 10-30x
    slower on random data.
    """
    top = codes[-1]
    kind = xp.uint8 if top < 256 else xp.uint16 if top < 65536 else xp.int64
    values = views[0].copy()
    arg = xp.zeros(values.shape, dtype=kind)
    for v, code in zip(views[1:], codes[1:]):
        better = v > values
        if nan_aware:
            better |= v != v  # PyTorch: (val > maxval) || isnan(val)
        arg += better * (kind(code) - arg)
        xp.maximum(values, v, out=values)  # propagates NaN, like the update above
    return values, arg


def _disjoint_windows(kernel, stride, padding, dilation) -> bool:
    """No input element is in two windows, and no window reaches into padding."""
    return not any(padding) and all(
        s >= d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation)
    )


def _max_pool_scatter_fwd(xp, grad_output, indices, input_size, unique=False):
    """Sum ``grad_output`` into a zero input at ``indices`` (flat per plane).

    With ``unique`` (windows that do not overlap, stride >= kernel: no index repeats) the sum is
    a plain assignment, 2x faster than ``bincount``'s float64 accumulation and cast.
    """
    nd = len(input_size)
    lead = grad_output.shape[: grad_output.ndim - nd]
    plane = math.prod(input_size)
    rows = math.prod(lead)
    base = (xp.arange(rows, dtype=xp.int64) * plane).reshape((rows,) + (1,) * nd)
    flat = (indices.reshape((rows,) + indices.shape[len(lead) :]) + base).ravel()
    if unique:
        dx = xp.zeros(rows * plane, dtype=grad_output.dtype)
        dx[flat] = grad_output.ravel()
        return dx.reshape(lead + tuple(input_size))
    dx = xp.bincount(flat, weights=grad_output.ravel(), minlength=rows * plane)
    return dx.astype(grad_output.dtype, copy=False).reshape(lead + tuple(input_size))


def _max_pool_gather_fwd(xp, input, indices, nd):
    lead = input.shape[: input.ndim - nd]
    flat_in = input.reshape(lead + (math.prod(input.shape[input.ndim - nd :]),))
    flat_idx = indices.reshape(lead + (math.prod(indices.shape[indices.ndim - nd :]),))
    return xp.take_along_axis(flat_in, flat_idx, -1).reshape(indices.shape)


def _max_pool_input_grad(grad, indices, input_shape, kernel_size, stride, padding, dilation):
    return max_pool_scatter(
        grad, indices, tuple(input_shape[len(input_shape) - len(kernel_size) :])
    )


max_pool2d_with_indices = defop(
    "max_pool2d_with_indices",
    _max_pool_fwd,
    aux=("indices",),
    node_name="MaxPool2DWithIndicesBackward0",
    grads={"input": _max_pool_input_grad},
    raw_grads={
        "input": lambda grad, indices, input_shape, kernel_size, stride, padding, dilation: (
            _max_pool_scatter_fwd(
                _reg_xp,
                grad,
                indices,
                tuple(input_shape[len(input_shape) - len(kernel_size) :]),
                unique=_disjoint_windows(kernel_size, stride, padding, dilation),
            )
        )
    },
)
max_pool2d_with_indices.__doc__ = """Max-pool the last two dims; return (values, indices).

    Low-level kernel behind ``fluxion.nn.functional.max_pool2d`` (arguments are tuples and are
    not validated). ``indices`` index the flattened, unpadded input plane.

    >>> K = fluxion.ops.nn_ops
    >>> x = fluxion.arange(16.0).reshape(1, 4, 4)
    >>> v, i = K.max_pool2d_with_indices(x, (2, 2), (2, 2), (0, 0), (1, 1), False)
    >>> v, i
    (tensor([[[ 5.,  7.],
             [13., 15.]]]), tensor([[[ 5,  7],
             [13, 15]]]))
    """

# The scatter (max pooling's VJP) and the gather are each other's adjoints.
max_pool_scatter = defop(
    "max_pool_scatter",
    _max_pool_scatter_fwd,
    inputs=("grad_output",),
    grads={
        "grad_output": lambda grad, indices, input_size: max_pool_gather(
            grad, indices, len(input_size)
        )
    },
)
max_pool_gather = defop(
    "max_pool_gather",
    _max_pool_gather_fwd,
    inputs=("input",),
    grads={
        "input": lambda grad, indices, input_shape, nd: max_pool_scatter(
            grad, indices, tuple(input_shape[len(input_shape) - nd :])
        )
    },
)


def _avg_divisor(
    xp, size, kernel, stride, padding, out, count_include_pad, divisor_override, dtype
):
    """Per-window divisor, shape ``out`` (PyTorch's pool_size rules, incl. ceil_mode windows)."""
    if divisor_override:
        return divisor_override
    div = xp.ones((), dtype=dtype)
    for i, (s, k, st, p, o) in enumerate(zip(size, kernel, stride, padding, out)):
        start = xp.arange(o) * st - p
        end = xp.minimum(start + k, s + p)
        if count_include_pad:
            count = end - start
        else:
            count = xp.minimum(end, s) - xp.maximum(start, 0)
        shape = (o,) + (1,) * (len(size) - i - 1)
        div = div * count.astype(dtype).reshape(shape)
    return div


def _avg_pool_fwd(
    xp, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
):
    nd = len(kernel_size)
    size = input.shape[-nd:]
    ones = (1,) * nd
    out, pads = _pool_geometry(size, kernel_size, stride, padding, ones, ceil_mode)
    x = _pad(xp, input, pads, 0)
    acc = None
    for kpos in itertools.product(*[range(k) for k in kernel_size]):  # window sum, no copies
        v = x[_at(kpos, ones, out, stride)]
        if acc is None:
            acc = v.copy()
        else:
            acc += v
    div = _avg_divisor(
        xp,
        size,
        kernel_size,
        stride,
        padding,
        out,
        count_include_pad,
        divisor_override,
        input.dtype if input.dtype.kind == "f" else xp.float64,
    )
    if input.dtype.kind != "f":  # C integer division: toward zero
        return xp.trunc(acc / div).astype(input.dtype)
    return (acc / div).astype(input.dtype, copy=False)


def _avg_spread_fwd(
    xp,
    grad_output,
    input_size,
    kernel_size,
    stride,
    padding,
    ceil_mode,
    count_include_pad,
    divisor_override,
):
    nd = len(kernel_size)
    ones = (1,) * nd
    out, pads = _pool_geometry(input_size, kernel_size, stride, padding, ones, ceil_mode)
    div = _avg_divisor(
        xp,
        input_size,
        kernel_size,
        stride,
        padding,
        out,
        count_include_pad,
        divisor_override,
        grad_output.dtype,
    )
    g = (grad_output / div).astype(grad_output.dtype, copy=False)
    cols = xp.broadcast_to(
        g[(Ellipsis,) + (None,) * nd + (slice(None),) * nd],
        g.shape[:-nd] + tuple(kernel_size) + out,
    )
    return _col2im(xp, cols, tuple(input_size), kernel_size, stride, pads, ones)


def _avg_pool_grad(
    grad, input_shape, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
):
    size = tuple(input_shape[len(input_shape) - len(kernel_size) :])
    return avg_pool_spread(
        grad, size, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


avg_pool2d = defop(
    "avg_pool2d", _avg_pool_fwd, node_name="AvgPool2DBackward0", grads={"input": _avg_pool_grad}
)
avg_pool2d.__doc__ = """Average-pool the last two dims (low-level kernel, tuple arguments).

    >>> x = fluxion.arange(16.0).reshape(1, 4, 4)
    >>> fluxion.ops.nn_ops.avg_pool2d(x, (2, 2), (2, 2), (0, 0), False, True, None)
    tensor([[[ 2.5000,  4.5000],
             [10.5000, 12.5000]]])
    """


def _avg_spread_grad(
    grad, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
):
    return avg_pool2d(
        grad, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


# average pooling's VJP: spread each output gradient evenly over its window (the adjoint)
avg_pool_spread = defop("avg_pool_spread", _avg_spread_fwd, grads={"grad_output": _avg_spread_grad})

# ------------------------------------------------------------------------ padding


def _constant_pad_fwd(xp, input, pad, value=0):
    """``pad`` is PyTorch's flat list, last dim first; negative entries crop."""
    nd = len(pad) // 2
    pairs = tuple((pad[2 * i], pad[2 * i + 1]) for i in range(nd))[::-1]  # first padded dim first
    crop = tuple(
        slice(max(-lo, 0), s - max(-hi, 0)) for s, (lo, hi) in zip(input.shape[-nd:], pairs)
    )
    x = input[(Ellipsis,) + crop]
    pos = tuple((max(lo, 0), max(hi, 0)) for lo, hi in pairs)
    # the value is a float in PyTorch's signature: -1 does not fit uint8 there
    out = _pad(xp, x, pos, _scalar_as(xp, float(value), input.dtype))
    return x.copy() if out is x else out  # a new array, never a view of the input


# the VJP of padding is cropping, i.e. padding by the opposite amounts
constant_pad_nd = defop(
    "constant_pad_nd",
    _constant_pad_fwd,
    node_name="ConstantPadNdBackward0",
    grads={"input": lambda grad, pad: constant_pad_nd(grad, tuple(-p for p in pad), 0)},
)
constant_pad_nd.__doc__ = """Pad with a constant; ``pad`` lists (left, right) pairs, last dim first.

    >>> fluxion.ops.nn_ops.constant_pad_nd(fluxion.ones(2), (1, 2), 0.0)
    tensor([0., 1., 1., 0., 0.])
    """


def _index_pad_indices(xp, size, pad, mode):
    """One index array per padded dim (first padded dim first) mapping output to input."""
    nd = len(pad) // 2
    pairs = tuple((pad[2 * i], pad[2 * i + 1]) for i in range(nd))[::-1]
    out = []
    for s, (lo, hi) in zip(size[-nd:], pairs):
        j = xp.arange(-lo, s + hi)
        if mode == "reflect":
            j = xp.abs(j)
            j = xp.where(j >= s, 2 * (s - 1) - j, j)
        elif mode == "replicate":
            j = xp.clip(j, 0, s - 1)
        else:  # circular
            j = j % s
        out.append(j)
    return out


def _index_pad_fwd(xp, input, pad, mode):
    idx = _index_pad_indices(xp, input.shape, pad, mode)
    axis0 = input.ndim - len(idx)
    for i, j in enumerate(idx):
        input = xp.take(input, j, axis=axis0 + i)
    return input


def _index_pad_scatter_fwd(xp, grad_output, pad, mode, input_size):
    idx = _index_pad_indices(xp, tuple(input_size), pad, mode)
    axis0 = grad_output.ndim - len(idx)
    g = grad_output
    for i, j in enumerate(idx):  # sum gradients of copies: a one-hot matrix product per dim
        onehot = (j[:, None] == xp.arange(input_size[axis0 + i])).astype(g.dtype)
        g = xp.moveaxis(xp.moveaxis(g, axis0 + i, -1) @ onehot, -1, axis0 + i)
    return xp.ascontiguousarray(g)


index_pad_scatter = defop(
    "index_pad_scatter",
    _index_pad_scatter_fwd,
    grads={"grad_output": lambda grad, pad, mode: _INDEX_PADS[mode, len(pad) // 2](grad, pad)},
)

_PAD_NODE = {
    "reflect": "ReflectionPad{}DBackward0",
    "replicate": "ReplicationPad{}DBackward0",
    "circular": "CircularPad{}DBackward0",
}


_PAD_KERNEL = {"reflect": "reflection_pad{}d", "replicate": "replication_pad{}d"}


def _make_index_pad(mode: str, nd: int):
    def forward(xp, input, pad):
        if input.dtype.kind == "b" and mode in _PAD_KERNEL:  # no bool kernel in PyTorch
            raise NotImplementedError(
                f"\"{_PAD_KERNEL[mode].format(nd)}\" not implemented for 'Bool'"
            )
        return _index_pad_fwd(xp, input, pad, mode)

    def input_grad(grad, input_shape, pad):
        return index_pad_scatter(grad, pad, mode, tuple(input_shape))

    return defop(
        f"{mode}_pad{nd}d",
        forward,
        node_name=_PAD_NODE[mode].format(nd),
        grads={"input": input_grad},
    )


# one op per (mode, padded dims), so that grad_fn names match PyTorch's
_INDEX_PADS = {
    (m, nd): _make_index_pad(m, nd)
    for m, nd in itertools.product(("reflect", "replicate", "circular"), (1, 2, 3))
}


def index_pad(input, pad: tuple, mode: str):
    """Pad by copying input values: ``mode`` is ``'reflect'``, ``'replicate'`` or ``'circular'``.

    >>> fluxion.ops.nn_ops.index_pad(fluxion.tensor([[1., 2., 3.]]), (2, 1), "reflect")
    tensor([[3., 2., 1., 2., 3., 2.]])
    """
    return _INDEX_PADS[mode, len(pad) // 2](input, tuple(pad))


# ------------------------------------------------------------------------ embedding, one_hot


def _embedding_fwd(xp, input, weight, padding_idx=None, scale_grad_by_freq=False):
    return weight[input]


def _embedding_bw_fwd(xp, grad_output, indices, num_weights, padding_idx, scale_grad_by_freq):
    d = grad_output.shape[-1]
    idx = indices.reshape(-1)
    g = grad_output.reshape(-1, d)
    if scale_grad_by_freq:
        counts = xp.bincount(idx, minlength=num_weights)
        g = g / counts[idx][:, None].astype(g.dtype)
    if padding_idx is not None:
        keep = idx != padding_idx
        idx, g = idx[keep], g[keep]
    out = xp.zeros((num_weights, d), dtype=grad_output.dtype)
    xp.add.at(out, idx, g)  # unbuffered scatter-add: repeated indices accumulate
    return out


def _embedding_coef_fwd(xp, indices, num_weights, padding_idx, scale_grad_by_freq, dtype):
    dtype = getattr(dtype, "np", dtype)  # a fluxion dtype from the rule
    coef = xp.ones(indices.shape + (1,), dtype=dtype)
    if scale_grad_by_freq:
        counts = xp.bincount(indices.reshape(-1), minlength=num_weights)
        coef = coef / counts[indices][..., None]
    if padding_idx is not None:
        coef = coef * (indices != padding_idx)[..., None]
    return coef.astype(dtype, copy=False)


_embedding_coef = defop("embedding_coef", _embedding_coef_fwd, NOT_DIFFERENTIABLE)


def _embedding_bw_grad(grad, indices, num_weights, padding_idx, scale_grad_by_freq):
    out = embedding(indices, grad)
    if padding_idx is None and not scale_grad_by_freq:
        return out
    return out * _embedding_coef(indices, num_weights, padding_idx, scale_grad_by_freq, grad.dtype)


embedding_dense_backward = defop(
    "embedding_dense_backward",
    _embedding_bw_fwd,
    inputs=("grad_output", "indices"),
    grads={"grad_output": _embedding_bw_grad},
)

embedding = defop(
    "embedding",
    _embedding_fwd,
    inputs=("input", "weight"),
    grads={
        "weight": lambda grad, input, weight_shape, padding_idx, scale_grad_by_freq: (
            embedding_dense_backward(grad, input, weight_shape[0], padding_idx, scale_grad_by_freq)
        )
    },
)
embedding.__doc__ = """Look up rows of ``weight`` (low-level kernel; indices are not checked).

    >>> fluxion.ops.nn_ops.embedding(fluxion.tensor([2, 0]), fluxion.eye(3))
    tensor([[0., 0., 1.],
            [1., 0., 0.]])
    """


def _one_hot_fwd(xp, input, num_classes=-1):
    return (input[..., None] == xp.arange(num_classes)).astype(xp.int64)


one_hot = defop("one_hot", _one_hot_fwd, NOT_DIFFERENTIABLE)
one_hot.__doc__ = """One-hot encode int64 class indices (low-level; ``num_classes`` is given).

    >>> fluxion.ops.nn_ops.one_hot(fluxion.tensor([0, 2]), 3)
    tensor([[1, 0, 0],
            [0, 0, 1]])
    """

# ------------------------------------------------------------------------ negative log likelihood
#
# input (C,), (N, C) or (N, C, *d); target (), (N,) or (N, *d); the class dim is 0 for 1-D input.


def _target_weights(xp, target, weight, ignore_index, dtype):
    """weight[target] (1 without weight), 0 where target == ignore_index; target-shaped."""
    dtype = getattr(dtype, "np", dtype)  # a fluxion dtype when called from a rule
    valid = target != ignore_index
    t = xp.where(valid, target, 0)
    w = weight[t].astype(dtype, copy=False) if weight is not None else xp.ones(t.shape, dtype)
    return t, xp.where(valid, w, 0).astype(dtype, copy=False)  # where: a nan weight stays out


def _nll_plain(xp, shape, target, weight, reduction, ignore_index) -> bool:
    """The common case: (N, C) scores, no class weights, a reduction, every target a class.

    It takes a fancy-indexing path without the weight and ignore_index bookkeeping, with the
    general path's bits (the 64-row MLP step: loss and coefficient 36 -> 12 us). Targets out of
    range (ignored ones like -100 among them) take the general path, which masks or raises.
    """
    if len(shape) != 2 or weight is not None or reduction == "none" or target.ndim != 1:
        return False
    c = shape[1]
    if not target.size or (target.astype(xp.uint64) >= c).any():
        return False
    return not 0 <= ignore_index < c or not (target == ignore_index).any()


def _nll_fwd(xp, input, target, weight, reduction, ignore_index):
    if _nll_plain(xp, input.shape, target, weight, reduction, ignore_index):
        total = -input[xp.arange(input.shape[0]), target].sum()
        if reduction == "mean":
            total = total / input.dtype.type(input.shape[0])
        return xp.asarray(total, dtype=input.dtype)
    cdim = 0 if input.ndim == 1 else 1
    bad = (target != ignore_index) & ((target < 0) | (target >= input.shape[cdim]))
    if bad.any():
        raise IndexError(f"Target {int(target[bad].reshape(-1)[0])} is out of bounds.")
    t, w = _target_weights(xp, target, weight, ignore_index, input.dtype)
    picked = xp.take_along_axis(input, xp.expand_dims(t, cdim), cdim).squeeze(cdim)
    # ignored targets contribute exactly 0, even where input is inf or nan
    losses = xp.where(target != ignore_index, -picked * w, 0).astype(input.dtype, copy=False)
    if reduction == "none":
        return losses
    total = losses.sum()
    if reduction == "sum":
        return xp.asarray(total, dtype=input.dtype)
    with xp.errstate(divide="ignore", invalid="ignore"):  # a total weight of 0: inf or nan
        return xp.asarray(total / w.sum(), dtype=input.dtype)


def _nll_coef_fwd(xp, target, weight, input_shape, reduction, ignore_index, dtype):
    """d loss / d input for a unit output gradient: -weight[t] / total at the target class."""
    dtype = getattr(dtype, "np", dtype)  # a fluxion dtype when called from a rule
    if _nll_plain(xp, input_shape, target, weight, reduction, ignore_index):
        n = input_shape[0]
        coef = xp.zeros(input_shape, dtype=dtype)
        one = xp.dtype(dtype).type(1)
        coef[xp.arange(n), target] = (
            -(one / xp.dtype(dtype).type(n)) if reduction == "mean" else -one
        )
        return coef
    cdim = 0 if len(input_shape) == 1 else 1
    t, w = _target_weights(xp, target, weight, ignore_index, dtype)
    if reduction == "mean":
        wsum = w.sum()
        w = w / wsum if wsum != 0 else xp.full(w.shape, xp.nan, dtype)
    coef = xp.zeros(input_shape, dtype=dtype)
    xp.put_along_axis(coef, xp.expand_dims(t, cdim), xp.expand_dims(-w, cdim), cdim)
    return coef


_nll_coef = defop("nll_loss_coef", _nll_coef_fwd, NOT_DIFFERENTIABLE, inputs=("target", "weight"))


def _nll_grad(grad, target, weight, input_shape, reduction, ignore_index):
    # nll is linear in input: the VJP is grad times a constant, so double backward is free
    coef = _nll_coef(target, weight, tuple(input_shape), reduction, ignore_index, grad.dtype)
    if reduction == "none" and len(input_shape) > 1:
        grad = grad.unsqueeze(1)
    return grad * coef


def _nll_total_weight_fwd(xp, target, weight, ignore_index, dtype):
    w = _target_weights(xp, target, weight, ignore_index, dtype)[1]
    return xp.asarray(w.sum(), w.dtype)


nll_total_weight = defop(
    "nll_total_weight", _nll_total_weight_fwd, NOT_DIFFERENTIABLE, inputs=("target", "weight")
)


def _nll_grad_raw(grad, target, weight, input_shape, reduction, ignore_index):
    coef = _nll_coef_fwd(
        _reg_xp, target, weight, tuple(input_shape), reduction, ignore_index, grad.dtype
    )
    if reduction == "none" and len(input_shape) > 1:
        grad = _reg_xp.expand_dims(grad, 1)
    return grad * coef


nll_loss = defop(
    "nll_loss",
    _nll_fwd,
    inputs=("input", "target", "weight"),
    grads={"input": _nll_grad},
    raw_grads={"input": _nll_grad_raw},
)
nll_loss.__doc__ = """Negative log likelihood of ``target`` classes (low-level kernel, no checks).

    >>> logp = fluxion.tensor([[-1.0, -2.0], [-3.0, -4.0]])
    >>> fluxion.ops.nn_ops.nll_loss(logp, fluxion.tensor([0, 1]), None, "mean", -100)
    tensor(2.5000)
    """
# same kernel, PyTorch's node name for inputs with spatial dims
nll_loss2d = defop(
    "nll_loss2d",
    _nll_fwd,
    inputs=("input", "target", "weight"),
    node_name="NllLoss2DBackward0",
    grads={"input": _nll_grad},
)
nll_loss2d.__doc__ = nll_loss.__doc__

# ------------------------------------------------------------------------ binary cross entropy


def _clamped_log(xp, x):
    """log(x) clamped below at -100 (PyTorch's BCE), without a divide-by-zero warning at 0."""
    pos = x > 0
    return xp.where(pos, xp.maximum(xp.log(xp.where(pos, x, 1)), -100), -100)


def _bce_fwd(xp, input, target, weight, reduction):
    loss = -(target * _clamped_log(xp, input) + (1 - target) * _clamped_log(xp, 1 - input))
    if weight is not None:
        loss = loss * weight
    loss = loss.astype(input.dtype, copy=False)
    if reduction == "none":
        return loss
    return xp.asarray(loss.mean() if reduction == "mean" else loss.sum(), dtype=input.dtype)


def _bce_scale(grad, weight, reduction, numel):
    if reduction == "mean":
        grad = grad / numel
    return grad if weight is None else grad * weight


def _bce_input_grad(grad, input, target, weight, reduction):
    # PyTorch's binary_cross_entropy_backward: (x - t) / max(x (1 - x), 1e-12)
    g = _bce_scale(grad, weight, reduction, input.numel())
    return g * (input - target) / ((1 - input) * input).clamp(1e-12, None)


def _bce_target_grad(grad, input, weight, reduction):
    g = _bce_scale(grad, weight, reduction, input.numel())
    return g * ((1 - input).log() - input.log())  # -logit(x), as in PyTorch


binary_cross_entropy = defop(
    "binary_cross_entropy",
    _bce_fwd,
    inputs=("input", "target", "weight"),
    grads={"input": _bce_input_grad, "target": _bce_target_grad},
)
binary_cross_entropy.__doc__ = """Binary cross entropy of probabilities (kernel; no checks).

    >>> K = fluxion.ops.nn_ops
    >>> K.binary_cross_entropy(fluxion.tensor([0.0, 1.0]), fluxion.tensor([1.0, 1.0]), None,
    ...                        "sum")
    tensor(100.)
    """

# ------------------------------------------------------------------------ pointwise losses
#
# One node per loss, as in PyTorch (MseLossBackward0, ...). Inputs broadcast; the rules are
# written with Tensor ops, so they are differentiable again.


def _reduce_loss(xp, loss, reduction):
    if reduction == "none":
        return loss
    if loss.size == 0 and reduction == "mean":
        return xp.asarray(xp.nan, dtype=loss.dtype)  # PyTorch: nan, without a warning
    return xp.asarray(loss.mean() if reduction == "mean" else loss.sum(), dtype=loss.dtype)


def _scaled(grad, reduction, like):
    """The gradient of the reduction: ``grad / numel`` for ``'mean'``."""
    return grad / like.numel() if reduction == "mean" else grad


def _mse_fwd(xp, input, target, reduction):
    d = _float_kernel(input, "mse_cpu") - target  # input and target are promoted already
    return _reduce_loss(xp, d * d, reduction)


def _mse_grad(grad, input, target, reduction):
    d = input - target
    return _scaled(grad, reduction, d) * 2.0 * d


def _mse_grad_raw(grad, input, target, reduction):
    a, b = promote_pair(input, target)  # the saved inputs are unpromoted, as in _mse_grad
    d = a - b
    return (grad / d.size if reduction == "mean" else grad) * 2.0 * d


mse_loss = defop(
    "mse_loss",
    _mse_fwd,
    broadcasts=True,
    promote="promote",
    node_name="MseLossBackward0",
    grads={
        "input": _mse_grad,
        "target": lambda grad, input, target, reduction: -_mse_grad(grad, input, target, reduction),
    },
    raw_grads={
        "input": lambda grad, input, target, reduction: _mse_grad_raw(
            grad, input, target, reduction
        ),
        "target": lambda grad, input, target, reduction: (
            -_mse_grad_raw(grad, input, target, reduction)
        ),
    },
)


def _smooth_l1_fwd(xp, input, target, reduction, beta):
    d = xp.abs(_float_kernel(input, "smooth_l1_cpu") - target)
    return _reduce_loss(
        xp,
        xp.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta).astype(d.dtype, copy=False),
        reduction,
    )


def _smooth_l1_grad(grad, input, target, reduction, beta):
    # d/dx = d / beta inside (-beta, beta), sign(d) outside: clamp(d / beta, -1, 1)
    d = input - target
    return _scaled(grad, reduction, d) * (d / beta).clamp(-1.0, 1.0)


smooth_l1_loss = defop(
    "smooth_l1_loss",
    _smooth_l1_fwd,
    broadcasts=True,
    promote="promote",
    node_name="SmoothL1LossBackward0",
    grads={
        "input": _smooth_l1_grad,
        "target": lambda grad, input, target, reduction, beta: (
            -_smooth_l1_grad(grad, input, target, reduction, beta)
        ),
    },
)


def _huber_fwd(xp, input, target, reduction, delta):
    d = xp.abs(input - target)
    return _reduce_loss(
        xp,
        xp.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta)).astype(d.dtype, copy=False),
        reduction,
    )


def _huber_grad(grad, input, target, reduction, delta):
    d = input - target
    return _scaled(grad, reduction, d) * d.clamp(-delta, delta)


huber_loss = defop(
    "huber_loss",
    _huber_fwd,
    broadcasts=True,
    promote="promote",
    node_name="HuberLossBackward0",
    grads={
        "input": _huber_grad,
        "target": lambda grad, input, target, reduction, delta: (
            -_huber_grad(grad, input, target, reduction, delta)
        ),
    },
)


def _bce_logits_fwd(xp, input, target, weight, pos_weight, reduction):
    # (1 - t) x + (1 + (pw - 1) t) softplus(-x), softplus(-x) = log1p(exp(-|x|)) + max(-x, 0)
    sp_neg = xp.log1p(xp.exp(-xp.abs(input))) + xp.maximum(-input, 0)
    lw = 1 if pos_weight is None else 1 + (pos_weight - 1) * target
    loss = (1 - target) * input + lw * sp_neg
    if weight is not None:
        loss = loss * weight
    return _reduce_loss(xp, loss.astype(input.dtype, copy=False), reduction)


def _bce_logits_input_grad(grad, input, target, weight, pos_weight, reduction):
    g = _scaled(grad, reduction, input)
    if weight is not None:
        g = g * weight
    if pos_weight is None:
        return g * (sigmoid(input) - target)
    pt = pos_weight * target
    return g * ((pt + 1 - target) * sigmoid(input) - pt)


def _bce_logits_target_grad(grad, input, weight, pos_weight, reduction):
    g = _scaled(grad, reduction, input)
    if weight is not None:
        g = g * weight
    if pos_weight is None:
        return -g * input
    return g * ((pos_weight - 1) * softplus(-input) - input)


binary_cross_entropy_with_logits = defop(
    "binary_cross_entropy_with_logits",
    _bce_logits_fwd,
    broadcasts=True,
    inputs=("input", "target", "weight", "pos_weight"),
    grads={"input": _bce_logits_input_grad, "target": _bce_logits_target_grad},
)

# ------------------------------------------------------------------------ transposed convolution


def _conv_transpose_fwd(xp, input, weight, bias, output_size, stride, padding, dilation, groups):
    out = _conv_bw_input_fwd(xp, input, weight, output_size, stride, padding, dilation, groups)
    if bias is not None:
        out += bias.reshape((-1,) + (1,) * len(output_size))
    return out


# the transposed convolution is convolution_backward_input plus a bias; PyTorch names its node
# ConvolutionBackward0 too (one aten::convolution with transposed=True)
conv_transpose = defop(
    "conv_transpose",
    _conv_transpose_fwd,
    inputs=("input", "weight", "bias"),
    node_name="ConvolutionBackward0",
    grads={
        "input": lambda grad, weight, stride, padding, dilation, groups: convolution(
            grad, weight, None, stride, padding, dilation, groups
        )[0],
        "weight": lambda grad, input, weight_shape, stride, padding, dilation, groups: (
            convolution_backward_weight(
                grad, input, tuple(weight_shape[2:]), stride, padding, dilation, groups
            )
        ),
        "bias": lambda grad: grad.sum((0,) + tuple(range(2, grad.ndim))),
    },
)

# ------------------------------------------------------------------------ adaptive average pooling


def _adaptive_matrix(xp, n_in, n_out, dtype):
    """(n_out, n_in) averaging matrix of PyTorch's windows [floor(i L / o), ceil((i+1) L / o))."""
    i = xp.arange(n_out)
    start = (i * n_in) // n_out
    end = -((-(i + 1) * n_in) // n_out)
    j = xp.arange(n_in)
    inside = (j >= start[:, None]) & (j < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def _adaptive_windows(xp, input, output_size):
    """Average each window with slices (rows, then columns): inf and nan stay in their windows."""
    x = input
    for axis, n_out in ((-2, output_size[0]), (-1, output_size[1])):
        n_in = x.shape[axis]
        parts = []
        for i in range(n_out):
            lo, hi = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
            part = x[..., lo:hi, :] if axis == -2 else x[..., lo:hi]
            parts.append(part.mean(axis=axis, keepdims=True))
        x = xp.concatenate(parts, axis=axis)
    return x.astype(input.dtype, copy=False)


def _adaptive_avg_fwd(xp, input, output_size):
    if not xp.isfinite(input).all():  # the matrices below would spread 0 * inf = nan
        return _adaptive_windows(xp, input, output_size)
    h, w = input.shape[-2:]
    ph = _adaptive_matrix(xp, h, output_size[0], input.dtype)
    pw = _adaptive_matrix(xp, w, output_size[1], input.dtype)
    return xp.matmul(xp.matmul(ph, input), pw.T)  # two small BLAS products


def _adaptive_avg_bw_fwd(xp, grad_output, input_size):
    oh, ow = grad_output.shape[-2:]
    ph = _adaptive_matrix(xp, input_size[0], oh, grad_output.dtype)
    pw = _adaptive_matrix(xp, input_size[1], ow, grad_output.dtype)
    return xp.matmul(xp.matmul(ph.T, grad_output), pw)


adaptive_avg_pool2d = defop(
    "adaptive_avg_pool2d",
    _adaptive_avg_fwd,
    node_name="AdaptiveAvgPool2DBackward0",
    grads={
        "input": lambda grad, input_shape: adaptive_avg_pool2d_backward(
            grad, tuple(input_shape[-2:])
        )
    },
)
# linear, and the adjoint of the pooling: its VJP is the pooling again
adaptive_avg_pool2d_backward = defop(
    "adaptive_avg_pool2d_backward",
    _adaptive_avg_bw_fwd,
    grads={
        "grad_output": lambda grad, grad_output_shape: adaptive_avg_pool2d(
            grad, tuple(grad_output_shape[-2:])
        )
    },
)

# PyTorch divides soft-target cross entropy's sum by the batch size with div(Tensor, Scalar)
div_by_count = defop(
    "div_by_count",
    lambda xp, input, other: xp.asarray(input / other, input.dtype),
    node_name="DivBackward1",
    grads={"input": lambda grad, other: grad / other},
)


# ------------------------------------------------------------------------ normalisation
#
# Batch, layer and group norm share one pattern: the input is viewed as (A, G, K) (``G`` groups
# with their own statistics over the ``A * K`` or ``K`` elements of axes R), ``xhat = (x -
# mean) * invstd``, then ``y = xhat * weight + bias``. Each is one fused kernel that returns the
# output and its statistics stacked as ``stats = [mean, biased var]`` (a single aux output).
# First-order backward runs the rules on raw arrays (array_rules) with the closed form
#     dx = invstd * (gw - mean_R(gw) - xhat * mean_R(gw * xhat)),   gw = grad * weight,
# using the saved statistics. Under create_graph the same rules receive Tensors and recompute the
# statistics with differentiable ops, so double backward is exact (the statistics depend on x).


def _dot_over(a, b, spec: str):
    """``einsum(spec, a, b)``: a sum of products without the temporary product array."""
    return _reg_xp.einsum(spec, a, b)


def _norm_dx_raw(gw, xc, invstd, n: int, axis: int):
    """Closed-form ``dx`` on raw (A, G, K) or (G, K) views; ``invstd`` keeps the reduced axes."""
    sg = gw.sum(axis=axis, keepdims=True)
    sgx = (gw * xc).sum(axis=axis, keepdims=True)
    dx = xc * (sgx * (-(invstd**3) / n))
    dx += gw * invstd
    dx += sg * (-invstd / n)
    return dx


def _norm_dx_tensor(gw, input, axes, eps):
    """``dx`` with Tensor ops: the statistics are recomputed, so this is differentiable."""
    xhat, invstd = _xhat_tensor(input, axes, eps)
    gm = gw.mean(axes, keepdim=True)
    return (gw - gm - xhat * (gw * xhat).mean(axes, keepdim=True)) * invstd


def _xhat_tensor(input, axes, eps):
    xc = input - input.mean(axes, keepdim=True)
    invstd = ((xc * xc).mean(axes, keepdim=True) + eps).rsqrt()
    return xc * invstd, invstd


def _stats_tensor(like, stats):
    """Saved statistics (a raw array in the node's attributes) as a constant Tensor."""
    return _wrap(stats.astype(like._data.dtype, copy=False))


def _sum_but(t, keep: tuple):
    """Sum ``t`` over every axis not in ``keep`` (no-op when there is none: ``sum(())`` is all)."""
    axes = tuple(i for i in range(t.ndim) if i not in keep)
    return t.sum(axes) if axes else t


def _ncl(x):
    """View an (N, C, *) array as (N, C, L)."""
    return x.reshape(x.shape[0], x.shape[1], math.prod(x.shape[2:]))


# batch norm: R = every axis but 1 (channels); statistics and weight are per channel


def _batch_norm_fwd(xp, input, weight, bias, running_mean, running_var, training, eps):
    bshape = (-1,) + (1,) * (input.ndim - 2)
    if training:
        n = input.size // input.shape[1]
        mean = _ncl(input).sum(axis=2).sum(axis=0) / n
        xc = input - mean.reshape(bshape)
        var = _dot_over(_ncl(xc), _ncl(xc), "ncl,ncl->c") / n
    else:
        mean, var = running_mean.astype(input.dtype), running_var.astype(input.dtype)
        xc = input - mean.reshape(bshape)
    scale = 1.0 / xp.sqrt(var + eps)
    if weight is not None:
        scale = scale * weight
    xc *= scale.reshape(bshape)
    if bias is not None:
        xc += bias.reshape(bshape)
    return xc, xp.stack([mean, var]).astype(input.dtype, copy=False)


def _batch_norm_input_grad(grad, input, weight, training, eps, save_stats):
    bshape = (-1,) + (1,) * (input.ndim - 2)
    if isinstance(grad, Tensor):  # create_graph
        if training:
            axes = (0,) + tuple(range(2, input.ndim))
            dx = _norm_dx_tensor(grad, input, axes, eps)
        else:
            dx = grad * (_stats_tensor(grad, save_stats[1]) + eps).rsqrt().reshape(bshape)
        return dx if weight is None else dx * weight.reshape(bshape)
    invstd = 1.0 / (save_stats[1] + eps) ** 0.5
    scale = invstd if weight is None else invstd * weight
    if not training:
        return grad * scale.reshape(bshape)
    n = input.size // input.shape[1]
    xc = input - save_stats[0].reshape(bshape)
    sg = _ncl(grad).sum(axis=2).sum(axis=0)
    sgx = _dot_over(_ncl(grad), _ncl(xc), "ncl,ncl->c")
    # weight is constant over R, so it factors out of the closed form
    xc *= (sgx * (-scale * invstd * invstd / n)).reshape(bshape)
    xc += grad * scale.reshape(bshape)
    xc += (sg * (-scale / n)).reshape(bshape)
    return xc


def _batch_norm_weight_grad(grad, input, training, eps, save_stats):
    if isinstance(grad, Tensor):
        axes = (0,) + tuple(range(2, input.ndim))
        if training:
            xhat = _xhat_tensor(input, axes, eps)[0]
        else:
            bshape = (-1,) + (1,) * (input.ndim - 2)
            mean = _stats_tensor(grad, save_stats[0]).reshape(bshape)
            xhat = (input - mean) * (_stats_tensor(grad, save_stats[1]) + eps).rsqrt().reshape(
                bshape
            )
        return (grad * xhat).sum(axes)
    xc = _ncl(input) - save_stats[0].reshape(-1, 1)
    return _dot_over(_ncl(grad), xc, "ncl,ncl->c") * (1.0 / (save_stats[1] + eps) ** 0.5)


def _batch_norm_bias_grad(grad):
    if isinstance(grad, Tensor):
        return _sum_but(grad, (1,))
    return _ncl(grad).sum(axis=2).sum(axis=0)


native_batch_norm = defop(
    "native_batch_norm",
    _batch_norm_fwd,
    inputs=("input", "weight", "bias", "running_mean", "running_var"),
    aux=("save_stats",),
    array_rules=True,
    grads={
        "input": _batch_norm_input_grad,
        "weight": _batch_norm_weight_grad,
        "bias": _batch_norm_bias_grad,
    },
)
native_batch_norm.__doc__ = """Normalise each channel of ``input`` (N, C, *) (low-level kernel).

    With ``training`` the batch statistics are used, otherwise ``running_mean`` /
    ``running_var``. Returns ``(output, stats)`` where ``stats[0]`` is the mean and ``stats[1]``
    the biased variance used. Arguments are not validated (``nn.functional.batch_norm`` does).

    >>> K, x = fluxion.ops.nn_ops, fluxion.tensor([[1.0], [3.0]])
    >>> K.native_batch_norm(x, None, None, None, None, True, 0.0)[0]
    tensor([[-1.],
            [ 1.]])
    """


# layer norm: the input is viewed as (M, K), R = the last ``ndim`` axes (K); weight is per K


def _mk(x, ndim: int):
    k = math.prod(x.shape[x.ndim - ndim :])
    return x.reshape(x.size // k if k else math.prod(x.shape[: x.ndim - ndim]), k)


def _layer_norm_fwd(xp, input, weight, bias, ndim, eps):
    x = _mk(input, ndim)
    k = x.shape[1]
    mean = x.sum(axis=1) / k
    xc = x - mean[:, None]
    var = _dot_over(xc, xc, "mk,mk->m") / k
    xc *= (1.0 / xp.sqrt(var + eps))[:, None]
    if weight is not None:
        xc *= weight.reshape(-1)
    if bias is not None:
        xc += bias.reshape(-1)
    return xc.reshape(input.shape), xp.stack([mean, var]).astype(input.dtype, copy=False)


def _layer_norm_input_grad(grad, input, weight, ndim, eps, save_stats):
    if isinstance(grad, Tensor):
        gw = grad if weight is None else grad * weight
        return _norm_dx_tensor(gw, input, tuple(range(input.ndim - ndim, input.ndim)), eps)
    g = _mk(grad, ndim)
    if weight is not None:
        g = g * weight.reshape(-1)
    xc = _mk(input, ndim) - save_stats[0][:, None]
    invstd = (1.0 / (save_stats[1] + eps) ** 0.5)[:, None]
    return _norm_dx_raw(g, xc, invstd, xc.shape[1], 1).reshape(input.shape)


def _layer_norm_weight_grad(grad, input, ndim, eps, save_stats):
    lead = tuple(range(input.ndim - ndim))
    if isinstance(grad, Tensor):
        xhat = _xhat_tensor(input, tuple(range(input.ndim - ndim, input.ndim)), eps)[0]
        return _sum_but(grad * xhat, tuple(range(len(lead), input.ndim)))
    xhat = _mk(input, ndim) - save_stats[0][:, None]
    xhat *= (1.0 / (save_stats[1] + eps) ** 0.5)[:, None]
    return _dot_over(_mk(grad, ndim), xhat, "mk,mk->k").reshape(input.shape[len(lead) :])


def _layer_norm_bias_grad(grad, ndim):
    if isinstance(grad, Tensor):
        return _sum_but(grad, tuple(range(grad.ndim - ndim, grad.ndim)))
    return _mk(grad, ndim).sum(axis=0).reshape(grad.shape[grad.ndim - ndim :])


native_layer_norm = defop(
    "native_layer_norm",
    _layer_norm_fwd,
    inputs=("input", "weight", "bias"),
    aux=("save_stats",),
    array_rules=True,
    grads={
        "input": _layer_norm_input_grad,
        "weight": _layer_norm_weight_grad,
        "bias": _layer_norm_bias_grad,
    },
)
native_layer_norm.__doc__ = """Normalise ``input`` over its last ``ndim`` dimensions, unchecked.

    Returns ``(output, stats)`` with ``stats[0]`` / ``stats[1]`` the mean and biased variance of
    each normalised slice (flattened). Arguments are not validated.

    >>> K, x = fluxion.ops.nn_ops, fluxion.tensor([[1.0, 3.0]])
    >>> K.native_layer_norm(x, None, None, 1, 0.0)[0]
    tensor([[-1.,  1.]])
    """


# group norm: (N, C, *) viewed as (N, G, C/G * L); weight is per channel C


def _group_norm_fwd(xp, input, weight, bias, num_groups, eps):
    n, c = input.shape[:2]
    x = input.reshape(n, num_groups, input.size // (n * num_groups) if n else 0)
    k = x.shape[2]
    mean = x.sum(axis=2) / k
    xc = x - mean[:, :, None]
    var = _dot_over(xc, xc, "ngk,ngk->ng") / k
    xc *= (1.0 / xp.sqrt(var + eps))[:, :, None]
    y = _ncl(xc.reshape(input.shape))
    if weight is not None:
        y *= weight[:, None]
    if bias is not None:
        y += bias[:, None]
    return y.reshape(input.shape), xp.stack([mean, var]).astype(input.dtype, copy=False)


def _group_norm_input_grad(grad, input, weight, num_groups, eps, save_stats):
    n, c = input.shape[:2]
    if isinstance(grad, Tensor):
        gw = grad if weight is None else grad * weight.reshape((c,) + (1,) * (input.ndim - 2))
        x = input.reshape(n, num_groups, -1)
        return _norm_dx_tensor(gw.reshape(n, num_groups, -1), x, (2,), eps).reshape(input.shape)
    g = _ncl(grad)
    if weight is not None:
        g = g * weight[:, None]
    g = g.reshape(n, num_groups, -1)
    xc = input.reshape(n, num_groups, -1) - save_stats[0][:, :, None]
    invstd = (1.0 / (save_stats[1] + eps) ** 0.5)[:, :, None]
    return _norm_dx_raw(g, xc, invstd, xc.shape[2], 2).reshape(input.shape)


def _group_norm_weight_grad(grad, input, num_groups, eps, save_stats):
    n = input.shape[0]
    if isinstance(grad, Tensor):
        xhat = _xhat_tensor(input.reshape(n, num_groups, -1), (2,), eps)[0]
        return _sum_but(grad * xhat.reshape(input.shape), (1,))
    xhat = input.reshape(n, num_groups, -1) - save_stats[0][:, :, None]
    xhat *= (1.0 / (save_stats[1] + eps) ** 0.5)[:, :, None]
    return _dot_over(_ncl(grad), _ncl(xhat.reshape(input.shape)), "ncl,ncl->c")


native_group_norm = defop(
    "native_group_norm",
    _group_norm_fwd,
    inputs=("input", "weight", "bias"),
    aux=("save_stats",),
    array_rules=True,
    grads={
        "input": _group_norm_input_grad,
        "weight": _group_norm_weight_grad,
        "bias": _batch_norm_bias_grad,
    },
)
native_group_norm.__doc__ = """Normalise groups of channels of ``input`` (N, C, *), unchecked.

    Returns ``(output, stats)`` with ``stats[0]`` / ``stats[1]`` of shape (N, num_groups): the
    mean and biased variance of each group. Arguments are not validated.

    >>> K, x = fluxion.ops.nn_ops, fluxion.tensor([[[1.0], [3.0]]])
    >>> K.native_group_norm(x, None, None, 1, 0.0)[0]
    tensor([[[-1.],
             [ 1.]]])
    """
