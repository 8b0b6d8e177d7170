"""Run one ``nn`` layer in torch and in fluxion on the same weights and inputs; compare.

Shared by ``test_layers.py`` and ``test_losses.py``. A case is a constructor
``ctor(nn, T)`` (``nn`` is ``torch.nn`` or ``fluxion.nn``; ``T(values)`` makes a float tensor of
that library, for weight arguments) and the NumPy inputs of one forward call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

import fluxion
from fluxion.testing import assert_close

try:
    import torch
except ImportError:  # pragma: no cover - the test modules skip without torch
    torch = None

DTYPES = ("float32", "float64")
TOL = {"float32": {"rtol": 1e-5, "atol": 1e-5}, "float64": {"rtol": 1e-10, "atol": 1e-10}}


def to_numpy(t) -> np.ndarray:
    return np.asarray(t.detach().numpy())


def lib_tensor(lib, arr, dtype: str, requires_grad: bool = False):
    """``arr`` as a ``lib`` tensor; floating arrays are cast to ``dtype``."""
    arr = np.asarray(arr)
    if arr.dtype.kind == "f":
        arr = arr.astype(dtype)
    t = lib.from_numpy(np.array(arr, order="C", copy=True))  # keeps 0-d arrays 0-d
    if requires_grad:
        t.requires_grad_(True)
    return t


def maker(lib, dtype: str) -> Callable:
    """``T(values)``: a float tensor of ``lib`` in ``dtype``, for weight arguments of layers."""
    return lambda values: lib_tensor(lib, np.asarray(values, dtype=np.float64), dtype)


def build(ctor: Callable, dtype: str = "float32"):
    """The torch module and the fluxion module of one constructor, fluxion's weights = torch's."""
    tmod = ctor(torch.nn, maker(torch, dtype))
    fmod = ctor(fluxion.nn, maker(fluxion, dtype))
    tmod.to(getattr(torch, dtype))
    fmod.to(getattr(fluxion, dtype))
    sync(tmod, fmod)
    return tmod, fmod


def sync(tmod, fmod) -> None:
    """Copy every parameter and buffer of ``tmod`` into the same-named tensor of ``fmod``."""
    targets = dict(fmod.named_parameters())
    targets.update(fmod.named_buffers())
    tstate = tmod.state_dict()
    assert sorted(targets) == sorted(tstate), (sorted(targets), sorted(tstate))
    with fluxion.no_grad():
        for name, value in tstate.items():
            targets[name].copy_(fluxion.from_numpy(to_numpy(value).copy()))


def _outputs(out) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def compare(
    ctor: Callable,
    arrays: Sequence[np.ndarray],
    dtype: str,
    *,
    train: bool = True,
    grad: Sequence[bool] | None = None,
    seed: int = 0,
    forward_kwargs: dict | None = None,
    tol: dict | None = None,
) -> None:
    """Forward and backward through the torch layer and the fluxion layer; assert they agree.

    Compares the outputs, the gradients of the inputs listed in ``grad`` (default: every
    floating input) and of every parameter, and the parameters and buffers after the call
    (layers that update state in forward). Inputs are cloned before the call, so in-place
    layers work on leaves.
    """
    tol = tol or TOL[dtype]
    tmod, fmod = build(ctor, dtype)
    tmod.train(train)
    fmod.train(train)
    if grad is None:
        grad = [np.asarray(a).dtype.kind == "f" for a in arrays]
    t_in = [lib_tensor(torch, a, dtype, g) for a, g in zip(arrays, grad)]
    f_in = [lib_tensor(fluxion, a, dtype, g) for a, g in zip(arrays, grad)]
    kwargs = forward_kwargs or {}
    t_out = _outputs(tmod(*[t.clone() for t in t_in], **kwargs))
    f_out = _outputs(fmod(*[f.clone() for f in f_in], **kwargs))
    assert len(t_out) == len(f_out)
    for f, t in zip(f_out, t_out):
        assert tuple(f.shape) == tuple(t.shape)
        assert f.dtype.name == str(t.dtype).removeprefix("torch.")
        assert_close(to_numpy(f), to_numpy(t), equal_nan=True, **tol)
    rng = np.random.default_rng(seed)
    t_loss, f_loss = 0.0, 0.0
    for f, t in zip(f_out, t_out):
        if t.requires_grad:
            r = rng.normal(size=tuple(t.shape))
            t_loss = t_loss + (t * lib_tensor(torch, r, dtype)).sum()
            f_loss = f_loss + (f * lib_tensor(fluxion, r, dtype)).sum()
    if isinstance(t_loss, float):  # nothing differentiable came out
        assert not any(f.requires_grad for f in f_out)
    else:
        t_loss.backward()
        f_loss.backward()
        for i, (f, t) in enumerate(zip(f_in, t_in)):
            if t.requires_grad:
                assert (f.grad is None) == (t.grad is None), f"input {i}"
                if t.grad is not None:
                    assert_close(to_numpy(f.grad), to_numpy(t.grad), equal_nan=True, **tol)
        fparams = dict(fmod.named_parameters())
        for name, tp in tmod.named_parameters():
            fp = fparams[name]
            assert (fp.grad is None) == (tp.grad is None), name
            if tp.grad is not None:
                assert_close(to_numpy(fp.grad), to_numpy(tp.grad), equal_nan=True, **tol)
    fstate = fmod.state_dict()
    for name, value in tmod.state_dict().items():
        assert_close(to_numpy(fstate[name]), to_numpy(value), **tol)


def raises_like_torch(fn: Callable) -> None:
    """``fn(torch_lib)`` and ``fn(fluxion_lib)`` raise the same type with the same message."""
    try:
        fn(torch)
    except Exception as e:  # noqa: BLE001 - whatever torch raises is the reference
        expected = e
    else:
        raise AssertionError("torch did not raise")
    try:
        fn(fluxion)
    except Exception as e:  # noqa: BLE001
        got = e
    else:
        raise AssertionError(f"fluxion did not raise; torch raised {expected!r}")
    assert type(got) is type(expected), (got, expected)
    ours, theirs = _sorted_sets(str(got)), _sorted_sets(str(expected))
    assert ours == theirs, f"\nfluxion: {got}\ntorch:   {expected}"


def _sorted_sets(message: str) -> str:
    """Sort the items of printed Python sets: their order follows the per-process string hash."""
    return re.sub(
        r"\{('[^{}]*')\}", lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}", message
    )
