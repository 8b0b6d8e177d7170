"""Every op, re-exported; ``REGISTRY`` maps op names to their declarations (``OpDef``)."""

from __future__ import annotations

from ..creation import *  # noqa: F403  (tensor methods such as new_zeros reach creation here)
from . import _grad_helpers  # noqa: F401
from ._registry import REGISTRY, OpDef, defop  # noqa: F401
from .conversion import *  # noqa: F403
from .elementwise import *  # noqa: F403
from .indexing import *  # noqa: F403
from .inplace import *  # noqa: F403
from .linalg import *  # noqa: F403
from .nn_ops import *  # noqa: F403
from .reduction import *  # noqa: F403
from .shape import *  # noqa: F403
