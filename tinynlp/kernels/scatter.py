"""Scatter-add of rows: the backward of an embedding lookup.

``table_grad[ids[i]] += row_grads[i]`` for every i.  Ids repeat (the same word
twice in a batch), and every occurrence must add — never overwrite.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def scatter_add_rows_reference(table_grad, ids, row_grads):
    """NumPy twin: obviously right (``np.add.at`` handles repeats), slow."""
    np.add.at(table_grad, ids, row_grads)


@njit(cache=True, nogil=True)
def scatter_add_rows(table_grad, ids, row_grads):
    """Fast path: ``table_grad`` (V, D), ``ids`` (N,) int64, ``row_grads`` (N, D)."""
    d = table_grad.shape[1]
    for i in range(ids.shape[0]):
        row = ids[i]
        for j in range(d):
            table_grad[row, j] += row_grads[i, j]
