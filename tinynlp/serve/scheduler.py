"""The generation scheduler: the rows of all requests step together, in a worker thread.

Rows — one per prompt — step together in a session
(:mod:`tinynlp.serve.generation`), one token per row per step.  When no
row is running, the first request is gathered with the ones that come
within ``max_wait`` (up to ``max_batch`` rows, or until none has come for a
fifth of ``max_wait``).  A new row joins the running session at the next
step when the model allows it (continuous batching), up to ``max_batch``
rows; a finished or cancelled row leaves at once, freeing its slot.

``submit`` is thread-safe; its handle's ``cancel()`` stops the request's
rows at the next step.  Each step's text goes back through
``deliver(pairs)``, called from the worker thread once per step with
``(emit, events)`` pairs; by default it calls ``emit(events)`` for each.
The server replaces it with one ``loop.call_soon_threadsafe`` per step.  A
failing step fails the rows in it; the worker carries on.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
import traceback
from collections import deque

from .batcher import IDLE_FRACTION, Stats
from .generation import GenerationRow, StopMatcher

__all__ = ["GenerationScheduler"]

_STOP = object()


def call_each(pairs):
    """The default ``deliver``: ``target(value)`` for each pair, in the worker thread."""
    for target, value in pairs:
        target(value)


class _GenJob:
    """One request: its rows, and ``emit`` — the target that gets (through ``deliver``)
    the list of events of each step: ``("text", row, str)``, ``("done", row,
    finish_reason, n_tokens)`` or ``("error", row, message)``."""

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

    def __init__(self, adapter, max_batch=32, max_wait=0.005, max_queue=4096, deliver=None):
        if max_batch < 1:
            raise ValueError(f"max_batch: expected an int >= 1, got {max_batch!r}")
        self.adapter, self.max_batch, self.max_wait = adapter, int(max_batch), float(max_wait)
        self.max_queue = max_queue
        self.deliver = deliver or call_each
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
        ``emit``, the target that gets (through ``deliver``) each step's list of events."""
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
                    left = min(deadline - time.monotonic(), self.max_wait / IDLE_FRACTION)
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
        self._deliver([(job, evs) for job, evs in events.items() if evs])

    def _deliver(self, job_events):
        try:
            self.deliver([(job.emit, evs) for job, evs in job_events])
        except Exception:      # the event loop is gone: stop these rows
            traceback.print_exc()
            for job, _ in job_events:
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
        self._deliver([(job, [("error", st.index, message)])])
