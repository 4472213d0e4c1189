"""``F.lstm_lookup``: the LSTM over ``table[ids]`` at inference, reading the rows of
P = table[u] W for the distinct ids u instead of multiplying each x_t by W — against
``F.lstm(F.embedding(ids, table), ...)``, on every path the LSTM's inference takes
(blocks of rows in Numba, the whole batch in the Python loop)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinynlp as tn
from tinynlp import functional as F
from tinynlp.functional.rnn import lstm_cell
from tinynlp.kernels import blas

from .test_rnn import make_params
from .test_rnn_rows import _force_split, _mask, _tol


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
    u, inv = lstm_cell._distinct(ids, V)
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


def test_it_refuses_to_train():
    ids, table, W, U, b = _args()
    with pytest.raises(ValueError, match="inference only"):
        F.lstm_lookup(ids, table, None, None, tn.Tensor(W, requires_grad=True), U, b)
    with tn.no_grad():                  # without grad mode a Parameter is only read
        F.lstm_lookup(ids, table, None, None, tn.Tensor(W, requires_grad=True), U, b)
