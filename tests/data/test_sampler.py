"""Samplers against torch.utils.data: index order, lengths, argument errors."""

from __future__ import annotations

import pytest
import torch
import torch.utils.data as tud

import fluxion
import fluxion.utils.data as fud

from .helpers import needs_torch_rng


def test_sequential_sampler_matches_torch():
    data = list("abcde")
    assert list(fud.SequentialSampler(data)) == list(tud.SequentialSampler(data))
    assert len(fud.SequentialSampler(data)) == 5


@pytest.mark.parametrize("n,bs", [(10, 3), (9, 3), (1, 4), (7, 1)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_sampler_matches_torch(n, bs, drop_last):
    fx = fud.BatchSampler(fud.SequentialSampler(range(n)), bs, drop_last)
    th = tud.BatchSampler(tud.SequentialSampler(range(n)), bs, drop_last)
    assert list(fx) == list(th)
    assert len(fx) == len(th)


@pytest.mark.parametrize("bad", [0, -1, 2.0, True])
def test_batch_sampler_rejects_bad_batch_size_like_torch(bad):
    with pytest.raises(ValueError, match="batch_size should be a positive integer value") as fx:
        fud.BatchSampler(range(3), bad, False)
    with pytest.raises(ValueError) as th:
        tud.BatchSampler(range(3), bad, False)
    assert str(fx.value) == str(th.value)
    with pytest.raises(ValueError, match="drop_last should be a boolean value"):
        fud.BatchSampler(range(3), 2, 1)


def test_random_sampler_argument_errors_match_torch():
    for mod in (fud, tud):
        with pytest.raises(TypeError, match="replacement should be a boolean value"):
            mod.RandomSampler(range(3), replacement=1)
        with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
            mod.RandomSampler(range(3), num_samples=0)
        with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
            mod.RandomSampler([], num_samples=None)


def test_random_sampler_is_a_permutation_and_len():
    s = fud.RandomSampler(range(20), generator=fluxion.Generator().manual_seed(1))
    assert sorted(s) == list(range(20)) and len(s) == 20
    s = fud.RandomSampler(range(5), num_samples=12, generator=fluxion.Generator().manual_seed(1))
    out = list(s)
    assert len(out) == len(s) == 12 and sorted(out[:5]) == list(range(5))


@needs_torch_rng
@pytest.mark.parametrize("seed", [0, 3, 2**33 + 1])
@pytest.mark.parametrize("n", [1, 7, 50, 1000])
def test_random_sampler_with_generator_matches_torch(seed, n):
    fg, tg = fluxion.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
    fs, ts = fud.RandomSampler(range(n), generator=fg), tud.RandomSampler(range(n), generator=tg)
    for _ in range(2):  # two epochs: the generator stream continues
        assert list(fs) == list(ts)


@needs_torch_rng
@pytest.mark.parametrize("seed", [0, 11])
def test_random_sampler_global_seed_matches_torch_and_stays_in_sync(seed):
    fluxion.manual_seed(seed)
    torch.manual_seed(seed)
    fs, ts = fud.RandomSampler(range(40)), tud.RandomSampler(range(40))
    assert list(fs) == list(ts)
    assert list(fs) == list(ts)
    assert fluxion.randn(4).tolist() == torch.randn(4).tolist()


@needs_torch_rng
@pytest.mark.parametrize(
    "kwargs",
    [
        {"replacement": True},
        {"replacement": True, "num_samples": 70},
        {"replacement": True, "num_samples": 5},
        {"num_samples": 23},
        {"num_samples": 4},
    ],
)
def test_random_sampler_replacement_and_num_samples_match_torch(kwargs):
    fg, tg = fluxion.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    fs = fud.RandomSampler(range(10), generator=fg, **kwargs)
    ts = tud.RandomSampler(range(10), generator=tg, **kwargs)
    assert list(fs) == list(ts)
    assert len(fs) == len(ts)


@needs_torch_rng
def test_subset_random_sampler_matches_torch():
    idx = [3, 9, 27, 81, 1, 4]
    fs = fud.SubsetRandomSampler(idx, generator=fluxion.Generator().manual_seed(2))
    ts = tud.SubsetRandomSampler(idx, generator=torch.Generator().manual_seed(2))
    assert list(fs) == list(ts) and len(fs) == len(ts)


@needs_torch_rng
@pytest.mark.parametrize("replacement", [True, False])
def test_weighted_random_sampler_matches_torch(replacement):
    w = [0.1, 0.9, 0.4, 0.7, 3.0, 0.6]
    fs = fud.WeightedRandomSampler(w, 5, replacement, generator=fluxion.Generator().manual_seed(4))
    ts = tud.WeightedRandomSampler(w, 5, replacement, generator=torch.Generator().manual_seed(4))
    assert list(fs) == list(ts)


def test_weighted_random_sampler_errors_match_torch():
    for mod in (fud, tud):
        with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
            mod.WeightedRandomSampler([1.0], 0)
        with pytest.raises(ValueError, match="replacement should be a boolean value"):
            mod.WeightedRandomSampler([1.0], 1, replacement=None)
        with pytest.raises(ValueError, match=r"weights should be a 1d sequence .* shape \(1, 2\)"):
            mod.WeightedRandomSampler([[1.0, 2.0]], 1)


def test_weighted_random_sampler_only_draws_positive_weights():
    s = fud.WeightedRandomSampler([0.0, 2.0, 0.0, 1.0], 50)
    assert set(s) <= {1, 3}
