"""Trace a loss function and its backward once; replay both on raw arrays afterwards.

``trace_backward(fn)`` wraps ``fn(*inputs) -> loss`` so that each call does what
``loss = fn(*inputs); loss.backward()`` does, with the same numbers bit for bit. The first call
for a given input signature (shapes, dtypes, ``requires_grad`` of the tensor arguments, and the
values of the other arguments) runs eagerly while a tracer watches: every op the registry runs
is recorded, and the backward graph it builds is walked in the engine's own order. From that,
one straight-line Python function is generated: the forwards as direct NumPy calls, then the
derivative rules in the order the engine would run them, the same sums of gradients, and the
same accumulation into the leaves' ``.grad``. Later calls run that function: no Tensor objects,
no graph nodes, no scheduling. A call that repeats an earlier one (the same op on the same arrays
with equal attributes, such as an RNN's ``w.t()`` in every step) is computed once.

What is frozen is the Python around the ops, as with ``torch.jit.trace``. The tracer refuses
(and the wrapper then always runs eagerly, with one warning saying why) when replaying could
differ from eager mode:

* a Python value was read from a traced tensor (``item()``, ``bool()``, ``tolist()``,
  ``numpy()``, an index tensor), so control flow may depend on the data;
* random numbers were drawn (dropout), or an in-place op ran (running statistics, optimiser
  steps: keep those outside ``fn``);
* a tensor made outside the registry's ops (a custom ``autograd.Function``, ``detach()``,
  ``fluxion.tensor(...)`` inside ``fn``) feeds a traced op;
* the graph has hooks, ``retain_grad`` or nodes the replay does not know.

Before each replay the wrapper checks that the tensors ``fn`` reads from outside (parameters,
buffers) still have the shapes, dtypes and ``requires_grad`` they had when traced, and that no
hook was added to their gradient; otherwise it traces again.
"""

from __future__ import annotations

import warnings
from _thread import get_ident
from collections.abc import Callable
from typing import Any

from . import random as _random
from ._backend import PARALLEL_MIN, add_grads
from .autograd import engine as _engine
from .autograd.grad_mode import state as _grad_state
from .ops import _compiled
from .ops._registry import MultiOpNode, OpNode, SeqOpNode, _sum_to_array, xp
from .tensor import TRACE, Tensor, _Version, _wrap

__all__ = ["trace_backward", "TracedBackward"]


class _Untraceable(Exception):
    """Raised while building a program: the reason the trace cannot be replayed."""


class _Tracer:
    """Receives the hooks of the registry and of ``Tensor`` while ``fn`` runs."""

    __slots__ = ("events", "born_ids", "constant_ids", "escapes", "problem", "thread")

    def __init__(self) -> None:
        self.events: list = []
        self.born_ids: dict = {}
        self.constant_ids: set = set()  # born from Python values only (zeros, full, arange)
        self.escapes: list = []
        self.problem: str | None = None
        self.thread = get_ident()  # ops that other threads run meanwhile are not ours

    def op(self, op, args, datas, attrs, result) -> None:
        if get_ident() == self.thread:
            self.events.append((op, args, datas, attrs, result))

    def born(self, t: Tensor) -> None:
        if get_ident() == self.thread:
            self.born_ids[id(t)] = t

    def constant(self, t: Tensor) -> None:
        if get_ident() == self.thread:
            self.constant_ids.add(id(t))

    def inplace(self, t: Tensor) -> None:
        if self.problem is None and get_ident() == self.thread:
            self.problem = (
                f"an in-place operation on a tensor of shape {list(t.shape)} ran inside the traced "
                "function (do optimiser steps and other in-place updates outside it)"
            )

    def escape(self, t: Tensor, what: str) -> None:
        if get_ident() == self.thread:
            self.escapes.append((t, what))


def _rng_state():
    state = _random.default_generator.get_state()
    return state.tolist() if isinstance(state, Tensor) else repr(state)


class _Builder:
    """Turns one trace into the source of a straight-line replay function."""

    def __init__(self, tracer: _Tracer, args: tuple) -> None:
        self.tracer = tracer
        self.lines: list[str] = []
        self.consts: dict = {}
        self.var_of: dict = {}  # id(tensor) -> variable name holding its array
        self.arg_pos: dict = {}  # id(tensor) -> position among fn's arguments
        self.externals: list = []  # tensors read from outside, in slot order
        self.leaves: list = []  # AccumulateGrad nodes of outside leaves (hooks end a replay)
        self.computed: dict = {}  # (op, inputs, attributes) -> variable: each is computed once
        self.n = 0
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                name = self.fresh("a")
                self.lines.append(f"{name} = A[{i}]._data")
                self.var_of[id(a)] = name
                self.arg_pos[id(a)] = i

    def fresh(self, prefix: str = "v") -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def const(self, value: Any) -> str:
        name = f"K{len(self.consts)}"
        self.consts[name] = value
        return name

    # ------------------------------------------------------------------------------- forward
    def tensor_var(self, t: Tensor) -> str:
        name = self.var_of.get(id(t))
        if name is not None:
            return name
        if id(t) in self.tracer.constant_ids and not t.requires_grad:
            name = self.var_of[id(t)] = self.const(t._data)
            return name
        if id(t) in self.tracer.born_ids:
            raise _Untraceable(
                f"a tensor of shape {list(t.shape)} made outside the registry's ops (a custom "
                "Function, detach(), or a tensor constructor inside the function) feeds an op"
            )
        if t.grad_fn is not None:
            raise _Untraceable("the function reads a tensor that is part of an earlier graph")
        name = self.fresh("x")
        self.lines.append(f"{name} = X[{len(self.externals)}]._data")
        self.externals.append(t)
        self.var_of[id(t)] = name
        return name

    def check_attr(self, value) -> None:
        if isinstance(value, Tensor):
            raise _Untraceable("an op received a tensor as a non-tensor argument")
        if isinstance(value, (tuple, list)):
            for v in value:
                self.check_attr(v)
        elif isinstance(value, dict):
            for v in value.values():
                self.check_attr(v)

    def input_expr(self, a, d) -> str:
        if not isinstance(a, Tensor):
            return self.const(d)
        name = self.tensor_var(a)
        if d is a._data:
            return name
        if getattr(d, "dtype", None) is not None and d.dtype != a._data.dtype:
            return f"{name}.astype({self.const(d.dtype)})"  # the promotion _promote applied
        raise _Untraceable("an op received an array that is not its input's")

    def forward(self, event) -> None:
        op, args, datas, attrs, result = event
        for a in attrs:
            self.check_attr(a)
        if op.seq_input:
            items = [self.input_expr(a, d) for a, d in zip(args[0], datas[0])]
            ins = ["[" + ", ".join(items) + "]"]
        else:
            ins = [self.input_expr(a, d) for a, d in zip(args, datas)]
        key = self.call_key(op, args, datas, attrs, result)
        if key is not None:
            name = self.computed.get(key)
            if name is not None:  # the same op on the same arrays: its result is already there
                self.var_of[id(result)] = name
                return
        ins += [self.const(a) for a in attrs]
        ufunc = getattr(op, "ufunc", None)
        small = all(getattr(d, "size", 0) < PARALLEL_MIN for d in datas)
        if ufunc is None and small and not op.seq_input:
            ufunc = getattr(op, "small_ufunc", None)  # the forward would call just that
        if ufunc is not None and not attrs and not op.seq_input:
            call = f"{self.const(ufunc)}({', '.join(ins)})"
        else:
            call = f"{self.const(op.replay)}(_xp, {', '.join(ins)})"  # checked when traced
        if type(result) is tuple:
            tmp = self.fresh("o")
            self.lines.append(f"{tmp} = {call}")
            for i, r in enumerate(result):
                name = self.fresh()
                self.lines.append(f"{name} = _arr({tmp}[{i}])")
                self.var_of[id(r)] = name
        else:
            name = self.fresh()
            self.lines.append(f"{name} = {call}")
            if ufunc is None or not result._data.ndim or op.seq_input:  # as the call path does
                self.lines.append(f"if type({name}) is not _nd: {name} = _asarray({name})")
            self.var_of[id(result)] = name
            if key is not None:
                self.computed[key] = name

    def call_key(self, op, args, datas, attrs, result):
        """What identifies this call among the trace's (None: never reuse its result).

        Ops are deterministic and replays run no in-place op, so the same op on the same arrays
        with equal attributes gives the same bits: an RNN's ``w.t()`` in every step is computed
        once. Only single-output ops on traced arrays and plain Python or NumPy scalars qualify;
        scalars are compared by type and ``repr`` (``0.0`` and ``-0.0`` differ).
        """
        if type(result) is tuple or op.seq_input:
            return None
        parts: list = [op]
        for a, d in zip(args, datas):
            if isinstance(a, Tensor):
                name = self.var_of.get(id(a))
                if name is None or d is not a._data:
                    return None
                parts.append(name)
            elif (part := _scalar_key(a)) is not None:
                parts.append(part)
            else:
                return None
        for a in attrs:
            if (part := _scalar_key(a)) is None:
                return None
            parts.append(part)
        return tuple(parts)

    # ------------------------------------------------------------------------------ backward
    def backward(self, loss: Tensor, node_event: dict) -> None:
        """Emit the backward in the engine's order: ``_compiled.schedule`` over the graph."""
        nodes, flat = _compiled._walk(loss.grad_fn)
        if nodes is None:
            raise _Untraceable("the graph has hooks (or retain_grad)")
        shape, dtype = self.const(loss._data.shape), self.const(loss.dtype.np)
        self.lines.append(f"g0 = _ones({shape}, {dtype})")  # the schedule's name for the root
        gen = _compiled.schedule(_compiled._unflatten(flat), loss._output_nr)
        event = next(gen)
        while True:
            if event[0] == "sum":  # names "s<n>": fresh() never makes them
                _, new, old, g = event
                self.lines.append(_compiled.sum_line(new, old, g))
                self.lines.append(f"del {old}, {g}")  # dead from here on
                reply = None
            else:
                _, k, buf = event
                if buf is None or all(b is None for b in buf):
                    reply = []
                else:
                    reply = self.node(nodes[k], buf, node_event)
            try:
                event = next(gen) if reply is None else gen.send(reply)
            except StopIteration:
                break

    def node(self, node, buf: list, node_event: dict) -> list:
        if type(node) is _engine.AccumulateGrad:
            var = node.variable
            pos = self.arg_pos.get(id(var))
            target = f"A[{pos}]._accumulator()" if pos is not None else self.const(node)
            if pos is None:
                self.leaves.append(node)
            # the list keeps the only reference (the variable is dropped): the leaf may take
            # a gradient array nothing else refers to instead of copying it
            lst = self.fresh("l")
            self.lines.append(f"{lst} = [{buf[0]}]")
            self.lines.append(f"del {buf[0]}")
            self.lines.append(f"{target}.apply_raw({lst})")
            return []
        event = node_event.get(id(node))
        if event is None or not isinstance(node, OpNode):
            raise _Untraceable(f"the graph has a {node.name()} node that the replay cannot run")
        op, args, _, attrs, result = event
        values = result[0] if type(result) is tuple else result
        env = []
        saved_args = [args[i] for i in op.save_idx]
        for a in saved_args:
            env.append(self.var_of[id(a)] if isinstance(a, Tensor) else self.const(a))
        aux = [self.var_of[id(result[1])]] if type(result) is tuple and op.aux else []
        if op.array_rules and not isinstance(node, (SeqOpNode, MultiOpNode)):
            env += [self.const(a) for a in attrs] + aux
            if op.save_result:
                env.append(self.var_of[id(values)])
            for i, kind in op.shape_idx:
                env.append(self.const(node._meta(i, kind)))
            return self.array_rules(node, op, buf[0], env, values._data.shape)
        # The long way, through the node's own code: put fresh saved values in, run it, free.
        n = self.const(node)
        result_var = self.var_of[id(values)] if op.save_result else "None"
        wrapped = [f"_wrap({e})" if isinstance(a, Tensor) else e for e, a in zip(env, saved_args)]
        saved = "[" + ", ".join(wrapped) + "]"
        o = self.fresh("o")
        self.lines.append(f"_rearm({n}, {saved if env else 'None'}, {result_var})")
        if aux:  # the node keeps the index output among its attributes: today's, not the trace's
            self.lines.append(f"{n}._attrs = {self.const(tuple(attrs))} + ({aux[0]},)")
        self.lines.append(f"{o} = {n}.apply_raw([{', '.join(b or 'None' for b in buf)}])")
        self.lines.append(f"del {', '.join(b for b in buf if b is not None)}")
        self.lines.append(f"{n}.release()")
        outs = []
        for i, e in enumerate(node.next_functions):
            outs.append(self.fresh("g") if e[0] is not None else None)
            if outs[-1] is not None:
                self.lines.append(f"{outs[-1]} = {o}[{i}]")
        self.lines.append(f"del {o}")  # each gradient now has one name: a leaf may take it
        return outs

    def array_rules(self, node, op, grad: str, env: list, out_shape: tuple) -> list:
        outs = []
        edges = node.next_functions
        for i, (rule, idx) in enumerate(op.raw_rules):
            if rule is None or edges[i][0] is None:
                outs.append(None)
                continue
            g = self.fresh("g")
            call_args = ", ".join([grad] + [env[j] for j in idx])
            self.lines.append(f"{g} = {self.const(rule)}({call_args})")
            if op.broadcasts and node._shapes[i] != out_shape:
                # NOTE: where the input has the output's shape the check is left out: rules of
                # broadcasting ops return gradients of the output's shape
                shape = self.const(node._shapes[i])
                self.lines.append(f"if {g}.shape != {shape}: {g} = _sum_to({g}, {shape})")
            if node._cast is not None:
                dt = self.const(node._cast[i])
                self.lines.append(f"if {g}.dtype != {dt}: {g} = {g}.astype({dt})")
            outs.append(g)
        self.lines.append(f"del {grad}")  # dead from here on: a leaf may take what it frees
        return outs


_SCALARS = (bool, int, float, str, type(None), xp.generic, xp.dtype)


def _scalar_key(value):
    """A hashable stand-in for an op argument that is a scalar or a tuple of them, else None."""
    if isinstance(value, tuple):
        parts = tuple(_scalar_key(v) for v in value)
        return None if None in parts else ("tuple", parts)
    if isinstance(value, _SCALARS):
        return (type(value), repr(value))
    return None


def _arr(x):
    return x if type(x) is xp.ndarray else xp.asarray(x)


def _rearm(node, saved, result) -> None:
    node._saved = saved
    node._versions = [0] * len(saved) if saved else None
    node._result = result
    if result is not None:
        node._rvc = _Version()
    node._freed = False


_GLOBALS = {
    "_xp": xp,
    "_nd": xp.ndarray,
    "_asarray": xp.asarray,
    "_arr": _arr,
    "_ones": xp.ones,
    "_sum_to": _sum_to_array,
    "_wrap": _wrap,
    "_rearm": _rearm,
    "_gs": _grad_state,
    "_addg": add_grads,
    "_PMIN": PARALLEL_MIN,
}


class _Program:
    """One traced signature: the generated replay function and what it reads from outside."""

    __slots__ = ("run", "externals", "guards", "leaves", "n_out", "source")

    def check(self) -> bool:
        for t, (rg, leaf, shape, dtype) in zip(self.externals, self.guards):
            d = t._data
            if (
                t.requires_grad is not rg
                or (t.grad_fn is None) is not leaf
                or d.shape != shape
                or d.dtype is not dtype
            ):
                return False
        for acc in self.leaves:
            if acc._hooked:
                return False
        return True


def _build(tracer: _Tracer, args: tuple, outputs: tuple) -> _Program:
    if tracer.problem is not None:
        raise _Untraceable(tracer.problem)
    for _, what in tracer.escapes:
        raise _Untraceable(
            f"{what} read a tensor's value into Python, which a replay cannot follow (control "
            "flow or constants may depend on it)"
        )
    b = _Builder(tracer, args)
    for event in tracer.events:
        b.forward(event)
    loss = outputs[0]
    out_vars = []
    for t in outputs:
        if not isinstance(t, Tensor) or id(t) not in b.var_of:
            raise _Untraceable("the function must return tensors computed by fluxion ops")
        name = b.var_of[id(t)]
        # two outputs computed alike are two arrays in eager mode: the later ones get copies
        out_vars.append(f"{name}.copy()" if name in out_vars else name)
    if loss.grad_fn is None or loss._data.size != 1 or loss._data.dtype.kind != "f":
        raise _Untraceable("the first output must be a one-element float tensor with a graph")
    node_event = {}
    for event in tracer.events:
        result = event[4]
        values = result[0] if type(result) is tuple else result
        if values.grad_fn is not None:
            node_event.setdefault(id(values.grad_fn), event)
    b.lines.append("_prev = _gs.enabled")
    b.lines.append("_gs.enabled = False")
    b.lines.append("try:")
    mark = len(b.lines)
    b.backward(loss, node_event)
    b.lines[mark:] = ["    " + line for line in b.lines[mark:]] or ["    pass"]
    b.lines.append("finally:")
    b.lines.append("    _gs.enabled = _prev")
    b.lines.append(f"return ({', '.join(out_vars)},)")
    source = "def _replay(A, X):\n" + "".join(f"    {line}\n" for line in b.lines)
    scope = dict(_GLOBALS)
    scope.update(b.consts)
    exec(compile(source, "<fluxion.jit replay>", "exec"), scope)  # noqa: S102 - generated above
    prog = _Program()
    prog.run = scope["_replay"]
    prog.externals = tuple(b.externals)
    prog.guards = tuple(
        (t.requires_grad, t.grad_fn is None, t._data.shape, t._data.dtype) for t in b.externals
    )
    prog.leaves = tuple(b.leaves)
    prog.n_out = len(outputs)
    prog.source = source
    return prog


class TracedBackward:
    """The callable ``trace_backward`` returns; see :func:`trace_backward`."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        self.programs: dict = {}  # signature -> _Program, or the reason it runs eagerly
        self.replays = 0
        self.__doc__ = getattr(fn, "__doc__", None)

    def _key(self, args: tuple):
        key = []
        for a in args:
            if isinstance(a, Tensor):
                key.append((a._data.shape, a._data.dtype, a.requires_grad))
            else:
                try:
                    hash(a)
                except TypeError:
                    return None
                key.append((type(a), a))
        return tuple(key)

    def __call__(self, *args):
        key = self._key(args) if _grad_state.enabled and TRACE[0] is None else None
        prog = self.programs.get(key) if key is not None else None
        if type(prog) is _Program and prog.check():
            self.replays += 1
            outs = prog.run(args, prog.externals)
            return _results(outs)
        if key is None or type(prog) is str:
            return self._eager(args)
        return self._trace(args, key)

    def _eager(self, args: tuple):
        outs = self.fn(*args)
        loss = outs[0] if isinstance(outs, (tuple, list)) else outs
        loss.backward()
        return _detached(outs)

    def _trace(self, args: tuple, key):
        tracer = _Tracer()
        rng = _rng_state()
        TRACE[0] = tracer
        try:
            outs = self.fn(*args)
        finally:
            TRACE[0] = None
        outputs = tuple(outs) if isinstance(outs, (tuple, list)) else (outs,)
        try:
            if _rng_state() != rng:
                raise _Untraceable("random numbers were drawn (dropout?)")
            self.programs[key] = _build(tracer, args, outputs)
        except _Untraceable as exc:
            self.programs[key] = str(exc)
            warnings.warn(
                f"fluxion.jit.trace_backward({getattr(self.fn, '__name__', 'fn')}): running "
                f"eagerly, because {exc}",
                stacklevel=3,
            )
        outputs[0].backward()
        return _detached(outs)


def _results(arrays: tuple):
    outs = tuple(_wrap(a) for a in arrays)
    return outs[0] if len(outs) == 1 else outs


def _detached(outs):
    if isinstance(outs, (tuple, list)):
        return tuple(o.detach() for o in outs)
    return outs.detach()


def trace_backward(fn: Callable) -> TracedBackward:
    """Wrap ``fn(*inputs) -> loss`` so that each call runs ``fn`` and ``loss.backward()``.

    Gradients accumulate into the ``.grad`` of the leaves ``fn`` uses (parameters, inputs that
    require grad) exactly as eager mode would, bit for bit; the call returns the loss detached
    (or a tuple of detached outputs when ``fn`` returns several tensors, the loss first). The
    first call per input signature traces; later calls replay a generated straight-line
    function that skips Tensor objects, graph nodes and scheduling. See the module docstring
    for what is frozen and when it falls back to eager mode.

    >>> w = fluxion.tensor([1.0, 2.0], requires_grad=True)
    >>> step = fluxion.jit.trace_backward(lambda x: (w * x).tanh().sum())
    >>> for _ in range(3):
    ...     loss = step(fluxion.tensor([0.5, -0.5]))
    >>> w.grad  # three backward passes accumulated
    tensor([ 1.1797, -0.6300])
    >>> step.replays
    2
    """
    return TracedBackward(fn)
