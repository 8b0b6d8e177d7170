"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_`` (``torch.nn.utils``)."""

from __future__ import annotations

from collections.abc import Iterable

from ... import ops as _ops
from ...autograd import no_grad
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm"]


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def get_total_norm(
    tensors: Tensor | Iterable[Tensor],
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Return the ``norm_type`` norm of all ``tensors`` together (the norm of their norms).

    >>> get_total_norm([fluxion.tensor([3.0]), fluxion.tensor([4.0])])
    tensor(5.)
    """
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return _ops.tensor(0.0)
    with no_grad():
        norms = [_ops.norm(t, norm_type) for t in tensors]
        total = _ops.norm(_ops.stack(norms), norm_type)
    if error_if_nonfinite and bool(total.isnan() | total.isinf()):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
            "so it cannot be clipped. To disable this error and scale the gradients by the "
            "non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    return total


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Scale the gradients of ``parameters`` in place so that their total norm is <= max_norm.

    The total norm is computed over all gradients together, as if concatenated into one vector
    (``norm_type`` may be ``inf``). Returns the total norm before clipping.

    Args:
        parameters: A tensor or an iterable of tensors whose ``.grad`` is clipped.
        max_norm: The largest allowed total norm.
        norm_type: The p of the p-norm (``float("inf")`` for the max norm).
        error_if_nonfinite: Raise ``RuntimeError`` if the total norm is nan or inf.
        foreach: Accepted for PyTorch compatibility (fluxion has one implementation).

    Returns:
        The total norm of the gradients (a 0-d tensor).

    >>> w = fluxion.tensor([3.0, 4.0], requires_grad=True)
    >>> (w * w).sum().backward()
    >>> fluxion.nn.utils.clip_grad_norm_([w], max_norm=1.0)
    tensor(10.)
    >>> w.grad
    tensor([0.6000, 0.8000])
    """
    grads = _grads(parameters)
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    if not grads:
        return total
    with no_grad():
        clip_coef = float(max_norm) / (total + 1e-6)
        clip_coef = _ops.clamp(clip_coef, max=1.0)
        for g in grads:
            g.mul_(clip_coef.to(g.dtype))
    return total


def clip_grad_value_(
    parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None
) -> None:
    """Clamp the gradients of ``parameters`` in place to ``[-clip_value, clip_value]``.

    >>> w = fluxion.tensor([1.0, -5.0], requires_grad=True)
    >>> (w * w).sum().backward()
    >>> fluxion.nn.utils.clip_grad_value_(w, 3.0)
    >>> w.grad
    tensor([ 2., -3.])
    """
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g.clamp_(min=-clip_value, max=clip_value)
