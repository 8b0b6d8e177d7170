"""Compiled backward passes: the engine's walk, generated once per graph shape, replayed.

Training runs the same graph shape over and over. The engine asks this module (through
``engine.set_compiler``) to run a first-order ``backward`` whose graph has no hooks. The walk
over the graph that the engine would do anyway also yields a *structure key*: node classes and
edges in discovery order. The second time a key is seen, a straight-line function is generated
for it: the engine's schedule (dependency counts, LIFO order) worked out once, the derivative
rules of ``array_rules`` ops called inline on the nodes' saved arrays, the same gradient sums in
the same order, every other node through its own ``apply_raw``. Calling it replaces the
engine's loop, dictionaries and per-node dispatch; the numbers are those of the engine, bit for
bit, because the same functions run on the same arrays in the same order.

Checks stay where the engine has them: freed graphs raise ``FREED_MSG``, saved tensors modified
in place raise through ``OpNode._unpack``'s message.
"""

from __future__ import annotations

import os
import re

from .. import dtypes as _dt
from .._backend import PARALLEL_MIN, add_grads
from ..autograd.engine import FREED_MSG, AccumulateGrad
from ..tensor import Tensor
from ._registry import MultiOpNode, OpNode, SeqOpNode, _sum_to_array

__all__ = ["run_compiled", "schedule", "sum_line", "COMPILE_AFTER"]

# Compile a structure the second time it is seen (one-off graphs never pay). The environment
# variable is a testing knob: FLUXION_COMPILE_AFTER=1 sends every backward through this module.
COMPILE_AFTER = int(os.environ.get("FLUXION_COMPILE_AFTER", "2"))
_MAX_ENTRIES = 256
_cache: dict = {}  # key -> int (times seen) or the compiled function


def _walk(root):
    """Nodes in discovery order and the structure key; None when a node has hooks.

    The key is flat: per node its class, number of outputs and number of edges, then per edge
    the child's index (-1 for none) plus its output number times 2**32 (flat lists build faster
    than nested tuples; output numbers are almost always 0).
    """
    nodes = [root]
    index = {root: 0}
    get = index.get
    add = nodes.append
    flat: list = []
    put = flat.append
    n = 1
    for node in nodes:  # the list grows while it is walked: breadth-first discovery order
        if node._hooked:
            return None, None
        edges = node.next_functions
        put(type(node))
        put(node.n_outputs)  # an instance attribute for multi-output nodes
        put(len(edges))
        for child, nr in edges:
            if child is None:
                put(-1)
                continue
            j = get(child)
            if j is None:
                j = index[child] = n
                n += 1
                add(child)
            put(j + (nr << 32) if nr else j)
    return nodes, tuple(flat)


def _unflatten(flat: tuple) -> tuple:
    """The flat key as ``((class, n_outputs, ((child, nr) | None, ...)), ...)``."""
    struct = []
    i = 0
    while i < len(flat):
        cls, n_out, n = flat[i], flat[i + 1], flat[i + 2]
        i += 3
        edges = []
        for _ in range(n):
            j = flat[i]
            i += 1
            edges.append(None if j == -1 else (j & 0xFFFFFFFF, j >> 32))
        struct.append((cls, n_out, tuple(edges)))
    return tuple(struct)


# (root class, root output, retain_graph) -> the compiled functions last used from such roots,
# most recent first: their generated checks recognise the graph faster than the walk's key.
_recent: dict = {}
_RECENT_PER_ROOT = 4


def run_compiled(root, nr: int, grad, retain_graph: bool) -> bool:
    """Run a first-order backward from ``root`` if its structure is compiled; False otherwise."""
    short = (type(root), nr, retain_graph)
    recent = _recent.get(short)
    if recent:
        for fn in recent:
            nodes = fn.match(root)  # this graph has fn's structure: its nodes in walk order
            if nodes is not None:
                fn(nodes, grad)
                return True
    nodes, struct = _walk(root)
    if nodes is None:
        return False
    key = (struct, nr, retain_graph)
    fn = _cache.get(key)
    if fn is None or type(fn) is int:
        seen = (fn or 0) + 1
        if seen < COMPILE_AFTER:
            if len(_cache) >= _MAX_ENTRIES:
                _cache.clear()
                _recent.clear()
            _cache[key] = seen
            return False
        fn = _cache[key] = _compile(_unflatten(struct), nr, retain_graph)
    recent = _recent.setdefault(short, [])
    if fn in recent:
        recent.remove(fn)
    recent.insert(0, fn)
    del recent[_RECENT_PER_ROOT:]
    fn(nodes, grad)
    return True


def _matcher(struct: tuple):
    """Generated ``match(root)``: the graph's nodes in ``_walk``'s order if it has ``struct``.

    Straight-line checks in the walk's discovery order: each node's class, output count, edge
    count and hooks, each edge's output number, and for an edge to a node seen before, that it
    is that very node. Nodes first reached on different edges must be distinct objects (one
    set at the end), so any graph that passes has exactly ``struct`` and the walk's order.
    """
    consts: dict = {}
    lines = ["if n0._hooked: return None"]
    seen = 1

    def check_node(k: int) -> None:
        cls, n_out, edges = struct[k]
        c = f"C{k}"
        consts[c] = cls
        if k:
            lines.append(f"if type(n{k}) is not {c} or n{k}._hooked: return None")
        else:
            lines.append(f"if type(n0) is not {c}: return None")
        fixed = cls is AccumulateGrad or (
            issubclass(cls, OpNode) and not issubclass(cls, (SeqOpNode, MultiOpNode))
        )
        if not fixed:  # instances may carry their own output count (multi-output, Functions)
            lines.append(f"if n{k}.n_outputs != {n_out}: return None")
        lines.append(f"f = n{k}.next_functions")
        lines.append(f"if len(f) != {len(edges)}: return None")

    check_node(0)
    for k, (_, _, edges) in enumerate(struct):
        if k:
            check_node(k)
        for i, e in enumerate(edges):
            if e is None:
                lines.append(f"if f[{i}][0] is not None: return None")
                continue
            j, nr = e
            if j == seen:  # first reached here
                seen += 1
                lines.append(f"n{j}, r = f[{i}]")
                lines.append(f"if r != {nr}: return None")
            else:
                lines.append(f"if f[{i}][0] is not n{j} or f[{i}][1] != {nr}: return None")
    # the node checks of node k run when its own turn comes (after all of its parents' edges)
    names = ", ".join(f"n{k}" for k in range(len(struct)))
    lines.append(f"N = [{names}]")
    lines.append("if len(set(N)) != len(N): return None")
    lines.append("return N")
    src = "def match(n0):\n" + "".join(f"    {line}\n" for line in lines)
    exec(compile(src, f"<fluxion: graph match {len(struct)} nodes>", "exec"), consts)  # noqa: S102
    return consts["match"]


def schedule(struct: tuple, root_nr: int):
    """Yield ``(k, buffer names, edge names)`` in the engine's order, and the sums it does.

    A generator of events over the structure: ``("run", k, buf)`` when node ``k`` runs with the
    buffer names ``buf`` (one per output, None where nothing arrived), whose caller sends back
    one name (or None) per edge; ``("sum", new, old, g)`` when the engine adds two gradients.
    """
    deps: dict = {}
    for _, _, edges in struct:
        for e in edges:
            if e is not None:
                deps[e[0]] = deps.get(e[0], 0) + 1
    pending = {0: [None] * struct[0][1]}
    pending[0][root_nr] = "g0"
    ready = [0] if 0 not in deps else []
    n = 0
    while ready:
        k = ready.pop()
        buf = pending.pop(k, None)
        outs = yield ("run", k, buf)
        edges = struct[k][2]
        outs = list(outs or ()) + [None] * (len(edges) - len(outs or ()))
        for e, g in zip(edges, outs):
            if e is None:
                continue
            child, cnr = e
            if g is not None:
                cbuf = pending.get(child)
                if cbuf is None:
                    cbuf = pending[child] = [None] * struct[child][1]
                if cbuf[cnr] is None:
                    cbuf[cnr] = g
                else:
                    n += 1
                    new = f"s{n}"
                    yield ("sum", new, cbuf[cnr], g)
                    cbuf[cnr] = new
            deps[child] -= 1
            if deps[child] == 0:
                ready.append(child)


def _compile(struct: tuple, root_nr: int, retain_graph: bool):
    lines = []
    consts: dict = {}
    uncertain: set = set()  # names that may hold None at run time (outputs of generic nodes)

    def const(v) -> str:
        name = f"K{len(consts)}"
        consts[name] = v
        return name

    counter = [0]

    def fresh(p: str) -> str:
        counter[0] += 1
        return f"{p}{counter[0]}"

    gen = schedule(struct, root_nr)
    event = next(gen)
    while True:
        if event[0] == "sum":
            _, new, old, g = event
            if old in uncertain or g in uncertain:
                lines.append(f"{new} = _add({old}, {g})")
                uncertain.add(new)
            else:
                lines.append(sum_line(new, old, g))
            lines.append(f"del {old}, {g}")  # dead: arrays nothing refers to can be taken or freed
            try:
                event = next(gen)
            except StopIteration:
                break
            continue
        _, k, buf = event
        cls, _, edges = struct[k]
        outs = _emit_node(k, cls, edges, buf, lines, const, fresh, uncertain, retain_graph)
        try:
            event = gen.send(outs)
        except StopIteration:
            break
    src = "def _bw(N, g0):\n" + "".join(f"    {line}\n" for line in lines or ["pass"])
    scope = {
        "_sum_to": _sum_to_array,
        "_T": Tensor,
        "_PMIN": PARALLEL_MIN,
        "_freed": _freed,
        "_add": _add_maybe,
        "_addg": add_grads,
        "_FROM_NP": _dt.FROM_NP,
    }
    scope.update(consts)
    exec(compile(src, f"<fluxion: compiled backward {len(struct)} nodes>", "exec"), scope)  # noqa: S102
    fn = scope["_bw"]
    fn.source = src
    fn.match = _matcher(struct)
    return fn


def _emit_node(k, cls, edges, buf, lines, const, fresh, uncertain, retain_graph):
    n = f"n{k}"
    lines.append(f"{n} = N[{k}]")
    if buf is None or all(b is None for b in buf):
        if not retain_graph and cls is not AccumulateGrad:
            lines.append(f"N[{k}].release()")
        return []
    maybe = [b for b in buf if b is not None and b in uncertain]
    op = getattr(cls, "_op", None)
    inline = (
        op is not None
        and op.array_rules
        and issubclass(cls, OpNode)
        and not issubclass(cls, (SeqOpNode, MultiOpNode))
        and not maybe
    )
    outs: list = []
    if inline:
        lines.append(f"if {n}._freed: _freed()")
        grad = buf[0]
        nsave = len(op.save_idx)
        env_names: dict = {}

        def env(j: int) -> str:
            name = env_names.get(j)
            if name is not None:
                return name
            name = env_names[j] = fresh("e")
            if op.attrs_only_env:
                lines.append(f"{name} = {n}._attrs[{j}]")
            elif j < nsave:  # a saved Tensor's data, its version checked
                lines.append(f"{name} = {n}._saved[{j}]")
                lines.append(f"if isinstance({name}, _T):")
                lines.append(f"    {held} = True")
                lines.append(
                    f"    if {name}._vc is not None and {name}._vc.v != {n}._versions[{j}]: "
                    f"{n}._unpack(True)"
                )
                lines.append(f"    {name} = {name}._data")
            else:
                j2 = j - nsave
                n_attrs = len(op.attr_params) + len(op.aux)
                if j2 < n_attrs:
                    lines.append(f"{name} = {n}._attrs[{j2}]")
                elif op.save_result and j2 == n_attrs:  # the output, unless written in place
                    lines.append(f"if {n}._rvc.v != 0: {n}._unpack(True)")
                    lines.append(f"{name} = {n}._result")
                else:
                    m = j2 - n_attrs - (1 if op.save_result else 0)
                    i, kind = op.shape_idx[m]
                    if kind == "dtype":
                        lines.append(f"{name} = _FROM_NP[{n}._dtypes[{i}]]")
                    elif kind == "shape":
                        lines.append(f"{name} = {n}._shapes[{i}]")
                    else:
                        lines.append(f"{name} = {n}._colmajor[{i}]")
            return name

        shapes = cast = None  # names of the node's input shapes and casts, loaded once
        held = fresh("h")  # whether the node saved a tensor (release() then frees it)
        if op.save_idx and not op.attrs_only_env:
            lines.append(f"{held} = False")
        for i, (rule, idx) in enumerate(op.raw_rules):
            if rule is None or edges[i] is None:
                outs.append(None)
                continue
            g = fresh("g")
            if _is_identity(rule):  # `lambda grad: grad` (add's input): the same array
                lines.append(f"{g} = {grad}")
            elif getattr(rule, "small_expr", None) is not None:  # inline for small operands
                values = [grad] + [env(j) for j in idx]
                expr = _substitute(rule, values)
                args = ", ".join(values)
                lines.append(f"{g} = ({expr}) if {grad}.size < _PMIN else {const(rule)}({args})")
            else:
                args = ", ".join([grad] + [env(j) for j in idx])
                lines.append(f"{g} = {const(rule)}({args})")
            if op.broadcasts:
                if shapes is None:
                    shapes = fresh("s")
                    lines.append(f"{shapes} = {n}._shapes")
                lines.append(f"if {g}.shape != {shapes}[{i}]: {g} = _sum_to({g}, {shapes}[{i}])")
            if op.promote is not None:
                if cast is None:
                    cast = fresh("c")
                    lines.append(f"{cast} = {n}._cast")
                lines.append(
                    f"if {cast} is not None and {g}.dtype != {cast}[{i}]: "
                    f"{g} = {g}.astype({cast}[{i}])"
                )
            outs.append(g)
        lines.append(f"del {grad}")  # dead now: a leaf may take an array nothing else refers to
        if not retain_graph and op.save_result:  # release(), inlined: the output is an array
            lines.append(f"{n}._saved = {n}._result = None")
            lines.append(f"{n}._freed = True")
        elif not retain_graph and op.save_idx and not op.attrs_only_env:
            # release(), inlined: every saved slot was read above (the plan saves what the
            # rules of the inputs that require grad use), so `held` knows what it would check
            lines.append(f"if {held}: {n}._saved = None; {n}._freed = True")
        elif not retain_graph and op.save_idx:  # else release() does nothing
            lines.append(f"{n}.release()")
        return outs
    o = fresh("o")
    if cls is AccumulateGrad:
        # The list holds the only reference the function keeps (the variable is dropped), so
        # the leaf can take a gradient array nothing else refers to instead of copying it.
        lines.append(f"{o} = [{buf[0]}]")
        lines.append(f"del {buf[0]}")
        lines.append(
            f"if {o}[0] is not None: {n}.apply_raw({o})" if maybe else f"{n}.apply_raw({o})"
        )
        return []
    # Any other node: its own apply_raw, exactly as the engine calls it.
    call = f"{o} = {n}.apply_raw([{', '.join(b or 'None' for b in buf)}])"
    skippable = maybe and len([b for b in buf if b is not None]) == len(maybe)
    if skippable:
        check = " or ".join(f"{b} is not None" for b in maybe)
        lines.append(
            f"{o} = ({n}.apply_raw([{', '.join(b or 'None' for b in buf)}]) if {check} else ())"
        )
    else:
        lines.append(call)
    lines.append(f"del {', '.join(b for b in buf if b is not None)}")
    if not retain_graph and cls is not AccumulateGrad:
        lines.append(f"{n}.release()")
    if cls is AccumulateGrad:
        return []
    lines.append(f"{o} = list({o}) + [None] * ({len(edges)} - len({o}))")
    for i, e in enumerate(edges):
        if e is None:
            outs.append(None)
        else:
            name = fresh("g")
            lines.append(f"{name} = {o}[{i}]")
            # registry rules always return arrays; a custom Function's backward may return
            # None for an input, and a node whose every incoming gradient was None is skipped
            if skippable or not issubclass(cls, OpNode):
                uncertain.add(name)
            outs.append(name)
    lines.append(f"del {o}")  # each gradient now has one name: a leaf may take what it gets
    return outs


_PLUMBING = {"RESUME", "NOP", "CACHE"}


def _is_identity(rule) -> bool:
    """Whether ``rule`` is exactly ``lambda grad: grad`` (its gradient passes through)."""
    import dis

    code = getattr(rule, "__code__", None)
    if code is None or code.co_argcount != 1:
        return False
    ops = [(i.opname, i.argval) for i in dis.get_instructions(rule) if i.opname not in _PLUMBING]
    return ops == [("LOAD_FAST", code.co_varnames[0]), ("RETURN_VALUE", None)]


def _substitute(rule, values: list) -> str:
    """``rule.small_expr`` with the rule's parameter names replaced by ``values`` (names)."""
    code = rule.__code__
    names = dict(zip(code.co_varnames[: code.co_argcount], values))
    return re.sub(r"[A-Za-z_]\w*", lambda m: names.get(m[0], m[0]), rule.small_expr)


def _freed():
    raise RuntimeError(FREED_MSG)


def sum_line(new: str, old: str, g: str) -> str:
    """Generated code for ``new = old + g`` (two gradient arrays, neither None): large arrays on
    every core (``add_grads``), small ones with no call. Needs ``_addg`` and ``_PMIN``."""
    return f"{new} = {old} + {g} if {old}.size < _PMIN else _addg({old}, {g})"


def _add_maybe(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return add_grads(a, b)
