"""A train step in blocks of the batch on parallel threads: data parallelism inside one
process.

The loss of a batch is a mean over the positions that count,

    L = Σ_b S_b / n,      n = Σ_b n_b,

where block b of the batch's rows has the loss sum S_b over its n_b counted positions
(:meth:`tinynlp.losses.Loss.sum_and_count`; masks, ``ignore_index``, sample and class
weights included).  So the gradient is a sum over the blocks,

    ∂L/∂θ = Σ_b (1/n) ∂S_b/∂θ,

and each block can run its forward and its backward on its own thread, with one BLAS
thread and one Numba thread (:func:`tinynlp.workers.run_batch_blocks`, as the
inference blocks do).  Each block's backward collects its weight gradients apart
(``backward(leaf_grads=...)``); the calling thread adds them up in block order, so
a run repeats exactly for a given thread count, and takes one optimizer step.  The
step is the whole-batch step up to the order of floating-point additions.

n is known only when every block's forward has run, hence two phases, both on the
threads: (1) forward and (S_b, n_b); (2) the backward of S_b seeded with 1/n.

Why: on the 2-core machine the baby GPT's train step spends half its time outside
the GEMMs — attention, layer norm, gelu, Python — mostly on one core; in blocks every
part of it runs on both cores (``benchmarks/NOTES.md`` section 19).

Which steps: a model whose rows do not meet in training and that draws nothing random
(:meth:`Model._rows_independent_in_training`: the GPT without dropout), a loss that
:func:`~tinynlp.losses.splits_over_rows`, a batch of two rows or more given as arrays,
and gradients on.  Whether it pays is measured per input shape and thread count by
the model's own :class:`~tinynlp.workers.BlockChoice` (the first steps at a new shape
run each way, :data:`TRIALS` times; every one of them is a real step).  Since the
blocks add the gradients up in another order, which way a step ran shows in the last
bits of float32 weights; for runs that repeat bit for bit on a machine, fix the way:
``model._train_block_choice = BlockChoice(force=False)`` (or ``True``), with
``from tinynlp.workers import BlockChoice``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..autograd.tensor import is_grad_enabled
from ..losses import splits_over_rows
from ..workers import BlockChoice, run_batch_blocks
from .data import BatchData

__all__ = ["may_train_in_blocks", "train_in_blocks", "train_block_choice"]


class _Block(NamedTuple):
    """What phase 1 leaves for phase 2: rows [lo, hi) and their loss sum S_b over count n_b,
    with the targets, outputs and mask for the metrics."""
    lo: int
    hi: int
    loss_sum: object      # scalar Tensor, the head of the block's graph
    count: int
    y: np.ndarray
    y_pred: np.ndarray
    mask: object


#: timed train steps each way before choosing: more than at inference, since every one is
#: a real step (nothing is wasted) and a step's time is noisier (two phases, the update)
TRIALS = 5


def train_block_choice(model) -> BlockChoice:
    """The model's own :class:`BlockChoice` for train steps (made on first use; apart from
    the inference one, and not part of its config or weights)."""
    choice = model.__dict__.get("_train_block_choice")
    if choice is None:
        choice = model.__dict__.setdefault("_train_block_choice", BlockChoice(trials=TRIALS))
    return choice


def may_train_in_blocks(model, batch: BatchData) -> bool:
    """Whether :func:`train_in_blocks` applies to this model, loss and batch (see the module
    docstring); the thread count and the measurement are :class:`BlockChoice`'s."""
    x = batch.x
    if not (is_grad_enabled() and isinstance(x, np.ndarray) and x.ndim >= 1 and len(x) > 1):
        return False
    rows = len(x)
    if not all(a is None or (isinstance(a, np.ndarray) and a.ndim >= 1 and len(a) == rows)
               for a in (batch.y, batch.sample_weight, batch.mask)):
        return False
    return batch.y is not None and model._rows_independent_in_training() and \
        splits_over_rows(model.loss)


def train_in_blocks(model, batch: BatchData, class_weight, update_metrics=True):
    """One train step (as ``Model._train_step``: returns ``(loss value, batch size)``), in
    blocks when the model's :class:`BlockChoice` measured that faster, else whole."""
    return train_block_choice(model).run(
        batch.x.shape,
        lambda: model._train_step_whole(batch, class_weight, update_metrics),
        lambda lo, hi: _forward_block(model, batch, class_weight, lo, hi),
        lambda blocks: _finish_step(model, blocks, update_metrics))


def _forward_block(model, batch, class_weight, lo, hi) -> _Block:
    """Phase 1, on a worker thread: rows [lo, hi) forward, and their (S_b, n_b)."""
    def rows(a):
        return None if a is None else a[lo:hi]

    part = BatchData(rows(batch.x), rows(batch.y), rows(batch.sample_weight), rows(batch.mask))
    y_pred = model._call_on_batch(part.x, True, part.mask)
    y, sw, mask = model._loss_inputs(part, y_pred, class_weight)
    loss_sum, count = model.loss.sum_and_count(y, y_pred, sample_weight=sw, mask=mask)
    return _Block(lo, hi, loss_sum, count, y, y_pred.data, mask)


def _finish_step(model, blocks: list[_Block], update_metrics) -> tuple[float, int]:
    """On the calling thread: the batch's loss; if finite, phase 2 (each block's backward on
    its thread), the gradients added up in block order, the update and the metrics."""
    n = max(sum(b.count for b in blocks), 1)
    reg = model.regularization_losses()
    value = sum(float(b.loss_sum.data) for b in blocks) / n + sum(float(r.data) for r in reg)
    if math.isfinite(value):
        by_start = {b.lo: b for b in blocks}

        def backward_block(lo, hi):
            head = by_start[lo].loss_sum
            grads = {}
            head.backward(np.asarray(1.0 / n, dtype=head.data.dtype), leaf_grads=grads)
            return grads

        for grads in run_batch_blocks(backward_block, [(b.lo, b.hi) for b in blocks]):
            for p, g in grads.values():
                p.grad = g if p.grad is None else p.grad + g
        for r in reg:
            r.backward()
        model._update_weights()
        if update_metrics:
            y = np.concatenate([b.y for b in blocks])
            y_pred = np.concatenate([b.y_pred for b in blocks])
            mask = None if blocks[0].mask is None else np.concatenate([b.mask for b in blocks])
            model._update_metrics(y, y_pred, mask)
    return value, blocks[-1].hi - blocks[0].lo
