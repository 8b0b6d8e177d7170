"""The op registry is the single source of truth: every declared op is accounted for.

* Every ``REGISTRY`` entry is public (``fluxion.<name>``, ``fluxion.nn.functional.<name>`` or a
  ``Tensor`` method) or is listed in ``INTERNAL`` with the reason it is not.
* Every public op has a docstring with a ``>>>`` example (they run as doctests).
* Every public op is exercised by the op database (``tests/ops/op_db.py``).

How coverage is measured: ``defop`` compiles each op into a generated function that holds its
forward in a closure, so wrapping ``OpDef.forward`` would see nothing, and graph nodes only exist
for differentiable ops. Instead, while each spec's fluxion ``fn`` runs once, every public callable
(the functions of ``fluxion``, ``fluxion.ops`` and ``fluxion.nn.functional`` and the methods of
``Tensor``) is temporarily replaced by a recorder. A recorder notes its name only when it is the
outermost fluxion call, so ``F.cross_entropy`` counts as a call of ``cross_entropy`` but not of
the ``log_softmax`` it calls internally. Dunders are not wrapped: ``x + y`` reaches ``ops.add``
as the outermost recorded call, which is what it means. A spec named exactly like the op
(``"sum"``, ``"nn.relu"``) also counts.
"""

from __future__ import annotations

import functools
import inspect
import threading

import numpy as np
import pytest

import fluxion
import fluxion.ops
from fluxion.ops import REGISTRY

from .op_db import all_specs

F = fluxion.nn.functional
NAMESPACES = (("fluxion", fluxion), ("fluxion.nn.functional", F), ("Tensor", fluxion.Tensor))

# Ops that are declared with defop but not exported, grouped by why. Each public function of the
# group dispatches to these (or they are the backward of a public op, declared as an op so that
# double backward works).
INTERNAL = {
    "overloads of a public function, chosen by the argument types": [
        "clamp_scalar",
        "clamp_tensor",
        "clamp_min_scalar",
        "clamp_min_tensor",
        "clamp_max_scalar",
        "clamp_max_tensor",
        "fmod_scalar",
        "fmod_tensor",
        "lerp_scalar",
        "lerp_tensor",
        "pow_scalar",
        "pow_scalar_base",
        "pow_tensor",
        "remainder_scalar",
        "remainder_tensor",
        "rsub_scalar",
        "rsub_tensor",
        "index_fill_tensor",
        "masked_fill_tensor",
        "scatter_value",
    ],
    "dim / keyword variants of a public function (PyTorch's sum.dim_IntList, div.Tensor_mode)": [
        "sum_dim",
        "mean_dim",
        "prod_dim",
        "max_dim",
        "min_dim",
        "squeeze_dim",
        "squeeze_dims",
        "div_rounding",
        "round_decimals",
        "split_with_sizes",
    ],
    "pieces of matmul / einsum, named after the ATen ops PyTorch decomposes them into": [
        "vm",
        "matmul_nd",
        "matmul_nd_t",
        "einsum1_permute",
        "einsum1_sum",
        "einsum2_mul",
        "einsum2_view",
    ],
    "pieces of indexing, reshape and conversion (Tensor.__getitem__, reshape, to)": [
        "alias",
        "index",
        "getitem_select",
        "getitem_slice",
        "getitem_unsqueeze",
        "reshape_alias",
        "reshape_copy",
        "to_copy",
    ],
    "kernels behind nn.functional (conv*d, pad, max_pool*d, nll_loss, embedding, cross_entropy)": [
        "convolution",
        "conv_transpose",
        "constant_pad_nd",
        "reflect_pad1d",
        "reflect_pad2d",
        "reflect_pad3d",
        "replicate_pad1d",
        "replicate_pad2d",
        "replicate_pad3d",
        "circular_pad1d",
        "circular_pad2d",
        "circular_pad3d",
        "max_pool2d_with_indices",
        "nll_loss2d",
        "nll_loss_coef",
        "nll_total_weight",
        "embedding_coef",
        "div_by_count",
        "native_batch_norm",
        "native_layer_norm",
        "native_group_norm",
    ],
    "backward of a public op, declared as an op so that double backward works": [
        "adaptive_avg_pool2d_backward",
        "avg_pool_spread",
        "convolution_backward_input",
        "convolution_backward_weight",
        "diagonal_backward",
        "embedding_dense_backward",
        "index_backward",
        "index_pad_scatter",
        "max_pool_gather",
        "max_pool_scatter",
        "reverse_cumsum",
        "unfold_backward",
    ],
}
INTERNAL_NAMES = {name: why for why, names in INTERNAL.items() for name in names}

# Public ops whose docstring may lack a ``>>>`` example, with the reason. Keep this empty.
NO_EXAMPLE: dict[str, str] = {}
# Public ops that no OpSpec exercises, with the reason. Keep this empty.
NOT_IN_OP_DB: dict[str, str] = {}


def _public_objects(name: str) -> list[tuple[str, object]]:
    return [(label, getattr(ns, name)) for label, ns in NAMESPACES if hasattr(ns, name)]


def _unclassified(registry) -> list[str]:
    """Registry names that are neither reachable publicly nor listed as internal."""
    return sorted(n for n in registry if not _public_objects(n) and n not in INTERNAL_NAMES)


def _public_ops(registry) -> list[str]:
    return sorted(n for n in registry if _public_objects(n))


def _has_example(obj) -> bool:
    return ">>>" in (inspect.getdoc(obj) or "")


def _missing_examples(names) -> list[str]:
    """Public names none of whose public objects has a docstring with a ``>>>`` example."""
    return sorted(n for n in names if not any(_has_example(obj) for _, obj in _public_objects(n)))


# ---------------------------------------------------------------------------- call recording


class _Recorder:
    """Temporarily wrap public callables; note the outermost one called (see module docstring)."""

    def __init__(self) -> None:
        self.called: set[str] = set()
        self._local = threading.local()
        self._saved: list[tuple[object, str, object]] = []

    def _wrap(self, name: str, fn):
        rec = self

        @functools.wraps(fn)
        def recorder(*args, **kwargs):
            depth = getattr(rec._local, "depth", 0)
            if depth == 0:
                rec.called.add(name)
            rec._local.depth = depth + 1
            try:
                return fn(*args, **kwargs)
            finally:
                rec._local.depth = depth

        return recorder

    def _patch(self, owner, name: str, value, label: str | None = None) -> None:
        self._saved.append((owner, name, value))
        setattr(owner, name, self._wrap(label or name, value))

    def __enter__(self) -> _Recorder:
        ops = dict(vars(fluxion.ops))  # before patching: operators bound to their ops
        for module in (fluxion, fluxion.ops, F):
            for name, value in list(vars(module).items()):
                if not name.startswith("_") and inspect.isfunction(value):
                    self._patch(module, name, value)
        for name, value in list(vars(fluxion.Tensor).items()):
            if not inspect.isfunction(value):
                continue
            if not name.startswith("_"):
                self._patch(fluxion.Tensor, name, value)
            elif ops.get(value.__name__) is value:  # an operator bound to its op (__add__ = add)
                self._patch(fluxion.Tensor, name, value, label=value.__name__)
        return self

    def __exit__(self, *exc) -> None:
        for owner, name, value in reversed(self._saved):
            setattr(owner, name, value)
        self._saved.clear()


def _first_sample(spec) -> list:
    dt = spec.dtypes[0] if spec.dtypes else "float64"
    samples = spec.samples(np.random.default_rng(0), np.dtype(dt))
    args = []
    for a in samples[0]:
        if isinstance(a, np.generic):
            a = np.asarray(a)
        if isinstance(a, np.ndarray):
            t = fluxion.from_numpy(a.copy())
            if a.dtype.kind == "f":
                t.requires_grad_(True)
            a = t
        args.append(a)
    return args


@functools.cache
def _covered() -> frozenset[str]:
    """Names of the public callables the op database calls directly, plus its spec names."""
    specs = all_specs()
    names = {s.name.removeprefix("nn.") for s in specs}
    calls = [(spec.fn, _first_sample(spec)) for spec in specs]  # built outside the recording
    with _Recorder() as rec:
        for fn, args in calls:
            fn(fluxion, *args)
    return frozenset(names | rec.called)


# ---------------------------------------------------------------------------- the tests


def test_registry_every_op_is_public_or_internal():
    bad = _unclassified(REGISTRY)
    assert not bad, (
        f"ops neither exported (fluxion.<name>, fluxion.nn.functional.<name>, Tensor.<name>) nor "
        f"listed in INTERNAL with a reason: {bad}"
    )


def test_registry_internal_list_is_current():
    stale = sorted(n for n in INTERNAL_NAMES if n not in REGISTRY)
    assert not stale, f"INTERNAL names no longer in REGISTRY (remove them): {stale}"
    public = sorted(n for n in INTERNAL_NAMES if _public_objects(n))
    assert not public, f"INTERNAL names that are now public (remove them): {public}"


def test_registry_public_ops_have_doctest_examples():
    missing = [n for n in _missing_examples(_public_ops(REGISTRY)) if n not in NO_EXAMPLE]
    assert not missing, f"public ops without a '>>>' example in their docstring: {missing}"


def test_registry_public_ops_are_in_op_db():
    covered = _covered()
    missing = [n for n in _public_ops(REGISTRY) if n not in covered and n not in NOT_IN_OP_DB]
    assert not missing, f"public ops that no OpSpec in tests/ops/op_db.py calls: {missing}"


def test_registry_exception_lists_are_current():
    public = set(_public_ops(REGISTRY))
    assert set(NO_EXAMPLE) <= public and set(NOT_IN_OP_DB) <= public
    assert not [n for n in NO_EXAMPLE if n not in _missing_examples([n])]
    assert not [n for n in NOT_IN_OP_DB if n in _covered()]


# ---------------------------------------------------------------------------- self-checks


def test_registry_self_check_detects_unclassified_name():
    fake = dict(REGISTRY)
    fake["fake_op_nobody_exports"] = REGISTRY["add"]
    assert _unclassified(fake) == ["fake_op_nobody_exports"]


def test_registry_self_check_detects_missing_example():
    def undocumented(input):
        return input

    def documented(input):
        """Return ``input``.

        >>> 1
        1
        """
        return input

    assert not _has_example(undocumented) and _has_example(documented)
    assert _missing_examples(["fake_op_nobody_exports"]) == ["fake_op_nobody_exports"]


def test_registry_self_check_recorder_sees_outermost_calls_only():
    x = fluxion.tensor([[1.0, -2.0]], requires_grad=True)
    with _Recorder() as rec:
        F.cross_entropy(x, fluxion.tensor([0]))
        (x + 1).sum()
    assert {"cross_entropy", "add", "sum"} <= rec.called
    assert "log_softmax" not in rec.called and "nll_loss" not in rec.called
    assert fluxion.add.__name__ == "add" and not hasattr(fluxion.add, "__wrapped__")


@pytest.mark.parametrize("name", ["add", "sum", "relu"])
def test_registry_self_check_known_ops_are_covered(name):
    assert name in _covered()
