"""User-defined differentiable operations: ``Function``, its ``ctx``, ``once_differentiable``.

A subclass of :class:`Function` gets, at class creation, a backward node class named
``<ClassName>Backward`` (PyTorch's name). That class is a :class:`~fluxion.autograd.engine.Node`
like every built-in ``grad_fn``, so the engine runs custom and built-in ops on one code path. An
instance of it is both the ``ctx`` that ``forward`` / ``setup_context`` / ``backward`` receive
and the ``grad_fn`` of the outputs, as in PyTorch.

``backward`` runs with grad mode equal to ``create_graph``: a backward written with fluxion ops
is itself differentiable. Wrap it in :func:`once_differentiable` when it is not (raw-array code).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from .engine import FREED_MSG, Node, gradient_edge
from .grad_mode import state as _grad_state

__all__ = ["Function", "FunctionCtx", "BackwardCFunction", "once_differentiable"]

_Tensor: Any = None  # fluxion.Tensor, bound on first use: tensor.py imports this package


def _volatile_seen() -> bool:
    """Whether a legacy volatile tensor has ever been made (``Tensor.volatile``)."""
    from ..tensor import VOLATILE_SEEN

    return VOLATILE_SEEN.cell_contents


def _tensor_cls() -> type:
    global _Tensor
    if _Tensor is None:
        from ..tensor import Tensor

        _Tensor = Tensor
    return _Tensor


class FunctionCtx:
    """The ``ctx`` API: what ``forward`` / ``setup_context`` record for ``backward``.

    >>> class Square(fluxion.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x * x
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         (x,) = ctx.saved_tensors
    ...         return 2 * x * grad
    >>> x = fluxion.tensor([1.0, 3.0], requires_grad=True)
    >>> Square.apply(x).sum().backward()
    >>> x.grad
    tensor([2., 6.])
    """

    materialize_grads = True
    to_save: tuple | None = None
    dirty_tensors: tuple = ()
    non_differentiable: tuple = ()
    needs_input_grad: tuple = ()

    def save_for_backward(self, *tensors) -> None:
        """Save tensors (or ``None``) for ``backward``; read them back with ``saved_tensors``.

        Saved tensors are version-checked: modifying one in place before ``backward`` raises.
        """
        T = _tensor_cls()
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, T):
                raise TypeError(
                    f"save_for_backward can only save variables, but argument {i} is of type "
                    f"{type(t).__name__}"
                )
        self.to_save = tensors

    def save_for_forward(self, *tensors) -> None:
        """Accepted for PyTorch compatibility; fluxion has no forward-mode AD."""

    def mark_dirty(self, *tensors) -> None:
        """Declare the inputs that ``forward`` modified in place (and returns)."""
        self.dirty_tensors = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        """Declare outputs that get no ``grad_fn``; their grads reach ``backward`` as zeros."""
        self.non_differentiable = tensors

    def set_materialize_grads(self, value: bool) -> None:
        """Choose whether missing output grads reach ``backward`` as zeros (default) or ``None``."""
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to ``save_for_backward``, checked against in-place modification."""
        saved = self.__dict__.get("_saved")
        if saved is None:
            if self.__dict__.get("_freed"):
                raise RuntimeError(FREED_MSG)
            return tuple(self.to_save or ())
        for t, v in zip(saved, self._versions):
            if t is not None and t._version != v:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: [{t.type()} {list(t.shape)}], which is needed by "
                    f"{type(self).__name__}, is at version {t._version}; expected version {v} "
                    "instead. Hint: clone the tensor before the in-place operation, or do the "
                    "in-place operation after backward."
                )
        return saved


class BackwardCFunction(Node, FunctionCtx):
    """Base of the ``<ClassName>Backward`` nodes: the ctx of one call and its outputs' grad_fn."""

    _forward_cls: type
    __repr__ = object.__repr__  # <fluxion.autograd.function.MyFnBackward object at 0x...>, as torch

    def release(self) -> None:
        if self.__dict__.get("_saved") is not None:
            self._saved = None
            self._freed = True

    def apply(self, grads: list):
        if self.materialize_grads:
            for i, meta in enumerate(self._out_meta):
                if grads[i] is None and meta is not None:
                    from ..creation import zeros

                    grads[i] = zeros(meta[0], dtype=meta[1])
        cls = self._forward_cls
        result = cls._user_backward()(self, *grads)
        return self._check_grads(result if isinstance(result, tuple) else (result,))

    def _check_grads(self, result: tuple) -> list:
        """Map ``backward``'s per-argument grads to per-edge grads, validating as PyTorch does."""
        n = len(self.needs_input_grad)
        if len(result) != n:
            if len(result) < n or any(g is not None for g in result[n:]):
                raise RuntimeError(
                    f"function {self.name()} returned an incorrect number of gradients "
                    f"(expected {n}, got {len(result)})"
                )
            result = result[:n]
        T = _tensor_cls()
        for i, g in enumerate(result):
            if g is not None and not isinstance(g, T):
                raise RuntimeError(f"expected Variable or None (got {type(g).__name__})")
            if g is not None and i not in self._tensor_idx:
                raise RuntimeError(
                    f"function {self.name()} returned a gradient different than None at position "
                    f"{i + 1}, but the corresponding forward input was not a Variable"
                )
        out = []
        for j, i in enumerate(self._tensor_idx):
            g = result[i]
            if g is None or self.next_functions[j][0] is None:
                out.append(None)
                continue
            shape, dtype = self._in_meta[j]
            if g.shape != shape:
                g = self._reduce_grad(g, shape, j)
            if g.dtype != dtype:
                g = g.to(dtype)
            out.append(g)
        return out

    def _reduce_grad(self, g, shape: tuple, j: int):
        """Sum a gradient that ``shape`` broadcasts to back to ``shape``; reject anything else."""
        lead = g.ndim - len(shape)
        if lead < 0 or any(s != 1 and s != gs for s, gs in zip(shape, g.shape[lead:])):
            raise RuntimeError(
                f"Function {self.name()} returned an invalid gradient at index {j} - got "
                f"{list(g.shape)} but expected shape compatible with {list(shape)}"
            )
        dims = tuple(range(lead)) + tuple(
            d + lead for d, s in enumerate(shape) if s == 1 and g.shape[d + lead] != 1
        )
        if dims:
            g = g.sum(dims, keepdim=True)
        return g.reshape(shape) if lead else g


class Function:
    """Base class for operations with a hand-written backward.

    Subclass it with static methods ``forward(ctx, *args)`` and ``backward(ctx, *grads)``,
    or ``forward(*args)`` plus ``setup_context(ctx, inputs, output)``, and call ``apply``.
    ``backward`` returns one gradient (or ``None``) per ``forward`` argument.

    >>> class MulConst(fluxion.autograd.Function):
    ...     @staticmethod
    ...     def forward(x, k):
    ...         return x * k
    ...     @staticmethod
    ...     def setup_context(ctx, inputs, output):
    ...         ctx.k = inputs[1]
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         return grad * ctx.k, None
    >>> x = fluxion.ones(2, requires_grad=True)
    >>> y = MulConst.apply(x, 3.0)
    >>> y
    tensor([3., 3.], grad_fn=<MulConstBackward>)
    >>> y.sum().backward()
    >>> x.grad
    tensor([3., 3.])
    """

    _backward_cls: type
    _new_style = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = f"{cls.__name__}Backward"
        cls._backward_cls = type(
            name, (BackwardCFunction,), {"_forward_cls": cls, "__module__": __name__}
        )
        cls._new_style = cls.setup_context is not Function.setup_context
        cls._signature = None

    def __call__(self, *args: Any, **kwargs: Any):
        raise RuntimeError(
            "Legacy autograd function with non-static forward method is deprecated. Please use "
            "new-style autograd function with static forward method. (Example: "
            "https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)"
        )

    @staticmethod
    def forward(*args: Any, **kwargs: Any) -> Any:
        """Compute the outputs (grad mode is off here); override it."""
        raise NotImplementedError(
            "You must implement the forward function for custom autograd.Function."
        )

    @staticmethod
    def setup_context(ctx: FunctionCtx, inputs: tuple, output: Any) -> None:
        """Save what ``backward`` needs, when ``forward`` does not take ``ctx``; override it."""
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        """Return one gradient (or ``None``) per ``forward`` argument; override it."""
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom "
            "autograd.Function to use it with backward mode AD."
        )

    vjp = backward

    @staticmethod
    def jvp(ctx: FunctionCtx, *grad_inputs: Any) -> Any:
        raise NotImplementedError("fluxion has no forward-mode AD: Function.jvp is not supported")

    @classmethod
    def _user_backward(cls) -> Callable:
        backward, vjp = cls.backward, cls.vjp
        if backward is not Function.backward and vjp is not Function.vjp:
            raise RuntimeError(
                "Implementing both 'backward' and 'vjp' for a custom Function is not allowed. "
                "You should only implement one of them."
            )
        return vjp if vjp is not Function.vjp else backward

    @classmethod
    def _bind(cls, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        """Turn keyword arguments (and defaults, for ``setup_context`` style) into positions."""
        sig = cls._signature
        if sig is None:
            sig = inspect.signature(cls.forward)
            if not cls._new_style:  # drop ctx
                sig = sig.replace(parameters=list(sig.parameters.values())[1:])
            cls._signature = sig
        bound = sig.bind(*args, **kwargs)
        if cls._new_style:
            bound.apply_defaults()
        return bound.args, bound.kwargs

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run ``forward`` on ``args`` and connect its tensor outputs to the graph."""
        if kwargs or cls._new_style:
            args, kwargs = cls._bind(args, kwargs)
        T = _tensor_cls()
        grad_on = _grad_state.enabled
        ctx = cls._backward_cls()
        ctx.needs_input_grad = tuple(grad_on and isinstance(a, T) and a.requires_grad for a in args)
        volatile = _volatile_seen() and any(isinstance(a, T) and a._volatile for a in args)
        if volatile:  # legacy volatile: no graph, whatever else requires grad
            ctx.needs_input_grad = (False,) * len(args)
        _grad_state.enabled = False
        try:
            if cls._new_style:
                output = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, output)
            else:
                output = cls.forward(ctx, *args, **kwargs)
        finally:
            _grad_state.enabled = grad_on
        result = _wrap_outputs(ctx, args, output, any(ctx.needs_input_grad), T)
        if volatile:
            for o in result if isinstance(result, tuple) else (result,):
                if isinstance(o, T):
                    o._volatile = True
        return result


def _wrap_outputs(ctx: BackwardCFunction, args: tuple, output: Any, track: bool, T: type):
    """Give the tensor outputs ``ctx`` as ``grad_fn`` (when tracking) and record metadata."""
    if track:  # edges first: a dirty input is about to get ctx as its grad_fn
        tensor_idx = tuple(i for i, a in enumerate(args) if isinstance(a, T))
        ctx._tensor_idx = tensor_idx
        ctx.next_functions = tuple(gradient_edge(args[i]) for i in tensor_idx)
        ctx._in_meta = tuple((args[i].shape, args[i].dtype) for i in tensor_idx)
    single = not isinstance(output, tuple)
    outs = (output,) if single else output
    result, out_meta = [], []
    for i, o in enumerate(outs):
        if not isinstance(o, T):
            result.append(o)
            out_meta.append(None)
            continue
        dirty = any(o is d for d in ctx.dirty_tensors)
        if dirty:
            if track and o.requires_grad and o.grad_fn is None:
                raise RuntimeError(
                    "a leaf Variable that requires grad has been used in an in-place operation."
                )
            o._bump()  # so that any earlier saved reference to it fails its version check
        elif any(o is a for a in args):
            o = o.detach()  # an input returned as is: a new alias, as in PyTorch
        out_meta.append((tuple(o.shape), o.dtype))
        if track and o._data.dtype.kind in "fc" and not any(o is n for n in ctx.non_differentiable):
            o.grad_fn = ctx
            o.requires_grad = True
            if o._output_nr != i:
                o._output_nr = i
        result.append(o)
    if track:
        ctx.n_outputs = len(outs)
        ctx._out_meta = out_meta
        to_save = ctx.to_save
        if to_save is not None:
            ctx._saved = to_save
            ctx._versions = tuple(0 if t is None else t._version for t in to_save)
            ctx.to_save = None
    return result[0] if single else tuple(result)


class DelayedError(Node):
    """Stand-in ``grad_fn`` for the results of a ``once_differentiable`` backward."""

    def __init__(self, msg: str, n_outputs: int, edges: tuple) -> None:
        self.msg = msg
        self.n_outputs = n_outputs
        self.next_functions = edges

    def name(self) -> str:
        return "Error"  # PyTorch's name for this node

    def apply(self, grads: list):
        raise RuntimeError(self.msg)


def once_differentiable(fn: Callable) -> Callable:
    """Mark a ``backward`` as not differentiable: it runs without recording a graph.

    Its results still carry a ``grad_fn`` when ``create_graph=True``, and differentiating
    through them raises a ``RuntimeError`` instead of silently returning wrong gradients.

    >>> class Cube(fluxion.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     @fluxion.autograd.once_differentiable
    ...     def backward(ctx, grad):
    ...         (x,) = ctx.saved_tensors
    ...         return 3 * x ** 2 * grad
    >>> x = fluxion.tensor(2.0, requires_grad=True)
    >>> (g,) = fluxion.autograd.grad(Cube.apply(x) ** 2, x, create_graph=True)
    >>> g
    tensor(192., grad_fn=<Error>)
    >>> g.backward()
    Traceback (most recent call last):
    ...
    RuntimeError: trying to differentiate twice a function that was marked with @once_differentiable
    """

    @functools.wraps(fn)
    def wrapper(ctx: FunctionCtx, *args: Any) -> Any:
        prev = _grad_state.enabled
        _grad_state.enabled = False
        try:
            outputs = fn(ctx, *args)
        finally:
            _grad_state.enabled = prev
        if not prev:
            return outputs
        T = _tensor_cls()
        edges = tuple(gradient_edge(a) for a in args if isinstance(a, T) and a.requires_grad)
        if not edges:
            return outputs
        outs = outputs if isinstance(outputs, tuple) else (outputs,)
        err = DelayedError(
            "trying to differentiate twice a function that was marked with @once_differentiable",
            len(outs),
            edges,
        )
        wrapped = []
        for i, o in enumerate(outs):
            if isinstance(o, T) and o._data.dtype.kind in "fc":
                o = o.detach()
                o.grad_fn = err
                o.requires_grad = True
                o._output_nr = i
            wrapped.append(o)
        return tuple(wrapped) if isinstance(outputs, tuple) else wrapped[0]

    return wrapper
