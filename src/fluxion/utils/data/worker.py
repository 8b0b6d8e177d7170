"""What runs inside a DataLoader worker process, and ``get_worker_info``.

A worker seeds itself as PyTorch's do: Python's ``random`` and fluxion's default generator with
``base_seed + worker_id``, NumPy's global state with the same 4-word hash of
``(base_seed, worker_id)`` PyTorch uses; then it fetches and collates the batches whose indices
the main process sends, and sends them back tagged with their task number.
"""

from __future__ import annotations

import os
import queue
import random
import sys
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

import fluxion

__all__ = ["WorkerInfo", "get_worker_info"]

# how often (seconds) a blocked worker checks that its parent is still alive
POLL_INTERVAL = 1.0


@dataclass(frozen=True)
class WorkerInfo:
    """Where this code runs: worker ``id`` of ``num_workers``, its ``seed`` and its ``dataset``."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """Return this worker's :class:`WorkerInfo`, or ``None`` in the main process.

    Inside a worker, ``dataset`` is the worker's own copy of the dataset, ``seed`` is
    ``base_seed + id`` (what fluxion's default generator was seeded with).

    >>> fluxion.utils.data.get_worker_info() is None
    True
    """
    return _worker_info


class ExceptionWrapper:
    """An exception raised in a worker, carried to the main process as type + traceback text."""

    def __init__(self, where: str) -> None:
        exc_type, exc, _ = sys.exc_info()
        self.exc_type = exc_type
        self.where = where
        self.text = "".join(traceback.format_exception(exc_type, exc, exc.__traceback__))

    def reraise(self) -> None:
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.text}"
        if self.exc_type is KeyError:
            raise KeyError(_MultilineMessage(msg))
        try:
            exc = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise exc


class _MultilineMessage(str):
    # KeyError reprs its argument; keep the traceback readable
    def __repr__(self) -> str:
        return str(self)


@dataclass(frozen=True)
class IterableEnd:
    """Sent by a worker whose copy of an IterableDataset is exhausted."""

    worker_id: int


@dataclass(frozen=True)
class ResumeIteration:
    """Sent to persistent workers at the start of a new epoch: rebuild the fetcher, then ack."""


def numpy_seed(base_seed: int, worker_id: int) -> list[int]:
    """Four 32-bit words seeding NumPy's global RNG in worker ``worker_id`` (PyTorch's hash).

    The words come from a small integer hash that mixes ``worker_id`` and the two halves of
    ``base_seed`` (the scheme of NumPy's ``SeedSequence``, with PyTorch's constants).
    """
    mask = 0xFFFFFFFF
    mult_a, mult_b = 0x931E8875, 0x58F38DED
    state = {"a": 0x43B0D7E5}

    def hash_a(value: int) -> int:
        value = (value ^ state["a"]) & mask
        state["a"] = (state["a"] * mult_a) & mask
        value = (value * state["a"]) & mask
        return value ^ (value >> 16)

    def mix(x: int, y: int) -> int:
        r = ((0xCA01F9DD * x) - (0x4973F715 * y)) & mask
        return r ^ (r >> 16)

    pool = [hash_a(v) for v in (worker_id, base_seed & mask, base_seed >> 32, 0)]
    for src in range(4):
        for dst in range(4):
            if src != dst:
                pool[dst] = mix(pool[dst], hash_a(pool[src]))
    out, const_b = [], 0x8B51F9DD
    for word in pool:
        word = (word ^ const_b) & mask
        const_b = (const_b * mult_b) & mask
        word = (word * const_b) & mask
        out.append(word ^ (word >> 16))
    return out


class MapFetcher:
    """Fetch a batch (list of indices) or one item from a map-style dataset and collate it."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Any, drop_last: bool):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        getitems = getattr(dataset, "__getitems__", None)
        self.getitems = getitems if callable(getitems) else None

    def fetch(self, index: Any) -> Any:
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self.getitems is not None:
            return self.collate_fn(self.getitems(index))
        return self.collate_fn([self.dataset[i] for i in index])


class IterableFetcher:
    """Take the next item (or ``len(index)`` items) from an IterableDataset and collate them."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Any, drop_last: bool):
        self.iterator = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, index: Any) -> Any:
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.iterator))
        items = []
        for _ in index:
            try:
                items.append(next(self.iterator))
            except StopIteration:
                self.ended = True
                break
        if not items or (self.drop_last and len(items) < len(index)):
            raise StopIteration
        return self.collate_fn(items)


def make_fetcher(iterable: bool, dataset: Any, auto_collation: bool, collate_fn: Any, drop_last):
    cls = IterableFetcher if iterable else MapFetcher
    return cls(dataset, auto_collation, collate_fn, drop_last)


def worker_loop(
    iterable: bool,
    dataset: Any,
    index_queue: Any,
    data_queue: Any,
    done_event: Any,
    auto_collation: bool,
    collate_fn: Any,
    drop_last: bool,
    base_seed: int,
    init_fn: Any,
    worker_id: int,
    num_workers: int,
) -> None:
    """Serve ``(task_id, index)`` requests from ``index_queue`` until ``None`` arrives."""
    global _worker_info
    try:
        seed = base_seed + worker_id
        random.seed(seed)
        fluxion.manual_seed(seed)
        np.random.seed(numpy_seed(base_seed, worker_id))
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
        where = f"in DataLoader worker process {worker_id}"
        init_error = None
        fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = make_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
        except Exception:
            init_error = ExceptionWrapper(where)
        ended = False
        parent = os.getppid()
        while True:
            try:
                task = index_queue.get(timeout=POLL_INTERVAL)
            except queue.Empty:
                if os.getppid() != parent:  # the main process died: nobody will read our output
                    return
                continue
            if task is None:
                break
            if isinstance(task, ResumeIteration):
                data_queue.put((task, None))
                ended = False
                fetcher = make_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
                continue
            if done_event.is_set() or ended:
                continue  # shutting down, or exhausted: wait for the final None
            task_id, index = task
            if init_error is not None:
                data, init_error = init_error, None
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    if not iterable:
                        data = ExceptionWrapper(where)
                    else:
                        data, ended = IterableEnd(worker_id), True
                except Exception:
                    data = ExceptionWrapper(where)
            data_queue.put((task_id, data))
            del data, task, index
    except KeyboardInterrupt:
        pass  # the main process raises it
    if done_event.is_set():
        data_queue.cancel_join_thread()
        data_queue.close()
