"""What the ops that read an embedding's rows once per distinct id share
(:func:`~tinynlp.functional.lstm_lookup`, :func:`~tinynlp.functional.conv1d_lookup`, the
quantized Conv1D's lookup): their input checks, the batch's distinct ids, and the rule
for when sharing the products pays.

After an Embedding, x[b, t] = table[ids[b, t]], so a layer's product x[b, t] · W is row
ids[b, t] of table · W.  Made once for the batch's distinct ids u, P = table[u] · W
replaces B·T row products by |u|.
"""

from __future__ import annotations

import numpy as np

from ..autograd.tensor import to_numpy
from .embedding import check_ids

__all__ = ["check_lookup", "distinct_ids", "shared_rows", "MAX_DISTINCT_FRACTION"]

#: a lookup shares the products between positions only when the batch's distinct ids are
#: at most this share of its positions; above it the layer's own products were as fast or
#: faster (``benchmarks/lstm_lookup.py --distinct ... --forced``; benchmarks/NOTES.md
#: sections 20.3 and 20.6)
MAX_DISTINCT_FRACTION = 0.5


def check_lookup(ids, table, op, layout="(batch, time)"):
    """``(ids, table)`` as arrays for an op that reads a table's rows for 2-D ``ids``
    (:func:`~tinynlp.functional.lstm_lookup`, :func:`~tinynlp.functional.conv1d_lookup`):
    the table 2-D floating point, every id in [0, V) (:func:`check_ids`)."""
    tab = to_numpy(table)
    if tab.ndim != 2 or tab.dtype.kind != "f":
        raise ValueError(f"{op}: table must be a 2-D (vocab_size, dim) floating-point array, "
                         f"got shape {tab.shape} dtype {tab.dtype}")
    ids = check_ids(ids, tab.shape[0], op=op)
    if ids.ndim != 2:
        raise ValueError(f"{op}: ids must be 2-D {layout}, got shape {ids.shape}")
    return ids, tab


def distinct_ids(ids, vocab_size):
    """``(u, inv)``: the distinct ids in increasing order and each id's position in u
    (``u[inv] == ids``, the shape of ``ids``), as ``np.unique(ids, return_inverse=True)``
    gives them.  Through a (V,) table of which ids occur when the vocabulary is not much
    larger than the batch (linear time: 30 µs instead of np.unique's sort, 280 µs, for
    3,200 ids of 20,000)."""
    if vocab_size > 16 * ids.size:
        u, inv = np.unique(ids, return_inverse=True)
        return u, inv.reshape(ids.shape)
    seen = np.zeros(vocab_size, dtype=bool)
    seen[ids] = True
    u = np.flatnonzero(seen)
    position = np.cumsum(seen, dtype=np.intp) - 1
    return u, position[ids]


def shared_rows(ids, vocab_size):
    """``(u, inv)`` (:func:`distinct_ids`) when the ids repeat enough for a lookup to pay
    (at most :data:`MAX_DISTINCT_FRACTION` of the positions distinct), else None."""
    u, inv = distinct_ids(ids, vocab_size)
    return None if len(u) > MAX_DISTINCT_FRACTION * ids.size else (u, inv)
