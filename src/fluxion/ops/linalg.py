"""Linear algebra: matmul and its special cases (mm, bmm, mv, dot), outer, addmm, einsum.

``matmul`` follows PyTorch's rules for every combination of 1-D, 2-D and batched operands and
dispatches to the op PyTorch would use, so ``grad_fn`` names match (``MmBackward0``,
``MvBackward0``, ``DotBackward0``; batched products are ``UnsafeViewBackward0``). Every rule is
written with these ops, so double backward works. Operands must share a dtype, as in PyTorch
(no promotion); integer products work without gradients, bool products are not implemented.
"""

from __future__ import annotations

import string

from .. import creation as _creation
from .. import dtypes as _dt
from ..tensor import Tensor
from ._registry import defop, sum_to
from ._registry import with_doc as _doc
from ._registry import xp as _xp
from .elementwise import _scalar_as

__all__ = [
    "matmul",
    "mm",
    "bmm",
    "mv",
    "dot",
    "outer",
    "addmm",
    "baddbmm",
    "addmv",
    "einsum",
]

# C++ scalar names that PyTorch prints in dtype errors of matrix products
_CTYPE = {
    "float16": "c10::Half",
    "float32": "float",
    "float64": "double",
    "int64": "long int",
    "int32": "int",
    "int16": "short int",
    "int8": "signed char",
    "uint8": "unsigned char",
    "bool": "bool",
}


def _x(shape) -> str:
    return "x".join(str(s) for s in shape)


def _same_dtype(op: str, a, b) -> None:
    """Matrix products do not promote: both operands need one dtype (bool is not supported)."""
    if a.dtype != b.dtype:
        raise RuntimeError(
            f"{op}: expected m1 and m2 to have the same dtype, but got: {_CTYPE[a.dtype.name]} "
            f"!= {_CTYPE[b.dtype.name]}; cast one operand, e.g. b.to(a.dtype)"
        )
    if a.dtype.kind == "b":
        raise NotImplementedError(
            f"{op}: \"addmm_impl_cpu_\" not implemented for 'Bool'; convert the operands with "
            ".float() or .long() first"
        )


def _need_ndim(op: str, name: str, a, ndim: int, hint: str) -> None:
    if a.ndim != ndim:
        raise RuntimeError(
            f"{op}: {name} must be a {ndim}-D tensor, but got a {a.ndim}-D tensor of shape "
            f"{tuple(a.shape)}; {hint}"
        )


# ------------------------------------------------------------------------ mm, bmm, mv, dot, outer


def _mm_fwd(xp, input, mat2):
    _need_ndim("mm", "self (mat1)", input, 2, "use matmul for 1-D or batched operands")
    _need_ndim("mm", "mat2", mat2, 2, "use matmul for 1-D or batched operands")
    if input.shape[1] != mat2.shape[0]:
        raise RuntimeError(
            f"mm: mat1 and mat2 shapes cannot be multiplied ({_x(input.shape)} and "
            f"{_x(mat2.shape)}); mat1.shape[1] ({input.shape[1]}) must equal mat2.shape[0] "
            f"({mat2.shape[0]})"
        )
    _same_dtype("mm", input, mat2)
    return xp.matmul(input, mat2)


def _mat2_grad(grad, mat1, colmajor: bool):
    """``mat1.T @ grad``, computed in the layout of ``mat2`` (PyTorch's mm_mat2_backward).

    For a column-major ``mat2`` (``weight.t()`` in a linear layer) the product is formed as
    ``(grad.T @ mat1).T``: then the weight's gradient arrives row-major, and its leaf can keep
    the array instead of copying it into the weight's layout.
    """
    return mm(grad.t(), mat1).t() if colmajor else mm(mat1.t(), grad)


def _mat2_grad_raw(grad, mat1, colmajor: bool):
    return _xp.matmul(grad.T, mat1).T if colmajor else _xp.matmul(mat1.T, grad)


mm = _doc(
    defop(
        "mm",
        _mm_fwd,
        grads={
            "input": lambda grad, mat2: mm(grad, mat2.t()),
            "mat2": lambda grad, input, mat2_colmajor: _mat2_grad(grad, input, mat2_colmajor),
        },
        raw_grads={  # the same products on raw arrays (first-order backward)
            "input": lambda grad, mat2: _xp.matmul(grad, mat2.T),
            "mat2": lambda grad, input, mat2_colmajor: _mat2_grad_raw(grad, input, mat2_colmajor),
        },
        replay=lambda xp, input, mat2: xp.matmul(input, mat2),
    ),
    """Multiply two matrices: ``(n, k) @ (k, m) -> (n, m)``.

    >>> fluxion.mm(fluxion.tensor([[1., 2.]]), fluxion.tensor([[3.], [4.]]))
    tensor([[11.]])
    """,
)


def _bmm_fwd(xp, input, mat2):
    _need_ndim("bmm", "batch1", input, 3, "use matmul for broadcasting batch dimensions")
    _need_ndim("bmm", "batch2", mat2, 3, "use matmul for broadcasting batch dimensions")
    if input.shape[0] != mat2.shape[0] or input.shape[2] != mat2.shape[1]:
        raise RuntimeError(
            f"bmm: Expected size for first two dimensions of batch2 tensor to be: "
            f"[{input.shape[0]}, {input.shape[2]}] but got: [{mat2.shape[0]}, {mat2.shape[1]}] "
            f"(batch1 has shape {tuple(input.shape)}, batch2 has shape {tuple(mat2.shape)})"
        )
    _same_dtype("bmm", input, mat2)
    return xp.matmul(input, mat2)


bmm = _doc(
    defop(
        "bmm",
        _bmm_fwd,
        grads={
            "input": lambda grad, mat2: bmm(grad, mat2.transpose(1, 2)),
            "mat2": lambda grad, input: bmm(input.transpose(1, 2), grad),
        },
    ),
    """Multiply two batches of matrices: ``(b, n, k) @ (b, k, m) -> (b, n, m)``.

    >>> fluxion.bmm(fluxion.ones(2, 1, 3), fluxion.ones(2, 3, 2)).shape
    fluxion.Size([2, 1, 2])
    """,
)


def _mv_fwd(xp, input, vec):
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(
            f"mv: vector + matrix @ vector expected, got a {input.ndim}-D matrix of shape "
            f"{tuple(input.shape)} and a {vec.ndim}-D vector of shape {tuple(vec.shape)}"
        )
    if input.shape[1] != vec.shape[0]:
        raise RuntimeError(
            f"mv: size mismatch, got input ({input.shape[0]}), mat ({_x(input.shape)}), vec "
            f"({vec.shape[0]}); mat.shape[1] must equal vec.shape[0]"
        )
    _same_dtype("mv", input, vec)
    return xp.matmul(input, vec)


mv = _doc(
    defop(
        "mv",
        _mv_fwd,
        grads={
            "input": lambda grad, vec: outer(grad, vec),
            "vec": lambda grad, input: mv(input.t(), grad),
        },
    ),
    """Multiply a matrix by a vector: ``(n, k) @ (k,) -> (n,)``.

    >>> fluxion.mv(fluxion.tensor([[1., 2.], [3., 4.]]), fluxion.tensor([1., 1.]))
    tensor([3., 7.])
    """,
)


def _dot_fwd(xp, input, other):
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(
            f"dot: 1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors (shapes "
            f"{tuple(input.shape)} and {tuple(other.shape)}); use matmul for matrices"
        )
    if input.shape[0] != other.shape[0]:
        raise RuntimeError(
            f"dot: inconsistent tensor size, expected tensor [{input.shape[0]}] and src "
            f"[{other.shape[0]}] to have the same number of elements, but got {input.shape[0]} "
            f"and {other.shape[0]} elements respectively"
        )
    if input.dtype != other.dtype:
        raise RuntimeError(
            f"dot : expected both vectors to have same dtype, but found "
            f"{_dt.scalar_name(input.dtype)} and {_dt.scalar_name(other.dtype)}"
        )
    _same_dtype("dot", input, other)
    return xp.dot(input, other)


dot = _doc(
    defop(
        "dot",
        _dot_fwd,
        grads={
            "input": lambda grad, other: grad * other,
            "other": lambda grad, input: grad * input,
        },
    ),
    """Return the inner product of two 1-D tensors.

    >>> fluxion.dot(fluxion.tensor([1., 2.]), fluxion.tensor([3., 4.]))
    tensor(11.)
    """,
)


def _outer_fwd(xp, input, vec2):
    for name, v in (("self", input), ("vec2", vec2)):
        if v.ndim != 1:
            raise RuntimeError(
                f"outer: Expected 1-D argument {name}, but got {v.ndim}-D (shape {tuple(v.shape)})"
            )
    return xp.multiply.outer(input, vec2)


# PyTorch computes outer as input[:, None] * vec2 (promoting dtypes), hence MulBackward0; the
# rules use mul + sum (not mv) so that promoted, mixed-dtype operands also work
outer = _doc(
    defop(
        "outer",
        _outer_fwd,
        promote="promote",
        node_name="MulBackward0",
        grads={
            "input": lambda grad, vec2: (grad * vec2).sum(1),
            "vec2": lambda grad, input: (grad * input.unsqueeze(1)).sum(0),
        },
    ),
    """Return the outer product ``input[:, None] * vec2[None, :]`` of two 1-D tensors.

    >>> fluxion.outer(fluxion.tensor([1., 2.]), fluxion.tensor([1., 10.]))
    tensor([[ 1., 10.],
            [ 2., 20.]])
    """,
)

# ------------------------------------------------------------------------ matmul


def _vm_fwd(xp, input, other):
    return xp.matmul(input, other)


# 1-D @ 2-D: PyTorch unsqueezes, runs mm and squeezes, so the node is SqueezeBackward4
_vm = defop(
    "vm",
    _vm_fwd,
    node_name="SqueezeBackward4",
    grads={
        "input": lambda grad, other: mv(other, grad),
        "other": lambda grad, input: outer(input, grad),
    },
)


def _batch_broadcast(a_shape: tuple, b_shape: tuple) -> None:
    """Raise PyTorch's error when the batch dimensions of matmul do not broadcast."""
    ba, bb = a_shape[:-2], b_shape[:-2]
    n = max(len(ba), len(bb))
    ba, bb = (1,) * (n - len(ba)) + ba, (1,) * (n - len(bb)) + bb
    for i, (x, y) in enumerate(zip(ba, bb)):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(
                f"matmul: the batch dimensions of input {a_shape} and other {b_shape} do not "
                f"broadcast: The size of tensor a ({x}) must match the size of tensor b ({y}) "
                f"at non-singleton dimension {i}"
            )


def _matmul_nd_fwd(xp, input, other):
    _batch_broadcast(tuple(input.shape), tuple(other.shape))
    return xp.matmul(input, other)


def _grad_as_matrices(grad, input, other):
    """Put back the dimensions a 1-D operand dropped from the output (row / column)."""
    if input.ndim == 1:
        grad = grad.unsqueeze(-2)
    if other.ndim == 1:
        grad = grad.unsqueeze(-1)
    return grad


def matmul_backward_input(grad, input, other):
    """Gradient of ``matmul`` w.r.t. ``input`` for any ranks; broadcast batch dims summed back.

    1-D operands are treated as PyTorch does: ``input`` as a row ``(1, k)``, ``other`` as a
    column ``(k, 1)``.
    """
    grad = _grad_as_matrices(grad, input, other)
    if other.ndim == 1:
        g = grad * other  # (..., n, 1) * (k,): an outer product per batch
    else:
        g = matmul(grad, other.mT)
    if input.ndim == 1:
        return sum_to(g, (1, input.shape[0])).reshape(tuple(input.shape))
    return sum_to(g, tuple(input.shape))


def matmul_backward_other(grad, input, other):
    """Gradient of ``matmul`` w.r.t. ``other`` for any ranks; broadcast batch dims summed back."""
    grad = _grad_as_matrices(grad, input, other)
    if input.ndim == 1:
        g = input.unsqueeze(-1) * grad  # (k, 1) * (..., 1, m): an outer product per batch
    else:
        g = matmul(input.mT, grad)
    if other.ndim == 1:
        return sum_to(g, (other.shape[0], 1)).reshape(tuple(other.shape))
    return sum_to(g, tuple(other.shape))


# batched products: PyTorch folds them into bmm/mm and views the result (UnsafeViewBackward0);
# a matrix times a batch is computed transposed and made contiguous (CloneBackward0)
_matmul_nd = defop(
    "matmul_nd",
    _matmul_nd_fwd,
    node_name="UnsafeViewBackward0",
    grads={"input": matmul_backward_input, "other": matmul_backward_other},
)
_matmul_nd_t = defop(
    "matmul_nd_t",
    _matmul_nd_fwd,
    node_name="CloneBackward0",
    grads={"input": matmul_backward_input, "other": matmul_backward_other},
)


def _matmul_mismatch(a: tuple, b: tuple) -> str:
    k, k2 = a[-1], (b[-2] if len(b) > 1 else b[0])
    where = "other.shape[-2]" if len(b) > 1 else "other.shape[0]"
    if len(a) <= 2 and len(b) == 2:
        what = (
            f"mat1 and mat2 shapes cannot be multiplied ({_x(a if len(a) == 2 else (1,) + a)} "
            f"and {_x(b)})"
        )
    elif len(a) == 2 and len(b) == 1:
        what = f"size mismatch, got input ({a[0]}), mat ({_x(a)}), vec ({b[0]})"
    elif len(a) == 1 and len(b) == 1:
        what = (
            f"inconsistent tensor size, expected tensor [{k}] and src [{k2}] to have the "
            f"same number of elements, but got {k} and {k2} elements respectively"
        )
    else:
        what = f"input of shape {a} and other of shape {b} cannot be multiplied"
    return f"matmul: {what}; input.shape[-1] ({k}) must equal {where} ({k2})"


def matmul(input, other):
    """Multiply tensors with PyTorch's rules for 1-D, 2-D and batched (broadcast) operands.

    1-D @ 1-D is a dot product, 2-D @ 1-D a matrix-vector product, 1-D @ 2-D a vector-matrix
    product, 2-D @ 2-D a matrix product; otherwise the last two dimensions are multiplied and
    the leading (batch) dimensions broadcast, a 1-D operand taking part as a row or column.

    >>> a = fluxion.ones(2, 3)
    >>> (a @ fluxion.ones(3)).shape, (fluxion.ones(5, 1, 2, 3) @ fluxion.ones(4, 3, 2)).shape
    (fluxion.Size([2]), fluxion.Size([5, 4, 2, 2]))
    """
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        bad = other if isinstance(input, Tensor) else input
        raise TypeError(f"matmul(): argument must be Tensor, not {type(bad).__name__}")
    a, b = input._data, other._data
    na, nb = a.ndim, b.ndim
    if na == 0 or nb == 0:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {na}D and {nb}D; "
            "use mul (*) to multiply by a scalar"
        )
    if a.shape[-1] != (b.shape[-2] if nb > 1 else b.shape[0]):
        raise RuntimeError(_matmul_mismatch(a.shape, b.shape))
    _same_dtype("matmul", a, b)
    if na <= 2 and nb <= 2:
        if na == 2:
            return mm(input, other) if nb == 2 else mv(input, other)
        return _vm(input, other) if nb == 2 else dot(input, other)
    if (
        input.requires_grad
        and nb >= 3
        and (na == 2 or (na == 3 and nb == 3 and a.shape[0] == 1 and b.shape[0] != 1))
    ):
        return _matmul_nd_t(input, other)
    return _matmul_nd(input, other)


# ------------------------------------------------------------------------ addmm, baddbmm, addmv


def _add_product(xp, op, input, prod, beta, alpha):
    if input.dtype != prod.dtype:
        raise RuntimeError(
            f"{op}: self and mat2 must have the same dtype, but got {_dt.scalar_name(input.dtype)} "
            f"and {_dt.scalar_name(prod.dtype)}"
        )
    shape = prod.shape
    lead = len(shape) - input.ndim
    if lead < 0 or any(s != 1 and s != shape[lead + i] for i, s in enumerate(input.shape)):
        raise RuntimeError(
            f"{op}: input of shape {tuple(input.shape)} does not broadcast to the shape of the "
            f"product {tuple(shape)}; give input that shape or one that expands to it"
        )
    return _combine(xp, input, prod, beta, alpha)


def _combine(xp, input, prod, beta, alpha):
    """``beta * input + alpha * prod`` (checked by ``_add_product``)."""
    # beta and alpha are converted to the dtype first: for integers 0.5 is 0, as in PyTorch
    if alpha != 1:
        prod = prod * _scalar_as(xp, alpha, prod.dtype)
    if beta == 0:  # input is ignored (NaN and inf in it do not propagate), as in PyTorch
        return prod
    return prod + (input if beta == 1 else input * _scalar_as(xp, beta, prod.dtype))


def _addmm_fwd(xp, input, mat1, mat2, beta=1, alpha=1):
    return _add_product(xp, "addmm", input, _mm_fwd(xp, mat1, mat2), beta, alpha)


def _addmm_replay(xp, input, mat1, mat2, beta, alpha):
    return _combine(xp, input, xp.matmul(mat1, mat2), beta, alpha)


def _baddbmm_fwd(xp, input, batch1, batch2, beta=1, alpha=1):
    if batch1.ndim == 3 and batch2.ndim < 3:  # PyTorch reads batch2.size(2) first
        raise IndexError(
            f"baddbmm: Dimension out of range (expected to be in range of [{-batch2.ndim}, "
            f"{batch2.ndim - 1}], but got 2): batch2 must be a 3-D tensor, got shape "
            f"{tuple(batch2.shape)}"
        )
    return _add_product(xp, "baddbmm", input, _bmm_fwd(xp, batch1, batch2), beta, alpha)


def _addmv_fwd(xp, input, mat, vec, beta=1, alpha=1):
    if input.ndim == 0 and mat.ndim == 2 and vec.ndim == 1 and mat.shape[1] != vec.shape[0]:
        # PyTorch builds its size-mismatch message with input.size(0), which fails first
        raise IndexError(
            f"addmv: Dimension specified as 0 but tensor has no dimensions (while reporting a "
            f"size mismatch: mat ({_x(mat.shape)}), vec ({vec.shape[0]}))"
        )
    return _add_product(xp, "addmv", input, _mv_fwd(xp, mat, vec), beta, alpha)


def _scaled(g, s):
    return g if s == 1 else g * s


# NOTE: `beta`/`alpha` are keyword-only in PyTorch; positional-or-keyword here keeps one call
# path. `input` broadcasts to the product's shape (the engine sums its gradient back).
addmm = _doc(
    defop(
        "addmm",
        _addmm_fwd,
        broadcasts=True,
        grads={
            "input": lambda grad, beta: _scaled(grad, beta),
            "mat1": lambda grad, mat2, alpha: _scaled(mm(grad, mat2.t()), alpha),
            "mat2": lambda grad, mat1, mat2_colmajor, alpha: _scaled(
                _mat2_grad(grad, mat1, mat2_colmajor), alpha
            ),
        },
        raw_grads={
            "input": lambda grad, beta: _scaled(grad, beta),
            "mat1": lambda grad, mat2, alpha: _scaled(_xp.matmul(grad, mat2.T), alpha),
            "mat2": lambda grad, mat1, mat2_colmajor, alpha: _scaled(
                _mat2_grad_raw(grad, mat1, mat2_colmajor), alpha
            ),
        },
        replay=_addmm_replay,
    ),
    """Return ``beta * input + alpha * (mat1 @ mat2)``; ``input`` broadcasts.

    >>> fluxion.addmm(fluxion.ones(2), fluxion.eye(2), fluxion.eye(2), alpha=3)
    tensor([[4., 1.],
            [1., 4.]])
    """,
)
baddbmm = _doc(
    defop(
        "baddbmm",
        _baddbmm_fwd,
        broadcasts=True,
        grads={
            "input": lambda grad, beta: _scaled(grad, beta),
            "batch1": lambda grad, batch2, alpha: _scaled(bmm(grad, batch2.transpose(1, 2)), alpha),
            "batch2": lambda grad, batch1, alpha: _scaled(bmm(batch1.transpose(1, 2), grad), alpha),
        },
    ),
    """Return ``beta * input + alpha * bmm(batch1, batch2)``; ``input`` broadcasts.

    >>> fluxion.baddbmm(fluxion.zeros(3, 1, 1), fluxion.ones(3, 1, 2), fluxion.ones(3, 2, 1)).shape
    fluxion.Size([3, 1, 1])
    """,
)
addmv = _doc(
    defop(
        "addmv",
        _addmv_fwd,
        broadcasts=True,
        grads={
            "input": lambda grad, beta: _scaled(grad, beta),
            "mat": lambda grad, vec, alpha: _scaled(outer(grad, vec), alpha),
            "vec": lambda grad, mat, alpha: _scaled(mv(mat.t(), grad), alpha),
        },
    ),
    """Return ``beta * input + alpha * (mat @ vec)``; ``input`` broadcasts.

    >>> fluxion.addmv(fluxion.tensor([1., 1.]), fluxion.eye(2), fluxion.tensor([2., 3.]))
    tensor([3., 4.])
    """,
)

# ------------------------------------------------------------------------ einsum


def _einsum_fwd(xp, *operands_and_equation):
    *operands, equation = operands_and_equation
    return xp.einsum(equation, *operands, optimize=len(operands) > 1)


def einsum_operand_grad(grad, equation: str, which: int, others: list, shape: tuple):
    """Gradient of ``einsum`` w.r.t. operand ``which``: an einsum of ``grad`` and the others.

    Letters of the operand found neither in the output nor in another operand were summed
    away: the gradient is broadcast along them. Size-1 dimensions that broadcast in the forward
    are summed back, and repeated letters (diagonals) are rebuilt with identity matrices.
    """
    ins, out = equation.split("->")
    subs = ins.split(",")
    target = subs[which]
    rest = [s for i, s in enumerate(subs) if i != which]
    unique = "".join(dict.fromkeys(target))
    avail = set(out).union(*rest)
    kept = "".join(c for c in unique if c in avail)
    g = einsum(",".join([out] + rest) + "->" + kept, grad, *others)
    size = {c: shape[target.index(c)] for c in unique}
    g_shape = tuple(g.shape[kept.index(c)] if c in kept else 1 for c in unique)
    if g_shape != tuple(g.shape):
        g = g.reshape(g_shape)
    summed = tuple(i for i, c in enumerate(unique) if g_shape[i] != 1 and size[c] == 1)
    if summed:
        g = g.sum(summed, keepdim=True)
    g = g.expand(tuple(size[c] for c in unique))
    if len(unique) == len(target):
        return g
    # a repeated letter: grad[i, i'] = g[i] * eye[i, i'] (zero off the diagonal)
    fresh = iter(c for c in string.ascii_letters if c not in equation)
    seen, spelled, eyes = set(), "", []
    for c in target:
        if c in seen:
            f = next(fresh)
            eyes.append((c + f, _creation.eye(size[c], dtype=g.dtype)))
            spelled += f
        else:
            seen.add(c)
            spelled += c
    eq = ",".join([unique] + [s for s, _ in eyes]) + "->" + spelled
    return einsum(eq, g, *[e for _, e in eyes])


def _einsum1_grad(grad, equation, input_shape):
    return einsum_operand_grad(grad, equation, 0, [], input_shape)


def _einsum2_input_grad(grad, other, equation, input_shape):
    return einsum_operand_grad(grad, equation, 0, [other], input_shape)


def _einsum2_other_grad(grad, input, equation, other_shape):
    return einsum_operand_grad(grad, equation, 1, [input], other_shape)


def _einsum1_fwd(xp, input, equation):
    return _einsum_fwd(xp, input, equation)


def _einsum2_fwd(xp, input, other, equation):
    return _einsum_fwd(xp, input, other, equation)


# PyTorch has no einsum node: its graph ends in the op its implementation finishes with. One
# operand: a sum when a letter is summed away, else a permute. Two operands: a view of a bmm
# when a letter is summed away, else a mul. Same forward and rules, four names.
_E1 = {"input": _einsum1_grad}
_E2 = {"input": _einsum2_input_grad, "other": _einsum2_other_grad}
_einsum1_sum = defop("einsum1_sum", _einsum1_fwd, grads=_E1, node_name="SumBackward1")
_einsum1_permute = defop("einsum1_permute", _einsum1_fwd, grads=_E1, node_name="PermuteBackward0")
_einsum2_view = defop("einsum2_view", _einsum2_fwd, grads=_E2, node_name="ViewBackward0")
_einsum2_mul = defop("einsum2_mul", _einsum2_fwd, grads=_E2, node_name="MulBackward0")


def _summed_alone(subs_a: str, shape_a, subs_b: str, shape_b, res: str) -> bool:
    """Whether a letter summed away has a size above 1 in one operand only.

    PyTorch sums such a letter out of that operand before the product (a size of 1 is squeezed
    instead), so integer operands are summed to int64 first.
    """
    big_a = {c for c, n in zip(subs_a, shape_a) if n != 1}
    big_b = {c for c, n in zip(subs_b, shape_b) if n != 1}
    return any(c not in res for c in big_a ^ big_b)


def _sublist_equation(args: tuple) -> tuple:
    """Turn ``einsum(op1, [0, 1], op2, [1, 2], [0, 2])`` into an equation and operands."""
    n = len(args)
    pairs = args[: n - n % 2]

    def spell(sub):
        return "".join("..." if s is Ellipsis else string.ascii_letters[s] for s in sub)

    eq = ",".join(spell(s) for s in pairs[1::2])
    if n % 2:
        eq += "->" + spell(args[-1])
    return eq, pairs[0::2]


def _parse_einsum(equation: str, operands: list) -> tuple:
    """Return (subscripts per operand, output subscripts) with ``...`` spelled out in letters."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != len(operands):
        which = "more" if len(operands) > len(subs) else "fewer"
        raise RuntimeError(
            f"einsum(): {which} operands were provided than specified in the equation "
            f"{equation!r} ({len(operands)} operands, {len(subs)} subscripts)"
        )
    for s in subs + [rhs]:
        if any(not (c.isascii() and c.isalpha()) for c in s.replace("...", "")):
            raise RuntimeError(
                f"einsum(): invalid subscript in {equation!r}: subscripts must be letters in "
                "[a-zA-Z], ',' between operands, '->' before the output and '...'"
            )
    unused = [c for c in string.ascii_letters if c not in eq]
    ranks = []
    for i, (s, op) in enumerate(zip(subs, operands)):
        named = len(s.replace("...", ""))
        if "..." in s and op.ndim >= named:
            ranks.append(op.ndim - named)
        elif op.ndim != named:
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({named}) does not match "
                f"the number of dimensions ({op.ndim}) for operand {i}"
                + ("" if "..." in s else " and no ellipsis was given")
            )
    ell = "".join(unused[: max(ranks, default=0)])
    subs = [
        s.replace("...", ell[len(ell) - (op.ndim - len(s) + 3) :] if "..." in s else "")
        for s, op in zip(subs, operands)
    ]
    if arrow:
        out = rhs.replace("...", ell)
        for c in out:
            if out.count(c) > 1 or not any(c in s for s in subs):
                raise RuntimeError(
                    f"einsum(): output subscript {c} "
                    + (
                        "appears more than once in the output"
                        if out.count(c) > 1
                        else "does not appear in the equation for any input operand"
                    )
                )
    else:
        letters = "".join(subs)
        out = ell + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell)
        )
    sizes: dict = {}
    for i, (s, op) in enumerate(zip(subs, operands)):
        own: dict = {}
        for c, n in zip(s, op.shape):
            if own.setdefault(c, n) != n:
                raise RuntimeError(
                    f"einsum(): subscript {c} is repeated for operand {i} but the sizes don't "
                    f"match, {n} != {own[c]}"
                )
        for c, n in zip(s, op.shape):
            seen = sizes.get(c)
            if seen is None or seen == 1:
                sizes[c] = n
            elif n != seen and n != 1:
                raise RuntimeError(
                    f"einsum(): subscript {c} has size {n} for operand {i} which does not "
                    f"broadcast with previously seen size {seen}"
                )
    return subs, out


def einsum(equation, *operands):
    """Sum products of operands over the indices named in ``equation`` (Einstein notation).

    Supports explicit (``'ij,jk->ik'``) and implicit (``'ij,jk'``) outputs, ``...`` for
    broadcast dimensions, repeated indices (diagonals and traces), any number of operands
    (contracted left to right, two at a time), operands as one list, and the sublist form.

    >>> a, b = fluxion.ones(2, 3), fluxion.ones(3, 4)
    >>> fluxion.einsum("ij,jk->ik", a, b).shape
    fluxion.Size([2, 4])
    >>> fluxion.einsum("ii", fluxion.eye(3))
    tensor(3.)
    """
    if not isinstance(equation, str):
        equation, operands = _sublist_equation((equation,) + operands)
    elif len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    operands = list(operands)
    for op in operands:
        if not isinstance(op, Tensor):
            raise TypeError(f"einsum(): operands must be Tensors, not {type(op).__name__}")
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    for op in operands[1:]:
        if op.dtype != operands[0].dtype:
            raise RuntimeError(
                f"einsum(): expected all operands to have the same dtype, got "
                f"{operands[0].dtype} and {op.dtype}; cast them first"
            )
    subs, out = _parse_einsum(equation, operands)
    if len(operands) == 1:
        summed = any(c not in out for c in subs[0])
        op1 = _einsum1_sum if summed else _einsum1_permute
        x = operands[0]
        if summed and x.dtype.is_floating_point is False:
            x = x.to(_dt.int64)  # a sum, as in PyTorch: integers and bools sum to int64
        return op1(x, f"{subs[0]}->{out}")
    acc, acc_subs = operands[0], subs[0]
    for i in range(1, len(operands)):
        if i == len(operands) - 1:
            res = out
        else:
            later = set(out).union(*subs[i + 1 :])
            res = "".join(dict.fromkeys(c for c in acc_subs + subs[i] if c in later))
        summed = any(c not in res for c in acc_subs + subs[i])
        if acc.dtype == _dt.bool and any(c in subs[i] and c not in res for c in acc_subs):
            raise NotImplementedError("einsum(): \"bmm\" not implemented for 'Bool'")
        if (
            acc.dtype.is_floating_point is False
            and acc.dtype != _dt.bool
            and _summed_alone(acc_subs, acc.shape, subs[i], operands[i].shape, res)
        ):
            # PyTorch sums a letter found in one operand only before the product: int64
            acc, operands[i] = acc.to(_dt.int64), operands[i].to(_dt.int64)
        op2 = _einsum2_view if summed else _einsum2_mul
        acc = op2(acc, operands[i], f"{acc_subs},{subs[i]}->{res}")
        acc_subs = res
    return acc
