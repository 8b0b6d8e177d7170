"""Errors of the shape and indexing ops: PyTorch's exception types, messages naming op and shapes.

Every case runs the same call on fluxion and on torch: both must raise the same builtin type,
and fluxion's message must contain the listed fragments (the op and the offending sizes).
"""

from __future__ import annotations

import numpy as np
import pytest

import fluxion

torch = pytest.importorskip("torch")


def _x(lib, *shape):
    return lib.from_numpy(np.arange(float(np.prod(shape))).reshape(shape))


def _i(lib, *values):
    return lib.tensor(list(values), dtype=lib.int64)


# (id, call(lib), exception type, fragments of fluxion's message)
CASES = [
    # ------------------------------------------------------------------ reshape / view / expand
    (
        "reshape_bad_size",
        lambda lib: _x(lib, 2, 3).reshape(5),
        RuntimeError,
        ["reshape", "shape '[5]' is invalid for input of size 6", "[2, 3]"],
    ),
    (
        "reshape_two_infer",
        lambda lib: _x(lib, 2, 3).reshape(-1, -1),
        RuntimeError,
        ["reshape", "only one dimension can be inferred"],
    ),
    (
        "reshape_negative",
        lambda lib: _x(lib, 2, 3).reshape(-2, 3),
        RuntimeError,
        ["invalid shape dimension -2"],
    ),
    (
        "reshape_ambiguous_empty",
        lambda lib: _x(lib, 0, 3).reshape(-1, 0),
        RuntimeError,
        ["cannot reshape tensor of 0 elements", "ambiguous"],
    ),
    (
        "view_bad_size",
        lambda lib: _x(lib, 2, 3).view(4),
        RuntimeError,
        ["view", "is invalid for input of size 6"],
    ),
    (
        "view_non_contiguous",
        lambda lib: _x(lib, 2, 3).t().view(6),
        RuntimeError,
        ["view size is not compatible", "[3, 2]", ".reshape"],
    ),
    (
        "expand_incompatible",
        lambda lib: _x(lib, 2, 3).expand(2, 4),
        RuntimeError,
        ["expand", "(4) must match the existing size (3)", "[2, 4]", "[2, 3]"],
    ),
    (
        "expand_too_few_sizes",
        lambda lib: _x(lib, 2, 3).expand(3),
        RuntimeError,
        ["expand", "number of sizes provided (1)", "(2)"],
    ),
    (
        "expand_leading_minus_one",
        lambda lib: _x(lib, 3).expand(-1, 3),
        RuntimeError,
        ["expand", "leading, non-existing dimension 0"],
    ),
    (
        "unflatten_bad_sizes",
        lambda lib: _x(lib, 2, 6).unflatten(1, (4, 2)),
        RuntimeError,
        ["unflatten", "[4, 2]", "(6)"],
    ),
    (
        "permute_wrong_length",
        lambda lib: _x(lib, 2, 3).permute(0),
        RuntimeError,
        ["permute", "input.dim() = 2", "len(dims) = 1"],
    ),
    (
        "permute_duplicate",
        lambda lib: _x(lib, 2, 3).permute(0, 0),
        RuntimeError,
        ["permute", "duplicate"],
    ),
    (
        "transpose_dim_out_of_range",
        lambda lib: _x(lib, 2, 3).transpose(0, 2),
        IndexError,
        ["Dimension out of range", "[-2, 1]", "got 2"],
    ),
    ("t_3d", lambda lib: _x(lib, 2, 3, 4).t(), RuntimeError, ["t()", "3D"]),
    (
        "squeeze_dim_out_of_range",
        lambda lib: _x(lib, 2, 1).squeeze(2),
        IndexError,
        ["squeeze", "Dimension out of range"],
    ),
    (
        "flatten_start_after_end",
        lambda lib: _x(lib, 2, 3).flatten(1, 0),
        RuntimeError,
        ["flatten", "start_dim cannot come after end_dim"],
    ),
    (
        "movedim_repeated",
        lambda lib: _x(lib, 2, 3).movedim((0, 0), (0, 1)),
        RuntimeError,
        ["movedim", "repeated dim in `source`"],
    ),
    (
        "movedim_lengths",
        lambda lib: _x(lib, 2, 3).movedim((0, 1), (0,)),
        RuntimeError,
        ["movedim", "same number of dims"],
    ),
    (
        "repeat_too_few",
        lambda lib: _x(lib, 2, 3).repeat(2),
        RuntimeError,
        ["repeat", "can not be smaller than number of dimensions", "[2, 3]"],
    ),
    (
        "flip_repeated_dim",
        lambda lib: _x(lib, 2, 3).flip(0, 0),
        RuntimeError,
        ["flip", "dim 0 appears multiple times"],
    ),
    (
        "roll_misaligned",
        lambda lib: _x(lib, 2, 3).roll((1, 2), 0),
        RuntimeError,
        ["roll", "shifts and dimensions must align"],
    ),
    (
        "tril_1d",
        lambda lib: _x(lib, 3).tril(),
        RuntimeError,
        ["tril", "at least 2 dimensions", "[3]"],
    ),
    (
        "diagonal_same_dims",
        lambda lib: _x(lib, 3, 3).diagonal(0, 1, 1),
        RuntimeError,
        ["diagonal dimensions cannot be identical"],
    ),
    (
        "unfold_size_too_big",
        lambda lib: _x(lib, 2, 3).unfold(1, 4, 1),
        RuntimeError,
        ["unfold", "maximum size for tensor at dimension 1 is 3 but size is 4"],
    ),
    (
        "unfold_zero_step",
        lambda lib: _x(lib, 2, 3).unfold(1, 2, 0),
        RuntimeError,
        ["unfold", "step is 0"],
    ),
    # ------------------------------------------------------------------ cat / stack / split
    (
        "cat_size_mismatch",
        lambda lib: lib.cat([_x(lib, 2, 2), _x(lib, 3, 3)], 1),
        RuntimeError,
        [
            "Sizes of tensors must match except in dimension 1. Expected size 2 but got size 3 for "
            "tensor number 1 in the list.",
            "cat()",
            "[[2, 2], [3, 3]]",
        ],
    ),
    (
        "cat_ndim_mismatch",
        lambda lib: lib.cat([_x(lib, 2, 3), _x(lib, 3)]),
        RuntimeError,
        ["cat()", "same number of dimensions: got 2 and 1", "[2, 3]", "[3]"],
    ),
    (
        "cat_zero_dim",
        lambda lib: lib.cat([_x(lib), _x(lib)]),
        RuntimeError,
        ["zero-dimensional tensor (at position 0) cannot be concatenated"],
    ),
    (
        "cat_empty_list",
        lambda lib: lib.cat([]),
        ValueError,
        ["cat(): expected a non-empty list of Tensors"],
    ),
    (
        "cat_not_a_list",
        lambda lib: lib.cat(_x(lib, 2)),
        TypeError,
        ["cat()", "must be tuple of Tensors, not Tensor"],
    ),
    (
        "cat_non_tensor_element",
        lambda lib: lib.cat([_x(lib, 2), 1]),
        TypeError,
        ["expected Tensor as element 1", "int"],
    ),
    (
        "cat_dim_out_of_range",
        lambda lib: lib.cat([_x(lib, 2, 3)], 2),
        IndexError,
        ["cat", "Dimension out of range"],
    ),
    (
        "stack_mismatch",
        lambda lib: lib.stack([_x(lib, 2, 3), _x(lib, 3, 2)]),
        RuntimeError,
        ["stack expects each tensor to be equal size", "[2, 3] at entry 0", "[3, 2] at entry 1"],
    ),
    ("stack_empty", lambda lib: lib.stack([]), RuntimeError, ["stack", "non-empty"]),
    (
        "split_sizes_sum",
        lambda lib: _x(lib, 4).split([1, 2]),
        RuntimeError,
        ["split_with_sizes", "sum exactly to 4", "[1, 2]"],
    ),
    (
        "split_negative",
        lambda lib: _x(lib, 4).split(-1),
        RuntimeError,
        ["split", "non-negative", "-1"],
    ),
    (
        "split_zero",
        lambda lib: _x(lib, 4).split(0),
        RuntimeError,
        ["split_size can only be 0 if dimension size is 0", "4"],
    ),
    (
        "chunk_zero",
        lambda lib: _x(lib, 4).chunk(0),
        RuntimeError,
        ["chunk expects `chunks` to be greater than 0, got: 0"],
    ),
    ("unbind_0d", lambda lib: _x(lib).unbind(), IndexError, ["unbind", "no dimensions"]),
    (
        "narrow_exceeds",
        lambda lib: _x(lib, 4, 6).narrow(0, 2, 3),
        RuntimeError,
        ["narrow", "start (2) + length (3) exceeds dimension size (4)", "[4, 6]"],
    ),
    (
        "narrow_start_out_of_range",
        lambda lib: _x(lib, 4).narrow(0, 5, 0),
        IndexError,
        ["narrow", "start out of range", "got 5"],
    ),
    (
        "narrow_negative_length",
        lambda lib: _x(lib, 4).narrow(0, 1, -1),
        RuntimeError,
        ["narrow(): length must be non-negative."],
    ),
    (
        "select_out_of_range",
        lambda lib: _x(lib, 4, 6).select(0, 5),
        IndexError,
        ["select(): index 5 out of range for tensor of size [4, 6] at dimension 0"],
    ),
    (
        "select_0d",
        lambda lib: _x(lib).select(0, 0),
        IndexError,
        ["select() cannot be applied to a 0-dim tensor."],
    ),
    # ------------------------------------------------------------------ tensor[index]
    (
        "getitem_int_out_of_range",
        lambda lib: _x(lib, 3)[5],
        IndexError,
        ["index 5 is out of bounds for dimension 0 with size 3"],
    ),
    (
        "getitem_negative_out_of_range",
        lambda lib: _x(lib, 2, 3)[0, -4],
        IndexError,
        ["index -4 is out of bounds for dimension 1 with size 3"],
    ),
    (
        "getitem_tensor_out_of_range",
        lambda lib: _x(lib, 3, 2)[_i(lib, 0, 5)],
        IndexError,
        ["index 5 is out of bounds for dimension 0 with size 3"],
    ),
    (
        "getitem_list_out_of_range",
        lambda lib: _x(lib, 3, 2)[:, [0, 2]],
        IndexError,
        ["index 2 is out of bounds for dimension 1 with size 2"],
    ),
    (
        "getitem_float_tensor",
        lambda lib: _x(lib, 3)[lib.tensor([1.0])],
        IndexError,
        ["tensors used as indices must be long, int, byte or bool tensors"],
    ),
    (
        "getitem_float_0d_tensor",
        lambda lib: _x(lib, 3)[lib.tensor(1.0)],
        IndexError,
        ["tensors used as indices must be long, int, byte or bool tensors"],
    ),
    (
        "getitem_python_float",
        lambda lib: _x(lib, 3)[1.5],
        IndexError,
        ["only integers, slices", "float"],
    ),
    (
        "getitem_negative_step",
        lambda lib: _x(lib, 3)[::-1],
        ValueError,
        ["step must be greater than zero"],
    ),
    ("getitem_zero_step", lambda lib: _x(lib, 3)[::0], ValueError, ["slice step cannot be zero"]),
    (
        "getitem_too_many",
        lambda lib: _x(lib, 2, 3)[0, 0, 0],
        IndexError,
        ["too many indices for tensor of dimension 2"],
    ),
    ("getitem_0d_int", lambda lib: _x(lib)[0], IndexError, ["invalid index of a 0-dim tensor"]),
    (
        "getitem_mask_shape",
        lambda lib: _x(lib, 2, 3)[lib.ones(2, 2, dtype=lib.bool)],
        IndexError,
        [
            "The shape of the mask [2, 2] at index 1 does not match the shape of the indexed "
            "tensor [2, 3] at index 1"
        ],
    ),
    (
        "getitem_broadcast_mismatch",
        lambda lib: _x(lib, 3, 4)[_i(lib, 0, 1), _i(lib, 0, 1, 2)],
        IndexError,
        ["shape mismatch: indexing tensors could not be broadcast together", "[2], [3]"],
    ),
    # ------------------------------------------------------------------ index ops
    (
        "index_put_dtype",
        lambda lib: _x(lib, 3).index_put((_i(lib, 0),), lib.ones(1).float()),
        RuntimeError,
        ["index_put", "dtypes match", "Double for the destination", "Float"],
    ),
    (
        "index_put_shape",
        lambda lib: _x(lib, 3, 4).index_put((_i(lib, 0, 1),), _x(lib, 3)),
        RuntimeError,
        ["index_put", "shape mismatch", "[3]", "[2, 4]"],
    ),
    (
        "index_select_2d_index",
        lambda lib: _x(lib, 3).index_select(0, lib.zeros(1, 1).long()),
        IndexError,
        ["index_select(): Index is supposed to be a vector"],
    ),
    (
        "index_select_out_of_range",
        lambda lib: _x(lib, 3).index_select(0, _i(lib, 3)),
        IndexError,
        ["index_select(): index out of range in self"],
    ),
    (
        "gather_out_of_range",
        lambda lib: _x(lib, 3, 4).gather(0, _i(lib, 5).view(1, 1)),
        RuntimeError,
        ["gather", "index 5 is out of bounds for dimension 0 with size 3"],
    ),
    (
        "gather_negative",
        lambda lib: _x(lib, 3, 4).gather(0, _i(lib, -1).view(1, 1)),
        RuntimeError,
        ["gather", "index -1 is out of bounds for dimension 0 with size 3"],
    ),
    (
        "gather_ndim",
        lambda lib: _x(lib, 3, 4).gather(0, _i(lib, 1, 0)),
        RuntimeError,
        ["gather", "same number of dimensions"],
    ),
    (
        "gather_float_index",
        lambda lib: _x(lib, 3, 4).gather(0, lib.zeros(1, 1)),
        RuntimeError,
        ["gather(): Expected dtype int32/int64 for index"],
    ),
    (
        "gather_index_too_large",
        lambda lib: _x(lib, 3, 4).gather(0, lib.zeros(1, 5).long()),
        RuntimeError,
        ["gather", "[1, 5]", "no larger than self [3, 4]"],
    ),
    (
        "scatter_dtype",
        lambda lib: _x(lib, 3).scatter(0, _i(lib, 0), lib.ones(1).float()),
        RuntimeError,
        ["scatter(): Expected self.dtype to be equal to src.dtype"],
    ),
    (
        "scatter_add_out_of_range",
        lambda lib: _x(lib, 3).scatter_add(0, _i(lib, 3), _x(lib, 1)),
        RuntimeError,
        ["scatter_add", "index 3 is out of bounds for dimension 0 with size 3"],
    ),
    (
        "index_add_shape",
        lambda lib: _x(lib, 3, 4).index_add(0, _i(lib, 1, 0), _x(lib, 2, 3)),
        RuntimeError,
        ["source tensor shape must match self tensor shape", "[3, 4]", "[2, 3]"],
    ),
    (
        "index_add_dtype",
        lambda lib: _x(lib, 3).index_add(0, _i(lib, 1), lib.ones(1).float()),
        RuntimeError,
        ["index_add", "same scalar type"],
    ),
    (
        "masked_fill_uint8_mask",
        lambda lib: _x(lib, 3).masked_fill(lib.ones(3).byte(), 1.0),
        RuntimeError,
        ["masked_fill", "only supports boolean masks"],
    ),
    (
        "masked_fill_1d_value",
        lambda lib: _x(lib, 3).masked_fill(lib.ones(3).bool(), lib.ones(1).double()),
        RuntimeError,
        ["masked_fill", "0-dimensional value tensor", "1 dimension(s)"],
    ),
    (
        "take_along_dim_ndim",
        lambda lib: _x(lib, 3, 4).take_along_dim(_i(lib, 0), 0),
        RuntimeError,
        ["take_along_dim", "same number of dimensions", "2", "1"],
    ),
]


@pytest.mark.parametrize(
    ("fn", "exc", "fragments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_error_matches_torch(fn, exc, fragments) -> None:
    with pytest.raises(exc) as t_info:
        fn(torch)
    assert type(t_info.value) is exc or isinstance(t_info.value, exc)
    with pytest.raises(exc) as f_info:
        fn(fluxion)
    message = str(f_info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_view_dtype_is_not_implemented() -> None:
    with pytest.raises(NotImplementedError, match="view"):
        fluxion.zeros(2).view(fluxion.int32)


# ------------------------------------------------------------------------ behaviour beyond the db


def test_cat_grads_come_back_in_each_input_dtype() -> None:
    a = fluxion.ones(2, dtype=fluxion.float32, requires_grad=True)
    b = fluxion.ones(3, dtype=fluxion.float64, requires_grad=True)
    out = fluxion.cat([a, b])
    assert out.dtype is fluxion.float64
    (out * fluxion.arange(5.0, dtype=fluxion.float64)).sum().backward()
    assert a.grad.dtype is fluxion.float32 and b.grad.dtype is fluxion.float64
    assert a.grad.tolist() == [0.0, 1.0] and b.grad.tolist() == [2.0, 3.0, 4.0]


def test_stack_grads_come_back_in_each_input_dtype() -> None:
    a = fluxion.ones(2, dtype=fluxion.float32, requires_grad=True)
    b = fluxion.ones(2, dtype=fluxion.float64, requires_grad=True)
    fluxion.stack([a, b]).sum().backward()
    assert a.grad.dtype is fluxion.float32 and b.grad.dtype is fluxion.float64


def test_split_outputs_share_one_node_and_are_views() -> None:
    x = fluxion.zeros(5, requires_grad=True)
    y = x * 1
    parts = y.split(2)
    assert len({id(p.grad_fn) for p in parts}) == 1
    assert [p._output_nr for p in parts] == [0, 1, 2]
    y.data[0] = 7.0
    assert parts[0].tolist() == [7.0, 0.0]  # shares memory
    parts[2].sum().backward()  # the other outputs contribute zeros
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]


def test_unbind_of_a_long_dim_uses_one_node() -> None:
    x = fluxion.ones(100, 3, requires_grad=True)
    rows = x.unbind()
    fluxion.stack(rows[::2]).sum().backward()
    assert x.grad.sum().item() == 150.0


def test_basic_index_is_a_view_sharing_the_version_counter() -> None:
    x = fluxion.zeros(3, 4)
    v = x[1, 1:]
    v.add_(1)
    assert x._version == v._version == 1
    assert x.sum().item() == 3.0


def test_advanced_index_is_a_copy() -> None:
    x = fluxion.zeros(3, 4)
    v = x[fluxion.tensor([0, 1])]
    v.add_(1)
    assert x.sum().item() == 0.0 and x._version == 0


def test_reshape_copies_only_when_it_must() -> None:
    x = fluxion.zeros(3, 4, requires_grad=True)
    assert x.reshape(4, 3).grad_fn.name() == "ViewBackward0"
    assert x.t().reshape(12).grad_fn.name() == "UnsafeViewBackward0"
    assert x.t().reshape(12)._data.base is None or x.t().reshape(12)._vc is None


def test_repeated_indices_accumulate_gradients() -> None:
    x = fluxion.zeros(3, requires_grad=True)
    x[fluxion.tensor([0, 0, 2, 0])].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]


def test_getitem_matches_torch_layout_for_int_and_separated_array() -> None:
    a = np.arange(24.0).reshape(2, 3, 4)
    f = fluxion.from_numpy(a)[0, :, [1, 3]]
    t = torch.from_numpy(a)[0, :, [1, 3]]
    assert tuple(f.shape) == tuple(t.shape) == (3, 2)
    np.testing.assert_array_equal(f.numpy(), t.numpy())
