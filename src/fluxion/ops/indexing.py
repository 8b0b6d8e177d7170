"""Indexing: ``tensor[index]``, gather/scatter, masked ops, ``index_*`` and ``index_put``.

``tensor[index]`` is parsed once, in Python, into a NumPy *key* with PyTorch's semantics (the
index is an attribute of the op, never a tensor input):

* ints, slices, ``None`` and ``...`` only: basic indexing, a view of the input. Its node is named
  after the last view op PyTorch applies (``SelectBackward0``, ``SliceBackward0``,
  ``UnsqueezeBackward0`` or ``AliasBackward0``), although fluxion records one node, not a chain.
* integer or boolean tensors/lists: advanced indexing (``IndexBackward0``), a copy. Masks become
  their ``nonzero()`` index arrays. PyTorch applies integer indices first (as ``select``), which
  differs from NumPy only when ints and arrays are separated by a slice: such keys are rewritten
  into an all-advanced key with PyTorch's layout (``_torch_layout``).

Gradients scatter ``grad`` into zeros of the input's shape (``index_backward``); advanced keys
accumulate (``xp.add.at``), so repeated indices sum their gradients.
"""

from __future__ import annotations

import operator

import numpy as np

from .. import dtypes as _dt
from ..tensor import TRACE as _TRACE
from ..tensor import Tensor
from ._grad_helpers import norm_dim
from ._registry import NOT_DIFFERENTIABLE, defop
from ._registry import with_doc as _doc
from ._registry import xp as _xp
from .elementwise import _scalar_as

__all__ = [
    "getitem",
    "index_put",
    "index_select",
    "gather",
    "scatter",
    "scatter_add",
    "masked_fill",
    "masked_select",
    "index_add",
    "index_fill",
    "take_along_dim",
    "nonzero",
]

_INDEX_DTYPES = (np.dtype(np.int64), np.dtype(np.int32))


def _scalar_name(dtype) -> str:
    return _dt.scalar_name(dtype)


_BAD_INDEX = "tensors used as indices must be long, int, byte or bool tensors"

# ----------------------------------------------------------------- the key-based primitives


def _take_fwd(xp, input, key):
    return input[key]


def _index_backward_fwd(xp, input, shape, key, accumulate=False):
    out = xp.zeros(shape, dtype=input.dtype)
    if accumulate:
        xp.add.at(out, key, input)  # repeated indices sum their gradients
    else:
        out[key] = input
    return out


def _is_basic(key: tuple) -> bool:
    for k in key:
        if type(k) is np.ndarray or type(k) is bool:
            return False
    return True


def _take(t: Tensor, key: tuple) -> Tensor:
    return _alias(t, key) if _is_basic(key) else _index(t, key)


_index_backward = defop(
    "index_backward",
    _index_backward_fwd,
    grads={"input": lambda grad, key: _take(grad, key)},
)


def _view_grad(grad, input_shape, key):
    return _index_backward(grad, input_shape, key)


def _view_op(name: str, node_name: str):
    return defop(name, _take_fwd, grads={"input": _view_grad}, view=True, node_name=node_name)


_alias = _view_op("alias", "AliasBackward0")
_VIEWS = {
    "alias": _alias,
    "select": _view_op("getitem_select", "SelectBackward0"),
    "slice": _view_op("getitem_slice", "SliceBackward0"),
    "unsqueeze": _view_op("getitem_unsqueeze", "UnsqueezeBackward0"),
}
_index = defop(
    "index",
    _take_fwd,
    grads={"input": lambda grad, input_shape, key: _index_backward(grad, input_shape, key, True)},
)
_VIEWS["index"] = _index

# ----------------------------------------------------------------- parsing an index


def _index_array(value, where: str = "") -> np.ndarray:
    """Return an index tensor's array; IndexError for dtypes PyTorch refuses as indices."""
    if _TRACE[0] is not None:
        _TRACE[0].escape(value, "an index")
    arr = value._data
    if arr.dtype.kind == "b" or arr.dtype in _INDEX_DTYPES or arr.dtype == np.uint8:
        return arr
    raise IndexError(_BAD_INDEX + where)


def _list_to_array(seq) -> np.ndarray:
    arr = np.asarray(seq)
    if arr.dtype.kind == "b":
        return arr
    if arr.size == 0 or arr.dtype.kind in "fu":
        return arr.astype(np.int64)  # PyTorch turns [] and [1.0] into long indices
    if arr.dtype.kind != "i":
        raise IndexError(
            f"only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
            f"valid indices (got a list of {arr.dtype})"
        )
    return arr


def _seq_as_tuple(seq: list) -> bool:
    """PyTorch's legacy rule: ``x[[0, [1]]]`` or ``x[[0, slice]]`` means ``x[0, [1]]``."""
    if len(seq) >= 32:
        return False
    for it in seq:
        if it is None or it is Ellipsis or isinstance(it, (Tensor, list, tuple, slice, np.ndarray)):
            return True
    return False


def _check_slice(s: slice) -> slice:
    start, stop, step = s.start, s.stop, s.step
    try:
        if start is not None and type(start) is not int:
            start = operator.index(start)
        if stop is not None and type(stop) is not int:
            stop = operator.index(stop)
        if step is not None and type(step) is not int:
            step = operator.index(step)
    except TypeError:
        raise TypeError(
            f"slice indices must be integers or None or have an __index__ method (got {s})"
        ) from None
    if step is not None and step <= 0:
        if step == 0:
            raise ValueError("slice step cannot be zero")
        raise ValueError(
            f"step must be greater than zero (got {step}); negative steps are not supported, "
            "use .flip(dim) instead"
        )
    return slice(start, stop, step)


def _out_of_bounds(value, d: int, n: int):
    return IndexError(f"index {value} is out of bounds for dimension {d} with size {n}")


def _convert(it):
    """Classify one index item: returns (item, number of input dims it consumes)."""
    t = type(it)
    if t is int:
        return it, 1
    if t is slice:
        return _check_slice(it), 1
    if it is None or it is Ellipsis:
        return it, 0
    if t is bool or t is np.bool_:
        return bool(it), 0
    if isinstance(it, Tensor):
        arr = _index_array(it)
    elif isinstance(it, np.ndarray):
        arr = it
        if arr.dtype.kind not in "biu":
            raise IndexError(_BAD_INDEX)
    elif isinstance(it, (list, tuple)):
        arr = _list_to_array(it)
    elif isinstance(it, (float, complex, str)) or not hasattr(it, "__index__"):
        raise IndexError(
            "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
            f"valid indices (got {type(it).__name__})"
        )
    else:
        return operator.index(it), 1
    if arr.dtype.kind == "b" or arr.dtype == np.uint8:
        if arr.ndim == 0:
            return bool(arr), 0
        return ("mask", arr.astype(bool, copy=False)), arr.ndim
    if arr.ndim == 0:
        return int(arr), 1  # a 0-d integer tensor indexes like an int (PyTorch: select)
    return ("array", arr), 1


def _parse(index, shape: tuple) -> tuple:
    """Return ``(key, kind)``: a NumPy key with PyTorch's semantics and the node kind."""
    if type(index) is tuple:
        items = index
    elif type(index) is list and _seq_as_tuple(index):
        items = tuple(index)
    else:
        items = (index,)
    nd = len(shape)
    conv = []
    consumed = 0
    ellipses = 0
    for it in items:
        c, n = _convert(it)
        conv.append(c)
        consumed += n
        if c is Ellipsis:
            ellipses += 1
    if ellipses > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if consumed > nd:
        if nd == 0:
            raise IndexError(
                "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number"
            )
        raise IndexError(
            f"too many indices for tensor of dimension {nd} (got {consumed} indices for a "
            f"tensor of shape {list(shape)})"
        )
    key = []
    d = 0
    last = "alias"
    adv = has_int = False
    for c in conv:
        t = type(c)
        if c is None:
            key.append(None)
            last = "unsqueeze"
        elif c is Ellipsis:
            key.append(c)
            d += nd - consumed
        elif t is int:
            n = shape[d]
            if not -n <= c < n:
                raise _out_of_bounds(c, d, n)
            key.append(c)
            last = "select"
            has_int = True
            d += 1
        elif t is slice:
            key.append(c)
            if c.indices(shape[d]) != (0, shape[d], 1):  # PyTorch skips full slices in tuples
                last = "slice"
            d += 1
        elif t is bool:
            key.append(c)
            adv = True
        elif c[0] == "mask":
            mask = c[1]
            for j, s in enumerate(mask.shape):
                if s != shape[d + j]:
                    raise IndexError(
                        f"The shape of the mask {list(mask.shape)} at index {j} does not match "
                        f"the shape of the indexed tensor {list(shape)} at index {d + j}"
                    )
            key.extend(mask.nonzero())
            d += mask.ndim
            adv = True
        else:
            arr = c[1]
            n = shape[d]
            if arr.size and (arr.min() < -n or arr.max() >= n):
                bad = arr[(arr < -n) | (arr >= n)].flat[0]
                raise _out_of_bounds(int(bad), d, n)
            key.append(arr)
            d += 1
            adv = True
    if not adv:
        if not ellipses:
            key.append(Ellipsis)  # keeps NumPy from returning a scalar instead of a 0-d view
        return tuple(key), last
    try:
        np.broadcast_shapes(*(k.shape for k in key if type(k) is np.ndarray))
    except ValueError:
        shapes = ", ".join(str(list(k.shape)) for k in key if type(k) is np.ndarray)
        raise IndexError(
            f"shape mismatch: indexing tensors could not be broadcast together with shapes {shapes}"
        ) from None
    if has_int and not _adjacent(key):
        return _torch_layout(key, shape), "index"
    return tuple(key), "index"


def _adjacent(key: list) -> bool:
    """Whether NumPy sees the advanced indices (ints included) as one contiguous group."""
    pos = [i for i, k in enumerate(key) if type(k) in (int, bool, np.ndarray)]
    return pos[-1] - pos[0] == len(pos) - 1


def _torch_layout(key: list, shape: tuple) -> tuple:
    """Rewrite a key mixing ints and separated arrays into an all-advanced NumPy key.

    PyTorch selects the int dimensions first, then places the broadcast index dimensions where
    the (now adjacent) arrays are; NumPy would move them to the front. An all-advanced key (one
    broadcasting index array per input dimension) yields PyTorch's layout exactly.
    """
    nd = len(shape)
    consumed = sum(1 for k in key if not (k is None or k is Ellipsis or type(k) is bool))
    items = []
    for k in key:
        if k is Ellipsis:
            items.extend([slice(None)] * (nd - consumed))
        else:
            items.append(k)
    if not any(k is Ellipsis for k in key):
        items.extend([slice(None)] * (nd - consumed))
    slots, arrays, per_dim = [], [], [None] * nd
    d = 0
    for k in items:
        if k is None:
            slots.append(("new",))
        elif type(k) is bool:
            slots.append("adv")
            arrays.append((None, np.zeros(int(k), dtype=np.intp)))
        elif type(k) is int:
            per_dim[d] = np.asarray(k)
            d += 1
        elif type(k) is slice:
            slots.append(("dim", d, k))
            d += 1
        else:
            slots.append("adv")
            arrays.append((d, k))
            d += 1
    bshape = np.broadcast_shapes(*(a.shape for _, a in arrays))
    pos = [i for i, s in enumerate(slots) if s == "adv"]
    rest = [s for s in slots if s != "adv"]
    at = pos[0] if pos[-1] - pos[0] == len(pos) - 1 else 0
    layout = rest[:at] + ["block"] + rest[at:]
    nout = sum(len(bshape) if s == "block" else 1 for s in layout)
    q = 0
    for s in layout:
        if s == "block":
            for dd, a in arrays:
                if dd is not None:
                    per_dim[dd] = np.broadcast_to(a, bshape).reshape(
                        (1,) * q + bshape + (1,) * (nout - q - len(bshape))
                    )
            q += len(bshape)
            continue
        if s[0] == "dim":
            _, dd, sl = s
            per_dim[dd] = np.arange(shape[dd])[sl].reshape((1,) * q + (-1,) + (1,) * (nout - q - 1))
        q += 1
    return tuple(per_dim)


def unwrap_index(index, shape: tuple) -> tuple:
    """Return the NumPy key equivalent to ``index`` on a tensor of ``shape`` (PyTorch semantics).

    ``array[unwrap_index(index, shape)] = value`` performs ``tensor[index] = value``.
    """
    return _parse(index, tuple(shape))[0]


# ----------------------------------------------------------------- tensor[index]


def getitem(input: Tensor, index) -> Tensor:
    """Return ``input[index]`` with PyTorch's indexing rules (the engine of ``__getitem__``).

    Ints, slices, ``None`` and ``...`` give a view; integer and boolean tensors (or lists) index
    like NumPy's advanced indexing and give a copy. Negative slice steps are not allowed.

    >>> x = fluxion.arange(6).reshape(2, 3)
    >>> x[1], x[:, 1:], x[x > 3]
    (tensor([3, 4, 5]), tensor([[1, 2],
            [4, 5]]), tensor([4, 5]))
    """
    shape = input._data.shape
    if type(index) is int and shape:  # fast path: x[i]
        n = shape[0]
        if not -n <= index < n:
            raise _out_of_bounds(index, 0, n)
        return _VIEWS["select"](input, (index, Ellipsis))
    if type(index) is slice and shape:  # fast path: x[a:b] (PyTorch always records a slice)
        return _VIEWS["slice"](input, (_check_slice(index), Ellipsis))
    key, kind = _parse(index, shape)
    return _VIEWS[kind](input, key)


# ----------------------------------------------------------------- index_put (setitem)


def _index_put_fwd(xp, input, values, key, accumulate=False):
    out = input.copy()
    v = values if hasattr(values, "dtype") else xp.asarray(values, dtype=input.dtype)
    try:
        if accumulate:
            xp.add.at(out, key, v)
        else:
            out[key] = v
    except ValueError:
        target = list(xp.empty(input.shape, dtype=bool)[key].shape)
        raise RuntimeError(
            f"index_put: shape mismatch: value tensor of shape {list(v.shape)} cannot be "
            f"broadcast to indexing result of shape {target}"
        ) from None
    return out


def _index_put_input_grad(grad, key, accumulate):
    return grad if accumulate else _index_put(grad, 0.0, key, False)


_index_put = defop(
    "index_put",
    _index_put_fwd,
    grads={
        "input": _index_put_input_grad,
        "values": lambda grad, key: _take(grad, key),
    },
    broadcasts=True,
)


def _check_values(input: Tensor, values, op: str):
    if isinstance(values, Tensor) and values._data.dtype != input._data.dtype:
        raise RuntimeError(
            f"{op}: Index put requires the source and destination dtypes match, got "
            f"{_scalar_name(input._data.dtype)} for the destination and "
            f"{_scalar_name(values._data.dtype)} for the source."
        )


def index_put(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """Return a copy of ``input`` with ``values`` written (or added) at ``input[indices]``.

    ``indices`` is a tuple of index tensors, one per leading dimension (ints and slices are also
    accepted, as in ``tensor[index]``). With ``accumulate``, repeated indices add up.

    >>> fluxion.zeros(3).index_put((fluxion.tensor([0, 0, 2]),), fluxion.tensor(1.0), True)
    tensor([2., 0., 1.])
    """
    indices = tuple(indices) if isinstance(indices, (list, tuple)) else (indices,)
    for i, ix in enumerate(indices):
        if ix is None:
            raise TypeError(f"index_put(): expected Tensor as element {i} of indices, got None")
    if _as_masked_fill(indices, values, accumulate):
        # PyTorch runs masked_fill_(mask, values.item()) here: a checked cast to input's dtype
        if values._data.dtype != input._data.dtype:
            _scalar_as(_xp, values._data.reshape(()).item(), input._data.dtype)
            values = values.to(_dt.FROM_NP[input._data.dtype])
    else:
        _check_values(input, values, "index_put")
    return _index_put(input, values, _parse(indices, input._data.shape)[0], bool(accumulate))


def _as_masked_fill(indices: tuple, values, accumulate) -> bool:
    """PyTorch's canDispatchToMaskedFill: one bool mask, one value, no accumulation."""
    return (
        not accumulate
        and len(indices) == 1
        and isinstance(indices[0], Tensor)
        and indices[0]._data.dtype.kind == "b"
        and isinstance(values, Tensor)
        and values._data.size == 1
    )


def index_put_for_setitem(input: Tensor, index, value) -> Tensor:
    """Out-of-place ``input[index] = value`` (``value`` broadcast), for ``Tensor.__setitem__``.

    Basic indices cast ``value`` to ``input``'s dtype (PyTorch copies into the view); advanced
    indices require the same dtype, as PyTorch's ``index_put_``.
    """
    key, kind = _parse(index, input._data.shape)
    if isinstance(value, Tensor) and value._data.dtype != input._data.dtype:
        if kind == "index":
            _check_values(input, value, "setitem")
        value = value.to(input.dtype)
    return _index_put(input, value, key, False)


# ----------------------------------------------------------------- index_select, gather, scatter


def _index_tensor(index, op: str, arg: str = "index") -> np.ndarray:
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}(): argument '{arg}' must be Tensor, not {type(index).__name__}")
    if _TRACE[0] is not None:
        _TRACE[0].escape(index, "an index")
    arr = index._data
    if arr.dtype not in _INDEX_DTYPES:
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index (got {index.dtype})")
    return arr


def _vector_index(index, op: str, n: int, d: int, wrap: bool) -> np.ndarray:
    """A 0-d or 1-d index along a dimension of size ``n``, bounds-checked."""
    arr = _index_tensor(index, op)
    if arr.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector (got shape {list(arr.shape)})")
    arr = arr.reshape(-1)
    if arr.size and (arr.min() < (-n if wrap else 0) or arr.max() >= n):
        bad = int(arr[(arr < (-n if wrap else 0)) | (arr >= n)][0])
        if op == "index_select":
            raise IndexError(
                f"index_select(): index out of range in self (index {bad}, dimension {d} of "
                f"size {n})"
            )
        raise RuntimeError(f"{op}(): index {bad} is out of bounds for dimension {d} with size {n}")
    return arr


def _index_select_fwd(xp, input, dim, index):
    d = norm_dim(dim, input.ndim, "index_select")
    arr = input.reshape((1,)) if input.ndim == 0 else input
    out = xp.take(arr, _vector_index(index, "index_select", arr.shape[d], d, False), axis=d)
    return out.reshape(()) if input.ndim == 0 else out


def _index_select_grad(grad, input_shape, dim, index):
    return index_add(grad.new_zeros(input_shape), dim, index, grad)


index_select = _doc(
    defop("index_select", _index_select_fwd, grads={"input": _index_select_grad}),
    """Return the entries of ``input`` at ``index`` (a 1-D int tensor) along ``dim``.

    >>> fluxion.tensor([[1, 2], [3, 4]]).index_select(0, fluxion.tensor([1, 1]))
    tensor([[3, 4],
            [3, 4]])
    """,
)


def _grid(xp, idx, dim: int) -> tuple:
    """Coordinates of every element of ``idx`` with ``idx`` itself along ``dim`` (open grid)."""
    nd = idx.ndim
    return tuple(
        idx if d == dim else xp.arange(s).reshape((1,) * d + (s,) + (1,) * (nd - d - 1))
        for d, s in enumerate(idx.shape)
    )


def _check_gather_like(op: str, input, idx, dim: int, src=None, wrap=False) -> int:
    """PyTorch's shape and bounds checks for gather/scatter; returns the normalised dim."""
    nd = max(input.ndim, 1)
    d = norm_dim(dim, input.ndim, op)
    if idx.ndim != input.ndim and not (idx.ndim <= 1 and input.ndim <= 1):
        raise RuntimeError(
            f"{op}(): Index tensor must have the same number of dimensions as "
            f"{'input' if op == 'gather' else 'self'} tensor (index shape {list(idx.shape)}, "
            f"input shape {list(input.shape)})"
        )
    ishape = input.shape or (1,)
    for j in range(nd):
        size = idx.shape[j] if idx.ndim else 1
        if (j != d and size > ishape[j]) or (src is not None and size > (src.shape or (1,))[j]):
            raise RuntimeError(
                f"{op}(): Expected index {list(idx.shape)} to be no larger than self "
                f"{list(input.shape)} apart from dimension {d}"
                + (
                    f" and to be no larger size than src {list(src.shape)}"
                    if src is not None
                    else ""
                )
            )
    n = ishape[d]
    if idx.size and (idx.min() < (-n if wrap else 0) or idx.max() >= n):
        bad = int(idx[(idx < (-n if wrap else 0)) | (idx >= n)].flat[0])
        raise RuntimeError(f"{op}(): index {bad} is out of bounds for dimension {d} with size {n}")
    return d


def _gather_fwd(xp, input, dim, index, *, sparse_grad=False):
    idx = _index_tensor(index, "gather")
    d = _check_gather_like("gather", input, idx, dim)
    if input.ndim == 0:
        return xp.broadcast_to(input, idx.shape).copy()  # every index is 0 (checked above)
    return input[_grid(xp, idx, d)]


def _gather_grad(grad, input_shape, dim, index):
    return scatter_add(grad.new_zeros(input_shape), dim, index, grad)


gather = _doc(
    defop("gather", _gather_fwd, grads={"input": _gather_grad}),
    """Pick ``input`` values along ``dim``: ``out[i][j] = input[i][index[i][j]]`` for dim 1.

    >>> fluxion.tensor([[1, 2], [3, 4]]).gather(1, fluxion.tensor([[1], [0]]))
    tensor([[2],
            [3]])
    """,
)


def _pad_to(g: Tensor, shape: tuple) -> Tensor:
    """Embed ``g`` in zeros of ``shape`` (src larger than index: unused entries get 0)."""
    if tuple(g.shape) == tuple(shape):
        return g
    return _index_backward(g, tuple(shape), tuple(slice(0, s) for s in g.shape))


def _src_part(src, idx):
    return src[tuple(slice(0, s) for s in idx.shape)] if src.shape != idx.shape else src


def _check_src_dtype(op: str, input, src) -> None:
    if src.dtype != input.dtype:
        raise RuntimeError(
            f"{op}(): Expected self.dtype to be equal to src.dtype (got {input.dtype} and "
            f"{src.dtype})"
        )


def _scatter_fwd(xp, input, src, dim, index):
    idx = _index_tensor(index, "scatter")
    _check_src_dtype("scatter", input, src)
    d = _check_gather_like("scatter", input, idx, dim, src)
    out = input.copy()
    out[_grid(xp, idx, d)] = _src_part(src, idx)  # duplicates: the last write wins
    return out


def _scatter_value_fwd(xp, input, dim, index, value):
    idx = _index_tensor(index, "scatter")
    d = _check_gather_like("scatter", input, idx, dim)
    out = input.copy()
    out[_grid(xp, idx, d)] = _scalar_as(xp, value, input.dtype)
    return out


_scatter_src = defop(
    "scatter",
    _scatter_fwd,
    grads={
        "input": lambda grad, dim, index: scatter(grad, dim, index, 0.0),
        "src": lambda grad, src_shape, dim, index: _pad_to(grad.gather(dim, index), src_shape),
    },
)
_scatter_value = defop(
    "scatter_value",
    _scatter_value_fwd,
    grads={"input": lambda grad, dim, index: scatter(grad, dim, index, 0.0)},
    node_name="ScatterBackward1",
)


def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None, reduce=None):
    """Return a copy of ``input`` with ``src`` (or ``value``) written at ``index`` along ``dim``.

    ``out[i][index[i][j]] = src[i][j]`` for ``dim=1`` (and likewise for other dims). Where
    ``index`` repeats a position, which write wins is unspecified (as in PyTorch).

    >>> fluxion.zeros(3).scatter(0, fluxion.tensor([2, 0]), fluxion.tensor([5.0, 7.0]))
    tensor([7., 0., 5.])
    """
    if reduce is not None:
        raise NotImplementedError(
            "scatter(reduce=...) is not supported; use scatter_add or index_put(accumulate=True)"
        )
    if src is None:
        if value is None:
            raise TypeError("scatter(): expected either 'src' (a Tensor) or 'value' (a number)")
        src = value
    if isinstance(src, Tensor):
        return _scatter_src(input, src, dim, index)
    return _scatter_value(input, dim, index, src)


def _scatter_add_fwd(xp, input, src, dim, index):
    idx = _index_tensor(index, "scatter_add")
    _check_src_dtype("scatter_add", input, src)
    d = _check_gather_like("scatter_add", input, idx, dim, src)
    out = input.copy()
    xp.add.at(out, _grid(xp, idx, d), _src_part(src, idx))
    return out


_scatter_add = defop(
    "scatter_add",
    _scatter_add_fwd,
    grads={
        "input": lambda grad: grad,
        "src": lambda grad, src_shape, dim, index: _pad_to(grad.gather(dim, index), src_shape),
    },
)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """Return a copy of ``input`` with ``src`` added at ``index`` along ``dim`` (repeats sum).

    >>> fluxion.zeros(3).scatter_add(0, fluxion.tensor([2, 2]), fluxion.tensor([5.0, 7.0]))
    tensor([ 0.,  0., 12.])
    """
    return _scatter_add(input, src, dim, index)


# ----------------------------------------------------------------- masks


def _check_mask(mask, op: str) -> None:
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}(): argument 'mask' must be Tensor, not {type(mask).__name__}")
    if mask._data.dtype.kind != "b":
        raise RuntimeError(
            f"{op} only supports boolean masks, but got mask with dtype {mask.dtype}"
        )


def _masked_fill_fwd(xp, input, mask, value):
    if hasattr(value, "dtype"):  # a 0-d tensor: PyTorch fills with value.item(), checked
        value = value.item()
    return xp.where(mask, _scalar_as(xp, value, input.dtype), input)


def _masked_fill_input_grad(grad, mask):
    return grad.masked_fill(mask, 0.0)


_masked_fill_scalar = defop(
    "masked_fill",
    _masked_fill_fwd,
    grads={"input": _masked_fill_input_grad},
    inputs=("input", "mask"),
    broadcasts=True,
)
_masked_fill_tensor = defop(
    "masked_fill_tensor",
    _masked_fill_fwd,
    grads={
        "input": _masked_fill_input_grad,
        "value": lambda grad, mask, value_dtype: (
            grad.masked_fill(mask.logical_not(), 0.0).sum().to(value_dtype)
        ),
    },
    inputs=("input", "mask", "value"),
    broadcasts=True,
    node_name="MaskedFillBackward1",
)


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """Return a copy of ``input`` with ``value`` where the boolean ``mask`` (broadcast) is True.

    ``value`` is a number or a 0-d tensor (whose gradient is the sum of the filled gradients).

    >>> fluxion.zeros(3).masked_fill(fluxion.tensor([True, False, True]), 2.0)
    tensor([2., 0., 2.])
    """
    _check_mask(mask, "masked_fill")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(
                f"masked_fill only supports a 0-dimensional value tensor, but got tensor with "
                f"{value.ndim} dimension(s)."
            )
        return _masked_fill_tensor(input, mask, value)
    return _masked_fill_scalar(input, mask, value)


def _masked_select_fwd(xp, input, mask):
    shape = xp.broadcast_shapes(input.shape, mask.shape)
    return xp.broadcast_to(input, shape)[xp.broadcast_to(mask, shape)]


def _masked_select_grad(grad, input_shape, mask):
    shape = _xp.broadcast_shapes(tuple(input_shape), mask._data.shape)
    key = _xp.broadcast_to(mask._data, shape).nonzero()
    return _index_backward(grad, shape, key)  # the engine sums it back to input_shape


_masked_select = defop(
    "masked_select",
    _masked_select_fwd,
    grads={"input": _masked_select_grad},
    inputs=("input", "mask"),
    broadcasts=True,
)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """Return the 1-D tensor of the elements of ``input`` where ``mask`` (broadcast) is True.

    >>> fluxion.tensor([1.0, 2.0, 3.0]).masked_select(fluxion.tensor([True, False, True]))
    tensor([1., 3.])
    """
    _check_mask(mask, "masked_select")
    return _masked_select(input, mask)


# ----------------------------------------------------------------- index_add, index_fill


def _index_add_fwd(xp, input, source, dim, index, alpha=1):
    d = norm_dim(dim, input.ndim, "index_add")
    nd = max(input.ndim, 1)
    arr = input.reshape((1,)) if input.ndim == 0 else input
    idx = _vector_index(index, "index_add", arr.shape[d], d, False)
    if source.dtype != input.dtype:
        raise RuntimeError(
            f"index_add(): self ({_scalar_name(input.dtype)}) and source "
            f"({_scalar_name(source.dtype)}) must have the same scalar type"
        )
    src = source.reshape((1,)) if source.ndim == 0 else source
    expect = arr.shape[:d] + (idx.size,) + arr.shape[d + 1 :]
    if src.shape != expect and not (src.ndim == nd and src.size == 0 == idx.size):
        raise RuntimeError(
            f"index_add(): source tensor shape must match self tensor shape, excluding the "
            f"specified dimension. Got self.shape = {list(input.shape)} source.shape = "
            f"{list(source.shape)} (index has {idx.size} entries)"
        )
    out = arr.copy()
    xp.add.at(out, (slice(None),) * d + (idx,), src if alpha == 1 else src * alpha)
    return out.reshape(input.shape)


def _index_add_source_grad(grad, source_shape, dim, index, alpha):
    g = grad.index_select(dim, index)
    g = g if alpha == 1 else g * alpha
    return g.reshape(source_shape) if tuple(g.shape) != tuple(source_shape) else g


_index_add = defop(
    "index_add",
    _index_add_fwd,
    grads={"input": lambda grad: grad, "source": _index_add_source_grad},
)


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    """Return a copy of ``input`` with ``alpha * source`` added at ``index`` along ``dim``.

    >>> fluxion.zeros(3).index_add(0, fluxion.tensor([0, 0]), fluxion.tensor([1.0, 2.0]))
    tensor([3., 0., 0.])
    """
    return _index_add(input, source, dim, index, alpha)


def _index_fill_key(shape, dim, index):
    d = norm_dim(dim, len(shape), "index_fill")
    idx = _vector_index(index, "index_fill", (shape or (1,))[d], d, True)
    if not shape:  # a 0-d input: index [0] or [] selects the element or nothing
        return (np.bool_(idx.size > 0),)
    return (slice(None),) * d + (idx,)


def _index_fill_fwd(xp, input, dim, index, value):
    out = input.copy()
    if not hasattr(value, "dtype"):
        value = _scalar_as(xp, value, input.dtype)
    out[_index_fill_key(input.shape, dim, index)] = value
    return out


def _index_fill_tensor_fwd(xp, input, value, dim, index):
    return _index_fill_fwd(xp, input, dim, index, _scalar_as(xp, value.item(), input.dtype))


def _index_fill_input_grad(grad, dim, index):
    return grad.index_fill(dim, index, 0.0)


_index_fill_scalar = defop("index_fill", _index_fill_fwd, grads={"input": _index_fill_input_grad})
_index_fill_tensor = defop(
    "index_fill_tensor",
    _index_fill_tensor_fwd,
    grads={
        "input": _index_fill_input_grad,
        "value": lambda grad, value_dtype, dim, index: (
            (grad - grad.index_fill(dim, index, 0.0)).sum().to(value_dtype)
        ),
    },
    node_name="IndexFillBackward1",
)


def index_fill(input: Tensor, dim: int, index: Tensor, value) -> Tensor:
    """Return a copy of ``input`` filled with ``value`` at ``index`` along ``dim``.

    >>> fluxion.zeros(2, 2).index_fill(1, fluxion.tensor([1]), 5.0)
    tensor([[0., 5.],
            [0., 5.]])
    """
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(
                f"index_fill(): only supports a 0-dimensional value tensor, but got tensor with "
                f"{value.ndim} dimension(s)."
            )
        return _index_fill_tensor(input, value, dim, index)
    return _index_fill_scalar(input, dim, index, value)


# ----------------------------------------------------------------- take_along_dim, nonzero


def take_along_dim(input: Tensor, indices: Tensor, dim=None) -> Tensor:
    """Pick values along ``dim`` at ``indices`` (broadcast against ``input``); flat if no dim.

    >>> x = fluxion.tensor([[10.0, 30.0], [60.0, 20.0]])
    >>> x.take_along_dim(x.argmax(1, keepdim=True), 1)
    tensor([[30.],
            [60.]])
    """
    idx = _index_tensor(indices, "take_along_dim", "indices")
    if dim is None:
        flat = input.reshape(-1)
        return gather(flat, 0, _wrap_negative(indices.reshape(-1), flat.shape[0]))
    if input.ndim != idx.ndim:
        raise RuntimeError(
            f"take_along_dim(): input and indices should have the same number of dimensions, but "
            f"got {input.ndim} dimensions for input, and {idx.ndim} dimensions for indices"
        )
    d = norm_dim(dim, input.ndim, "take_along_dim")
    shape = list(
        _xp.broadcast_shapes(
            *(tuple(1 if j == d else s for j, s in enumerate(a)) for a in (input.shape, idx.shape))
        )
    )
    in_shape, idx_shape = list(shape), list(shape)
    in_shape[d], idx_shape[d] = input.shape[d], idx.shape[d]
    if tuple(in_shape) != tuple(input.shape):
        input = input.expand(in_shape)
    if tuple(idx_shape) != tuple(idx.shape):
        indices = indices.expand(idx_shape)
    return gather(input, d, _wrap_negative(indices, input.shape[d]))


def _wrap_negative(indices: Tensor, n: int) -> Tensor:
    arr = indices._data
    if arr.size and arr.min() < 0:
        from ..tensor import _wrap

        return _wrap(_xp.where(arr < 0, arr + n, arr))
    return indices


_nonzero = defop("nonzero", lambda xp, input: xp.argwhere(input), NOT_DIFFERENTIABLE)


def nonzero(input: Tensor, *, as_tuple: bool = False):
    """Return the indices of the non-zero elements: an (n, ndim) tensor, or one 1-D per dim.

    >>> fluxion.tensor([0, 3, 0, 4]).nonzero()
    tensor([[1],
            [3]])
    """
    if not as_tuple:
        return _nonzero(input)
    from ..tensor import _wrap

    arr = input._data
    return tuple(_wrap(a) for a in (arr.reshape(-1) if arr.ndim == 0 else arr).nonzero())
