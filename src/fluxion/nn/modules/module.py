"""``fluxion.nn.modules.module``: where PyTorch code imports ``Module`` and the global hooks from.

The implementation lives in :mod:`fluxion.nn.module`; this file only re-exports it.
"""

from __future__ import annotations

from ..module import *  # noqa: F403  (a re-export shim: exactly fluxion.nn.module's API)
from ..module import __all__  # noqa: F401
