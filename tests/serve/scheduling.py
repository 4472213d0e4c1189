"""Submitting generation rows to a running scheduler and collecting what it emits."""

import threading

from tinynlp.serve.generation import GenerationRow


def collect(scheduler, adapter, prompts, params):
    """Submit one job of ``prompts`` to the running ``scheduler``; returns ``(job, done,
    texts, reasons)``: ``done`` is set once every row has finished, ``texts`` and
    ``reasons`` fill in as the rows stream.  An event other than text or done fails."""
    done = threading.Event()
    texts, reasons = [""] * len(prompts), [None] * len(prompts)

    def emit(events):
        for ev in events:
            if ev[0] == "text":
                texts[ev[1]] += ev[2]
            elif ev[0] == "done":
                reasons[ev[1]] = ev[2]
            else:
                raise AssertionError(ev)
        if all(reasons):
            done.set()
    rows = [GenerationRow(adapter.encode(p), params) for p in prompts]
    job = scheduler.submit(rows, prompts, emit)
    return job, done, texts, reasons
