"""Shared fixtures: fluxion in doctests, seeded RNGs."""

import numpy as np
import pytest

import fluxion


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace):
    doctest_namespace["fluxion"] = fluxion
    doctest_namespace["np"] = np


@pytest.fixture
def rng():
    return np.random.default_rng(0)
