"""RMSprop: gradients scaled by a running root mean square (optionally centred, with momentum)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import fluxion

from .optimizer import Optimizer, _check_lr, _check_non_negative, _new_step, _value

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """Implement RMSprop, as ``torch.optim.RMSprop``.

    Per step: ``v = alpha * v + (1 - alpha) * g * g``; centred: ``a = lerp(a, g, 1 - alpha)``
    and ``v~ = v - a * a``; ``d = sqrt(v~) + eps``; with momentum ``b = momentum * b + g / d``
    and ``p -= lr * b``, else ``p -= lr * g / d``.

    Args:
        params: Tensors to optimise, or param-group dicts.
        lr: Learning rate (default 1e-2).
        alpha: Smoothing constant (default 0.99).
        eps: Added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty (default 0).
        momentum: Momentum factor (default 0).
        centered: Normalise by an estimate of the gradient's variance.
        capturable: Accepted for PyTorch compatibility.
        foreach: Accepted for PyTorch compatibility (one code path here).
        maximize: Maximise the objective instead of minimising it.
        differentiable: Run the step with grad mode on (autograd through the step).

    >>> w = fluxion.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = fluxion.optim.RMSprop([w], lr=0.01)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_lr(lr)
        _check_non_negative(
            ("learning rate", lr),
            ("epsilon value", eps),
            ("momentum value", momentum),
            ("weight_decay value", weight_decay),
            ("alpha value", alpha),
        )
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "capturable": capturable,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._set_group_defaults(
            momentum=0,
            centered=False,
            foreach=None,
            maximize=False,
            differentiable=False,
            capturable=False,
        )
        self._tensorize_steps()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimisation step; return ``closure()``'s loss when given."""
        return self._step_groups(closure)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = _value(group["lr"])
        alpha = group["alpha"]
        eps = group["eps"]
        weight_decay = group["weight_decay"]
        momentum = group["momentum"]
        centered = group["centered"]
        maximize = group["maximize"]
        one_minus_alpha = 1 - alpha
        state = self.state
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            p_state = state[p]
            if len(p_state) == 0:
                p_state["step"] = _new_step()
                p_state["square_avg"] = fluxion.zeros_like(p)
                if momentum > 0:
                    p_state["momentum_buffer"] = fluxion.zeros_like(p)
                if centered:
                    p_state["grad_avg"] = fluxion.zeros_like(p)
            if maximize:
                grad = -grad
            p_state["step"] += 1
            if weight_decay != 0:
                grad = grad.add(p, alpha=weight_decay)
            square_avg = p_state["square_avg"]
            square_avg.mul_(alpha).addcmul_(grad, grad, value=one_minus_alpha)
            if centered:
                grad_avg = p_state["grad_avg"]
                grad_avg.lerp_(grad, one_minus_alpha)
                avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
            else:
                avg = square_avg.sqrt()
            avg.add_(eps)
            if momentum > 0:
                buf = p_state["momentum_buffer"]
                buf.mul_(momentum).addcdiv_(grad, avg)
                p.add_(buf, alpha=-lr)
            else:
                p.addcdiv_(grad, avg, value=-lr)
