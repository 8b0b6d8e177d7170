"""Train a small CNN on the 8x8 digits of scikit-learn: ``python -m fluxion.examples.digits``.

Written as PyTorch code with ``import fluxion as torch`` and fluxion's own names: ``Dataset`` +
``DataLoader``, ``nn.Module``, ``optim.Adam``, ``CrossEntropyLoss``, ``torch.save``. Needs the
``examples`` extra (scikit-learn for the data, tqdm for progress bars, matplotlib for the
figures). Writes into the output directory (default ``./digits_out``):

* ``digits_cnn.pt``: the trained ``state_dict`` (``fluxion.save``; read back with
  ``fluxion.load``),
* ``curves.png``: training loss and train/test accuracy per epoch,
* ``predictions.png``: the first test digits with their predicted and true labels.

Seeded: the same seed gives the same data split, initial weights, batches and result.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Sequence

import fluxion as torch
from fluxion import nn
from fluxion.utils.data import DataLoader
from fluxion.vision import datasets, transforms

__all__ = ["DigitsCNN", "main", "train", "evaluate"]

# Mean and standard deviation of the training pixels after ToTensor (computed once on the
# default split; any fixed values work, these centre the inputs).
MEAN, STD = 0.3055, 0.3759


class DigitsCNN(nn.Module):
    """Two 3x3 convolutions, one 2x2 max pool and a two-layer classifier, for 1x8x8 inputs.

    >>> DigitsCNN()(fluxion.zeros(2, 1, 8, 8)).shape
    fluxion.Size([2, 10])
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, 64),
            nn.ReLU(),
            nn.Dropout(0.25),
            nn.Linear(64, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def _progress(iterable, desc: str, enabled: bool):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, leave=False, file=sys.stderr, unit="batch")


def train(
    model, loader, loss_fn, optimizer, desc: str = "train", progress: bool = True
) -> tuple[float, float]:
    """Run one epoch of training; return the mean loss and the accuracy over its batches."""
    model.train()
    total, correct, count = 0.0, 0, 0
    bar = _progress(loader, desc, progress)
    for images, labels in bar:
        optimizer.zero_grad()
        logits = model(images)
        loss = loss_fn(logits, labels)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(labels)
        correct += int((logits.argmax(dim=1) == labels).sum().item())
        count += len(labels)
        if progress:
            # refresh=False: tqdm redraws on its own clock with the current count (an explicit
            # refresh from inside the loop shows the count at the last redraw: 0/45 all epoch)
            postfix = {"loss": f"{total / count:.4f}", "acc": f"{100 * correct / count:.1f}%"}
            bar.set_postfix(postfix, refresh=False)
    return total / count, correct / count


@torch.no_grad()
def evaluate(model, loader) -> tuple[float, torch.Tensor]:
    """Return the accuracy of ``model`` on ``loader`` and its predictions, in loader order."""
    model.eval()
    correct, count, preds = 0, 0, []
    for images, labels in loader:
        pred = model(images).argmax(dim=1)
        correct += int((pred == labels).sum().item())
        count += len(labels)
        preds.append(pred)
    return correct / count, torch.cat(preds)


def _plot_curves(history: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = range(1, len(history["loss"]) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, history["loss"], marker="o")
    ax_loss.set(title="training loss", xlabel="epoch", ylabel="cross-entropy")
    ax_acc.plot(
        epochs, [100 * a for a in history["train_acc"]], marker="o", label="train (running)"
    )
    ax_acc.plot(epochs, [100 * a for a in history["test_acc"]], marker="o", label="test")
    ax_acc.set(title="accuracy", xlabel="epoch", ylabel="%")
    ax_acc.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_predictions(test_set, preds: torch.Tensor, path: str, n: int = 24) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 8
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.3, rows * 1.5))
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        truth, guess = int(test_set.targets[k]), int(preds[k])
        ax.imshow(test_set.data[k].numpy(), cmap="gray_r", interpolation="nearest")
        ax.set_title(f"{guess} ({truth})", color="black" if guess == truth else "red", fontsize=9)
    fig.suptitle("predicted (true) on test digits")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> dict:
    """Train, report and save; return the metrics (``test_accuracy``, ``history``, paths).

    Args:
        argv: Command-line arguments (``--out``, ``--epochs``, ``--batch-size``, ``--lr``,
            ``--seed``, ``--no-progress``, ``--no-plots``); ``sys.argv`` when ``None``.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="digits_out", help="output directory")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    with _single_threaded_blas():
        return _run(args, start)


def _single_threaded_blas():
    """Limit BLAS to one thread while training, when threadpoolctl (a scikit-learn dependency)
    is there: this model's matrices are tiny, so BLAS threads only add synchronisation, and on
    a busy machine OpenBLAS's spinning threads made each small product ~70x slower (measured).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _run(args: argparse.Namespace, start: float) -> dict:
    torch.manual_seed(args.seed)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])
    train_set = datasets.Digits(train=True, transform=tf, seed=args.seed)
    test_set = datasets.Digits(train=False, transform=tf, seed=args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    train_loader = DataLoader(
        train_set, batch_size=args.batch_size, shuffle=True, generator=generator
    )
    test_loader = DataLoader(test_set, batch_size=256)

    model = DigitsCNN()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    print(
        f"digits: {len(train_set)} training and {len(test_set)} test images, "
        f"{sum(p.numel() for p in model.parameters())} parameters"
    )

    history: dict[str, list[float]] = {"loss": [], "train_acc": [], "test_acc": []}
    for epoch in range(1, args.epochs + 1):
        desc = f"epoch {epoch:2d}/{args.epochs}"
        loss, train_acc = train(model, train_loader, loss_fn, optimizer, desc, not args.no_progress)
        scheduler.step()
        test_acc, _ = evaluate(model, test_loader)
        history["loss"].append(loss)
        history["train_acc"].append(train_acc)
        history["test_acc"].append(test_acc)
        print(
            f"{desc}: loss {loss:.4f}  train {100 * train_acc:5.1f}%  test {100 * test_acc:5.1f}%"
        )

    test_acc, preds = evaluate(model, test_loader)
    os.makedirs(args.out, exist_ok=True)
    model_path = os.path.join(args.out, "digits_cnn.pt")
    torch.save(model.state_dict(), model_path)
    result = {"test_accuracy": test_acc, "history": history, "model_path": model_path}
    if not args.no_plots:
        result["curves_path"] = os.path.join(args.out, "curves.png")
        result["predictions_path"] = os.path.join(args.out, "predictions.png")
        _plot_curves(history, result["curves_path"])
        _plot_predictions(test_set, preds, result["predictions_path"])
    elapsed = time.perf_counter() - start
    print(f"test accuracy: {100 * test_acc:.2f}% ({elapsed:.1f} s); outputs in {args.out}/")
    return result


if __name__ == "__main__":
    main()
