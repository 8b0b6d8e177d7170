"""Errors of the reduction and linalg ops: torch's exception type, and a message naming the op
and the shapes. Also the few behaviours an OpSpec cannot express (gradients at ties of
``max(dim)``, the named tuple it returns).
"""

from __future__ import annotations

import numpy as np
import pytest

import fluxion

torch = pytest.importorskip("torch")


def _t(lib, shape, dtype="float32"):
    arr = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape).astype(dtype)
    return lib.from_numpy(arr)


# (id, fn(lib), substrings the fluxion message must contain)
CASES = [
    # ---- matrix products: shapes
    (
        "matmul_2d_2d",
        lambda lib: lib.matmul(_t(lib, (2, 3)), _t(lib, (4, 5))),
        ["matmul", "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"],
    ),
    ("matmul_1d_2d", lambda lib: _t(lib, (3,)) @ _t(lib, (4, 5)), ["matmul", "1x3", "4x5"]),
    ("matmul_2d_1d", lambda lib: _t(lib, (2, 3)) @ _t(lib, (4,)), ["matmul", "2x3", "(4)"]),
    ("matmul_1d_1d", lambda lib: _t(lib, (3,)) @ _t(lib, (4,)), ["matmul", "[3]", "[4]"]),
    (
        "matmul_batched_inner",
        lambda lib: _t(lib, (2, 2, 3)) @ _t(lib, (2, 4, 5)),
        ["matmul", "(2, 2, 3)", "(2, 4, 5)"],
    ),
    (
        "matmul_batch_broadcast",
        lambda lib: _t(lib, (2, 2, 3)) @ _t(lib, (3, 3, 5)),
        ["matmul", "(2, 2, 3)", "(3, 3, 5)", "non-singleton dimension 0"],
    ),
    (
        "matmul_0d",
        lambda lib: lib.matmul(_t(lib, ()), _t(lib, (3,))),
        ["matmul", "at least 1D", "0D and 1D"],
    ),
    (
        "matmul_dtype",
        lambda lib: _t(lib, (3, 3)) @ _t(lib, (3, 3), "float64"),
        ["matmul", "float != double"],
    ),
    (
        "matmul_int_float",
        lambda lib: _t(lib, (3, 3), "int64") @ _t(lib, (3, 3)),
        ["long int != float"],
    ),
    (
        "mm_shapes",
        lambda lib: lib.mm(_t(lib, (2, 3)), _t(lib, (4, 5))),
        ["mm", "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"],
    ),
    ("mm_3d", lambda lib: lib.mm(_t(lib, (2, 3, 4)), _t(lib, (4, 5))), ["mm", "(2, 3, 4)"]),
    ("mm_1d", lambda lib: lib.mm(_t(lib, (3,)), _t(lib, (3, 5))), ["mm", "(3,)"]),
    (
        "mm_dtype",
        lambda lib: lib.mm(_t(lib, (3, 3)), _t(lib, (3, 3), "float64")),
        ["mm", "float != double"],
    ),
    (
        "bmm_shapes",
        lambda lib: lib.bmm(_t(lib, (2, 3, 4)), _t(lib, (2, 5, 6))),
        ["bmm", "[2, 4]", "[2, 5]", "(2, 3, 4)", "(2, 5, 6)"],
    ),
    (
        "bmm_batch",
        lambda lib: lib.bmm(_t(lib, (2, 3, 4)), _t(lib, (3, 4, 6))),
        ["bmm", "(2, 3, 4)", "(3, 4, 6)"],
    ),
    ("bmm_2d", lambda lib: lib.bmm(_t(lib, (3, 4)), _t(lib, (4, 6))), ["bmm", "batch1", "(3, 4)"]),
    (
        "mv_shapes",
        lambda lib: lib.mv(_t(lib, (3, 4)), _t(lib, (5,))),
        ["mv", "size mismatch", "3x4", "(5)"],
    ),
    ("mv_1d", lambda lib: lib.mv(_t(lib, (4,)), _t(lib, (4,))), ["mv", "(4,)"]),
    ("dot_size", lambda lib: lib.dot(_t(lib, (3,)), _t(lib, (4,))), ["dot", "[3]", "[4]"]),
    (
        "dot_2d",
        lambda lib: lib.dot(_t(lib, (3, 1)), _t(lib, (3,))),
        ["dot", "1D tensors expected", "(3, 1)"],
    ),
    (
        "dot_dtype",
        lambda lib: lib.dot(_t(lib, (3,)), _t(lib, (3,), "float64")),
        ["dot", "Float and Double"],
    ),
    ("outer_2d", lambda lib: lib.outer(_t(lib, (3, 1)), _t(lib, (3,))), ["outer", "1-D", "(3, 1)"]),
    (
        "addmm_shapes",
        lambda lib: lib.addmm(_t(lib, (3, 3)), _t(lib, (3, 4)), _t(lib, (5, 3))),
        ["mm", "3x4 and 5x3"],
    ),
    (
        "addmm_input",
        lambda lib: lib.addmm(_t(lib, (4, 3)), _t(lib, (3, 4)), _t(lib, (4, 3))),
        ["addmm", "(4, 3)", "(3, 3)"],
    ),
    (
        "einsum_sizes",
        lambda lib: lib.einsum("ij,jk->ik", _t(lib, (2, 3)), _t(lib, (4, 5))),
        ["einsum", "subscript j has size 4", "size 3"],
    ),
    (
        "einsum_operands",
        lambda lib: lib.einsum("ij,jk->ik", _t(lib, (2, 3))),
        ["einsum", "fewer operands"],
    ),
    ("einsum_rank", lambda lib: lib.einsum("ijk->i", _t(lib, (2, 3))), ["einsum", "(3)", "(2)"]),
    # ---- reductions: dims
    (
        "sum_dim_range",
        lambda lib: _t(lib, (2, 3)).sum(5),
        ["Dimension out of range", "[-2, 1]", "5"],
    ),
    ("sum_dims_range", lambda lib: _t(lib, (2, 3)).sum((0, -3)), ["sum", "[-2, 1]", "-3"]),
    ("sum_0d_dim_range", lambda lib: _t(lib, ()).sum(1), ["sum", "[-1, 0]", "1"]),
    ("sum_dup_dims", lambda lib: _t(lib, (2, 3)).sum((0, 0)), ["sum", "multiple times"]),
    ("mean_dim_range", lambda lib: _t(lib, (2, 3)).mean(2), ["mean", "[-2, 1]"]),
    ("prod_dim_range", lambda lib: _t(lib, (2, 3)).prod(-3), ["prod", "[-2, 1]"]),
    ("max_dim_range", lambda lib: _t(lib, (2, 3)).max(5), ["max", "[-2, 1]"]),
    ("min_dim_range", lambda lib: _t(lib, (2, 3)).min(-4), ["min", "[-2, 1]"]),
    ("amax_dim_range", lambda lib: _t(lib, (2, 3)).amax((0, 2)), ["amax", "[-2, 1]"]),
    ("amax_dup_dims", lambda lib: _t(lib, (2, 3)).amax((0, 0)), ["amax", "multiple times"]),
    ("argmax_dim_range", lambda lib: _t(lib, (2, 3)).argmax(2), ["argmax", "[-2, 1]"]),
    ("var_dim_range", lambda lib: _t(lib, (2, 3)).var(3), ["var", "[-2, 1]"]),
    ("std_dim_range", lambda lib: _t(lib, (2, 3)).std(3), ["std", "[-2, 1]"]),
    ("logsumexp_dim_range", lambda lib: _t(lib, (2, 3)).logsumexp(2), ["logsumexp", "[-2, 1]"]),
    ("norm_dim_range", lambda lib: _t(lib, (2, 3)).norm(dim=2), ["norm", "[-2, 1]"]),
    ("cumsum_dim_range", lambda lib: _t(lib, (2, 3)).cumsum(2), ["cumsum", "[-2, 1]"]),
    ("cumprod_dim_range", lambda lib: _t(lib, (2, 3)).cumprod(-3), ["cumprod", "[-2, 1]"]),
    ("softmax_dim_range", lambda lib: _t(lib, (2, 3)).softmax(2), ["softmax", "[-2, 1]"]),
    ("log_softmax_0d_dim", lambda lib: _t(lib, ()).log_softmax(1), ["log_softmax", "[-1, 0]"]),
    ("all_dim_range", lambda lib: _t(lib, (2, 3)).all(2), ["all", "[-2, 1]"]),
    ("any_dim_range", lambda lib: _t(lib, (2, 3)).any(-3), ["any", "[-2, 1]"]),
    (
        "count_nonzero_dim_range",
        lambda lib: lib.count_nonzero(_t(lib, (2, 3)), 2),
        ["count_nonzero", "[-2, 1]"],
    ),
    # ---- reductions: empty inputs and dtypes
    ("max_empty", lambda lib: _t(lib, (0, 3)).max(), ["max", "numel() == 0", "dim"]),
    ("min_dim_empty", lambda lib: _t(lib, (0, 3)).min(0), ["min", "reduction dim 0"]),
    ("amax_empty", lambda lib: _t(lib, (0, 3)).amax(), ["amax", "numel() == 0"]),
    ("amin_dim_empty", lambda lib: _t(lib, (0, 3)).amin(0), ["amin", "reduction dim 0"]),
    ("argmax_empty", lambda lib: _t(lib, (0, 3)).argmax(), ["argmax", "numel() == 0"]),
    ("argmin_dim_empty", lambda lib: _t(lib, (0, 3)).argmin(0), ["argmin", "reduction dim 0"]),
    ("argmax_bool", lambda lib: _t(lib, (3,), "bool").argmax(), ["argmax", "bool"]),
    (
        "norm_inf_empty",
        lambda lib: _t(lib, (0, 3)).norm(float("inf"), dim=0),
        ["vector_norm", "inf", "dimension 0"],
    ),
    ("mean_int", lambda lib: _t(lib, (3,), "int64").mean(), ["mean", "Long"]),
    ("var_int", lambda lib: _t(lib, (3,), "int64").var(), ["std and var", "Long"]),
    ("norm_int", lambda lib: _t(lib, (3,), "int64").norm(), ["vector_norm", "Long"]),
    ("softmax_int", lambda lib: _t(lib, (3,), "int64").softmax(0), ["softmax", "Long"]),
    ("prod_tuple_dim", lambda lib: _t(lib, (2, 3)).prod((0, 1)), ["prod", "dim", "tuple"]),
    (
        "matmul_bool",
        lambda lib: _t(lib, (2, 2), "bool") @ _t(lib, (2, 2), "bool"),
        ["matmul", "Bool"],
    ),
]


def _raised(fn, lib):
    try:
        fn(lib)
    except Exception as exc:  # noqa: BLE001 - comparing which exception each library raises
        return exc
    return None


@pytest.mark.parametrize(("fn", "needles"), [pytest.param(f, n, id=i) for i, f, n in CASES])
def test_errors_match_torch_type_and_name_op_and_shapes(fn, needles):
    expected = _raised(fn, torch)
    assert expected is not None, "torch accepts this call: the case is wrong"
    got = _raised(fn, fluxion)
    assert got is not None, f"fluxion accepted a call torch rejects with {expected!r}"
    assert type(got) is type(expected), f"fluxion raised {got!r}, torch raised {expected!r}"
    for needle in needles:
        assert needle in str(got), f"{needle!r} not in fluxion's message: {got}"


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_dim_ties_send_gradient_to_returned_index(op):
    data = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    grads = []
    for lib in (fluxion, torch):
        x = lib.from_numpy(data.copy()).requires_grad_(True)
        out = getattr(x, op)(1)
        out.values.backward(lib.from_numpy(np.array([1.0, 2.0, 3.0])))
        grads.append((out.indices.numpy().copy(), x.grad.numpy().copy()))
    np.testing.assert_array_equal(grads[0][0], grads[1][0])
    np.testing.assert_array_equal(grads[0][1], grads[1][1])


def test_max_dim_returns_named_tuple_with_values_and_indices():
    x = fluxion.tensor([[1.0, 5.0], [7.0, 3.0]])
    values, indices = x.max(1, keepdim=True)
    out = fluxion.max(x, dim=1, keepdim=True)
    assert out.values.shape == (2, 1) and out.indices.tolist() == [[1], [0]]
    assert values.tolist() == [[5.0], [7.0]] and indices.tolist() == [[1], [0]]
    assert repr(out).startswith("fluxion.return_types.max(\nvalues=")


@pytest.mark.parametrize(
    ("op", "data"),
    [
        ("prod", [[0.0, 2.0, 3.0], [0.0, 0.0, 1.0], [1.0, 2.0, 3.0]]),
        ("cumprod", [[0.0, 2.0, 3.0], [2.0, 0.0, 0.0], [1.0, 2.0, 0.0]]),
    ],
)
def test_zero_gradients_of_products_match_torch_with_create_graph(op, data):
    """Zeros in prod/cumprod: the first-order gradient (built with create_graph) is exact."""
    data = np.array(data)
    grads = []
    for lib in (fluxion, torch):
        x = lib.from_numpy(data.copy()).requires_grad_(True)
        (g,) = lib.autograd.grad(getattr(x, op)(1).sum(), x, create_graph=True)
        grads.append(g.detach().numpy().copy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12, atol=1e-12)
