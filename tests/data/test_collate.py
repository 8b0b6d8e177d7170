"""default_collate / default_convert against torch's, type rule by type rule."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate as t_collate
from torch.utils.data import default_convert as t_convert

import fluxion
from fluxion.utils.data import default_collate, default_convert

from .helpers import assert_same

Point = collections.namedtuple("Point", ["x", "y"])


def _to_fluxion(obj):
    """The same sample with torch tensors replaced by fluxion tensors."""
    if isinstance(obj, torch.Tensor):
        return fluxion.tensor(obj.numpy())
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_to_fluxion(o) for o in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_fluxion(o) for o in obj)
    if isinstance(obj, dict):
        return type(obj)((k, _to_fluxion(v)) for k, v in obj.items())
    return obj


rng = np.random.default_rng(0)
CASES = {
    "tensors_f32": [torch.randn(2, 3) for _ in range(4)],
    "tensors_i64": [torch.tensor([i, i + 1]) for i in range(3)],
    "tensors_0d": [torch.tensor(1.5), torch.tensor(2.5)],
    "floats": [0.5, 1.25, -3.0],
    "ints": [1, 2, 3],
    "bools": [True, False],
    "strs": ["a", "bb"],
    "bytes": [b"a", b"b"],
    "numpy_f32": [rng.standard_normal((2, 2)).astype(np.float32) for _ in range(3)],
    "numpy_i32": [np.arange(3, dtype=np.int32) + i for i in range(2)],
    "numpy_scalars_f64": [np.float64(1.5), np.float64(2.0)],
    "numpy_scalars_i16": [np.int16(1), np.int16(7)],
    "numpy_bool": [np.bool_(True), np.bool_(False)],
    "tuples": [(torch.ones(2), 1, "a"), (torch.zeros(2), 2, "b")],
    "lists": [[1.0, 2], [3.0, 4]],
    "dicts": [{"x": torch.ones(1), "y": 1.5, "s": "p"}, {"x": torch.zeros(1), "y": 2.5, "s": "q"}],
    "ordered_dicts": [collections.OrderedDict(a=1, b=2.0)] * 2,
    "namedtuples": [Point(1, torch.ones(2)), Point(2, torch.zeros(2))],
    "nested": [{"img": (torch.ones(2, 2), [1, 2.0]), "meta": {"id": 3}}] * 3,
}


@pytest.mark.parametrize("name", list(CASES))
def test_default_collate_matches_torch(name):
    batch = CASES[name]
    assert_same(default_collate(_to_fluxion(batch)), t_collate(batch))


@pytest.mark.parametrize("name", ["numpy_f32", "numpy_scalars_i16", "tuples", "dicts", "strs"])
def test_default_convert_matches_torch(name):
    for sample in CASES[name]:
        assert_same(default_convert(_to_fluxion(sample)), t_convert(sample))


def test_default_convert_keeps_string_arrays():
    a = np.array(["x", "y"])
    assert default_convert(a) is a


def test_default_collate_float_is_float64_int_is_int64():
    assert default_collate([1.0, 2.0]).dtype == fluxion.float64
    assert default_collate([1, 2]).dtype == fluxion.int64


def test_default_collate_ragged_tensors_raise_like_torch():
    with pytest.raises(RuntimeError) as th:
        t_collate([torch.zeros(2), torch.zeros(3)])
    with pytest.raises(RuntimeError) as fx:
        default_collate([fluxion.zeros(2), fluxion.zeros(3)])
    assert str(fx.value) == str(th.value)


def test_default_collate_ragged_numpy_raise_like_torch():
    with pytest.raises(RuntimeError) as th:
        t_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(RuntimeError) as fx:
        default_collate([np.zeros(2), np.zeros(3)])
    assert str(fx.value) == str(th.value)


def test_default_collate_ragged_lists_raise_like_torch():
    msg = "each element in list of batch should be of equal size"
    with pytest.raises(RuntimeError, match=msg):
        t_collate([[1, 2], [3]])
    with pytest.raises(RuntimeError, match=msg):
        default_collate([[1, 2], [3]])


@pytest.mark.parametrize("batch", [[object(), object()], [np.array(["a"]), np.array(["b"])]])
def test_default_collate_unsupported_type_raises_type_error_like_torch(batch):
    with pytest.raises(TypeError) as th:
        t_collate(batch)
    with pytest.raises(TypeError) as fx:
        default_collate(batch)
    # torch names its own classes in the message; the rest is the same
    assert str(fx.value).split("found")[0] == str(th.value).split("found")[0]
    assert "default_collate: batch must contain tensors" in str(fx.value)
