"""The best-of-N timer the micro-benchmark scripts share."""

from __future__ import annotations

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
