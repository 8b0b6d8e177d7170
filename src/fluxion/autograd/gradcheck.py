"""Check analytical gradients against central finite differences, as ``torch.autograd`` does.

``gradcheck`` compares the Jacobian built from backward passes (one vector-Jacobian product per
output element) with the one built from central differences ``(f(x + eps) - f(x - eps)) / 2eps``
computed in float64. ``gradgradcheck`` runs the same check on the function that returns the
first-order gradients (built with ``create_graph=True``), so it tests double backward.

Everything here is deliberately simple and slow (the "slow mode" of PyTorch): it is a test tool.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["GradcheckError", "numerical_jacobian", "gradcheck", "gradgradcheck"]


class GradcheckError(RuntimeError):
    """Raised by :func:`gradcheck` and :func:`gradgradcheck` when a check fails."""


def _tensor_cls():
    from ..tensor import Tensor

    return Tensor


def _as_tuple(x) -> tuple:
    if isinstance(x, (tuple, list)):
        return tuple(x)
    return (x,)


def _diff_inputs(inputs: tuple) -> list[int]:
    """Return the positions of the inputs that are tensors requiring grad."""
    Tensor = _tensor_cls()
    return [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]


def _float_outputs(out) -> list:
    Tensor = _tensor_cls()
    outs = _as_tuple(out)
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(
                f"gradcheck: the function must return a Tensor or a sequence of Tensors, "
                f"got an element of type {type(o).__name__}"
            )
    return [o for o in outs if o._data.dtype.kind == "f"]


def _eval(func: Callable, inputs: tuple, which: list[int]) -> list[np.ndarray]:
    """Run ``func`` and return float64 copies of the float outputs at positions ``which``."""
    outs = _float_outputs(func(*inputs))
    return [np.array(outs[j]._data, dtype=np.float64, copy=True) for j in which]


def _numerical(func: Callable, inputs: tuple, which: list[int], eps: float) -> list[list]:
    """Central-difference Jacobians: ``jac[i][j]`` has shape (inputs[i].numel(), out[j].numel())."""
    base = _eval(func, inputs, which)
    jacs = []
    for i in _diff_inputs(inputs):
        t = inputs[i]
        original = t._data
        arr = original if original.flags.writeable else original.copy()
        t._data = arr
        rows = [np.zeros((arr.size, b.size)) for b in base]
        try:
            for k, idx in enumerate(np.ndindex(arr.shape)):
                orig = arr[idx].copy()
                arr[idx] = orig - eps
                minus = _eval(func, inputs, which)
                arr[idx] = orig + eps
                plus = _eval(func, inputs, which)
                arr[idx] = orig
                for j, (p, m) in enumerate(zip(plus, minus)):
                    rows[j][k] = ((p - m) / (2 * eps)).ravel()
        finally:
            t._data = original
        jacs.append(rows)
    return jacs


def numerical_jacobian(func: Callable, inputs, eps: float = 1e-6) -> tuple:
    """Estimate the Jacobians of ``func`` at ``inputs`` by central differences in float64.

    Each input tensor that requires grad is perturbed in place, one element at a time, by
    ``+eps`` and ``-eps``; the other inputs are constants.

    Args:
        func: Function of ``*inputs`` returning a tensor or a sequence of tensors.
        inputs: A tensor or a sequence of arguments.
        eps: Perturbation size.

    Returns:
        ``jac[i][j]``: a float64 tensor of shape ``(inputs[i].numel(), outputs[j].numel())`` for
        the ``i``-th input that requires grad and the ``j``-th floating-point output.

    >>> x = fluxion.tensor([1.0, 2.0], dtype=fluxion.float64, requires_grad=True)
    >>> from fluxion.autograd.gradcheck import numerical_jacobian
    >>> numerical_jacobian(lambda t: t * t, x)[0][0].round(decimals=6)
    tensor([[2., 0.],
            [0., 4.]], dtype=fluxion.float64)
    """
    from ..tensor import _wrap

    inputs = _as_tuple(inputs)
    n_out = len(_float_outputs(func(*inputs)))
    jacs = _numerical(func, inputs, list(range(n_out)), eps)
    return tuple(tuple(_wrap(j) for j in row) for row in jacs)


def _vjp(output, diff: list, onehot: np.ndarray) -> list:
    from ..tensor import _wrap
    from . import grad as _grad

    return list(_grad(output, diff, _wrap(onehot), retain_graph=True, allow_unused=True))


def _analytical(
    output, inputs: tuple, diff_idx: list[int], nondet_tol: float, check_grad_dtypes: bool
) -> list[np.ndarray]:
    """Jacobians of one output from backward passes: ``jac[i]`` is (inputs[i].numel(), n_out)."""
    diff = [inputs[i] for i in diff_idx]
    n = output._data.size
    jacs = [np.zeros((t._data.size, n)) for t in diff]
    for k in range(n):
        onehot = np.zeros(output._data.shape, dtype=output._data.dtype)
        onehot.reshape(-1)[k] = 1
        grads = _vjp(output, diff, onehot)
        again = _vjp(output, diff, onehot)
        for i, (t, g, g2) in enumerate(zip(diff, grads, again)):
            if g is None:
                continue
            if tuple(g.shape) != tuple(t.shape):
                raise GradcheckError(
                    f"Gradient has incorrect size: input {diff_idx[i]} has shape "
                    f"{tuple(t.shape)} but its gradient has shape {tuple(g.shape)}"
                )
            if check_grad_dtypes and g.dtype is not t.dtype:
                raise GradcheckError(
                    f"Gradient has dtype mismatch: input {diff_idx[i]} is {t.dtype} but its "
                    f"gradient is {g.dtype}"
                )
            col = np.asarray(g._data, dtype=np.float64).ravel()
            if g2 is None or np.max(np.abs(col - np.asarray(g2._data).ravel()), initial=0.0) > (
                nondet_tol
            ):
                raise GradcheckError(
                    "Backward is not reentrant, i.e., running backward with same input and "
                    "grad_output multiple times gives different values, although analytical "
                    f"gradient matches numerical gradient. The tolerance for nondeterminism was "
                    f"{nondet_tol}."
                )
            jacs[i][:, k] = col
    return jacs


def _fail(msg: str, raise_exception: bool) -> bool:
    if raise_exception:
        raise GradcheckError(msg)
    return False


def _fmt(jac: np.ndarray) -> str:
    from ..tensor import _wrap

    return repr(_wrap(jac))


def gradcheck(
    func: Callable,
    inputs,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_backward_ad: bool = True,
    fast_mode: bool = False,
) -> bool:
    """Check the gradients of ``func`` at ``inputs`` against central finite differences.

    Every tensor in ``inputs`` that requires grad is checked, with respect to every floating
    output that requires grad. The check passes where
    ``|analytical - numerical| <= atol + rtol * |numerical|`` elementwise. Use float64 inputs:
    in float32 the finite differences are too noisy for the default tolerances.

    Args:
        func: Function of ``*inputs`` returning a tensor or a sequence of tensors.
        inputs: A tensor or a sequence of arguments (non-tensors are passed through).
        eps: Finite-difference step.
        atol: Absolute tolerance.
        rtol: Relative tolerance.
        raise_exception: Raise :class:`GradcheckError` on failure (otherwise return False).
        nondet_tol: Allowed difference between two backward passes with the same grad_output.
        check_undefined_grad: Accepted for PyTorch compatibility (no effect).
        check_grad_dtypes: Also require each gradient to have its input's dtype.
        check_batched_grad: Accepted for PyTorch compatibility; ``True`` is not supported.
        check_backward_ad: Accepted for PyTorch compatibility (backward is always checked).
        fast_mode: Accepted for PyTorch compatibility; the full Jacobian is always compared.

    Returns:
        True when every Jacobian matches.

    Raises:
        GradcheckError: when a Jacobian does not match (with both Jacobians in the message).

    >>> x = fluxion.tensor([0.5, 1.5], dtype=fluxion.float64, requires_grad=True)
    >>> fluxion.autograd.gradcheck(lambda t: (t * t).sin(), (x,))
    True
    """
    if check_batched_grad:
        raise NotImplementedError("gradcheck: check_batched_grad=True is not supported")
    inputs = _as_tuple(inputs)
    diff_idx = _diff_inputs(inputs)
    if not diff_idx:
        raise ValueError(
            "gradcheck expects at least one input tensor to require gradient, but none of the "
            "them have requires_grad=True."
        )
    for i in diff_idx:
        if inputs[i]._data.dtype != np.float64:
            warnings.warn(
                f"Input #{i} requires gradient and is not a double precision floating point. "
                "This check will likely fail if all the inputs are not of double precision "
                "floating point.",
                stacklevel=2,
            )
    outs = _float_outputs(func(*inputs))
    which = [j for j, o in enumerate(outs) if o.requires_grad]
    if not which:  # nothing is differentiable: the function must then be locally constant
        numerical = _numerical(func, inputs, list(range(len(outs))), eps)
        for i, rows in zip(diff_idx, numerical):
            for j, num in enumerate(rows):
                if not np.allclose(num, 0.0, rtol=rtol, atol=atol):
                    return _fail(
                        f"Numerical gradient for function expected to be zero for output {j} "
                        f"with respect to input {i},\nnumerical:{_fmt(num)}\n",
                        raise_exception,
                    )
        return True
    numerical = _numerical(func, inputs, which, eps)
    for jpos, j in enumerate(which):
        analytical = _analytical(outs[j], inputs, diff_idx, nondet_tol, check_grad_dtypes)
        for ipos, i in enumerate(diff_idx):
            num, ana = numerical[ipos][jpos], analytical[ipos]
            if not np.allclose(ana, num, rtol=rtol, atol=atol):
                return _fail(
                    f"Jacobian mismatch for output {j} with respect to input {i},\n"
                    f"numerical:{_fmt(num)}\nanalytical:{_fmt(ana)}\n",
                    raise_exception,
                )
    return True


def _random_like(t, noncontiguous: bool, rng: np.random.Generator):
    from ..tensor import _wrap

    values = rng.uniform(-1.0, 1.0, size=tuple(t.shape)).astype(t._data.dtype)
    if noncontiguous:  # same values, every other element of a wider buffer
        wide = np.empty(values.shape + (2,), dtype=values.dtype)
        wide[..., 0] = values
        values = wide[..., 0]
    return _wrap(values).requires_grad_(True)


def gradgradcheck(
    func: Callable,
    inputs,
    grad_outputs: Sequence | None = None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    gen_non_contig_grad_outputs: bool = False,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_rev_over_rev: bool = True,
    fast_mode: bool = False,
) -> bool:
    """Check second derivatives of ``func``: gradcheck of its VJP built with ``create_graph``.

    The checked function maps ``(*inputs, *grad_outputs)`` to the gradients of ``func``'s
    outputs with respect to ``inputs`` (``fluxion.autograd.grad(..., create_graph=True)``), so
    its Jacobian holds the second derivatives (and the first ones, w.r.t. ``grad_outputs``).

    Args:
        func: Function of ``*inputs`` returning a tensor or a sequence of tensors.
        inputs: A tensor or a sequence of arguments.
        grad_outputs: The vectors of the VJP, one per differentiable output; when ``None``,
            random ones in [-1, 1] (from a fixed seed) that require grad.
        gen_non_contig_grad_outputs: Make the random ``grad_outputs`` non-contiguous.
        eps, atol, rtol, raise_exception, nondet_tol, check_grad_dtypes: as in :func:`gradcheck`.
        check_undefined_grad, check_batched_grad, check_rev_over_rev, fast_mode: accepted for
            PyTorch compatibility, as in :func:`gradcheck`.

    Returns:
        True when every Jacobian matches.

    >>> x = fluxion.tensor([0.5, 1.5], dtype=fluxion.float64, requires_grad=True)
    >>> fluxion.autograd.gradgradcheck(lambda t: t.exp() * t, (x,))
    True
    """
    from . import grad as _grad

    inputs = _as_tuple(inputs)
    n_in = len(inputs)
    diff_idx = _diff_inputs(inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        outs = [o for o in _float_outputs(func(*inputs)) if o.requires_grad]
        grad_outputs = tuple(_random_like(o, gen_non_contig_grad_outputs, rng) for o in outs)
    else:
        grad_outputs = _as_tuple(grad_outputs)

    def vjp(*args):
        ins, gos = args[:n_in], args[n_in:]
        outs = [o for o in _float_outputs(func(*ins)) if o.requires_grad]
        diff = [ins[i] for i in diff_idx]
        grads = _grad(outs, diff, gos, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(
        vjp,
        inputs + grad_outputs,
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
        nondet_tol=nondet_tol,
        check_grad_dtypes=check_grad_dtypes,
    )
