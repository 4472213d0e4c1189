"""One progress display for everything that takes a while: ``fit``, Word2Vec and GloVe
training, dataset loading, beam-search evaluation, pretraining.

Keras' rule decides how it looks (:func:`resolve_verbose`):

- ``verbose=1`` — a bar redrawn in place (``\\r``) with the rate and the time
  left, on a terminal or in a notebook::

       12/32 [==========>...................] - ETA: 2s - 61ms/step - loss: 0.4412

- ``verbose=2`` — one line when the work is done (one per epoch in ``fit``)::

      Epoch 3/10 - 2s - 61ms/step - loss: 0.4412 - accuracy: 0.8021

- ``verbose=0`` — nothing;
- ``verbose="auto"`` (the default everywhere) — 1 when the stream is a
  terminal or a notebook, else 2: piped into a file or a log, a run writes a
  few lines per epoch instead of hundreds of redrawn bars.

Redraws are limited to about 10 per second (the last step is always drawn), so
printing never slows a fast loop down.  ``delay`` hides a display until the
work has lasted that long (dataset loading shows nothing when it is quick).
"""

from __future__ import annotations

import sys
import time

__all__ = ["Progress", "loading", "resolve_verbose", "is_interactive", "format_time", "format_rate",
           "format_logs"]


def is_interactive(stream=None) -> bool:
    """True when ``stream`` (default ``sys.stdout``) redraws a ``\\r`` line in place: a
    terminal, or a Jupyter notebook's output."""
    stream = sys.stdout if stream is None else stream
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError):   # no isatty, or a closed stream
        return False
    return "ipykernel" in sys.modules and type(stream).__module__.startswith("ipykernel")


def resolve_verbose(verbose, stream=None, what="verbose") -> int:
    """0, 1 or 2 from ``verbose`` (``"auto"``: 1 on a terminal or a notebook, else 2)."""
    if verbose == "auto" or verbose is None:
        return 1 if is_interactive(stream) else 2
    if isinstance(verbose, bool):
        verbose = int(verbose)
    if verbose not in (0, 1, 2):
        raise ValueError(f"{what} must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


def format_time(seconds) -> str:
    """``7s``, ``2:05``, ``1:02:05``."""
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.0f}s"


def format_rate(seconds_per_unit, unit="step") -> str:
    """``1.2s/step``, ``61ms/step``, ``40us/step`` (or ``12,345 words/s`` for fast units)."""
    if seconds_per_unit >= 1:
        return f"{seconds_per_unit:.1f}s/{unit}"
    if seconds_per_unit >= 1e-3:
        return f"{seconds_per_unit * 1e3:.0f}ms/{unit}"
    if seconds_per_unit >= 1e-5:
        return f"{seconds_per_unit * 1e6:.0f}us/{unit}"
    return f"{1.0 / max(seconds_per_unit, 1e-12):,.0f} {unit}s/s"


def format_logs(logs, skip=()) -> str:
    """``loss: 0.4412 - accuracy: 0.8021`` (4 decimals; tiny values in e-notation)."""
    parts = []
    for k, v in (logs or {}).items():
        if k in skip:
            continue
        if isinstance(v, float):
            parts.append(f"{k}: {v:.4f}" if abs(v) >= 1e-3 or v == 0 else f"{k}: {v:.4e}")
        else:
            parts.append(f"{k}: {v}")
    return " - ".join(parts)


class Progress:
    """A progress display for ``total`` units of work (``None``: unknown).

    ::

        progress = Progress(len(batches), title="BLEU (beam 4)", unit="sentence")
        for i, batch in enumerate(batches):
            ...
            progress.update(i + 1, {"bleu": running})
        progress.finish({"bleu": final})

    ``verbose``: see the module docstring.  ``title`` starts every line (with
    ``verbose=1`` it is printed as a header line when ``header=True``, as ``fit``
    prints ``Epoch 3/10``).  ``stream``: a file, or ``"stdout"`` (the default) /
    ``"stderr"``, looked up at each write (so a redirected ``sys.stdout`` is seen).  ``delay`` seconds: nothing is shown before then, and a job done
    sooner prints nothing at all.
    """

    def __init__(self, total=None, *, verbose="auto", title="", unit="step", stream=None,
                 width=30, interval=0.1, delay=0.0, header=False):
        self.stream = stream
        self.verbose = resolve_verbose(verbose, self._out(), "Progress: verbose")
        self.total = None if total is None else int(total)
        self.title = title
        self.unit = unit
        self.width = int(width)
        self.interval = float(interval)
        self.delay = float(delay)
        self.header = bool(header)
        self.start = time.perf_counter()
        self.done = 0
        self.logs = {}
        self._last_draw = 0.0
        self._last_len = 0
        self._shown = False
        self._headed = False
        self.finished = False
        if self.delay <= 0:
            self._head()

    def _head(self):
        """The header line (verbose 1, ``header=True``), once."""
        if self.verbose == 1 and self.header and self.title and not self._headed:
            self._headed = True
            self._write(f"{self.title}\n")

    def _out(self):
        if self.stream is None or self.stream == "stdout":
            return sys.stdout
        if self.stream == "stderr":
            return sys.stderr
        return self.stream

    def _write(self, text):
        out = self._out()
        out.write(text)
        out.flush()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def _bar(self, final):
        done, total = self.done, self.total
        elapsed = self.elapsed
        per_unit = elapsed / max(done, 1)
        if total:
            digits = len(str(total))
            filled = int(self.width * min(done, total) / total)
            arrow = "=" * max(filled - 1, 0) + (">" if done < total else "=") if filled else ""
            bar = f"{done:{digits}d}/{total} [{arrow}{'.' * (self.width - len(arrow))}]"
        else:
            bar = f"{done}/unknown"
        if final:
            timing = f"{format_time(elapsed)} {format_rate(per_unit, self.unit)}"
        elif total:
            timing = (f"ETA: {format_time(per_unit * max(total - done, 0))} - "
                      f"{format_rate(per_unit, self.unit)}")
        else:
            timing = format_rate(per_unit, self.unit)
        metrics = format_logs(self.logs)
        prefix = f"{self.title} " if self.title and not self.header else ""
        return f"{prefix}{bar} - {timing}" + (f" - {metrics}" if metrics else "")

    def update(self, done, logs=None):
        """``done`` units finished so far (absolute), with the running ``logs``."""
        self.done = int(done)
        if logs is not None:
            self.logs = dict(logs)
        if self.verbose != 1:
            return
        now = time.perf_counter()
        if now - self.start < self.delay:
            return
        last = self.total is not None and self.done >= self.total
        if not last and now - self._last_draw < self.interval:
            return
        self._last_draw = now
        self._head()
        self._shown = True
        line = self._bar(False)
        pad = " " * max(self._last_len - len(line), 0)
        self._last_len = len(line)
        self._write("\r" + line + pad)

    def advance(self, n=1, logs=None):
        """``n`` more units done."""
        self.update(self.done + n, logs)

    def finish(self, logs=None, line=None):
        """The final line: the bar completed (verbose 1), or ``line`` — by default
        ``title - 2s - 61ms/step - metrics`` — (verbose 2).  Shown only after ``delay``."""
        if self.finished:
            return
        self.finished = True
        if logs is not None:
            self.logs = dict(logs)
        if self.verbose == 0 or self.elapsed < self.delay:
            return
        if self.verbose == 1 and (self._shown or self.total is not None):
            self._head()
            text = self._bar(True)
            pad = " " * max(self._last_len - len(text), 0)
            self._write("\r" + text + pad + "\n")
            return
        if line is None:
            metrics = format_logs(self.logs)
            parts = [p for p in (self.title, format_time(self.elapsed),
                                 format_rate(self.elapsed / self.done, self.unit)
                                 if self.done else "", metrics) if p]
            line = " - ".join(parts)
        self._write(line + "\n")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.finish()
        elif self.verbose == 1 and self._shown:
            self._write("\n")   # leave the error on a line of its own
        return False


def loading(what, total=None, unit="item") -> Progress:
    """The progress display of a slow load, on standard error: nothing if it is done
    within a second, else a bar on a terminal or one line in a pipe
    (``loading the Brown corpus - 2s - 4ms/document``).  Call ``update`` /
    ``advance`` as the work goes, ``finish()`` at the end (or use it in a ``with``)."""
    return Progress(total, title=f"loading {what}", unit=unit, delay=1.0, stream="stderr")
