"""Parameter set-up shared by the layers: optional parameters and PyTorch's default inits.

Each helper keeps PyTorch's registration order and its order of random draws, so a seeded model
still gets the same weights as torch.
"""

from __future__ import annotations

import math
from typing import Any

from ...creation import empty
from ...tensor import Tensor
from .. import init
from ..module import Module
from ..parameter import Parameter


def optional_parameter(
    module: Module, name: str, enabled: bool, shape: Any, device: Any, dtype: Any
) -> None:
    """Register an uninitialised parameter ``name`` of ``shape`` on ``module``, or ``None``.

    >>> m = fluxion.nn.Module()
    >>> optional_parameter(m, "bias", False, 3, None, None)
    >>> m.bias is None, "bias" in m._parameters
    (True, True)
    """
    if enabled:
        setattr(module, name, Parameter(empty(shape, device=device, dtype=dtype)))
    else:
        module.register_parameter(name, None)


def reset_kaiming_uniform(weight: Tensor, bias: Tensor | None) -> None:
    """Initialise like ``Linear`` and ``Conv``: ``kaiming_uniform_(weight, a=sqrt(5))``, then
    ``bias`` from ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``.

    >>> w, b = fluxion.empty(4, 3), fluxion.empty(4)
    >>> reset_kaiming_uniform(w, b)
    >>> bool((b.abs() <= 1 / math.sqrt(3)).all())
    True
    """
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init.calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)


def reset_affine(module: Module, affine: bool) -> None:
    """Set a normalisation layer's ``weight`` to 1 and ``bias`` (if any) to 0, when ``affine``.

    >>> gn = fluxion.nn.GroupNorm(1, 2)
    >>> reset_affine(gn, True); gn.weight.tolist(), gn.bias.tolist()
    ([1.0, 1.0], [0.0, 0.0])
    """
    if affine:
        init.ones_(module.weight)
        if module.bias is not None:
            init.zeros_(module.bias)
