"""Thread-local grad mode: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode``.

Each class works as a context manager and as a decorator (also of generator functions, where
the mode applies while the generator body runs), and restores the previous state in
``__exit__`` even when an exception escapes. ``no_grad``, ``enable_grad`` and
``inference_mode`` also decorate without parentheses, as in PyTorch.
"""

from __future__ import annotations

import functools
import inspect
import sys
import threading
import warnings
from collections.abc import Callable
from typing import Any

__all__ = [
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
]


class _GradState(threading.local):
    enabled = True  # class attribute = per-thread default: a new thread starts with grad on
    inference = False


state = _GradState()


def is_grad_enabled() -> bool:
    """Return whether operations record a graph in this thread.

    >>> fluxion.is_grad_enabled()
    True
    """
    return state.enabled


def is_inference_mode_enabled() -> bool:
    """Return whether ``inference_mode`` is active in this thread.

    >>> with fluxion.inference_mode():
    ...     fluxion.is_inference_mode_enabled()
    True
    """
    return state.inference


def _wrap_generator(ctx_factory: Callable, func: Callable) -> Callable:
    """Run each step of the generator ``func`` returns inside a fresh context manager."""

    @functools.wraps(func)
    def generator_context(*args: Any, **kwargs: Any):
        gen = func(*args, **kwargs)
        try:
            with ctx_factory():
                response = gen.send(None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    with ctx_factory():
                        gen.close()
                    raise
                except BaseException:
                    with ctx_factory():
                        response = gen.throw(*sys.exc_info())
                else:
                    with ctx_factory():
                        response = gen.send(request)
        except StopIteration as e:
            return e.value

    return generator_context


class _DecoratorContextManager:
    """Base: a context manager that can also wrap a function (a fresh ``clone()`` per call)."""

    def __call__(self, orig_func: Callable) -> Callable:
        if inspect.isclass(orig_func):
            warnings.warn(
                "Decorating classes is deprecated and will be disabled in future versions. You "
                "should only decorate functions or methods. To preserve the current behavior of "
                "class decoration, you can directly decorate the `__init__` method and nothing "
                "else.",
                FutureWarning,
                stacklevel=2,
            )
            func = lambda *args, **kwargs: orig_func(*args, **kwargs)
        else:
            func = orig_func
        if inspect.isgeneratorfunction(func):
            return _wrap_generator(self.clone, func)

        @functools.wraps(func)
        def decorate_context(*args: Any, **kwargs: Any) -> Any:
            with self.clone():
                return func(*args, **kwargs)

        return decorate_context

    def clone(self):
        """Return a fresh copy of this context manager."""
        return type(self)()


class _NoParamDecoratorContextManager(_DecoratorContextManager):
    """Also decorate without parentheses: ``@no_grad`` is ``@no_grad()``."""

    def __new__(cls, orig_func: Callable | None = None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoParamDecoratorContextManager):
    """Disable graph recording inside the block or decorated function.

    Factory functions given ``requires_grad=True`` still create tensors that require grad.

    >>> x = fluxion.ones(2, requires_grad=True)
    >>> with fluxion.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    >>> @fluxion.no_grad
    ... def double(t):
    ...     return t * 2
    >>> double(x).requires_grad
    False
    """

    def __init__(self, orig_func: Callable | None = None) -> None:
        self.prev = False

    def __enter__(self) -> None:
        self.prev = state.enabled
        state.enabled = False

    def __exit__(self, *exc: Any) -> None:
        state.enabled = self.prev


class enable_grad(_NoParamDecoratorContextManager):
    """Enable graph recording inside the block, even within ``no_grad``.

    >>> x = fluxion.ones(2, requires_grad=True)
    >>> with fluxion.no_grad():
    ...     with fluxion.enable_grad():
    ...         y = x * 2
    >>> y.requires_grad
    True
    """

    def __init__(self, orig_func: Callable | None = None) -> None:
        self.prev = True

    def __enter__(self) -> None:
        self.prev = state.enabled
        state.enabled = True

    def __exit__(self, *exc: Any) -> None:
        state.enabled = self.prev


class set_grad_enabled(_DecoratorContextManager):
    """Set grad mode to ``mode``: at once when called, and for the block when used in ``with``.

    Args:
        mode: ``True`` to record graphs, ``False`` not to (a ``bool``, as PyTorch requires).

    >>> _ = fluxion.set_grad_enabled(False)
    >>> fluxion.is_grad_enabled()
    False
    >>> _ = fluxion.set_grad_enabled(True)
    >>> with fluxion.set_grad_enabled(False):
    ...     fluxion.is_grad_enabled()
    False
    """

    def __init__(self, mode: bool) -> None:
        if type(mode) is not bool:
            raise TypeError(
                "set_grad_enabled(): argument 'enabled' (position 1) must be bool, not "
                f"{type(mode).__name__}"
            )
        self.prev = state.enabled
        self.mode = mode
        state.enabled = mode  # PyTorch applies the mode at construction time

    def __call__(self, orig_func: Callable) -> Callable:
        state.enabled = self.prev  # decorator use must not change the mode at definition time
        return super().__call__(orig_func)

    def __enter__(self) -> None:
        state.enabled = self.mode

    def __exit__(self, *exc: Any) -> None:
        state.enabled = self.prev

    def __repr__(self) -> str:
        return f"fluxion.autograd.grad_mode.set_grad_enabled(mode={self.mode})"

    def clone(self) -> set_grad_enabled:
        """Return a fresh copy with the same mode (it applies the mode, like the original)."""
        return type(self)(self.mode)


class inference_mode(_DecoratorContextManager):
    """Disable graph recording (like ``no_grad``) and mark the block as inference.

    Args:
        mode: ``True`` (default) to enter inference mode, ``False`` to leave it (which, as in
            PyTorch, turns grad mode on). A function here decorates it with ``mode=True``.

    >>> with fluxion.inference_mode():
    ...     y = fluxion.ones(2, requires_grad=True) * 2
    >>> y.requires_grad
    False
    """

    def __new__(cls, mode: Any = True):
        if isinstance(mode, bool):
            return super().__new__(cls)
        return cls()(mode)

    def __init__(self, mode: bool = True) -> None:
        self.mode = mode

    def __enter__(self) -> None:
        self.prev = (state.enabled, state.inference)
        state.enabled = not self.mode
        state.inference = self.mode

    def __exit__(self, *exc: Any) -> None:
        state.enabled, state.inference = self.prev

    def clone(self) -> inference_mode:
        """Return a fresh copy with the same mode."""
        return type(self)(self.mode)
