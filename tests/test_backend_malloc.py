"""glibc malloc tuning: a training step's freed arrays are reused, not faulted in again."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_glibc = sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION") is not None

# Six 8 MiB arrays, written, then freed, 20 times: a step's worth of activations. Prints the
# page faults of the last 10 rounds (the first ones settle the heap).
_STEP_LOOP = """
import resource, numpy as np, fluxion
from fluxion._backend import _malloc
faults = 0
for i in range(20):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    arrays = [np.ones(1 << 21, dtype=np.float32) for _ in range(6)]
    del arrays
    if i >= 10:
        faults += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(_malloc.TUNED, faults)
"""


def _run(tune: str) -> tuple[str, int]:
    env = dict(os.environ, FLUXION_MALLOC_TUNE=tune)
    out = subprocess.run(
        [sys.executable, "-c", _STEP_LOOP], env=env, capture_output=True, text=True, check=True
    )
    tuned, faults = out.stdout.split()
    return tuned, int(faults)


@pytest.mark.skipif(not _glibc, reason="malloc tuning is glibc-only")
def test_freed_arrays_are_reused_without_page_faults() -> None:
    tuned, faults = _run("1")
    untuned, untuned_faults = _run("0")
    assert (tuned, untuned) == ("True", "False")
    # 10 rounds of 48 MiB is 120K pages when glibc hands the memory back each round
    assert untuned_faults > 10_000, "the loop no longer shows glibc's default behaviour"
    assert faults < 1_000
