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
gradients on, more than one thread, and blocks of at least :data:`MIN_BLOCK_POSITIONS`
positions each.  That last rule is fixed, not measured at run time as the inference
blocks are (:class:`~tinynlp.workers.BlockChoice`): the blocks add the gradients up in
another order, so which way a step runs shows in the last bits of the weights, and a
run must repeat bit for bit for a given thread count (a pretraining run resumed from
its checkpoint ends on the same weights as one never interrupted).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .. import workers
from ..autograd.tensor import add_leaf_grads, is_grad_enabled
from ..losses import splits_over_rows
from ..workers import run_batch_blocks
from .data import BatchData

__all__ = ["may_train_in_blocks", "train_in_blocks", "blocks_for", "MIN_BLOCK_POSITIONS"]


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


#: the fewest positions (rows × time steps) each block must have.  Measured on the 2-core
#: VM (``benchmarks/NOTES.md`` section 19.3), GPT train steps in blocks against whole:
#: 512 and 384 positions per block 0.87–0.95 of the time, 192 and fewer 1.12–1.98 (the
#: threads' hand-offs and the smaller products cost more than the second core gains).
MIN_BLOCK_POSITIONS = 256


def blocks_for(model, shape):
    """The blocks of rows a train step on inputs of ``shape`` runs in, or None for the
    whole batch: as forced by ``model._train_in_blocks`` (True / False: tests and
    benchmarks), else two blocks or more (:func:`tinynlp.workers.batch_blocks`: one per
    thread) of at least :data:`MIN_BLOCK_POSITIONS` positions each."""
    forced = model.__dict__.get("_train_in_blocks")
    if forced is False:
        return None
    blocks = workers.batch_blocks(shape[0])
    if len(blocks) < 2:
        return None
    if forced or min(hi - lo for lo, hi in blocks) * math.prod(shape[1:]) >= \
            MIN_BLOCK_POSITIONS:
        return blocks
    return None


def may_train_in_blocks(model, batch: BatchData) -> bool:
    """Whether :func:`train_in_blocks` applies to this model, loss and batch (see the module
    docstring); whether it splits the batch is then :func:`blocks_for`'s rule."""
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
    the blocks :func:`blocks_for` gives, else whole."""
    blocks = blocks_for(model, batch.x.shape)
    if blocks is None:
        return model._train_step_whole(batch, class_weight, update_metrics)
    parts = run_batch_blocks(lambda lo, hi: _forward_block(model, batch, class_weight, lo, hi),
                             blocks)
    return _finish_step(model, parts, update_metrics)


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
            add_leaf_grads(grads)                  # in block order
        for r in reg:
            r.backward()
        model._update_weights()
        if update_metrics:
            y = np.concatenate([b.y for b in blocks])
            y_pred = np.concatenate([b.y_pred for b in blocks])
            mask = None if blocks[0].mask is None else np.concatenate([b.mask for b in blocks])
            model._update_metrics(y, y_pred, mask)
    return value, blocks[-1].hi - blocks[0].lo
