"""Adam and AdamW (decoupled weight decay), both with the AMSGrad variant."""

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
    _to_scalar,
    _value,
)

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Implement Adam, as ``torch.optim.Adam`` (``decoupled_weight_decay=True`` gives AdamW).

    Per step ``t``: ``m = lerp(m, g, 1 - beta1)``, ``v = beta2 * v + (1 - beta2) * g * g``,
    ``p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``, where ``v`` is
    replaced by its running maximum under ``amsgrad``. Weight decay adds
    ``weight_decay * p`` to ``g`` (L2), or multiplies ``p`` by ``1 - lr * weight_decay``
    first when decoupled.

    Args:
        params: Tensors to optimise, or param-group dicts.
        lr: Learning rate (default 1e-3).
        betas: Decay rates of the first and second moment estimates (default (0.9, 0.999)).
        eps: Added to the denominator for numerical stability (default 1e-8).
        weight_decay: Weight decay coefficient (default 0).
        amsgrad: Use the AMSGrad variant (the running maximum of the second moment).
        foreach: Accepted for PyTorch compatibility (one code path here).
        maximize: Maximise the objective instead of minimising it.
        capturable: Accepted for PyTorch compatibility.
        differentiable: Run the step with grad mode on (autograd through the step).
        fused: Accepted for PyTorch compatibility (one code path here).
        decoupled_weight_decay: Decay the weights directly (AdamW) instead of through ``g``.

    >>> w = fluxion.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = fluxion.optim.Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        Tensor = fluxion.Tensor
        if isinstance(lr, Tensor) and foreach and not capturable:
            raise ValueError(
                "lr as a Tensor is not supported for capturable=False and foreach=True"
            )
        _check_lr(lr)
        _check_non_negative(("learning rate", lr), ("epsilon value", eps))
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        _check_non_negative(("weight_decay value", weight_decay))
        both_floats = isinstance(betas[0], float) and isinstance(betas[1], float)
        both_tensors = isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor)
        if not (both_floats or both_tensors):
            raise ValueError("betas must be either both floats or both Tensors")
        for i in (0, 1):
            if isinstance(betas[i], Tensor):
                if not capturable and foreach:
                    raise ValueError(
                        f"betas[{i}] as a Tensor is not supported for capturable=False and "
                        "foreach=True"
                    )
                if betas[i].numel() != 1:
                    raise ValueError(f"Tensor betas[{i}] must be 1-element")
        defaults = {
            "lr": lr,
            "betas": tuple(_to_scalar(b) for b in betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)
        _check_fused(fused, differentiable, foreach)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._set_group_defaults(
            amsgrad=False,
            maximize=False,
            foreach=None,
            capturable=False,
            differentiable=False,
            decoupled_weight_decay=False,
            fused=None,
        )
        self._tensorize_steps()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimisation step; return ``closure()``'s loss when given."""
        return self._step_groups(closure)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = _value(group["lr"])
        beta1, beta2 = (_value(b) for b in group["betas"])
        eps = group["eps"]
        weight_decay = group["weight_decay"]
        amsgrad = group["amsgrad"]
        maximize = group["maximize"]
        decoupled = group["decoupled_weight_decay"]
        one_minus_beta1, one_minus_beta2 = 1 - beta1, 1 - beta2
        state = self.state
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            p_state = state[p]
            if len(p_state) == 0:
                p_state["step"] = _new_step()
                p_state["exp_avg"] = fluxion.zeros_like(p)
                p_state["exp_avg_sq"] = fluxion.zeros_like(p)
                if amsgrad:
                    p_state["max_exp_avg_sq"] = fluxion.zeros_like(p)
            step_t = p_state["step"]
            exp_avg = p_state["exp_avg"]
            exp_avg_sq = p_state["exp_avg_sq"]
            if maximize:
                grad = -grad
            step_t += 1
            if weight_decay != 0:
                if decoupled:
                    p.mul_(1 - lr * weight_decay)
                else:
                    grad = grad.add(p, alpha=weight_decay)
            exp_avg.lerp_(grad, one_minus_beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=one_minus_beta2)

            step = step_t.item()
            bias_correction1 = 1 - beta1**step
            bias_correction2_sqrt = (1 - beta2**step) ** 0.5
            step_size = lr / bias_correction1
            if amsgrad:
                max_sq = p_state["max_exp_avg_sq"]
                max_sq.copy_(fluxion.maximum(max_sq, exp_avg_sq))
                denom = max_sq.sqrt().div_(bias_correction2_sqrt).add_(eps)
            else:
                # in place on the fresh sqrt: one temporary fewer, the same roundings
                denom = exp_avg_sq.sqrt().div_(bias_correction2_sqrt).add_(eps)
            p.addcdiv_(exp_avg, denom, value=-step_size)


class AdamW(Adam):
    """Implement AdamW: Adam with decoupled weight decay, as ``torch.optim.AdamW``.

    Each step first multiplies the parameters by ``1 - lr * weight_decay``, then takes an Adam
    step without weight decay. Arguments as :class:`Adam`, with ``weight_decay`` 1e-2.

    >>> w = fluxion.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = fluxion.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([ 0.8500, -1.8000], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
