"""Shared fixtures: fluxion in doctests, seeded RNGs; the ``torch_mkl_bernoulli`` marker."""

import numpy as np
import pytest

import fluxion


def _torch_bernoulli_uses_mkl() -> bool:
    """torch's CPU ``bernoulli_(float p)`` (dropout's masks) draws from MKL on Intel CPUs.

    fluxion reproduces torch's own generator (mt19937), which torch uses everywhere else; tests
    that compare such masks with torch bit for bit cannot hold on those machines.
    """
    try:
        with open("/proc/cpuinfo") as f:
            intel = "GenuineIntel" in f.read(4096)
        import torch

        return intel and torch.backends.mkl.is_available()
    except (OSError, ImportError):
        return False


def pytest_collection_modifyitems(config, items):
    if not any(item.get_closest_marker("torch_mkl_bernoulli") for item in items):
        return
    if _torch_bernoulli_uses_mkl():
        skip = pytest.mark.skip(
            reason="torch draws bernoulli_(float p) from MKL on Intel CPUs (fluxion: mt19937)"
        )
        for item in items:
            if item.get_closest_marker("torch_mkl_bernoulli"):
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace):
    doctest_namespace["fluxion"] = fluxion
    doctest_namespace["np"] = np


@pytest.fixture
def rng():
    return np.random.default_rng(0)
