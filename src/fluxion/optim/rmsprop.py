"""RMSprop: gradients scaled by a running root mean square (optionally centred, with momentum)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import fluxion

from .optimizer import Optimizer, _new_step, _value

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
        if isinstance(lr, fluxion.Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
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
        for group in self.param_groups:
            group.setdefault("momentum", 0)
            group.setdefault("centered", False)
            group.setdefault("foreach", None)
            group.setdefault("maximize", False)
            group.setdefault("differentiable", False)
            group.setdefault("capturable", False)
        self._tensorize_steps()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimisation step; return ``closure()``'s loss when given.

        Args:
            closure: Re-evaluates the model and returns the loss (run with grad enabled).
        """
        loss = self._closure_loss(closure)
        with fluxion.set_grad_enabled(self.defaults["differentiable"]):
            for group in self.param_groups:
                self._update_group(group)
        return loss

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
