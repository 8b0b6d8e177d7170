"""Datasets and random_split against torch.utils.data."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.utils.data as tud

import fluxion
import fluxion.utils.data as fud

from .helpers import assert_same, needs_torch_rng


def test_tensor_dataset_items_and_len_match_torch():
    x = torch.randn(5, 3)
    y = torch.arange(5)
    fds = fud.TensorDataset(fluxion.tensor(x.numpy()), fluxion.tensor(y.numpy()))
    tds = tud.TensorDataset(x, y)
    assert len(fds) == len(tds) == 5
    for i in (0, 3, -1, slice(1, 4)):
        assert_same(fds[i], tds[i])


def test_tensor_dataset_size_mismatch_raises_like_torch():
    with pytest.raises(AssertionError, match="Size mismatch between tensors") as fx:
        fud.TensorDataset(fluxion.zeros(3, 2), fluxion.zeros(4))
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        tud.TensorDataset(torch.zeros(3, 2), torch.zeros(4))
    assert "[3, 4]" in str(fx.value)


def test_concat_dataset_indexing_matches_torch():
    parts = [list(range(3)), list(range(10, 12)), list(range(20, 24))]
    fds, tds = fud.ConcatDataset(parts), tud.ConcatDataset(parts)
    assert len(fds) == len(tds) == 9
    assert fds.cumulative_sizes == tds.cumulative_sizes
    assert [fds[i] for i in range(-9, 9)] == [tds[i] for i in range(-9, 9)]
    with pytest.raises(ValueError, match="absolute value of index"):
        fds[-10]
    with pytest.raises(IndexError):
        fds[9]


def test_concat_dataset_rejects_empty_and_iterable():
    with pytest.raises(AssertionError, match="should not be an empty iterable"):
        fud.ConcatDataset([])

    class It(fud.IterableDataset):
        def __iter__(self):
            return iter([1])

    with pytest.raises(AssertionError, match="does not support IterableDataset"):
        fud.ConcatDataset([It()])


def test_dataset_add_gives_concat_and_chain():
    class D(fud.Dataset):
        def __init__(self, n):
            self.n = n

        def __getitem__(self, i):
            if i >= self.n:
                raise IndexError(i)
            return i

        def __len__(self):
            return self.n

    both = D(2) + D(3)
    assert isinstance(both, fud.ConcatDataset) and [both[i] for i in range(5)] == [0, 1, 0, 1, 2]

    class It(fud.IterableDataset):
        def __iter__(self):
            return iter("ab")

    assert list(It() + It()) == ["a", "b", "a", "b"]


def test_dataset_base_getitem_raises_not_implemented():
    with pytest.raises(NotImplementedError):
        fud.Dataset()[0]
    with pytest.raises(NotImplementedError):
        iter(fud.IterableDataset())


def test_subset_matches_torch():
    data = [f"s{i}" for i in range(10)]
    idx = [7, 2, 2, 9]
    fs, ts = fud.Subset(data, idx), tud.Subset(data, idx)
    assert len(fs) == len(ts) == 4
    assert [fs[i] for i in range(4)] == [ts[i] for i in range(4)]
    assert fs.__getitems__([0, 3]) == ts.__getitems__([0, 3])


def test_stack_dataset_matches_torch():
    a, b = list(range(3)), ["x", "y", "z"]
    assert fud.StackDataset(a, b)[1] == tud.StackDataset(a, b)[1]
    assert fud.StackDataset(a=a, b=b)[2] == tud.StackDataset(a=a, b=b)[2]
    with pytest.raises(ValueError, match="Size mismatch between datasets"):
        fud.StackDataset(a, b[:2])


@pytest.mark.parametrize(
    "lengths", [[3, 7], [0.3, 0.7], [0.5, 0.25, 0.25], [1, 1, 8], [0.33, 0.67]]
)
def test_random_split_sizes_match_torch(lengths):
    fx = fud.random_split(range(10), lengths, generator=fluxion.Generator().manual_seed(0))
    th = tud.random_split(range(10), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in fx] == [len(s) for s in th]
    assert sorted(i for s in fx for i in s.indices) == list(range(10))


@needs_torch_rng
@pytest.mark.parametrize("seed", [0, 1, 42, 2**40 + 3])
@pytest.mark.parametrize("lengths", [[13, 17], [0.3, 0.3, 0.4], [0.1, 0.9]])
def test_random_split_order_matches_torch_with_generator(seed, lengths):
    n = 30
    fx = fud.random_split(range(n), lengths, generator=fluxion.Generator().manual_seed(seed))
    th = tud.random_split(range(n), lengths, generator=torch.Generator().manual_seed(seed))
    assert [s.indices for s in fx] == [s.indices for s in th]


@needs_torch_rng
def test_random_split_default_generator_matches_torch_and_stays_in_sync():
    fluxion.manual_seed(5)
    torch.manual_seed(5)
    fx = fud.random_split(list(range(17)), [5, 12])
    th = tud.random_split(list(range(17)), [5, 12])
    assert [s.indices for s in fx] == [s.indices for s in th]
    assert fluxion.rand(3).tolist() == torch.rand(3).tolist()


def test_random_split_errors_match_torch():
    for mod in (fud, tud):
        with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
            mod.random_split(range(10), [3, 3])
        with pytest.raises(ValueError, match="Fraction at index 0 is not between 0 and 1"):
            mod.random_split(range(10), [1.5, -0.5])


def test_random_split_warns_on_empty_split_like_torch():
    with warnings.catch_warnings(record=True) as fw:
        warnings.simplefilter("always")
        fud.random_split(range(3), [0.1, 0.2, 0.7])
    with warnings.catch_warnings(record=True) as tw:
        warnings.simplefilter("always")
        tud.random_split(range(3), [0.1, 0.2, 0.7])
    assert [str(w.message) for w in fw] == [str(w.message) for w in tw]
    assert fw and "index 1 is 0" in str(fw[0].message)
