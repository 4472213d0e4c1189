"""The attention softmax kernels equal their NumPy twins (causal offsets, −∞ scores, empty rows)."""

import numpy as np
import pytest

from tinynlp.kernels.attention import (
    normalize_rows_,
    normalize_rows_reference_,
    shift_scale_rows_,
    shift_scale_rows_reference_,
    softmax_backward_rows_,
    softmax_backward_rows_reference_,
    softmax_rows_,
    softmax_rows_reference_,
)


def scores(N=3, Tq=5, Tk=7, dtype=np.float64, seed=0):
    s = (3 * np.random.default_rng(seed).standard_normal((N, Tq, Tk))).astype(dtype)
    s[0, 2] = -np.inf                  # a row with nothing to attend to
    s[1, 1, ::2] = -np.inf             # masked keys
    return s


TOL = {np.float64: dict(rtol=1e-13, atol=1e-15), np.float32: dict(rtol=2e-6, atol=1e-7)}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("offset", [-1, 0, 2, 7])
def test_softmax_rows_match_the_twin(dtype, offset):
    s = scores(dtype=dtype)
    a = shift_scale_rows_(s.copy(), offset, 0.5)
    b = shift_scale_rows_reference_(s.copy(), offset, 0.5)
    np.testing.assert_array_equal(np.isneginf(a), np.isneginf(b))
    fin = np.isfinite(b)
    np.testing.assert_allclose(a[fin], b[fin], **TOL[dtype])

    p = softmax_rows_(s.copy(), offset, 0.5)
    q = softmax_rows_reference_(s.copy(), offset, 0.5)
    assert p.dtype == dtype and np.isfinite(p).all()
    np.testing.assert_allclose(p, q, **TOL[dtype])
    np.testing.assert_array_equal(p[0, 2], 0.0)                  # empty row → zeros
    beyond = np.arange(7)[None, :] > np.arange(5)[:, None] + offset
    np.testing.assert_array_equal(p[:, beyond], 0.0)             # the causal limit
    sums = p.sum(-1)
    np.testing.assert_allclose(sums[(sums > 0)], 1.0, rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_normalize_rows_match_the_twin(dtype):
    e = np.abs(scores(dtype=dtype))
    e[~np.isfinite(e)] = 0.0
    e[2, 3] = 0.0
    np.testing.assert_allclose(normalize_rows_(e.copy()), normalize_rows_reference_(e.copy()),
                               **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_backward_rows_match_the_twin(dtype):
    p = softmax_rows_reference_(scores(dtype=dtype), 0, 1.0)
    dp = np.random.default_rng(1).standard_normal(p.shape).astype(dtype)
    a = softmax_backward_rows_(dp.copy(), p)
    b = softmax_backward_rows_reference_(dp.copy(), p)
    np.testing.assert_allclose(a, b, **TOL[dtype])
    np.testing.assert_array_equal(a[0, 2], 0.0)                  # no gradient through an empty row


def test_float32_softmax_kernel_keeps_nan_and_empty_rows():
    s = scores(dtype=np.float32)
    s[2, 3, 1] = np.nan
    p = softmax_rows_(s.copy(), 7, 0.5)
    assert np.isnan(p[2, 3]).all()                        # a NaN score poisons its row only
    assert np.isfinite(np.delete(p.reshape(-1, 7), 2 * 5 + 3, axis=0)).all()
    np.testing.assert_array_equal(p[0, 2], 0)             # nothing to attend: zeros
    q = softmax_rows_reference_(scores(dtype=np.float64), 7, 0.5)
    np.testing.assert_allclose(p[:2], q[:2], rtol=2e-6, atol=1e-7)
