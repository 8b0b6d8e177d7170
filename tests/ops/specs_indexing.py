"""OpSpecs for the indexing family (``fluxion/ops/indexing.py``).

Index arrays are int64 (or bool) NumPy arrays built by ``make_inputs``; the harness turns them
into plain (non-differentiable) tensors. Samples repeat indices on purpose, so that gradients
must accumulate, and include negative indices, empty index tensors and broadcasting masks.
Scatter with repeated positions is not deterministic in PyTorch, so its samples use distinct
positions (scatter_add and index_put(accumulate=True) do repeat them).
"""

from __future__ import annotations

import numpy as np

from .op_db import OpSpec, register

FLOATS = ("float64", "float32")
WITH_INT = ("float64", "float32", "int64")


def spec(name, fn, make=None, shapes=None, **kw):
    register(OpSpec(name, fn, shapes=shapes or [], make_inputs=make, **kw))


def idx(*values):
    return np.asarray(values, dtype=np.int64)


def inputs(*samples):
    """``make_inputs`` from samples of (shape or array) items: shapes become random floats."""

    def make(rng, dt):
        out = []
        for sample in samples:
            out.append(
                [
                    rng.uniform(-2, 2, size=a).astype(dt) if isinstance(a, tuple) else a
                    for a in sample
                ]
            )
        return out

    return make


def basic(name, fn, shapes, **kw):
    spec(name, fn, shapes=shapes, dtypes=kw.pop("dtypes", WITH_INT), **kw)


# ------------------------------------------------------------------------ basic indexing (views)

basic("getitem_int", lambda lib, x: x[1], [((3, 4),), ((3,),)])
basic("getitem_neg_int", lambda lib, x: x[-1], [((3, 4),), ((2, 3, 2),)])
basic("getitem_ints", lambda lib, x: x[1, -2], [((3, 4),), ((2, 3, 4),)])
basic("getitem_slice", lambda lib, x: x[1:3], [((4, 3),), ((5,),), ((0, 2),)])
basic("getitem_slice_step", lambda lib, x: x[::2], [((5, 3),), ((4,),)])
basic("getitem_slice_clamped", lambda lib, x: x[-10:10], [((4, 3),)])
basic("getitem_full_slice", lambda lib, x: x[:], [((4, 3),)])
basic("getitem_slices", lambda lib, x: x[:, 1:], [((3, 4),), ((2, 3, 4),)])
basic("getitem_slice_then_int", lambda lib, x: x[1:, 2], [((3, 4),)])
basic("getitem_int_then_slice", lambda lib, x: x[2, 1::2], [((3, 4),)])
basic("getitem_ellipsis_int", lambda lib, x: x[..., 0], [((3, 4),), ((2, 3, 4),), ((2,),)])
basic("getitem_ellipsis", lambda lib, x: x[...], [((3, 4),), ((),)])
basic("getitem_empty_tuple", lambda lib, x: x[()], [((3, 4),), ((),)])
basic("getitem_none", lambda lib, x: x[None], [((3, 4),), ((),)])
basic("getitem_none_mixed", lambda lib, x: x[:, None, 1], [((3, 4),)])
basic("getitem_none_ellipsis", lambda lib, x: x[None, ..., None, 0], [((2, 3, 4),)])
basic("getitem_0d_tensor_int", lambda lib, x, i: x[i], [], make=inputs([(3, 4), idx(2)[()]]))

# ------------------------------------------------------------------------ advanced indexing

spec(
    "getitem_index",
    lambda lib, x, i: x[i],
    inputs(
        [(5, 3), idx(0, 2, 2, -1)],  # repeated and negative indices: gradients accumulate
        [(5,), idx(4, 4, 4)],
        [(5, 3), idx(3)],
        [(5, 3), np.zeros(0, dtype=np.int64)],
        [(3, 4), idx([0, 1], [2, 2])],  # a 2-D index
    ),
    dtypes=WITH_INT,
)
spec("getitem_list", lambda lib, x: x[[0, 2, 0]], shapes=[((3, 4),), ((3,),)])
spec(
    "getitem_two_indices",
    lambda lib, x, i, j: x[i, j],
    inputs(
        [(3, 4), idx(0, 2, 0), idx(1, 3, 1)],
        [(3, 4), idx([0], [2]), idx(1, 3)],  # broadcast (2, 1) with (2,)
    ),
)
spec(
    "getitem_slice_index",
    lambda lib, x, i: x[1:, i],
    inputs([(3, 4), idx(3, 0, 3)], [(3, 4, 2), idx([0, 1])]),
)
spec(
    "getitem_index_slice_index",
    lambda lib, x, i, j: x[i, :, j],
    inputs(
        [(3, 2, 4), idx(0, 2), idx(3, 3)]  # separated arrays: the index dims go first
    ),
)
# PyTorch applies int indices first: x[0, :, i] is x[0][:, i] (NumPy would put i's dim first)
spec("getitem_int_slice_index", lambda lib, x, i: x[0, :, i], inputs([(2, 3, 4), idx(1, 3, 1)]))
spec("getitem_index_slice_int", lambda lib, x, i: x[i, :, -1], inputs([(2, 3, 4), idx(1, 0)]))
spec(
    "getitem_slice_int_slice_index",
    lambda lib, x, i: x[:, 1, :, i],
    inputs([(2, 3, 2, 4), idx([1, 3], [0, 0])]),
)
spec("getitem_none_index", lambda lib, x, i: x[None, i], inputs([(3, 4), idx(2, 0)]))
spec("getitem_ellipsis_index", lambda lib, x, i: x[..., i], inputs([(2, 3, 4), idx(3, -4)]))
spec(
    "getitem_mask",
    lambda lib, x, m: x[m],
    inputs(
        [(3, 4), np.array([True, False, True])],
        [(3, 4), np.array([[True, False, True, True], [False] * 4, [True] * 4])],
        [(3,), np.zeros(3, dtype=bool)],
        [(), np.array(True)],
    ),
    dtypes=WITH_INT,
)
spec(
    "getitem_mask_cols",
    lambda lib, x, m: x[:, m],
    inputs([(3, 4), np.array([True, False, True, False])]),
)
spec(
    "getitem_mask_and_index",
    lambda lib, x, m, i: x[m, i],
    inputs([(3, 4), np.array([True, False, True]), idx(1, 3)]),
)
spec("getitem_mask_from_values", lambda lib, x: x[x > 0], shapes=[((3, 4),), ((5,),)])
spec("getitem_true", lambda lib, x: x[True], shapes=[((3,),), ((),)])
spec("getitem_int_true", lambda lib, x: x[1, True], shapes=[((3, 4),)])
spec("getitem_false", lambda lib, x: x[False], shapes=[((3,),)])
spec("getitem_chain", lambda lib, x, i: x[1:][i][:, 0], inputs([(4, 3), idx(0, 0, 2)]))

# ------------------------------------------------------------------------ index_put

spec(
    "index_put",
    lambda lib, x, i, v: x.index_put((i,), v),
    inputs(
        [(5, 3), idx(0, 3, -1), (3, 3)],
        [(5, 3), idx(1, 2), (3,)],  # values broadcast: their gradient is summed
        [(5,), idx(2), ()],
    ),
)
spec(
    "index_put_accumulate",
    lambda lib, x, i, v: lib.index_put(x, (i,), v, accumulate=True),
    inputs([(5, 3), idx(0, 3, 0, 0), (4, 3)], [(4,), idx(1, 1), ()]),
)
spec(
    "index_put_two",
    lambda lib, x, i, j, v: x.index_put((i, j), v),
    inputs([(3, 4), idx(0, 2), idx(3, 1), (2,)]),
)
spec(
    "index_put_mask",
    lambda lib, x, m, v: x.index_put((m,), v),
    inputs([(3, 4), np.array([[True, False, True, True], [False] * 4, [True] * 4]), ()]),
)
spec(
    "index_put_only_values",
    lambda lib, x, i, v: x.index_put((i,), v),
    inputs([(5, 3), idx(4, 1), (2, 3)]),
    diff_args=(2,),
)

# ------------------------------------------------------------------------ index_select, gather

spec(
    "index_select",
    lambda lib, x, i: x.index_select(0, i),
    inputs(
        [(4, 3), idx(3, 0, 3)],
        [(4,), idx(1, 1)],
        [(4, 3), np.zeros(0, dtype=np.int64)],
        [(4, 3), idx(2)[()]],  # a 0-d index keeps the dimension (size 1)
    ),
    dtypes=WITH_INT,
)
spec(
    "index_select_neg_dim",
    lambda lib, x, i: lib.index_select(x, -1, i),
    inputs([(2, 3, 4), idx(0, 3, 0, 0)]),
)
spec(
    "gather",
    lambda lib, x, i: x.gather(1, i),
    inputs(
        [(3, 4), idx([0, 0, 3], [1, 2, 1], [3, 3, 3])],
        [(3, 4), idx([1], [0])],  # index smaller than the input
    ),
    dtypes=WITH_INT,
)
spec("gather_1d", lambda lib, x, i: x.gather(0, i), inputs([(4,), idx(3, 0, 0, 3, 2)]))
spec(
    "gather_dim0",
    lambda lib, x, i: lib.gather(x, 0, i),
    inputs([(3, 4), idx([0, 2, 2, 1], [2, 2, 0, 0])]),
)
spec(
    "gather_neg_dim",
    lambda lib, x, i: x.gather(-1, i),
    inputs([(2, 2, 3), np.ones((2, 2, 2), np.int64)]),
)
spec(
    "take_along_dim",
    lambda lib, x, i: x.take_along_dim(i, 1),
    inputs(
        [(3, 4), idx([0, 3], [1, 1], [2, 0])],
        [(3, 4), idx([0])],  # broadcast against the input
        [(3, 1), idx([0, 0, 0])],
    ),
)
spec(
    "take_along_dim_flat",
    lambda lib, x, i: lib.take_along_dim(x, i),
    inputs([(3, 4), idx(0, 11, 5, 5)], [(3, 4), idx([1, 2], [3, 4])]),
    noncontig=False,  # torch views the indices as 1-D, which fails for non-contiguous ones
)
spec(
    "take_along_dim_argmax",
    lambda lib, x: x.take_along_dim(x.argmax(-1, keepdim=True), -1),
    shapes=[((3, 4),)],
)

# ------------------------------------------------------------------------ scatter family

spec(
    "scatter",
    lambda lib, x, i, s: x.scatter(1, i, s),
    inputs(
        [(3, 4), idx([0, 3], [2, 1], [1, 0]), (3, 2)],
        [(3, 4), idx([1]), (1, 1)],
    ),
)
spec(
    "scatter_dim0",
    lambda lib, x, i, s: lib.scatter(x, 0, i, s),
    inputs([(3, 4), idx([2, 0, 1, 1], [0, 1, 0, 2]), (2, 4)]),
)
spec(
    "scatter_value",
    lambda lib, x, i: x.scatter(1, i, 2.5),
    inputs([(3, 4), idx([0, 3, 3], [1, 1, 1], [2, 0, 2])]),
    dtypes=WITH_INT,
)
spec(
    "scatter_value_kw",
    lambda lib, x, i: lib.scatter(x, -1, i, value=-1.0),
    inputs([(3, 4), idx([0], [1], [2])]),
)
spec(
    "scatter_add",
    lambda lib, x, i, s: x.scatter_add(1, i, s),
    inputs(
        [(3, 4), idx([0, 0, 3], [1, 1, 1], [2, 0, 2]), (3, 3)],
    ),
    dtypes=WITH_INT,
)
spec(
    "scatter_add_1d",
    lambda lib, x, i, s: x.scatter_add(0, i, s),
    inputs([(5,), idx(4, 4, 0), (3,)]),
)
spec(
    "scatter_add_dim0",
    lambda lib, x, i, s: lib.scatter_add(x, 0, i, s),
    inputs([(3, 2), idx([2, 0], [2, 0], [1, 1]), (3, 2)]),
)
spec(
    "index_add",
    lambda lib, x, i, s: x.index_add(0, i, s),
    inputs([(4, 3), idx(0, 3, 0), (3, 3)], [(4,), idx(1, 1, 1), (3,)]),
    dtypes=WITH_INT,
)
spec(
    "index_add_alpha_neg_dim",
    lambda lib, x, i, s: lib.index_add(x, -1, i, s, alpha=2.0),
    inputs([(2, 4), idx(3, 3), (2, 2)]),
)
spec(
    "index_fill",
    lambda lib, x, i: x.index_fill(1, i, -1.5),
    inputs([(3, 4), idx(0, 3, 3)], [(3, 4), idx(-1)]),
    dtypes=WITH_INT,
)
spec(
    "index_fill_tensor", lambda lib, x, i, v: x.index_fill(0, i, v), inputs([(3, 4), idx(2, 0), ()])
)

# ------------------------------------------------------------------------ masks

spec(
    "masked_fill",
    lambda lib, x, m: x.masked_fill(m, 0.5),
    inputs(
        [(3, 4), np.array([[True, False, True, False]] * 2 + [[False] * 4])],
        [(3, 4), np.array([True, False, False, True])],  # the mask broadcasts
        [
            (4,),
            np.array([[True, False, True, False], [False, True, False, False]]),
        ],  # so does input
        [(), np.array(True)],
    ),
    dtypes=WITH_INT,
)
spec(
    "masked_fill_tensor",
    lambda lib, x, m, v: lib.masked_fill(x, m, v),
    inputs(
        [(3, 4), np.array([True, False, False, True]), ()],
        [(3,), np.zeros(3, dtype=bool), ()],
    ),
)
spec("masked_fill_from_values", lambda lib, x: x.masked_fill(x < 0, 0.0), shapes=[((3, 4),)])
spec(
    "masked_select",
    lambda lib, x, m: x.masked_select(m),
    inputs(
        [(3, 4), np.array([[True, False, True, False]] * 2 + [[False] * 4])],
        [(3, 4), np.array([True, False, False, True])],
        [(4,), np.array([[True, False, True, False], [False, True, False, False]])],
    ),
    dtypes=WITH_INT,
)
spec("masked_select_fn", lambda lib, x: lib.masked_select(x, x > 0), shapes=[((3, 4),)])

# ------------------------------------------------------------------------ nonzero

spec(
    "nonzero",
    lambda lib, x: x.nonzero(),
    inputs([np.array([[0.0, 1.5], [2.0, 0.0]])], [np.array([0.0, 0.0])], [np.array(3.0)]),
    grad=False,
)
spec(
    "nonzero_as_tuple",
    lambda lib, x: lib.nonzero(x, as_tuple=True),
    inputs([np.array([[0.0, 1.5], [2.0, 0.0]])], [np.array(0.0)], [np.array(1.0)]),
    grad=False,
)
