"""Public autograd API: ``backward``, ``grad``, grad-mode managers, ``Function``, gradcheck."""

from __future__ import annotations

import warnings

from .engine import run_backward
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .variable import Variable

__all__ = [
    "backward",
    "grad",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "gradcheck",
    "gradgradcheck",
    "GradcheckError",
    "Function",
    "FunctionCtx",
    "once_differentiable",
    "Variable",
]


def _deprecated(old: str, new: str) -> None:
    warnings.warn(f"`{old}` is deprecated. Use `{new}` instead.", FutureWarning, stacklevel=3)


def _as_tuple(x) -> tuple:
    if x is None:
        return ()
    from ..tensor import Tensor

    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def _make_grads(outputs: tuple, grads: tuple, create_graph: bool) -> list:
    from ..creation import ones_like
    from ..tensor import Tensor

    out = []
    for i, (t, g) in enumerate(zip(outputs, grads)):
        if g is None:
            if t.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if not t.is_floating_point():
                raise RuntimeError(
                    f"grad can be implicitly created only for real scalar outputs but got {t.dtype}"
                )
            g = ones_like(t)
        elif not isinstance(g, Tensor):
            from ..creation import tensor

            g = tensor(g, dtype=t.dtype)
        elif g.shape != t.shape:
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] "
                f"has a shape of {t.shape}."
            )
        if not create_graph and g.requires_grad:
            g = g.detach()
        out.append(g)
    return out


def _check_outputs(outputs: tuple) -> None:
    for i, t in enumerate(outputs):
        if not t.requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )


def backward(
    tensors,
    grad_tensors=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    grad_variables=None,
    inputs=None,
    *,
    retain_variables: bool | None = None,
) -> None:
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the leaves of their graph.

    Args:
        tensors: Tensor or sequence of tensors to differentiate.
        grad_tensors: The vectors of the vector-Jacobian products (``None`` for scalars).
            ``grad_variables`` is the legacy name.
        retain_graph: Keep the graph for another backward (default: ``create_graph``).
            ``retain_variables`` is the legacy name.
        create_graph: Record the backward pass, for higher-order derivatives.
        inputs: Accumulate only into these tensors.

    >>> x = fluxion.tensor([1.0, 2.0], requires_grad=True)
    >>> fluxion.autograd.backward([(x * x).sum()])
    >>> x.grad
    tensor([2., 4.])
    """
    if grad_variables is not None:
        _deprecated("grad_variables", "grad_tensors")
        grad_tensors = grad_variables
    if retain_variables is not None:
        _deprecated("retain_variables", "retain_graph")
        retain_graph = retain_variables
    outputs = _as_tuple(tensors)
    grads = _as_tuple(grad_tensors) if grad_tensors is not None else (None,) * len(outputs)
    if len(grads) != len(outputs):
        raise RuntimeError(f"got {len(outputs)} tensors and {len(grads)} gradients")
    _check_outputs(outputs)
    if retain_graph is None:
        retain_graph = create_graph
    inputs_t = _as_tuple(inputs) if inputs is not None else None
    if inputs is not None and len(inputs_t) == 0:
        raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    for t in inputs_t or ():
        if t.grad_fn is not None:
            t.retain_grad()  # a non-leaf input gets its .grad as PyTorch does: it retains grad
    grads = _make_grads(outputs, grads, create_graph)
    run_backward(outputs, grads, retain_graph, create_graph, inputs_t, accumulate=True)


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    only_inputs: bool = True,
    allow_unused: bool | None = None,
    is_grads_batched: bool = False,
    materialize_grads: bool = False,
) -> tuple:
    """Return the gradients of ``outputs`` with respect to ``inputs`` (no ``.grad`` is touched).

    >>> x = fluxion.tensor(3.0, requires_grad=True)
    >>> (g,) = fluxion.autograd.grad(x ** 3, x, create_graph=True)
    >>> g, fluxion.autograd.grad(g, x)[0]
    (tensor(27., grad_fn=<MulBackward0>), tensor(18.))
    """
    outputs_t = _as_tuple(outputs)
    inputs_t = _as_tuple(inputs)
    if not inputs_t:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    if materialize_grads and allow_unused is False:
        raise ValueError(
            "Expected allow_unused to be True or not passed when materialize_grads=True, "
            "but got: allow_unused=False."
        )
    if is_grads_batched:
        raise NotImplementedError(
            "grad: is_grads_batched=True is not supported; call grad once per grad_outputs row"
        )
    if allow_unused is None:
        allow_unused = materialize_grads
    grads = _as_tuple(grad_outputs) if grad_outputs is not None else (None,) * len(outputs_t)
    if len(grads) != len(outputs_t):
        raise RuntimeError(f"got {len(outputs_t)} tensors and {len(grads)} gradients")
    _check_outputs(outputs_t)
    for t in inputs_t:
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    captured = run_backward(
        outputs_t,
        _make_grads(outputs_t, grads, create_graph),
        retain_graph,
        create_graph,
        inputs_t,
        accumulate=False,
    )
    result = []
    for i, (t, g) in enumerate(zip(inputs_t, captured)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"The differentiated Tensor at index {i} appears to not have been used in the "
                    "graph. Set allow_unused=True if this is the desired behavior."
                )
            if materialize_grads:
                from ..creation import zeros_like

                g = zeros_like(t)
        result.append(g)
    return tuple(result)
