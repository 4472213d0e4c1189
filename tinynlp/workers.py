"""The worker threads that share a kernel's independent parts (attention's chunks of
sequences, a recurrence's blocks of batch rows) over tinynlp's thread count.

NumPy's products and tinynlp's Numba kernels (``nogil=True``) release the GIL, so
plain threads run them in parallel.  :func:`run_parts` gives every part but the
first to the pool and runs the first on the calling thread, then waits for all.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["worker_pool", "run_parts", "row_blocks"]

_pool = None
_pool_pid = None
_pool_lock = threading.Lock()


def worker_pool() -> ThreadPoolExecutor:
    """The pool (made on first use, and again in a forked child: a fork copies no threads)."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(max_workers=max(1, (os.cpu_count() or 2) - 1),
                                       thread_name_prefix="tinynlp-worker")
            _pool_pid = os.getpid()
        return _pool


def run_parts(work, parts) -> None:
    """``work(*part)`` for every part, the first on the calling thread and the others on
    :func:`worker_pool`'s threads; returns when all are done (re-raising the first error)."""
    parts = list(parts)
    if len(parts) <= 1:
        for part in parts:
            work(*part)
        return
    pool = worker_pool()
    futures = [pool.submit(work, *part) for part in parts[1:]]
    try:
        work(*parts[0])
    finally:
        for f in futures:
            f.result()


def row_blocks(n: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ranges ``(lo, hi)`` covering ``range(n)``, sizes differing by at
    most one (fewer when ``n < parts``)."""
    parts = max(1, min(parts, n))
    bounds = [n * i // parts for i in range(parts + 1)]
    return list(zip(bounds[:-1], bounds[1:]))
