"""Per-step LSTM / GRU kernels (Numba) against their NumPy twins.

Small shapes, so the suite stays fast under NUMBA_DISABLE_JIT=1.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinynlp.kernels.blas import numpy_gemm
from tinynlp.kernels.rnn import (
    gru_backward_step, gru_backward_step_reference,
    gru_forward_candidate, gru_forward_candidate_reference,
    gru_forward_state, gru_forward_state_reference,
    lstm_backward_step, lstm_backward_step_reference,
    lstm_forward_step, lstm_forward_step_reference,
    lstm_forward_steps, lstm_forward_steps_reference,
    lstm_train_forward_steps, lstm_train_forward_steps_reference,
    lstm_backward_steps, lstm_backward_steps_reference,
)

DTYPES = [np.float32, np.float64]


def tol(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-14)


def _case(seed, B, H, dtype, n_gates):
    rng = np.random.default_rng(seed)
    gates = rng.uniform(0.01, 0.99, (B, n_gates * H)).astype(dtype)
    gates[:, (n_gates - 1) * H:] = rng.uniform(-0.99, 0.99, (B, H))   # the tanh block
    real = rng.random(B) < 0.7
    vec = lambda: rng.standard_normal((B, H)).astype(dtype)  # noqa: E731
    return gates, real, vec


def _forward_step_case(seed, B, H, dtype):
    rng = np.random.default_rng(seed)
    pre = lambda: (3 * rng.standard_normal((B, 4 * H))).astype(dtype)  # noqa: E731 - saturates some
    state = lambda: rng.standard_normal((B, H)).astype(dtype)          # noqa: E731
    bias = rng.standard_normal(4 * H).astype(dtype)
    return pre(), pre(), bias, state(), state(), rng.random(B) < 0.7


def _forward_tol(dtype):
    # float32: the kernel's rational tanh is within 3.5e-7 of the exact one (NumPy's: 6e-8)
    return dict(rtol=1e-5, atol=2e-6) if dtype == np.float32 else tol(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@given(B=st.integers(1, 5), H=st.integers(1, 6), seed=st.integers(0, 10_000))
def test_lstm_forward_step_matches_reference(dtype, B, H, seed):
    gates, rec, bias, c_prev, h_prev, real = _forward_step_case(seed, B, H, dtype)
    outs = []
    for step in (lstm_forward_step, lstm_forward_step_reference):
        g = gates.copy()
        c, tc, h = (np.full((B, H), np.nan, dtype) for _ in range(3))
        step(g, rec, bias, c_prev, h_prev, real, c, tc, h)
        outs.append((g, c, tc, h))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, **_forward_tol(dtype))
        assert a.dtype == dtype
    g, c, tc, h = outs[0]
    np.testing.assert_array_equal(c[~real], c_prev[~real])   # padded rows carry the state
    np.testing.assert_array_equal(h[~real], h_prev[~real])
    assert np.all(np.abs(g) <= 1) and np.all(g[:, :3 * H] >= 0)   # σ in [0, 1], tanh in [-1, 1]


@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_forward_step_in_place_state(dtype):
    """c may be c_prev and h may be h_prev (the inference path updates its state in place)."""
    gates, rec, bias, c_prev, h_prev, real = _forward_step_case(7, 4, 5, dtype)
    g1, g2 = gates.copy(), gates.copy()
    c, tc, h = np.empty_like(c_prev), np.empty_like(c_prev), np.empty_like(h_prev)
    lstm_forward_step(g1, rec, bias, c_prev, h_prev, real, c, tc, h)
    c_in, h_in, tc_in = c_prev.copy(), h_prev.copy(), np.empty_like(c_prev)
    lstm_forward_step(g2, rec, bias, c_in, h_in, real, c_in, tc_in, h_in)
    np.testing.assert_array_equal(c_in, c)
    np.testing.assert_array_equal(h_in, h)
    np.testing.assert_array_equal(g2, g1)


@pytest.mark.parametrize("dtype", DTYPES)
@given(B=st.integers(1, 5), H=st.integers(1, 6), seed=st.integers(0, 10_000))
def test_lstm_backward_step_matches_reference(dtype, B, H, seed):
    gates, real, vec = _case(seed, B, H, dtype, 4)
    tc, c_prev, dh, dc = vec(), vec(), vec(), vec()
    dc1, dc2 = dc.copy(), dc.copy()
    d1 = np.full((B, 4 * H), np.nan, dtype)
    d2 = np.full((B, 4 * H), np.nan, dtype)
    lstm_backward_step(gates, tc, c_prev, real, dh, dc1, d1)
    lstm_backward_step_reference(gates, tc, c_prev, real, dh, dc2, d2)
    np.testing.assert_allclose(d1, d2, **tol(dtype))
    np.testing.assert_allclose(dc1, dc2, **tol(dtype))
    np.testing.assert_array_equal(d1[~real], 0)          # padded rows: no gradient
    np.testing.assert_array_equal(dc1[~real], dc[~real])  # ... and dc passes unchanged


@pytest.mark.parametrize("dtype", DTYPES)
@given(B=st.integers(1, 5), H=st.integers(1, 6), seed=st.integers(0, 10_000))
def test_gru_backward_step_matches_reference(dtype, B, H, seed):
    gates, real, vec = _case(seed, B, H, dtype, 3)
    uh, h_prev, dh = vec(), vec(), vec()
    dh1, dh2 = dh.copy(), dh.copy()
    r1, r2 = np.full((B, 3 * H), np.nan, dtype), np.full((B, 3 * H), np.nan, dtype)
    n1, n2 = np.full((B, H), np.nan, dtype), np.full((B, H), np.nan, dtype)
    gru_backward_step(gates, uh, h_prev, real, dh1, r1, n1)
    gru_backward_step_reference(gates, uh, h_prev, real, dh2, r2, n2)
    for a, b in ((r1, r2), (n1, n2), (dh1, dh2)):
        np.testing.assert_allclose(a, b, **tol(dtype))
    np.testing.assert_array_equal(r1[~real], 0)
    np.testing.assert_array_equal(dh1[~real], dh[~real])


@pytest.mark.parametrize("dtype", DTYPES)
@given(B=st.integers(1, 5), H=st.integers(1, 6), seed=st.integers(0, 10_000))
def test_gru_forward_kernels_match_reference(dtype, B, H, seed):
    rng = np.random.default_rng(seed)
    gates = rng.uniform(-1, 1, (B, 3 * H)).astype(dtype)
    rec = rng.standard_normal((B, 3 * H)).astype(dtype)
    b_hh = rng.standard_normal(H).astype(dtype)
    g1, g2 = gates.copy(), gates.copy()
    u1, u2 = np.empty((B, H), dtype), np.empty((B, H), dtype)
    gru_forward_candidate(g1, rec, b_hh, u1)
    gru_forward_candidate_reference(g2, rec, b_hh, u2)
    np.testing.assert_allclose(g1, g2, **tol(dtype))
    np.testing.assert_allclose(u1, u2, **tol(dtype))
    h_prev = rng.standard_normal((B, H)).astype(dtype)
    real = rng.random(B) < 0.7
    h1, h2 = np.empty_like(h_prev), np.empty_like(h_prev)
    gru_forward_state(g1, h_prev, real, h1)
    gru_forward_state_reference(g1, h_prev, real, h2)
    np.testing.assert_allclose(h1, h2, **tol(dtype))
    np.testing.assert_array_equal(h1[~real], h_prev[~real])


def test_lstm_backward_step_formula_by_hand():
    """One unit, every gate value chosen: the formulas of the docstring, worked out."""
    o, i, f, g = 0.5, 0.25, 0.75, -0.5
    gates = np.array([[o, i, f, g]])
    tc, c_prev = np.array([[0.2]]), np.array([[2.0]])
    dh, dc = np.array([[1.0]]), np.array([[0.5]])
    d = np.empty((1, 4))
    lstm_backward_step(gates, tc, c_prev, np.array([True]), dh, dc, d)
    dct = 0.5 + 1.0 * o * (1 - 0.04)
    np.testing.assert_allclose(d[0], [1.0 * 0.2 * o * (1 - o), dct * g * i * (1 - i),
                                      dct * 2.0 * f * (1 - f), dct * i * (1 - g * g)])
    np.testing.assert_allclose(dc[0, 0], dct * f)


# ---- a block of rows, every step in one call (NumPy's GEMM from Numba) ----

def _steps_case(seed, T, B, D, H, dtype, masked):
    rng = np.random.default_rng(seed)
    xt = rng.standard_normal((T, B, D)).astype(dtype)
    W = (rng.standard_normal((D, 4 * H)) * 0.5).astype(dtype)
    U = (rng.standard_normal((H, 4 * H)) * 0.5).astype(dtype)
    bias = rng.standard_normal(4 * H).astype(dtype)
    h0 = rng.standard_normal((B, H)).astype(dtype)
    c0 = rng.standard_normal((B, H)).astype(dtype)
    if masked:
        m = rng.random((T, B)) < 0.6
        m[rng.integers(0, T)] = False                   # a step with no real row
    else:
        m = np.zeros((0, 0), bool)
    return xt, W, U, bias, h0, c0, m, ~m.any(axis=1) if masked else np.zeros(0, bool)


def _run_forward_steps(fast, gemm, xt, W, P, idx, lo, hi, U, bias, h0, c0, m, none_real):
    """``lstm_forward_steps`` (fast) or its twin from NaN-filled outputs: the rows' outputs
    and final state."""
    T, B = (idx.shape if idx.shape[0] else xt.shape[:2])
    H = U.shape[0]
    dtype = bias.dtype
    hs = np.stack([h0, np.full_like(h0, np.nan)])
    cs = np.stack([c0, np.full_like(c0, np.nan)])
    out = np.full((T, B, H), np.nan, dtype)
    if fast:
        scratch = [np.empty((hi - lo, n), dtype) for n in (4 * H, 4 * H, H)]
        cur = lstm_forward_steps(gemm, xt, W, P, idx, lo, hi, U, bias, hs, cs, out, *scratch,
                                 m, none_real)
    else:
        cur = lstm_forward_steps_reference(xt, W, P, idx, lo, hi, U, bias, hs, cs, out, m,
                                           none_real)
    return out[:, lo:hi], hs[cur, lo:hi], cs[cur, lo:hi]


def _no_lookup(dtype):
    return np.zeros((0, 0), dtype), np.zeros((0, 0), np.intp)


@settings(max_examples=25, deadline=None)
@given(T=st.integers(1, 6), B=st.integers(1, 6), D=st.integers(1, 5), H=st.integers(1, 5),
       dtype=st.sampled_from(DTYPES), masked=st.booleans(), lookup=st.booleans(),
       seed=st.integers(0, 2**16), data=st.data())
def test_lstm_forward_steps_matches_reference(T, B, D, H, dtype, masked, lookup, seed, data):
    """Both ways of getting x_t W: a GEMM of x_t, or rows of P picked by ``idx``."""
    gemm = numpy_gemm(dtype)
    if gemm is None:
        pytest.skip("this NumPy is not built on its bundled OpenBLAS")
    lo = data.draw(st.integers(0, B - 1))
    hi = data.draw(st.integers(lo + 1, B))
    xt, W, U, bias, h0, c0, m, none_real = _steps_case(seed, T, B, D, H, dtype, masked)
    P, idx = _no_lookup(dtype)
    if lookup:
        rng = np.random.default_rng(seed + 1)
        P = rng.standard_normal((D + 1, 4 * H)).astype(dtype)
        idx = rng.integers(0, D + 1, (T, B)).astype(np.intp)
        xt, W = np.zeros((0, 0, 0), dtype), np.zeros((0, 0), dtype)
    runs = [_run_forward_steps(fast, gemm, xt, W, P, idx, lo, hi, U, bias, h0, c0, m,
                               none_real) for fast in (True, False)]
    assert np.isnan(runs[0][0]).sum() == 0
    for a, b in zip(*runs):
        np.testing.assert_allclose(a, b, **tol(dtype))
    if masked:
        np.testing.assert_array_equal(runs[0][0][~m[:, lo:hi]], 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_forward_steps_rows_of_p_equal_the_gemm(dtype):
    """x_t = table[ids_t]: reading the rows of P = table W gives what x_t W gives."""
    gemm = numpy_gemm(dtype)
    if gemm is None:
        pytest.skip("this NumPy is not built on its bundled OpenBLAS")
    rng = np.random.default_rng(3)
    T, B, D, H, V = 5, 4, 3, 2, 6
    table = rng.standard_normal((V, D)).astype(dtype)
    idx = rng.integers(0, V, (T, B)).astype(np.intp)
    _, W, U, bias, h0, c0, m, none_real = _steps_case(4, T, B, D, H, dtype, True)
    by_gemm = _run_forward_steps(True, gemm, np.ascontiguousarray(table[idx]), W,
                                 *_no_lookup(dtype), 0, B, U, bias, h0, c0, m, none_real)
    by_rows = _run_forward_steps(True, gemm, np.zeros((0, 0, 0), dtype), np.zeros((0, 0), dtype),
                                 table @ W, idx, 0, B, U, bias, h0, c0, m, none_real)
    for a, b in zip(by_gemm, by_rows):
        np.testing.assert_allclose(a, b, **tol(dtype))


@settings(max_examples=25, deadline=None)
@given(T=st.integers(1, 6), B=st.integers(1, 6), D=st.integers(1, 5), H=st.integers(1, 5),
       dtype=st.sampled_from(DTYPES), masked=st.booleans(), lookup=st.booleans(),
       seed=st.integers(0, 2**16))
def test_lstm_train_forward_steps_matches_reference(T, B, D, H, dtype, masked, lookup, seed):
    gemm = numpy_gemm(dtype)
    if gemm is None:
        pytest.skip("this NumPy is not built on its bundled OpenBLAS")
    xt, W, U, bias, h0, c0, m, none_real = _steps_case(seed, T, B, D, H, dtype, masked)
    P, idx = _no_lookup(dtype)
    if lookup:                                  # x_t W as rows of P = table W
        rng = np.random.default_rng(seed + 1)
        table = rng.standard_normal((D + 2, D)).astype(dtype)
        idx = rng.integers(0, D + 2, (T, B)).astype(np.intp)
        P = table @ W
        xt, W = np.zeros((0, 0, 0), dtype), np.zeros((0, 0), dtype)
    runs = []
    for fast in (True, False):
        Hs = np.zeros((T + 1, B, H), dtype)
        C = np.zeros((T + 1, B, H), dtype)
        TC = np.zeros((T, B, H), dtype)
        A = np.zeros((T, B, 4 * H), dtype)
        Hs[0], C[0] = h0, c0
        lo, hi = (0, B) if B < 2 else (1, B)             # a block that is not the first
        if fast:
            lstm_train_forward_steps(gemm, xt, W, P, idx, lo, hi, U, bias, Hs, C, TC, A,
                                     np.empty((hi - lo, 4 * H), dtype), m, none_real)
        else:
            lstm_train_forward_steps_reference(xt, W, P, idx, lo, hi, U, bias, Hs, C, TC, A, m,
                                               none_real)
        runs.append((Hs, C, TC, A))
    for a, b in zip(*runs):
        np.testing.assert_allclose(a, b, **tol(dtype))


@settings(max_examples=25, deadline=None)
@given(T=st.integers(1, 6), B=st.integers(1, 6), H=st.integers(1, 5),
       dtype=st.sampled_from(DTYPES), masked=st.booleans(), with_g=st.booleans(),
       seed=st.integers(0, 2**16))
def test_lstm_backward_steps_matches_reference(T, B, H, dtype, masked, with_g, seed):
    gemm = numpy_gemm(dtype)
    if gemm is None:
        pytest.skip("this NumPy is not built on its bundled OpenBLAS")
    rng = np.random.default_rng(seed)
    A = rng.uniform(0.05, 0.95, (T, B, 4 * H)).astype(dtype)
    A[..., 3 * H:] = rng.uniform(-0.95, 0.95, (T, B, H))          # the tanh block
    TC = rng.uniform(-0.9, 0.9, (T, B, H)).astype(dtype)
    C = rng.standard_normal((T, B, H)).astype(dtype)
    UT = (rng.standard_normal((4 * H, H)) * 0.5).astype(dtype)
    G = rng.standard_normal((T, B, H)).astype(dtype) if with_g else np.zeros((0, 0, 0), dtype)
    _, _, _, _, _, _, m, none_real = _steps_case(seed, T, B, 1, H, dtype, masked)
    any_pad = ~m.all(axis=1) if masked else np.zeros(0, bool)
    keep = (~m).astype(dtype) if masked else np.zeros((0, 0), dtype)
    lo, hi = (0, B) if B < 2 else (1, B)
    dh0 = rng.standard_normal((hi - lo, H)).astype(dtype)
    dc0 = rng.standard_normal((hi - lo, H)).astype(dtype)
    runs = []
    for fast in (True, False):
        dh, dc = dh0.copy(), dc0.copy()
        dA = np.zeros((T, B, 4 * H), dtype)
        if fast:
            lstm_backward_steps(gemm, A, TC, C, UT, G, lo, hi, dh, dc, dA,
                                np.empty_like(dh), m, none_real, any_pad, keep)
        else:
            lstm_backward_steps_reference(A, TC, C, UT, G, lo, hi, dh, dc, dA, m, none_real,
                                          any_pad, keep)
        runs.append((dh, dc, dA))
    for a, b in zip(*runs):
        np.testing.assert_allclose(a, b, **tol(dtype))
