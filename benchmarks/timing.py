"""The best-of-N timer and the command-line options the micro-benchmark scripts share."""

from __future__ import annotations

import argparse
import time


def best_seconds(fn, reps, budget=3.0) -> float:
    """Best wall time of up to ``reps`` calls of ``fn()`` after one warm-up call (at
    least 3 calls; no new call starts after ``budget`` seconds), in seconds."""
    fn()
    ts, t_end = [], time.perf_counter() + budget
    while len(ts) < reps and (len(ts) < 3 or time.perf_counter() < t_end):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts)


def rounds_parser(description, batches="32,256") -> argparse.ArgumentParser:
    """The options of a script that times a few ways in interleaved rounds: ``--threads``,
    ``--batches``, ``--rounds`` and ``--quick`` (tiny sizes, for the tests)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batches", default=batches)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--quick", action="store_true")
    return p
