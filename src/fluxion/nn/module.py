"""``Module``: the base class of every layer, with PyTorch's registration, state and hook API.

A module keeps its parameters, buffers and submodules in three ordered dicts (``_parameters``,
``_buffers``, ``_modules``), filled by ``__setattr__`` and read back by ``__getattr__``, exactly
as PyTorch does, so names, iteration order and ``state_dict`` keys match PyTorch's.

``__call__`` is on the hot path of every training step: without hooks it is one flag test and
``forward``. Full backward hooks wrap the module's tensor inputs and outputs in identity
:class:`~fluxion.autograd.Function` nodes whose backward sees ``grad_input`` / ``grad_output``.
"""

from __future__ import annotations

import itertools
import warnings
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..autograd import Function, is_grad_enabled, no_grad
from ..device import device as _device_cls
from ..dtypes import dtype as _dtype_cls
from ..tensor import Tensor
from .parameter import Parameter

__all__ = [
    "Module",
    "RemovableHandle",
    "register_module_forward_pre_hook",
    "register_module_forward_hook",
    "register_module_full_backward_pre_hook",
    "register_module_full_backward_hook",
]

_EXTRA_STATE_KEY_SUFFIX = "_extra_state"


def typename(obj: Any) -> str:
    """``torch.typename``: the legacy type name of a tensor, else the qualified class name."""
    if isinstance(obj, Tensor):
        return obj.type()
    cls = type(obj)
    module = cls.__module__
    if module in ("builtins", "__builtin__", None):
        return cls.__qualname__
    return f"{module}.{cls.__qualname__}"


def addindent(text: str, spaces: int) -> str:
    """Indent every line of ``text`` but the first by ``spaces`` (blank lines stay empty)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    pad = " " * spaces
    rest = [pad + line if line.strip() else "" for line in lines[1:]]
    return lines[0] + "\n" + "\n".join(rest)


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys it missed and the keys it did not expect."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class RemovableHandle:
    """Returned by the ``register_*_hook`` methods; ``remove()`` unregisters the hook.

    >>> m = fluxion.nn.Module()
    >>> h = m.register_forward_pre_hook(lambda mod, args: None)
    >>> len(m._forward_pre_hooks)
    1
    >>> h.remove()
    >>> len(m._forward_pre_hooks)
    0
    """

    next_id: int = 0

    def __init__(self, hooks_dict: dict, *extra_dicts: Any, on_remove: Callable | None = None):
        self.hooks_dict = hooks_dict
        self.extra_dicts = extra_dicts
        self.on_remove = on_remove
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1

    def remove(self) -> None:
        """Unregister the hook (a second call does nothing)."""
        self.hooks_dict.pop(self.id, None)
        for d in self.extra_dicts:
            if isinstance(d, dict):
                d.pop(self.id, None)
            else:
                d.discard(self.id)
        if self.on_remove is not None:
            self.on_remove()

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


# ----------------------------------------------------------------------------- global hooks

_global_forward_pre_hooks: dict = OrderedDict()
_global_forward_hooks: dict = OrderedDict()
_global_forward_hooks_with_kwargs: dict = {}
_global_forward_hooks_always_called: dict = {}
_global_backward_pre_hooks: dict = OrderedDict()
_global_backward_hooks: dict = OrderedDict()
_any_global_hooks = False  # read by every Module.__call__: one global lookup, no dict tests


def _update_global_flag() -> None:
    global _any_global_hooks
    _any_global_hooks = bool(
        _global_forward_pre_hooks
        or _global_forward_hooks
        or _global_backward_pre_hooks
        or _global_backward_hooks
    )


def _register_global(hooks: dict, hook: Callable, *extra: dict) -> RemovableHandle:
    handle = RemovableHandle(hooks, *extra, on_remove=_update_global_flag)
    hooks[handle.id] = hook
    _update_global_flag()
    return handle


def register_module_forward_pre_hook(hook: Callable) -> RemovableHandle:
    """Register ``hook(module, args)`` to run before the forward of every module.

    >>> h = fluxion.nn.module.register_module_forward_pre_hook(lambda m, a: None)
    >>> h.remove()
    """
    return _register_global(_global_forward_pre_hooks, hook)


def register_module_forward_hook(
    hook: Callable, *, with_kwargs: bool = False, always_call: bool = False
) -> RemovableHandle:
    """Register ``hook(module, args, output)`` to run after the forward of every module.

    >>> h = fluxion.nn.module.register_module_forward_hook(lambda m, a, out: None)
    >>> h.remove()
    """
    handle = _register_global(
        _global_forward_hooks,
        hook,
        _global_forward_hooks_with_kwargs,
        _global_forward_hooks_always_called,
    )
    if with_kwargs:
        _global_forward_hooks_with_kwargs[handle.id] = True
    if always_call:
        _global_forward_hooks_always_called[handle.id] = True
    return handle


def register_module_full_backward_pre_hook(hook: Callable) -> RemovableHandle:
    """Register ``hook(module, grad_output)`` for the backward of every module.

    >>> h = fluxion.nn.module.register_module_full_backward_pre_hook(lambda m, g: None)
    >>> h.remove()
    """
    return _register_global(_global_backward_pre_hooks, hook)


def register_module_full_backward_hook(hook: Callable) -> RemovableHandle:
    """Register ``hook(module, grad_input, grad_output)`` for the backward of every module.

    >>> h = fluxion.nn.module.register_module_full_backward_hook(lambda m, gi, go: None)
    >>> h.remove()
    """
    return _register_global(_global_backward_hooks, hook)


# ----------------------------------------------------------------------------- backward hooks


class _BackwardHookState:
    """One call's link between the grads of a module's outputs and those of its inputs."""

    def __init__(self, module: Module, hooks: list, pre_hooks: list) -> None:
        self.module, self.hooks, self.pre_hooks = module, hooks, pre_hooks
        self.grad_outputs: tuple | None = None
        self.n_inputs = self.n_outputs = -1
        self.input_idx: list | None = None
        self.output_idx: list | None = None

    @staticmethod
    def _pack(indices: list, values: tuple, size: int) -> tuple:
        res = [None] * size
        for i, v in zip(indices, values):
            res[i] = v
        return tuple(res)

    def on_output_grads(self, grads: tuple) -> tuple:
        """Store ``grad_output``, run the pre-hooks (which may replace it), pass it on."""
        self.grad_outputs = self._pack(self.output_idx, grads, self.n_outputs)
        expected = len(self.grad_outputs)
        for pre_hook in self.pre_hooks:
            new = pre_hook(self.module, self.grad_outputs)
            if new is None:
                continue
            if len(new) != expected:
                raise RuntimeError(
                    "Backward pre hook returned an invalid number of grad_output, "
                    f"got {len(new)}, but expected {expected}"
                )
            self.grad_outputs = new
        local = self.grad_outputs
        if self.input_idx is None:  # no input requires grad: the hooks fire from here
            warnings.warn(
                "Full backward hook is firing when gradients are computed with respect to module "
                "outputs since no inputs require gradients.",
                stacklevel=2,
            )
            grad_inputs = (None,) * self.n_inputs
            for hook in self.hooks:
                res = hook(self.module, grad_inputs, self.grad_outputs)
                if res is not None and not (
                    isinstance(res, tuple) and all(el is None for el in res)
                ):
                    raise RuntimeError(
                        "Backward hook for Modules where no input requires gradient should "
                        "always return None or None for all gradients."
                    )
            self.grad_outputs = None
        return tuple(local[i] for i in self.output_idx)

    def on_input_grads(self, grads: tuple) -> tuple:
        """Call the hooks with ``(grad_input, grad_output)``; they may replace ``grad_input``."""
        if self.grad_outputs is None:  # grads flowed into the inputs but not via the outputs
            return grads
        res = self._pack(self.input_idx, grads, self.n_inputs)
        for hook in self.hooks:
            out = hook(self.module, res, self.grad_outputs)
            if out is None:
                continue
            if len(out) != len(res):
                raise RuntimeError(
                    "Backward hook returned an invalid number of grad_input, "
                    f"got {len(out)}, but expected {len(res)}"
                )
            res = out
        self.grad_outputs = None
        return tuple(res[i] for i in self.input_idx)


def _identity_forward(ctx: Any, state: _BackwardHookState, tensors: tuple) -> tuple:
    ctx.state = state
    outs = tuple(t.detach() for t in tensors)  # fresh aliases: the Function gives them grad_fn
    ctx.mark_non_differentiable(*(o for o, t in zip(outs, tensors) if not t.requires_grad))
    return outs


class BackwardHookFunction(Function):
    """Identity on a module's tensor inputs; its backward runs the full backward hooks."""

    @staticmethod
    def forward(ctx: Any, state: _BackwardHookState, *tensors: Tensor) -> tuple:
        return _identity_forward(ctx, state, tensors)

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> tuple:
        # as in PyTorch, grad_input holds zeros (materialized grads) for tensor inputs that were
        # unused or do not require grad
        return (None, *ctx.state.on_input_grads(grads))


class BackwardHookOutputFunction(Function):
    """Identity on a module's tensor outputs; its backward records ``grad_output``."""

    @staticmethod
    def forward(ctx: Any, state: _BackwardHookState, *tensors: Tensor) -> tuple:
        ctx.set_materialize_grads(False)  # an unused output's grad_output is None, as in PyTorch
        return _identity_forward(ctx, state, tensors)

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> tuple:
        return (None, *ctx.state.on_output_grads(grads))


def _wrap_tensors(fn: type, state: _BackwardHookState, args: tuple) -> tuple:
    """Route the tensors in ``args`` through ``fn``; return the new args and the tensor indices."""
    idx = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    if not (any(args[i].requires_grad for i in idx) and is_grad_enabled()):
        return args, None
    new = fn.apply(state, *[args[i] for i in idx])
    lst = list(args)
    for i, t in zip(idx, new):
        lst[i] = t
    return (tuple(lst) if type(args) is tuple else type(args)(*lst)), idx


# ----------------------------------------------------------------------------- Module


class Module:
    """Base class for all neural-network modules; subclass it and define ``forward``.

    Assigning a :class:`Parameter`, a ``Module`` or (via :meth:`register_buffer`) a tensor as an
    attribute registers it, so that :meth:`parameters`, :meth:`state_dict`, :meth:`to` and the
    ``repr`` see it.

    >>> class Affine(fluxion.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.scale = fluxion.nn.Parameter(fluxion.ones(2))
    ...         self.register_buffer("shift", fluxion.zeros(2))
    ...     def forward(self, x):
    ...         return x * self.scale + self.shift
    >>> m = Affine()
    >>> m(fluxion.tensor([1.0, 2.0]))
    tensor([1., 2.], grad_fn=<AddBackward0>)
    >>> list(m.state_dict())
    ['scale', 'shift']
    """

    _version: int = 1  # the state_dict format version, stored in its ``_metadata``
    training: bool
    _hooked = False  # any forward/backward hook registered on this module
    call_super_init: bool = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if self.call_super_init is False and kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__() got an unexpected keyword argument "
                f"'{next(iter(kwargs))}'"
            )
        if self.call_super_init is False and args:
            raise TypeError(
                f"{type(self).__name__}.__init__() takes 1 positional argument but "
                f"{len(args) + 1} were given"
            )
        d = self.__dict__  # bypass __setattr__: these are the registries it reads
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = {}
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_pre_hooks_with_kwargs"] = {}
        d["_forward_hooks"] = OrderedDict()
        d["_forward_hooks_with_kwargs"] = {}
        d["_forward_hooks_always_called"] = {}
        d["_backward_pre_hooks"] = OrderedDict()
        d["_backward_hooks"] = OrderedDict()
        if self.call_super_init:
            super().__init__(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Define the computation of the module; every subclass overrides it."""
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    # ------------------------------------------------------------------ calling

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._hooked or _any_global_hooks:
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    def _call_with_hooks(self, args: tuple, kwargs: dict) -> Any:
        result = None
        called_always = set()
        try:
            for hook_id, hook in itertools.chain(
                _global_forward_pre_hooks.items(), self._forward_pre_hooks.items()
            ):
                if hook_id in self._forward_pre_hooks_with_kwargs:
                    new = hook(self, args, kwargs)
                    if new is not None:
                        if not (isinstance(new, tuple) and len(new) == 2):
                            raise RuntimeError(
                                "forward pre-hook must return None or a tuple of "
                                f"(new_args, new_kwargs), but got {new}."
                            )
                        args, kwargs = new
                else:
                    new = hook(self, args)
                    if new is not None:
                        args = new if isinstance(new, tuple) else (new,)

            bw_hooks = [*_global_backward_hooks.values(), *self._backward_hooks.values()]
            bw_pre_hooks = [
                *_global_backward_pre_hooks.values(),
                *self._backward_pre_hooks.values(),
            ]
            state = None
            if bw_hooks or bw_pre_hooks:
                state = _BackwardHookState(self, bw_hooks, bw_pre_hooks)
                args, state.input_idx = _wrap_tensors(BackwardHookFunction, state, args)
                state.n_inputs = len(args)

            result = self.forward(*args, **kwargs)

            for hook_id, hook in itertools.chain(
                _global_forward_hooks.items(), self._forward_hooks.items()
            ):
                if self._forward_hook_always_called(hook_id):
                    called_always.add(hook_id)
                new = self._run_forward_hook(hook_id, hook, args, kwargs, result)
                if new is not None:
                    result = new

            if state is not None:
                result = self._wrap_outputs_for_backward_hooks(state, result)
            return result
        except Exception:
            self._run_always_called_hooks(args, kwargs, result, called_always)
            raise

    def _wrap_outputs_for_backward_hooks(self, state: _BackwardHookState, result: Any) -> Any:
        if not isinstance(result, (Tensor, tuple)):
            warnings.warn(
                "For backward hooks to be called, module output should be a Tensor or a tuple of "
                f"Tensors but received {type(result)}",
                stacklevel=3,
            )
        single = not isinstance(result, tuple)
        outs = (result,) if single else result
        outs, state.output_idx = _wrap_tensors(BackwardHookOutputFunction, state, outs)
        state.n_outputs = len(outs)
        return outs[0] if single else outs

    def _forward_hook_always_called(self, hook_id: int) -> bool:
        return (
            hook_id in self._forward_hooks_always_called
            or hook_id in _global_forward_hooks_always_called
        )

    def _run_forward_hook(
        self, hook_id: int, hook: Callable, args: tuple, kwargs: dict, result: Any
    ) -> Any:
        """Call a forward hook with or without ``kwargs``, as it was registered."""
        if (
            hook_id in self._forward_hooks_with_kwargs
            or hook_id in _global_forward_hooks_with_kwargs
        ):
            return hook(self, args, kwargs, result)
        return hook(self, args, result)

    def _run_always_called_hooks(self, args: tuple, kwargs: dict, result: Any, done: set) -> None:
        for hook_id, hook in itertools.chain(
            _global_forward_hooks.items(), self._forward_hooks.items()
        ):
            if not self._forward_hook_always_called(hook_id) or hook_id in done:
                continue
            try:
                new = self._run_forward_hook(hook_id, hook, args, kwargs, result)
                if new is not None:
                    result = new
            except Exception as e:
                warnings.warn(
                    "module forward hook with ``always_call=True`` raised an exception that was "
                    f"silenced as another error was raised in forward: {e}",
                    stacklevel=3,
                )

    # ------------------------------------------------------------------ hooks

    def _update_hooked(self) -> None:
        self.__dict__["_hooked"] = bool(
            self._forward_pre_hooks
            or self._forward_hooks
            or self._backward_pre_hooks
            or self._backward_hooks
        )

    def _add_hook(self, hooks: OrderedDict, hook: Callable, prepend: bool, *extra: Any):
        handle = RemovableHandle(hooks, *extra, on_remove=self._update_hooked)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        self.__dict__["_hooked"] = True
        return handle

    def register_forward_pre_hook(
        self, hook: Callable, *, prepend: bool = False, with_kwargs: bool = False
    ) -> RemovableHandle:
        """Register ``hook(module, args)`` (or ``hook(module, args, kwargs)``) before forward.

        A non-``None`` return value replaces the positional arguments (with ``with_kwargs``, a
        ``(args, kwargs)`` pair replaces both).

        >>> class Id(fluxion.nn.Module):
        ...     def forward(self, x):
        ...         return x
        >>> m = Id()
        >>> h = m.register_forward_pre_hook(lambda mod, args: (args[0] * 10,))
        >>> m(fluxion.tensor([1.0]))
        tensor([10.])
        """
        handle = self._add_hook(
            self._forward_pre_hooks, hook, prepend, self._forward_pre_hooks_with_kwargs
        )
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs[handle.id] = True
        return handle

    def register_forward_hook(
        self,
        hook: Callable,
        *,
        prepend: bool = False,
        with_kwargs: bool = False,
        always_call: bool = False,
    ) -> RemovableHandle:
        """Register ``hook(module, args, output)`` (or ``(module, args, kwargs, output)``).

        A non-``None`` return value replaces the output. With ``always_call`` the hook also
        runs when ``forward`` raises.

        >>> class Id(fluxion.nn.Module):
        ...     def forward(self, x):
        ...         return x
        >>> m = Id()
        >>> h = m.register_forward_hook(lambda mod, args, out: out + 1)
        >>> m(fluxion.tensor([1.0]))
        tensor([2.])
        """
        handle = self._add_hook(
            self._forward_hooks,
            hook,
            prepend,
            self._forward_hooks_with_kwargs,
            self._forward_hooks_always_called,
        )
        if with_kwargs:
            self._forward_hooks_with_kwargs[handle.id] = True
        if always_call:
            self._forward_hooks_always_called[handle.id] = True
        return handle

    def register_full_backward_pre_hook(
        self, hook: Callable, prepend: bool = False
    ) -> RemovableHandle:
        """Register ``hook(module, grad_output)``, run when the outputs' grads are known.

        A non-``None`` return value (a tuple like ``grad_output``) replaces ``grad_output``.

        >>> class Double(fluxion.nn.Module):
        ...     def forward(self, x):
        ...         return x * 2
        >>> m, x = Double(), fluxion.ones(2, requires_grad=True)
        >>> h = m.register_full_backward_pre_hook(lambda mod, go: (go[0] * 0.5,))
        >>> m(x).sum().backward()
        >>> x.grad
        tensor([1., 1.])
        """
        return self._add_hook(self._backward_pre_hooks, hook, prepend)

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """Register ``hook(module, grad_input, grad_output)``, run when the inputs' grads are known.

        ``grad_input`` / ``grad_output`` are tuples with one entry per positional input / output
        (``None`` for non-tensors). A non-``None`` return value replaces ``grad_input``.

        >>> class Double(fluxion.nn.Module):
        ...     def forward(self, x):
        ...         return x * 2
        >>> m, x = Double(), fluxion.ones(2, requires_grad=True)
        >>> h = m.register_full_backward_hook(lambda mod, gi, go: print(gi[0], go[0]))
        >>> m(x).sum().backward()
        tensor([2., 2.]) tensor([1., 1.])
        """
        return self._add_hook(self._backward_hooks, hook, prepend)

    # ------------------------------------------------------------------ registration

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register a tensor that is state but not a parameter (e.g. BatchNorm running stats).

        Non-persistent buffers are left out of :meth:`state_dict`.

        >>> m = fluxion.nn.Module()
        >>> m.register_buffer("steps", fluxion.tensor(0))
        >>> m.steps, dict(m.named_buffers())
        (tensor(0), {'steps': tensor(0)})
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_new_name("buffer", name, self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{typename(tensor)}' object to buffer '{name}' "
                "(torch Tensor or None required)"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def _check_new_name(self, kind: str, name: Any, registry: dict) -> None:
        """Check a ``kind`` ("buffer" or "parameter") name before it is registered."""
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {typename(name)}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain "."')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if hasattr(self, name) and name not in registry:
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register a parameter (or ``None``, a declared but absent parameter) under ``name``.

        >>> m = fluxion.nn.Module()
        >>> m.register_parameter("w", fluxion.nn.Parameter(fluxion.zeros(1)))
        >>> [n for n, _ in m.named_parameters()]
        ['w']
        """
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_new_name("parameter", name, self._parameters)
        if param is None:
            self._parameters[name] = None
        elif not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{typename(param)}' object to parameter '{name}' "
                "(torch.nn.Parameter or None required)"
            )
        elif param.grad_fn is not None:
            raise ValueError(
                f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be "
                f"created explicitly. To express '{name}' as a function of another Tensor, "
                "compute the value in the forward() method."
            )
        else:
            self._parameters[name] = param

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as a child named ``name`` (like assigning an attribute).

        >>> m = fluxion.nn.Module()
        >>> m.add_module("inner", fluxion.nn.Module())
        >>> m
        Module(
          (inner): Module()
        )
        """
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{typename(module)} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {typename(name)}")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if "." in name:
            raise KeyError(f'module name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError('module name can\'t be empty string ""')
        self._modules[name] = module

    def register_module(self, name: str, module: Module | None) -> None:
        """Alias of :meth:`add_module`.

        >>> m = fluxion.nn.Module()
        >>> m.register_module("inner", fluxion.nn.Module())
        >>> [n for n, _ in m.named_children()]
        ['inner']
        """
        self.add_module(name, module)

    def __getattr__(self, name: str) -> Any:
        # only reached when normal lookup fails: parameters, buffers, submodules, in that order
        d = self.__dict__
        try:
            return d["_parameters"][name]
        except KeyError:
            pass
        try:
            return d["_buffers"][name]
        except KeyError:
            pass
        try:
            return d["_modules"][name]
        except KeyError:
            pass
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            _remove_from(name, d, self._buffers, self._modules, self._non_persistent_buffers_set)
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{typename(value)}' as parameter '{name}' "
                    "(torch.nn.Parameter or None expected)"
                )
            self.register_parameter(name, value)
            return
        modules = d.get("_modules")
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            _remove_from(name, d, params, self._buffers, self._non_persistent_buffers_set)
            modules[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{typename(value)}' as child module '{name}' "
                    "(torch.nn.Module or None expected)"
                )
            modules[name] = value
            return
        buffers = d.get("_buffers")
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{typename(value)}' as buffer '{name}' "
                    "(torch.nn.Buffer, torch.Tensor or None expected)"
                )
            buffers[name] = value
            return
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        if name in d.get("_parameters", ()):
            del self._parameters[name]
        elif name in d.get("_buffers", ()):
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in d.get("_modules", ()):
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> list:
        keys = [
            *dir(self.__class__),
            *self.__dict__,
            *self._parameters,
            *self._modules,
            *self._buffers,
        ]
        return sorted(k for k in keys if not k[0].isdigit())

    # ------------------------------------------------------------------ lookups

    def get_submodule(self, target: str) -> Module:
        """Return the submodule at the dotted path ``target`` (``""`` is ``self``).

        >>> m = fluxion.nn.Module()
        >>> m.add_module("a", fluxion.nn.Module())
        >>> m.get_submodule("a") is m.a
        True
        """
        if target == "":
            return self
        mod: Module = self
        for item in target.split("."):
            mod = _attribute(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError("`" + item + "` is not an nn.Module")
        return mod

    def get_parameter(self, target: str) -> Parameter:
        """Return the parameter at the dotted path ``target``.

        >>> m = fluxion.nn.Module()
        >>> m.w = fluxion.nn.Parameter(fluxion.zeros(1))
        >>> m.get_parameter("w") is m.w
        True
        """
        module_path, _, param_name = target.rpartition(".")
        param = _attribute(self.get_submodule(module_path), param_name)
        if not isinstance(param, Parameter):
            raise AttributeError("`" + param_name + "` is not an nn.Parameter")
        return param

    def get_buffer(self, target: str) -> Tensor:
        """Return the buffer at the dotted path ``target``.

        >>> m = fluxion.nn.Module()
        >>> m.register_buffer("b", fluxion.zeros(1))
        >>> m.get_buffer("b") is m.b
        True
        """
        module_path, _, buffer_name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        buffer = _attribute(mod, buffer_name)
        if buffer_name not in mod._buffers:
            raise AttributeError("`" + buffer_name + "` is not a buffer")
        return buffer

    def get_extra_state(self) -> Any:
        """Return extra state for :meth:`state_dict`; override together with set_extra_state."""
        raise RuntimeError(
            "Reached a code path in Module.get_extra_state() that should never be called."
        )

    def set_extra_state(self, state: Any) -> None:
        """Restore the extra state returned by :meth:`get_extra_state`; override it."""
        raise RuntimeError(
            "Reached a code path in Module.set_extra_state() that should never be called."
        )

    # ------------------------------------------------------------------ iteration

    def _named_members(
        self, get_members: Callable, prefix: str = "", recurse: bool = True, remove_duplicate=True
    ) -> Iterator[tuple[str, Any]]:
        memo = set()
        modules = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse
            else [(prefix, self)]
        )
        for module_prefix, module in modules:
            for k, v in get_members(module):
                if v is None or v in memo:
                    continue
                if remove_duplicate:
                    memo.add(v)
                yield (module_prefix + ("." if module_prefix else "") + k, v)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Yield the parameters of this module (and of its submodules when ``recurse``).

        >>> m = fluxion.nn.Module()
        >>> m.w = fluxion.nn.Parameter(fluxion.zeros(2))
        >>> [tuple(p.shape) for p in m.parameters()]
        [(2,)]
        """
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Yield ``(dotted name, parameter)`` pairs, each shared parameter once by default.

        >>> m = fluxion.nn.Module()
        >>> m.sub = fluxion.nn.Module()
        >>> m.sub.w = fluxion.nn.Parameter(fluxion.zeros(2))
        >>> [n for n, _ in m.named_parameters()]
        ['sub.w']
        """
        yield from self._named_members(
            lambda m: m._parameters.items(), prefix, recurse, remove_duplicate
        )

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Yield the buffers of this module (and of its submodules when ``recurse``).

        >>> m = fluxion.nn.Module()
        >>> m.register_buffer("b", fluxion.ones(1))
        >>> list(m.buffers())
        [tensor([1.])]
        """
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """Yield ``(dotted name, buffer)`` pairs.

        >>> m = fluxion.nn.Module()
        >>> m.register_buffer("b", fluxion.ones(1))
        >>> [n for n, _ in m.named_buffers(prefix="model")]
        ['model.b']
        """
        yield from self._named_members(
            lambda m: m._buffers.items(), prefix, recurse, remove_duplicate
        )

    def children(self) -> Iterator[Module]:
        """Yield the direct submodules (each once).

        >>> m = fluxion.nn.Module()
        >>> m.a = fluxion.nn.Module()
        >>> len(list(m.children()))
        1
        """
        for _, module in self.named_children():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Yield ``(name, submodule)`` for the direct submodules (each once).

        >>> m = fluxion.nn.Module()
        >>> m.a = fluxion.nn.Module()
        >>> [n for n, _ in m.named_children()]
        ['a']
        """
        memo = set()
        for name, module in self._modules.items():
            if module is not None and module not in memo:
                memo.add(module)
                yield name, module

    def modules(self) -> Iterator[Module]:
        """Yield this module and all submodules, depth first (each once).

        >>> m = fluxion.nn.Module()
        >>> m.a = fluxion.nn.Module()
        >>> len(list(m.modules()))
        2
        """
        for _, module in self.named_modules():
            yield module

    def named_modules(
        self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """Yield ``(dotted name, module)`` for this module (name ``prefix``) and all below it.

        >>> m = fluxion.nn.Module()
        >>> m.a = fluxion.nn.Module()
        >>> m.a.b = fluxion.nn.Module()
        >>> [n for n, _ in m.named_modules()]
        ['', 'a', 'a.b']
        """
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub_prefix = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, sub_prefix, remove_duplicate)

    # ------------------------------------------------------------------ modes and grads

    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=True``) or evaluation mode on this module and below.

        >>> m = fluxion.nn.Module()
        >>> m.train(False).training
        False
        """
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode (``train(False)``) and return ``self``.

        >>> fluxion.nn.Module().eval().training
        False
        """
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` on every parameter (freeze with ``False``).

        >>> m = fluxion.nn.Module()
        >>> m.w = fluxion.nn.Parameter(fluxion.zeros(1))
        >>> m.requires_grad_(False).w.requires_grad
        False
        """
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters (to ``None`` by default, else to zeros).

        >>> m = fluxion.nn.Module()
        >>> m.w = fluxion.nn.Parameter(fluxion.ones(1))
        >>> (m.w * 3).sum().backward()
        >>> m.zero_grad()
        >>> m.w.grad is None
        True
        """
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad.detach_()
                    else:
                        p.grad.requires_grad_(False)
                    p.grad.zero_()

    # ------------------------------------------------------------------ conversion

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> Module:
        """Apply ``fn`` to every parameter, gradient and buffer, keeping Parameter identity."""
        if recurse:
            for module in self.children():
                module._apply(fn)
        for param in self._parameters.values():
            if param is None:
                continue
            with no_grad():
                applied = fn(param)
            # NOTE: as in PyTorch, the Parameter object survives (optimizers keep working):
            # only its data is replaced.
            param.data = applied
            grad = param.grad
            if grad is not None:
                with no_grad():
                    g = fn(grad)
                grad.data = g
        for key, buf in self._buffers.items():
            if buf is not None:
                self._buffers[key] = fn(buf)
        return self

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every submodule (children first) and then on ``self``.

        >>> m = fluxion.nn.Module()
        >>> m.a = fluxion.nn.Module()
        >>> names = []
        >>> _ = m.apply(lambda mod: names.append(type(mod).__name__))
        >>> names
        ['Module', 'Module']
        """
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Move and/or cast parameters and buffers in place: ``to(dtype)``, ``to(device)``, ...

        Only floating-point tensors change dtype; integer buffers keep theirs.

        >>> m = fluxion.nn.Module()
        >>> m.w = fluxion.nn.Parameter(fluxion.zeros(1))
        >>> m.to(fluxion.float64).w.dtype
        fluxion.float64
        """
        device, dtype = _parse_to(args, kwargs)
        if dtype is not None and not dtype.is_floating_point:
            raise TypeError(
                "nn.Module.to only accepts floating point or complex dtypes, but got desired "
                f"dtype={dtype}"
            )

        def convert(t: Tensor) -> Tensor:
            return t.to(device, dtype if t.is_floating_point() else None)

        return self._apply(convert)

    def float(self) -> Module:
        """Cast floating-point parameters and buffers to float32.

        >>> m = fluxion.nn.Module()
        >>> m.w = fluxion.nn.Parameter(fluxion.zeros(1, dtype=fluxion.float64))
        >>> m.float().w.dtype
        fluxion.float32
        """
        return self._apply(lambda t: t.float() if t.is_floating_point() else t)

    def double(self) -> Module:
        """Cast floating-point parameters and buffers to float64.

        >>> m = fluxion.nn.Module()
        >>> m.w = fluxion.nn.Parameter(fluxion.zeros(1))
        >>> m.double().w.dtype
        fluxion.float64
        """
        return self._apply(lambda t: t.double() if t.is_floating_point() else t)

    def half(self) -> Module:
        """Cast floating-point parameters and buffers to float16.

        >>> m = fluxion.nn.Module()
        >>> m.w = fluxion.nn.Parameter(fluxion.zeros(1))
        >>> m.half().w.dtype
        fluxion.float16
        """
        return self._apply(lambda t: t.half() if t.is_floating_point() else t)

    def type(self, dst_type: Any) -> Module:
        """Cast all parameters and buffers (integer ones too) to ``dst_type``.

        >>> m = fluxion.nn.Module()
        >>> m.w = fluxion.nn.Parameter(fluxion.zeros(1))
        >>> m.type(fluxion.float64).w.dtype
        fluxion.float64
        """
        return self._apply(lambda t: t.type(dst_type))

    def cpu(self) -> Module:
        """Move parameters and buffers to the CPU (where fluxion tensors live).

        >>> fluxion.nn.Module().cpu()
        Module()
        """
        return self._apply(lambda t: t.cpu())

    def cuda(self, device: Any = None) -> Module:
        """Move parameters and buffers to a CUDA device."""
        target = "cuda" if device is None else device
        if isinstance(target, int):
            target = f"cuda:{target}"
        return self._apply(lambda t: t.to(target))

    # ------------------------------------------------------------------ state dict

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars else buf.detach()
        if type(self).get_extra_state is not Module.get_extra_state:
            destination[prefix + _EXTRA_STATE_KEY_SUFFIX] = self.get_extra_state()

    def state_dict(
        self, *args: Any, destination: Any = None, prefix: str = "", keep_vars: bool = False
    ) -> dict:
        """Return an ``OrderedDict`` of parameters and persistent buffers by dotted name.

        Values are detached from the graph (``keep_vars=True`` keeps the tensors themselves).

        >>> m = fluxion.nn.Module()
        >>> m.w = fluxion.nn.Parameter(fluxion.ones(1))
        >>> dict(m.state_dict())
        {'w': tensor([1.])}
        """
        if args:  # the deprecated positional form: (destination, prefix, keep_vars)
            warnings.warn(
                "Positional args are being deprecated, use kwargs instead. Refer to "
                "https://pytorch.org/docs/main/generated/torch.nn.Module.html"
                "#torch.nn.Module.state_dict for details.",
                FutureWarning,
                stacklevel=2,
            )
            if destination is None:
                destination = args[0]
            if len(args) > 1 and prefix == "":
                prefix = args[1]
            if len(args) > 2 and keep_vars is False:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()
        local_metadata = {"version": self._version}
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = local_metadata
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(
                    destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars
                )
        return destination

    def _load_from_state_dict(
        self,
        state_dict: dict,
        prefix: str,
        local_metadata: dict,
        strict: bool,
        missing_keys: list,
        unexpected_keys: list,
        error_msgs: list,
    ) -> None:
        """Copy this module's own entries of ``state_dict`` (PyTorch's override point)."""
        persistent = {
            k: v for k, v in self._buffers.items() if k not in self._non_persistent_buffers_set
        }
        local_state = {
            k: v
            for k, v in itertools.chain(self._parameters.items(), persistent.items())
            if v is not None
        }
        assign = local_metadata.get("assign_to_params_buffers", False)
        for name, param in local_state.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            value = state_dict[key]
            if not isinstance(value, Tensor):
                error_msgs.append(
                    f'While copying the parameter named "{key}", expected torch.Tensor or '
                    f"Tensor-like object from checkpoint but received {type(value)}"
                )
                continue
            # backward compatibility, as in PyTorch: a 1-element 1-d value fills a 0-d tensor
            if param.dim() == 0 and value.dim() == 1 and value.shape[0] == 1:
                value = value[0]
            if value.shape != param.shape:
                error_msgs.append(
                    f"size mismatch for {key}: copying a param with shape {value.shape} from "
                    f"checkpoint, the shape in current model is {param.shape}."
                )
                continue
            try:
                with no_grad():
                    if assign:
                        if isinstance(param, Parameter):
                            if not isinstance(value, Parameter):
                                value = Parameter(value, requires_grad=param.requires_grad)
                            else:
                                value.requires_grad_(param.requires_grad)
                        setattr(self, name, value)
                    else:
                        param.copy_(value)
            except Exception as ex:
                error_msgs.append(
                    f'While copying the parameter named "{key}", whose dimensions in the model '
                    f"are {param.size()} and whose dimensions in the checkpoint are "
                    f"{value.size()}, an exception occurred : {ex.args}."
                )
        extra_key = prefix + _EXTRA_STATE_KEY_SUFFIX
        if type(self).set_extra_state is not Module.set_extra_state:
            if extra_key in state_dict:
                self.set_extra_state(state_dict[extra_key])
            elif strict:
                missing_keys.append(extra_key)
        elif strict and extra_key in state_dict:
            unexpected_keys.append(extra_key)
        if strict:
            for key in state_dict:
                if key.startswith(prefix) and key != extra_key:
                    head = key[len(prefix) :].split(".", 1)
                    if len(head) > 1:
                        if head[0] not in self._modules:
                            unexpected_keys.append(key)
                    elif head[0] not in local_state:
                        unexpected_keys.append(key)

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> _IncompatibleKeys:
        """Copy parameters and buffers from ``state_dict`` into this module and its submodules.

        With ``strict`` (the default) the keys must match :meth:`state_dict`'s exactly, else a
        ``RuntimeError`` lists the missing and unexpected keys. Returns the named tuple
        ``(missing_keys, unexpected_keys)``.

        >>> m = fluxion.nn.Module()
        >>> m.w = fluxion.nn.Parameter(fluxion.zeros(2))
        >>> m.load_state_dict({"w": fluxion.ones(2)})
        <All keys matched successfully>
        >>> m.w
        Parameter containing:
        tensor([1., 1.], requires_grad=True)
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing_keys: list[str] = []
        unexpected_keys: list[str] = []
        error_msgs: list[str] = []
        metadata = getattr(state_dict, "_metadata", None)
        state_dict = OrderedDict(state_dict)

        def load(module: Module, local_state: dict, prefix: str = "") -> None:
            local_metadata = {} if metadata is None else dict(metadata.get(prefix[:-1], {}))
            if assign:
                local_metadata["assign_to_params_buffers"] = assign
            module._load_from_state_dict(
                local_state, prefix, local_metadata, True, missing_keys, unexpected_keys,
                error_msgs,
            )  # fmt: skip
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    child_state = {
                        k: v for k, v in local_state.items() if k.startswith(child_prefix)
                    }
                    load(child, child_state, child_prefix)

        load(self, state_dict)
        if strict:
            if unexpected_keys:
                error_msgs.insert(
                    0,
                    "Unexpected key(s) in state_dict: {}. ".format(
                        ", ".join(f'"{k}"' for k in unexpected_keys)
                    ),
                )
            if missing_keys:
                error_msgs.insert(
                    0,
                    "Missing key(s) in state_dict: {}. ".format(
                        ", ".join(f'"{k}"' for k in missing_keys)
                    ),
                )
        if error_msgs:
            raise RuntimeError(
                "Error(s) in loading state_dict for {}:\n\t{}".format(
                    type(self).__name__, "\n\t".join(error_msgs)
                )
            )
        return _IncompatibleKeys(missing_keys, unexpected_keys)

    # ------------------------------------------------------------------ repr

    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """Return the layer's settings for its ``repr`` (one line or several); override it.

        >>> fluxion.nn.Module().extra_repr()
        ''
        """
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [
            "(" + key + "): " + addindent(repr(module), 2) for key, module in self._modules.items()
        ]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


def _attribute(module: Module, name: str) -> Any:
    """``getattr(module, name)``, with PyTorch's message when ``module`` has no ``name``."""
    if not hasattr(module, name):
        raise AttributeError(module._get_name() + " has no attribute `" + name + "`")
    return getattr(module, name)


def _remove_from(name: str, *containers: Any) -> None:
    for c in containers:
        if c is not None and name in c:
            if isinstance(c, dict):
                del c[name]
            else:
                c.discard(name)


def _parse_to(args: tuple, kwargs: dict) -> tuple:
    """``(device, dtype)`` from ``to``'s overloads: device, dtype, tensor, keyword forms."""
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() received an invalid combination of arguments: {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, _dtype_cls):
            dtype = a
        elif isinstance(a, bool) or a is None:
            continue  # non_blocking, positionally
        elif isinstance(a, (str, int, _device_cls)):
            device = a
        else:
            raise TypeError(
                f"to() received an invalid combination of arguments - got ({typename(a)}); "
                "expected a device, a dtype or a tensor"
            )
    if isinstance(device, int) and not isinstance(device, bool):
        device = f"cuda:{device}"
    return device, dtype
