"""``F.lstm_lookup``: the LSTM over ``table[ids]``, reading the rows of P = table[u] W
for the distinct ids u instead of multiplying each x_t by W, and grouping the backward's
sums by id — against ``F.lstm(F.embedding(ids, table), ...)`` (outputs and every
gradient, dense, row-sparse and with frozen rows), on every path the LSTM takes (blocks of
rows in Numba, the whole batch in the Python loop), and a float64 gradcheck."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinynlp as tn
from tinynlp import functional as F
from tinynlp.functional import lookup
from tinynlp.functional.rnn import embedding_lstm, lstm_cell
from tinynlp.kernels import blas

from tests.helpers import check_grad, t64

from .test_rnn import MASKS, make_params
from .test_rnn_rows import _force_split, _mask, _tol


@pytest.fixture(autouse=True)
def always_share(monkeypatch):
    """The lookup at any share of distinct ids (small random batches rarely repeat ids
    enough for the rule, which its own test checks)."""
    monkeypatch.setattr(lookup, "MAX_DISTINCT_FRACTION", 1.0)


def _case(rng, B, T, V, D, H, dtype, states):
    ids = rng.integers(0, V, (B, T))
    table = rng.standard_normal((V, D)).astype(dtype)
    _, h0, c0, W, U, b = make_params("lstm", B, T, D, H, rng, scale=1.5, dtype=dtype)
    return ids, table, (h0, c0) if states else (None, None), W, U, b


def _both(ids, table, states, W, U, b, mask):
    """``(lookup, looked up then lstm)``: each as (hs, h, c) arrays."""
    with tn.no_grad():
        got = F.lstm_lookup(ids, table, *states, W, U, b, mask=mask)
        want = F.lstm(F.embedding(ids, table), *states, W, U, b, mask=mask)
    return [o.data for o in got], [o.data for o in want]


@settings(max_examples=30, deadline=None)
@given(B=st.integers(1, 9), T=st.integers(1, 6), V=st.integers(1, 12), D=st.integers(1, 5),
       H=st.integers(1, 5), threads=st.integers(1, 3), numba_gemm=st.booleans(),
       masked=st.sampled_from(["none", "post", "pre"]), states=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_lookup_equals_the_lstm_of_the_looked_up_rows(B, T, V, D, H, threads, numba_gemm,
                                                       masked, states, dtype, seed):
    if numba_gemm and blas.numpy_gemm(dtype) is None:
        return                              # NumPy not on its bundled OpenBLAS: one path only
    rng = np.random.default_rng(seed)
    ids, table, st_, W, U, b = _case(rng, B, T, V, D, H, dtype, states)
    mask = _mask(rng, B, T, masked)
    with pytest.MonkeyPatch.context() as mp:
        _force_split(mp, threads)
        if not numba_gemm:                  # the whole batch in the Python loop (np.take)
            mp.setattr(lstm_cell, "_plan", lambda dt, B, H: ([(0, B)], None))
        got, want = _both(ids, table, st_, W, U, b, mask)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype == dtype
        np.testing.assert_allclose(g, w, **_tol(dtype))
    if mask is not None:
        np.testing.assert_array_equal(got[0][~mask], 0)


@pytest.mark.parametrize("numba_gemm", [True, False])
def test_a_nan_in_a_padded_steps_row_reaches_no_output(monkeypatch, numba_gemm):
    """A padded step keeps its row's state: a NaN in the padding id's row of the table
    reaches no output."""
    if not numba_gemm:
        monkeypatch.setattr(lstm_cell, "_plan", lambda dt, B, H: ([(0, B)], None))
    rng = np.random.default_rng(0)
    ids, table, states, W, U, b = _case(rng, 5, 7, 9, 4, 3, np.float64, True)
    ids[:, :3] = 0
    ids[:, 3:] = np.maximum(ids[:, 3:], 1)
    table[0] = np.nan
    got, want = _both(ids, table, states, W, U, b, ids != 0)
    for g, w in zip(got, want):
        assert np.isfinite(g).all()
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-13)


def test_the_benchmarks_sizes_in_blocks_of_rows():
    """LSTM(128) on 100-dim rows of a 2,000-word table, 32 sentences of 100 ids, most of
    them padding: the default plan (blocks on two threads where it allows)."""
    rng = np.random.default_rng(1)
    ids, table, states, W, U, b = _case(rng, 32, 100, 2000, 100, 128, np.float32, False)
    ids[:, :80] = 0
    got, want = _both(ids, table, states, W, U, b, None)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6)


@settings(max_examples=40, deadline=None)
@given(V=st.integers(1, 5000), n=st.integers(1, 60), seed=st.integers(0, 2**16))
def test_distinct_ids_are_np_uniques(V, n, seed):
    """Both ways (a table of the ids seen; np.unique when the vocabulary is much larger
    than the batch) give np.unique's ids and inverse."""
    ids = np.random.default_rng(seed).integers(0, V, (n, 3))
    u, inv = F.distinct_ids(ids, V)
    u2, inv2 = np.unique(ids, return_inverse=True)
    np.testing.assert_array_equal(u, u2)
    np.testing.assert_array_equal(inv, inv2.reshape(ids.shape))
    np.testing.assert_array_equal(u[inv], ids)


def _args():
    rng = np.random.default_rng(2)
    ids, table, _, W, U, b = _case(rng, 2, 3, 6, 4, 3, np.float64, False)
    return ids, table, W, U, b


@pytest.mark.parametrize("change, message", [
    (lambda a: {**a, "ids": np.array([[0, 6, 1]])}, "6"),
    (lambda a: {**a, "ids": np.array([[0, -1, 1]])}, "-1"),
    (lambda a: {**a, "ids": np.array([0, 1, 2])}, r"2-D \(batch, time\)"),
    (lambda a: {**a, "ids": np.array([[0.5, 1.0]])}, "integers"),
    (lambda a: {**a, "table": np.zeros((6, 4), np.int64)}, "floating-point"),
    (lambda a: {**a, "table": np.zeros(6)}, r"2-D \(vocab_size, dim\)"),
    (lambda a: {**a, "W": np.zeros((5, 12))}, "W must have shape"),
    (lambda a: {**a, "mask": np.ones((2, 4), bool)}, "mask"),
])
def test_bad_inputs_are_named(change, message):
    ids, table, W, U, b = _args()
    a = change(dict(ids=ids, table=table, W=W, U=U, b=b, mask=None))
    with pytest.raises((ValueError, TypeError), match=message):
        F.lstm_lookup(a["ids"], a["table"], None, None, a["W"], a["U"], a["b"], mask=a["mask"])


# ---- gradients ------------------------------------------------------------------------

@pytest.mark.parametrize("mask", list(MASKS), ids=list(MASKS))
@pytest.mark.parametrize("states", [True, False])
def test_gradcheck(mask, states):
    """float64 finite differences for the table, the initial states, W, U and b; ids
    repeat (the scatter-add of S) and an id appears only at padded steps."""
    rng = np.random.default_rng(4)
    ids = np.array([[1, 2, 1, 3], [2, 2, 0, 4], [4, 1, 3, 3]])
    table, h0, c0 = rng.standard_normal((5, 3)), *rng.standard_normal((2, 3, 4)) * 0.5
    _, _, _, W, U, b = make_params("lstm", 3, 4, 3, 4, rng, scale=1.5)
    m = MASKS[mask]
    if states:
        check_grad("lstm_lookup", lambda *a: F.lstm_lookup(ids, *a, mask=m),
                   [t64(a) for a in (table, h0, c0, W, U, b)])
    else:
        check_grad("lstm_lookup", lambda t, W, U, b: F.lstm_lookup(ids, t, None, None, W, U, b,
                                                                   mask=m),
                   [t64(a) for a in (table, W, U, b)])


def _grads(fn, ids, table, states, W, U, b, mask, sparse, frozen):
    """Outputs and gradients of Σ v ⊙ outputs: ``[hs, h, c, d table (dense), dh0, dc0,
    dW, dU, db]``, and the table's gradient as it came (dense or RowSparseGrad)."""
    tab = tn.Tensor(table, requires_grad=True)
    ins = [None if s is None else tn.Tensor(s, requires_grad=True) for s in states]
    weights = [tn.Tensor(a, requires_grad=True) for a in (W, U, b)]
    outs = fn(ids, tab, *ins, *weights, mask, sparse, frozen)
    v = np.random.default_rng(9).standard_normal(outs[0].shape).astype(outs[0].dtype)
    ((outs[0] * tn.tensor(v)).sum() + outs[1].sum() + outs[2].sum()).backward()
    g = tab.grad
    dense = np.zeros_like(table) if g is None else (g if isinstance(g, np.ndarray) else
                                                    g.to_dense())
    return ([o.data for o in outs] + [dense] + [None if t is None else t.grad for t in ins]
            + [w.grad for w in weights]), g


def _looked_up_then_lstm(ids, tab, h0, c0, W, U, b, mask, sparse, frozen):
    return F.lstm(F.embedding(ids, tab, sparse=sparse, frozen_rows=frozen), h0, c0, W, U, b,
                  mask=mask)


def _lookup(ids, tab, h0, c0, W, U, b, mask, sparse, frozen):
    return F.lstm_lookup(ids, tab, h0, c0, W, U, b, mask=mask, sparse=sparse,
                         frozen_rows=frozen)


@settings(max_examples=30, deadline=None)
@given(B=st.integers(1, 7), T=st.integers(1, 5), V=st.integers(1, 10), D=st.integers(1, 4),
       H=st.integers(1, 4), threads=st.integers(1, 3), numba_gemm=st.booleans(),
       masked=st.sampled_from(["none", "post", "pre"]), states=st.booleans(),
       sparse=st.booleans(), frozen=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_gradients_equal_those_of_the_looked_up_rows(B, T, V, D, H, threads, numba_gemm, masked,
                                                     states, sparse, frozen, dtype, seed):
    if numba_gemm and blas.numpy_gemm(dtype) is None:
        return
    rng = np.random.default_rng(seed)
    ids, table, st_, W, U, b = _case(rng, B, T, V, D, H, dtype, states)
    mask = _mask(rng, B, T, masked)
    rows = rng.random(V) < 0.4 if frozen else None
    with pytest.MonkeyPatch.context() as mp:
        _force_split(mp, threads)
        if not numba_gemm:
            mp.setattr(lstm_cell, "_plan", lambda dt, B, H: ([(0, B)], None))
        got, g_table = _grads(_lookup, ids, table, st_, W, U, b, mask, sparse, rows)
        want, w_table = _grads(_looked_up_then_lstm, ids, table, st_, W, U, b, mask, sparse,
                               rows)
    for g, w in zip(got, want):
        if w is None:
            assert g is None
            continue
        assert g.shape == w.shape and g.dtype == w.dtype == dtype
        np.testing.assert_allclose(g, w, **_tol_grad(dtype))
    if sparse and w_table is not None:     # the same rows touched: a lazy optimizer's rows
        assert isinstance(g_table, type(w_table))
        np.testing.assert_array_equal(g_table.coalesce().indices, w_table.coalesce().indices)
    else:
        assert (g_table is None) == (w_table is None)


def _tol_grad(dtype):
    return dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


def test_a_nan_in_a_row_met_only_at_padded_steps_reaches_no_gradient():
    """LSTM zeroes a padded x; the lookup zeroes the row of an id met only at padded steps,
    so dW = table[u]ᵀ S holds no NaN."""
    rng = np.random.default_rng(5)
    ids, table, states, W, U, b = _case(rng, 4, 6, 8, 3, 2, np.float64, True)
    ids[:, :2] = 0
    ids[:, 2:] = np.maximum(ids[:, 2:], 1)
    table[0] = np.nan
    got, _ = _grads(_lookup, ids, table, states, W, U, b, ids != 0, False, None)
    want, _ = _grads(_looked_up_then_lstm, ids, table, states, W, U, b, ids != 0, False, None)
    for g, w in zip(got, want):
        assert np.isfinite(g).all()
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("distinct, shared", [(6, True), (7, False)])
def test_few_repeats_run_the_two_ops(monkeypatch, distinct, shared):
    """Above MAX_DISTINCT_FRACTION of distinct ids (here 6 of 12 positions) the lookup
    runs lstm(embedding(...)) — the same outputs and gradients."""
    monkeypatch.setattr(lookup, "MAX_DISTINCT_FRACTION", 0.5)
    applied = []
    real = embedding_lstm.LSTMLookup.apply
    monkeypatch.setattr(embedding_lstm.LSTMLookup, "apply",
                        staticmethod(lambda *a, **k: applied.append(1) or real(*a, **k)))
    rng = np.random.default_rng(6)
    _, table, states, W, U, b = _case(rng, 3, 4, 9, 3, 2, np.float64, True)
    ids = np.resize(np.arange(distinct), 12).reshape(3, 4)
    got, _ = _grads(_lookup, ids, table, states, W, U, b, None, False, None)
    want, _ = _grads(_looked_up_then_lstm, ids, table, states, W, U, b, None, False, None)
    assert bool(applied) == shared
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
