"""Fused Adam kernels == their NumPy twins (and the optimizer's fast path == its ufunc rule)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinynlp.kernels.optim import (
    adam_update,
    adam_update_reference,
    adam_update_rows,
    adam_update_rows_reference,
)


def _scalars(dtype, t=3, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7):
    c = np.dtype(dtype).type
    return (c(lr), c(b1), c(b2), c(eps), c(1 - b1 ** t), c(math.sqrt(1 - b2 ** t)))


def _state(rng, shape, dtype):
    w = rng.standard_normal(shape).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    m = (0.1 * rng.standard_normal(shape)).astype(dtype)
    v = np.abs(0.1 * rng.standard_normal(shape)).astype(dtype)
    return w, g, m, v


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(n=st.integers(1, 300), t=st.integers(1, 50))
def test_adam_update_matches_reference(dtype, n, t):
    rng = np.random.default_rng(n)
    w, g, m, v = _state(rng, (n,), dtype)
    w2, m2, v2 = w.copy(), m.copy(), v.copy()
    adam_update(w, g, m, v, *_scalars(dtype, t))
    adam_update_reference(w2, g, m2, v2, *_scalars(dtype, t))
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(m, m2, rtol=tol, atol=tol)
    np.testing.assert_allclose(v, v2, rtol=tol, atol=tol)
    np.testing.assert_allclose(w, w2, rtol=tol, atol=tol)
    assert w.dtype == m.dtype == v.dtype == dtype


def test_adam_update_moves_against_the_gradient():
    w = np.zeros(4, np.float32)
    g = np.array([1, -1, 2, 0], np.float32)
    m, v = np.zeros_like(w), np.zeros_like(w)
    adam_update(w, g, m, v, *_scalars(np.float32, t=1))
    # first step of Adam: w = −η·sign(g) (up to ε), 0 where g = 0
    np.testing.assert_allclose(w, [-1e-3, 1e-3, -1e-3, 0], rtol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_update_rows_matches_reference_and_leaves_other_rows(dtype):
    rng = np.random.default_rng(0)
    w, _, m, v = _state(rng, (20, 5), dtype)
    rows = np.array([7, 2, 13], np.int64)
    g = rng.standard_normal((3, 5)).astype(dtype)
    w2, m2, v2 = w.copy(), m.copy(), v.copy()
    before = w.copy()
    adam_update_rows(w, rows, g, m, v, *_scalars(dtype))
    adam_update_rows_reference(w2, rows, g, m2, v2, *_scalars(dtype))
    tol = 1e-6 if dtype == np.float32 else 1e-14
    for a, b in ((w, w2), (m, m2), (v, v2)):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    untouched = np.setdiff1d(np.arange(20), rows)
    np.testing.assert_array_equal(w[untouched], before[untouched])
    assert not np.allclose(w[rows], before[rows])


def test_rows_update_of_every_row_equals_dense_update():
    rng = np.random.default_rng(1)
    w, g, m, v = _state(rng, (6, 4), np.float64)
    w2, m2, v2 = w.copy(), m.copy(), v.copy()
    adam_update_rows(w, np.arange(6), g, m, v, *_scalars(np.float64))
    adam_update(w2.reshape(-1), g.reshape(-1), m2.reshape(-1), v2.reshape(-1),
                *_scalars(np.float64))
    np.testing.assert_allclose(w, w2, rtol=1e-14)
