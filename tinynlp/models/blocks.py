"""A model's inference in blocks of the batch over threads (the models' side of
:class:`tinynlp.workers.BlockChoice`).

At inference every row of a batch is computed from that row alone (in the layers
that declare it: :func:`tinynlp.layers._utils.rows_independent`), so the whole
forward can run on a block of rows per thread, each with one BLAS thread and one
Numba thread.  :class:`~tinynlp.models.Sequential` and
:class:`~tinynlp.models.GPT` do so when their :class:`BlockChoice` measured it
faster for that input shape.
"""

from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor
from ..workers import BlockChoice

__all__ = ["block_choice", "join_blocks"]


def block_choice(model) -> BlockChoice:
    """The model's own :class:`~tinynlp.workers.BlockChoice` (made on first use; not part of
    its config or weights)."""
    choice = model.__dict__.get("_block_choice")
    if choice is None:
        choice = model.__dict__.setdefault("_block_choice", BlockChoice())
    return choice


def join_blocks(parts):
    """The blocks' outputs as one: arrays → a Tensor; ``(array, mask or None)`` pairs → a
    Tensor and the joined mask (or None)."""
    if isinstance(parts[0], tuple):
        outs, masks = zip(*parts)
        mask = None if masks[0] is None else np.concatenate(masks)
        return Tensor(np.concatenate(outs), _copy=False), mask
    return Tensor(np.concatenate(parts), _copy=False)
