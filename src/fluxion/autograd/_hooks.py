"""Hook plumbing for the engine: removable handles and the tensor / node hook runners."""

from __future__ import annotations

__all__ = ["RemovableHandle", "run_tensor_hooks", "run_post_hooks"]


class RemovableHandle:
    """Returned by ``register_hook``-style methods; ``remove()`` unregisters the hook."""

    __slots__ = ("_list", "_fn")

    def __init__(self, lst: list, fn) -> None:
        self._list, self._fn = lst, fn

    def remove(self) -> None:
        if self._fn in self._list:
            self._list.remove(self._fn)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def _hook_name(hook) -> str:
    return getattr(hook, "__name__", type(hook).__name__)


def run_tensor_hooks(node, buf: list) -> None:
    """Apply hooks registered on tensors, then store retained grads (PyTorch's order)."""
    if node._tensor_hooks is not None:
        for nr, hooks in node._tensor_hooks.items():
            for hook in list(hooks):
                g = buf[nr]
                if g is not None:
                    new = hook(g)
                    if new is not None:
                        if new.shape != g.shape:
                            raise RuntimeError(
                                f"hook '{_hook_name(hook)}' has changed the size of value"
                            )
                        buf[nr] = new
    if node._retain is not None:
        for nr, ref in node._retain.items():
            t = ref()
            if t is not None and buf[nr] is not None:
                t.grad = buf[nr].clone() if t.grad is None else t.grad + buf[nr]


def run_post_hooks(node, in_grads, buf: list):
    for hook in node._post_hooks:
        new = hook(tuple(in_grads), tuple(buf))
        if new is not None:
            new = tuple(new) if isinstance(new, (tuple, list)) else (new,)
            if len(new) != len(in_grads):
                raise RuntimeError(
                    f"hook '{_hook_name(hook)}' has returned an incorrect number of values "
                    f"(got {len(new)}, but expected {len(in_grads)})"
                )
            in_grads = new
    return in_grads
