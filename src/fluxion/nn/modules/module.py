"""``fluxion.nn.modules.module``: where PyTorch code imports ``Module`` and the global hooks from.

The implementation lives in :mod:`fluxion.nn.module`; this file only re-exports it.
"""

from __future__ import annotations

from ..module import (
    Module,
    RemovableHandle,
    register_module_forward_hook,
    register_module_forward_pre_hook,
    register_module_full_backward_hook,
    register_module_full_backward_pre_hook,
)

__all__ = [
    "Module",
    "RemovableHandle",
    "register_module_forward_pre_hook",
    "register_module_forward_hook",
    "register_module_full_backward_pre_hook",
    "register_module_full_backward_hook",
]
