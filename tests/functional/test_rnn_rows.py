"""The LSTM inference path in blocks of batch rows (one per thread), and its steps in one
Numba call (``lstm_forward_steps``) against the Python loop (``_RowBlock.steps``)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinynlp as tn
from tinynlp import functional as F
from tinynlp import workers
from tinynlp.functional.rnn import lstm_cell
from tinynlp.kernels import blas

from .test_rnn import make_params


class _Threads:
    """``numba`` as the LSTM module sees it, with a chosen thread count."""

    def __init__(self, n):
        self.n = n

    def get_num_threads(self):
        return self.n


def _infer(arrays, mask):
    with tn.no_grad():
        return [o.data for o in F.lstm(*arrays, mask=mask)]


def _mask(rng, B, T, kind):
    if kind == "none":
        return None
    m = F.lengths_to_mask(rng.integers(0, T + 1, B), T)
    return m[:, ::-1].copy() if kind == "pre" else m


def _force_split(monkeypatch, threads):
    monkeypatch.setattr(lstm_cell, "SPLIT_PRODUCT", 1)
    monkeypatch.setattr(lstm_cell, "MIN_ROWS_PER_THREAD", 1)
    monkeypatch.setattr(lstm_cell, "numba", _Threads(threads))


def _count_parts(monkeypatch):
    seen = []
    real = workers.run_parts

    def spy(work, parts):
        parts = list(parts)
        seen.append(len(parts))
        real(work, parts)
    monkeypatch.setattr(lstm_cell, "run_parts", spy)
    return seen


def _tol(dtype):
    return dict(rtol=2e-6, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-13)


@settings(max_examples=25, deadline=None)
@given(B=st.integers(1, 9), T=st.integers(1, 6), H=st.integers(1, 6), threads=st.integers(1, 4),
       masked=st.sampled_from(["none", "post", "pre"]),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_blocks_of_rows_give_the_training_forward(B, T, H, threads, masked, dtype, seed):
    rng = np.random.default_rng(seed)
    arrays = make_params("lstm", B, T, 3, H, rng, scale=1.5, dtype=dtype)
    mask = _mask(rng, B, T, masked)
    with pytest.MonkeyPatch.context() as mp:
        _force_split(mp, threads)
        seen = _count_parts(mp)
        got = _infer(arrays, mask)
    assert seen and all(n == min(threads, B) for n in seen)
    train = [o.data for o in F.lstm(*[tn.Tensor(a, requires_grad=True) for a in arrays],
                                     mask=mask)]
    for g, w in zip(got, train):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, **_tol(dtype))
    if mask is not None:
        np.testing.assert_array_equal(got[0][~mask], 0)


@pytest.mark.parametrize("masked", ["none", "post", "pre"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_steps_equal_the_python_loop(monkeypatch, masked, dtype):
    """The same blocks, once through lstm_forward_steps and once through the Python loop
    (no Numba GEMM: TINYNLP_NUMBA_GEMM=0); chunks of 2 steps, so the state crosses calls."""
    rng = np.random.default_rng(3)
    B, T = 7, 9
    arrays = make_params("lstm", B, T, 4, 5, rng, dtype=dtype)
    mask = _mask(rng, B, T, masked)
    _force_split(monkeypatch, 3)
    monkeypatch.setattr(lstm_cell, "steps_per_chunk", lambda *a, **k: 2)
    if blas.numpy_gemm(dtype) is None:
        pytest.skip("this NumPy is not built on its bundled OpenBLAS")
    fast = _infer(arrays, mask)
    monkeypatch.setattr(blas, "_found", {})
    monkeypatch.setenv("TINYNLP_NUMBA_GEMM", "0")
    slow = _infer(arrays, mask)
    for f, s in zip(fast, slow):
        np.testing.assert_allclose(f, s, **_tol(dtype))


def test_row_parts_splits_only_products_worth_a_thread(monkeypatch):
    monkeypatch.setattr(lstm_cell, "numba", _Threads(2))
    assert lstm_cell.row_parts(32, 128) == 2                 # the benchmark's LSTM(128)
    assert lstm_cell.row_parts(256, 128) == 2
    assert lstm_cell.row_parts(32, 16) == 1                  # 32·16·64 multiply-adds: too small
    assert lstm_cell.row_parts(8, 512) == 1                  # fewer rows than two threads need
    monkeypatch.setattr(lstm_cell, "numba", _Threads(1))
    assert lstm_cell.row_parts(256, 128) == 1


def test_a_recur_function_sees_the_whole_batch(monkeypatch):
    """A quantizer's scale is the whole batch's: a ``recur`` function gets every row at once."""
    _force_split(monkeypatch, 4)
    B, T, H = 6, 3, 2
    rng = np.random.default_rng(0)
    U = rng.standard_normal((H, 4 * H))
    seen = []

    def recur(h, out):
        seen.append(h.shape[0])
        np.matmul(h, U, out=out)
    x = rng.standard_normal((T, B, 4 * H))
    out, h, c = lstm_cell.lstm_inference(
        T, B, H, np.float64, lambda t0, t1, a: a.__setitem__(slice(None), x[t0:t1]), recur,
        np.zeros(4 * H), None, None, None)
    assert seen == [B] * T
    assert out.shape == (T, B, H) and h.shape == c.shape == (B, H)
