"""Adagrad: per-coordinate learning rates from the accumulated squared gradients."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import fluxion

from .optimizer import (
    Optimizer,
    _check_fused,
    _check_lr,
    _check_non_negative,
    _new_step,
    _value,
)

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Implement Adagrad, as ``torch.optim.Adagrad``.

    Per step ``t``: ``s += g * g`` and ``p -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) +
    eps)``, with ``s`` starting at ``initial_accumulator_value``.

    Args:
        params: Tensors to optimise, or param-group dicts.
        lr: Learning rate (default 1e-2).
        lr_decay: Learning-rate decay (default 0).
        weight_decay: L2 penalty (default 0).
        initial_accumulator_value: Start value of the sum of squared gradients (default 0).
        eps: Added to the denominator for numerical stability (default 1e-10).
        foreach: Accepted for PyTorch compatibility (one code path here).
        maximize: Maximise the objective instead of minimising it.
        differentiable: Run the step with grad mode on (autograd through the step).
        fused: Accepted for PyTorch compatibility (one code path here).

    >>> w = fluxion.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = fluxion.optim.Adagrad([w], lr=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([ 0.5000, -1.5000], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        _check_lr(lr)
        _check_non_negative(
            ("learning rate", lr),
            ("lr_decay value", lr_decay),
            ("weight_decay value", weight_decay),
            ("initial_accumulator_value value", initial_accumulator_value),
            ("epsilon value", eps),
        )
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)
        _check_fused(fused, differentiable, foreach)
        # NOTE: unlike the other optimisers, Adagrad's state exists from construction (as in
        # PyTorch), so a state dict saved before the first step already holds "sum".
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p)

    def _init_state(self, p: fluxion.Tensor) -> dict:
        p_state = self.state[p]
        p_state["step"] = _new_step()
        p_state["sum"] = fluxion.full_like(p, self.defaults["initial_accumulator_value"])
        return p_state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._set_group_defaults(foreach=None, maximize=False, differentiable=False, fused=None)
        self._tensorize_steps()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimisation step; return ``closure()``'s loss when given."""
        return self._step_groups(closure)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = _value(group["lr"])
        lr_decay = group["lr_decay"]
        eps = group["eps"]
        weight_decay = group["weight_decay"]
        maximize = group["maximize"]
        state = self.state
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            p_state = state[p]
            if len(p_state) == 0:  # a parameter added by add_param_group
                p_state = self._init_state(p)
            step_t = p_state["step"]
            step_t += 1
            step = step_t.item()
            if maximize:
                grad = -grad
            if weight_decay != 0:
                grad = grad.add(p, alpha=weight_decay)
            clr = lr / (1 + (step - 1) * lr_decay)
            state_sum = p_state["sum"]
            state_sum.addcmul_(grad, grad, value=1)
            std = state_sum.sqrt().add_(eps)
            p.addcdiv_(grad, std, value=-clr)
