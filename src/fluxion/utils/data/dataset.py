"""Datasets: map-style ``Dataset`` and its wrappers, ``IterableDataset``, ``random_split``."""

from __future__ import annotations

import bisect
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import fluxion

__all__ = [
    "Dataset",
    "IterableDataset",
    "TensorDataset",
    "StackDataset",
    "ConcatDataset",
    "ChainDataset",
    "Subset",
    "random_split",
]


class Dataset:
    """Map-style dataset: subclasses implement ``__getitem__`` (and usually ``__len__``).

    Adding two datasets gives their :class:`ConcatDataset`.

    >>> class Squares(fluxion.utils.data.Dataset):
    ...     def __getitem__(self, i):
    ...         return i * i
    ...     def __len__(self):
    ...         return 4
    >>> [Squares()[i] for i in range(4)]
    [0, 1, 4, 9]
    >>> len(Squares() + Squares())
    8
    """

    def __getitem__(self, index: Any) -> Any:
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """Stream-style dataset: subclasses implement ``__iter__``.

    With ``num_workers > 0`` every worker process iterates its own copy of the dataset; use
    :func:`fluxion.utils.data.get_worker_info` inside ``__iter__`` to split the work.

    >>> class Count(fluxion.utils.data.IterableDataset):
    ...     def __iter__(self):
    ...         return iter(range(3))
    >>> list(Count())
    [0, 1, 2]
    """

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")

    def __add__(self, other: Dataset) -> ChainDataset:
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Wrap tensors that share their first dimension; item ``i`` is ``tuple(t[i] for t)``.

    Args:
        *tensors: Tensors with the same size along dimension 0.

    >>> ds = fluxion.utils.data.TensorDataset(fluxion.arange(3), fluxion.arange(3) * 10)
    >>> ds[1]
    (tensor(1), tensor(10))
    >>> len(ds)
    3
    """

    def __init__(self, *tensors: fluxion.Tensor) -> None:
        if any(tensors[0].size(0) != t.size(0) for t in tensors):
            sizes = [t.size(0) for t in tensors]
            raise AssertionError(
                f"Size mismatch between tensors: sizes along dim 0 are {sizes}; every tensor "
                "must have the same number of samples"
            )
        self.tensors = tensors

    def __getitem__(self, index: Any) -> tuple:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].size(0)


class StackDataset(Dataset):
    """Zip datasets of equal length; items are tuples (positional) or dicts (keyword).

    >>> ds = fluxion.utils.data.StackDataset(a=[1, 2], b=["x", "y"])
    >>> ds[1]
    {'a': 2, 'b': 'y'}
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args and kwargs:
            raise ValueError(
                "Supported either ``tuple``- (via ``args``) or``dict``- (via ``kwargs``) like "
                "input/output, but both types are given."
            )
        parts = list(args) if args else list(kwargs.values())
        if not parts:
            raise ValueError("At least one dataset should be passed")
        self._length = len(parts[0])
        if any(self._length != len(d) for d in parts):
            raise ValueError("Size mismatch between datasets")
        self.datasets: tuple | dict = tuple(args) if args else dict(kwargs)

    def __getitem__(self, index: int) -> Any:
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self) -> int:
        return self._length


class ConcatDataset(Dataset):
    """Concatenate map-style datasets: index ``i`` runs through them in order.

    >>> ds = fluxion.utils.data.ConcatDataset([[0, 1], [2, 3, 4]])
    >>> ds[2], ds[-1], len(ds), ds.cumulative_sizes
    (2, 4, 5, [2, 5])
    """

    @staticmethod
    def cumsum(sequence: Iterable) -> list[int]:
        out, total = [], 0
        for d in sequence:
            total += len(d)
            out.append(total)
        return out

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if len(self.datasets) == 0:
            raise AssertionError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise AssertionError(
                    "ConcatDataset does not support IterableDataset; use ChainDataset"
                )
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> Any:
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = 0 if which == 0 else self.cumulative_sizes[which - 1]
        return self.datasets[which][idx - start]


class ChainDataset(IterableDataset):
    """Chain iterable datasets one after the other.

    >>> list(fluxion.utils.data.ChainDataset([range(2), range(3)]))
    [0, 1, 0, 1, 2]
    """

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = datasets

    def __iter__(self) -> Iterator[Any]:
        for d in self.datasets:
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


class Subset(Dataset):
    """View of ``dataset`` at the given ``indices``.

    >>> sub = fluxion.utils.data.Subset(["a", "b", "c", "d"], [3, 0])
    >>> sub[0], len(sub)
    ('d', 2)
    """

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: list[int]) -> list:
        # a dataset with batched access (``__getitems__``) keeps it through the subset
        inner = getattr(self.dataset, "__getitems__", None)
        if callable(inner):
            return inner([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)


def random_split(
    dataset: Dataset,
    lengths: Sequence[int | float],
    generator: fluxion.Generator | None = None,
) -> list[Subset]:
    """Split ``dataset`` at random into non-overlapping subsets of the given lengths.

    ``lengths`` are sizes, or fractions that sum to 1 (each split gets ``floor(frac * n)``
    items, and the remainder is dealt out one by one from the first split on). The permutation
    is ``fluxion.randperm(n, generator=generator)``, so the same seed splits exactly as
    ``torch.utils.data.random_split`` does.

    Args:
        dataset: A map-style dataset with ``__len__``.
        lengths: Sizes or fractions of the splits.
        generator: Generator for the permutation (default: the global one).

    Returns:
        One :class:`Subset` per entry of ``lengths``.

    >>> g = fluxion.Generator().manual_seed(0)
    >>> train, test = fluxion.utils.data.random_split(range(10), [0.8, 0.2], generator=g)
    >>> len(train), len(test), sorted(list(train) + list(test)) == list(range(10))
    (8, 2, True)
    """
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            sizes.append(math.floor(n * frac))
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(
                    f"Length of split at index {i} is 0. This might result in an empty dataset.",
                    stacklevel=2,
                )
        lengths = sizes
    if sum(lengths) != n:
        raise ValueError(
            "Sum of input lengths does not equal the length of the input dataset! "
            f"(lengths {list(lengths)} sum to {sum(lengths)}, the dataset has {n} items)"
        )
    perm = fluxion.randperm(sum(lengths), generator=generator).tolist()
    out, offset = [], 0
    for size in lengths:
        out.append(Subset(dataset, perm[offset : offset + size]))
        offset += size
    return out
