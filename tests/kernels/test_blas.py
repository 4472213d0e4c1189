"""NumPy's own GEMM called from Numba (tinynlp.kernels.blas) against np.matmul, and the
check of how long OpenBLAS's idle threads spin."""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinynlp.kernels import blas
from tinynlp.kernels.blas import ONE_THREAD_PRODUCT, gemm_tiles, gemm_tiles_reference, numpy_gemm

DTYPES = [np.float32, np.float64]


def _gemm_or_skip(dtype):
    gemm = numpy_gemm(dtype)
    if gemm is None:
        pytest.skip("this NumPy is not built on its bundled OpenBLAS")
    return gemm


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=40, deadline=None)
@given(m=st.integers(0, 40), k=st.integers(0, 70), n=st.integers(0, 300),
       seed=st.integers(0, 2**16))
def test_gemm_tiles_equals_matmul(dtype, m, k, n, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    got = np.full((m, n), np.nan, dtype)
    want = np.empty((m, n), dtype)
    gemm_tiles(_gemm_or_skip(dtype), a, b, got)
    gemm_tiles_reference(a, b, want)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got, want, **tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_tiles_is_bit_identical_at_the_lstm_step_shape(dtype):
    """(32×128)·(128×512): the benchmark's LSTM(128) step; the tiles round as the whole does."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((32, 128)).astype(dtype)
    b = rng.standard_normal((128, 512)).astype(dtype)
    got = np.empty((32, 512), dtype)
    gemm_tiles(_gemm_or_skip(dtype), a, b, got)
    np.testing.assert_array_equal(got, a @ b)


def test_every_tile_is_small_enough_for_one_blas_thread():
    """Record the calls: each product at most ONE_THREAD_PRODUCT multiply-adds, all of out
    covered exactly once."""
    calls = []

    def spy(order, ta, tb, r, c, k, alpha, pa, lda, pb, ldb, beta, pc, ldc):
        calls.append((r, c, k, pc))
    a = np.ones((40, 128), np.float64)
    b = np.ones((128, 512), np.float64)
    out = np.zeros((40, 512))
    getattr(gemm_tiles, "py_func", gemm_tiles)(spy, a, b, out)    # Python: spy is Python
    assert all(r * c * k <= ONE_THREAD_PRODUCT for r, c, k, _ in calls)
    assert sum(r * c for r, c, _, _ in calls) == out.size
    assert len({pc for *_, pc in calls}) == len(calls)


def test_no_gemm_for_other_dtypes_or_when_switched_off(monkeypatch):
    assert numpy_gemm(np.int32) is None
    assert numpy_gemm(np.float16) is None
    monkeypatch.setattr(blas, "_found", {})
    monkeypatch.setenv("TINYNLP_NUMBA_GEMM", "0")
    assert numpy_gemm(np.float32) is None


SPIN = "from tinynlp.kernels.blas import short_blas_spin; print(short_blas_spin())"


@pytest.mark.parametrize("code, env, want", [
    ("import numpy, tinynlp; " + SPIN, {}, "False"),                 # OpenBLAS's 0.1 s spin
    ("import tinynlp, numpy; " + SPIN, {}, "True"),                  # tinynlp set 2^20 cycles
    ("import tinynlp; " + SPIN, {"OPENBLAS_THREAD_TIMEOUT": "25"}, "False"),
    ("import numpy, tinynlp; " + SPIN, {"OPENBLAS_THREAD_TIMEOUT": "12"}, "True"),
    ("import numpy, tinynlp; tinynlp.set_num_threads(1); " + SPIN, {}, "True"),   # no workers
])
def test_short_blas_spin_reads_what_openblas_was_started_with(code, env, want):
    if numpy_gemm(np.float32) is None:
        pytest.skip("this NumPy is not built on its bundled OpenBLAS")
    base = {k: v for k, v in os.environ.items()
            if k not in ("OPENBLAS_THREAD_TIMEOUT", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                         "TINYNLP_BLAS_SPIN_TUNING", "TINYNLP_THREADS")}
    base["OPENBLAS_NUM_THREADS"] = "2"
    out = subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out[-1] == want


def test_gemm_tiles_rejects_arrays_that_are_not_contiguous():
    gemm = _gemm_or_skip(np.float64)
    a = np.ones((4, 6))
    out = np.empty((4, 4))
    with pytest.raises(ValueError, match="C-contiguous"):
        gemm_tiles(gemm, a, np.ones((4, 6)).T, out)                  # b transposed
    with pytest.raises(ValueError, match="C-contiguous"):
        gemm_tiles(gemm, a[:, ::2][:, :3].copy()[:, :2], np.ones((2, 4)), out)
