"""Run fluxion and torch side by side, alternating, and print medians and ratios.

Usage: ``python -m benchmarks --against torch [--repeat 15] [--only overhead,matmul]``

Columns: torch (eager), fluxion eager, and fluxion with ``fluxion.jit.trace_backward`` (forward
and backward replayed; optimiser steps eager), each with its ratio to torch.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time

from .workloads import MEMORY_BOUND, WORKLOADS


def _time(step, number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        step()
    return (time.perf_counter() - t0) / number


def _settle() -> None:
    """Let the other library's idle BLAS/OpenMP threads stop spinning before timing.

    NumPy's OpenBLAS threads spin for about 0.1 s after each call (2**28 cycles) and torch's
    OpenMP threads for a while too. Timed right after the other library, a step on 2 cores then
    waits for cores that idle threads are spinning on (measured: torch's MLP step 0.6 ms alone,
    120 ms right after fluxion's). A short sleep puts them to sleep, as in a real program that
    uses one library.
    """
    time.sleep(0.2)


def _peak_rss_mb(lib_name: str) -> float:
    """Peak RSS above the post-import baseline, measured in a fresh process.

    NOTE: getrusage's ru_maxrss survives exec (the child would inherit this process's peak), so
    the peak is read from /proc (VmHWM), which starts afresh with the new address space.
    """
    code = (
        "import importlib, sys\n"
        "sys.path.insert(0, '.')\n"
        f"lib = importlib.import_module('{lib_name}')\n"
        "from benchmarks.workloads import memory\n"
        "step = memory(lib)\n"
        "def status(key):\n"
        "    with open('/proc/self/status') as f:\n"
        "        for line in f:\n"
        "            if line.startswith(key):\n"
        "                return int(line.split()[1]) / 1024\n"
        "base = status('VmRSS')\n"
        "step()\n"
        "print(status('VmHWM') - base)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--against", default="torch", choices=["torch"])
    ap.add_argument("--repeat", type=int, default=11)
    ap.add_argument("--only", default="")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    import torch

    import fluxion

    torch.set_num_threads(2)
    only = [w for w in args.only.split(",") if w]
    rows = []
    for name, (make, per, bound) in WORKLOADS.items():
        if only and name not in only:
            continue
        steps = {
            "torch": make(torch),
            "eager": make(fluxion),
            "traced": make(fluxion, traced=True),
        }
        for s in steps.values():  # warm up all three (the traced one traces here)
            s()
            s()
        probe = _time(steps["torch"], 1)
        number = max(1, int(0.05 / max(probe, 1e-6)))
        times: dict = {k: [] for k in steps}
        for _ in range(args.repeat):  # alternate, so drift hits every contender alike
            for k, s in steps.items():
                _settle()
                times[k].append(_time(s, number))
        med = {k: statistics.median(v) for k, v in times.items()}
        # The ratio is the median of the per-round ratios: each fluxion block against the torch
        # block timed just before it, so the VM's slow swings (2x here) cancel out.
        ratio = {
            k: statistics.median(a / b for a, b in zip(times[k], times["torch"]))
            for k in ("eager", "traced")
        }
        unit, scale = ("us/op", 1e6 / per) if per > 1 else ("ms", 1e3)
        rows.append(
            (
                name,
                med["torch"] * scale,
                med["eager"] * scale,
                ratio["eager"],
                med["traced"] * scale,
                ratio["traced"],
                unit,
                bound,
            )
        )
    if not only or "memory" in only:
        fm, tm = _peak_rss_mb("fluxion"), _peak_rss_mb("torch")
        rows.append(("memory", tm, fm, fm / tm, None, None, "MB", MEMORY_BOUND))

    if args.json:
        print(json.dumps(rows))
        return 0
    print(
        f"fluxion {fluxion.__version__} vs torch {torch.__version__}, numpy "
        f"{__import__('numpy').__version__}, Python {platform.python_version()}, "
        f"{platform.machine()}, {args.repeat} alternating rounds: median times, median ratios"
    )
    print(
        f"{'workload':<18}{'unit':<6}{'torch':>10}{'eager':>10}{'ratio':>7}"
        f"{'traced':>10}{'ratio':>7}{'bound':>7}"
    )
    for name, t, e, er, tr, trr, unit, bound in rows:
        traced = f"{tr:>10.2f}{trr:>7.2f}" if tr is not None else f"{'-':>10}{'-':>7}"
        print(f"{name:<18}{unit:<6}{t:>10.2f}{e:>10.2f}{er:>7.2f}{traced}{bound:>7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
