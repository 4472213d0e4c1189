"""The settings of one ``fit`` call, checked (Keras' defaults filled in), and the number
of batches per epoch."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..progress import resolve_verbose
from .data import ArrayData, check_batch_size

__all__ = ["FitRun", "check_fit_args", "steps_per_epoch_of"]


class FitRun(NamedTuple):
    """The settings of one ``fit`` call that every epoch reads."""

    epochs: int
    steps: object             # batches per epoch, or None when unknown
    batch_size: int
    shuffle: bool
    steps_per_epoch: object
    class_weight: object
    ctx: object               # the distributed context, or None
    callbacks: object         # the CallbackList
    nan_handlers: list        # TerminateOnNaN callbacks


def check_fit_args(batch_size, epochs, verbose, class_weight):
    """Validated ``(batch_size, verbose)`` (Keras' defaults filled in)."""
    batch_size = check_batch_size(batch_size, "fit")
    if not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative integer, got {epochs!r}")
    verbose = resolve_verbose(verbose, what="fit: verbose")
    if class_weight is not None and not isinstance(class_weight, dict):
        raise TypeError(f"fit: class_weight must be a dict {{class: weight}}, got "
                        f"{type(class_weight).__name__}")
    return batch_size, verbose


def steps_per_epoch_of(train, batch_size, steps_per_epoch, ctx, initial_epoch):
    """Batches per epoch (this rank's share when distributed), capped by ``steps_per_epoch``."""
    if isinstance(train, ArrayData):
        n_local = train.n
        if ctx is not None:
            n_local = len(ctx.shard_indices(train.n, initial_epoch, 0, shuffle=False))
        steps = train.num_batches(batch_size, n_local)
    else:
        steps = train.num_batches()
    if steps_per_epoch is not None:
        steps = steps_per_epoch if steps is None else min(steps, steps_per_epoch)
    return steps
