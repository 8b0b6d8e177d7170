"""Train the digits CNN with the same seed in torch and in fluxion and compare the numbers.

Usage: ``.venv/bin/python tools/same_seed.py [--steps 20] [--epochs 3] [--seed 0]
[--torch-kernels conv2d,linear,cross_entropy,adam | all]``

The model, data and training loop of ``fluxion.examples.digits`` (two 3x3 convolutions, a
max pool, a two-layer classifier with dropout, ``CrossEntropyLoss``, Adam with
``CosineAnnealingLR``, a shuffling ``DataLoader`` with its own seeded ``Generator``) are
written once below against a library module ``lib`` and run twice: with ``lib = fluxion`` and
with ``lib = torch``. Both get the same float32 images (the demo's split and normalisation,
made once by fluxion's ``Digits`` and transforms); every random number (initial weights, batch
order, dropout masks) comes from each library's own generator.

It prints, for the first ``--steps`` steps, both losses and their distance in float32 units in
the last place (ulps), the largest distance over all steps, whether the initial weights and
the batch order (every batch of every epoch) were identical, the mean loss of each epoch and
both test accuracies.

``--torch-kernels`` is the attribution experiment: in the fluxion run, the named op families
(``F.conv2d``, ``F.linear``, ``F.cross_entropy`` forward and backward, the Adam update) are
computed by torch on fluxion's arrays; everything else (random draws, ReLU, max pool, dropout,
flatten, the autograd graph and gradient accumulation) stays fluxion's. With all four the
losses are bit-identical, so these four op families are where the roundings differ.

Lives outside the package because it imports torch (``src/fluxion`` never does).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np

BATCH_SIZE = 32
LR = 3e-3
TORCH_KERNELS = ("conv2d", "linear", "cross_entropy", "adam")


@dataclass
class DigitsArrays:
    """The demo's train/test split as float32 ``N x 1 x 8 x 8`` images and int64 labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_digits(seed: int) -> DigitsArrays:
    """Return the digits split and normalisation of ``fluxion.examples.digits`` as arrays."""
    from fluxion.examples.digits import MEAN, STD
    from fluxion.vision import datasets, transforms

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])
    parts = []
    for train in (True, False):
        ds = datasets.Digits(train=train, transform=tf, seed=seed)
        images = np.stack([ds[i][0].numpy() for i in range(len(ds))])
        parts += [images, ds.targets.numpy().copy()]
    return DigitsArrays(*parts)


def make_model(lib: ModuleType):
    """The demo's ``DigitsCNN`` built from ``lib.nn``: the same layers in the same order."""
    nn = lib.nn
    return nn.Sequential(
        nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        ),
        nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, 64),
            nn.ReLU(),
            nn.Dropout(0.25),
            nn.Linear(64, 10),
        ),
    )


@dataclass
class Run:
    """What one library produced: initial weights, losses, batches, epoch losses, accuracy."""

    name: str
    init: dict[str, np.ndarray] = field(default_factory=dict)
    losses: list[np.float32] = field(default_factory=list)
    batches: list[np.ndarray] = field(default_factory=list)
    epoch_losses: list[float] = field(default_factory=list)
    test_accuracy: float = float("nan")


def train(
    lib: ModuleType,
    data: DigitsArrays,
    seed: int = 0,
    epochs: int = 3,
    stop_after: int | None = None,
    make_optimizer: Callable | None = None,
) -> Run:
    """Train the digits CNN with ``lib`` as the demo does.

    Records the loss and the sample indices of every step.

    ``stop_after`` ends training after that many steps (for short checks); ``make_optimizer``
    replaces ``lib.optim.Adam`` (called with the parameters and the learning rate).
    """
    run = Run(lib.__name__)
    lib.manual_seed(seed)
    lib_data = importlib.import_module(lib.__name__ + ".utils.data")
    n = len(data.y_train)
    train_set = lib_data.TensorDataset(
        lib.from_numpy(data.x_train), lib.from_numpy(data.y_train), lib.arange(n)
    )
    generator = lib.Generator().manual_seed(seed)
    loader = lib_data.DataLoader(
        train_set, batch_size=BATCH_SIZE, shuffle=True, generator=generator
    )
    model = make_model(lib)
    run.init = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    loss_fn = lib.nn.CrossEntropyLoss()
    optimizer = (make_optimizer or lib.optim.Adam)(model.parameters(), lr=LR)
    if isinstance(optimizer, TorchAdam):
        scheduler = optimizer.cosine_scheduler(epochs)
    else:
        scheduler = lib.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    done = 0
    for _ in range(epochs):
        model.train()
        total = 0.0
        for images, labels, index in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(labels)
            run.losses.append(np.float32(loss.item()))
            run.batches.append(index.numpy().copy())
            done += 1
            if done == stop_after:
                return run
        run.epoch_losses.append(total / n)
        scheduler.step()
    model.eval()
    with lib.no_grad():
        pred = model(lib.from_numpy(data.x_test)).argmax(dim=1).numpy()
    run.test_accuracy = float(np.mean(pred == data.y_test))
    return run


# ---------------------------------------------------------------- the attribution experiment


def _torch_op(torch_fn: Callable):
    """A fluxion autograd op whose forward and backward torch computes on copies of the arrays."""
    import torch

    import fluxion

    class TorchOp(fluxion.autograd.Function):
        @staticmethod
        def forward(ctx, *xs):
            ctx.inputs = [torch.from_numpy(x.detach().numpy().copy()).requires_grad_() for x in xs]
            ctx.output = torch_fn(*ctx.inputs)
            return fluxion.from_numpy(ctx.output.detach().numpy().copy())

        @staticmethod
        def backward(ctx, grad):
            grads = torch.autograd.grad(ctx.output, ctx.inputs, torch.from_numpy(grad.numpy()))
            return tuple(fluxion.from_numpy(g.numpy().copy()) for g in grads)

    return TorchOp.apply


class TorchAdam:
    """``optim.Adam`` for fluxion parameters whose update torch computes, on mirror tensors."""

    def __init__(self, params, lr: float) -> None:
        import torch

        self.params = list(params)
        self.mirrors = [
            torch.nn.Parameter(torch.from_numpy(p.detach().numpy().copy())) for p in self.params
        ]
        self.torch_optimizer = torch.optim.Adam(self.mirrors, lr=lr)

    def cosine_scheduler(self, t_max: int):
        """torch's ``CosineAnnealingLR`` over the mirrors (its values equal fluxion's)."""
        import torch

        return torch.optim.lr_scheduler.CosineAnnealingLR(self.torch_optimizer, T_max=t_max)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        import torch

        import fluxion

        for p, m in zip(self.params, self.mirrors, strict=True):
            m.grad = torch.from_numpy(p.grad.numpy().copy())
        self.torch_optimizer.step()
        with fluxion.no_grad():
            for p, m in zip(self.params, self.mirrors, strict=True):
                p.copy_(fluxion.from_numpy(m.detach().numpy().copy()))


@contextlib.contextmanager
def torch_kernels(which: Sequence[str]) -> Iterator[Callable | None]:
    """Within the block, ``fluxion.nn.functional`` computes the ``which`` ops with torch.

    Yields the optimizer factory to pass to ``train`` (``TorchAdam`` when ``"adam"`` is in
    ``which``, else ``None``). The functions are restored on exit. Made for the digits model:
    every convolution and linear layer there has a bias.
    """
    import torch
    import torch.nn.functional as TF

    import fluxion.nn.functional as F

    saved = {name: getattr(F, name) for name in ("conv2d", "linear", "cross_entropy")}

    def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        op = _torch_op(lambda x, w, b: TF.conv2d(x, w, b, stride, padding, dilation, groups))
        return op(x, w, b)

    def cross_entropy(input, target, **kwargs):
        labels = torch.from_numpy(target.numpy().copy())
        return _torch_op(lambda z: TF.cross_entropy(z, labels, **kwargs))(input)

    replacements = {
        "conv2d": conv2d,
        "linear": lambda x, w, b: _torch_op(TF.linear)(x, w, b),
        "cross_entropy": cross_entropy,
    }
    try:
        for name in which:
            if name in replacements:
                setattr(F, name, replacements[name])
        yield TorchAdam if "adam" in which else None
    finally:
        for name, fn in saved.items():
            setattr(F, name, fn)


# ---------------------------------------------------------------------------------- report


def ulp_distance(a: np.float32, b: np.float32) -> int:
    """Number of float32 steps from ``a`` to ``b`` (0 when equal, 1 for neighbours)."""

    def ordered(x: np.float32) -> int:
        bits = int(np.array(x, dtype=np.float32).view(np.int32))
        return bits if bits >= 0 else -(bits & 0x7FFFFFFF)

    return abs(ordered(a) - ordered(b))


def same_weights(a: Run, b: Run) -> bool:
    """Whether both runs started from bitwise-identical parameters."""
    return a.init.keys() == b.init.keys() and all(
        a.init[k].dtype == b.init[k].dtype and np.array_equal(a.init[k], b.init[k]) for k in a.init
    )


def same_batches(a: Run, b: Run) -> bool:
    """Whether both runs drew the same sample indices, batch by batch."""
    return len(a.batches) == len(b.batches) and all(
        np.array_equal(x, y) for x, y in zip(a.batches, b.batches, strict=True)
    )


def _single_threaded_blas():
    # As in the demo (speed only: this model's products are tiny, and on a busy machine
    # OpenBLAS's spinning threads slow them down; the thread count does not change results).
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def report(flux: Run, ref: Run, steps: int) -> None:
    """Print the comparison of ``flux`` (fluxion) with ``ref`` (torch), ``steps`` one by one."""
    ulps = [ulp_distance(a, b) for a, b in zip(flux.losses, ref.losses, strict=True)]
    print(f"{'step':>4}  {'fluxion loss':>12}  {'torch loss':>12}  {'ulps':>4}")
    for step in range(min(steps, len(ulps))):
        print(f"{step:4d}  {flux.losses[step]:12.9f}  {ref.losses[step]:12.9f}  {ulps[step]:4d}")
    if max(ulps) == 0:
        print(f"all {len(ulps)} steps: every loss bit-identical")
    else:
        print(
            f"all {len(ulps)} steps: {ulps.count(0)} losses bit-identical, "
            f"largest difference {max(ulps)} ulps"
        )
    print(f"initial weights identical: {same_weights(flux, ref)}")
    print(f"batch order identical:     {same_batches(flux, ref)} ({len(ref.batches)} batches)")
    for epoch, (a, b) in enumerate(zip(flux.epoch_losses, ref.epoch_losses, strict=True), 1):
        print(f"epoch {epoch} mean loss: fluxion {a:.9f}  torch {b:.9f}")
    print(
        f"test accuracy: fluxion {100 * flux.test_accuracy:.2f}%  "
        f"torch {100 * ref.test_accuracy:.2f}%"
    )


def _kernel_list(text: str) -> tuple[str, ...]:
    names = TORCH_KERNELS if text == "all" else tuple(n for n in text.split(",") if n)
    unknown = set(names) - set(TORCH_KERNELS)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown kernels {sorted(unknown)}; choose from {', '.join(TORCH_KERNELS)} or all"
        )
    return names


def main(argv: Sequence[str] | None = None) -> tuple[Run, Run]:
    """Train in both libraries, print the comparison and return both runs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="steps compared one by one")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--torch-kernels",
        type=_kernel_list,
        default=(),
        help=f"comma-separated ops that torch computes in the fluxion run: "
        f"{', '.join(TORCH_KERNELS)}, or all",
    )
    args = parser.parse_args(argv)

    import torch

    import fluxion

    data = load_digits(args.seed)
    print(
        f"digits, seed {args.seed}: {len(data.y_train)} training images, batches of "
        f"{BATCH_SIZE}, Adam lr {LR}, {args.epochs} epochs"
    )
    if args.torch_kernels:
        print(f"in the fluxion run, torch computes: {', '.join(args.torch_kernels)}")
    with _single_threaded_blas(), torch_kernels(args.torch_kernels) as make_optimizer:
        flux = train(fluxion, data, args.seed, args.epochs, None, make_optimizer)
    ref = train(torch, data, args.seed, args.epochs)
    report(flux, ref, args.steps)
    return flux, ref


if __name__ == "__main__":
    main()
