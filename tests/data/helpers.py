"""Shared helpers for the utils.data tests: compare fluxion batches with torch's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import fluxion


def _rng_matches_torch() -> bool:
    """Whether fluxion's generator is torch's (issue 6): the order tests need it."""
    try:
        fluxion.manual_seed(123)
        torch.manual_seed(123)
        a = fluxion.empty((), dtype=fluxion.int64).random_().item()
        b = torch.empty((), dtype=torch.int64).random_().item()
        p = fluxion.randperm(50, generator=fluxion.Generator().manual_seed(7)).tolist()
        q = torch.randperm(50, generator=torch.Generator().manual_seed(7)).tolist()
        return a == b and p == q
    except Exception:
        return False


RNG_MATCHES_TORCH = _rng_matches_torch()

# the exact draw order only shows once fluxion's mt19937 equals torch's (issue 6)
needs_torch_rng = pytest.mark.xfail(
    not RNG_MATCHES_TORCH,
    reason="fluxion's generator is not yet bit-identical to torch's (issue 6)",
    strict=False,
)


def assert_same(fx, th, path="batch"):
    """Structures equal (types of containers, strings) and tensors equal in dtype and values."""
    if isinstance(th, torch.Tensor):
        assert isinstance(fx, fluxion.Tensor), f"{path}: {type(fx)} is not a Tensor"
        assert str(fx.dtype).split(".")[-1] == str(th.dtype).split(".")[-1], (
            f"{path}: dtype {fx.dtype} != {th.dtype}"
        )
        assert tuple(fx.shape) == tuple(th.shape), f"{path}: shape {fx.shape} != {th.shape}"
        np.testing.assert_array_equal(fx.numpy(), th.numpy(), err_msg=path)
        return
    if isinstance(th, dict):
        assert isinstance(fx, dict) and list(fx) == list(th), f"{path}: keys {fx} vs {th}"
        assert type(fx).__name__ == type(th).__name__, f"{path}: {type(fx)} vs {type(th)}"
        for k in th:
            assert_same(fx[k], th[k], f"{path}[{k!r}]")
        return
    if isinstance(th, (list, tuple)):
        assert type(fx).__name__ == type(th).__name__, f"{path}: {type(fx)} vs {type(th)}"
        assert len(fx) == len(th), f"{path}: length {len(fx)} vs {len(th)}"
        for i, (a, b) in enumerate(zip(fx, th)):
            assert_same(a, b, f"{path}[{i}]")
        return
    if isinstance(th, np.ndarray):
        np.testing.assert_array_equal(fx, th)
        return
    assert type(fx) is type(th) and fx == th, f"{path}: {fx!r} != {th!r}"
