"""MXNet-style autograd over fluxion's engine: ``record()``, ``pause()``, ``backward()``.

Recording is off by default: operations on ``fluxion.mx`` arrays are recorded only inside
``with autograd.record():`` (or after ``set_recording(True)``), and ``pause()`` suspends it.
Training mode (what ``nd.Dropout`` and ``nd.BatchNorm`` consult) is on inside ``record()`` unless
``record(train_mode=False)``. Both flags are thread-local and separate from fluxion's own grad
mode: importing ``fluxion.mx`` changes nothing for plain fluxion code. Inside a ``record()`` scope
fluxion's grad mode is on (so ``fluxion`` functions and ``nn`` layers applied to NDArrays are
recorded too), and inside ``pause()`` it is off.

``backward`` on a non-scalar head backpropagates the implicit sum (a head gradient of ones), and
writes each attached array's gradient according to its ``grad_req``: ``'write'`` overwrites the
buffer, ``'add'`` accumulates, ``'null'`` leaves it alone.

>>> from fluxion.mx import autograd, nd
>>> x = nd.array([1, 2, 3])
>>> x.attach_grad()
>>> with autograd.record():
...     y = x * x
>>> y.backward()
>>> x.grad
<BLANKLINE>
[2. 4. 6.]
<NDArray 3 @cpu(0)>
"""

from __future__ import annotations

import threading
from typing import Any

import fluxion

__all__ = [
    "record",
    "pause",
    "train_mode",
    "predict_mode",
    "is_recording",
    "is_training",
    "set_recording",
    "set_training",
    "mark_variables",
    "backward",
    "grad",
]

GRAD_REQS = ("write", "add", "null")


class _State(threading.local):
    recording = False  # class attributes = per-thread defaults: MXNet starts in predict mode
    training = False


_state = _State()


def is_recording() -> bool:
    """Return whether operations on arrays are being recorded for backward.

    >>> from fluxion.mx import autograd
    >>> autograd.is_recording()
    False
    """
    return _state.recording


def is_training() -> bool:
    """Return whether layers such as dropout run in training mode.

    >>> from fluxion.mx import autograd
    >>> autograd.is_training()
    False
    """
    return _state.training


def set_recording(is_recording: bool) -> bool:
    """Turn recording on or off and return the previous state.

    >>> from fluxion.mx import autograd
    >>> autograd.set_recording(True), autograd.set_recording(False)
    (False, True)
    """
    prev = _state.recording
    _state.recording = bool(is_recording)
    return prev


def set_training(train_mode: bool) -> bool:
    """Turn training mode on or off and return the previous state.

    >>> from fluxion.mx import autograd
    >>> autograd.set_training(True), autograd.set_training(False)
    (False, True)
    """
    prev = _state.training
    _state.training = bool(train_mode)
    return prev


class _RecordingStateScope:
    """A ``with`` scope that sets recording and/or training (``None`` leaves one unchanged).

    On exit a flag is restored only if it differs from the value the scope set, as in MXNet.
    """

    def __init__(self, is_record: bool | None, train: bool | None) -> None:
        self._enter_is_record = is_record
        self._enter_train_mode = train
        self._prev_is_record: bool | None = None
        self._prev_train_mode: bool | None = None
        self._grad_mode: Any = None

    def __enter__(self) -> None:
        if self._enter_is_record is not None:
            self._prev_is_record = set_recording(self._enter_is_record)
            # fluxion functions and layers called inside the scope follow it too
            self._grad_mode = fluxion.set_grad_enabled(self._enter_is_record)
        if self._enter_train_mode is not None:
            self._prev_train_mode = set_training(self._enter_train_mode)

    def __exit__(self, *exc: Any) -> None:
        if self._grad_mode is not None:
            self._grad_mode.__exit__(*exc)
        if self._enter_is_record is not None and self._prev_is_record != self._enter_is_record:
            set_recording(self._prev_is_record)
        if self._enter_train_mode is not None and self._prev_train_mode != self._enter_train_mode:
            set_training(self._prev_train_mode)


def record(train_mode: bool = True) -> _RecordingStateScope:
    """Return a scope in which operations are recorded for backward.

    Args:
        train_mode: Run the forward in training mode (dropout active, batch statistics).

    >>> from fluxion.mx import autograd
    >>> with autograd.record():
    ...     autograd.is_recording(), autograd.is_training()
    (True, True)
    """
    return _RecordingStateScope(True, train_mode)


def pause(train_mode: bool = False) -> _RecordingStateScope:
    """Return a scope in which recording is suspended (e.g. inside ``record()``).

    >>> from fluxion.mx import autograd
    >>> with autograd.record():
    ...     with autograd.pause():
    ...         autograd.is_recording(), autograd.is_training()
    (False, False)
    """
    return _RecordingStateScope(False, train_mode)


def train_mode() -> _RecordingStateScope:
    """Return a scope in training mode that leaves recording unchanged.

    >>> from fluxion.mx import autograd
    >>> with autograd.train_mode():
    ...     autograd.is_training(), autograd.is_recording()
    (True, False)
    """
    return _RecordingStateScope(None, True)


def predict_mode() -> _RecordingStateScope:
    """Return a scope in predict (inference) mode that leaves recording unchanged.

    >>> from fluxion.mx import autograd
    >>> with autograd.record():
    ...     with autograd.predict_mode():
    ...         autograd.is_training(), autograd.is_recording()
    (False, True)
    """
    return _RecordingStateScope(None, False)


def _as_list(x: Any) -> list:
    if x is None:
        return []
    if isinstance(x, fluxion.Tensor):
        return [x]
    return list(x)


def mark_variables(variables: Any, gradients: Any, grad_reqs: Any = "write") -> None:
    """Mark arrays as variables whose gradients ``backward`` writes into ``gradients``.

    Args:
        variables: An array or a list of arrays.
        gradients: The gradient buffers (same shapes), one per variable.
        grad_reqs: ``'write'``, ``'add'`` or ``'null'``, or one of them per variable.

    >>> from fluxion.mx import autograd, nd
    >>> x, g = nd.ones((2,)), nd.zeros((2,))
    >>> autograd.mark_variables([x], [g], "add")
    >>> with autograd.record():
    ...     y = 3 * x
    >>> y.backward()
    >>> g
    <BLANKLINE>
    [3. 3.]
    <NDArray 2 @cpu(0)>
    """
    from .nd import NDArray, _as_nd

    variables, gradients = _as_list(variables), _as_list(gradients)
    if len(variables) != len(gradients):
        raise ValueError(
            f"mark_variables: got {len(variables)} variables and {len(gradients)} gradients; "
            "pass one gradient buffer per variable"
        )
    reqs = [grad_reqs] * len(variables) if isinstance(grad_reqs, str) else list(grad_reqs)
    for v, g, req in zip(variables, gradients, reqs):
        if req not in GRAD_REQS:
            raise ValueError(f"grad_req must be one of {GRAD_REQS}, got {req!r}")
        if tuple(g.shape) != tuple(v.shape):
            raise ValueError(
                f"mark_variables: gradient buffer shape {tuple(g.shape)} does not match the "
                f"variable's shape {tuple(v.shape)}"
            )
        if not v.is_floating_point():
            raise TypeError(
                f"mark_variables: only floating-point arrays can have gradients (got {v.dtype}); "
                "convert with .astype('float32') first"
            )
        v.detach_()  # a marked array starts a new graph, as in MXNet
        v.requires_grad_(True)
        v.grad = g if isinstance(g, NDArray) else _as_nd(g.detach())  # same storage, new object
        v._grad_req = req


_NOT_RECORDED = (
    "{what}: head {i} (shape {shape}) is not in a recorded computational graph, so there is "
    "nothing to differentiate. Call attach_grad() on the inputs, then compute the head inside "
    "`with autograd.record():` (recording is off by default in fluxion.mx). To differentiate "
    "the same graph twice, pass retain_graph=True to the first backward."
)


def _heads_and_grads(what: str, heads: Any, head_grads: Any) -> tuple:
    heads = _as_list(heads)
    if head_grads is None:
        head_grads = [None] * len(heads)
    else:
        head_grads = _as_list(head_grads)
        if len(head_grads) != len(heads):
            raise ValueError("heads and head_grads must be lists of the same length")
    for i, h in enumerate(heads):
        if not h.requires_grad:
            raise RuntimeError(_NOT_RECORDED.format(what=what, i=i, shape=tuple(h.shape)))
    # MXNet's implicit head gradient is ones: a non-scalar head backpropagates its sum
    grads = [fluxion.ones_like(h) if g is None else g for h, g in zip(heads, head_grads)]
    return heads, grads


def _leaves(heads: list) -> list:
    """The leaves that require grad reachable from ``heads``, in a deterministic order."""
    seen, out = set(), []
    stack = [h.grad_fn for h in heads if h.grad_fn is not None]
    stack += [h for h in heads if h.grad_fn is None]  # a head that is itself a variable
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, fluxion.Tensor):
            out.append(node)
            continue
        var = getattr(node, "variable", None)  # a leaf's AccumulateGrad node
        if var is not None:
            out.append(var)
            continue
        stack.extend(n for n, _ in node.next_functions if n is not None)
    return out


def backward(
    heads: Any, head_grads: Any = None, retain_graph: bool = False, train_mode: bool = True
) -> None:
    """Compute the gradients of ``heads`` and store them in the attached variables' ``.grad``.

    Args:
        heads: An array or a list of arrays (recorded inside ``autograd.record()``).
        head_grads: Gradients with respect to the heads; ``None`` means ones (the implicit sum).
        retain_graph: Keep the graph for another backward.
        train_mode: Run the backward in training mode.

    >>> from fluxion.mx import autograd, nd
    >>> x = nd.array([[1, 2], [3, 4]])
    >>> x.attach_grad()
    >>> with autograd.record():
    ...     y = x * x
    >>> autograd.backward([y], [nd.ones((2, 2))])
    >>> x.grad
    <BLANKLINE>
    [[2. 4.]
     [6. 8.]]
    <NDArray 2x2 @cpu(0)>
    """
    from .nd import _as_nd

    heads, grads = _heads_and_grads("backward", heads, head_grads)
    leaves = [v for v in _leaves(heads) if getattr(v, "_grad_req", None) != "null"]
    if not leaves:  # only 'null' variables: nothing to write
        return
    with _RecordingStateScope(None, train_mode):
        gs = fluxion.autograd.grad(
            heads, leaves, grads, retain_graph=retain_graph, allow_unused=True
        )
    with fluxion.no_grad():
        for v, g in zip(leaves, gs):
            if g is None:
                continue
            req = getattr(v, "_grad_req", None)
            if v.grad is None:
                v.grad = _as_nd(g.clone()) if req is not None else g.clone()
            elif req == "write":
                v.grad.copy_(g)
            else:  # 'add', and plain fluxion leaves: accumulate, as PyTorch does
                v.grad.add_(g)


def grad(
    heads: Any,
    variables: Any,
    head_grads: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    train_mode: bool = True,
) -> list:
    """Return the gradients of ``heads`` with respect to ``variables`` (``.grad`` untouched).

    Args:
        heads: An array or a list of arrays.
        variables: An array or a list of arrays to differentiate with respect to.
        head_grads: Gradients with respect to the heads; ``None`` means ones.
        retain_graph: Keep the graph (default: ``create_graph``).
        create_graph: Record the gradient computation, for higher-order gradients.
        train_mode: Run the backward in training mode.

    Returns:
        A list of arrays, one per variable (a list even for a single variable, as in MXNet).

    >>> from fluxion.mx import autograd, nd
    >>> x = nd.array([2.0])
    >>> x.attach_grad()
    >>> with autograd.record():
    ...     y = x ** 3
    >>> autograd.grad(y, [x])
    [
    [12.]
    <NDArray 1 @cpu(0)>]
    """
    from .nd import _as_nd

    variables = _as_list(variables)
    if not variables:
        raise ValueError("variables cannot be an empty list.")
    heads, grads = _heads_and_grads("grad", heads, head_grads)
    if retain_graph is None:
        retain_graph = create_graph
    with _RecordingStateScope(None, train_mode):
        gs = fluxion.autograd.grad(
            heads, variables, grads, retain_graph=retain_graph, create_graph=create_graph
        )
    return [_as_nd(g) for g in gs]
