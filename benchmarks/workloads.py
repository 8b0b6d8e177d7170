"""The workloads, written once against a ``lib`` that is either ``fluxion`` or ``torch``."""

from __future__ import annotations

import numpy as np

N_CHAIN = 200


def overhead(lib):
    """200-op chain (+x, *x, tanh, exp) on 16 elements, forward + backward."""
    x = lib.tensor(
        np.random.default_rng(0).uniform(-0.1, 0.1, 16).astype(np.float32), requires_grad=True
    )

    def step():
        y = x
        for _ in range(N_CHAIN // 4):
            y = y + x
            y = y * x
            y = lib.tanh(y)
            y = lib.exp(y)
        y.sum().backward()
        x.grad = None

    return step


def elementwise_large(lib):
    """((x*x + 2*x).sin() * x.exp().tanh()).sum() on 4M elements, forward + backward."""
    x = lib.tensor(
        np.random.default_rng(0).standard_normal(4_000_000).astype(np.float32), requires_grad=True
    )

    def step():
        ((x * x + 2 * x).sin() * x.exp().tanh()).sum().backward()
        x.grad = None

    return step


def matmul(lib):
    """(a @ b).sum() with 1024x1024 operands, forward + backward."""
    rng = np.random.default_rng(0)
    a = lib.tensor(rng.standard_normal((1024, 1024)).astype(np.float32), requires_grad=True)
    b = lib.tensor(rng.standard_normal((1024, 1024)).astype(np.float32), requires_grad=True)

    def step():
        (a @ b).sum().backward()
        a.grad = None
        b.grad = None

    return step


def memory(lib):
    """100-op chain on 1M elements, then backward (measured as peak RSS in a subprocess)."""
    x = lib.tensor(
        np.random.default_rng(0).uniform(0.5, 1.0, 1_000_000).astype(np.float32), requires_grad=True
    )

    def step():
        y = x
        for _ in range(50):  # every op saves a 4 MB tensor for backward (mul: y, tanh: result)
            y = y * x
            y = lib.tanh(y)
        y.sum().backward()
        x.grad = None

    return step


WORKLOADS = {
    "overhead": (overhead, N_CHAIN),
    "elementwise_large": (elementwise_large, 1),
    "matmul": (matmul, 1),
}
