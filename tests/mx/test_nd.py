"""``fluxion.mx.nd``: creation, NDArray methods, repr and functions, against NumPy/torch.

MXNet itself cannot be installed here; values are checked against NumPy and torch computing the
same thing, and MXNet's conventions (float32 default, shape (1,) for full reductions, repr) come
from its documentation and source.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import fluxion
from fluxion import mx
from fluxion.mx import autograd, nd

RNG = np.random.default_rng(0)


def _data(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def test_array_creation_defaults_to_float32():
    for x in (nd.array([[1, 2], [3, 4]]), nd.array(np.arange(4.0)), nd.zeros((2, 3)), nd.ones(2)):
        assert isinstance(x, nd.NDArray) and isinstance(x, fluxion.Tensor)
        assert x.dtype == fluxion.float32
    assert nd.array([1, 2], dtype="int64").dtype == fluxion.int64
    assert nd.array([1, 2], dtype=np.float64).dtype == fluxion.float64
    src = nd.array([1, 2], dtype="float64")
    copy = nd.array(src)
    assert copy.dtype == fluxion.float64  # an NDArray source keeps its dtype
    copy[0] = 5
    assert src.asnumpy().tolist() == [1.0, 2.0]  # nd.array copies


def test_zeros_ones_full_arange_match_numpy():
    np.testing.assert_array_equal(nd.zeros((2, 3)).asnumpy(), np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(nd.ones(4).asnumpy(), np.ones(4, np.float32))
    np.testing.assert_array_equal(nd.full((2, 2), 7).asnumpy(), np.full((2, 2), 7, np.float32))
    np.testing.assert_array_equal(nd.arange(10).asnumpy(), np.arange(10, dtype=np.float32))
    np.testing.assert_allclose(nd.arange(2, 6, step=1.5).asnumpy(), np.arange(2, 6, 1.5))
    np.testing.assert_array_equal(
        nd.arange(2, 6, step=2, repeat=3, dtype="int32").asnumpy(),
        np.repeat(np.arange(2, 6, 2), 3).astype(np.int32),
    )


def test_random_uniform_normal_shapes_and_ranges():
    mx.random.seed(0)
    u = nd.random.uniform(-2, 3, shape=(2000,))
    n = nd.random.normal(1.0, 2.0, shape=(4000,))
    assert u.shape == (2000,) and n.shape == (4000,) and u.dtype == fluxion.float32
    un = u.asnumpy()
    assert un.min() >= -2 and un.max() < 3 and abs(un.mean() - 0.5) < 0.15
    nn = n.asnumpy()
    assert abs(nn.mean() - 1.0) < 0.15 and abs(nn.std() - 2.0) < 0.15
    mx.random.seed(0)
    np.testing.assert_array_equal(nd.random.uniform(-2, 3, shape=(2000,)).asnumpy(), un)


def test_repr_is_mxnet_style():
    x = nd.arange(10).reshape((2, 5))
    assert (
        repr(x)
        == "\n" + str(np.arange(10, dtype=np.float32).reshape(2, 5)) + "\n<NDArray 2x5 @cpu(0)>"
    )
    assert repr(nd.ones(3)) == "\n[1. 1. 1.]\n<NDArray 3 @cpu(0)>"
    assert str(x) == repr(x)


def test_reshape_tuple_ints_zero_and_minus_one():
    x = nd.arange(24)
    assert x.reshape((2, 3, 4)).shape == (2, 3, 4)
    assert x.reshape(2, 3, 4).shape == (2, 3, 4)
    assert x.reshape(4, -1).shape == (4, 6)
    y = x.reshape((2, 12))
    assert y.reshape((0, 3, -1)).shape == (2, 3, 4)  # 0 copies the input's dimension
    assert nd.reshape(x, (6, 4)).shape == (6, 4)
    y[0, 0] = 100  # reshape shares memory
    assert x.asnumpy()[0] == 100


def test_metadata_transpose_and_conversion():
    a = _data(2, 3, 4)
    x = nd.array(a)
    assert x.shape == (2, 3, 4) and type(x.shape) is tuple
    assert x.size == 24 and x.size() == fluxion.Size([2, 3, 4]) and x.size(1) == 3
    assert x.ndim == 3 and x.context == mx.cpu() and x.ctx == mx.cpu(0)
    np.testing.assert_array_equal(x.T.asnumpy(), a.T)
    np.testing.assert_array_equal(x.transpose((1, 0, 2)).asnumpy(), a.transpose(1, 0, 2))
    np.testing.assert_array_equal(x.expand_dims(1).asnumpy(), a[:, None])
    np.testing.assert_array_equal(x.flatten().asnumpy(), a.reshape(2, -1))
    np.testing.assert_array_equal(x.astype("float64").asnumpy(), a.astype(np.float64))
    arr = x.asnumpy()
    arr[0, 0, 0] = 99  # asnumpy is a copy
    assert x.asnumpy()[0, 0, 0] == a[0, 0, 0]
    assert isinstance(x.T, nd.NDArray) and isinstance(x[0], nd.NDArray)


def test_asscalar():
    assert nd.array([3.5]).asscalar() == np.float32(3.5)
    assert isinstance(nd.array([3.5]).asscalar(), np.float32)
    with pytest.raises(ValueError, match="not a scalar"):
        nd.ones((2,)).asscalar()


def test_full_reductions_give_shape_one_and_match_numpy():
    a = _data(3, 4)
    x = nd.array(a)
    for name, ref in [("sum", np.sum), ("mean", np.mean), ("max", np.max), ("min", np.min)]:
        r = getattr(x, name)()
        assert r.shape == (1,)
        np.testing.assert_allclose(r.asnumpy(), [ref(a)], rtol=1e-6)
        np.testing.assert_allclose(
            getattr(nd, name)(x, axis=1).asnumpy(), ref(a, axis=1), rtol=1e-6
        )
        np.testing.assert_allclose(
            getattr(nd, name)(x, axis=1, keepdims=True).asnumpy(),
            ref(a, axis=1, keepdims=True),
            rtol=1e-6,
        )
        np.testing.assert_allclose(
            getattr(nd, name)(x, axis=1, exclude=True).asnumpy(), ref(a, axis=0), rtol=1e-6
        )
    np.testing.assert_allclose(x.norm().asnumpy(), [np.linalg.norm(a)], rtol=1e-6)
    np.testing.assert_array_equal(nd.argmax(x, axis=1).asnumpy(), a.argmax(1).astype(np.float32))
    assert nd.argmax(x, axis=1).dtype == fluxion.float32


def test_dot_concat_stack_match_numpy():
    a, b, v = _data(3, 4), _data(4, 5), _data(4)
    x, y, w = nd.array(a), nd.array(b), nd.array(v)
    np.testing.assert_allclose(nd.dot(x, y).asnumpy(), a @ b, rtol=1e-5)
    np.testing.assert_allclose(nd.dot(x, w).asnumpy(), a @ v, rtol=1e-5)
    np.testing.assert_allclose(nd.dot(w, w).asnumpy(), [v @ v], rtol=1e-5)  # shape (1,)
    np.testing.assert_allclose(
        nd.dot(y, x, transpose_a=True, transpose_b=True).asnumpy(), b.T @ a.T, rtol=1e-5
    )
    c = _data(2, 3, 4)
    np.testing.assert_allclose(nd.dot(nd.array(c), y).asnumpy(), np.tensordot(c, b, 1), rtol=1e-5)
    with pytest.raises(RuntimeError, match="dot: shapes"):
        nd.dot(x, x)
    np.testing.assert_array_equal(nd.concat(x, x).asnumpy(), np.concatenate([a, a], 1))
    np.testing.assert_array_equal(nd.concat(x, x, dim=0).asnumpy(), np.concatenate([a, a], 0))
    np.testing.assert_array_equal(nd.stack(x, x, axis=1).asnumpy(), np.stack([a, a], 1))


ELEMENTWISE = [
    "exp",
    "sqrt",
    "square",
    "abs",
    "sign",
    "sin",
    "cos",
    "tanh",
    "sigmoid",
    "relu",
    "floor",
    "negative",
]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_functions_match_torch(name):
    a = np.abs(_data(3, 4)) + 0.1 if name == "sqrt" else _data(3, 4)
    got = getattr(nd, name)(nd.array(a))
    tname = {"negative": "neg"}.get(name, name)
    want = getattr(torch, tname)(torch.tensor(a))
    assert isinstance(got, nd.NDArray)
    np.testing.assert_allclose(got.asnumpy(), want.numpy(), rtol=1e-6, atol=1e-7)


def test_binary_functions_and_operators_match_numpy():
    a, b = _data(3, 4), _data(1, 4)
    x, y = nd.array(a), nd.array(b)
    np.testing.assert_allclose(nd.broadcast_add(x, y).asnumpy(), a + b)
    np.testing.assert_allclose(nd.maximum(x, y).asnumpy(), np.maximum(a, b))
    np.testing.assert_allclose((2 * x - y / 2).asnumpy(), 2 * a - b / 2, rtol=1e-6)
    np.testing.assert_allclose(nd.power(nd.abs(x), 2).asnumpy(), np.abs(a) ** 2, rtol=1e-6)
    eq = x == x
    assert eq.dtype == fluxion.float32 and eq.asnumpy().tolist() == np.ones((3, 4)).tolist()
    np.testing.assert_array_equal((x > 0).asnumpy(), (a > 0).astype(np.float32))
    np.testing.assert_allclose(nd.clip(x, -0.5, 0.5).asnumpy(), np.clip(a, -0.5, 0.5))
    np.testing.assert_allclose(nd.where(x > 0, x, y).asnumpy(), np.where(a > 0, a, b))
    np.testing.assert_allclose(
        nd.softmax(x).asnumpy(), torch.softmax(torch.tensor(a), -1).numpy(), rtol=1e-6
    )
    x += 1  # in place keeps the NDArray
    assert isinstance(x, nd.NDArray)
    np.testing.assert_allclose(x.asnumpy(), a + 1)


def test_bool_and_len():
    assert bool(nd.array([2])) and not bool(nd.array([0]))
    assert not bool(nd.zeros((0,)))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(nd.ones(2))
    assert len(nd.ones((3, 2))) == 3


def test_gpu_context_is_refused_with_a_clear_error():
    assert repr(mx.gpu(1)) == "gpu(1)"
    with pytest.raises(RuntimeError, match="cpu"):
        nd.zeros((2,), ctx=mx.gpu())


def test_dropout_honours_is_training():
    x = nd.ones((200, 50))
    assert (nd.Dropout(x, p=0.5) == x).min().asscalar() == 1  # predict mode: identity
    fluxion.manual_seed(0)
    with autograd.record():
        y = nd.Dropout(x, p=0.5)
    vals = set(np.unique(y.asnumpy()).tolist())
    assert vals == {0.0, 2.0}
    assert 0.4 < (y.asnumpy() == 0).mean() < 0.6
    with autograd.record(train_mode=False):
        assert (nd.Dropout(x, p=0.5) == x).min().asscalar() == 1
    with autograd.train_mode():
        assert (nd.Dropout(x, p=0.5) == 0).sum().asscalar() > 0
    assert (nd.Dropout(x, p=0.5, mode="always") == 0).sum().asscalar() > 0
    with autograd.train_mode():
        y = nd.Dropout(nd.ones((4, 100)), p=0.5, axes=(0,))
    col = y.asnumpy()
    assert (col == col[0]).all()  # one mask shared along axis 0


def test_dropout_gradient_is_the_mask():
    x = nd.array(_data(10, 10))
    x.attach_grad()
    with autograd.record():
        y = nd.Dropout(x, p=0.3)
    y.backward()
    mask = (y.asnumpy() != 0) / 0.7
    np.testing.assert_allclose(x.grad.asnumpy(), mask, rtol=1e-6)


def test_batchnorm_train_and_predict_match_torch():
    a = _data(8, 3, 4, 4)
    g, b = _data(3) + 1, _data(3)
    x = nd.array(a)
    gamma, beta = nd.array(g), nd.array(b)
    mm, mv = nd.zeros(3), nd.ones(3)
    with autograd.record():
        y = nd.BatchNorm(x, gamma, beta, mm, mv, eps=1e-5, momentum=0.9, fix_gamma=False)
    tx = torch.tensor(a)
    ref = torch.nn.functional.batch_norm(
        tx, torch.zeros(3), torch.ones(3), torch.tensor(g), torch.tensor(b), True, 0.1, 1e-5
    )
    np.testing.assert_allclose(y.asnumpy(), ref.numpy(), rtol=1e-4, atol=1e-5)
    batch_var = a.transpose(1, 0, 2, 3).reshape(3, -1).var(1)  # biased, MXNet's moving var
    np.testing.assert_allclose(mm.asnumpy(), 0.1 * a.mean((0, 2, 3)), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(mv.asnumpy(), 0.9 + 0.1 * batch_var, rtol=1e-4)
    y2 = nd.BatchNorm(x, gamma, beta, mm, mv, eps=1e-5, fix_gamma=False)  # predict mode
    ref2 = (a - mm.asnumpy()[:, None, None]) / np.sqrt(mv.asnumpy()[:, None, None] + 1e-5)
    ref2 = ref2 * g[:, None, None] + b[:, None, None]
    np.testing.assert_allclose(y2.asnumpy(), ref2, rtol=1e-4, atol=1e-5)
    y3 = nd.BatchNorm(x, gamma, beta, mm, mv, eps=1e-5)  # fix_gamma: scale 1
    xhat = (y2.asnumpy() - b[:, None, None]) / g[:, None, None]
    np.testing.assert_allclose(y3.asnumpy(), xhat + b[:, None, None], rtol=1e-4, atol=1e-4)


def test_activation_matches_torch():
    a = _data(3, 4)
    for act, ref in [
        ("relu", torch.relu),
        ("sigmoid", torch.sigmoid),
        ("softrelu", torch.nn.functional.softplus),
    ]:
        np.testing.assert_allclose(
            nd.Activation(nd.array(a), act_type=act).asnumpy(),
            ref(torch.tensor(a)).numpy(),
            rtol=1e-6,
        )
    with pytest.raises(ValueError, match="act_type"):
        nd.Activation(nd.array(a), act_type="nope")


def test_fluxion_functions_accept_ndarrays():
    x = nd.array(_data(2, 3))
    y = fluxion.nn.functional.relu(x)
    np.testing.assert_allclose(y.detach().numpy(), np.maximum(x.asnumpy(), 0))
