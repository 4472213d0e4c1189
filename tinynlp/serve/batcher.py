"""Dynamic micro-batching for the batch tasks (classification, tagging, translation).

A request is a list of inputs.  Requests are gathered in the event loop
(no thread is woken per request) and handed, a batch at a time, to one
worker thread that runs the model off the event loop:

* when the worker is free and a request waits, gathering starts; it ends
  when ``max_batch`` inputs wait, when ``max_wait`` seconds have passed, or
  when no new request has come for a fifth of ``max_wait`` (the clients that
  are sending have sent: waiting longer would only add latency, e.g. for a
  single client);
* the inputs of the batch go through the model in one forward pass (the
  adapter pads them), and each request gets its slice of the results, all
  in one wake-up of the event loop;
* while the worker runs a batch, new requests queue up and form the next
  one (under load, batches fill without waiting).

A request is never split; one larger than ``max_batch`` runs on its own.
``max_batch = 1`` is one-request-at-a-time serving.  Requests with
different batch keys (e.g. translation beam sizes) never share a batch.  A
failing forward pass fails only the requests in it: each is then retried
alone, so that one bad input cannot fail its neighbours; the worker carries
on.  The generation scheduler is in :mod:`tinynlp.serve.scheduler`.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import traceback
from collections import deque

__all__ = ["MicroBatcher", "Stats"]

IDLE_FRACTION = 5   # gathering also stops when no request came for max_wait / IDLE_FRACTION


class Stats:
    """Counters the ``/health`` endpoint reports.  ``submitted`` is written by the event
    loop's thread only, the others by the worker only (no counter has two writers)."""

    def __init__(self):
        self.submitted = 0       # requests handed to the worker
        self.taken = 0           # requests the worker has taken from its queue
        self.running = 0         # requests in the forward pass / rows being generated
        self.served = 0
        self.failed = 0
        self.cancelled = 0
        self.batches = 0
        self.batch_items = 0     # inputs (rows) summed over batches (steps)
        self.tokens = 0          # tokens generated

    @property
    def queued(self):
        """Requests waiting for the model."""
        return self.submitted - self.taken

    def to_dict(self):
        d = dict(vars(self))
        d["queued"] = self.queued
        d["mean_batch"] = round(self.batch_items / self.batches, 2) if self.batches else 0.0
        return d


class _Job:
    __slots__ = ("items", "key", "future", "timer")

    def __init__(self, items, key, future):
        self.items, self.key, self.future, self.timer = items, key, future, None


class MicroBatcher:
    """Gathers requests for ``adapter.run_batch`` (see the module docstring).

    Use from an event loop: ``await start()``, ``submit(...)`` → an asyncio
    future of the results, ``await stop()``.
    """

    def __init__(self, adapter, max_batch=32, max_wait=0.005, max_queue=4096):
        if max_batch < 1:
            raise ValueError(f"max_batch: expected an int >= 1, got {max_batch!r}")
        if max_wait < 0:
            raise ValueError(f"max_wait: expected seconds >= 0, got {max_wait!r}")
        self.adapter, self.max_batch, self.max_wait = adapter, int(max_batch), float(max_wait)
        self.max_queue = max_queue
        self.stats = Stats()
        self._pending = deque()
        self._waiting_items = 0
        self._arrivals = 0
        self._waker = None        # a future the gatherer sleeps on
        self._stopping = False
        self._task = self._thread = None
        self._batches = queue.Queue()

    def full(self):
        return len(self._pending) >= self.max_queue

    # ---- event-loop side
    async def start(self):
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._work, name="tinynlp-batcher", daemon=True)
        self._thread.start()
        self._task = asyncio.ensure_future(self._gather())

    async def stop(self):
        """Run what is waiting, then end the gatherer and the worker thread."""
        self._stopping = True
        self._wake()
        if self._task is not None:
            await self._task
        self._batches.put(None)
        await asyncio.to_thread(self._thread.join)

    def submit(self, items, key=None) -> asyncio.Future:
        """Queue a request (a non-empty list of inputs sharing ``key``): a future of its
        list of results (a ``RuntimeError`` if the model failed on them).  Cancel the
        future to drop the request if it has not run yet."""
        job = _Job(list(items), key, self._loop.create_future())
        self._pending.append(job)
        self._waiting_items += len(job.items)
        self._arrivals += 1
        self.stats.submitted += 1
        if self._waiting_items >= self.max_batch or len(self._pending) == 1:
            self._wake()
        return job.future

    def _wake(self):
        if self._waker is not None and not self._waker.done():
            self._waker.set_result(None)

    async def _sleep(self, timeout=None):
        """Until :meth:`_wake` (or ``timeout`` seconds)."""
        self._waker = self._loop.create_future()
        timer = None if timeout is None else self._loop.call_later(timeout, self._wake)
        try:
            await self._waker
        finally:
            if timer is not None:
                timer.cancel()
            self._waker = None

    async def _gather(self):
        loop = self._loop
        while True:
            while not self._pending:
                if self._stopping:
                    return
                await self._sleep()
            deadline = loop.time() + self.max_wait
            while self._waiting_items < self.max_batch and not self._stopping:
                left = min(deadline - loop.time(), self.max_wait / IDLE_FRACTION)
                if left <= 0:
                    break
                seen = self._arrivals
                await self._sleep(left)
                if self._arrivals == seen:
                    break           # nobody came for a while: do not wait longer
            batch = self._take()
            if batch:
                done = loop.create_future()
                self._batches.put((batch, done))
                await done          # meanwhile requests queue up for the next batch

    def _take(self):
        """The oldest live requests sharing the first one's key, up to max_batch inputs
        (requests with another key keep their place in the queue)."""
        batch, n, rest = [], 0, deque()
        while self._pending:
            job = self._pending.popleft()
            if job.future.done():               # timed out or cancelled while waiting
                self._waiting_items -= len(job.items)
                self.stats.taken += 1
                self.stats.cancelled += 1
                continue
            if batch and (job.key != batch[0].key or n + len(job.items) > self.max_batch):
                rest.append(job)
                if job.key == batch[0].key:
                    break                       # the batch is full
                continue
            self._waiting_items -= len(job.items)
            self.stats.taken += 1
            batch.append(job)
            n += len(job.items)
            if n >= self.max_batch:
                break
        rest.extend(self._pending)
        self._pending = rest
        return batch

    # ---- worker thread
    def _work(self):
        while True:
            got = self._batches.get()
            if got is None:
                return
            batch, done = got
            out = self._run(batch)
            self._loop.call_soon_threadsafe(self._settle, out, done)

    @staticmethod
    def _settle(out, done):
        for fut, value in out:
            if not fut.done():
                if isinstance(value, BaseException):
                    fut.set_exception(value)
                else:
                    fut.set_result(value)
        done.set_result(None)

    def _run(self, batch):
        self.stats.running = len(batch)
        items = [x for job in batch for x in job.items]
        self.stats.batches += 1
        self.stats.batch_items += len(items)
        try:
            results = self.adapter.run_batch(items)
            if len(results) != len(items):
                raise RuntimeError(f"{type(self.adapter).__name__}.run_batch returned "
                                   f"{len(results)} results for {len(items)} inputs")
        except Exception:
            # retry each request alone: one bad input fails only its own request
            out = [(job.future, self._run_alone(job) if len(batch) > 1 else self._fail())
                   for job in batch]
        else:
            out, start = [], 0
            for job in batch:
                out.append((job.future, results[start:start + len(job.items)]))
                start += len(job.items)
                self.stats.served += 1
        self.stats.running = 0
        return out

    def _run_alone(self, job):
        try:
            results = self.adapter.run_batch(job.items)
        except Exception:
            return self._fail()
        self.stats.served += 1
        return results

    def _fail(self):
        self.stats.failed += 1
        traceback.print_exc()
        return RuntimeError("the model failed on this input (see the server log)")
