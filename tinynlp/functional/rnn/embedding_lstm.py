"""An Embedding and the LSTM after it as one op: :func:`lstm_lookup`.

x_t is always a row of the embedding table, and a batch of sentences holds few
distinct ids, so the LSTM's input projection x_t W is made once per distinct id
(P = table[u] W) and every step reads its rows of P; the backward groups its sums
by id the same way (:class:`LSTMLookup`).  The LSTM's loops over time are
:mod:`.lstm_cell`'s (:func:`~.lstm_cell.run_inference`,
:func:`~.lstm_cell.run_training_forward`, :func:`~.lstm_cell.run_bptt`), reading
``lookup = (P, idx)`` where :class:`~.lstm_cell.LSTM` reads x.
"""

from __future__ import annotations

import numpy as np

from ...autograd.tensor import Function, RowSparseGrad, as_tensor
from ...kernels.scatter import scatter_add_rows
from ..embedding import check_frozen_rows, embedding
from ..lookup import check_lookup, shared_rows
from .common import check_inputs, common_dtype
from .lstm_cell import (
    internal_weights, lstm, lstm_from_internal, run_bptt, run_inference, run_training_forward,
)
from .workspace import WORKSPACE, GiveBack, MaskInfo, grad_needed, outputs, sum_rows

__all__ = ["LSTMLookup", "lstm_lookup"]


class LSTMLookup(Function):
    """:class:`LSTM` over x = table[ids] without making x (:func:`lstm_lookup`).

    Forward: P = table[u] W for the distinct ids u, in one GEMM; then the steps of
    :class:`LSTM`, each reading row j of P where ``ids[b, t] = u[j]`` instead of
    multiplying x_t by W.  Backward: BPTT as :class:`LSTM` gives da_{b,t}; where LSTM
    then makes dx = da Wᵀ and dW = Σ x_{b,t}ᵀ da_{b,t} over all B·T positions, the sums
    are grouped by id first (x_{b,t} = table[u_j] at each position of u_j)::

        S_j = Σ_{b,t: ids[b,t] = u_j} da_{b,t}           (a scatter-add: (|u|, 4H))
        dW = table[u]ᵀ S,    dL/dtable[u_j] = S_j Wᵀ     (every other row: 0)

    dU, db, dL/dh0 and dL/dc0 are LSTM's.  ``sparse``: the table's gradient as a
    :class:`~tinynlp.autograd.tensor.RowSparseGrad` on the rows u; ``frozen`` rows get
    none (both as :func:`~tinynlp.functional.embedding`).
    """

    differentiable = (1, 2, 3, 4, 5, 6)

    @staticmethod
    def forward(ctx, ids, table, h0, c0, W, U, b, mask, distinct, sparse=False, frozen=None):
        dt = common_dtype(table, h0, c0, W, U, b)
        Wp, Up, _, Ws, Us, bs = internal_weights(W, U, b, dt)
        u, inv = distinct                                 # shared_rows(ids, V)
        rows = table[u].astype(dt, copy=False)            # (|u|, D), a copy (fancy index)
        info = MaskInfo.of(mask, dt)
        train = grad_needed(ctx)
        if train and info is not None:
            # an id met only at padded steps: its row reaches no output, and must reach
            # no gradient either (dW = rowsᵀ S would turn a NaN there into NaN)
            real = np.zeros(len(u), dtype=bool)
            real[inv[mask]] = True
            rows[~real] = 0
        lookup = (rows @ Ws, np.ascontiguousarray(inv.T))  # P, and idx time-major (T, B)
        if not train:
            out, h, c = run_inference(None, None, Us, bs, h0, c0, info, lookup)
            return out.transpose(1, 0, 2), h, c
        A, Hs, C, TC = run_training_forward(None, None, Us, bs, h0, c0, info, lookup)
        ctx.save_for_backward(rows, Wp, Up, A, Hs, C, TC)
        ctx.u, ctx.idx, ctx.info = u, lookup[1], info
        ctx.table_shape, ctx.sparse, ctx.frozen = table.shape, sparse, frozen
        ctx.scratch = GiveBack(A, C, TC)
        return outputs(Hs, info), Hs[-1].copy(), C[-1].copy()

    @staticmethod
    def backward(ctx, g_hs, g_h, g_c):
        rows, Wp, Up, A, Hs, C, TC = ctx.saved
        T, B, H4 = A.shape
        dA, dh, dc = run_bptt(A, TC, C, Up, g_hs, g_h, g_c, ctx.info)
        dA2 = dA.reshape(T * B, H4)
        needs = ctx.needs_input_grad
        d_table = dW = dU = db = None
        if needs[1] or needs[4]:
            S = np.zeros((len(ctx.u), H4), dtype=dA.dtype)       # Σ da per distinct id
            scatter_add_rows(S, ctx.idx.reshape(-1).astype(np.int64, copy=False), dA2)
            if needs[1]:
                d_table = _table_grad(ctx, S @ Wp.T)
            if needs[4]:
                dW = lstm_from_internal(rows.T @ S)
        if needs[5]:
            dU = lstm_from_internal(Hs[:-1].reshape(T * B, -1).T @ dA2)
        if needs[6]:
            db = lstm_from_internal(sum_rows(dA2))
        WORKSPACE.give(dA)
        return (None, d_table, dh if needs[2] else None, dc if needs[3] else None, dW, dU, db,
                None, None)


def _table_grad(ctx, d_rows):
    """The table's gradient from the distinct ids' rows of it (``d_rows`` (|u|, D)): dense
    (V, D), or a RowSparseGrad; frozen rows left out (None when every row is frozen)."""
    u = ctx.u
    if ctx.frozen is not None:
        keep = ~ctx.frozen[u]
        u, d_rows = u[keep], d_rows[keep]
    if ctx.sparse:
        return RowSparseGrad(u, d_rows, ctx.table_shape) if len(u) else None
    grad = np.zeros(ctx.table_shape, dtype=d_rows.dtype)
    grad[u] = d_rows                                      # u holds each id once
    return grad


def lstm_lookup(ids, table, h0, c0, W, U, b, mask=None, sparse=False, frozen_rows=None):
    """:func:`lstm` over x = table[ids] (``embedding(ids, table)``), without making x.

    The LSTM's input projection x_t W only ever meets the rows of the table::

        x_{b,t} W = (table W)[ids_{b,t}] = P[j]  with  P = table[u] W

    for the distinct ids u of the batch (``u[j] = ids_{b,t}``).  So P is made in one
    GEMM of |u| rows, and each step reads its rows of P instead of multiplying its
    x_t by W; the backward groups its sums by id the same way (:class:`LSTMLookup`).
    A batch of B sentences of T tokens holds far fewer than B·T distinct ids (padding
    alone repeats id 0), and x_t W is close to half of the forward's multiply-adds
    (D·4H of D·4H + H·4H per token), its gradients two of the backward's five GEMMs.

    When the distinct ids are more than
    :data:`~tinynlp.functional.lookup.MAX_DISTINCT_FRACTION` of the B·T
    positions there is little to share, and it runs ``lstm(embedding(ids, table), ...)``
    instead.  (``python benchmarks/lstm_lookup.py --distinct ... --forced``, batch 32
    and 256, LSTM(128) on 100-dim rows: the lookup's inference took 0.71–0.81 of the
    two ops' time at 17 % distinct ids, 0.94–0.99 at 50 %, 0.97–1.02 at 56–67 %; its
    train step 0.67–0.73, 0.79–0.88 and 0.79–0.96.)

    ``ids`` (B, T) token ids in [0, V), ``table`` (V, D); ``sparse`` and ``frozen_rows``
    as :func:`~tinynlp.functional.embedding`; the rest as :func:`lstm`.  The outputs
    and every gradient equal those of ``lstm(embedding(ids, table), ...)`` up to
    rounding (the same products, summed in another order).  ``Sequential`` runs an
    ``Embedding`` and the ``LSTM`` after it this way.
    Returns ``(hs (B, T, H), h_last (B, H), c_last (B, H))``.
    """
    op = "lstm_lookup"
    ids, tab = check_lookup(ids, table, op)
    x_shape = np.broadcast_to(np.zeros((), tab.dtype), (*ids.shape, tab.shape[1]))
    *_, m = check_inputs(op, x_shape, {"h0": h0, "c0": c0}, W, U, b, mask, 4,
                         numba_kernels=True)
    frozen = check_frozen_rows(frozen_rows, tab.shape[0], op=op)
    if frozen is not None and not frozen.any():
        frozen = None
    distinct = shared_rows(ids, tab.shape[0])
    if distinct is None:                                        # little to share: as LSTM
        return lstm(embedding(ids, table, sparse=sparse, frozen_rows=frozen), h0, c0, W, U, b,
                    mask=m)
    table = as_tensor(table)
    return LSTMLookup.apply(ids, table, *(None if s is None else as_tensor(s) for s in (h0, c0)),
                            as_tensor(W), as_tensor(U), as_tensor(b), m, distinct,
                            sparse=bool(sparse) and table.is_leaf, frozen=frozen)
