"""The worker threads that share a kernel's independent parts (attention's chunks of
sequences, a recurrence's blocks of batch rows, a whole model's forward over blocks of
the batch) over tinynlp's thread count.

NumPy's products and tinynlp's Numba kernels (``nogil=True``) release the GIL, so
plain threads run them in parallel.  :func:`run_parts` gives every part but the
first to the pool and runs the first on the calling thread, then waits for all.

:func:`run_batch_blocks` is the coarsest split: at inference every row of a batch
is computed from that row alone, so a model's whole forward can run on a block of
the batch per thread, each thread with one BLAS thread and one Numba thread.  The
threads then meet once per forward instead of inside every product (OpenBLAS's own
hand-off, one per GEMM, is what a second thread cost the baby GPT).  Whether that
is faster depends on the model and the batch: :class:`BlockChoice` measures it
(``benchmarks/NOTES.md`` section 18).  A train step can run in blocks as well, its
weight gradients added up afterwards (:mod:`tinynlp.models.train_blocks`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numba

from .kernels.blas import blas_thread_setters, short_blas_spin

__all__ = ["worker_pool", "run_parts", "row_blocks", "batch_blocks", "run_batch_blocks",
           "one_blas_thread", "BlockChoice"]

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
    return list(itertools.pairwise(bounds))


_one_thread_lock = threading.Lock()
_one_thread_users = 0
_saved_blas_threads = None


@contextlib.contextmanager
def one_blas_thread():
    """NumPy's OpenBLAS at one thread inside the block, its previous count restored after.

    OpenBLAS's thread count is one setting for the whole process, so the entries
    are counted: with several callers at once (two requests served together),
    the count is restored when the last one leaves.  Without NumPy's OpenBLAS
    (another BLAS) this does nothing.
    """
    global _one_thread_users, _saved_blas_threads
    setters = blas_thread_setters()
    if setters is None:
        yield
        return
    get, set_ = setters
    with _one_thread_lock:
        if _one_thread_users == 0:
            _saved_blas_threads = get()
            if _saved_blas_threads != 1:
                set_(1)
        _one_thread_users += 1
    try:
        yield
    finally:
        with _one_thread_lock:
            _one_thread_users -= 1
            if _one_thread_users == 0 and _saved_blas_threads != 1:
                set_(_saved_blas_threads)


def batch_blocks(n: int) -> list[tuple[int, int]]:
    """The blocks of a batch of ``n`` independent rows that :func:`run_batch_blocks` gives
    one thread each: as many as tinynlp's thread count (``numba.get_num_threads()``
    on the calling thread).

    One block (no split) when there is one thread, when NumPy's BLAS is not the
    OpenBLAS whose thread count tinynlp can set, or when OpenBLAS's idle threads
    spin long enough to take a core from the blocks
    (:func:`~tinynlp.kernels.blas.short_blas_spin`).
    """
    parts = min(numba.get_num_threads(), n)
    if parts <= 1 or blas_thread_setters() is None or not short_blas_spin():
        return [(0, n)]
    return row_blocks(n, parts)


def run_batch_blocks(work, blocks) -> list:
    """``[work(lo, hi) for (lo, hi) in blocks]``, the blocks on parallel threads
    (:func:`run_parts`), each with one OpenBLAS thread (:func:`one_blas_thread`) and one
    Numba thread (so that nothing inside splits again).  One block runs as it is, on
    the calling thread with the caller's threads."""
    if len(blocks) <= 1:
        return [work(lo, hi) for lo, hi in blocks]
    results = [None] * len(blocks)

    def part(i, lo, hi):
        previous = numba.get_num_threads()
        numba.set_num_threads(1)           # Numba's count is per thread
        try:
            results[i] = work(lo, hi)
        finally:
            numba.set_num_threads(previous)

    with one_blas_thread():
        run_parts(part, [(i, lo, hi) for i, (lo, hi) in enumerate(blocks)])
    return results


class BlockChoice:
    """A model's inference, whole or in blocks of the batch, whichever ran faster here.

    Whether the blocks win depends on the model and the machine: measured on the
    2-core VM (``benchmarks/batch_blocks.py``, ``benchmarks/NOTES.md`` section 18),
    the blocks took 12–21 % off forwards of 2.4 ms and more (the text CNN, the
    Transformers, the Elman RNN at batch 256) and made a 0.09 ms forward 3.5 times
    slower (the hand-off to a thread costs more than the work).  So :meth:`run`
    measures, for each input shape and thread count: one untimed call (a warm-up),
    then :data:`TRIALS` calls each way, alternating (whole first); after that it
    takes the way with the smaller minimum time.  Both ways give the same numbers
    (every row is computed from its own inputs), so the choice changes only the speed.
    (A train step's blocks add the gradients up in another order, so they follow a
    fixed rule instead: :mod:`tinynlp.models.train_blocks`.)
    """

    #: timed calls of each way per input shape before choosing
    TRIALS = 3
    #: input shapes remembered (the oldest is forgotten first)
    MAX_SIZES = 32

    def __init__(self, force=None, clock=time.perf_counter):
        """``force``: True — always in blocks (when there is more than one), False — never,
        None — measure and choose."""
        self.force = force
        self._clock = clock
        self._times = {}                 # (shape, threads) -> ([whole s], [blocks s])
        self._chosen = {}                # (shape, threads) -> True (blocks) / False (whole)

    def run(self, shape, whole, block, combine):
        """``whole()``, or ``combine([block(lo, hi) for each block])`` with the blocks on
        parallel threads (:func:`run_batch_blocks`), for an input of ``shape`` (rows
        first)."""
        n = shape[0] if len(shape) else 0
        threads = numba.get_num_threads()
        if self.force is False or threads <= 1 or n <= 1:
            return whole()
        key = (tuple(shape), threads)
        chosen = True if self.force else self._chosen.get(key)
        if chosen is False:              # the common case once measured: nothing else to do
            return whole()
        blocks = batch_blocks(n)
        if len(blocks) <= 1:
            return whole()
        if chosen:
            return combine(run_batch_blocks(block, blocks))
        times = self._times.get(key)
        if times is None:                 # first call at this size: a warm-up, not timed
            if len(self._times) >= self.MAX_SIZES:
                oldest = next(iter(self._times))
                self._times.pop(oldest, None)
                self._chosen.pop(oldest, None)
            self._times.setdefault(key, ([], []))
            return whole()
        whole_s, blocks_s = times
        in_blocks = len(blocks_s) < len(whole_s)
        start = self._clock()
        out = combine(run_batch_blocks(block, blocks)) if in_blocks else whole()
        (blocks_s if in_blocks else whole_s).append(self._clock() - start)
        if len(whole_s) >= self.TRIALS and len(blocks_s) >= self.TRIALS:
            self._chosen[key] = min(blocks_s) < min(whole_s)
        return out

    def chosen(self, shape, threads):
        """True / False once the blocks were chosen / not chosen for inputs of ``shape`` on
        ``threads`` threads; None while still measuring (or never seen)."""
        return self._chosen.get((tuple(shape), threads))
