"""OpSpecs for the linalg family (``fluxion/ops/linalg.py``).

``matmul`` is checked on every rank combination PyTorch distinguishes (dot, mv, vector-matrix,
mm, batched with and without broadcasting, 1-D with batched, empty dimensions); ``test_op_db``
also reruns every sample with non-contiguous inputs. Integer specs check forward only (int
products have no gradient).
"""

from __future__ import annotations

import numpy as np

from .op_db import OpSpec, register

FLOATS = ("float64", "float32")
NUM = ("float64", "float32", "int64", "int32")
# float32 products of a few terms differ from torch's BLAS in the last bits
F32 = {"rtol": 1e-5, "atol": 1e-5}

MATMUL_SHAPES = [
    ((3,), (3,)),  # dot
    ((2, 3), (3,)),  # mv
    ((3,), (3, 4)),  # vector @ matrix
    ((2, 3), (3, 4)),  # mm
    ((2, 2, 3), (2, 3, 4)),  # bmm-like
    ((2, 2, 3), (3, 4)),  # batch @ matrix
    ((3, 4), (2, 4, 5)),  # matrix @ batch
    ((3,), (2, 3, 4)),  # vector @ batch
    ((2, 2, 3), (3,)),  # batch @ vector
    ((5, 2, 3, 4), (4,)),
    ((3,), (5, 2, 3, 4)),
    ((5, 1, 2, 3), (4, 3, 2)),  # broadcast batch dims
    ((2, 3, 4), (1, 4, 5)),
    ((1, 2, 3), (4, 3, 2)),
    ((2, 3), (5, 2, 3, 4)),
    ((2, 0), (0, 3)),  # empty inner dimension: zeros
    ((0, 3), (3, 2)),
    ((2, 0, 3), (2, 3, 2)),
    ((0,), (0,)),
]


def spec(name, fn, shapes=None, **kw):
    register(OpSpec(name, fn, shapes=shapes or [], **kw))


# ------------------------------------------------------------------------ matmul family

spec("matmul", lambda lib, a, b: lib.matmul(a, b), MATMUL_SHAPES, dtypes=NUM)
spec("matmul_operator", lambda lib, a, b: a @ b, [((2, 3), (3, 4)), ((2, 2, 3), (3,))])
spec("matmul_method", lambda lib, a, b: a.matmul(b), [((3,), (3, 2)), ((4, 1, 2, 3), (3, 2))])
spec(
    "matmul_only_second_requires_grad",
    lambda lib, a, b: lib.matmul(a, b),
    [((2, 3), (5, 3, 4)), ((1, 2, 3), (4, 3, 5)), ((3,), (2, 3, 4))],
    diff_args=(1,),
)
spec(
    "matmul_only_first_requires_grad",
    lambda lib, a, b: lib.matmul(a, b),
    [((2, 3), (5, 3, 4)), ((1, 2, 3), (4, 3, 5)), ((5, 2, 3), (3, 4))],
    diff_args=(0,),
)
spec(
    "matmul_rmatmul_chain",
    lambda lib, a, b, c: (a @ b) @ c,
    [((2, 3), (3, 4), (4,)), ((2, 2, 3), (3, 4), (4, 1))],
)
spec(
    "mm",
    lambda lib, a, b: lib.mm(a, b),
    [((2, 3), (3, 4)), ((1, 1), (1, 1)), ((0, 3), (3, 2)), ((2, 0), (0, 3))],
    dtypes=NUM,
)
spec("mm_method_transposed", lambda lib, a, b: a.t().mm(b), [((3, 2), (3, 4))])
spec(
    "bmm",
    lambda lib, a, b: lib.bmm(a, b),
    [
        ((2, 3, 4), (2, 4, 5)),
        ((1, 1, 3), (1, 3, 1)),
        ((0, 3, 4), (0, 4, 2)),
        ((2, 3, 0), (2, 0, 2)),
    ],
    dtypes=NUM,
)
spec(
    "mv",
    lambda lib, a, v: lib.mv(a, v),
    [((3, 4), (4,)), ((0, 4), (4,)), ((3, 0), (0,))],
    dtypes=NUM,
)
spec("dot", lambda lib, a, b: lib.dot(a, b), [((5,), (5,)), ((1,), (1,)), ((0,), (0,))], dtypes=NUM)
spec("dot_method", lambda lib, a, b: a.dot(b), [((4,), (4,))])
spec(
    "outer",
    lambda lib, a, b: lib.outer(a, b),
    [((3,), (4,)), ((1,), (1,)), ((0,), (2,))],
    dtypes=NUM,
)
spec("outer_ger_method", lambda lib, a, b: a.ger(b), [((3,), (2,))])

# ------------------------------------------------------------------------ addmm, baddbmm, addmv

spec(
    "addmm",
    lambda lib, i, a, b: lib.addmm(i, a, b),
    [
        ((2, 4), (2, 3), (3, 4)),
        ((4,), (2, 3), (3, 4)),
        ((2, 1), (2, 3), (3, 4)),
        ((), (2, 3), (3, 4)),
        ((0, 2), (0, 3), (3, 2)),
    ],
    dtypes=NUM,
)
spec(
    "addmm_beta_alpha",
    lambda lib, i, a, b: lib.addmm(i, a, b, beta=0.5, alpha=-2.0),
    [((2, 4), (2, 3), (3, 4)), ((1, 4), (2, 3), (3, 4))],
)
spec("addmm_method", lambda lib, i, a, b: i.addmm(a, b, alpha=3), [((2, 4), (2, 3), (3, 4))])


def _nan_input(rng, dt):
    return [
        [
            np.full((2, 4), np.nan).astype(dt),
            rng.uniform(-2, 2, (2, 3)).astype(dt),
            rng.uniform(-2, 2, (3, 4)).astype(dt),
        ]
    ]


# beta == 0: input is ignored, NaN included; its gradient is 0
spec(
    "addmm_beta0_ignores_nan",
    lambda lib, i, a, b: lib.addmm(i, a, b, beta=0),
    make_inputs=_nan_input,
    diff_args=(1, 2),
)
spec(
    "baddbmm",
    lambda lib, i, a, b: lib.baddbmm(i, a, b),
    [
        ((2, 3, 5), (2, 3, 4), (2, 4, 5)),
        ((5,), (2, 3, 4), (2, 4, 5)),
        ((3, 1), (2, 3, 4), (2, 4, 5)),
    ],
    dtypes=NUM,
)
spec(
    "baddbmm_beta_alpha",
    lambda lib, i, a, b: i.baddbmm(a, b, beta=2.0, alpha=0.5),
    [((2, 3, 5), (2, 3, 4), (2, 4, 5))],
)
spec(
    "addmv",
    lambda lib, i, m, v: lib.addmv(i, m, v),
    [((3,), (3, 4), (4,)), ((1,), (3, 4), (4,)), ((), (3, 4), (4,))],
    dtypes=NUM,
)
spec(
    "addmv_beta_alpha",
    lambda lib, i, m, v: lib.addmv(i, m, v, beta=-1.0, alpha=2.0),
    [((3,), (3, 4), (4,))],
)

# ------------------------------------------------------------------------ einsum

_EINSUM = [
    ("mm", "ij,jk->ik", [((2, 3), (3, 4))]),
    ("implicit", "ij,jk", [((2, 3), (3, 4))]),
    ("implicit_upper_first", "ba,Ab", [((2, 3), (4, 2))]),
    ("batched", "bij,bjk->bik", [((2, 2, 3), (2, 3, 4))]),
    ("ellipsis", "...ij,...jk->...ik", [((2, 1, 2, 3), (4, 3, 2)), ((2, 3), (3, 2))]),
    ("ellipsis_implicit", "...ij,...jk", [((5, 2, 3), (3, 2))]),
    ("dot", "i,i->", [((3,), (3,))]),
    ("outer", "i,j->ij", [((3,), (4,))]),
    ("hadamard", "ij,ij->ij", [((4, 3), (4, 3))]),
    ("broadcast_size1", "ij,ij->j", [((1, 3), (4, 3)), ((4, 3), (4, 1))]),
    ("summed_in_one", "ij,j->j", [((2, 3), (3,))]),
    ("transposed_other", "ij,kj->ik", [((2, 3), (4, 3))]),
    ("bilinear3", "bn,anm,bm->ba", [((2, 3), (4, 3, 5), (2, 5))]),
    ("chain3", "ij,jk,kl->il", [((2, 3), (3, 4), (4, 5))]),
    ("spaces", "i j , j k -> k i", [((2, 3), (3, 4))]),
    ("sum_all", "ij->", [((2, 3),)]),
    ("sum_rows", "ij->j", [((2, 3),)]),
    ("transpose", "ij->ji", [((2, 3),)]),
    ("identity_implicit", "ij", [((2, 3),)]),
    ("permute_implicit", "ji", [((2, 3),)]),
    ("trace", "ii", [((3, 3),)]),
    ("diagonal", "ii->i", [((3, 3),)]),
    ("batch_diagonal", "bii->bi", [((2, 3, 3),)]),
    ("diag_times_vec", "ii,i->i", [((3, 3), (3,))]),
    ("empty", "ij,jk->ik", [((2, 0), (0, 3)), ((0, 3), (3, 2))]),
]
for _label, _eq, _shapes in _EINSUM:
    spec(f"einsum_{_label}", lambda lib, *ops, eq=_eq: lib.einsum(eq, *ops), _shapes)
spec(
    "einsum_int",
    lambda lib, a, b: lib.einsum("ij,jk->ik", a, b),
    [((2, 3), (3, 4))],
    dtypes=("int64",),
)
spec("einsum_operand_list", lambda lib, a, b: lib.einsum("ij,jk", [a, b]), [((2, 3), (3, 4))])
spec(
    "einsum_sublist", lambda lib, a, b: lib.einsum(a, [0, 1], b, [1, 2], [0, 2]), [((2, 3), (3, 4))]
)
