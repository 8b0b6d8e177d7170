"""OpSpecs for ``fluxion.nn.functional`` (kernels in ``fluxion/ops/nn_ops.py``).

Each spec calls ``lib.nn.functional.<name>`` with the same arguments on fluxion and torch.
Convolution and pooling specs cover stride, padding (ints, pairs, 'same', 'valid'), dilation,
groups, bias / no bias, ceil_mode and unbatched inputs; losses cover every reduction, class
weights, ignore_index and label smoothing. Float inputs require grad unless ``diff_args`` says
otherwise, so gradients, finite differences and second derivatives are checked for all of them.
"""

from __future__ import annotations

import numpy as np

from .op_db import OpSpec, register

FLOATS = ("float64", "float32")


def F(lib):
    return lib.nn.functional


def _u(rng, shape, dt, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, size=shape).astype(dt)


def _away_from_zero(rng, shape, dt, lo=0.2, hi=2.0):
    """|x| in (lo, hi) with random sign: finite differences stay off kinks at 0."""
    return (rng.uniform(lo, hi, size=shape) * rng.choice([-1.0, 1.0], size=shape)).astype(dt)


def _probs(rng, shape, dt, lo=0.05, hi=0.95):
    return rng.uniform(lo, hi, size=shape).astype(dt)


def _simplex(rng, shape, dt, axis=1):
    p = rng.uniform(0.1, 1.0, size=shape)
    return (p / p.sum(axis=axis, keepdims=True)).astype(dt)


def _classes(rng, shape, n):
    return rng.integers(0, n, size=shape).astype(np.int64)


def _distinct(rng, shape, dt):
    """A random permutation of well-separated values: no ties for max pooling."""
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) * 0.1 - n * 0.05).astype(dt)


def spec(name, fn, make, **kw):
    kw.setdefault("dtypes", FLOATS)
    register(OpSpec(name, fn, make_inputs=make, **kw))


# ------------------------------------------------------------------------ activations

spec(
    "nn.relu",
    lambda lib, x: F(lib).relu(x),
    lambda rng, dt: [[_away_from_zero(rng, (3, 4), dt)], [_away_from_zero(rng, (2, 0), dt)]],
)
spec("nn.sigmoid", lambda lib, x: F(lib).sigmoid(x), lambda rng, dt: [_u(rng, (3, 4), dt)])
spec("nn.tanh", lambda lib, x: F(lib).tanh(x), lambda rng, dt: [_u(rng, (3, 4), dt)])
spec(
    "nn.softmax",
    lambda lib, x: F(lib).softmax(x, dim=1),
    lambda rng, dt: [[_u(rng, (3, 4), dt)], [_u(rng, (2, 3, 2), dt)]],
)
spec(
    "nn.softmax_dtype",
    lambda lib, x: F(lib).softmax(x, -1, dtype=lib.float64),
    lambda rng, dt: [_u(rng, (3, 4), dt)],
)
spec(
    "nn.log_softmax",
    lambda lib, x: F(lib).log_softmax(x, dim=-1),
    lambda rng, dt: [[_u(rng, (3, 4), dt)], [_u(rng, (5,), dt)]],
)
spec(
    "nn.softplus",
    lambda lib, x: F(lib).softplus(x, beta=2.0, threshold=1.5),
    lambda rng, dt: [_away_from_zero(rng, (3, 4), dt, 0.1, 3.0)],
)
spec("nn.gelu", lambda lib, x: F(lib).gelu(x), lambda rng, dt: [_u(rng, (3, 4), dt, -4, 4)])
spec(
    "nn.gelu_tanh",
    lambda lib, x: F(lib).gelu(x, approximate="tanh"),
    lambda rng, dt: [_u(rng, (3, 4), dt, -4, 4)],
)
spec("nn.silu", lambda lib, x: F(lib).silu(x), lambda rng, dt: [_u(rng, (3, 4), dt, -6, 6)])
spec(
    "nn.leaky_relu",
    lambda lib, x: F(lib).leaky_relu(x, 0.2),
    lambda rng, dt: [_away_from_zero(rng, (3, 4), dt)],
)
spec(
    "nn.elu",
    lambda lib, x: F(lib).elu(x, alpha=1.5),
    lambda rng, dt: [_away_from_zero(rng, (3, 4), dt, 0.1, 3.0)],
)
spec(
    "nn.dropout_eval",
    lambda lib, x: F(lib).dropout(x, 0.5, training=False),
    lambda rng, dt: [_u(rng, (3, 4), dt)],
)
spec("nn.dropout_p0", lambda lib, x: F(lib).dropout(x, 0.0), lambda rng, dt: [_u(rng, (3, 4), dt)])
spec("nn.dropout_p1", lambda lib, x: F(lib).dropout(x, 1.0), lambda rng, dt: [_u(rng, (3, 4), dt)])

# ------------------------------------------------------------------------ linear


spec(
    "nn.linear",
    lambda lib, x, w, b: F(lib).linear(x, w, b),
    lambda rng, dt: [
        [_u(rng, (2, 3), dt), _u(rng, (4, 3), dt), _u(rng, (4,), dt)],
        [_u(rng, (5, 2, 3), dt), _u(rng, (4, 3), dt), _u(rng, (4,), dt)],
        [_u(rng, (3,), dt), _u(rng, (4, 3), dt), _u(rng, (4,), dt)],
    ],
)
spec(
    "nn.linear_no_bias",
    lambda lib, x, w: F(lib).linear(x, w),
    lambda rng, dt: [
        [_u(rng, (2, 3), dt), _u(rng, (4, 3), dt)],
        [_u(rng, (5, 2, 3), dt), _u(rng, (4, 3), dt)],
    ],
)

# ------------------------------------------------------------------------ losses

REDUCTIONS = ("mean", "sum", "none")

for _r in REDUCTIONS:
    spec(
        f"nn.mse_loss_{_r}",
        lambda lib, x, y, r=_r: F(lib).mse_loss(x, y, reduction=r),
        lambda rng, dt: [_u(rng, (3, 4), dt), _u(rng, (3, 4), dt)],
    )
    spec(
        f"nn.mse_loss_weight_{_r}",
        lambda lib, x, y, w, r=_r: F(lib).mse_loss(x, y, reduction=r, weight=w),
        lambda rng, dt: [_u(rng, (3, 4), dt), _u(rng, (3, 4), dt), _probs(rng, (3, 4), dt)],
        diff_args=(0, 1),
    )
    spec(
        f"nn.l1_loss_{_r}",
        lambda lib, x, y, r=_r: F(lib).l1_loss(x, y, reduction=r),
        lambda rng, dt: [_away_from_zero(rng, (3, 4), dt), np.zeros((3, 4), dt)],
    )
    spec(
        f"nn.l1_loss_weight_{_r}",
        lambda lib, x, y, w, r=_r: F(lib).l1_loss(x, y, reduction=r, weight=w),
        lambda rng, dt: [
            _away_from_zero(rng, (3, 4), dt),
            np.zeros((3, 4), dt),
            _probs(rng, (3, 4), dt),
        ],
        diff_args=(0,),
    )
    spec(
        f"nn.smooth_l1_loss_{_r}",
        lambda lib, x, y, r=_r: F(lib).smooth_l1_loss(x, y, reduction=r, beta=0.5),
        lambda rng, dt: [_away_from_zero(rng, (3, 4), dt, 0.05, 1.5), np.zeros((3, 4), dt)],
        gradgrad=False,
        notes="second derivative jumps at |d| = beta (finite differences)",
    )
    spec(
        f"nn.huber_loss_{_r}",
        lambda lib, x, y, r=_r: F(lib).huber_loss(x, y, reduction=r, delta=0.7),
        lambda rng, dt: [_away_from_zero(rng, (3, 4), dt, 0.05, 1.5), np.zeros((3, 4), dt)],
        gradgrad=False,
        notes="second derivative jumps at |d| = delta",
    )
    spec(
        f"nn.binary_cross_entropy_{_r}",
        lambda lib, x, y, r=_r: F(lib).binary_cross_entropy(x, y, reduction=r),
        lambda rng, dt: [_probs(rng, (3, 4), dt), _probs(rng, (3, 4), dt, 0.0, 1.0)],
    )
    spec(
        f"nn.binary_cross_entropy_weight_{_r}",
        lambda lib, x, y, w, r=_r: F(lib).binary_cross_entropy(x, y, w, reduction=r),
        lambda rng, dt: [
            _probs(rng, (3, 4), dt),
            _probs(rng, (3, 4), dt, 0.0, 1.0),
            _probs(rng, (3, 4), dt),
        ],
        diff_args=(0, 1),
    )
    spec(
        f"nn.bce_with_logits_{_r}",
        lambda lib, x, y, r=_r: F(lib).binary_cross_entropy_with_logits(x, y, reduction=r),
        lambda rng, dt: [_u(rng, (3, 4), dt, -5, 5), _probs(rng, (3, 4), dt, 0.0, 1.0)],
    )
    spec(
        f"nn.bce_with_logits_weights_{_r}",
        lambda lib, x, y, w, pw, r=_r: F(lib).binary_cross_entropy_with_logits(
            x, y, w, reduction=r, pos_weight=pw
        ),
        lambda rng, dt: [
            _u(rng, (3, 4), dt, -5, 5),
            _probs(rng, (3, 4), dt, 0.0, 1.0),
            _probs(rng, (3, 4), dt),
            _probs(rng, (4,), dt, 0.5, 3.0),
        ],
        diff_args=(0, 1),
    )
    spec(
        f"nn.nll_loss_{_r}",
        lambda lib, x, t, r=_r: F(lib).nll_loss(x, t, reduction=r),
        lambda rng, dt: [
            [_u(rng, (5, 4), dt), _classes(rng, (5,), 4)],
            [_u(rng, (4,), dt), np.array(2, np.int64)],
            [_u(rng, (2, 3, 4), dt), _classes(rng, (2, 4), 3)],
            [_u(rng, (2, 3, 2, 3), dt), _classes(rng, (2, 2, 3), 3)],
            [_u(rng, (2, 3, 2, 2, 2), dt), _classes(rng, (2, 2, 2, 2), 3)],
        ],
        noncontig=False,
        notes="torch's nll_loss backward rejects non-contiguous input",
    )
    spec(
        f"nn.nll_loss_weight_ignore_{_r}",
        lambda lib, x, t, w, r=_r: F(lib).nll_loss(x, t, w, ignore_index=1, reduction=r),
        lambda rng, dt: [
            [_u(rng, (6, 4), dt), np.array([0, 1, 3, 2, 1, 3]), _probs(rng, (4,), dt)],
            [_u(rng, (2, 4, 3, 2), dt), _classes(rng, (2, 3, 2), 4), _probs(rng, (4,), dt)],
        ],
        diff_args=(0,),
        noncontig=False,
    )
    spec(
        f"nn.cross_entropy_{_r}",
        lambda lib, x, t, r=_r: F(lib).cross_entropy(x, t, reduction=r),
        lambda rng, dt: [
            [_u(rng, (5, 4), dt), _classes(rng, (5,), 4)],
            [_u(rng, (4,), dt), np.array(3, np.int64)],
            [_u(rng, (2, 3, 4), dt), _classes(rng, (2, 4), 3)],
            [_u(rng, (2, 3, 2, 3), dt), _classes(rng, (2, 2, 3), 3)],
        ],
    )
    spec(
        f"nn.cross_entropy_weight_ignore_{_r}",
        lambda lib, x, t, w, r=_r: F(lib).cross_entropy(x, t, w, ignore_index=2, reduction=r),
        lambda rng, dt: [_u(rng, (6, 4), dt), np.array([0, 2, 3, 2, 1, 3]), _probs(rng, (4,), dt)],
        diff_args=(0,),
    )
    spec(
        f"nn.cross_entropy_smoothing_{_r}",
        lambda lib, x, t, r=_r: F(lib).cross_entropy(
            x, t, reduction=r, label_smoothing=0.2, ignore_index=0
        ),
        lambda rng, dt: [
            [_u(rng, (6, 4), dt), np.array([0, 1, 3, 2, 1, 3])],
            [_u(rng, (2, 3, 2, 3), dt), _classes(rng, (2, 2, 3), 3)],
        ],
    )
    spec(
        f"nn.cross_entropy_smoothing_weight_{_r}",
        lambda lib, x, t, w, r=_r: F(lib).cross_entropy(x, t, w, reduction=r, label_smoothing=0.3),
        lambda rng, dt: [_u(rng, (6, 4), dt), _classes(rng, (6,), 4), _probs(rng, (4,), dt)],
        diff_args=(0,),
    )
    spec(
        f"nn.cross_entropy_probs_{_r}",
        lambda lib, x, p, r=_r: F(lib).cross_entropy(x, p, reduction=r),
        lambda rng, dt: [
            [_u(rng, (5, 4), dt), _simplex(rng, (5, 4), dt)],
            [_u(rng, (2, 3, 2, 2), dt), _simplex(rng, (2, 3, 2, 2), dt)],
            [_u(rng, (4,), dt), _simplex(rng, (4,), dt, 0)],
        ],
    )
    spec(
        f"nn.cross_entropy_probs_weight_smoothing_{_r}",
        lambda lib, x, p, w, r=_r: F(lib).cross_entropy(x, p, w, reduction=r, label_smoothing=0.1),
        lambda rng, dt: [_u(rng, (5, 4), dt), _simplex(rng, (5, 4), dt), _probs(rng, (4,), dt)],
        diff_args=(0, 1),
    )

spec(
    "nn.mse_loss_broadcast",
    lambda lib, x, y: F(lib).mse_loss(x, y.expand(3, 4)),
    lambda rng, dt: [_u(rng, (3, 4), dt), _u(rng, (4,), dt)],
)
spec(
    "nn.smooth_l1_loss_beta0",
    lambda lib, x, y: F(lib).smooth_l1_loss(x, y, beta=0.0),
    lambda rng, dt: [_away_from_zero(rng, (3, 4), dt), np.zeros((3, 4), dt)],
)
spec(
    "nn.huber_loss_weight",
    lambda lib, x, y, w: F(lib).huber_loss(x, y, weight=w),
    lambda rng, dt: [
        _away_from_zero(rng, (3, 4), dt, 0.05, 2),
        np.zeros((3, 4), dt),
        _probs(rng, (3, 4), dt),
    ],
    diff_args=(0,),
    gradgrad=False,
)
spec(
    "nn.binary_cross_entropy_clamped",
    lambda lib, x, y: F(lib).binary_cross_entropy(x, y),
    lambda rng, dt: [np.array([0.0, 1.0, 0.5, 1.0], dt), np.array([1.0, 0.0, 1.0, 1.0], dt)],
    diff_args=(),
    notes="log clamped at -100: a finite loss at 0 and 1",
)
spec(
    "nn.bce_with_logits_extreme",
    lambda lib, x, y: F(lib).binary_cross_entropy_with_logits(x, y),
    lambda rng, dt: [np.array([80.0, -80.0, 0.0, 30.0], dt), np.array([0.0, 1.0, 0.5, 1.0], dt)],
)
spec(
    "nn.nll_loss_all_ignored",
    lambda lib, x, t: F(lib).nll_loss(x, t, ignore_index=1),
    lambda rng, dt: [_u(rng, (3, 2), dt), np.array([1, 1, 1])],
    grad=False,
    notes="0 / 0: nan, as in PyTorch",
)

# ------------------------------------------------------------------------ convolution


def _conv_case(x, w, b=None, **kw):
    return [x, w] + ([b] if b is not None else []), kw


def conv_spec(name, nd, cases, **kw):
    """``cases``: list of (x_shape, w_shape, has_bias, kwargs); one spec per case."""
    fn_name = f"conv{nd}d"
    for i, (xs, ws, bias, kwargs) in enumerate(cases):

        def fn(lib, x, w, b=None, kwargs=kwargs):
            return getattr(F(lib), fn_name)(x, w, b, **kwargs)

        def make(rng, dt, xs=xs, ws=ws, bias=bias):
            arrs = [_u(rng, xs, dt), _u(rng, ws, dt)]
            return arrs + ([_u(rng, (ws[0],), dt)] if bias else [])

        spec(f"nn.{name}_{i}", fn, make, **kw)


conv_spec(
    "conv2d",
    2,
    [
        ((2, 3, 5, 5), (4, 3, 3, 3), True, {}),
        ((2, 3, 5, 5), (4, 3, 3, 3), False, {}),
        ((2, 3, 6, 7), (4, 3, 3, 3), True, {"stride": 2, "padding": 1}),
        ((1, 2, 7, 7), (3, 2, 3, 3), True, {"dilation": 2}),
        ((2, 4, 5, 5), (6, 2, 3, 3), True, {"groups": 2}),
        ((1, 4, 5, 5), (4, 1, 3, 3), False, {"groups": 4, "padding": 1}),
        ((1, 2, 5, 6), (3, 2, 3, 3), True, {"padding": "same"}),
        ((1, 2, 5, 6), (3, 2, 2, 4), True, {"padding": "same", "dilation": (1, 2)}),
        ((1, 2, 5, 6), (3, 2, 2, 3), True, {"padding": "valid"}),
        ((2, 3, 7, 6), (2, 3, 3, 2), True, {"stride": (2, 1), "padding": (1, 0)}),
        ((3, 5, 5), (4, 3, 3, 3), True, {"padding": 1}),
        (
            (1, 4, 8, 8),
            (4, 2, 3, 3),
            False,
            {"stride": 2, "padding": 2, "dilation": 2, "groups": 2},
        ),
        ((1, 1, 1, 1), (2, 1, 1, 1), True, {}),
    ],
)
conv_spec(
    "conv1d",
    1,
    [
        ((2, 3, 7), (4, 3, 3), True, {}),
        ((2, 3, 8), (4, 3, 3), False, {"stride": 2, "padding": 1}),
        ((2, 4, 9), (2, 2, 3), True, {"dilation": 2, "groups": 2}),
        ((1, 2, 6), (3, 2, 4), True, {"padding": "same"}),
        ((3, 7), (4, 3, 2), True, {}),
    ],
)


def _conv_t_spec(name, nd, xs, ws, bias, kwargs):
    def fn(lib, x, w, b=None):
        return getattr(F(lib), f"conv_transpose{nd}d")(x, w, b, **kwargs)

    def make(rng, dt):
        arrs = [_u(rng, xs, dt), _u(rng, ws, dt)]
        return arrs + ([_u(rng, (ws[1] * kwargs.get("groups", 1),), dt)] if bias else [])

    spec(name, fn, make)


_conv_t_spec("nn.conv_transpose2d_0", 2, (2, 3, 4, 4), (3, 2, 3, 3), True, {})
_conv_t_spec(
    "nn.conv_transpose2d_1",
    2,
    (2, 3, 3, 4),
    (3, 2, 3, 3),
    True,
    {"stride": 2, "padding": 1, "output_padding": 1},
)
_conv_t_spec(
    "nn.conv_transpose2d_2", 2, (1, 4, 3, 3), (4, 1, 2, 2), False, {"groups": 2, "dilation": 2}
)
_conv_t_spec("nn.conv_transpose1d_0", 1, (2, 3, 5), (3, 2, 3), True, {"stride": 2})

# ------------------------------------------------------------------------ pooling


def pool_spec(name, fn, shape, **kw):
    spec(name, fn, lambda rng, dt: [_distinct(rng, shape, dt)], **kw)


pool_spec("nn.max_pool2d_0", lambda lib, x: F(lib).max_pool2d(x, 2), (2, 3, 4, 6))
pool_spec(
    "nn.max_pool2d_1", lambda lib, x: F(lib).max_pool2d(x, 3, stride=2, padding=1), (2, 2, 7, 6)
)
pool_spec(
    "nn.max_pool2d_2", lambda lib, x: F(lib).max_pool2d(x, 2, stride=1, dilation=2), (1, 2, 6, 6)
)
pool_spec(
    "nn.max_pool2d_3",
    lambda lib, x: F(lib).max_pool2d(x, 3, stride=2, ceil_mode=True),
    (1, 2, 6, 8),
)
pool_spec(
    "nn.max_pool2d_4",
    lambda lib, x: F(lib).max_pool2d(x, (2, 3), (1, 2), (1, 1), return_indices=True),
    (2, 2, 5, 7),
)
pool_spec("nn.max_pool2d_5", lambda lib, x: F(lib).max_pool2d(x, 2, return_indices=True), (3, 4, 5))
pool_spec(
    "nn.max_pool2d_6",
    lambda lib, x: F(lib).max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True),
    (1, 1, 6, 6),
)
pool_spec("nn.max_pool2d_empty_batch", lambda lib, x: F(lib).max_pool2d(x, 2), (0, 2, 4, 4))
pool_spec("nn.avg_pool2d_empty_batch", lambda lib, x: F(lib).avg_pool2d(x, 2), (0, 2, 4, 4))
pool_spec("nn.max_pool1d", lambda lib, x: F(lib).max_pool1d(x, 3, stride=2, padding=1), (2, 3, 8))
pool_spec("nn.avg_pool2d_0", lambda lib, x: F(lib).avg_pool2d(x, 2), (2, 3, 4, 6))
pool_spec(
    "nn.avg_pool2d_1", lambda lib, x: F(lib).avg_pool2d(x, 3, stride=2, padding=1), (2, 2, 7, 6)
)
pool_spec(
    "nn.avg_pool2d_2",
    lambda lib, x: F(lib).avg_pool2d(x, 3, 2, 1, count_include_pad=False),
    (2, 2, 7, 6),
)
pool_spec(
    "nn.avg_pool2d_3", lambda lib, x: F(lib).avg_pool2d(x, 3, 2, 1, ceil_mode=True), (1, 2, 6, 8)
)
pool_spec(
    "nn.avg_pool2d_4",
    lambda lib, x: F(lib).avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
    (1, 2, 6, 8),
)
pool_spec(
    "nn.avg_pool2d_5", lambda lib, x: F(lib).avg_pool2d(x, (2, 3), divisor_override=4), (3, 4, 6)
)
pool_spec("nn.avg_pool1d", lambda lib, x: F(lib).avg_pool1d(x, 3, stride=2, padding=1), (2, 3, 8))
pool_spec(
    "nn.adaptive_avg_pool2d", lambda lib, x: F(lib).adaptive_avg_pool2d(x, (2, 3)), (2, 3, 5, 7)
)
pool_spec(
    "nn.adaptive_avg_pool2d_none",
    lambda lib, x: F(lib).adaptive_avg_pool2d(x, (None, 4)),
    (3, 5, 6),
)
pool_spec("nn.adaptive_avg_pool2d_1", lambda lib, x: F(lib).adaptive_avg_pool2d(x, 1), (2, 3, 4, 4))
pool_spec("nn.adaptive_avg_pool1d", lambda lib, x: F(lib).adaptive_avg_pool1d(x, 3), (2, 3, 8))

# ------------------------------------------------------------------------ padding


def pad_spec(name, shape, pad, **kw):
    spec(name, lambda lib, x: F(lib).pad(x, pad, **kw), lambda rng, dt: [_u(rng, shape, dt)])


pad_spec("nn.pad_constant_0", (2, 3), (1, 2))
pad_spec("nn.pad_constant_1", (2, 3, 4), (1, 1, 2, 0), value=1.5)
pad_spec("nn.pad_constant_crop", (2, 3, 4), (-1, 2, 0, -1))
pad_spec("nn.pad_constant_all_dims", (2, 3), (1, 0, 0, 2))
pad_spec("nn.pad_reflect_1d", (2, 3, 5), (2, 1), mode="reflect")
pad_spec("nn.pad_reflect_2d", (1, 2, 4, 5), (2, 1, 1, 3), mode="reflect")
pad_spec("nn.pad_reflect_crop", (1, 2, 5), (-1, 2), mode="reflect")
pad_spec("nn.pad_replicate_1d", (3, 4), (2, 3), mode="replicate")
pad_spec("nn.pad_replicate_2d", (1, 2, 3, 4), (1, 2, 2, 1), mode="replicate")
pad_spec("nn.pad_replicate_3d", (1, 1, 2, 3, 2), (1, 1, 1, 0, 0, 2), mode="replicate")
pad_spec("nn.pad_circular_2d", (1, 2, 3, 4), (1, 2, 3, 1), mode="circular")

# ------------------------------------------------------------------------ one_hot and embedding

spec(
    "nn.one_hot",
    lambda lib, t: F(lib).one_hot(t),
    lambda rng, dt: [[np.array([0, 3, 1, 1])], [_classes(rng, (2, 3), 5)]],
    dtypes=("int64",),
)
spec(
    "nn.one_hot_num_classes",
    lambda lib, t: F(lib).one_hot(t, 6),
    lambda rng, dt: [[np.array(2)], [np.zeros((0,), np.int64)]],
    dtypes=("int64",),
)
spec(
    "nn.embedding",
    lambda lib, i, w: F(lib).embedding(i, w),
    lambda rng, dt: [
        [np.array([[0, 2, 2], [4, 1, 2]]), _u(rng, (5, 3), dt)],
        [np.array(3), _u(rng, (5, 3), dt)],
    ],
)
spec(
    "nn.embedding_int32",
    lambda lib, i, w: F(lib).embedding(i, w),
    lambda rng, dt: [np.array([0, 2, 2], np.int32), _u(rng, (3, 2), dt)],
)
# padding_idx and scale_grad_by_freq deliberately differ from the true derivative, so they are
# compared with torch in tests/nn/test_functional.py instead of by finite differences.

# ------------------------------------------------------------------------ normalisation
# (kernels native_batch_norm / native_layer_norm / native_group_norm; running-stat updates and
# the modules are compared with torch in tests/nn/test_norm.py)


def _bn_sample(rng, shape, dt):
    c = shape[1]
    return [
        _u(rng, shape, dt),
        _u(rng, (c,), dt, 0.5, 2.0),
        _u(rng, (c,), dt),
        _u(rng, (c,), dt),
        _u(rng, (c,), dt, 0.5, 2.0),
    ]


_BN_SHAPES = [(4, 3), (2, 3, 4), (2, 3, 2, 2)]
spec(
    "nn.batch_norm_train",
    lambda lib, x, w, b, rm, rv: F(lib).batch_norm(x, rm, rv, w, b, True, 0.1, 1e-5),
    lambda rng, dt: [_bn_sample(rng, s, dt) for s in _BN_SHAPES],
    diff_args=(0, 1, 2),
)
spec(
    "nn.batch_norm_eval",
    lambda lib, x, w, b, rm, rv: F(lib).batch_norm(x, rm, rv, w, b, False, 0.1, 1e-5),
    lambda rng, dt: [_bn_sample(rng, s, dt) for s in _BN_SHAPES],
    diff_args=(0, 1, 2),
)
spec(
    "nn.batch_norm_no_affine",
    lambda lib, x: F(lib).batch_norm(x, None, None, training=True),
    lambda rng, dt: [[_u(rng, (3, 2, 3), dt)], [_u(rng, (5, 4), dt)]],
)
spec(
    "nn.layer_norm",
    lambda lib, x, w, b: F(lib).layer_norm(x, tuple(w.shape), w, b),
    lambda rng, dt: [
        [_u(rng, (3, 4, 5), dt), _u(rng, (4, 5), dt), _u(rng, (4, 5), dt)],
        [_u(rng, (2, 6), dt), _u(rng, (6,), dt), _u(rng, (6,), dt)],
        [_u(rng, (6,), dt), _u(rng, (6,), dt), _u(rng, (6,), dt)],
    ],
)
spec(
    "nn.layer_norm_no_affine",
    lambda lib, x: F(lib).layer_norm(x, (x.shape[-1],), eps=1e-3),
    lambda rng, dt: [[_u(rng, (3, 5), dt)], [_u(rng, (2, 2, 3), dt)]],
)
spec(
    "nn.group_norm",
    lambda lib, x, w, b: F(lib).group_norm(x, 3, w, b),
    lambda rng, dt: [
        [_u(rng, (2, 6, 4), dt), _u(rng, (6,), dt), _u(rng, (6,), dt)],
        [_u(rng, (3, 6), dt), _u(rng, (6,), dt), _u(rng, (6,), dt)],
        [_u(rng, (1, 6, 2, 2), dt), _u(rng, (6,), dt), _u(rng, (6,), dt)],
    ],
)
spec(
    "nn.group_norm_no_affine",
    lambda lib, x: F(lib).group_norm(x, 2),
    lambda rng, dt: [[_u(rng, (2, 4, 3), dt)]],
)
spec(
    "nn.instance_norm",
    lambda lib, x, w, b: F(lib).instance_norm(x, weight=w, bias=b),
    lambda rng, dt: [[_u(rng, (2, 3, 4), dt), _u(rng, (3,), dt), _u(rng, (3,), dt)]],
)
