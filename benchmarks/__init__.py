"""Side-by-side benchmarks of fluxion and torch (``python -m benchmarks --against torch``)."""

import os

# NumPy's OpenBLAS worker threads spin for a long while after each call (2**28 cycles by
# default). In one process that alternates fluxion and torch on 2 cores, torch's OpenMP threads
# then wait for cores that OpenBLAS is busy spinning on (measured: torch's MLP step 0.6 ms
# alone, 120 ms right after a fluxion step). OpenBLAS's own knob makes its idle threads sleep
# at once; it must be set before NumPy is first imported.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
