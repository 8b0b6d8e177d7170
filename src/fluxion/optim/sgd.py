"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .optimizer import Optimizer, _check_fused, _check_lr, _value

__all__ = ["SGD"]


class SGD(Optimizer):
    """Implement stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``.

    With ``g`` the gradient (negated when ``maximize``), each step computes
    ``g += weight_decay * p``; with momentum ``b = g`` on the first step, then
    ``b = momentum * b + (1 - dampening) * g``, and ``g = g + momentum * b`` (Nesterov) or
    ``g = b``; finally ``p -= lr * g``.

    Args:
        params: Tensors to optimise, or param-group dicts.
        lr: Learning rate (default 1e-3).
        momentum: Momentum factor (default 0).
        dampening: Dampening for momentum (default 0).
        weight_decay: L2 penalty (default 0).
        nesterov: Use Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
        maximize: Maximise the objective instead of minimising it.
        foreach: Accepted for PyTorch compatibility (one code path here).
        differentiable: Run the step with grad mode on (autograd through the step).
        fused: Accepted for PyTorch compatibility (one code path here).

    >>> w = fluxion.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = fluxion.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.zero_grad()
    ...     (w * w).sum().backward()
    ...     opt.step()
    >>> w
    tensor([ 0.4600, -0.9200], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        _check_lr(lr)
        # ``< 0.0`` rather than ``not 0.0 <=``, as PyTorch's SGD: a NaN lr is accepted here
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "differentiable": differentiable,
            "fused": fused,
        }
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)
        _check_fused(fused, differentiable, foreach)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._set_group_defaults(
            nesterov=False, maximize=False, foreach=None, differentiable=False, fused=False
        )

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimisation step; return ``closure()``'s loss when given."""
        return self._step_groups(closure)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = _value(group["lr"])
        weight_decay = group["weight_decay"]
        momentum = group["momentum"]
        dampening = group["dampening"]
        nesterov = group["nesterov"]
        maximize = group["maximize"]
        state = self.state
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            if maximize:
                grad = -grad
            if weight_decay != 0:
                grad = grad.add(p, alpha=weight_decay)
            if momentum != 0:
                p_state = state[p]
                buf = p_state.get("momentum_buffer")
                if buf is None:
                    buf = p_state["momentum_buffer"] = grad.detach().clone()
                else:
                    buf.mul_(momentum).add_(grad, alpha=1 - dampening)
                grad = grad.add(buf, alpha=momentum) if nesterov else buf
            p.add_(grad, alpha=-lr)
