"""The reverse-mode engine: graph nodes and the dependency-counting backward walk.

The engine knows nothing about particular ops. A :class:`Node` maps the gradients of its outputs
to gradients of its inputs (``apply``); ``next_functions`` holds one ``(node, output_nr)`` edge per
input. Leaves that require grad are reached through :class:`AccumulateGrad`.
"""

from __future__ import annotations

import sys
import weakref

from .._backend import add_grads as _add_grads
from ._hooks import RemovableHandle as _RemovableHandle
from ._hooks import run_post_hooks as _run_post_hooks
from ._hooks import run_tensor_hooks as _run_tensor_hooks
from .grad_mode import state as _grad_state

__all__ = ["Node", "AccumulateGrad", "run_backward", "gradient_edge"]

FREED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you "
    "call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
    "through the graph a second time or if you need to access saved tensors after calling "
    "backward."
)


class Node:
    """A backward function in the graph (``tensor.grad_fn``).

    Subclasses implement ``apply(grads) -> sequence of input grads`` (one per ``next_functions``
    edge) and ``release()``. Rarely used state (hooks, metadata) lives in ``__dict__`` so that
    creating a node costs only its hot slots.
    """

    __slots__ = ("next_functions", "__dict__", "__weakref__")
    n_outputs = 1
    _tensor_hooks = None  # output_nr -> [hook(grad) -> grad | None]
    _retain = None  # output_nr -> weakref of the non-leaf tensor that retains its grad
    _pre_hooks = None
    _post_hooks = None
    _hooked = False  # set when any hook or retain_grad is attached: one check per node in backward

    def name(self) -> str:
        """Return the node's class name, e.g. ``'MulBackward0'``."""
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object at {hex(id(self))}>"

    @property
    def metadata(self) -> dict:
        md = self.__dict__.get("_metadata")
        if md is None:
            md = self.__dict__["_metadata"] = {}
        return md

    def register_hook(self, fn):
        """Register ``fn(grad_inputs, grad_outputs)``, called after this node has run."""
        self._hooked = True
        if self._post_hooks is None:
            self._post_hooks = []
        self._post_hooks.append(fn)
        return _RemovableHandle(self._post_hooks, fn)

    def register_prehook(self, fn):
        """Register ``fn(grad_outputs)``, called before this node runs; may return new grads."""
        self._hooked = True
        if self._pre_hooks is None:
            self._pre_hooks = []
        self._pre_hooks.append(fn)
        return _RemovableHandle(self._pre_hooks, fn)

    def __call__(self, *grads):
        return self.apply(list(grads))

    def apply(self, grads: list):  # pragma: no cover - abstract
        raise NotImplementedError

    def apply_raw(self, grads: list) -> list:
        """First-order backward on raw arrays; by default through ``apply`` on Tensors."""
        out = self.apply(_to_tensors(grads))
        return [None if g is None else g._data for g in out]

    def release(self) -> None:
        """Free saved tensors (called after the node ran with ``retain_graph=False``)."""


class AccumulateGrad(Node):
    """Leaf node: adds the incoming gradient into ``variable.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable) -> None:
        self.variable = variable
        self.next_functions = ()

    @property
    def _tensor_hooks(self):  # a leaf's own hooks run like a non-leaf's: before prehooks/capture
        hooks = self.variable._hooks
        return None if not hooks else {0: hooks}

    @property
    def _hooked(self) -> bool:
        return bool(self.variable._hooks) or bool(self._pre_hooks) or bool(self._post_hooks)

    @_hooked.setter
    def _hooked(self, value: bool) -> None:
        """Derived from the hooks themselves; nothing to store."""

    def apply(self, grads: list):
        grad = grads[0]
        var = self.variable
        if grad is None:
            return ()
        old = var.grad
        if old is None:
            # NOTE: the engine may hand one gradient to several leaves (add passes it through),
            # so a leaf must own its .grad. Under create_graph the clone is recorded, as in torch.
            var.grad = grad.clone()
        elif _grad_state.enabled or old.requires_grad or not old._data.flags.writeable:
            var.grad = old + grad  # create_graph: keep the graph of the accumulated gradient
        else:
            old._data += grad._data  # accumulate in place, as PyTorch does
            old._bump()
        if var._post_acc_hooks is not None:
            for hook in var._post_acc_hooks:
                hook(var)
        return ()

    def apply_raw(self, grads: list):
        grad = grads[0]
        var = self.variable
        if grad is None:
            return ()
        old = var.grad
        if old is None:
            # A leaf must own its .grad: one gradient may reach several leaves (add passes it
            # through) or be the caller's array. As PyTorch's AccumulateGrad steals a gradient
            # whose use count is 1, an array that nothing else refers to (the caller's list
            # holds the only reference: no variable, tensor, node or view has it) is taken as it
            # is; anything else is copied. Saves a copy of every parameter's gradient per step.
            if _getrefcount(grad) > _TAKE_REFS or not _private(grad):
                grad = grad.copy()
            var.grad = _wrap_any(grad)
        elif old.requires_grad or not old._data.flags.writeable:
            var.grad = old + _wrap_any(grad)
        else:
            old._data += grad  # accumulate in place, as PyTorch does
            old._bump()
        if var._post_acc_hooks is not None:
            for hook in var._post_acc_hooks:
                hook(var)
        return ()


_getrefcount = sys.getrefcount
# References to an array that only the caller's list holds, seen from inside ``apply_raw``: the
# list's slot, the local ``grad`` and ``getrefcount``'s argument.
_TAKE_REFS = 3


def _private(a) -> bool:
    """Whether array ``a`` (only the caller's list refers to it) can become a leaf's ``.grad``.

    It must be writeable and own its memory, or be a row-major view of the whole of a buffer
    that nothing else refers to (``weight.t()``'s gradient is the transpose of a fresh product).
    """
    flags = a.flags
    if not getattr(flags, "writeable", True):  # CuPy's flags have no writeable
        return False
    base = a.base
    if base is None:
        return True
    return (
        type(base) is type(a)
        and base.base is None
        and _getrefcount(base) <= 3  # the view's reference, the local name, the argument
        and base.size == a.size
        and flags.c_contiguous
    )


def gradient_edge(t) -> tuple:
    """Return ``(node, output_nr)`` through which gradient flows into tensor ``t``."""
    if t.grad_fn is not None:
        vv = t._view_version
        if vv is not None and vv != t._vc.v:  # a stale view: see Tensor._share_version
            from ..ops.inplace import refresh_stale_view

            refresh_stale_view(t)
        return t.grad_fn, t._output_nr
    if not t.requires_grad:
        return None, 0
    return t._accumulator(), 0


def _count_deps(roots: list) -> dict:
    """Count incoming edges per node reachable from ``roots`` (one iterative DFS)."""
    deps: dict = {}
    root_set = set(roots)
    stack = list(roots)
    while stack:  # iterative: a 100,000-node chain must not hit the recursion limit
        for child, _ in stack.pop().next_functions:
            if child is not None:
                c = deps.get(child)
                if c is None:
                    deps[child] = 1
                    if child not in root_set:
                        stack.append(child)
                else:
                    deps[child] = c + 1
    return deps


def _reachable(roots: list, targets: dict | None) -> tuple[dict, set | None]:
    """Count incoming edges per node; with ``targets``, keep only nodes that lead to one."""
    if targets is None:
        return _count_deps(roots), None
    order, seen, stack = [], set(roots), list(roots)
    parents: dict | None = {} if targets is not None else None
    while stack:  # iterative DFS: a 100,000-node chain must not hit the recursion limit
        node = stack.pop()
        order.append(node)
        for child, _ in node.next_functions:
            if child is None:
                continue
            if parents is not None:
                parents.setdefault(child, []).append(node)
            if child not in seen:
                seen.add(child)
                stack.append(child)
    needed = None
    if targets is not None:  # the ancestors of the targets, by a walk up the reversed edges
        needed = {t for t in targets if t in seen}
        stack = list(needed)
        while stack:
            for parent in parents.get(stack.pop(), ()):
                if parent not in needed:
                    needed.add(parent)
                    stack.append(parent)
    deps: dict = {}
    for node in order:
        if needed is not None and node not in needed:
            continue
        for child, _ in node.next_functions:
            if child is not None and (needed is None or child in needed):
                deps[child] = deps.get(child, 0) + 1
    return deps, needed


def run_backward(roots, root_grads, retain_graph, create_graph, inputs=None, accumulate=True):
    """Propagate ``root_grads`` from the tensors ``roots`` back through the graph.

    With ``accumulate`` (``Tensor.backward``), gradients go into the ``.grad`` of leaves (only
    those in ``inputs`` when given). Without it (``autograd.grad``), the gradients reaching
    ``inputs`` are returned instead, as a list aligned with ``inputs``.
    """
    # First-order backward (no create_graph) runs on raw arrays: nodes get `apply_raw`, and only
    # hooks and nodes without array rules see Tensors. Measured on the 200-op overhead chain:
    # backward time per op 9.8 -> 5.5 us.
    raw = not create_graph
    if raw:
        root_grads = [g._data for g in root_grads]
        if _compiler is not None and inputs is None and accumulate and len(roots) == 1:
            node, nr = gradient_edge(roots[0])
            prev_mode = _grad_state.enabled
            _grad_state.enabled = False
            try:
                if node is not None and _compiler(node, nr, root_grads[0], retain_graph):
                    return None
            finally:
                _grad_state.enabled = prev_mode
    pending: dict = {}
    root_nodes = []
    for t, g in zip(roots, root_grads):
        node, nr = gradient_edge(t)
        buf = pending.get(node)
        if buf is None:
            buf = pending[node] = [None] * node.n_outputs
            root_nodes.append(node)
        buf[nr] = g if buf[nr] is None else buf[nr] + g

    targets = None
    if inputs is not None:
        targets = {}
        for i, t in enumerate(inputs):
            node, nr = gradient_edge(t)
            targets.setdefault(node, []).append((nr, i))
    deps, needed = _reachable(root_nodes, targets)
    captured = [None] * len(inputs) if inputs is not None else None

    ready = [n for n in root_nodes if n not in deps and (needed is None or n in needed)]
    prev_mode = _grad_state.enabled
    _grad_state.enabled = create_graph
    # The common case (first order, no inputs=, no hooks on the node) takes the short branch;
    # everything else goes through _run_node. One loop, one propagation step.
    general = targets is not None or not raw
    try:
        while ready:
            node = ready.pop()  # LIFO: finish one branch first, so fewer pending grads are alive
            buf = pending.pop(node, None)
            g = in_grads = None  # the last node's gradients: a leaf may take its buffer
            if general or node._hooked:
                in_grads = _run_node(node, buf, raw, accumulate, targets, captured, needed)
                if in_grads is _SKIP:
                    continue
            elif buf is None:
                in_grads = ()
            elif buf[0] is not None or (len(buf) > 1 and any(g is not None for g in buf)):
                in_grads = node.apply_raw(buf)
            else:
                in_grads = ()
            if not retain_graph:
                node.release()
            edges = node.next_functions
            if len(in_grads) != len(edges):  # no gradients (or fewer): children still count down
                in_grads = list(in_grads) + [None] * (len(edges) - len(in_grads))
            for (child, nr), g in zip(edges, in_grads):
                if child is None or (needed is not None and child not in needed):
                    continue
                if g is not None:
                    cbuf = pending.get(child)
                    if cbuf is None:
                        pending[child] = cbuf = [None] * child.n_outputs
                    old = cbuf[nr]
                    cbuf[nr] = g if old is None else _add_grads(old, g)
                left = deps[child] - 1
                deps[child] = left
                if left == 0:
                    ready.append(child)
    finally:
        _grad_state.enabled = prev_mode
    if raw and captured is not None:
        captured = _to_tensors(captured)
    return captured


_SKIP = object()  # _run_node's answer for "do not run this node"

# A callable ``(root_node, output_nr, root_grad, retain_graph) -> bool`` that may run a
# first-order, single-root backward itself (fluxion.ops._compiled: a generated schedule per graph
# shape); False leaves it to the loop above. The engine knows nothing about what it inlines.
_compiler = None


def set_compiler(fn) -> None:
    """Install (or remove, with None) the compiled-backward runner; see ``_compiler``."""
    global _compiler
    _compiler = fn


def _run_node(node: Node, buf, raw: bool, accumulate: bool, targets, captured, needed):
    """Run one node the long way: hooks (on Tensors), capture for ``inputs=``, create_graph."""
    if buf is None:
        buf = [None] * node.n_outputs
    if node._hooked and (node._tensor_hooks is not None or node._retain is not None):
        if raw:
            tbuf = _to_tensors(buf)
            _run_tensor_hooks(node, tbuf)
            buf = _to_arrays(tbuf)
        else:
            _run_tensor_hooks(node, buf)
    if targets is None:
        if not accumulate and type(node) is AccumulateGrad:
            return _SKIP
    elif node in targets:
        for nr, i in targets[node]:
            captured[i] = buf[nr]
        if not accumulate and not any(c in needed for c, _ in node.next_functions):
            return _SKIP  # grad(): nothing below is wanted, so do not run (nor free) it
    elif type(node) is AccumulateGrad and not accumulate:
        return _SKIP
    if node._hooked and node._pre_hooks is not None:
        buf = _to_tensors(buf) if raw else buf
        for hook in node._pre_hooks:
            new = hook(tuple(buf))
            if new is not None:
                buf = list(new)
        buf = _to_arrays(buf) if raw else buf
    if any(g is not None for g in buf):
        in_grads = node.apply_raw(buf) if raw else node.apply(buf)
    else:
        in_grads = ()
    if node._hooked and node._post_hooks is not None:
        if raw:
            in_grads = _to_arrays(_run_post_hooks(node, _to_tensors(in_grads), _to_tensors(buf)))
        else:
            in_grads = _run_post_hooks(node, in_grads, buf)
    return in_grads


def _to_tensors(grads) -> list:
    return [None if g is None else _wrap_any(g) for g in grads]


def _to_arrays(grads) -> list:
    return [None if g is None else g._data for g in grads]


def _wrap_any(arr):
    global _wrap_any
    from ..tensor import _wrap_any  # tensor.py imports this module: bind on first use

    return _wrap_any(arr)


def make_accumulator(t) -> AccumulateGrad:
    """Create the leaf node for ``t``; the tensor keeps only a weak reference, as in PyTorch."""
    acc = AccumulateGrad(t)
    t._accum_ref = weakref.ref(acc)
    return acc
