"""Every op, re-exported; ``REGISTRY`` maps op names to their declarations (``OpDef``)."""

from __future__ import annotations

import warnings

# Repeated graph shapes run a generated backward (see _compiled); the engine only holds the hook.
from ..autograd.engine import set_compiler as _set_compiler
from ..creation import *  # noqa: F403  (tensor methods such as new_zeros reach creation here)
from . import _grad_helpers  # noqa: F401
from ._compiled import run_compiled as _run_compiled
from ._registry import REGISTRY, OpDef, defop  # noqa: F401
from .conversion import *  # noqa: F403
from .elementwise import *  # noqa: F403
from .indexing import *  # noqa: F403
from .inplace import *  # noqa: F403
from .linalg import *  # noqa: F403
from .nn_ops import *  # noqa: F403
from .random_ops import *  # noqa: F403
from .reduction import *  # noqa: F403
from .shape import *  # noqa: F403

_set_compiler(_run_compiled)


def _bind_hot_methods() -> None:
    """Point the hottest Tensor methods straight at their ops.

    In tensor.py each is ``def exp(self): return _ops.exp(self)``; binding the op itself
    (``Tensor.exp = exp``) is the same call one Python frame shorter (~0.1 us per ``y + x``).
    """
    from ..tensor import Tensor

    pairs = {
        "__add__": add,  # noqa: F405
        "__sub__": sub,  # noqa: F405
        "__mul__": mul,  # noqa: F405
        "__truediv__": div,  # noqa: F405
        "__matmul__": matmul,  # noqa: F405
        "__neg__": neg,  # noqa: F405
    }
    for name in ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "neg", "abs"):
        pairs[name] = globals()[name]
    for name in ("square", "reciprocal", "mul", "matmul", "t"):
        pairs[name] = globals()[name]
    for name, fn in pairs.items():
        setattr(Tensor, name, fn)


_bind_hot_methods()

# PyTorch computes 1/0, log(0) and 0/0 silently (inf, -inf, nan); NumPy warns. Silence those
# warnings only where fluxion's own op code triggers them: the filter matches the module of the
# frame that called NumPy, so a user's direct NumPy calls still warn. Costs nothing per op.
warnings.filterwarnings(
    "ignore",
    message=r"(divide by zero|invalid value|overflow) encountered",
    category=RuntimeWarning,
    module=r"fluxion\.",
)
