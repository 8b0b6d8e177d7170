"""The workloads, written once against a ``lib`` that is either ``fluxion`` or ``torch``.

Each ``make(lib, traced)`` returns a zero-argument ``step``. With ``traced`` (fluxion only) the
forward and backward go through ``fluxion.jit.trace_backward``: the same computation, replayed;
optimiser steps stay eager. torch always runs eagerly.
"""

from __future__ import annotations

import numpy as np

N_CHAIN = 200


def _backward(lib, loss_fn, traced: bool):
    """``run(*inputs)`` = ``loss_fn(*inputs).backward()``, traced when asked."""
    if traced:
        return lib.jit.trace_backward(loss_fn)

    def run(*inputs):
        loss = loss_fn(*inputs)
        loss.backward()
        return loss

    return run


def _f32(lib, array, requires_grad=False):
    return lib.tensor(np.asarray(array, dtype=np.float32), requires_grad=requires_grad)


def overhead(lib, traced=False):
    """200-op chain (+x, *x, tanh, exp) on 16 elements, forward + backward."""
    x = _f32(lib, np.random.default_rng(0).uniform(-0.1, 0.1, 16), requires_grad=True)

    def chain():
        y = x
        for _ in range(N_CHAIN // 4):
            y = y + x
            y = y * x
            y = lib.tanh(y)
            y = lib.exp(y)
        return y.sum()

    run = _backward(lib, chain, traced)

    def step():
        run()
        x.grad = None

    return step


def _mlp_step(lib, sizes, batch, traced):
    rng = np.random.default_rng(0)
    lib.manual_seed(0)
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(lib.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(lib.nn.ReLU())
    model = lib.nn.Sequential(*layers)
    opt = lib.optim.SGD(model.parameters(), lr=0.01)
    x = _f32(lib, rng.standard_normal((batch, sizes[0])))
    y = lib.tensor(rng.integers(0, sizes[-1], batch))
    run = _backward(lib, lambda x, y: lib.nn.functional.cross_entropy(model(x), y), traced)

    def step():
        opt.zero_grad()
        run(x, y)
        opt.step()

    return step


def mlp_small(lib, traced=False):
    """MLP 64-128-10, ReLU, cross-entropy, batch 64: zero_grad, forward, backward, SGD step."""
    return _mlp_step(lib, (64, 128, 10), 64, traced)


def mlp_mnist(lib, traced=False):
    """MLP 784-512-512-10, batch 128: a full SGD step."""
    return _mlp_step(lib, (784, 512, 512, 10), 128, traced)


def cnn_lenet(lib, traced=False):
    """LeNet-5 on 64x1x28x28: forward, cross-entropy, backward."""
    nn = lib.nn
    lib.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )
    rng = np.random.default_rng(0)
    x = _f32(lib, rng.standard_normal((64, 1, 28, 28)))
    y = lib.tensor(rng.integers(0, 10, 64))
    run = _backward(lib, lambda x, y: nn.functional.cross_entropy(model(x), y), traced)

    def step():
        run(x, y)
        model.zero_grad()

    return step


def rnn(lib, traced=False):
    """Elman RNN (tanh), hidden 32, input 1, 50 steps in a Python loop, batch 16, MSE."""
    F = lib.nn.functional
    rng = np.random.default_rng(0)
    hidden, steps, batch = 32, 50, 16
    w_ih = _f32(lib, rng.uniform(-0.17, 0.17, (hidden, 1)), True)
    w_hh = _f32(lib, rng.uniform(-0.17, 0.17, (hidden, hidden)), True)
    b = _f32(lib, rng.uniform(-0.17, 0.17, hidden), True)
    w_out = _f32(lib, rng.uniform(-0.17, 0.17, (1, hidden)), True)
    t = np.linspace(0, 8, steps + 1)[:steps]
    phase = rng.uniform(0, 6.28, (1, batch, 1))
    xs = _f32(lib, np.sin(t[:, None, None] + phase))
    target = _f32(lib, np.cos(t[:, None, None] + phase))

    def loss_fn(xs, target):
        h = lib.zeros(batch, hidden)
        outs = []
        for i in range(steps):
            h = lib.tanh(F.linear(xs[i], w_ih) + F.linear(h, w_hh, b))
            outs.append(F.linear(h, w_out))
        return F.mse_loss(lib.stack(outs), target)

    run = _backward(lib, loss_fn, traced)
    params = (w_ih, w_hh, b, w_out)

    def step():
        run(xs, target)
        for p in params:
            p.grad = None

    return step


def elementwise_large(lib, traced=False):
    """((x*x + 2*x).sin() * x.exp().tanh()).sum() on 4M elements, forward + backward."""
    x = _f32(lib, np.random.default_rng(0).standard_normal(4_000_000), requires_grad=True)
    run = _backward(lib, lambda: ((x * x + 2 * x).sin() * x.exp().tanh()).sum(), traced)

    def step():
        run()
        x.grad = None

    return step


def matmul(lib, traced=False):
    """(a @ b).sum() with 1024x1024 operands, forward + backward."""
    rng = np.random.default_rng(0)
    a = _f32(lib, rng.standard_normal((1024, 1024)), requires_grad=True)
    b = _f32(lib, rng.standard_normal((1024, 1024)), requires_grad=True)
    run = _backward(lib, lambda: (a @ b).sum(), traced)

    def step():
        run()
        a.grad = None
        b.grad = None

    return step


def memory(lib):
    """100-op chain on 1M elements, then backward (measured as peak RSS in a subprocess)."""
    x = _f32(lib, np.random.default_rng(0).uniform(0.5, 1.0, 1_000_000), requires_grad=True)

    def step():
        y = x
        for _ in range(50):  # every op saves a 4 MB tensor for backward (mul: y, tanh: result)
            y = y * x
            y = lib.tanh(y)
        y.sum().backward()
        x.grad = None

    return step


def rng(lib, traced=False):
    """10M float32 uniforms and 10M float32 normals from the seeded default generator."""
    lib.manual_seed(0)

    def step():
        lib.rand(10_000_000)
        lib.randn(10_000_000)

    return step


# name -> (make, ops per step for per-op units (1: report ms per step), bound from issue 5)
WORKLOADS = {
    "overhead": (overhead, N_CHAIN, 0.40),
    "mlp_small": (mlp_small, 1, 0.60),
    "mlp_mnist": (mlp_mnist, 1, 1.0),
    "elementwise_large": (elementwise_large, 1, 1.0),
    "matmul": (matmul, 1, 1.0),
    "cnn_lenet": (cnn_lenet, 1, 1.5),
    "rnn": (rnn, 1, 0.50),
    "rng": (rng, 1, 1.5),  # issue 6: at most 1.5x torch's time
}
MEMORY_BOUND = 0.80
