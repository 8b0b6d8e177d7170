"""OpSpecs for the shape family (``fluxion/ops/shape.py``).

Views, copies, concatenation and splitting, with negative dims, 0-d and empty inputs;
``test_op_db`` reruns every sample with non-contiguous inputs. Multi-output ops (split, chunk,
unbind) are checked twice: as the tuple (the gradient flows through the first output only, so
the others contribute zeros) and recombined with different weights (every output gets a
gradient through the one shared node).
"""

from __future__ import annotations

import numpy as np

from .op_db import OpSpec, register

FLOATS = ("float64", "float32")
WITH_INT = ("float64", "float32", "int64")


def spec(name, fn, shapes, **kw):
    register(OpSpec(name, fn, shapes=shapes, **kw))


def mixed(*dtypes_and_shapes):
    """``make_inputs`` with one array per (numpy dtype or None for the spec's dtype, shape)."""

    def make(rng, dt):
        return [[rng.uniform(-2, 2, size=s).astype(d or dt) for d, s in dtypes_and_shapes]]

    return make


def weighted(lib, parts):
    """Recombine the outputs of a multi-output op so that each one gets its own gradient."""
    return lib.cat([p.reshape(-1) * (i + 1) for i, p in enumerate(parts)])


# ------------------------------------------------------------------------ reshape and views

spec("clone", lambda lib, x: x.clone(), [((),), ((3, 4),), ((0, 2),)], dtypes=WITH_INT)
spec("clone_fn", lambda lib, x: lib.clone(x.t()), [((3, 4),)])
spec("reshape", lambda lib, x: x.reshape(-1, 2), [((3, 4),), ((2, 3, 2),), ((0, 2),)])
spec("reshape_fn_0d", lambda lib, x: lib.reshape(x, (1, 1)), [((),)], dtypes=WITH_INT)
spec("reshape_to_0d", lambda lib, x: x.reshape(()), [((1,),), ((1, 1),)])
spec("reshape_empty", lambda lib, x: x.reshape(3, 0), [((0, 3),)])
# a transposed input cannot be viewed as 1-D: reshape copies (UnsafeViewBackward0)
spec("reshape_copy", lambda lib, x: x.t().reshape(-1), [((3, 4),)])
spec("reshape_transposed_view", lambda lib, x: x.t().reshape(4, 1, 3), [((3, 4),)])
# torch cannot view the non-contiguous twins either
spec("view", lambda lib, x: x.view(4, 3), [((3, 4),), ((2, 6),)], dtypes=WITH_INT, noncontig=False)
spec("view_infer", lambda lib, x: x.view(-1), [((3, 4),), ((),), ((2, 0),)], noncontig=False)
spec("view_split_dim_of_transposed", lambda lib, x: x.t().view(2, 2, 3), [((3, 4),)])
spec("view_as", lambda lib, x, y: x.view_as(y), [((3, 4), (2, 6))], diff_args=(0,), noncontig=False)
spec("reshape_as", lambda lib, x, y: x.reshape_as(y), [((3, 4), (6, 2))], diff_args=(0,))
spec("expand", lambda lib, x: x.expand(3, 4), [((3, 1),), ((4,),), ((1, 1),), ((),)])
spec("expand_minus_one", lambda lib, x: x.expand(2, -1, 4), [((3, 1),), ((3, 4),)])
spec("expand_empty", lambda lib, x: x.expand(0, 3), [((1, 3),)])
spec("expand_as", lambda lib, x, y: x.expand_as(y), [((1, 4), (3, 4))], diff_args=(0,))
spec("broadcast_to", lambda lib, x: x.broadcast_to((2, 3, 4)), [((3, 1),)])
spec("unsqueeze", lambda lib, x: x.unsqueeze(0), [((),), ((3,),), ((2, 3),)])
spec("unsqueeze_neg", lambda lib, x: lib.unsqueeze(x, -1), [((),), ((2, 3),), ((0, 2),)])
spec("unsqueeze_middle", lambda lib, x: x.unsqueeze(-2), [((2, 3),)])
spec("squeeze", lambda lib, x: x.squeeze(), [((1, 3, 1),), ((),), ((1,),), ((1, 0),)])
spec("squeeze_dim", lambda lib, x: x.squeeze(0), [((1, 3),), ((2, 3),), ((),)])
spec("squeeze_neg_dim", lambda lib, x: lib.squeeze(x, -1), [((3, 1),), ((3, 2),)])
spec("squeeze_dims", lambda lib, x: x.squeeze((0, -1)), [((1, 3, 1),), ((1, 3, 2),)])
spec("transpose", lambda lib, x: x.transpose(0, -1), [((2, 3, 4),), ((3, 4),), ((),)])
spec("transpose_fn", lambda lib, x: lib.transpose(x, 1, 0), [((3, 4),), ((0, 2),)])
spec("swapaxes", lambda lib, x: lib.swapaxes(x, 0, 1), [((2, 3, 4),)])
spec("swapdims", lambda lib, x: x.swapdims(-1, -2), [((2, 3, 4),)])
spec("permute", lambda lib, x: x.permute(2, 0, 1), [((2, 3, 4),), ((2, 0, 3),)])
spec("permute_neg", lambda lib, x: lib.permute(x, (-1, 0, -2)), [((2, 3, 4),)])
spec("permute_0d", lambda lib, x: x.permute(()), [((),)])
spec("t", lambda lib, x: x.t(), [((3, 4),), ((3,),), ((),)])
spec("t_fn", lambda lib, x: lib.t(x), [((2, 5),)])
spec("T", lambda lib, x: x.T, [((2, 3, 4),)])
spec("mT", lambda lib, x: x.mT, [((2, 3, 4),)])
spec("flatten", lambda lib, x: x.flatten(), [((2, 3, 4),), ((),), ((2, 0),)])
spec("flatten_fn_range", lambda lib, x: lib.flatten(x, 1, -1), [((2, 3, 4),), ((2, 3, 4, 1),)])
spec("flatten_neg", lambda lib, x: x.flatten(-3, -2), [((2, 3, 4),)])
spec("unflatten", lambda lib, x: x.unflatten(1, (3, -1)), [((2, 6),), ((2, 6, 2),)])
spec("unflatten_neg", lambda lib, x: lib.unflatten(x, -1, (2, 2)), [((3, 4),)])
spec("movedim", lambda lib, x: x.movedim(0, -1), [((2, 3, 4),), ((3,),)])
spec("movedim_tuple", lambda lib, x: lib.movedim(x, (0, 1), (2, 0)), [((2, 3, 4),)])
spec("moveaxis", lambda lib, x: lib.moveaxis(x, -1, 0), [((2, 3, 4),)])

# ------------------------------------------------------------------------ copies

spec("repeat", lambda lib, x: x.repeat(2, 3), [((2, 3),), ((1, 4),), ((0, 2),)], dtypes=WITH_INT)
spec("repeat_new_dims", lambda lib, x: x.repeat(2, 1, 3), [((3,),), ((),), ((2, 2),)])
spec("repeat_zero", lambda lib, x: x.repeat(0, 2), [((2, 3),)])
spec("tile", lambda lib, x: x.tile((2,)), [((2, 3),), ((3,),)])
spec("tile_fn_long", lambda lib, x: lib.tile(x, (2, 1, 2)), [((2, 3),), ((),)])
spec("flip", lambda lib, x: x.flip(0), [((4,),), ((3, 4),), ((0, 2),)], dtypes=WITH_INT)
spec("flip_dims", lambda lib, x: lib.flip(x, (0, -1)), [((2, 3, 4),)])
spec("flip_0d", lambda lib, x: x.flip(()), [((),), ((3,),)])
spec("roll", lambda lib, x: x.roll(2), [((5,),), ((3, 4),), ((),), ((0,),)])
spec("roll_dim", lambda lib, x: lib.roll(x, -1, 1), [((3, 4),), ((2, 3, 4),)])
spec("roll_dims", lambda lib, x: x.roll((1, -2), (0, -1)), [((3, 4),), ((2, 3, 4),)])

# ------------------------------------------------------------------------ cat and stack

spec("cat", lambda lib, x, y: lib.cat([x, y]), [((2, 3), (4, 3)), ((2,), (3,)), ((0, 3), (2, 3))])
spec("cat_dim", lambda lib, x, y, z: lib.cat((x, y, z), -1), [((2, 1), (2, 3), (2, 0))])
spec("cat_dim_kw", lambda lib, x, y: lib.cat([x, y], dim=1), [((2, 3, 1), (2, 2, 1))])
spec("cat_one", lambda lib, x: lib.cat([x]), [((2, 3),)])
spec("cat_int", lambda lib, x, y: lib.cat([x, y]), [((2, 3), (1, 3))], dtypes=("int64",))
# legacy: 1-D empty tensors are skipped whatever the rank of the others
spec("cat_legacy_empty", lambda lib, x, y: lib.cat([x, y], 1), [((0,), (2, 3))])
# the float32 input is not differentiated: finite differences in float32 are too coarse (the
# cast of its gradient back to float32 is checked in test_shape_indexing_errors.py)
spec(
    "cat_promote",
    lambda lib, x, y: lib.cat([x, y]),
    [],
    dtypes=("float64",),
    diff_args=(1,),
    make_inputs=mixed((np.float32, (2, 3)), (None, (1, 3))),
)
spec(
    "cat_int_float",
    lambda lib, x, y: lib.cat([x, y]),
    [],
    dtypes=("float64",),
    make_inputs=lambda rng, dt: [[rng.integers(-3, 3, (2, 3)), rng.uniform(-2, 2, (1, 3))]],
)
spec("cat_same_tensor_twice", lambda lib, x: lib.cat([x, x * 2, x]), [((2, 3),)])
spec("concat", lambda lib, x, y: lib.concat([x, y], 1), [((2, 3), (2, 1))])
spec("concatenate", lambda lib, x, y: lib.concatenate([x, y]), [((2, 3), (2, 3))])
spec("stack", lambda lib, x, y: lib.stack([x, y]), [((2, 3), (2, 3)), ((), ()), ((0,), (0,))])
spec("stack_dim", lambda lib, x, y, z: lib.stack((x, y, z), -1), [((2, 3),) * 3, ((4,),) * 3])
spec("stack_dim1", lambda lib, x, y: lib.stack([x, y], dim=1), [((2, 3), (2, 3))])
spec(
    "stack_promote",
    lambda lib, x, y: lib.stack([x, y]),
    [],
    dtypes=("float64",),
    make_inputs=mixed((None, (2, 3)), (np.float32, (2, 3))),
    diff_args=(0,),
)
spec("hstack", lambda lib, x, y: lib.hstack([x, y]), [((2,), (3,)), ((2, 1), (2, 3)), ((), ())])
spec("vstack", lambda lib, x, y: lib.vstack([x, y]), [((3,), (3,)), ((1, 3), (2, 3)), ((), ())])
spec("dstack", lambda lib, x, y: lib.dstack([x, y]), [((3,), (3,)), ((2, 3), (2, 3))])
spec("column_stack", lambda lib, x, y: lib.column_stack([x, y]), [((3,), (3, 2)), ((), ())])

# ------------------------------------------------------------------------ split, chunk, unbind

spec("split", lambda lib, x: x.split(2), [((5, 3),), ((4,),), ((0, 2),)])
spec("split_fn_dim", lambda lib, x: lib.split(x, 3, -1), [((2, 7),), ((2, 3),)])
spec("split_sizes", lambda lib, x: x.split([1, 0, 3], 1), [((2, 4),), ((3, 4, 2),)])
spec("split_all", lambda lib, x: weighted(lib, x.split(2)), [((5, 3),)])
spec("split_sizes_all", lambda lib, x: weighted(lib, x.split([3, 1], -1)), [((2, 4),)])
spec("split_last_used", lambda lib, x: x.split(2)[-1] * 3, [((5, 2),)])
spec("chunk", lambda lib, x: x.chunk(3), [((5, 2),), ((6,),), ((2, 2),)])
spec("chunk_fn_dim", lambda lib, x: lib.chunk(x, 2, -1), [((3, 5),)])
spec("chunk_all", lambda lib, x: weighted(lib, x.chunk(3, 1)), [((2, 7),)])
spec("unbind", lambda lib, x: x.unbind(), [((3, 2),), ((2,),)])
spec("unbind_fn_dim", lambda lib, x: lib.unbind(x, -1), [((3, 2, 4),)])
spec("unbind_all", lambda lib, x: weighted(lib, x.unbind(1)), [((3, 4),), ((2, 3, 2),)])
spec("tensor_split", lambda lib, x: x.tensor_split(3), [((7, 2),), ((2,),)])
spec("tensor_split_indices", lambda lib, x: lib.tensor_split(x, [1, 4], 1), [((2, 6),)])
spec("tensor_split_all", lambda lib, x: weighted(lib, x.tensor_split(2)), [((5,),)])

# ------------------------------------------------------------------------ narrow, select

spec("narrow", lambda lib, x: x.narrow(0, 1, 2), [((4, 3),), ((3,),)], dtypes=WITH_INT)
spec("narrow_fn_neg", lambda lib, x: lib.narrow(x, -1, -3, 2), [((2, 4),), ((2, 3, 5),)])
spec("narrow_empty", lambda lib, x: x.narrow(1, 2, 0), [((3, 4),)])
spec("select", lambda lib, x: x.select(0, 1), [((3, 4),), ((2,),)], dtypes=WITH_INT)
spec("select_fn_neg", lambda lib, x: lib.select(x, -1, -2), [((3, 4),), ((2, 3, 4),)])
spec("select_chain", lambda lib, x: x.select(1, 0).select(0, 2), [((3, 2),)])

# ------------------------------------------------------------------------ triangles, diagonals

spec("tril", lambda lib, x: x.tril(), [((4, 5),), ((2, 3, 3),), ((0, 3),)], dtypes=WITH_INT)
spec("tril_offset", lambda lib, x: lib.tril(x, -1), [((4, 5),)])
spec("tril_offset_pos", lambda lib, x: x.tril(2), [((3, 3),)])
spec("triu", lambda lib, x: x.triu(), [((4, 5),), ((2, 3, 3),)], dtypes=WITH_INT)
spec("triu_offset", lambda lib, x: lib.triu(x, 1), [((4, 5),), ((3, 2),)])
spec("diagonal", lambda lib, x: x.diagonal(), [((3, 4),), ((4, 3),), ((0, 2),)], dtypes=WITH_INT)
spec("diagonal_offset", lambda lib, x: lib.diagonal(x, 1), [((3, 4),), ((4, 3),)])
spec("diagonal_neg_offset", lambda lib, x: x.diagonal(-2), [((3, 4),)])
spec("diagonal_out_of_range", lambda lib, x: x.diagonal(5), [((3, 4),)])
spec("diagonal_dims", lambda lib, x: x.diagonal(0, 1, 2), [((2, 3, 4),)])
spec("diagonal_neg_dims", lambda lib, x: lib.diagonal(x, -1, -1, 0), [((3, 2, 4),)])
spec("unfold", lambda lib, x: x.unfold(1, 3, 2), [((2, 7),), ((2, 3),)])
spec("unfold_no_overlap", lambda lib, x: x.unfold(0, 2, 3), [((8,),), ((7, 2),)])
spec("unfold_neg_dim", lambda lib, x: x.unfold(-1, 2, 1), [((3, 4),)])
spec("unfold_0d", lambda lib, x: x.unfold(0, 1, 1), [((),)])
