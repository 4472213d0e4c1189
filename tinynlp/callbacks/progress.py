"""The progress display of ``fit(verbose=...)``: a :class:`tinynlp.progress.Progress` per epoch.

- ``verbose=1``: a bar redrawn on one line (``\\r``) after each batch::

      Epoch 3/10
       12/32 [==========>...................] - ETA: 2s - 61ms/step - loss: 0.4412

  ending, at the epoch's end, with the elapsed time, the rate and the
  validation metrics;
- ``verbose=2``: one line per epoch::

      Epoch 3/10 - 2s - 61ms/step - loss: 0.4412 - accuracy: 0.8021 - val_loss: 0.4730 - ...

- ``verbose=0``: nothing;
- ``verbose="auto"`` (``fit``'s default, as in Keras): 1 on a terminal or in a
  notebook, 2 when the output goes to a pipe or a file.
"""

from __future__ import annotations

from ..progress import Progress, resolve_verbose
from .base import Callback

__all__ = ["ProgressBar"]


class ProgressBar(Callback):
    """Prints training progress (added by ``fit`` when ``verbose`` is not 0)."""

    root_only = True

    def __init__(self, verbose="auto", stream=None, width=30, interval=0.1, epoch_header=True):
        super().__init__()
        self.verbose = resolve_verbose(verbose, stream, "ProgressBar: verbose")
        self.stream = stream
        self.width = width
        self.interval = interval
        self.epoch_header = epoch_header
        self.progress = None

    def on_epoch_begin(self, epoch, logs=None):
        title = f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}" if self.epoch_header else ""
        self.progress = Progress(self.params.get("steps"), verbose=self.verbose, title=title,
                                 stream=self.stream, width=self.width, interval=self.interval,
                                 header=True)

    def on_batch_end(self, batch, logs=None):
        self.progress.update(batch + 1, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        self.progress.finish(logs or {})
