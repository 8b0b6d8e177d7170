"""Thread-local grad mode: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode``.

Each class works as a context manager and as a decorator, and restores the previous state in
``__exit__`` even when an exception escapes.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable

__all__ = [
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
]


class _GradState(threading.local):
    enabled = True  # class attribute = per-thread default
    inference = False


state = _GradState()


def is_grad_enabled() -> bool:
    """Return whether operations record a graph in this thread.

    >>> fluxion.is_grad_enabled()
    True
    """
    return state.enabled


def is_inference_mode_enabled() -> bool:
    """Return whether ``inference_mode`` is active in this thread."""
    return state.inference


class _DecoratorContextManager:
    """Base: a context manager that can also wrap a function (as a fresh instance per call)."""

    def __call__(self, func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._clone():
                return func(*args, **kwargs)

        return wrapper

    def _clone(self):
        return type(self)()


class no_grad(_DecoratorContextManager):
    """Disable graph recording inside the block or decorated function.

    >>> x = fluxion.ones(2, requires_grad=True)
    >>> with fluxion.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    def __enter__(self) -> None:
        self.prev = state.enabled
        state.enabled = False

    def __exit__(self, *exc: Any) -> None:
        state.enabled = self.prev


class enable_grad(_DecoratorContextManager):
    """Enable graph recording inside the block, even within ``no_grad``.

    >>> x = fluxion.ones(2, requires_grad=True)
    >>> with fluxion.no_grad():
    ...     with fluxion.enable_grad():
    ...         y = x * 2
    >>> y.requires_grad
    True
    """

    def __enter__(self) -> None:
        self.prev = state.enabled
        state.enabled = True

    def __exit__(self, *exc: Any) -> None:
        state.enabled = self.prev


class set_grad_enabled(_DecoratorContextManager):
    """Set grad mode to ``mode``; takes effect immediately, and restores on exit when used in ``with``.

    >>> _ = fluxion.set_grad_enabled(False)
    >>> fluxion.is_grad_enabled()
    False
    >>> _ = fluxion.set_grad_enabled(True)
    """

    def __init__(self, mode: bool) -> None:
        self.prev = state.enabled
        self.mode = bool(mode)
        state.enabled = self.mode  # PyTorch applies the mode at construction time

    def __enter__(self) -> None:
        state.enabled = self.mode

    def __exit__(self, *exc: Any) -> None:
        state.enabled = self.prev

    def _clone(self):
        return set_grad_enabled(self.mode)

    def __call__(self, func: Callable) -> Callable:
        state.enabled = self.prev  # decorator use must not change the mode at definition time
        return super().__call__(func)


class inference_mode(_DecoratorContextManager):
    """Disable graph recording and mark the tensors created inside as inference tensors.

    >>> with fluxion.inference_mode():
    ...     y = fluxion.ones(2, requires_grad=True) * 2
    >>> y.requires_grad
    False
    """

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)

    def __enter__(self) -> None:
        self.prev = (state.enabled, state.inference)
        if self.mode:
            state.enabled = False
            state.inference = True

    def __exit__(self, *exc: Any) -> None:
        state.enabled, state.inference = self.prev

    def _clone(self):
        return inference_mode(self.mode)
