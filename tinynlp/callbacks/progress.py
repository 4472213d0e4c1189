"""The progress display of ``fit(verbose=...)``.

- ``verbose=1``: a bar redrawn on one line (``\\r``) after each batch::

      Epoch 3/10
       12/32 [==========>...................] - ETA: 2s - 61ms/step - loss: 0.4412

  ending, at the epoch's end, with the elapsed time, the rate and the
  validation metrics;
- ``verbose=2``: one line per epoch::

      Epoch 3/10 - 2s - 61ms/step - loss: 0.4412 - accuracy: 0.8021 - val_loss: 0.4730 - ...

- ``verbose=0``: nothing.

Redraws are limited to about 10 per second (and always drawn for the last
batch), so printing never slows a fast epoch down.
"""

from __future__ import annotations

import sys
import time

from .base import Callback


def _format_time(seconds):
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.0f}s"


def _format_rate(seconds_per_step):
    if seconds_per_step >= 1:
        return f"{seconds_per_step:.1f}s/step"
    if seconds_per_step >= 1e-3:
        return f"{seconds_per_step * 1e3:.0f}ms/step"
    return f"{seconds_per_step * 1e6:.0f}us/step"


def _format_logs(logs, skip=()):
    parts = []
    for k, v in logs.items():
        if k in skip:
            continue
        if isinstance(v, float):
            parts.append(f"{k}: {v:.4f}" if abs(v) >= 1e-3 or v == 0 else f"{k}: {v:.4e}")
        else:
            parts.append(f"{k}: {v}")
    return " - ".join(parts)


class ProgressBar(Callback):
    """Prints training progress (added by ``fit`` when ``verbose`` > 0)."""

    root_only = True

    def __init__(self, verbose=1, stream=None, width=30, interval=0.1, epoch_header=True):
        super().__init__()
        if verbose not in (0, 1, 2):
            raise ValueError(f"ProgressBar: verbose must be 0, 1 or 2, got {verbose!r}")
        self.verbose = verbose
        self.stream = stream
        self.width = width
        self.interval = interval
        self.epoch_header = epoch_header

    def _write(self, text):
        stream = self.stream or sys.stdout
        stream.write(text)
        stream.flush()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.start = time.perf_counter()
        self.last_draw = 0.0
        self.seen = 0
        self.last_len = 0
        self.batch_logs = {}
        if self.verbose == 1 and self.epoch_header:
            self._write(f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}\n")

    def _bar(self, done, final, logs):
        steps = self.params.get("steps")
        elapsed = time.perf_counter() - self.start
        per_step = elapsed / max(done, 1)
        if steps:
            digits = len(str(steps))
            filled = int(self.width * done / steps)
            arrow = "=" * max(filled - 1, 0) + (">" if done < steps else "=") if filled else ""
            bar = f"{done:{digits}d}/{steps} [{arrow}{'.' * (self.width - len(arrow))}]"
        else:
            bar = f"{done}/unknown"
        if final:
            timing = f"{_format_time(elapsed)} {_format_rate(per_step)}"
        elif steps:
            timing = f"ETA: {_format_time(per_step * (steps - done))} - {_format_rate(per_step)}"
        else:
            timing = _format_rate(per_step)
        metrics = _format_logs(logs)
        return f"{bar} - {timing}" + (f" - {metrics}" if metrics else "")

    def on_batch_end(self, batch, logs=None):
        self.seen = batch + 1
        self.batch_logs = dict(logs or {})
        if self.verbose != 1:
            return
        now = time.perf_counter()
        steps = self.params.get("steps")
        last = steps is not None and self.seen >= steps
        if not last and now - self.last_draw < self.interval:
            return
        self.last_draw = now
        line = self._bar(self.seen, False, self.batch_logs)
        pad = " " * max(self.last_len - len(line), 0)
        self.last_len = len(line)
        self._write("\r" + line + pad)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.verbose == 1:
            line = self._bar(self.seen, True, logs)
            pad = " " * max(self.last_len - len(line), 0)
            self._write("\r" + line + pad + "\n")
        elif self.verbose == 2:
            elapsed = time.perf_counter() - self.start
            per_step = elapsed / max(self.seen, 1)
            metrics = _format_logs(logs)
            self._write(f"Epoch {epoch + 1}/{self.params.get('epochs', '?')} - "
                        f"{_format_time(elapsed)} - {_format_rate(per_step)}"
                        + (f" - {metrics}" if metrics else "") + "\n")
