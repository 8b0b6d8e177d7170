"""Train an RNN to read sin(t) and output cos(t): ``python -m fluxion.examples.sin_to_cos``.

The classic recurrent-network toy: at each time step the network sees one value of sin(t) and
must output cos(t). A single value is ambiguous (sin(t) = sin(pi - t)), so the network has to use
the history it keeps in its hidden state, which is what an RNN is for. Written as PyTorch code
with ``import fluxion as torch``: ``nn.RNN(batch_first=True)``, ``nn.Linear``, ``optim.Adam``,
``MSELoss``. Writes ``sin_to_cos.png`` (prediction against truth on a held-out stretch of t) into
the output directory (default ``./sin_to_cos_out``); needs matplotlib (the ``examples`` extra)
for the figure, and tqdm for the progress bar.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Sequence

import fluxion as torch
from fluxion import nn

__all__ = ["SinToCos", "make_batch", "main"]

WARMUP = 5  # first steps of a sequence, where the history is too short to tell cos's sign


class SinToCos(nn.Module):
    """An Elman RNN (tanh) over the input sequence, then a linear read-out at every step.

    >>> y, h = SinToCos(hidden_size=8)(fluxion.zeros(2, 5, 1))
    >>> y.shape, h.shape
    (fluxion.Size([2, 5, 1]), fluxion.Size([1, 2, 8]))
    """

    def __init__(self, hidden_size: int = 32) -> None:
        super().__init__()
        self.rnn = nn.RNN(input_size=1, hidden_size=hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None):
        y, h = self.rnn(x, h)
        return self.out(y), h


def make_batch(batch_size: int, seq_len: int, dt: float = 0.2, t0: torch.Tensor | None = None):
    """Return ``(t, sin(t), cos(t))``, each ``(batch, seq_len, 1)``, from random start times.

    >>> t, x, y = make_batch(3, 4)
    >>> bool(((x**2 + y**2 - 1).abs() < 1e-6).all())
    True
    """
    if t0 is None:
        t0 = torch.rand(batch_size, 1) * (2 * math.pi)
    t = t0 + torch.arange(seq_len, dtype=torch.float32) * dt
    t = t.unsqueeze(-1)
    return t, torch.sin(t), torch.cos(t)


def _plot(t, x, y, pred, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.plot(t, x, color="0.7", label="input sin(t)")
    ax.plot(t, y, color="tab:blue", label="target cos(t)")
    ax.plot(t, pred, color="tab:red", linestyle="--", label="RNN prediction")
    ax.axvspan(t[0], t[WARMUP - 1], color="0.9", label="warm-up")
    ax.set(xlabel="t", title="RNN: cos(t) from sin(t)")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> dict:
    """Train, evaluate on a held-out sequence and plot; return ``test_mse`` and the loss curve.

    Args:
        argv: Command-line arguments (``--out``, ``--steps``, ``--batch-size``, ``--seq-len``,
            ``--hidden``, ``--lr``, ``--seed``, ``--no-progress``, ``--no-plots``); ``sys.argv``
            when ``None``.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="sin_to_cos_out", help="output directory")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=50)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG figure")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    torch.manual_seed(args.seed)
    model = SinToCos(args.hidden)
    loss_fn = nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(args.steps // 3, 1))

    steps = range(1, args.steps + 1)
    if not args.no_progress:
        from tqdm import tqdm

        steps = tqdm(steps, desc="training", file=sys.stderr, unit="step")
    losses = []
    model.train()
    for step in steps:
        _, x, y = make_batch(args.batch_size, args.seq_len)
        pred, _ = model(x)
        loss = loss_fn(pred[:, WARMUP:], y[:, WARMUP:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        if not args.no_progress and step % 10 == 0:
            steps.set_postfix(loss=f"{losses[-1]:.5f}")

    # Held out: a stretch of t far from the training starts (which lie in [0, 2 pi)), 4x longer.
    model.eval()
    with torch.no_grad():
        t, x, y = make_batch(1, 4 * args.seq_len, t0=torch.tensor([[20.0]]))
        pred, _ = model(x)
    test_mse = loss_fn(pred[:, WARMUP:], y[:, WARMUP:]).item()
    result = {"test_mse": test_mse, "losses": losses}
    if not args.no_plots:
        os.makedirs(args.out, exist_ok=True)
        result["plot_path"] = os.path.join(args.out, "sin_to_cos.png")
        _plot(
            t.flatten().tolist(),
            x.flatten().tolist(),
            y.flatten().tolist(),
            pred.flatten().tolist(),
            result["plot_path"],
        )
    elapsed = time.perf_counter() - start
    print(
        f"final training loss {losses[-1]:.5f}; held-out MSE after {WARMUP} warm-up steps: "
        f"{test_mse:.5f} ({elapsed:.1f} s)"
        + (f"; plot in {args.out}/" if not args.no_plots else "")
    )
    return result


if __name__ == "__main__":
    main()
