"""``defop``: one declaration per differentiable primitive, compiled to a lean call path.

A declaration names the forward (on raw arrays, receiving the array module ``xp``) and one VJP
rule per differentiable input, keyed by the parameter name. Rules are written with fluxion Tensor
ops, so running them with grad mode on (``create_graph=True``) records their own graph: double
backward comes for free.

At registration ``defop`` reads each rule's parameter names once and decides what the node must
save: the inputs the rules name, and ``result`` when a rule asks for the output. What runs per
call is ``_apply``: unwrap, promote dtypes, call the backend, wrap, and build one node only when
grad mode is on and an input requires grad.
"""

from __future__ import annotations

import inspect
import linecache
import sys
import types
from collections.abc import Callable

import numpy as np

from .. import dtypes as _dt
from .._backend import PARALLEL_MIN
from ..autograd.engine import FREED_MSG, Node, make_accumulator
from ..autograd.grad_mode import state as _grad_state
from ..tensor import TRACE, VOLATILE_SEEN, Tensor, _Version, _wrap

__all__ = ["defop", "OpDef", "REGISTRY", "ZERO", "NOT_DIFFERENTIABLE", "sum_to"]

xp = np  # NOTE: CPU backend; the device seam picks cupy for CUDA tensors (fluxion._backend)

ZERO = "zero"  # the derivative exists and is 0 everywhere (floor, sign, round)
NOT_DIFFERENTIABLE = "not_differentiable"  # the output never gets a grad_fn (argmax, comparisons)

REGISTRY: dict = {}

_FLOAT_KINDS = "f"
_PY_NUM = (int, float)


class OpDef:
    """What ``defop`` records about an op; read by the engine, tests, docs and dialects."""

    __slots__ = (
        "name",
        "forward",
        "grads",
        "tensor_params",
        "attr_params",
        "rules",
        "save_idx",
        "save_result",
        "plans",
        "broadcasts",
        "promote",
        "view",
        "node_cls",
        "shape_idx",
        "need_shapes",
        "need_colmajor",
        "array_rules",
        "raw_rules",
        "attrs_only_env",
        "differentiable",
        "public",
        "__dict__",
    )

    def __repr__(self) -> str:
        return f"OpDef({self.name!r})"


class OpNode(Node):
    """Backward node of a ``defop`` op. One subclass per op gives PyTorch's names."""

    __slots__ = (
        "_saved",
        "_versions",
        "_attrs",
        "_result",
        "_rvc",
        "_cast",
        "_shapes",
        "_dtypes",
        "_colmajor",
        "_freed",
    )
    _op: OpDef

    def release(self) -> None:
        # Saved Python numbers are attributes, not buffers, so a node that saved only numbers
        # (``x * 2``) can run again after its graph was "freed". NOTE: this follows the autograd
        # tutorial the issue quotes (y.backward(v) twice); torch 2.x raises there instead.
        if self._result is None:
            saved = self._saved
            if not saved:
                return
            for s in saved:  # a loop, not any(<generator>): this runs once per node
                if isinstance(s, Tensor):
                    break
            else:
                return
        self._saved = None
        self._result = None
        self._freed = True

    def apply(self, grads: list):
        if self._freed:
            raise RuntimeError(FREED_MSG)
        op = self._op
        grad = grads[0]
        env = self._unpack()
        edges = self.next_functions
        broadcasts = op.broadcasts
        out = []
        i = 0
        for rule, idx in op.rules:
            if rule is None or edges[i][0] is None:
                out.append(None)
            else:
                g = rule(grad, *[env[j] for j in idx]) if idx else rule(grad)
                if broadcasts and g._data.shape != self._shapes[i]:
                    g = sum_to(g, self._shapes[i])
                if self._cast is not None and g._data.dtype != self._cast[i]:
                    g = g.to(_dt.FROM_NP[self._cast[i]])  # promoted input: grad in its dtype
                out.append(g)
            i += 1
        return out

    def apply_raw(self, grads: list) -> list:
        """First-order backward: with ``array_rules`` the rules run on raw arrays, no Tensors."""
        op = self._op
        if not op.array_rules:
            return Node.apply_raw(self, grads)
        if self._freed:
            raise RuntimeError(FREED_MSG)
        grad = grads[0]
        env = self._attrs if op.attrs_only_env else self._unpack(True)
        edges = self.next_functions
        shapes = self._shapes if op.broadcasts else None
        cast = self._cast
        out = []
        i = 0
        for rule, idx in op.raw_rules:
            if rule is None or edges[i][0] is None:
                out.append(None)
                i += 1
                continue
            n = len(idx)  # unrolled: a comprehension per rule call costs more than the rule
            if n == 0:
                g = rule(grad)
            elif n == 1:
                g = rule(grad, env[idx[0]])
            elif n == 2:
                g = rule(grad, env[idx[0]], env[idx[1]])
            else:
                g = rule(grad, *[env[j] for j in idx])
            if shapes is not None and g.shape != shapes[i]:
                g = _sum_to_array(g, shapes[i])
            if cast is not None and g.dtype != cast[i]:
                g = g.astype(cast[i])
            out.append(g)
            i += 1
        return out

    def _unpack(self, raw: bool = False) -> list:
        """Return saved inputs, attributes and result, checking in-place modification."""
        saved = self._saved
        if saved:
            env = []
            for t, v in zip(saved, self._versions):  # one pass: check versions, unwrap if raw
                if not isinstance(t, Tensor):
                    env.append(t)
                    continue
                env.append(t._data if raw else t)
                if t._vc is not None and t._vc.v != v:
                    raise RuntimeError(
                        "one of the variables needed for gradient computation has been modified "
                        f"by an inplace operation: [{t.type()} {list(t.shape)}], which is "
                        f"needed by {self.name()}, is at version {t._version}; expected version "
                        f"{v} instead. Hint: clone the tensor before the in-place operation, or "
                        "do the in-place operation after backward."
                    )
        else:
            env = [None] * len(self._op.save_idx)
        if self._attrs:
            env.extend(self._attrs)
        if self._result is not None:
            if self._rvc.v != 0:  # the output itself was modified in place after it was saved
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: [{_dt.FROM_NP[self._result.dtype].legacy_name} "
                    f"{list(self._result.shape)}], which is output 0 of {self.name()}, is at "
                    f"version {self._rvc.v}; expected version 0 instead. Hint: clone the output "
                    "before modifying it in place."
                )
            if raw:
                env.append(self._result)
            else:
                r = _wrap(self._result)
                if _grad_state.enabled:  # double backward: the output is a function of the inputs
                    r.grad_fn = self
                    r.requires_grad = True
                env.append(r)
        elif self._op.save_result:
            env.append(None)
        if self._op.shape_idx:
            for i, kind in self._op.shape_idx:
                env.append(self._meta(i, kind))
        return env

    def _meta(self, i: int, kind: str):
        """What a rule asking for ``<param>_<kind>`` gets for input ``i``."""
        if kind == "shape":
            return self._shapes[i]
        if kind == "dtype":
            return _dt.FROM_NP[self._dtypes[i]]
        return self._colmajor[i]

    @property
    def _saved_tensors(self):
        return tuple(t for t in (self._saved or ()) if isinstance(t, Tensor))


class SeqOpNode(OpNode):
    """Node of an op whose tensor parameter is a sequence (``cat``): one edge per tensor."""

    __slots__ = ()

    def apply(self, grads: list):
        rule, idx = self._op.rules[0]
        env = list(self._attrs)
        for _, kind in self._op.shape_idx:
            env.append(
                tuple(_dt.FROM_NP[d] for d in self._dtypes) if kind == "dtype" else self._shapes
            )
        gs = rule(grads[0], *[env[j] for j in idx])
        return [g if e[0] is not None else None for g, e in zip(gs, self.next_functions)]


class MultiOpNode(OpNode):
    """Node shared by the outputs of a ``multi_output`` op (``split``); rules get ``grads``."""

    __slots__ = ("_out_meta",)

    def apply(self, grads: list):
        if any(g is None for g in grads):  # an unused output contributes zeros, as in PyTorch
            grads = [
                _wrap(xp.zeros(*meta)) if g is None else g for g, meta in zip(grads, self._out_meta)
            ]
        return OpNode.apply(self, [grads])


def sum_to(g: Tensor, shape: tuple) -> Tensor:
    """Sum ``g`` over the dimensions broadcasting added, so that it has ``shape``."""
    lead = g.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and g.shape[i + lead] != 1
    )
    if dims:
        g = g.sum(dims, keepdim=True)
    if lead:
        g = g.reshape(shape)
    return g


_GRAD_NAMES = ("grad", "grads")  # the incoming gradient(s), never saved


def _sum_to_array(g, shape: tuple):
    """``sum_to`` on a raw array (first-order backward)."""
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and g.shape[i + lead] != 1
    )
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    if lead:
        g = g.reshape(shape)
    return g


def _rule_params(rule: Callable) -> list[str]:
    names = []
    for p in inspect.signature(rule).parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in _GRAD_NAMES:
            names.append(p.name)
    return names


def defop(
    name: str,
    forward: Callable,
    grads=None,
    *,
    inputs: tuple | None = None,
    broadcasts: bool = False,
    promote: str | None = None,
    view: bool = False,
    node_name: str | None = None,
    aux: tuple = (),
    array_rules: bool = False,
    raw_grads: dict | None = None,
    seq_input: bool = False,
    multi_output: bool = False,
    replay: Callable | None = None,
) -> Callable:
    """Declare an op and return its public function.

    Args:
        name: Public name (``"mul"``); the node class is ``MulBackward0`` unless ``node_name``.
        forward: ``forward(xp, *params)`` on raw arrays; its parameter names are the public
            signature (defaults included).
        grads: ``{param: rule}`` where ``rule(grad, <names>...)`` returns the VJP for ``param``;
            or ``ZERO`` / ``NOT_DIFFERENTIABLE``.
        inputs: Names of the tensor parameters (default: the keys of ``grads``).
        broadcasts: The engine sums gradients back to each input's shape.
        promote: ``"promote"`` casts tensor inputs to PyTorch's common dtype first; ``"float"``
            also turns integer results into the default float dtype.
        view: The result shares memory (and the version counter) with the first input.
        array_rules: The rules use only operators (and methods NumPy arrays share with
            Tensors), so first-order backward may run them on raw arrays, skipping Tensor
            dispatch. Double backward still runs them on Tensors.
        raw_grads: ``{param: rule}`` written on raw arrays, for the first-order backward of
            ops whose ``grads`` call other ops (``mm(grad, mat2.t())``): the same arithmetic
            as the Tensor rule, spelled with the forwards it would reach. Each raw rule may ask
            only for names its Tensor rule asks for (the save plan is the Tensor rules').
        aux: Names of extra, non-differentiable outputs the forward returns after the first
            (``max(dim)`` returns ``indices``); rules may ask for them by name.
        seq_input: The one tensor parameter is a sequence of tensors (``cat(tensors)``): the
            node gets one edge per tensor and the rule returns one gradient per tensor. Rules
            may ask for attributes and ``<param>_shape`` / ``<param>_dtype`` (tuples with one
            entry per tensor), not for the tensors or ``result``.
        multi_output: The forward returns a tuple of arrays, all differentiable (``split``).
            One node serves every output; the rule's first argument is ``grads``, one gradient
            per output (zeros for outputs that got none). Rules may not ask for ``result``.
        replay: The forward without its argument checks, same parameters (positional), for
            ``fluxion.jit`` replays: a replay reruns the shapes and dtypes that passed the checks
            when it was traced. Only checks of shapes, dtypes and attributes may be left out;
            checks of values (an index out of range) stay. Default: ``forward``.
    """
    sig = inspect.signature(forward)
    params = list(sig.parameters.values())[1:]  # drop xp
    pnames = [p.name for p in params]
    differentiable = isinstance(grads, dict)
    if inputs is None:
        inputs = tuple(grads) if differentiable else (pnames[0],)
    tensor_params = [n for n in pnames if n in inputs]
    attr_params = [n for n in pnames if n not in inputs]
    if pnames[: len(tensor_params)] != tensor_params:
        raise TypeError(f"defop({name!r}): tensor parameters must come before the others")
    if any(p.kind is p.KEYWORD_ONLY for p in params):
        fwd = forward
        forward = lambda xp, *a: fwd(xp, *a[: len(pos)], **dict(zip(kw, a[len(pos) :])))  # noqa: E731
        pos = [p.name for p in params if p.kind is not p.KEYWORD_ONLY]
        kw = [p.name for p in params if p.kind is p.KEYWORD_ONLY]
    op = OpDef()
    op.name, op.forward, op.grads = name, forward, grads
    op.replay = forward if replay is None else replay
    op.tensor_params, op.attr_params = tuple(tensor_params), tuple(attr_params)
    op.broadcasts, op.promote, op.view = broadcasts, promote, view
    op.differentiable = differentiable

    rules = []
    saved: list[str] = []
    needs_result = False
    if differentiable:
        wanted = {n for r in grads.values() if callable(r) for n in _rule_params(r)}
        saved = [n for n in tensor_params if n in wanted]
        needs_result = "result" in wanted
        meta = [(n, k) for n in tensor_params for k in _META_KINDS if f"{n}_{k}" in wanted]
        env_names = saved + attr_params + list(aux) + (["result"] if needs_result else [])
        env_names += [f"{n}_{k}" for n, k in meta]
        for n in tensor_params:
            rule = grads.get(n)
            if rule is ZERO:
                rule = _zero_rule
            if rule is None:
                rules.append((None, ()))
            else:
                rules.append((rule, tuple(env_names.index(a) for a in _rule_params(rule))))
    op.rules = tuple(rules)
    # (input index, kind) for rules that ask for `<param>_shape`, `_dtype` or `_colmajor`
    op.shape_idx = tuple((tensor_params.index(n), k) for n, k in meta) if differentiable else ()
    op.need_shapes = bool(broadcasts or op.shape_idx)
    op.need_colmajor = any(k == "colmajor" for _, k in op.shape_idx)
    op.array_rules = bool(array_rules or raw_grads)
    op.raw_rules = op.rules if array_rules else None
    if raw_grads:
        raw = []
        for n, (rule, idx) in zip(tensor_params, rules):
            r = raw_grads.get(n)
            if r is None:
                raw.append((None, ()) if rule is None else (rule, idx))
                continue
            names = _rule_params(r)
            wanted_here = set(_rule_params(grads[n])) if callable(grads.get(n)) else set()
            if not set(names) <= wanted_here:
                raise TypeError(f"defop({name!r}): raw rule for {n!r} asks for {names}")
            raw.append((r, tuple(env_names.index(a) for a in names)))
        missing = [
            n for n, (r, _) in zip(tensor_params, raw) if r is not None and n not in raw_grads
        ]
        if missing:
            raise TypeError(f"defop({name!r}): raw_grads must cover every rule (missing {missing})")
        op.raw_rules = tuple(raw)
    # rules that need only attributes (add, sub) get the attribute tuple itself as their env
    op.attrs_only_env = not saved and not needs_result and not op.shape_idx and not aux
    op.save_idx = tuple(tensor_params.index(n) for n in saved)
    op.save_result = needs_result
    # Per mask of inputs that require grad: which saved slots and whether the output are needed.
    # Only the rules of those inputs run, so nothing else is kept alive (PyTorch's codegen does
    # the same: `x * 2` saves nothing of `x`).
    op.plans = {}
    for mask in range(1 << len(tensor_params)):
        used = set()
        for i, (rule, idx) in enumerate(rules):
            if mask >> i & 1 and rule is not None:
                used.update(env_names[j] for j in idx)
        op.plans[mask] = (
            tuple((j, tensor_params.index(n)) for j, n in enumerate(saved) if n in used),
            "result" in used,
        )
    op.seq_input, op.multi_output = seq_input, multi_output
    op.aux = aux
    if (seq_input and (len(tensor_params) != 1 or saved or needs_result)) or (
        multi_output and needs_result
    ):
        raise TypeError(f"defop({name!r}): seq_input/multi_output rules cannot use that input")
    base = SeqOpNode if seq_input else MultiOpNode if multi_output else OpNode
    cls_name = node_name or "".join(w.capitalize() for w in name.split("_")) + "Backward0"
    op.node_cls = type(cls_name, (base,), {"__slots__": (), "_op": op})
    REGISTRY[name] = op

    op.public = _make_public(op, sig, params, aux)
    return op.public


# The per-call path, specialised at import time for ops with one or two tensor parameters (almost
# all of them): the generated function unwraps, promotes, calls the forward, wraps, and records,
# with no loops, tuples of arguments or kwargs handling. Measured on the 200-op overhead chain:
# the generic `_apply` costs about twice as much per call.
_TEMPLATE = """
def {name}({sig}):
    if isinstance({p0}, Tensor):
        d0 = {p0}._data
        rg = {p0}.requires_grad
    else:
        d0 = _scalar_input({p0}, {name!r})
        rg = False
{unwrap1}{promote}    try:
{forward_call}    except ValueError as exc:  # free when nothing is raised; NumPy errors -> PyTorch
        raise _shape_error(_op, exc, (d0{d1},)) from None
    if type(out) is not _nd:
        out = _xp.asarray(out)
    r = _new(Tensor)
    r._data = out
    r.grad = None
    r._vc = None
{view}{record}{volatile}    if _tr[0] is not None:
        _tr[0].op(_op, ({p0},{p1}), (d0{d1},), ({attrs_tuple}), r)
    return r
"""
_RECORD = """    if rg and _state.enabled{float_check}:
        if _vol:  # legacy volatile somewhere: the general path decides
            r.grad_fn = None
            r.requires_grad = False
            _record(_op, ({p0},{p1}), ({attrs_tuple}), r, out)
        else:
{inline_record}    else:
        r.grad_fn = None
        r.requires_grad = False
"""
# Legacy volatile: `_vol` is the shared cell VOLATILE_SEEN (False until a volatile tensor exists).
# Off the recording path it is the only cost; `_record` itself checks the inputs' volatility.
_VOLATILE_ELIF = """        if _vol:
            _mark_volatile(r, ({p0},{p1}))
"""
_VOLATILE_IF = """    r.grad_fn = None
    r.requires_grad = False
    if _vol:
        _mark_volatile(r, ({p0},{p1}))
"""
_UNWRAP1 = """    if isinstance({p1}, Tensor):
        d1 = {p1}._data
        if {p1}.requires_grad:
            rg = True
    else:
        d1 = {p1}
"""
_PROMOTE1 = """    if d0.dtype.kind != "f":
        d0 = _promote1(d0, {kind!r})
"""
# `pr` says whether the slow path ran: on the fast paths every tensor input already has the
# output's dtype, so recording needs no casts for the gradients
_PROMOTE2 = """    t0 = type(d0)
    t1 = type(d1)
    pr = False
    if t0 is _nd:
        if not (d0.dtype.kind == "f" and (t1 is float or t1 is int or
                                          (t1 is _nd and d1.dtype is d0.dtype))):
            d0, d1 = _promote2(d0, d1, {kind!r})
            pr = True
    elif not (t1 is _nd and d1.dtype.kind == "f" and (t0 is float or t0 is int)):
        d0, d1 = _promote2(d0, d1, {kind!r})
        pr = True
"""
_VIEW = """    r._share_version({p0})
    r._view_src = ({p0}, _op, ({attrs_tuple}))
"""


def _inline_record(op: OpDef, p0: str, p1: str, attrs_tuple: str) -> str:
    """``_record`` for one op with one or two tensor parameters, its constants folded in.

    The same steps in the same order (edges, shapes, casts, metadata, saved inputs per mask of
    inputs that require grad, attributes, output), as straight-line code in the op's call path:
    no call, no argument tuples, no branches on what the op declares. Measured on the overhead
    chain: ``_record`` took 0.6-1.1 us per call.
    """
    params = [p0, p1] if p1 else [p0]
    two = len(params) == 2
    L: list = []
    add = L.append
    add("node = _Node()")
    for i, p in enumerate(params):
        edge = [  # _edge, inlined for a live leaf accumulator and a non-view
            f"fn = {p}.grad_fn",
            "if fn is None:",
            f"    ref = {p}._accum_ref",
            "    fn = ref() if ref is not None else None",
            f"    e{i} = (fn, 0) if fn is not None else _edge({p})",
            f"elif {p}._view_version is None:",
            f"    e{i} = (fn, {p}._output_nr)",
            "else:",
            f"    e{i} = _edge({p})",
        ]
        if two:
            add(f"if isinstance({p}, Tensor) and {p}.requires_grad:")
            L.extend("    " + line for line in edge)
            add(f"    m{i} = True")
            add("else:")
            add(f"    e{i} = _NO_EDGE")
            add(f"    m{i} = False")
        else:
            L.extend(edge)  # a single input reaches recording only when it requires grad
    add(f"node.next_functions = ({', '.join(f'e{i}' for i in range(len(params)))},)")
    if op.need_shapes:
        shapes = ", ".join(f"{p}._data.shape if isinstance({p}, Tensor) else ()" for p in params)
        add(f"node._shapes = ({shapes},)")
    if op.promote is not None:
        if two:  # only after the promoting slow path (see _PROMOTE2) can an input differ
            add("if pr:")
            add("    odt = out.dtype")
            for i, p in enumerate(params):
                add(f"    c{i} = {p}._data.dtype if isinstance({p}, Tensor) else odt")
            add("    node._cast = (c0, c1) if c0 is not odt or c1 is not odt else None")
            add("else:")
            add("    node._cast = None")
        else:
            add(f"c0 = {p0}._data.dtype")
            add("node._cast = (c0,) if c0 is not out.dtype else None")
    else:
        add("node._cast = None")
    if op.shape_idx:
        dts = ", ".join(f"{p}._data.dtype if isinstance({p}, Tensor) else None" for p in params)
        add(f"node._dtypes = ({dts},)")
        if op.need_colmajor:
            add(f"node._colmajor = ({', '.join(f'_is_colmajor({p})' for p in params)},)")

    def plan_lines(mask: int) -> list:
        save, save_result = op.plans[mask]
        out = []
        if save:
            slots = ["None"] * len(op.save_idx)
            versions = ["0"] * len(op.save_idx)
            for j, i in save:
                p = params[i]
                slots[j] = p
                versions[j] = (
                    f"({p}._vc.v if isinstance({p}, Tensor) and {p}._vc is not None else 0)"
                )
            out.append(f"node._saved = [{', '.join(slots)}]")
            out.append(f"node._versions = [{', '.join(versions)}]")
        else:
            out.append("node._saved = None")
        if save_result:
            out.append("node._result = out")
            out.append("node._rvc = r._vc = _Version()  # in-place writes to the output: caught")
        else:
            out.append("node._result = None")
        return out

    if two:
        variants = {m: plan_lines(m) for m in (1, 2, 3)}
        if variants[1] == variants[2] == variants[3]:
            L.extend(variants[3])
        else:
            add("if m0 and m1:")
            L.extend("    " + line for line in variants[3])
            add("elif m0:")
            L.extend("    " + line for line in variants[1])
            add("else:")
            L.extend("    " + line for line in variants[2])
    else:
        L.extend(plan_lines(1))
    add(f"node._attrs = ({attrs_tuple})")
    add("node._freed = False")
    add("r.grad_fn = node")
    add("r.requires_grad = True")
    return "".join(" " * 12 + line + "\n" for line in L)


_PLUMBING = {"RESUME", "PRECALL", "CALL", "RETURN_VALUE", "PUSH_NULL", "CACHE", "NOP"}


def _plain_ufunc(forward, params) -> Callable | None:
    """The ufunc ``f`` when ``forward`` is exactly ``lambda xp, a, b: xp.f(a, b)``, else None.

    Calling the ufunc directly skips one Python frame per op call (about 0.1 us).
    """
    import dis

    names = []
    for ins in dis.get_instructions(forward):
        if ins.opname in _PLUMBING:
            continue
        if ins.opname not in ("LOAD_FAST", "LOAD_ATTR", "LOAD_METHOD"):
            return None
        names.append(ins.argval)
    want = ["xp", None] + [p.name for p in params]
    if len(names) != len(want) or names[0] != "xp" or names[2:] != want[2:]:
        return None
    fn = getattr(xp, names[1], None)
    return fn if isinstance(fn, np.ufunc) else None


def _make_public(op: OpDef, sig, params, aux) -> Callable:
    """Build the public function with the forward's exact signature (Python binds keywords)."""
    sig_src = str(sig.replace(parameters=params))[1:-1]
    ufunc = _plain_ufunc(op.forward, params)
    op.ufunc = ufunc  # what the generated path calls instead of the forward (fluxion.jit too)
    # The bare ufunc a thread-splitting forward (_backend.threaded*) calls for small operands
    # when every attribute is at its default: the generated path and fluxion.jit (ops without
    # attributes) call it directly for small operands
    op.small_ufunc = ufunc or getattr(op.forward, "small_ufunc", None)
    if op.small_ufunc is None and hasattr(op.forward, "__wrapped__"):
        op.small_ufunc = _plain_ufunc(op.forward.__wrapped__, params)
    ns = {
        "_apply": _apply,
        "_op": op,
        "_fwd": ufunc if ufunc is not None else op.forward,
        "_xp": xp,
        "_nd": np.ndarray,
        "Tensor": Tensor,
        "_new": object.__new__,
        "_state": _grad_state,
        "_record": _record,
        "_promote1": _promote1,
        "_promote2": _promote2,
        "_scalar_input": _scalar_input,
        "_shape_error": _shape_error,
        "_apply_seq": _apply_seq,
        "_tr": TRACE,
        "_vol": None,  # replaced below by the shared cell VOLATILE_SEEN
        "_mark_volatile": _mark_volatile,
        "_Node": op.node_cls,
        "_edge": _edge,
        "_NO_EDGE": _NO_EDGE,
        "_Version": _Version,
        "_is_colmajor": _is_colmajor,
        "_small": op.small_ufunc,
        "_PMIN": PARALLEL_MIN,
    }
    for p in params:
        if p.default is not p.empty:
            ns[f"_d_{p.name}"] = p.default
            sig_src = sig_src.replace(f"{p.name}={p.default!r}", f"{p.name}=_d_{p.name}", 1)
    tp, ap = op.tensor_params, op.attr_params
    if op.seq_input:
        aargs = ", ".join(ap) + ("," if len(ap) == 1 else "")
        src = f"def {op.name}({sig_src}):\n    return _apply_seq(_op, {tp[0]}, ({aargs}))\n"
    elif len(tp) in (1, 2) and not aux and not op.multi_output:
        attrs_tuple = ", ".join(ap) + ("," if len(ap) == 1 else "")
        fields = {
            "name": op.name,
            "sig": sig_src,
            "p0": tp[0],
            "p1": tp[1] if len(tp) == 2 else "",
            "d1": ", d1" if len(tp) == 2 else "",
            "attrs_tuple": attrs_tuple,
            "attrs_call": "".join(f", {a}" for a in ap),
        }
        fields["unwrap1"] = _UNWRAP1.format(**fields) if len(tp) == 2 else ""
        promote = ""
        if op.promote is not None:
            promote = (_PROMOTE2 if len(tp) == 2 else _PROMOTE1).format(kind=op.promote)
        fields["promote"] = promote
        fields["view"] = _VIEW.format(**fields) if op.view else ""
        if op.differentiable:
            fields["inline_record"] = _inline_record(op, fields["p0"], fields["p1"], attrs_tuple)
            # a promoting op with a float input that requires grad has a float output
            fields["float_check"] = "" if op.promote is not None else ' and out.dtype.kind == "f"'
            fields["record"] = _RECORD.format(**fields)
        else:
            fields["record"] = ""
        volatile = _VOLATILE_ELIF if op.differentiable else _VOLATILE_IF
        fields["volatile"] = volatile.format(**fields)
        xp_arg = "" if ufunc is not None else "_xp, "
        call = f"out = _fwd({xp_arg}d0{fields['d1']}{fields['attrs_call']})"
        if ufunc is None and op.small_ufunc is not None and len(tp) == 2:
            # small operands, attributes at their defaults: the bare ufunc the forward would
            # call (one or two Python frames fewer per call)
            at_default = "".join(f"{a} == _d_{a} and " for a in ap)
            fields["forward_call"] = (
                f"        if {at_default}(type(d0) is not _nd or d0.size < _PMIN) and "
                "(type(d1) is not _nd or d1.size < _PMIN):\n"
                "            out = _small(d0, d1)\n"
                "        else:\n"
                f"            {call}\n"
            )
        else:
            fields["forward_call"] = f"        {call}\n"
        src = _TEMPLATE.format(**fields)
    else:
        targs = ", ".join(tp) + ("," if len(tp) == 1 else "")
        aargs = ", ".join(ap) + ("," if len(ap) == 1 else "")
        src = f"def {op.name}({sig_src}):\n    return _apply(_op, ({targs}), ({aargs}))\n"
    # Every name the body uses is a closure variable of a factory, so the function can then be
    # rebound to the globals of the module that declared the op: doctest finds its docstring
    # there, and tracebacks and `help()` point at that module.
    names = sorted(ns)
    body = "\n".join("    " + line for line in src.strip("\n").splitlines())
    factory_src = f"def _factory({', '.join(names)}):\n{body}\n    return {op.name}\n"
    scope: dict = {}
    filename = f"<fluxion: generated call path of {op.name}>"
    code = compile(factory_src, filename, "exec")
    # tracebacks and debuggers show the generated lines
    linecache.cache[filename] = (len(factory_src), None, factory_src.splitlines(True), filename)
    exec(code, scope)  # noqa: S102 - generated once at import time from the declaration
    inner = scope["_factory"](*[ns[n] for n in names])
    module = _declaring_module()
    # the body reads `_vol` through the one cell all generated paths share (flipped once, globally)
    closure = tuple(
        VOLATILE_SEEN if n == "_vol" else c
        for n, c in zip(inner.__code__.co_freevars, inner.__closure__ or ())
    )
    fn = types.FunctionType(
        inner.__code__, module.__dict__, op.name, inner.__defaults__, closure or None
    )
    fn.__kwdefaults__ = inner.__kwdefaults__
    fn.__qualname__ = op.name
    fn.__module__ = module.__name__
    return fn


def _declaring_module():
    """The module whose ``defop(...)`` call is running (the first frame outside this file)."""
    frame = sys._getframe(1)
    while frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
    return sys.modules[frame.f_globals["__name__"]]


def _shape_error(op: OpDef, exc: ValueError, datas) -> Exception:
    """Turn NumPy's broadcasting ValueError into PyTorch's RuntimeError (others pass through)."""
    if "broadcast" not in str(exc):
        return exc
    shapes = [tuple(d.shape) for d in datas if hasattr(d, "shape")]
    if len(shapes) >= 2:
        a, b = shapes[0], shapes[1]
        n = max(len(a), len(b))
        pa, pb = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
        for i in range(n - 1, -1, -1):  # PyTorch reports the last mismatching dimension
            if pa[i] != pb[i] and pa[i] != 1 and pb[i] != 1:
                return RuntimeError(
                    f"The size of tensor a ({pa[i]}) must match the size of tensor b ({pb[i]}) "
                    f"at non-singleton dimension {i}  ({op.name}: shapes {list(a)} and {list(b)} "
                    "cannot be broadcast together)"
                )
    return RuntimeError(f"{op.name}: shapes {[list(s) for s in shapes]} cannot be broadcast: {exc}")


def _scalar_input(value, name: str):
    """A non-tensor first argument: a Python number for reflected ops (``2 - x``)."""
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    if hasattr(value, "dtype") and hasattr(value, "shape"):  # NumPy array or scalar
        return xp.asarray(value)
    raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(value).__name__}")


def _promote1(d, kind: str):
    datas = [d]
    _promote(datas, kind)
    return datas[0]


def _promote2(d0, d1, kind: str):
    datas = [d0, d1]
    _promote(datas, kind)
    return datas[0], datas[1]


def small_expr(expr: str) -> Callable:
    """Declare what a raw rule computes for operands below ``PARALLEL_MIN``: ``expr``.

    ``expr`` is an operator expression of the rule's parameters (``"grad * other"``). The
    compiled backward writes it inline for small gradients (``g = g8 * e12 if g8.size < ...``)
    instead of calling the rule: the same operators on the same arrays, one call less.

    >>> r = small_expr("grad * result")(lambda grad, result: grad * result)
    >>> r.small_expr
    'grad * result'
    """

    def mark(rule: Callable) -> Callable:
        rule.small_expr = expr
        return rule

    return mark


def with_doc(fn: Callable, text: str) -> Callable:
    """Attach a docstring (with a doctest) to a declared op's public function.

    The generated function lives in the declaring module's globals, so doctest finds it there.
    """
    fn.__doc__ = text
    return fn


def _zero_rule(grad):
    # elementwise ops only: the input has the grad's shape (grad may be a raw array)
    if isinstance(grad, Tensor):
        return grad.new_zeros(grad.shape)
    return xp.zeros_like(grad)


def _promote(datas: list, kind: str) -> None:
    """Cast array inputs in place (in the list) to PyTorch's result dtype for the op."""
    key = []
    for d in datas:
        if type(d) is np.ndarray or hasattr(d, "dtype"):
            key.append((d.dtype, d.ndim == 0))
        elif d is not None:
            key.append((type(d), True))
    want = _dt.promote_key(tuple(key))
    if kind == "float" and want.kind not in _FLOAT_KINDS:
        want = _dt.get_default_dtype().np
    for i, d in enumerate(datas):
        dt = getattr(d, "dtype", None)
        if dt is not None and dt is not want:
            datas[i] = d.astype(want)
        elif dt is None and kind == "float" and type(d) is int:
            datas[i] = float(d)
        elif type(d) is int and want.kind in "iu":
            info = xp.iinfo(want)
            if not info.min <= d <= info.max:  # PyTorch wraps out-of-range integers
                datas[i] = xp.array(d).astype(want)


def promote_pair(a, b, kind: str = "promote"):
    """Promote two operands inside a forward (for ops that must look at raw dtypes first)."""
    ta, tb = type(a), type(b)
    if ta is np.ndarray:
        if a.dtype.kind == "f" and (
            tb is float or tb is int or (tb is np.ndarray and b.dtype is a.dtype)
        ):
            return a, b
    elif tb is np.ndarray and b.dtype.kind == "f" and (ta is float or ta is int):
        return a, b
    return _promote2(a, b, kind)


def _apply(op: OpDef, args: tuple, attrs: tuple) -> Tensor:
    datas = []
    track = False
    for a in args:
        if isinstance(a, Tensor):
            datas.append(a._data)
            if a.requires_grad:
                track = True
        else:
            datas.append(a)
    if op.promote is not None:
        n = len(datas)
        if n == 1:
            if datas[0].dtype.kind != "f":
                _promote(datas, op.promote)
        elif n == 2:
            a, b = datas
            # fast path: same float dtype on both sides, or a float tensor with a Python number
            if not (
                getattr(a, "dtype", 0) is getattr(b, "dtype", 1) and a.dtype.kind == "f"
            ) and not (
                type(b) in _PY_NUM and getattr(a, "dtype", None) is not None and a.dtype.kind == "f"
            ):
                _promote(datas, op.promote)
        else:
            _promote(datas, op.promote)
    try:
        out = op.forward(xp, *datas, *attrs)
    except ValueError as exc:
        raise _shape_error(op, exc, datas) from None
    if type(out) is tuple:
        results = _wrap_multi(op, args, attrs, out, track)
        if TRACE[0] is not None:
            TRACE[0].op(op, args, tuple(datas), attrs, results)
        return results
    if type(out) is not np.ndarray:
        out = xp.asarray(out)
    result = _wrap(out)
    if op.view:
        result._share_version(args[0])
        result._view_src = (args[0], op, attrs)  # replayed by in-place ops on views
    if track and _grad_state.enabled and op.differentiable and out.dtype.kind == "f":
        _record(op, args, attrs, result, out)
    elif VOLATILE_SEEN.cell_contents:
        _mark_volatile(result, args)
    if TRACE[0] is not None:
        TRACE[0].op(op, args, tuple(datas), attrs, result)
    return result


def _edge(a) -> tuple:
    """The edge an op's node gets for input ``a`` (a tensor that requires grad)."""
    fn = a.grad_fn
    if fn is not None:
        vv = a._view_version
        if vv is not None and vv != a._vc.v:  # a view whose base was written in place since
            from .inplace import refresh_stale_view

            fn = refresh_stale_view(a)
        return (fn, a._output_nr)
    ref = a._accum_ref
    acc = ref() if ref is not None else None
    return (acc if acc is not None else make_accumulator(a), 0)


_NO_EDGE = (None, 0)
# What a rule may ask about an input besides its value: `<param>_shape`, `<param>_dtype`, and
# `<param>_colmajor` (a column-major matrix, such as the `weight.t()` of a linear layer: mm's
# rule then computes the gradient in that layout, as PyTorch's mm_mat2_backward does).
_META_KINDS = ("shape", "dtype", "colmajor")


def _is_colmajor(a) -> bool:
    if not isinstance(a, Tensor):
        return False
    d = a._data
    return d.ndim == 2 and d.strides[0] == d.itemsize and d.strides[1] == d.shape[0] * d.itemsize


def _record(op: OpDef, args: tuple, attrs: tuple, result: Tensor, out) -> None:
    """Build the node of one op call (grad mode is on and an input requires grad)."""
    if VOLATILE_SEEN.cell_contents and _is_volatile(args):
        result._volatile = True  # legacy volatile wins over requires_grad: no node, nothing saved
        return
    node = op.node_cls()
    node._cast = None
    if len(args) == 2:  # the common case, unrolled (measured ~30% cheaper than the loops)
        a, b = args
        ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
        mask = 0
        if ta and a.requires_grad:
            e0 = _edge(a)
            mask = 1
        else:
            e0 = _NO_EDGE
        if tb and b.requires_grad:
            e1 = _edge(b)
            mask |= 2
        else:
            e1 = _NO_EDGE
        node.next_functions = (e0, e1)
        if op.need_shapes:
            node._shapes = (a._data.shape if ta else (), b._data.shape if tb else ())
        if op.promote is not None:
            odt = out.dtype
            if (ta and a._data.dtype is not odt) or (tb and b._data.dtype is not odt):
                node._cast = (a._data.dtype if ta else odt, b._data.dtype if tb else odt)
    elif len(args) == 1:
        (a,) = args
        mask = 1  # a single input reaches _record only when it requires grad
        node.next_functions = (_edge(a),)
        if op.need_shapes:
            node._shapes = (a._data.shape,)
        if op.promote is not None and a._data.dtype is not out.dtype:
            node._cast = (a._data.dtype,)
    else:
        edges = []
        mask = 0
        for i, a in enumerate(args):
            if isinstance(a, Tensor) and a.requires_grad:
                edges.append(_edge(a))
                mask |= 1 << i
            else:
                edges.append(_NO_EDGE)
        node.next_functions = tuple(edges)
        if op.need_shapes:
            node._shapes = tuple(a._data.shape if isinstance(a, Tensor) else () for a in args)
        if op.promote is not None:
            odt = out.dtype
            if any(isinstance(a, Tensor) and a._data.dtype is not odt for a in args):
                node._cast = tuple(a._data.dtype if isinstance(a, Tensor) else odt for a in args)
    if op.shape_idx:
        node._dtypes = tuple(a._data.dtype if isinstance(a, Tensor) else None for a in args)
        if op.need_colmajor:
            node._colmajor = tuple(_is_colmajor(a) for a in args)
    save, save_result = op.plans[mask]
    if save:
        saved = node._saved = [None] * len(op.save_idx)
        versions = node._versions = [0] * len(op.save_idx)
        for j, i in save:
            a = saved[j] = args[i]
            if isinstance(a, Tensor) and a._vc is not None:
                versions[j] = a._vc.v
    else:
        node._saved = None
    node._attrs = attrs
    if save_result:
        node._result = out
        node._rvc = result._vc = _Version()  # in-place writes to the output must be caught
    else:
        node._result = None
    node._freed = False
    result.grad_fn = node
    result.requires_grad = True


def _wrap_multi(op, args, attrs, outs, track):
    """Ops like ``max(dim)`` return (values, indices): only the first output is differentiable."""
    if op.multi_output:
        return _wrap_outputs(op, args, attrs, outs, track)
    outs = tuple(o if type(o) is np.ndarray else xp.asarray(o) for o in outs)
    values = _wrap(outs[0])
    if track and _grad_state.enabled and op.differentiable and outs[0].dtype.kind == "f":
        _record(op, args, attrs + (outs[1],), values, outs[0])
    results = (values,) + tuple(_wrap(o) for o in outs[1:])
    if VOLATILE_SEEN.cell_contents and _is_volatile(args):
        for r in results:
            r._volatile = True
    return results


def _wrap_outputs(op, args, attrs, outs, track):
    """``multi_output`` ops: every output is differentiable through one shared node."""
    results = tuple(_wrap(o) for o in outs)
    if op.view:
        for r in results:
            r._share_version(args[0])
    if VOLATILE_SEEN.cell_contents and _is_volatile(args):
        for r in results:
            r._volatile = True
    elif track and results and _grad_state.enabled and op.differentiable and _is_float(outs[0]):
        _record(op, args, attrs, results[0], outs[0])
        node = results[0].grad_fn
        node.n_outputs = len(outs)
        node._out_meta = tuple((o.shape, o.dtype) for o in outs)
        for i, r in enumerate(results[1:], 1):
            r.grad_fn = node
            r.requires_grad = True
            r._output_nr = i
    return results


def _is_float(arr) -> bool:
    return arr.dtype.kind == "f"


def _is_volatile(args) -> bool:
    """Whether any input is a legacy volatile tensor (only asked once one exists)."""
    for a in args:
        if isinstance(a, Tensor) and a._volatile:
            return True
    return False


def _mark_volatile(result: Tensor, args: tuple) -> None:
    """Legacy volatile: an op with a volatile input gives a volatile output (and no graph)."""
    if _is_volatile(args):
        result._volatile = True


def _apply_seq(op: OpDef, tensors, attrs: tuple) -> Tensor:
    """The call path of ``seq_input`` ops (``cat``, ``stack``): ordinary ops never come here."""
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(
            f"{op.name}(): argument '{op.tensor_params[0]}' (position 1) must be tuple of "
            f"Tensors, not {type(tensors).__name__}"
        )
    datas = []
    track = False
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(
                f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}"
            )
        datas.append(t._data)
        if t.requires_grad:
            track = True
    shapes = tuple(d.shape for d in datas)
    dtypes = tuple(d.dtype for d in datas)
    if op.promote is not None and len(datas) > 1 and len(set(dtypes)) > 1:
        _promote(datas, op.promote)
    out = op.forward(xp, datas, *attrs)
    result = _wrap(out)
    if VOLATILE_SEEN.cell_contents and _is_volatile(tensors):
        result._volatile = True
    elif track and _grad_state.enabled and op.differentiable and out.dtype.kind == "f":
        node = op.node_cls()
        node.next_functions = tuple(_edge(t) if t.requires_grad else (None, 0) for t in tensors)
        node._saved, node._attrs, node._result, node._freed = None, attrs, None, False
        node._shapes, node._dtypes, node._cast = shapes, dtypes, None
        result.grad_fn = node
        result.requires_grad = True
    if TRACE[0] is not None:
        TRACE[0].op(op, (tuple(tensors),), (datas,), attrs, result)
    return result
