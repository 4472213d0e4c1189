"""The standard callbacks, with Keras' names and semantics."""

from __future__ import annotations

import csv
import inspect
import math
import os
import warnings

import numpy as np

from .base import Callback

__all__ = ["History", "EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau",
           "LearningRateScheduler", "TerminateOnNaN", "CSVLogger"]

_MAXIMIZE_HINTS = ("acc", "auc", "f1", "precision", "recall", "bleu")


def _mode_is_max(monitor, mode, who):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{who}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        return any(h in monitor.lower() for h in _MAXIMIZE_HINTS)
    return mode == "max"


def _monitored(logs, monitor, who):
    value = (logs or {}).get(monitor)
    if value is None:
        warnings.warn(f"{who}: the monitored metric {monitor!r} is not in the logs "
                      f"(available: {sorted(logs or {})}); doing nothing this epoch",
                      stacklevel=3)
    return value


class History(Callback):
    """Records the epoch logs: ``history.history["loss"]`` is a list, one value per epoch.

    ``fit`` always adds one and returns it; ``history.epoch`` lists the epoch indices.
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []
        self.history = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={sorted(self.history)})"


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    ``mode="auto"`` maximises accuracy-like metrics (names containing acc,
    auc, f1, precision, recall) and minimises the rest.  With
    ``restore_best_weights=True`` the weights of the best epoch are put back
    when training ends (as Keras 3 does, also when it ran all epochs).
    ``baseline``: training stops unless the metric beats it within
    ``patience`` epochs.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience!r}")
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self.maximize = _mode_is_max(monitor, mode, "EarlyStopping")

    def _improved(self, current, reference):
        if reference is None:
            return True
        if self.maximize:
            return current - self.min_delta > reference
        return current + self.min_delta < reference

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = None
        self.best = None
        self.best_epoch = None
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        current = _monitored(logs, self.monitor, "EarlyStopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._improved(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improved(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch is not None and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model (or only its weights) after each epoch.

    ``filepath`` may hold ``str.format`` fields: ``{epoch}`` (1-based) and any
    log key, e.g. ``"ckpt-{epoch:02d}-{val_loss:.3f}.tnz"``.  With
    ``save_best_only`` a file is written only when ``monitor`` improves.  A
    full save holds the optimizer and random-generator state, so
    ``load_model`` + ``fit(initial_epoch=...)`` resumes exactly.  Only rank 0
    writes in a distributed run.
    """

    root_only = True

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto"):
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.maximize = _mode_is_max(monitor, mode, "ModelCheckpoint")
        self.best = None
        self.last_saved = None

    def _path(self, epoch, logs):
        try:
            return self.filepath.format(epoch=epoch + 1, **(logs or {}))
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: filepath {self.filepath!r} uses {e} which is not "
                           f"in the logs (available: epoch, {sorted(logs or {})})") from None

    def on_epoch_end(self, epoch, logs=None):
        if self.save_best_only:
            current = _monitored(logs, self.monitor, "ModelCheckpoint")
            if current is None:
                return
            better = self.best is None or (current > self.best if self.maximize
                                           else current < self.best)
            if not better:
                return
            self.best = current
        path = self._path(epoch, logs)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path, epoch=epoch + 1)
        self.last_saved = path
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: saved model to {path}")


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` stops improving.

    Keras semantics: after ``patience`` epochs without an improvement larger
    than ``min_delta`` (absolute), lr ← max(lr · factor, min_lr); then wait
    ``cooldown`` epochs before counting again (Keras decrements the cooldown
    counter before judging an epoch, so the last cooldown epoch already
    counts).  The ``torch.optim.lr_scheduler.ReduceLROnPlateau`` equivalent
    (``threshold_mode="abs"``) has ``patience - 1`` and ``cooldown - 1``: it
    reduces after ``patience + 1`` bad epochs.  Adds ``"learning_rate"`` to
    the epoch logs.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__()
        if not 0.0 < factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor!r}")
        self.monitor = monitor
        self.factor = float(factor)
        self.patience = int(patience)
        self.verbose = verbose
        self.min_delta = abs(float(min_delta))
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)
        self.maximize = _mode_is_max(monitor, mode, "ReduceLROnPlateau")
        self._reset()

    def _reset(self):
        self.best = None
        self.wait = 0
        self.cooldown_counter = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def _improved(self, current):
        if self.best is None:
            return True
        if self.maximize:
            return current > self.best + self.min_delta
        return current < self.best - self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        opt = self.model.optimizer
        if logs is not None:
            logs["learning_rate"] = float(opt.learning_rate)
        current = _monitored(logs, self.monitor, "ReduceLROnPlateau")
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(opt.learning_rate)
                if old > self.min_lr:
                    if opt.has_schedule:
                        raise TypeError("ReduceLROnPlateau: the optimizer's learning rate is "
                                        "a schedule; use a constant learning rate with this "
                                        "callback")
                    new = max(old * self.factor, self.min_lr)
                    opt.learning_rate = new
                    if self.verbose:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate "
                              f"to {new:.4g}.")
                self.cooldown_counter = self.cooldown
                self.wait = 0


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch start: ``lr = schedule(epoch, lr)``.

    ``schedule`` takes ``(epoch, lr)`` (Keras) or just ``(epoch)``; epochs are 0-based.
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be callable, got {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose
        try:
            n = len([p for p in inspect.signature(schedule).parameters.values()
                     if p.default is inspect.Parameter.empty
                     and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])
        except (TypeError, ValueError):
            n = 2
        self._two_args = n >= 2

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        lr = self.schedule(epoch, opt.learning_rate) if self._two_args else self.schedule(epoch)
        if not isinstance(lr, (int, float, np.floating)) or not math.isfinite(lr) or lr < 0:
            raise ValueError(f"LearningRateScheduler: schedule returned {lr!r} for epoch "
                             f"{epoch}; expected a non-negative float")
        opt.learning_rate = float(lr)
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr:.4g}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class TerminateOnNaN(Callback):
    """Stop training (instead of raising) when the loss becomes NaN or infinite.

    ``fit`` detects a non-finite loss *before* applying the update, so the
    weights stay finite; with this callback it stops and records
    ``self.message`` (naming the epoch and batch), without it ``fit`` raises
    ``FloatingPointError`` with the same message.
    """

    def __init__(self):
        super().__init__()
        self.message = None
        self.stopped_at = None

    def on_nan(self, epoch, batch, message):
        self.message = message
        self.stopped_at = (epoch, batch)
        print(message)
        self.model.stop_training = True

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss) and not self.model.stop_training:
            self.on_nan(None, batch, f"Batch {batch + 1}: invalid loss {loss}, terminating "
                                     "training")


class CSVLogger(Callback):
    """Append one CSV row per epoch: ``epoch`` then the log keys (sorted)."""

    root_only = True

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = bool(append)
        self.keys = None
        self._file = None

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.filename) and \
            os.path.getsize(self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._writer = None
        if exists:
            with open(self.filename, newline="") as f:
                header = next(csv.reader(f, delimiter=self.separator), None)
            self.keys = header[1:] if header else None
            if self.keys:
                self._writer = csv.writer(self._file, delimiter=self.separator)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
        if self._writer is None:
            self._writer = csv.writer(self._file, delimiter=self.separator)
            self._writer.writerow(["epoch", *self.keys])
        self._writer.writerow([epoch, *[_fmt(logs.get(k, "")) for k in self.keys]])
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


def _fmt(v):
    return repr(float(v)) if isinstance(v, (float, np.floating)) else v
