"""Dynamic micro-batching: the model's work runs in one worker thread, off the event loop.

:class:`MicroBatcher` (classification, tagging, translation): a request is
a list of inputs.  The worker takes the first waiting request, then keeps
gathering requests until it holds ``max_batch`` inputs or ``max_wait``
seconds have passed since it took the first; the inputs of the batch go
through the model in one forward pass (the adapter pads them), and each
request gets its slice of the results.  A request is never split, and a
request larger than ``max_batch`` runs on its own.  ``max_batch = 1`` is
one-request-at-a-time serving.

:class:`GenerationScheduler` (language models): rows — one per prompt —
step together in a session (:mod:`tinynlp.serve.generation`), one token
per row per step.  A new row joins the running session at the next step
when the model allows it (continuous batching), up to ``max_batch`` rows;
a finished or cancelled row leaves at once, freeing its slot.

Both are thread-safe to call from the event loop: ``submit`` returns a
handle whose ``cancel()`` drops the work if it has not run yet (batches)
or stops the row at the next step (generation).  A failing forward pass
fails only the requests in it (each is then retried alone, so that one bad
input cannot fail its neighbours); the worker carries on.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
import traceback
from collections import deque
from concurrent.futures import Future

from .generation import GenerationRow, StopMatcher

__all__ = ["MicroBatcher", "GenerationScheduler", "Stats"]

_STOP = object()


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
    __slots__ = ("items", "key", "future")

    def __init__(self, items, key):
        self.items, self.key, self.future = items, key, Future()

    def cancel(self):
        self.future.cancel()


class MicroBatcher:
    """Gathers requests for ``adapter.run_batch`` (see the module docstring)."""

    def __init__(self, adapter, max_batch=32, max_wait=0.005, max_queue=4096):
        if max_batch < 1:
            raise ValueError(f"max_batch: expected an int >= 1, got {max_batch!r}")
        if max_wait < 0:
            raise ValueError(f"max_wait: expected seconds >= 0, got {max_wait!r}")
        self.adapter, self.max_batch, self.max_wait = adapter, int(max_batch), float(max_wait)
        self.max_queue = max_queue
        self.stats = Stats()
        self._q = queue.Queue()
        self._held = deque()     # taken from the queue but not fitting into the last batch
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._run, name="tinynlp-batcher", daemon=True)
        self._thread.start()

    def stop(self):
        """Finish what is queued, then end the worker."""
        if self._thread is not None:
            self._q.put(_STOP)
            self._thread.join()
            self._thread = None

    def full(self):
        return self._q.qsize() + len(self._held) >= self.max_queue

    def submit(self, items, key=None) -> _Job:
        """Queue one request (a non-empty list of inputs sharing ``key``); its
        ``future`` gets the list of results."""
        job = _Job(list(items), key)
        self.stats.submitted += 1
        self._q.put(job)
        return job

    # ---- worker
    def _next(self, timeout=None):
        if self._held:
            return self._held.popleft()
        return self._q.get() if timeout is None else self._q.get(timeout=timeout)

    def _run(self):
        stopping = False
        while not (stopping and not self._held and self._q.empty()):
            try:
                first = self._next(timeout=0.05 if stopping else None)
            except queue.Empty:
                continue
            if first is _STOP:
                stopping = True
                continue
            batch, n = [first], len(first.items)
            deadline = time.monotonic() + self.max_wait
            while n < self.max_batch:
                left = deadline - time.monotonic()
                try:
                    job = self._next(timeout=max(left, 0.0)) if left > 0 or self._held \
                        else self._q.get_nowait()
                except queue.Empty:
                    break
                if job is _STOP:
                    stopping = True
                    break
                if n + len(job.items) > self.max_batch or job.key != first.key:
                    self._held.append(job)      # first in the next batch
                    break
                batch.append(job)
                n += len(job.items)
            self._run_batch(batch)

    def _run_batch(self, batch):
        live = []
        for job in batch:
            self.stats.taken += 1
            if job.future.set_running_or_notify_cancel():
                live.append(job)
            else:
                self.stats.cancelled += 1
        if not live:
            return
        self.stats.running = len(live)
        items = [x for job in live for x in job.items]
        self.stats.batches += 1
        self.stats.batch_items += len(items)
        try:
            results = self.adapter.run_batch(items)
            if len(results) != len(items):
                raise RuntimeError(f"{type(self.adapter).__name__}.run_batch returned "
                                   f"{len(results)} results for {len(items)} inputs")
        except Exception:
            if len(live) == 1:
                self._fail(live[0])
            else:
                for job in live:    # retry alone: one bad input fails only its request
                    self._run_alone(job)
        else:
            start = 0
            for job in live:
                job.future.set_result(results[start:start + len(job.items)])
                start += len(job.items)
                self.stats.served += 1
        self.stats.running = 0

    def _run_alone(self, job):
        try:
            job.future.set_result(self.adapter.run_batch(job.items))
            self.stats.served += 1
        except Exception:
            self._fail(job)

    def _fail(self, job):
        self.stats.failed += 1
        traceback.print_exc()
        job.future.set_exception(RuntimeError("the model failed on this input (see the "
                                              "server log)"))


# ------------------------------------------------------------------- generation
class _GenJob:
    """One request: its rows, and ``emit(events)`` called from the worker thread with
    the events of one step: ``("text", row, str)``, ``("done", row, finish_reason,
    n_tokens)`` or ``("error", row, message)``."""

    __slots__ = ("rows", "prompts", "key", "emit", "cancelled", "open_rows")

    def __init__(self, rows, prompts, key, emit):
        self.rows, self.prompts, self.key, self.emit = rows, prompts, key, emit
        self.cancelled = False
        self.open_rows = len(rows)

    def cancel(self):
        self.cancelled = True


class _RowState:
    __slots__ = ("job", "index", "params", "decoder", "stop", "n")

    def __init__(self, job, index, params, decoder):
        self.job, self.index, self.params, self.decoder = job, index, params, decoder
        self.stop = StopMatcher(params.stop)
        self.n = 0


class GenerationScheduler:
    """Steps the rows of all generation requests together (see the module docstring)."""

    def __init__(self, adapter, max_batch=32, max_wait=0.005, max_queue=4096):
        if max_batch < 1:
            raise ValueError(f"max_batch: expected an int >= 1, got {max_batch!r}")
        self.adapter, self.max_batch, self.max_wait = adapter, int(max_batch), float(max_wait)
        self.max_queue = max_queue
        self.stats = Stats()
        self._q = queue.Queue()
        self._waiting = deque()
        self._ids = itertools.count()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._run, name="tinynlp-generator", daemon=True)
        self._thread.start()

    def stop(self):
        if self._thread is not None:
            self._q.put(_STOP)
            self._thread.join()
            self._thread = None

    def full(self):
        return self._q.qsize() + len(self._waiting) >= self.max_queue

    def submit(self, rows: list, prompts: list, emit) -> _GenJob:
        """Queue a request: ``rows`` (:class:`GenerationRow`), their prompt texts, and
        ``emit(list_of_events)`` (called from the worker thread)."""
        keys = {self.adapter.session_key(r.params) for r in rows}
        if len(keys) != 1:
            raise ValueError("the rows of one request must share their sampling settings")
        job = _GenJob(rows, prompts, keys.pop(), emit)
        self.stats.submitted += 1
        self._q.put(job)
        return job

    # ---- worker
    def _pull(self, block, timeout=None):
        """Move queued jobs into ``_waiting``; False when asked to stop."""
        try:
            job = self._q.get(block=block, timeout=timeout)
        except queue.Empty:
            return True
        if job is _STOP:
            return False
        self._waiting.append(job)
        while True:
            try:
                job = self._q.get_nowait()
            except queue.Empty:
                return True
            if job is _STOP:
                return False
            self._waiting.append(job)

    def _admit(self, rows, session, key, room):
        """Take waiting jobs with ``key`` (in order) while they fit in ``room`` rows."""
        taken = {}
        for job in list(self._waiting):
            if job.key != key:
                continue
            if job.cancelled:
                self._waiting.remove(job)
                self.stats.taken += 1
                self.stats.cancelled += 1
                continue
            if len(job.rows) > room and (rows or taken):
                break
            self._waiting.remove(job)
            self.stats.taken += 1
            for i, (row, prompt) in enumerate(zip(job.rows, job.prompts)):
                rid = next(self._ids)
                taken[rid] = _RowState(job, i, row.params,
                                       self.adapter.text_decoder(prompt, row.prompt_ids))
            room -= len(job.rows)
        if not taken:
            return
        try:
            session.add({rid: GenerationRow(st.job.rows[st.index].prompt_ids, st.params)
                         for rid, st in taken.items()})
        except Exception:
            traceback.print_exc()
            for st in taken.values():
                self._finish_error(st, "the model failed to read this prompt")
            return
        rows.update(taken)
        self.stats.running = len(rows)

    def _run(self):
        rows, session, key, stopping = {}, None, None, False
        while True:
            if not rows:
                if session is not None:
                    session.close()
                    session = None
                if not self._waiting:
                    if stopping:
                        break
                    stopping = not self._pull(block=True)
                    if not self._waiting:
                        continue
                # gather for at most max_wait (or until max_batch rows wait)
                deadline = time.monotonic() + self.max_wait
                while not stopping and sum(len(j.rows) for j in self._waiting) < self.max_batch:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    n = len(self._waiting)
                    stopping = not self._pull(block=True, timeout=left)
                    if len(self._waiting) == n:
                        break
                key = self._waiting[0].key
                session = self.adapter.open_session()
                self._admit(rows, session, key, self.max_batch)
            elif self.adapter.can_join and len(rows) < self.max_batch:
                if not stopping:
                    stopping = not self._pull(block=False)
                self._admit(rows, session, key, self.max_batch - len(rows))
            if rows:
                self._step(rows, session)

    def _step(self, rows, session):
        gone = [rid for rid, st in rows.items() if st.job.cancelled]
        for rid in gone:
            self._close_row(rows.pop(rid), cancelled=True)
        if gone:
            session.remove(gone)
            self.stats.running = len(rows)
        if not rows:
            return
        try:
            tokens = session.step()
        except Exception:
            traceback.print_exc()
            for st in rows.values():
                self._finish_error(st, "the model failed while generating")
            session.remove(list(rows))
            rows.clear()
            return
        self.stats.batches += 1
        self.stats.batch_items += len(tokens)
        self.stats.tokens += len(tokens)
        events = {}
        finished = []
        eos = self.adapter.eos_id
        for rid, tok in tokens.items():
            st = rows[rid]
            st.n += 1
            out, reason = "", None
            if eos is not None and tok == eos:
                piece, hit = st.stop.feed(st.decoder.flush())
                out, reason = piece + ("" if hit else st.stop.flush()), "stop"
            else:
                piece, hit = st.stop.feed(st.decoder.push(tok))
                out = piece
                if hit:
                    reason = "stop"
                elif st.n >= st.params.max_tokens:
                    piece, hit = st.stop.feed(st.decoder.flush())
                    out += piece + ("" if hit else st.stop.flush())
                    reason = "stop" if hit else "length"
            ev = events.setdefault(st.job, [])
            if out:
                ev.append(("text", st.index, out))
            if reason:
                ev.append(("done", st.index, reason, st.n))
                finished.append(rid)
        for rid in finished:
            self._close_row(rows.pop(rid))
        if finished:
            session.remove(finished)
        self.stats.running = len(rows)
        for job, evs in events.items():
            if evs:
                self._emit(job, evs)

    def _emit(self, job, events):
        try:
            job.emit(events)
        except Exception:      # the client's loop is gone: stop its rows
            job.cancelled = True

    def _close_row(self, st, cancelled=False):
        job = st.job
        job.open_rows -= 1
        if job.open_rows == 0:
            if cancelled:
                self.stats.cancelled += 1
            else:
                self.stats.served += 1

    def _finish_error(self, st, message):
        job = st.job
        job.open_rows -= 1
        if job.open_rows == 0:
            self.stats.failed += 1
        self._emit(job, [("error", st.index, message)])
