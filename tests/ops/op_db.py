"""The op database: one ``OpSpec`` per op (or per op variant), compared with torch.

Each spec family lives in its own ``specs_<family>.py`` module that appends to ``SPECS``;
``test_op_db.py`` runs every spec through the same checks:
forward vs torch, gradients vs torch, gradients vs central finite differences (float64),
and second derivatives through ``create_graph=True`` (gradgradcheck).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class OpSpec:
    """How to test one op.

    ``fn(lib, *args)`` is called once with ``lib=fluxion`` and once with ``lib=torch`` on the same
    inputs; it must return a tensor (or a tuple whose first element is the differentiable tensor).
    Inputs come from ``shapes`` (one shape tuple per tensor argument, sampled uniformly from
    ``domain``) or from ``make_inputs(rng, np_dtype) -> list`` for ops that need index tensors or
    special values. Float arrays become tensors that require grad (the args in ``diff_args``,
    default: all float args); integer/bool arrays become plain tensors; other objects are passed
    through unchanged.
    """

    name: str
    fn: Callable
    shapes: list = field(default_factory=list)
    make_inputs: Callable | None = None
    domain: tuple = (-2.0, 2.0)
    dtypes: tuple = ("float64", "float32")
    grad: bool = True
    gradgrad: bool = True
    diff_args: tuple | None = None
    atol: float | None = None  # override for ops whose float32 results differ more
    rtol: float | None = None
    fd_eps: float = 1e-6
    noncontig: bool = True  # also run every sample with non-contiguous copies of its arrays
    notes: str = ""

    def samples(self, rng: np.random.Generator, np_dtype) -> list:
        """Return a list of input lists, one per sample."""
        if self.make_inputs is not None:
            out = self.make_inputs(rng, np_dtype)
            return out if out and isinstance(out[0], list) else [out]
        lo, hi = self.domain
        if np.dtype(np_dtype).kind in "iu":  # integer specs: whole numbers in [lo, hi]
            draw = lambda s: rng.integers(int(lo), int(hi) + 1, size=s).astype(np_dtype)
        else:
            draw = lambda s: np.asarray(rng.uniform(lo, hi, size=s)).astype(np_dtype)
        return [[draw(s) for s in shape_set] for shape_set in self.shapes]


SPECS: list[OpSpec] = []


def register(*specs: OpSpec) -> None:
    SPECS.extend(specs)


def all_specs() -> list[OpSpec]:
    """Import every spec family, then return the full list."""
    from . import (  # noqa: F401
        specs_elementwise,
        specs_indexing,
        specs_linalg,
        specs_nn,
        specs_reduction,
        specs_shape,
    )

    return SPECS
