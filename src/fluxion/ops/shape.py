"""Shape ops: views (reshape, permute, expand, narrow, ...) and copies (cat, repeat, flip, ...).

View ops return arrays that share memory with their input and are declared ``view=True``, so the
result shares the input's version counter. Their gradients scatter ``grad`` back into zeros of the
input's shape (``index_backward``), itself an op, so double backward works.
"""

from __future__ import annotations

import math

from ..tensor import Tensor
from ._grad_helpers import norm_dim
from ._registry import REGISTRY, defop, sum_to
from ._registry import with_doc as _doc
from .indexing import _index_backward

__all__ = [
    "reshape",
    "view",
    "view_dtype",
    "expand",
    "unsqueeze",
    "squeeze",
    "transpose",
    "swapaxes",
    "swapdims",
    "permute",
    "t",
    "flatten",
    "unflatten",
    "movedim",
    "moveaxis",
    "repeat",
    "tile",
    "flip",
    "roll",
    "cat",
    "concat",
    "concatenate",
    "stack",
    "hstack",
    "vstack",
    "dstack",
    "column_stack",
    "split",
    "chunk",
    "unbind",
    "tensor_split",
    "narrow",
    "select",
    "tril",
    "triu",
    "diagonal",
    "unfold",
]


# ----------------------------------------------------------------- reshape and view


def _infer_shape(shape, numel: int, op: str, input_shape: tuple) -> tuple:
    """Resolve one ``-1`` in ``shape``; PyTorch's errors, prefixed with the op's name."""
    shape = tuple(shape)
    for s in shape:
        if type(s) is not int:  # numpy ints, 0-d tensors
            shape = tuple(int(s) for s in shape)
            break
    known, infer = 1, None
    for i, s in enumerate(shape):
        if s >= 0:
            known *= s
        elif s == -1 and infer is None:
            infer = i
        elif s == -1:
            raise RuntimeError(f"{op}: only one dimension can be inferred")
        else:
            raise RuntimeError(
                f"{op}: invalid shape dimension {s} at index {i} of shape {list(shape)}"
            )
    if infer is None:
        if known == numel:
            return shape
    elif known == 0:
        if numel == 0:
            raise RuntimeError(
                f"{op}: cannot reshape tensor of 0 elements into shape {list(shape)} because "
                "the unspecified dimension size -1 can be any value and is ambiguous"
            )
    elif numel % known == 0:
        return shape[:infer] + (numel // known,) + shape[infer + 1 :]
    raise RuntimeError(
        f"{op}: shape '{list(shape)}' is invalid for input of size {numel} "
        f"(input shape {list(input_shape)})"
    )


def _view_fwd(xp, input, shape):
    new = _infer_shape(shape, input.size, "view", input.shape)
    if input.flags.c_contiguous:
        return input.reshape(new)  # always a view (and much cheaper than copy=False)
    try:
        return xp.reshape(input, new, copy=False)
    except ValueError:
        raise RuntimeError(
            f"view size is not compatible with input tensor's size and stride (at least one "
            f"dimension spans across two contiguous subspaces); input shape {list(input.shape)}, "
            f"requested {list(new)}. Use .reshape(...) instead."
        ) from None


def _reshape_grad(grad, input_shape):
    return grad.reshape(input_shape)


view = _doc(
    defop("view", _view_fwd, grads={"input": _reshape_grad}, view=True, array_rules=True),
    """Return a view of ``input`` with ``shape`` (one entry may be -1); no data is copied.

    Raises RuntimeError when the strides do not allow a view (use ``reshape`` then).

    >>> fluxion.arange(6).view(3, 2)
    tensor([[0, 1],
            [2, 3],
            [4, 5]])
    """,
)

# NOTE: reshape copies when the strides do not allow a view; the copy is not a view of the input
# (it must not share its version counter), and PyTorch names its node UnsafeViewBackward0.
_reshape_copy = defop(
    "reshape_copy",
    lambda xp, input, shape: xp.reshape(input, shape),
    grads={"input": _reshape_grad},
    node_name="UnsafeViewBackward0",
    array_rules=True,
)
# a view of a non-contiguous input (PyTorch's _reshape_alias)
_reshape_alias = defop(
    "reshape_alias",
    _view_fwd,
    grads={"input": _reshape_grad},
    view=True,
    node_name="ReshapeAliasBackward0",
    array_rules=True,
)


def reshape(input: Tensor, shape) -> Tensor:
    """Return a tensor with ``input``'s elements in ``shape``: a view when the strides allow it.

    >>> fluxion.arange(6).reshape(2, -1)
    tensor([[0, 1, 2],
            [3, 4, 5]])
    """
    data = input._data
    new = _infer_shape(shape, data.size, "reshape", data.shape)
    if data.flags.c_contiguous:
        return view(input, new)
    try:
        data.reshape(new, copy=False)
    except ValueError:
        return _reshape_copy(input, new)
    return _reshape_alias(input, new)


def view_dtype(input: Tensor, dtype) -> Tensor:
    """Reinterpret ``input``'s bytes as ``dtype`` (not supported yet)."""
    raise NotImplementedError(
        f"view(dtype): reinterpreting a {input.dtype} tensor as {dtype} is not supported yet; "
        "use .to(dtype) to convert the values instead"
    )


def _expand_fwd(xp, input, size):
    size = tuple(int(s) for s in size)
    if len(size) < input.ndim:
        raise RuntimeError(
            f"expand: the number of sizes provided ({len(size)}) must be greater or equal to "
            f"the number of dimensions in the tensor ({input.ndim}); tensor sizes "
            f"{list(input.shape)}, target sizes {list(size)}"
        )
    lead = len(size) - input.ndim
    target = []
    for i, s in enumerate(size):
        cur = input.shape[i - lead] if i >= lead else None
        if s == -1 and cur is not None:
            s = cur
        elif s < 0 and cur is None:
            raise RuntimeError(
                f"expand: the expanded size of the tensor ({s}) isn't allowed in a leading, "
                f"non-existing dimension {i}"
            )
        elif cur is not None and ((cur != 1 and cur != s) or s < 0):
            raise RuntimeError(
                f"expand: the expanded size of the tensor ({s}) must match the existing size "
                f"({cur}) at non-singleton dimension {i}.  Target sizes: {list(size)}.  Tensor "
                f"sizes: {list(input.shape)}"
            )
        target.append(s)
    return xp.broadcast_to(input, tuple(target))


expand = _doc(
    defop(
        "expand",
        _expand_fwd,
        grads={"input": lambda grad, input_shape: sum_to(grad, input_shape)},
        view=True,
    ),
    """Return a view of ``input`` broadcast to ``size`` (-1 keeps a dimension).

    >>> fluxion.tensor([[1], [2]]).expand(2, 3)
    tensor([[1, 1, 1],
            [2, 2, 2]])
    """,
)


def _unsqueeze_fwd(xp, input, dim):
    return xp.expand_dims(input, norm_dim(dim, input.ndim + 1, "unsqueeze"))


unsqueeze = _doc(
    defop("unsqueeze", _unsqueeze_fwd, grads={"input": _reshape_grad}, view=True),
    """Return a view with a dimension of size 1 inserted at ``dim``.

    >>> fluxion.tensor([1, 2]).unsqueeze(1).shape
    fluxion.Size([2, 1])
    """,
)


def _squeeze_fwd(xp, input, dim=None):
    if dim is None:
        return input.reshape(tuple(s for s in input.shape if s != 1))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if input.ndim == 0:
        for d in dims:
            norm_dim(d, 0, "squeeze")
        return input.reshape(())
    axes = {norm_dim(d, input.ndim, "squeeze") for d in dims}
    return input.reshape(tuple(s for i, s in enumerate(input.shape) if not (i in axes and s == 1)))


_squeeze_all = defop("squeeze", _squeeze_fwd, grads={"input": _reshape_grad}, view=True)
_squeeze_dim = defop(
    "squeeze_dim",
    _squeeze_fwd,
    grads={"input": _reshape_grad},
    view=True,
    node_name="SqueezeBackward1",
)
_squeeze_dims = defop(
    "squeeze_dims",
    _squeeze_fwd,
    grads={"input": _reshape_grad},
    view=True,
    node_name="SqueezeBackward2",
)


def squeeze(input: Tensor, dim=None) -> Tensor:
    """Remove dimensions of size 1 (all of them, or those in ``dim`` that have size 1).

    >>> fluxion.zeros(2, 1, 3).squeeze().shape
    fluxion.Size([2, 3])
    """
    if dim is None:
        return _squeeze_all(input, None)
    if isinstance(dim, (tuple, list)):
        return _squeeze_dims(input, tuple(dim))
    return _squeeze_dim(input, dim)


def _transpose_fwd(xp, input, dim0, dim1):
    if input.ndim == 0:
        norm_dim(dim0, 0, "transpose")
        norm_dim(dim1, 0, "transpose")
        return input.view()
    return xp.swapaxes(input, norm_dim(dim0, input.ndim), norm_dim(dim1, input.ndim))


transpose = _doc(
    defop(
        "transpose",
        _transpose_fwd,
        grads={"input": lambda grad, dim0, dim1: grad.transpose(dim0, dim1)},
        view=True,
    ),
    """Return a view with dimensions ``dim0`` and ``dim1`` swapped.

    >>> fluxion.zeros(2, 3, 4).transpose(0, -1).shape
    fluxion.Size([4, 3, 2])
    """,
)
swapaxes = swapdims = transpose


def _permute_fwd(xp, input, dims):
    if len(dims) != input.ndim:  # checked before the dims themselves, as in PyTorch
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {input.ndim} is "
            f"not equal to len(dims) = {len(dims)}"
        )
    dims = tuple(norm_dim(d, input.ndim, "permute") for d in dims)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"permute(): duplicate dims are not allowed (got {list(dims)})")
    return xp.transpose(input, dims)


def _permute_grad(grad, dims):
    n = len(dims)
    inv = [0] * n
    for i, d in enumerate(dims):
        inv[d % n] = i
    return grad.permute(tuple(inv))


permute = _doc(
    defop("permute", _permute_fwd, grads={"input": _permute_grad}, view=True),
    """Return a view with the dimensions reordered as ``dims``.

    >>> fluxion.zeros(2, 3, 4).permute(2, 0, 1).shape
    fluxion.Size([4, 2, 3])
    """,
)


def _t_fwd(xp, input):
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return input.T


t = _doc(
    defop(
        "t",
        _t_fwd,
        grads={"input": lambda grad: grad.t()},
        raw_grads={"input": lambda grad: grad.T},  # arrays: .T is t() for <= 2 dims
        view=True,
        replay=lambda xp, input: input.T,
    ),
    """Return the transpose of a tensor with at most 2 dimensions (a view).

    >>> fluxion.tensor([[1, 2]]).t()
    tensor([[1],
            [2]])
    """,
)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Flatten dimensions ``start_dim`` to ``end_dim`` into one.

    >>> fluxion.zeros(2, 3, 4).flatten(1).shape
    fluxion.Size([2, 12])
    """
    nd = input.ndim
    if nd == 0:
        norm_dim(start_dim, 0, "flatten")
        norm_dim(end_dim, 0, "flatten")
        return reshape(input, (1,))
    s, e = norm_dim(start_dim, nd, "flatten"), norm_dim(end_dim, nd, "flatten")
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input  # PyTorch returns the input itself (no new node)
    shape = input.shape
    return reshape(input, tuple(shape[:s]) + (math.prod(shape[s : e + 1]),) + tuple(shape[e + 1 :]))


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    """Expand dimension ``dim`` into ``sizes`` (one entry may be -1).

    >>> fluxion.zeros(2, 6).unflatten(1, (3, -1)).shape
    fluxion.Size([2, 3, 2])
    """
    shape = input.shape
    d = norm_dim(dim, input.ndim, "unflatten")
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    try:
        new = _infer_shape(sizes, shape[d], "unflatten", (shape[d],))
    except RuntimeError as exc:
        if sizes.count(-1) > 1:
            raise
        raise RuntimeError(
            f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {dim} "
            f"({shape[d]}) in the input tensor"
        ) from exc
    return view(input, tuple(shape[:d]) + new + tuple(shape[d + 1 :]))


def movedim(input: Tensor, source, destination) -> Tensor:
    """Move dimensions ``source`` to positions ``destination`` (a ``permute``).

    >>> fluxion.zeros(2, 3, 4).movedim(0, -1).shape
    fluxion.Size([3, 4, 2])
    """
    nd = input.ndim
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({list(src)} dims) should "
            f"contain the same number of dims as destination ({list(dst)} dims)"
        )
    src = tuple(norm_dim(d, nd, "movedim") for d in src)
    dst = tuple(norm_dim(d, nd, "movedim") for d in dst)
    for name, ds, given in (("source", src, source), ("destination", dst, destination)):
        if len(set(ds)) != len(ds):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({list(given)})")
    order = [None] * max(nd, 1)
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(d for d in range(nd) if d not in src)
    order = tuple(o if o is not None else next(rest) for o in order[:nd])
    return permute(input, order)


moveaxis = movedim


# ----------------------------------------------------------------- copies: repeat, flip, roll


def _repeat_fwd(xp, input, repeats):
    repeats = tuple(int(r) for r in repeats)
    if len(repeats) < input.ndim:
        raise RuntimeError(
            f"repeat: Number of dimensions of repeat dims ({len(repeats)}) can not be smaller "
            f"than number of dimensions of tensor ({input.ndim}, shape {list(input.shape)})"
        )
    shape = (1,) * (len(repeats) - input.ndim) + input.shape
    if any(r < 0 for r in repeats):
        raise RuntimeError(
            f"repeat: Trying to create tensor with negative dimension: "
            f"{[r * s for r, s in zip(repeats, shape)]}"
        )
    return xp.tile(input.reshape(shape), repeats)


def _repeat_grad(grad, input_shape, repeats):
    """Sum the tiled copies: view ``grad`` as (r0, s0, r1, s1, ...) and sum the r axes."""
    repeats = tuple(int(r) for r in repeats)
    shape = (1,) * (len(repeats) - len(input_shape)) + tuple(input_shape)
    split = tuple(x for rs in zip(repeats, shape) for x in rs)
    g = grad.reshape(split).sum(tuple(range(0, 2 * len(shape), 2))) if split else grad
    return g.reshape(input_shape)


repeat = _doc(
    defop("repeat", _repeat_fwd, grads={"input": _repeat_grad}),
    """Tile ``input`` ``repeats[i]`` times along each dimension (a copy; extra leading dims).

    >>> fluxion.tensor([1, 2]).repeat(2, 2)
    tensor([[1, 2, 1, 2],
            [1, 2, 1, 2]])
    """,
)


def tile(input: Tensor, dims) -> Tensor:
    """Repeat ``input`` ``dims[i]`` times along each dimension (leading 1s are implied).

    >>> fluxion.tensor([1, 2]).tile((2,))
    tensor([1, 2, 1, 2])
    """
    dims = tuple(dims)
    if len(dims) < input.ndim:
        dims = (1,) * (input.ndim - len(dims)) + dims
    return repeat(input, dims)


def _flip_fwd(xp, input, dims):
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    axes = [norm_dim(d, input.ndim, "flip") for d in dims]
    for a in axes:
        if axes.count(a) > 1:
            raise RuntimeError(f"flip: dim {a} appears multiple times in the list of dims")
    return xp.flip(input, axis=tuple(axes)).copy() if input.ndim else input.copy()


flip = _doc(
    defop("flip", _flip_fwd, grads={"input": lambda grad, dims: grad.flip(dims)}),
    """Return a copy of ``input`` with the order of elements reversed along ``dims``.

    >>> fluxion.tensor([1, 2, 3]).flip(0)
    tensor([3, 2, 1])
    """,
)


def _roll_args(shifts, dims):
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(
                f"roll: shifts and dimensions must align. shifts: {len(shifts)}, dims:0"
            )
        return shifts, None
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if not shifts:
        raise RuntimeError("roll: `shifts` required")
    if len(shifts) != len(dims):
        raise RuntimeError(
            f"roll: shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}"
        )
    return shifts, dims


def _roll_fwd(xp, input, shifts, dims=None):
    shifts, dims = _roll_args(shifts, dims)
    if dims is None:
        return xp.roll(input, shifts[0])
    axes = tuple(norm_dim(d, input.ndim, "roll") for d in dims)
    return xp.roll(input, shifts, axis=axes)


def _roll_grad(grad, shifts, dims):
    shifts, dims = _roll_args(shifts, dims)
    return grad.roll(tuple(-s for s in shifts), dims)


roll = _doc(
    defop("roll", _roll_fwd, grads={"input": _roll_grad}),
    """Shift elements circularly by ``shifts`` along ``dims`` (all elements, flattened, if None).

    >>> fluxion.tensor([1, 2, 3, 4]).roll(1)
    tensor([4, 1, 2, 3])
    """,
)


# ----------------------------------------------------------------- cat / stack


def _cat_fwd(xp, tensors, dim=0):
    if not tensors:
        raise ValueError("cat(): expected a non-empty list of Tensors")
    # NOTE: legacy behaviour kept by PyTorch: 1-D empty tensors are skipped whatever their rank
    kept = [(i, a) for i, a in enumerate(tensors) if not (a.ndim == 1 and a.shape[0] == 0)]
    if not kept:
        return xp.concatenate(tensors)
    for i, a in kept:
        if a.ndim == 0:
            raise RuntimeError(
                f"cat(): zero-dimensional tensor (at position {i}) cannot be "
                "concatenated; use stack() or unsqueeze it first"
            )
    ref_i, ref = kept[0]
    d = norm_dim(dim, ref.ndim, "cat")
    for i, a in kept[1:]:
        if a.ndim != ref.ndim:
            raise RuntimeError(
                f"cat(): Tensors must have same number of dimensions: got {ref.ndim} and {a.ndim}"
                f" (tensor number {ref_i} has shape {list(ref.shape)}, tensor number {i} has "
                f"shape {list(a.shape)})"
            )
        for j in range(ref.ndim):
            if j != d and a.shape[j] != ref.shape[j]:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size "
                    f"{ref.shape[j]} but got size {a.shape[j]} for tensor number {i} in the "
                    f"list. (cat() of shapes {[list(x.shape) for x in tensors]})"
                )
    return xp.concatenate([a for _, a in kept], axis=d)


def _cat_grad(grad, tensors_shape, tensors_dtype, dim):
    ref = next((s for s in tensors_shape if s != (0,)), None)
    d = norm_dim(dim, len(ref)) if ref is not None else 0
    out = []
    start = 0
    for shape, dtype in zip(tensors_shape, tensors_dtype):
        if shape == (0,) and ref is not None:  # a skipped legacy empty tensor
            out.append(grad.new_zeros((0,), dtype=dtype) if dtype.is_floating_point else None)
            continue
        if dtype.is_floating_point:  # other inputs never require grad
            g = narrow(grad, d, start, shape[d])
            out.append(g if g.dtype == dtype else g.to(dtype))
        else:
            out.append(None)
        start += shape[d]
    return out


cat = _doc(
    defop(
        "cat",
        _cat_fwd,
        grads={"tensors": _cat_grad},
        seq_input=True,
        promote="promote",
    ),
    """Concatenate ``tensors`` along ``dim`` (dtypes promoted; 1-D empty tensors are skipped).

    Aliases: ``concat``, ``concatenate``.

    >>> fluxion.cat([fluxion.tensor([1, 2]), fluxion.tensor([3.5])])
    tensor([1.0000, 2.0000, 3.5000])
    """,
)
concat = concatenate = cat


def _stack_fwd(xp, tensors, dim=0):
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    ref = tensors[0]
    for i, a in enumerate(tensors[1:], 1):
        if a.shape != ref.shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(ref.shape)} at "
                f"entry 0 and {list(a.shape)} at entry {i}"
            )
    return xp.stack(tensors, axis=norm_dim(dim, ref.ndim + 1, "stack"))


def _stack_grad(grad, tensors_dtype, dim):
    return [
        (g if g.dtype == dt else g.to(dt)) if dt.is_floating_point else None
        for g, dt in zip(unbind(grad, dim), tensors_dtype)
    ]


stack = _doc(
    defop(
        "stack",
        _stack_fwd,
        grads={"tensors": _stack_grad},
        seq_input=True,
        promote="promote",
    ),
    """Stack equally shaped ``tensors`` along a new dimension ``dim``.

    >>> fluxion.stack([fluxion.tensor([1, 2]), fluxion.tensor([3, 4])], dim=1)
    tensor([[1, 3],
            [2, 4]])
    """,
)


def _atleast(t: Tensor, nd: int) -> Tensor:
    """``atleast_1d/2d/3d``: 0-d -> (1,...); 1-D (n,) -> (1, n) or (1, n, 1); 2-D -> (a, b, 1)."""
    if t.ndim >= nd:
        return t
    shape = tuple(t.shape)
    if len(shape) == 0:
        return reshape(t, (1,) * nd)
    if len(shape) == 1:
        return reshape(t, (1,) + shape + (1,) * (nd - 2))
    return reshape(t, shape + (1,))


def hstack(tensors) -> Tensor:
    """Concatenate horizontally: along dim 1, or dim 0 for 1-D tensors.

    >>> fluxion.hstack([fluxion.tensor([1, 2]), fluxion.tensor([3])])
    tensor([1, 2, 3])
    """
    ts = [_atleast(t, 1) for t in tensors]
    return cat(ts, 0 if ts and ts[0].ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    """Concatenate vertically (along dim 0), treating 1-D tensors as rows.

    >>> fluxion.vstack([fluxion.tensor([1, 2]), fluxion.tensor([3, 4])])
    tensor([[1, 2],
            [3, 4]])
    """
    return cat([_atleast(t, 2) for t in tensors], 0)


def dstack(tensors) -> Tensor:
    """Concatenate along the third dimension (depth).

    >>> fluxion.dstack([fluxion.tensor([1, 2]), fluxion.tensor([3, 4])]).shape
    fluxion.Size([1, 2, 2])
    """
    return cat([_atleast(t, 3) for t in tensors], 2)


def column_stack(tensors) -> Tensor:
    """Stack 1-D tensors as columns (and concatenate 2-D ones) along dim 1.

    >>> fluxion.column_stack([fluxion.tensor([1, 2]), fluxion.tensor([3, 4])])
    tensor([[1, 3],
            [2, 4]])
    """
    return cat([reshape(t, (t.numel(), 1)) if t.ndim <= 1 else t for t in tensors], 1)


# ----------------------------------------------------------------- narrow, select, split


def _narrow_key(shape, dim, start, length, check=False):
    d = norm_dim(dim, len(shape), "narrow")
    n = shape[d]
    start, length = int(start), int(length)
    if check:
        if not -n <= start <= n:
            raise IndexError(
                f"narrow(): start out of range (expected to be in range of [{-n}, {n}], but got "
                f"{start})"
            )
        if length < 0:
            raise RuntimeError("narrow(): length must be non-negative.")
    if start < 0:
        start += n
    if check and start + length > n:
        raise RuntimeError(
            f"narrow(): start ({start}) + length ({length}) exceeds dimension size ({n}) of "
            f"dimension {d} of a tensor of shape {list(shape)}."
        )
    return (slice(None),) * d + (slice(start, start + length),)


def _narrow_fwd(xp, input, dim, start, length):
    if input.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    return input[_narrow_key(input.shape, dim, start, length, check=True)]


narrow = _doc(
    defop(
        "narrow",
        _narrow_fwd,
        grads={
            "input": lambda grad, input_shape, dim, start, length: _index_backward(
                grad, input_shape, _narrow_key(input_shape, dim, start, length)
            )
        },
        view=True,
        node_name="SliceBackward0",
    ),
    """Return the view ``input[..., start:start + length, ...]`` along ``dim``.

    >>> fluxion.arange(5).narrow(0, 1, 3)
    tensor([1, 2, 3])
    """,
)


def _select_key(shape, dim, index, check=False):
    if not shape:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = norm_dim(dim, len(shape), "select")
    index = int(index)
    if check and not -shape[d] <= index < shape[d]:
        raise IndexError(
            f"select(): index {index} out of range for tensor of size {list(shape)} at "
            f"dimension {d}"
        )
    return (slice(None),) * d + (index, Ellipsis)


select = _doc(
    defop(
        "select",
        lambda xp, input, dim, index: input[_select_key(input.shape, dim, index, check=True)],
        grads={
            "input": lambda grad, input_shape, dim, index: _index_backward(
                grad, input_shape, _select_key(input_shape, dim, index)
            )
        },
        view=True,
    ),
    """Return the view ``input[..., index, ...]`` along ``dim`` (the dimension is removed).

    >>> fluxion.tensor([[1, 2], [3, 4]]).select(1, -1)
    tensor([2, 4])
    """,
)


def _split_sizes(n: int, split_size: int) -> list:
    split_size = int(split_size)
    if split_size < 0:
        raise RuntimeError(
            f"split expects split_size be non-negative, but got split_size={split_size}"
        )
    if split_size == 0:
        if n:
            raise RuntimeError(
                f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}"
            )
        return [0]
    return [min(split_size, n - s) for s in range(0, n, split_size)] or [0]


def _pieces(input, sizes, d):
    out, start = [], 0
    for s in sizes:
        out.append(input[(slice(None),) * d + (slice(start, start + s),)])
        start += s
    return tuple(out)


def _need_1d(input, op: str) -> None:
    if input.ndim == 0:
        raise RuntimeError(f"{op} expects at least a 1-dimensional tensor")


def _split_fwd(xp, input, split_size, dim=0):
    _need_1d(input, "split")
    d = norm_dim(dim, input.ndim, "split")
    return _pieces(input, _split_sizes(input.shape[d], split_size), d)


def _split_with_sizes_fwd(xp, input, split_sizes, dim=0):
    _need_1d(input, "split")
    d = norm_dim(dim, input.ndim, "split_with_sizes")
    sizes = [int(s) for s in split_sizes]
    if any(s < 0 for s in sizes):
        raise RuntimeError(
            f"split_with_sizes expects split_sizes have only non-negative entries, but got "
            f"split_sizes={sizes}"
        )
    if sum(sizes) != input.shape[d]:
        raise RuntimeError(
            f"split_with_sizes expects split_sizes to sum exactly to {input.shape[d]} (input "
            f"tensor's size at dimension {d}), but got split_sizes={sizes}"
        )
    return _pieces(input, sizes, d)


_split = defop(
    "split",
    _split_fwd,
    grads={"input": lambda grads, dim: cat(grads, dim)},
    view=True,
    multi_output=True,
)
_split_with_sizes = defop(
    "split_with_sizes",
    _split_with_sizes_fwd,
    grads={"input": lambda grads, dim: cat(grads, dim)},
    view=True,
    multi_output=True,
)
_NARROW = REGISTRY["narrow"]
_SELECT = REGISTRY["select"]


def _mark_views(outs: tuple, input: Tensor, op, attrs: list) -> tuple:
    """Let in-place ops on each output replay it as its own view op (narrow/select)."""
    for o, a in zip(outs, attrs):
        o._view_src = (input, op, a)
    return outs


def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Split into chunks of ``split_size_or_sections`` (an int) or of the listed sizes.

    Every chunk is a view of ``tensor``; all share one ``SplitBackward0`` node.

    >>> [p.tolist() for p in fluxion.arange(5).split(2)]
    [[0, 1], [2, 3], [4]]
    """
    if isinstance(split_size_or_sections, (list, tuple)):
        outs = _split_with_sizes(tensor, split_size_or_sections, dim)
    else:
        outs = _split(tensor, split_size_or_sections, dim)
    d = norm_dim(dim, tensor.ndim)
    starts = [0]
    for o in outs[:-1]:
        starts.append(starts[-1] + o.shape[d])
    return _mark_views(outs, tensor, _NARROW, [(d, s, o.shape[d]) for s, o in zip(starts, outs)])


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Split into ``chunks`` views of (nearly) equal size; the last may be smaller or missing.

    >>> [p.tolist() for p in fluxion.arange(5).chunk(3)]
    [[0, 1], [2, 3], [4]]
    """
    chunks = int(chunks)
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    _need_1d(input._data, "chunk")
    n = input.shape[norm_dim(dim, input.ndim, "chunk")]
    if n == 0:
        return split(input, [0] * chunks, dim)
    return split(input, -(-n // chunks), dim)


def _unbind_fwd(xp, input, dim=0):
    if input.ndim == 0:
        raise IndexError("unbind(): Dimension specified as 0 but tensor has no dimensions")
    d = norm_dim(dim, input.ndim, "unbind")
    pre = (slice(None),) * d
    return tuple(input[pre + (i, Ellipsis)] for i in range(input.shape[d]))


_unbind = defop(
    "unbind",
    _unbind_fwd,
    grads={"input": lambda grads, dim: stack(grads, dim)},
    view=True,
    multi_output=True,
)


def unbind(input: Tensor, dim: int = 0) -> tuple:
    """Remove dimension ``dim``, returning a tuple of its slices (views).

    >>> [r.tolist() for r in fluxion.tensor([[1, 2], [3, 4]]).unbind(1)]
    [[1, 3], [2, 4]]
    """
    outs = _unbind(input, dim)
    return _mark_views(outs, input, _SELECT, [(dim, i) for i in range(len(outs))])


def tensor_split(input: Tensor, indices_or_sections, dim: int = 0) -> tuple:
    """Split into ``n`` nearly equal views, or at the given indices (each a ``narrow``).

    >>> [p.tolist() for p in fluxion.arange(5).tensor_split(2)]
    [[0, 1, 2], [3, 4]]
    """
    if input.ndim == 0:
        raise RuntimeError(
            "tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims"
        )
    d = norm_dim(dim, input.ndim, "tensor_split")
    n = input.shape[d]
    if isinstance(indices_or_sections, int):
        k = indices_or_sections
        if k <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {k}")
        q, r = divmod(n, k)
        bounds = [i * q + min(i, r) for i in range(k + 1)]
    else:
        idx = [min(max(int(i) if i >= 0 else int(i) + n, 0), n) for i in indices_or_sections]
        bounds = [0, *idx, n]
    return tuple(narrow(input, d, lo, max(hi - lo, 0)) for lo, hi in zip(bounds[:-1], bounds[1:]))


# ----------------------------------------------------------------- triangles, diagonal, unfold


def _tri_fwd(name: str):
    def fwd(xp, input, diagonal=0):
        if input.ndim < 2:
            raise RuntimeError(
                f"{name}: input tensor must have at least 2 dimensions (got shape "
                f"{list(input.shape)})"
            )
        return getattr(xp, name)(input, int(diagonal))

    return fwd


tril = _doc(
    defop("tril", _tri_fwd("tril"), grads={"input": lambda grad, diagonal: grad.tril(diagonal)}),
    """Zero the elements above the ``diagonal``-th diagonal of the last two dimensions.

    >>> fluxion.ones(2, 2).tril()
    tensor([[1., 0.],
            [1., 1.]])
    """,
)
triu = _doc(
    defop("triu", _tri_fwd("triu"), grads={"input": lambda grad, diagonal: grad.triu(diagonal)}),
    """Zero the elements below the ``diagonal``-th diagonal of the last two dimensions.

    >>> fluxion.ones(2, 2).triu(1)
    tensor([[0., 1.],
            [0., 0.]])
    """,
)


def _diag_view(xp, arr, offset, dim1, dim2, check=False):
    """A writable strided view of the diagonal (``xp.diagonal`` returns a read-only one)."""
    nd = arr.ndim
    d1, d2 = norm_dim(dim1, nd, "diagonal"), norm_dim(dim2, nd, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    offset = int(offset)
    n1, n2 = arr.shape[d1], arr.shape[d2]
    i0, j0 = max(-offset, 0), max(offset, 0)
    length = max(0, min(n1 - i0, n2 - j0))
    start = [0] * nd
    if length:
        start[d1], start[d2] = i0, j0
    base = arr[tuple(slice(s, None) for s in start)]
    keep = [d for d in range(nd) if d not in (d1, d2)]
    shape = tuple(arr.shape[d] for d in keep) + (length,)
    strides = tuple(arr.strides[d] for d in keep) + (arr.strides[d1] + arr.strides[d2],)
    return xp.lib.stride_tricks.as_strided(base, shape, strides)


def _diagonal_backward_fwd(xp, input, shape, offset, dim1, dim2):
    out = xp.zeros(shape, dtype=input.dtype)
    _diag_view(xp, out, offset, dim1, dim2)[...] = input
    return out


_diagonal_backward = defop(
    "diagonal_backward",
    _diagonal_backward_fwd,
    grads={"input": lambda grad, offset, dim1, dim2: grad.diagonal(offset, dim1, dim2)},
)

diagonal = _doc(
    defop(
        "diagonal",
        lambda xp, input, offset=0, dim1=0, dim2=1: _diag_view(xp, input, offset, dim1, dim2),
        grads={
            "input": lambda grad, input_shape, offset, dim1, dim2: _diagonal_backward(
                grad, input_shape, offset, dim1, dim2
            )
        },
        view=True,
    ),
    """Return a view of the ``offset`` diagonal of dims ``dim1`` and ``dim2`` (appended last).

    >>> fluxion.tensor([[1, 2], [3, 4]]).diagonal()
    tensor([1, 4])
    """,
)


def _unfold_fwd(xp, input, dimension, size, step):
    arr = input.reshape((1,)) if input.ndim == 0 else input
    d = norm_dim(dimension, input.ndim, "unfold")
    n = arr.shape[d]
    if size > n:
        raise RuntimeError(
            f"unfold: maximum size for tensor at dimension {d} is {n} but size is {size}"
        )
    if size < 0:
        raise RuntimeError(f"unfold: size is {size} but must be >= 0")
    if step <= 0:
        raise RuntimeError(f"unfold: step is {step} but must be > 0")
    shape = list(arr.shape)
    shape[d] = (n - size) // step + 1
    strides = list(arr.strides)
    strides[d] = arr.strides[d] * step
    out = xp.lib.stride_tricks.as_strided(
        arr,
        tuple(shape) + (size,),
        tuple(strides) + (arr.strides[d],),
        writeable=step >= size,  # overlapping windows: writes would alias (PyTorch refuses too)
    )
    return out.reshape((size,)) if input.ndim == 0 else out


def _unfold_backward_fwd(xp, input, shape, dimension, size, step):
    """Sum every window position back into its place in a zero tensor of ``shape``."""
    out = xp.zeros(shape, dtype=input.dtype)
    if not shape:
        return out + input.sum()
    d = norm_dim(dimension, len(shape))
    nwin = input.shape[d]
    pre = (slice(None),) * d
    for k in range(size):
        out[pre + (slice(k, k + step * (nwin - 1) + 1, step),)] += input[..., k]
    return out


_unfold_backward = defop(
    "unfold_backward",
    _unfold_backward_fwd,
    grads={"input": lambda grad, dimension, size, step: grad.unfold(dimension, size, step)},
)

unfold = _doc(
    defop(
        "unfold",
        _unfold_fwd,
        grads={
            "input": lambda grad, input_shape, dimension, size, step: _unfold_backward(
                grad, input_shape, dimension, size, step
            )
        },
        view=True,
    ),
    """Return a view of the windows of ``size`` elements, ``step`` apart, along ``dimension``.

    The windows form a new last dimension.

    >>> fluxion.arange(5).unfold(0, 2, 2)
    tensor([[0, 1],
            [2, 3]])
    """,
)
