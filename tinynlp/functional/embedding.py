"""Embedding lookup: row ``ids`` of a table, and its row-sparse gradient.

For a table ``E`` (V, D) and integer ids of any shape::

    h[..., :] = E[id, :]            (= one_hot(id) @ E)
    dL/dE[v]  = Σ_{positions p with id_p = v} dL/dh_p

Every occurrence of a repeated id adds its gradient (the classic bug is to
write instead of add).  The fast path scatter-adds the rows with a Numba
kernel; ``sparse=True`` skips even that and hands back a
:class:`~tinynlp.autograd.tensor.RowSparseGrad` (the touched rows only), which
optimizers can apply without visiting the other V − N rows.

``frozen_rows`` (a boolean ``(V,)`` mask) holds some rows fixed while the
others learn, e.g. pretrained vectors frozen and out-of-vocabulary rows
trained: the frozen rows act as constants, so their gradient is zero::

    dL/dE[v] = 0                                   if frozen[v]
             = Σ_{p: id_p = v} dL/dh_p             otherwise

(PyTorch's ``padding_idx`` is the one-row case.)  Their positions are dropped
before the scatter, so a row-sparse gradient never names a frozen row and a
lazy optimizer never visits it.
"""

from __future__ import annotations

import numpy as np

from ..autograd.tensor import Function, RowSparseGrad, Tensor
from ..kernels.scatter import scatter_add_rows, scatter_add_rows_reference
from ._checks import KERNEL_DTYPES

__all__ = ["embedding", "embedding_reference", "check_ids", "check_frozen_rows"]


def check_ids(ids, vocab_size, name="ids", op="embedding"):
    """``ids`` as an int64 ndarray, after checking every id lies in [0, vocab_size).

    Accepts integer ndarrays, integer Tensors and lists of ints.  The error for
    an out-of-range id names the id, its position and the vocabulary size.
    """
    if isinstance(ids, Tensor):
        ids = ids.data
    arr = ids if isinstance(ids, np.ndarray) else np.asarray(ids)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and arr.size and np.all(np.mod(arr, 1) == 0):
            hint = f" (they look whole: convert with {name}.astype('int64'))"
        else:
            hint = ""
        raise TypeError(f"{op}: {name} must be integers (token ids), got dtype {arr.dtype}{hint}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size:
        bad = (arr < 0) | (arr >= vocab_size)
        if bad.any():
            pos = tuple(int(i) for i in np.argwhere(bad)[0])
            value = int(arr[pos])
            raise ValueError(
                f"{op}: {name} contains id {value} at position {pos}, outside the table's "
                f"V={vocab_size} rows (valid ids are 0..{vocab_size - 1})")
    return arr


def _check_table(table):
    shape = table.shape if isinstance(table, (Tensor, np.ndarray)) else np.shape(table)
    if len(shape) != 2:
        raise ValueError(f"embedding: table must be 2-D (vocab_size, dim), got shape {shape}")
    dt = table.dtype if isinstance(table, (Tensor, np.ndarray)) else np.asarray(table).dtype
    if dt.kind != "f":
        raise TypeError(f"embedding: table must be floating point, got dtype {dt}")
    return shape


def check_frozen_rows(frozen_rows, vocab_size, name="frozen_rows", op="embedding"):
    """``frozen_rows`` as a boolean ``(vocab_size,)`` mask, or None.

    Accepts a boolean mask of that shape or a sequence of row indices.
    """
    if frozen_rows is None:
        return None
    arr = np.asarray(frozen_rows.data if isinstance(frozen_rows, Tensor) else frozen_rows)
    if arr.dtype == bool:
        if arr.shape != (vocab_size,):
            raise ValueError(f"{op}: {name} as a boolean mask must have shape ({vocab_size},) "
                             f"(one entry per table row), got {arr.shape}")
        return arr
    if arr.size == 0:
        return np.zeros(vocab_size, dtype=bool)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise TypeError(f"{op}: {name} must be a boolean mask of shape ({vocab_size},) or a "
                        f"1-D list of row indices, got dtype {arr.dtype} and shape {arr.shape}")
    rows = check_ids(arr, vocab_size, name=name, op=op)
    mask = np.zeros(vocab_size, dtype=bool)
    mask[rows] = True
    return mask


class Embedding(Function):
    """h = E[ids];   dL/dE = scatter-add of dL/dh into the rows ``ids`` (repeats add up),
    except into ``frozen`` rows, whose gradient is zero"""

    differentiable = (1,)
    fresh_grads = True   # the dense table gradient is a new np.zeros + scatter-add

    @staticmethod
    def forward(ctx, ids, table, sparse=False, frozen=None):
        ctx.ids = ids
        ctx.table_shape = table.shape
        ctx.sparse = sparse
        ctx.frozen = frozen
        return np.take(table, ids, axis=0)

    @staticmethod
    def backward(ctx, g):
        v, d = ctx.table_shape
        flat_ids = ctx.ids.reshape(-1)
        rows = g.reshape(flat_ids.size, d)
        if ctx.frozen is not None:
            keep = ~ctx.frozen[flat_ids]
            if not keep.all():
                flat_ids, rows = flat_ids[keep], rows[keep]
        if ctx.sparse:
            if len(flat_ids) == 0:  # every looked-up row frozen: no row to update
                return None, None
            return None, RowSparseGrad(flat_ids, rows, ctx.table_shape)
        grad = np.zeros((v, d), dtype=g.dtype)
        if grad.dtype in KERNEL_DTYPES:
            scatter_add_rows(grad, flat_ids, np.ascontiguousarray(rows))
        else:                                     # e.g. float16: the kernel's NumPy twin
            scatter_add_rows_reference(grad, flat_ids, rows)
        return None, grad


def embedding(ids, table, sparse=False, frozen_rows=None):
    """Look up rows: ids (...) int, table (V, D) → (..., D).

    ``sparse=True`` makes the table's gradient a ``RowSparseGrad`` (only when
    the table is a leaf tensor, e.g. a Parameter; otherwise it is dense).
    ``frozen_rows`` (boolean ``(V,)`` mask or row indices): rows that get no
    gradient (see the module docstring).
    """
    v, _ = _check_table(table)
    ids = check_ids(ids, v)
    frozen = check_frozen_rows(frozen_rows, v)
    if frozen is not None and not frozen.any():
        frozen = None
    if sparse and isinstance(table, Tensor) and not table.is_leaf:
        sparse = False  # a RowSparseGrad cannot flow further back through other ops
    return Embedding.apply(ids, table, sparse=bool(sparse), frozen=frozen)


def embedding_reference(ids, table, frozen_rows=None):
    """The lookup as a matrix product of primitive ops: ``one_hot(ids) @ E``.

    ``one_hot(ids)[..., v] = [id = v]``, so row p of the product is ``E[id_p]``
    and the matmul's backward ``one_hotᵀ @ G`` sums the gradients of repeated ids.
    With ``frozen_rows`` (mask m, 1 = frozen) the table is first rebuilt as
    ``E·(1 − m) + const(E·m)``: the same values, but the frozen part is a
    constant outside the graph, so its rows get no gradient.
    """
    v, _ = _check_table(table)
    ids = check_ids(ids, v)
    frozen = check_frozen_rows(frozen_rows, v)
    if not isinstance(table, Tensor):
        table = Tensor(np.asarray(table), _copy=False)
    if frozen is not None:
        m = frozen.astype(table.dtype)[:, None]
        table = table * Tensor(1.0 - m, _copy=False) + Tensor(table.data * m, _copy=False)
    one_hot = np.zeros(ids.shape + (v,), dtype=table.dtype)
    np.put_along_axis(one_hot, ids[..., None], 1, axis=-1)
    return Tensor(one_hot, _copy=False) @ table
