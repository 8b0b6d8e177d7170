"""DataLoader in the main process against torch's: batching, options, errors, shuffling."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import fluxion
import fluxion.utils.data as fud

from .helpers import assert_same, needs_torch_rng


def _datasets(n=10):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n)
    return (
        fud.TensorDataset(fluxion.tensor(x), fluxion.tensor(y)),
        tud.TensorDataset(torch.tensor(x), torch.tensor(y)),
    )


@pytest.mark.parametrize("batch_size", [1, 3, 4, 10, 11])
@pytest.mark.parametrize("drop_last", [False, True])
def test_dataloader_batches_match_torch(batch_size, drop_last):
    fds, tds = _datasets()
    fl = fud.DataLoader(fds, batch_size=batch_size, drop_last=drop_last)
    tl = tud.DataLoader(tds, batch_size=batch_size, drop_last=drop_last)
    assert len(fl) == len(tl)
    assert_same(list(fl), list(tl))


def test_dataloader_batch_size_none_converts_items_like_torch():
    data = [np.array([i, i + 1]) for i in range(3)]
    fl, tl = fud.DataLoader(data, batch_size=None), tud.DataLoader(data, batch_size=None)
    assert len(fl) == len(tl) == 3
    assert_same(list(fl), list(tl))


def test_dataloader_dict_samples_match_torch():
    data = [{"x": np.full(2, i, dtype=np.float64), "label": i, "name": f"n{i}"} for i in range(5)]
    assert_same(list(fud.DataLoader(data, batch_size=2)), list(tud.DataLoader(data, batch_size=2)))


def test_dataloader_batch_sampler_and_collate_fn():
    data = list(range(10))
    batches = [[9, 0], [3], [4, 5, 6]]
    fl = fud.DataLoader(data, batch_sampler=batches, collate_fn=lambda b: sum(b))
    tl = tud.DataLoader(data, batch_sampler=batches, collate_fn=lambda b: sum(b))
    assert list(fl) == list(tl) == [9, 3, 15]
    assert len(fl) == 3


def test_dataloader_custom_sampler_order():
    data = list(range(6))
    fl = fud.DataLoader(data, batch_size=2, sampler=[5, 4, 3, 2, 1, 0])
    assert [b.tolist() for b in fl] == [[5, 4], [3, 2], [1, 0]]


def test_dataloader_uses_getitems_for_batched_access():
    class Batched(fud.Dataset):
        calls = []

        def __getitems__(self, idx):
            self.calls.append(list(idx))
            return [i * 10 for i in idx]

        def __len__(self):
            return 4

    ds = Batched()
    out = [b.tolist() for b in fud.DataLoader(ds, batch_size=3)]
    assert out == [[0, 10, 20], [30]] and Batched.calls == [[0, 1, 2], [3]]


BAD_OPTIONS = [
    {"num_workers": -1},
    {"timeout": -1},
    {"prefetch_factor": 2},
    {"persistent_workers": True},
    {"shuffle": True, "sampler": [0, 1]},
    {"batch_sampler": [[0]], "batch_size": 2},
    {"batch_sampler": [[0]], "drop_last": True},
    {"batch_sampler": [[0]], "shuffle": True},
    {"batch_size": None, "drop_last": True},
    {"multiprocessing_context": "fork"},
    {"num_workers": 1, "multiprocessing_context": "nope"},
]


@pytest.mark.parametrize("kwargs", BAD_OPTIONS)
def test_dataloader_option_errors_match_torch(kwargs):
    with pytest.raises(Exception) as th:
        tud.DataLoader(list(range(4)), **kwargs)
    with pytest.raises(type(th.value)) as fx:
        fud.DataLoader(list(range(4)), **kwargs)
    words = lambda s: s.replace(".", " ").split()  # noqa: E731
    assert words(str(fx.value)) == words(str(th.value))


class _Stream(fud.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


class _TStream(tud.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


@pytest.mark.parametrize("kwargs", [{"shuffle": True}, {"sampler": [0]}, {"batch_sampler": [[0]]}])
def test_dataloader_iterable_dataset_rejects_order_options_like_torch(kwargs):
    with pytest.raises(ValueError) as th:
        tud.DataLoader(_TStream(3), **kwargs)
    with pytest.raises(ValueError) as fx:
        fud.DataLoader(_Stream(3), **kwargs)
    assert str(fx.value).split(", but got")[0] == str(th.value).split(", but got")[0]


@pytest.mark.parametrize("batch_size,drop_last", [(2, False), (2, True), (None, False), (5, False)])
def test_dataloader_iterable_dataset_matches_torch(batch_size, drop_last):
    fl = fud.DataLoader(_Stream(7), batch_size=batch_size, drop_last=drop_last)
    tl = tud.DataLoader(_TStream(7), batch_size=batch_size, drop_last=drop_last)
    assert len(fl) == len(tl)
    assert_same(list(fl), list(tl))


def test_dataloader_iterable_dataset_warns_when_len_is_wrong():
    class Liar(_Stream):
        def __len__(self):
            return 2

    loader = fud.DataLoader(Liar(3), batch_size=None)
    assert len(loader) == 2
    with pytest.warns(UserWarning, match="was reported to be 2"):
        list(loader)


def test_dataloader_attributes_are_frozen_like_torch():
    fl = fud.DataLoader([1, 2], batch_size=1)
    for name in ("batch_size", "sampler", "dataset", "drop_last"):
        with pytest.raises(ValueError, match=f"{name} attribute should not be set after"):
            setattr(fl, name, None)
    fl.num_workers = 0  # not frozen, as in torch


def test_dataloader_pin_memory_warns_without_accelerator():
    with pytest.warns(UserWarning, match="no accelerator is found"):
        list(fud.DataLoader([1.0, 2.0], pin_memory=True))


def test_dataloader_timeout_requires_workers_like_torch():
    with pytest.raises(ValueError, match="timeout option should be 0 when num_workers is 0"):
        iter(fud.DataLoader([1], timeout=1))


# --------------------------------------------------------------------- order vs torch's RNG


@needs_torch_rng
@pytest.mark.parametrize("seed", [0, 7, 2**35 + 5])
@pytest.mark.parametrize("n,batch_size", [(10, 3), (64, 8), (1, 1)])
def test_dataloader_shuffle_with_generator_matches_torch(seed, n, batch_size):
    fds, tds = _datasets(n)
    fl = fud.DataLoader(
        fds, batch_size=batch_size, shuffle=True, generator=fluxion.Generator().manual_seed(seed)
    )
    tl = tud.DataLoader(
        tds, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )
    for _ in range(3):  # epochs: base seed and permutation draws interleave on one generator
        assert_same(list(fl), list(tl))


@needs_torch_rng
@pytest.mark.parametrize("seed", [0, 1234])
def test_dataloader_shuffle_global_seed_matches_torch_and_stays_in_sync(seed):
    fds, tds = _datasets(20)
    fluxion.manual_seed(seed)
    torch.manual_seed(seed)
    fl = fud.DataLoader(fds, batch_size=4, shuffle=True)
    tl = tud.DataLoader(tds, batch_size=4, shuffle=True)
    for _ in range(2):
        assert_same(list(fl), list(tl))
    assert fluxion.rand(5).tolist() == torch.rand(5).tolist()


@needs_torch_rng
def test_dataloader_without_shuffle_draws_the_base_seed_like_torch():
    fds, tds = _datasets(4)
    fluxion.manual_seed(3)
    torch.manual_seed(3)
    list(fud.DataLoader(fds, batch_size=2))
    list(tud.DataLoader(tds, batch_size=2))
    assert fluxion.rand(3).tolist() == torch.rand(3).tolist()


@needs_torch_rng
def test_dataloader_partial_epoch_keeps_stream_in_sync_like_torch():
    fds, tds = _datasets(12)
    fluxion.manual_seed(8)
    torch.manual_seed(8)
    fit = iter(fud.DataLoader(fds, batch_size=5, shuffle=True))
    tit = iter(tud.DataLoader(tds, batch_size=5, shuffle=True))
    # the base seed is drawn when the iterator is made, the permutation at the first batch
    assert fluxion.rand(2).tolist() == torch.rand(2).tolist()
    assert_same(next(fit), next(tit))
    assert fluxion.rand(2).tolist() == torch.rand(2).tolist()


@needs_torch_rng
def test_dataloader_random_split_then_loader_matches_torch():
    n = 30
    fds, tds = _datasets(n)
    fg, tg = fluxion.Generator().manual_seed(42), torch.Generator().manual_seed(42)
    ftrain, _ = fud.random_split(fds, [0.8, 0.2], generator=fg)
    ttrain, _ = tud.random_split(tds, [0.8, 0.2], generator=tg)
    fl = fud.DataLoader(ftrain, batch_size=6, shuffle=True, generator=fg)
    tl = tud.DataLoader(ttrain, batch_size=6, shuffle=True, generator=tg)
    assert_same(list(fl), list(tl))


def test_dataloader_shuffle_with_same_generator_seed_is_reproducible():
    fds, _ = _datasets(25)
    runs = [
        [
            b[1].tolist()
            for b in fud.DataLoader(
                fds, batch_size=4, shuffle=True, generator=fluxion.Generator().manual_seed(1)
            )
        ]
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    assert sorted(sum(runs[0], [])) == list(range(25))
    assert sum(runs[0], []) != list(range(25))


def test_dataloader_warns_when_more_workers_than_cpus():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        fud.DataLoader([1], num_workers=10_000)
    assert any("worker processes in total" in str(x.message) for x in w)
