"""Shape ops: views (reshape, permute, expand, ...) and copies (cat, repeat, flip, ...)."""

from __future__ import annotations

from ._grad_helpers import norm_dim
from ._registry import defop


def _infer_shape(shape: tuple, numel: int, op: str, input_shape: tuple) -> tuple:
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def _reshape_fwd(xp, input, shape):
    return input.reshape(_infer_shape(shape, input.size, "reshape", input.shape))


def _reshape_grad(grad, input_shape):
    return grad.reshape(input_shape)


reshape = defop("reshape", _reshape_fwd, grads={"input": _reshape_grad}, view=True,
                node_name="ViewBackward0")


def _view_fwd(xp, input, shape):
    new = _infer_shape(shape, input.size, "view", input.shape)
    out = input.view()
    try:
        out.shape = new  # NumPy refuses (instead of copying) when the strides do not allow it
    except AttributeError:
        raise RuntimeError(
            f"view size is not compatible with input tensor's size and stride (at least one "
            f"dimension spans across two contiguous subspaces). Use .reshape(...) instead."
        ) from None
    return out


view = defop("view", _view_fwd, grads={"input": _reshape_grad}, view=True)


def _expand_fwd(xp, input, size):
    size = tuple(size)
    if len(size) < input.ndim:
        raise RuntimeError(
            f"expand: the number of sizes provided ({len(size)}) must be greater or equal to "
            f"the number of dimensions in the tensor ({input.ndim})"
        )
    lead = len(size) - input.ndim
    target = []
    for i, s in enumerate(size):
        cur = input.shape[i - lead] if i >= lead else None
        if s == -1:
            if cur is None:
                raise RuntimeError("expand: -1 is not allowed in a leading, non-existing dimension")
            s = cur
        elif cur is not None and cur != 1 and cur != s:
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size ({cur}) at "
                f"non-singleton dimension {i}.  Target sizes: {list(size)}.  Tensor sizes: "
                f"{list(input.shape)}"
            )
        target.append(s)
    return xp.broadcast_to(input, tuple(target))


expand = defop("expand", _expand_fwd, view=True,
               grads={"input": lambda grad, input_shape: _sum_to(grad, input_shape)})


def _sum_to(grad, shape):
    from ._registry import sum_to

    return sum_to(grad, shape)


def _unsqueeze_fwd(xp, input, dim):
    return xp.expand_dims(input, norm_dim(dim, input.ndim + 1, "unsqueeze"))


unsqueeze = defop("unsqueeze", _unsqueeze_fwd, view=True,
                  grads={"input": lambda grad, input_shape: grad.reshape(input_shape)})


def _squeeze_fwd(xp, input, dim=None):
    if dim is None:
        return input.reshape(tuple(s for s in input.shape if s != 1))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if input.ndim == 0:
        for d in dims:
            norm_dim(d, 0, "squeeze")
        return input
    axes = {norm_dim(d, input.ndim, "squeeze") for d in dims}
    return input.reshape(tuple(s for i, s in enumerate(input.shape) if not (i in axes and s == 1)))


squeeze = defop("squeeze", _squeeze_fwd, view=True,
                grads={"input": lambda grad, input_shape: grad.reshape(input_shape)})


def _transpose_fwd(xp, input, dim0, dim1):
    if input.ndim == 0:
        norm_dim(dim0, 0, "transpose")
        norm_dim(dim1, 0, "transpose")
        return input
    return xp.swapaxes(input, norm_dim(dim0, input.ndim), norm_dim(dim1, input.ndim))


transpose = defop("transpose", _transpose_fwd, view=True,
                  grads={"input": lambda grad, dim0, dim1: grad.transpose(dim0, dim1)})
swapaxes = swapdims = transpose


def _permute_fwd(xp, input, dims):
    dims = tuple(norm_dim(d, input.ndim, "permute") for d in dims)
    if len(dims) != input.ndim or len(set(dims)) != len(dims):
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {input.ndim} is "
            f"not equal to len(dims) = {len(dims)}"
            if len(dims) != input.ndim else "permute(): duplicate dims are not allowed."
        )
    return xp.transpose(input, dims)


def _permute_grad(grad, dims):
    n = len(dims)
    inv = [0] * n
    for i, d in enumerate(dims):
        inv[d % n] = i
    return grad.permute(tuple(inv))


permute = defop("permute", _permute_fwd, view=True, grads={"input": _permute_grad})


def _t_fwd(xp, input):
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return input.T


t = defop("t", _t_fwd, view=True, grads={"input": lambda grad: grad.t()})


def flatten(input, start_dim: int = 0, end_dim: int = -1):
    """Flatten dimensions ``start_dim`` to ``end_dim`` into one.

    >>> fluxion.zeros(2, 3, 4).flatten(1).shape
    fluxion.Size([2, 12])
    """
    nd = input.ndim
    if nd == 0:
        return input.reshape((1,))
    s, e = norm_dim(start_dim, nd, "flatten"), norm_dim(end_dim, nd, "flatten")
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shape = input.shape
    n = 1
    for d in shape[s : e + 1]:
        n *= d
    return input.reshape(tuple(shape[:s]) + (n,) + tuple(shape[e + 1 :]))
