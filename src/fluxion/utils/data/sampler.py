"""Samplers: which dataset indices a DataLoader visits, and in what order.

The random samplers draw exactly what ``torch.utils.data`` draws (same calls, same order), so
with fluxion's torch-identical generator a seeded loader visits the same indices as PyTorch's.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any

import fluxion

__all__ = [
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "BatchSampler",
]


class Sampler:
    """Base class: subclasses implement ``__iter__`` over indices (and ``__len__`` if known).

    >>> class Evens(fluxion.utils.data.Sampler):
    ...     def __iter__(self):
    ...         return iter([0, 2, 4])
    >>> list(Evens())
    [0, 2, 4]
    """

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError


class SequentialSampler(Sampler):
    """Visit ``0, 1, ..., len(data_source) - 1`` in order.

    >>> list(fluxion.utils.data.SequentialSampler("abc"))
    [0, 1, 2]
    """

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


def _fresh_generator() -> fluxion.Generator:
    # NOTE: PyTorch seeds a private generator from one int64 draw of the global one, so a
    # shuffle advances the global stream by exactly that draw, whatever the dataset size.
    seed = int(fluxion.empty((), dtype=fluxion.int64).random_().item())
    return fluxion.Generator().manual_seed(seed)


class RandomSampler(Sampler):
    """Visit indices in random order (a permutation), or draw them with replacement.

    Without ``generator`` each pass seeds a private generator from one draw of the global one
    (as PyTorch does); with one, each pass draws ``randperm(n, generator=generator)``.

    Args:
        data_source: The dataset (only its length is used).
        replacement: Draw ``num_samples`` indices with replacement (``randint``, 32 at a time).
        num_samples: How many indices per pass (default ``len(data_source)``); without
            replacement, more than ``len`` chains several permutations.
        generator: Generator for the draws.

    >>> g = fluxion.Generator().manual_seed(0)
    >>> sorted(fluxion.utils.data.RandomSampler(range(5), generator=g))
    [0, 1, 2, 3, 4]
    """

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: fluxion.Generator | None = None,
    ) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(
                f"replacement should be a boolean value, but got replacement={replacement}"
            )
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(
                "num_samples should be a positive integer value, but got "
                f"num_samples={self.num_samples}"
            )

    @property
    def num_samples(self) -> int:
        # the dataset may grow or shrink between passes
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        gen = self.generator if self.generator is not None else _fresh_generator()
        total = self.num_samples
        if self.replacement:
            for _ in range(total // 32):
                yield from fluxion.randint(0, n, (32,), dtype=fluxion.int64, generator=gen).tolist()
            yield from fluxion.randint(
                0, n, (total % 32,), dtype=fluxion.int64, generator=gen
            ).tolist()
        else:
            for _ in range(total // n):
                yield from fluxion.randperm(n, generator=gen).tolist()
            yield from fluxion.randperm(n, generator=gen).tolist()[: total % n]

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """Visit the given indices in random order (``randperm(len(indices))``).

    >>> g = fluxion.Generator().manual_seed(0)
    >>> sorted(fluxion.utils.data.SubsetRandomSampler([7, 8, 9], generator=g))
    [7, 8, 9]
    """

    def __init__(self, indices: Sequence[int], generator: fluxion.Generator | None = None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        for i in fluxion.randperm(len(self.indices), generator=self.generator).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """Draw ``num_samples`` indices with probabilities proportional to ``weights``.

    >>> s = fluxion.utils.data.WeightedRandomSampler([0.0, 1.0, 0.0], 4)
    >>> list(s)
    [1, 1, 1, 1]
    """

    def __init__(
        self,
        weights: Sequence[float],
        num_samples: int,
        replacement: bool = True,
        generator: fluxion.Generator | None = None,
    ) -> None:
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(
                f"num_samples should be a positive integer value, but got num_samples={num_samples}"
            )
        if not isinstance(replacement, bool):
            raise ValueError(
                f"replacement should be a boolean value, but got replacement={replacement}"
            )
        w = fluxion.as_tensor(weights, dtype=fluxion.float64)
        if w.dim() != 1:
            raise ValueError(
                f"weights should be a 1d sequence but given weights have shape {tuple(w.shape)}"
            )
        self.weights = w
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        drawn = fluxion.multinomial(
            self.weights, self.num_samples, self.replacement, generator=self.generator
        )
        yield from drawn.tolist()

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` into lists of ``batch_size``.

    >>> seq = fluxion.utils.data.SequentialSampler(range(7))
    >>> list(fluxion.utils.data.BatchSampler(seq, batch_size=3, drop_last=False))
    [[0, 1, 2], [3, 4, 5], [6]]
    >>> len(fluxion.utils.data.BatchSampler(seq, batch_size=3, drop_last=True))
    2
    """

    def __init__(self, sampler: Sampler | Iterable[int], batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(
                f"batch_size should be a positive integer value, but got batch_size={batch_size}"
            )
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        it = iter(self.sampler)
        while True:
            batch = list(itertools.islice(it, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        if self.drop_last:
            return n // self.batch_size
        return (n + self.batch_size - 1) // self.batch_size
