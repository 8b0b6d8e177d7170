"""DataLoader with worker processes: same batches as in-process, torch's seeding, errors."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch
import torch.utils.data as tud
from torch.utils.data._utils.worker import _generate_state

import fluxion
import fluxion.utils.data as fud
from fluxion.utils.data.worker import numpy_seed

from .helpers import assert_same, needs_torch_rng

# a 2-core machine runs the 3-worker cases too; the warning about that is expected
pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create")


@pytest.mark.parametrize("base_seed", [0, 1, 2**32 - 1, 2**32, 2**63 - 1, 123456789012345])
@pytest.mark.parametrize("worker_id", [0, 1, 7])
def test_numpy_seed_of_worker_matches_torch(base_seed, worker_id):
    assert numpy_seed(base_seed, worker_id) == _generate_state(base_seed, worker_id)


def _tensor_ds(n=23):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    return fud.TensorDataset(fluxion.tensor(x), fluxion.arange(n))


@pytest.mark.parametrize("num_workers", [1, 2, 3])
@pytest.mark.parametrize("batch_size", [4, None])
def test_workers_give_the_same_batches_as_main_process(num_workers, batch_size):
    ds = _tensor_ds()
    ref = list(fud.DataLoader(ds, batch_size=batch_size))
    got = list(fud.DataLoader(ds, batch_size=batch_size, num_workers=num_workers))
    assert len(got) == len(ref)
    for a, b in zip(got, ref):
        for ta, tb in zip(a, b):
            assert ta.dtype == tb.dtype and ta.tolist() == tb.tolist()


def test_workers_in_order_false_gives_every_batch():
    ds = _tensor_ds(40)
    got = list(fud.DataLoader(ds, batch_size=3, num_workers=2, in_order=False))
    assert sorted(i for b in got for i in b[1].tolist()) == list(range(40))


class _SeedProbe(fud.Dataset):
    """Each item reports where and with which random state it was made."""

    def __getitem__(self, i):
        info = fud.get_worker_info()
        return (
            info.id,
            info.num_workers,
            info.seed,
            fluxion.rand(2).tolist(),
            float(np.random.rand()),
            random.random(),
        )

    def __len__(self):
        return 8


class _TSeedProbe(tud.Dataset):
    def __getitem__(self, i):
        info = tud.get_worker_info()
        return (
            info.id,
            info.num_workers,
            info.seed,
            torch.rand(2).tolist(),
            float(np.random.rand()),
            random.random(),
        )

    def __len__(self):
        return 8


def _plain(batch):
    return batch


@needs_torch_rng
@pytest.mark.parametrize("with_generator", [False, True])
def test_worker_seeds_and_random_streams_match_torch(with_generator):
    fluxion.manual_seed(17)
    torch.manual_seed(17)
    fg = fluxion.Generator().manual_seed(5) if with_generator else None
    tg = torch.Generator().manual_seed(5) if with_generator else None
    kw = {"batch_size": 2, "num_workers": 2, "collate_fn": _plain, "shuffle": True}
    fx = list(fud.DataLoader(_SeedProbe(), generator=fg, **kw))
    th = list(tud.DataLoader(_TSeedProbe(), generator=tg, **kw))
    assert fx == th
    assert {b[0][0] for b in fx} == {0, 1}
    # the main process's stream advanced by the same draws
    assert fluxion.rand(2).tolist() == torch.rand(2).tolist()


def test_get_worker_info_and_worker_init_fn_run_in_the_worker():
    class Where(fud.Dataset):
        def __getitem__(self, i):
            info = fud.get_worker_info()
            return (
                os.getpid(),
                info.id,
                info.num_workers,
                info.seed,
                os.environ["FX_INIT"],
                isinstance(info.dataset, Where),
            )

        def __len__(self):
            return 6

    def init(worker_id):
        os.environ["FX_INIT"] = f"init{worker_id}"

    g = fluxion.Generator().manual_seed(3)
    rows = [
        r
        for b in fud.DataLoader(
            Where(),
            batch_size=1,
            num_workers=2,
            worker_init_fn=init,
            collate_fn=_plain,
            generator=g,
        )
        for r in b
    ]
    base = rows[0][3] - rows[0][1]
    for pid, wid, n, seed, env, same in rows:
        assert pid != os.getpid() and n == 2 and env == f"init{wid}" and same
        assert seed == base + wid
    assert [r[1] for r in rows] == [0, 1, 0, 1, 0, 1]  # round-robin
    assert fud.get_worker_info() is None


class _Sharded(fud.IterableDataset):
    """Each worker yields its own slice; workers end at different times."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = fud.get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


class _TSharded(tud.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = tud.get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


@pytest.mark.parametrize("n,batch_size,workers", [(11, 2, 2), (10, 3, 3), (5, None, 2), (9, 4, 1)])
def test_iterable_dataset_with_workers_matches_torch_order(n, batch_size, workers):
    fl = fud.DataLoader(_Sharded(n), batch_size=batch_size, num_workers=workers)
    tl = tud.DataLoader(_TSharded(n), batch_size=batch_size, num_workers=workers)
    assert_same(list(fl), list(tl))


class _Fails(fud.Dataset):
    def __init__(self, exc):
        self.exc = exc

    def __getitem__(self, i):
        if i == 3:
            raise self.exc
        return i

    def __len__(self):
        return 6


@pytest.mark.parametrize("exc", [ValueError("bad item 3"), KeyError("k3"), IndexError("idx")])
def test_worker_exception_is_reraised_with_its_type_and_traceback(exc):
    loader = fud.DataLoader(_Fails(exc), batch_size=2, num_workers=2)
    with pytest.raises(type(exc)) as info:
        list(loader)
    msg = str(info.value)
    assert f"Caught {type(exc).__name__} in DataLoader worker process 1" in msg
    assert "Original Traceback" in msg and "raise self.exc" in msg


def test_worker_init_fn_error_is_reported():
    def init(worker_id):
        raise RuntimeError(f"init failed in {worker_id}")

    with pytest.raises(RuntimeError, match="init failed in 0"):
        list(fud.DataLoader(list(range(4)), num_workers=1, worker_init_fn=init))


class _Dies(fud.Dataset):
    def __getitem__(self, i):
        os._exit(3)

    def __len__(self):
        return 2


def test_worker_that_dies_raises_runtime_error():
    with pytest.raises(
        RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly"
    ):
        list(fud.DataLoader(_Dies(), num_workers=1))


class _Slow(fud.Dataset):
    def __getitem__(self, i):
        import time

        time.sleep(30)
        return i

    def __len__(self):
        return 2


def test_worker_timeout_raises_runtime_error():
    loader = fud.DataLoader(_Slow(), num_workers=1, timeout=1)
    with pytest.raises(RuntimeError, match="DataLoader timed out after 1 seconds"):
        next(iter(loader))


def test_persistent_workers_are_reused_across_epochs():
    class Pid(fud.Dataset):
        def __getitem__(self, i):
            return os.getpid(), i

        def __len__(self):
            return 6

    loader = fud.DataLoader(
        Pid(), batch_size=2, num_workers=2, persistent_workers=True, collate_fn=_plain
    )
    epochs = [[r for b in loader for r in b] for _ in range(3)]
    for rows in epochs:
        assert [i for _, i in rows] == list(range(6))
    assert {p for p, _ in epochs[0]} == {p for p, _ in epochs[2]}
    assert len({p for p, _ in epochs[0]}) == 2


def test_persistent_workers_restart_an_iterable_dataset_each_epoch():
    loader = fud.DataLoader(_Sharded(7), batch_size=2, num_workers=2, persistent_workers=True)
    tl = tud.DataLoader(_TSharded(7), batch_size=2, num_workers=2, persistent_workers=True)
    for _ in range(2):
        assert_same(list(loader), list(tl))


def test_persistent_workers_after_a_partial_epoch():
    loader = fud.DataLoader(list(range(10)), batch_size=2, num_workers=2, persistent_workers=True)
    it = iter(loader)
    next(it)
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]


def test_workers_shut_down_when_the_iterator_is_dropped():
    loader = fud.DataLoader(list(range(100)), batch_size=2, num_workers=2)
    it = iter(loader)
    next(it)
    procs = list(it._workers)
    del it
    for p in procs:
        p.join(timeout=10)
        assert not p.is_alive()


class _BigExp(fud.Dataset):
    def __getitem__(self, i):
        x = fluxion.full((1 << 20,), 2.0) + fluxion.zeros(1 << 20)  # contiguous: threaded path
        return float(x.exp().sum())

    def __len__(self):
        return 1


def test_worker_can_run_large_threaded_ops_after_fork():
    # The backend's thread pool is dropped in forked children (os.register_at_fork): a worker
    # that runs a large threaded ufunc must not wait on the parent's threads.
    fluxion.rand(1 << 20).exp()  # make sure the parent has started its thread pool
    loader = fud.DataLoader(_BigExp(), batch_size=None, num_workers=1, timeout=5)
    assert list(loader) == [pytest.approx(np.exp(2.0) * (1 << 20), rel=1e-4)]
