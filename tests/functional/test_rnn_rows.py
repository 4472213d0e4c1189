"""The LSTM in blocks of batch rows (one per thread): the inference path, the training
forward and BPTT, each block's steps in one Numba call (``lstm_forward_steps``,
``lstm_train_forward_steps``, ``lstm_backward_steps``) against the NumPy path (the
whole batch in one loop, ``TINYNLP_NUMBA_GEMM=0``)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinynlp as tn
from tinynlp import functional as F
from tinynlp import workers
from tinynlp.functional.rnn import lstm_cell
from tinynlp.kernels import blas

from .test_rnn import make_params, op, run


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
    monkeypatch.setattr(lstm_cell, "short_blas_spin", lambda: True)
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


def _train(arrays, mask):
    """Outputs and every input gradient of one training step."""
    ins = [tn.Tensor(a, requires_grad=True) for a in arrays]
    outs = F.lstm(*ins, mask=mask)
    v = np.random.default_rng(1).standard_normal(outs[0].shape).astype(outs[0].dtype)
    ((outs[0] * tn.tensor(v)).sum() + outs[1].sum() + outs[2].sum()).backward()
    return [o.data for o in outs] + [t.grad for t in ins]


@pytest.mark.parametrize("path", ["inference", "training"])
@pytest.mark.parametrize("masked", ["none", "post", "pre"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_steps_equal_the_python_loops(monkeypatch, path, masked, dtype):
    """The same blocks, once through the Numba step kernels and once through their Python
    twins (no Numba GEMM: TINYNLP_NUMBA_GEMM=0); chunks of 2 steps, so the state crosses
    calls."""
    rng = np.random.default_rng(3)
    B, T = 7, 9
    arrays = make_params("lstm", B, T, 4, 5, rng, dtype=dtype)
    mask = _mask(rng, B, T, masked)
    _force_split(monkeypatch, 3)
    monkeypatch.setattr(lstm_cell, "steps_per_chunk", lambda *a, **k: 2)
    if blas.numpy_gemm(dtype) is None:
        pytest.skip("this NumPy is not built on its bundled OpenBLAS")
    run = _infer if path == "inference" else _train
    fast = run(arrays, mask)
    monkeypatch.setattr(blas, "_found", {})
    monkeypatch.setenv("TINYNLP_NUMBA_GEMM", "0")
    slow = run(arrays, mask)
    for f, s_ in zip(fast, slow):
        assert f.dtype == s_.dtype == dtype
        np.testing.assert_allclose(f, s_, **_tol(dtype))


def test_row_parts_splits_only_products_worth_a_thread(monkeypatch):
    monkeypatch.setattr(lstm_cell, "numba", _Threads(2))
    monkeypatch.setattr(lstm_cell, "short_blas_spin", lambda: True)
    assert lstm_cell.row_parts(32, 128) == 2                 # the benchmark's LSTM(128)
    assert lstm_cell.row_parts(256, 128) == 2
    assert lstm_cell.row_parts(32, 16) == 1                  # 32·16·64 multiply-adds: too small
    assert lstm_cell.row_parts(8, 512) == 1                  # fewer rows than two threads need
    monkeypatch.setattr(lstm_cell, "short_blas_spin", lambda: False)   # OpenBLAS spins long
    assert lstm_cell.row_parts(256, 128) == 1
    monkeypatch.setattr(lstm_cell, "numba", _Threads(1))
    monkeypatch.setattr(lstm_cell, "short_blas_spin", lambda: True)
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


@settings(max_examples=20, deadline=None)
@given(B=st.integers(1, 7), T=st.integers(1, 5), H=st.integers(1, 4), threads=st.integers(2, 4),
       masked=st.sampled_from(["none", "post", "pre"]), seed=st.integers(0, 2**16))
def test_training_in_blocks_of_rows_equals_the_reference(B, T, H, threads, masked, seed):
    """Forward and every gradient, float64, the batch cut into blocks (forced), against
    lstm_reference (the cell in primitive ops, autograd's own backward)."""
    rng = np.random.default_rng(seed)
    arrays = make_params("lstm", B, T, 3, H, rng, scale=1.5)
    mask = _mask(rng, B, T, masked)
    want_out, want_grads = run(op("lstm", False, mask=mask), arrays)
    with pytest.MonkeyPatch.context() as mp:
        _force_split(mp, threads)
        seen = _count_parts(mp)
        got_out, got_grads = run(op("lstm", True, mask=mask), arrays)
    assert len(seen) >= 2 and max(seen) == min(threads, B)   # forward chunk(s) and BPTT
    for g, w in zip(got_out, want_out):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
    for g, w in zip(got_grads, want_grads):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_one_block_on_several_threads_leaves_large_products_to_blas(monkeypatch):
    gemm = blas.numpy_gemm(np.float32)
    monkeypatch.setattr(lstm_cell, "numba", _Threads(2))
    assert lstm_cell.step_gemm(np.float32, 1, 8, 512) is None          # BLAS's own threads
    assert lstm_cell.step_gemm(np.float32, 2, 32, 128) is gemm         # a block per thread
    assert lstm_cell.step_gemm(np.float32, 1, 4, 16) is gemm           # one tile anyway
    monkeypatch.setattr(lstm_cell, "numba", _Threads(1))
    assert lstm_cell.step_gemm(np.float32, 1, 8, 512) is gemm          # one thread: tiles win
