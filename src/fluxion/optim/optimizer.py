"""``Optimizer``: the base class of every optimiser (param groups, per-parameter state, hooks).

The structure is PyTorch's, so code written for ``torch.optim`` works unchanged and a state
dict has the same layout: ``{"state": {0: {...}, 1: {...}}, "param_groups": [{..., "params":
[0, 1]}]}``, parameters numbered in the order the groups list them.
"""

from __future__ import annotations

import functools
import warnings
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from copy import deepcopy
from itertools import chain
from typing import Any

import fluxion
from fluxion import Tensor

__all__ = [
    "Optimizer",
    "required",
    "register_optimizer_step_pre_hook",
    "register_optimizer_step_post_hook",
]


class _RequiredParameter:
    """Marks a hyper-parameter every param group must specify (no default)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


class _Handle:
    """Removes the hook it was returned for from its ordered dict (``handle.remove()``)."""

    _next_id = 0

    def __init__(self, hooks: OrderedDict) -> None:
        self._hooks = hooks
        self.id = _Handle._next_id
        _Handle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> _Handle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


_global_pre_hooks: OrderedDict = OrderedDict()
_global_post_hooks: OrderedDict = OrderedDict()


def _register_hook(hooks: OrderedDict, hook: Callable, prepend: bool = False) -> _Handle:
    """Add ``hook`` to ``hooks`` (first when ``prepend``); return the handle that removes it."""
    handle = _Handle(hooks)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def register_optimizer_step_pre_hook(hook: Callable) -> _Handle:
    """Register ``hook(optimizer, args, kwargs)`` to run before every optimiser's ``step``.

    The hook may return ``(new_args, new_kwargs)`` to replace the arguments of ``step``.

    >>> h = fluxion.optim.optimizer.register_optimizer_step_pre_hook(lambda o, a, k: None)
    >>> h.remove()
    """
    return _register_hook(_global_pre_hooks, hook)


def register_optimizer_step_post_hook(hook: Callable) -> _Handle:
    """Register ``hook(optimizer, args, kwargs)`` to run after every optimiser's ``step``.

    >>> h = fluxion.optim.optimizer.register_optimizer_step_post_hook(lambda o, a, k: None)
    >>> h.remove()
    """
    return _register_hook(_global_post_hooks, hook)


def _typename(obj: Any) -> str:
    """``torch.typename``: the legacy tensor type name, else ``module.QualName``."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", "") or ""
    if hasattr(obj, "__qualname__"):
        qualname = obj.__qualname__
    elif hasattr(obj, "__name__"):
        qualname = obj.__name__
    else:
        module = obj.__class__.__module__
        qualname = obj.__class__.__qualname__
    if module in ("", "builtins"):
        return qualname
    return f"{module}.{qualname}"


def _scalar_dtype():
    """The dtype of ``state["step"]``: float64 under a float64 default dtype, else float32."""
    return fluxion.float64 if fluxion.get_default_dtype() == fluxion.float64 else fluxion.float32


def _new_step() -> Tensor:
    return fluxion.tensor(0.0, dtype=_scalar_dtype())


def _to_scalar(x: Any) -> Any:
    """A one-element tensor hyper-parameter as a 0-d tensor; anything else unchanged."""
    if isinstance(x, Tensor) and x.dim() != 0:
        return x.squeeze()
    return x


def _value(x: Any) -> Any:
    """A hyper-parameter as a Python number (a tensor ``lr`` is read with ``item()``)."""
    return x.item() if isinstance(x, Tensor) else x


def _check_lr(lr: Any) -> None:
    """Reject a tensor ``lr`` with more than one element (every optimiser's first check)."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")


def _check_non_negative(*checks: tuple[str, Any]) -> None:
    """Raise ``ValueError("Invalid <what>: <value>")`` for the first value not ``>= 0`` (or NaN).

    The checks run in the order given, which is the order PyTorch's constructors use.
    """
    for what, value in checks:
        if not 0.0 <= value:
            raise ValueError(f"Invalid {what}: {value}")


def _check_fused(fused: bool | None, differentiable: bool, foreach: bool | None) -> None:
    """Reject the flag combinations PyTorch rejects for ``fused=True``."""
    if fused:
        if differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        if foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def _hooked_step(func: Callable) -> Callable:
    """Wrap a ``step`` method so that it runs the global and per-optimiser step hooks."""

    @functools.wraps(func)
    def step(*args, **kwargs):
        self = args[0]  # hooks see ``args`` with ``self`` first, as in PyTorch
        if _global_pre_hooks or self._optimizer_step_pre_hooks:
            for hook in chain(_global_pre_hooks.values(), self._optimizer_step_pre_hooks.values()):
                result = hook(self, args, kwargs)
                if result is not None:
                    if isinstance(result, tuple) and len(result) == 2:
                        args, kwargs = result
                    else:
                        raise RuntimeError(
                            f"{func} must return None or a tuple of (new_args, new_kwargs), "
                            f"but got {result}."
                        )
        out = func(*args, **kwargs)
        self._opt_called = True  # read by lr_scheduler: was optimizer.step() called first?
        if _global_post_hooks or self._optimizer_step_post_hooks:
            for hook in chain(
                self._optimizer_step_post_hooks.values(), _global_post_hooks.values()
            ):
                hook(self, args, kwargs)
        return out

    step.hooked = True
    return step


class Optimizer:
    """Base class of all optimisers: holds ``param_groups`` and per-parameter ``state``.

    Args:
        params: An iterable of tensors, of ``(name, tensor)`` pairs, or of dicts (param
            groups, each with a ``"params"`` entry and optional per-group hyper-parameters).
        defaults: Default hyper-parameters, filled into every group that does not set them.

    Subclasses implement :meth:`step`.

    >>> w = fluxion.zeros(2, requires_grad=True)
    >>> opt = fluxion.optim.SGD([w], lr=0.1)
    >>> (w - fluxion.tensor([1.0, 2.0])).pow(2).sum().backward()
    >>> opt.step()
    >>> w
    tensor([0.2000, 0.4000], requires_grad=True)
    >>> opt.zero_grad()
    >>> w.grad is None
    True
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._optimizer_step_pre_hooks: OrderedDict = OrderedDict()
        self._optimizer_step_post_hooks: OrderedDict = OrderedDict()
        self._optimizer_state_dict_pre_hooks: OrderedDict = OrderedDict()
        self._optimizer_state_dict_post_hooks: OrderedDict = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks: OrderedDict = OrderedDict()
        self._optimizer_load_state_dict_post_hooks: OrderedDict = OrderedDict()
        self._patch_step_function()

        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                "dicts, but got " + _typename(params)
            )
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    # ----------------------------------------------------------------- pickling and repr
    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for name in (
            "_optimizer_step_pre_hooks",
            "_optimizer_step_post_hooks",
            "_optimizer_state_dict_pre_hooks",
            "_optimizer_state_dict_post_hooks",
            "_optimizer_load_state_dict_pre_hooks",
            "_optimizer_load_state_dict_post_hooks",
        ):
            if name not in self.__dict__:
                setattr(self, name, OrderedDict())
        self._patch_step_function()
        self.defaults.setdefault("differentiable", False)

    def __repr__(self) -> str:
        out = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            out += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    out += f"    {key}: {group[key]}\n"
        return out + ")"

    def _patch_step_function(self) -> None:
        cls = self.__class__
        if not getattr(cls.step, "hooked", False):
            cls.step = _hooked_step(cls.step)

    def _tensorize_steps(self) -> None:
        """Turn a number ``state["step"]`` (an old checkpoint) into a 0-d tensor, as PyTorch."""
        for group in self.param_groups:
            for p in group["params"]:
                p_state = self.state.get(p)
                if p_state and "step" in p_state and not isinstance(p_state["step"], Tensor):
                    p_state["step"] = fluxion.tensor(float(p_state["step"]), dtype=_scalar_dtype())

    # ----------------------------------------------------------------- hooks
    def register_step_pre_hook(self, hook: Callable) -> _Handle:
        """Register ``hook(optimizer, args, kwargs)`` to run before this optimiser's ``step``.

        >>> opt = fluxion.optim.SGD([fluxion.zeros(1, requires_grad=True)], lr=0.1)
        >>> opt.register_step_pre_hook(lambda o, a, k: None).remove()
        """
        return _register_hook(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook: Callable) -> _Handle:
        """Register ``hook(optimizer, args, kwargs)`` to run after this optimiser's ``step``.

        >>> opt = fluxion.optim.SGD([fluxion.zeros(1, requires_grad=True)], lr=0.1)
        >>> opt.register_step_post_hook(lambda o, a, k: None).remove()
        """
        return _register_hook(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook: Callable, prepend: bool = False) -> _Handle:
        """Register ``hook(optimizer)`` to run before :meth:`state_dict`.

        >>> opt = fluxion.optim.SGD([fluxion.zeros(1, requires_grad=True)], lr=0.1)
        >>> opt.register_state_dict_pre_hook(lambda o: None).remove()
        """
        return _register_hook(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook: Callable, prepend: bool = False) -> _Handle:
        """Register ``hook(optimizer, state_dict)`` (may return a new dict) after ``state_dict``.

        >>> opt = fluxion.optim.SGD([fluxion.zeros(1, requires_grad=True)], lr=0.1)
        >>> opt.register_state_dict_post_hook(lambda o, sd: None).remove()
        """
        return _register_hook(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook: Callable, prepend: bool = False) -> _Handle:
        """Register ``hook(optimizer, state_dict)`` (may return a new dict) before loading.

        >>> opt = fluxion.optim.SGD([fluxion.zeros(1, requires_grad=True)], lr=0.1)
        >>> opt.register_load_state_dict_pre_hook(lambda o, sd: None).remove()
        """
        return _register_hook(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook: Callable, prepend: bool = False) -> _Handle:
        """Register ``hook(optimizer)`` to run after :meth:`load_state_dict`.

        >>> opt = fluxion.optim.SGD([fluxion.zeros(1, requires_grad=True)], lr=0.1)
        >>> opt.register_load_state_dict_post_hook(lambda o: None).remove()
        """
        return _register_hook(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # ----------------------------------------------------------------- state dicts
    def state_dict(self) -> dict[str, Any]:
        """Return the optimiser state: ``{"state": {id: {...}}, "param_groups": [...]}``.

        Parameters are replaced by integer ids (their position across all groups); the state
        tensors are the live ones, not copies (as in PyTorch).

        >>> w = fluxion.zeros(2, requires_grad=True)
        >>> opt = fluxion.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> w.sum().backward(); opt.step()
        >>> sd = opt.state_dict()
        >>> sd["state"][0]["momentum_buffer"], sd["param_groups"][0]["params"]
        (tensor([1., 1.]), [0])
        """
        for hook in self._optimizer_state_dict_pre_hooks.values():
            hook(self)
        mapping: dict[int, int] = {}
        start = 0

        def pack(group: dict[str, Any]) -> dict[str, Any]:
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        param_groups = [pack(g) for g in self.param_groups]
        packed_state = {
            (mapping[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()
        }
        state_dict = {"state": packed_state, "param_groups": param_groups}
        for hook in self._optimizer_state_dict_post_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    @staticmethod
    def _cast_state(param: Tensor, value: Any, group: dict | None, key: Any = None) -> Any:
        """A loaded state value moved to ``param``'s dtype (``step`` is kept as it is)."""
        if isinstance(value, Tensor):
            if key == "step":
                if group is not None and (group.get("fused") or group.get("capturable")):
                    return value.to(fluxion.float32)
                return value
            if param.is_floating_point():
                return value.to(param.dtype)
            return value
        if isinstance(value, dict):
            return {k: Optimizer._cast_state(param, v, group, k) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(Optimizer._cast_state(param, v, group) for v in value)
        return value

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict made by :meth:`state_dict` (parameters are matched by position).

        Raises:
            ValueError: the number of groups, or of parameters in a group, differs.

        >>> w = fluxion.zeros(2, requires_grad=True)
        >>> opt = fluxion.optim.SGD([w], lr=0.1)
        >>> opt.load_state_dict({"state": {}, "param_groups": [dict(opt.defaults, lr=0.5,
        ...                      params=[0])]})
        >>> opt.param_groups[0]["lr"]
        0.5
        """
        state_dict = state_dict.copy()
        for hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of "
                "optimizer's group"
            )
        id_map = dict(
            zip(
                chain.from_iterable(g["params"] for g in saved_groups),
                chain.from_iterable(g["params"] for g in groups),
            )
        )
        group_of = {i: g for g in state_dict["param_groups"] for i in g["params"]}
        state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = self._cast_state(param, v, group_of.get(k))
            else:
                state[k] = v

        new_groups = []
        for group, new in zip(groups, saved_groups):
            new["params"] = group["params"]
            if "param_names" in group and "param_names" not in new:
                new["param_names"] = group["param_names"]
            new_groups.append(new)
        self.__setstate__({"state": state, "param_groups": new_groups})
        for hook in self._optimizer_load_state_dict_post_hooks.values():
            hook(self)

    # ----------------------------------------------------------------- gradients and steps
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimised tensors (to ``None``, or to zeros).

        Args:
            set_to_none: Set ``.grad`` to ``None`` (default) instead of filling it with zeros.

        >>> w = fluxion.ones(2, requires_grad=True)
        >>> opt = fluxion.optim.SGD([w], lr=0.1)
        >>> w.sum().backward(); opt.zero_grad(set_to_none=False)
        >>> w.grad
        tensor([0., 0.])
        """
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if g.grad_fn is not None:
                        g.detach_()
                    else:
                        g.requires_grad_(False)
                    g.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimisation step (implemented by each optimiser).

        Args:
            closure: Re-evaluates the model and returns the loss (run with grad enabled).
        """
        raise NotImplementedError

    def _step_groups(self, closure: Callable[[], Any] | None) -> Any:
        """Run the ``step`` of the built-in optimisers and return ``closure()``'s loss.

        The closure runs with grad enabled; then ``self._update_group(group)`` runs for every
        group, with grad mode on only when ``differentiable``.
        """
        loss = None
        if closure is not None:
            with fluxion.enable_grad():
                loss = closure()
        with fluxion.set_grad_enabled(self.defaults["differentiable"]):
            for group in self.param_groups:
                self._update_group(group)
        return loss

    def _set_group_defaults(self, **defaults: Any) -> None:
        """Fill in the hyper-parameters missing from every group (an older pickled state)."""
        for group in self.param_groups:
            for name, value in defaults.items():
                group.setdefault(name, value)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (with its own hyper-parameters) to ``param_groups``.

        Args:
            param_group: A dict with a ``"params"`` entry (a tensor, or an ordered iterable of
                tensors or ``(name, tensor)`` pairs) and optional hyper-parameters.

        Raises:
            TypeError: not a dict, a set of parameters, or a parameter that is not a tensor.
            ValueError: a non-leaf tensor, a parameter already in another group, or a missing
                required hyper-parameter.

        >>> a, b = fluxion.zeros(1, requires_grad=True), fluxion.zeros(1, requires_grad=True)
        >>> opt = fluxion.optim.SGD([a], lr=0.1)
        >>> opt.add_param_group({"params": [b], "lr": 0.01})
        >>> [g["lr"] for g in opt.param_groups]
        [0.1, 0.01]
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        else:
            params = list(params)
        tensors, names = [], []
        for item in params:
            if isinstance(item, tuple):
                names.append(item[0])
                tensors.append(item[1])
            else:
                tensors.append(item)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names are "
                    "missing"
                )
            param_group["param_names"] = names

        differentiable = self.defaults.get("differentiable", None)
        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is " + _typename(p)
                )
            if not differentiable and not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    "parameter group didn't specify a value of required optimization "
                    f"parameter {name}"
                )
            param_group.setdefault(name, default)

        if len(tensors) != len(set(tensors)):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, "
                "this will cause an error; see github.com/pytorch/pytorch/issues/40967 for more "
                "information",
                stacklevel=3,
            )
        seen: set = set()
        for group in self.param_groups:
            seen.update(group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. "
                    f"cannot add param group {which} to the optimizer"
                )
        if not seen.isdisjoint(tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)
