"""im2col_1d / col2im_1d (Numba) against their NumPy twins, and their adjointness;
conv1d_rows (a convolution as sums of rows of P) against its twin and against im2col + GEMM."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import pytest

from tinynlp.kernels.conv import (
    col2im_1d, col2im_1d_reference, conv1d_rows, conv1d_rows_reference, im2col_1d,
    im2col_1d_reference,
)


@st.composite
def geometry(draw):
    b = draw(st.integers(1, 3))
    length = draw(st.integers(1, 9))
    c = draw(st.integers(1, 3))
    k = draw(st.integers(1, 4))
    s = draw(st.integers(1, 3))
    d = draw(st.integers(1, 3))
    pad_left = draw(st.integers(0, (k - 1) * d + 1))
    span = (k - 1) * d + 1
    # any number of outputs whose windows start inside input + left padding
    max_out = max((pad_left + length - 1) // s + 1, 1)
    out_len = draw(st.integers(1, max_out))
    assert out_len * s + span >= 1
    return b, length, c, k, s, d, pad_left, out_len


@given(geom=geometry(), seed=st.integers(0, 99))
def test_im2col_matches_reference(geom, seed):
    b, length, c, k, s, d, pad_left, out_len = geom
    x = np.random.default_rng(seed).standard_normal((b, length, c))
    fast = im2col_1d(x, k, s, d, pad_left, out_len)
    slow = im2col_1d_reference(x, k, s, d, pad_left, out_len)
    assert fast.shape == (b, out_len, k, c)
    np.testing.assert_array_equal(fast, slow)


@given(geom=geometry(), seed=st.integers(0, 99))
def test_col2im_matches_reference_and_is_the_adjoint(geom, seed):
    b, length, c, k, s, d, pad_left, out_len = geom
    rng = np.random.default_rng(seed)
    dcols = rng.standard_normal((b, out_len, k, c))
    fast = col2im_1d(dcols, length, s, d, pad_left)
    slow = col2im_1d_reference(dcols, length, s, d, pad_left)
    assert fast.shape == (b, length, c)
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12)
    # <im2col(x), dcols> == <x, col2im(dcols)>: col2im is the transpose of im2col
    x = rng.standard_normal((b, length, c))
    lhs = np.sum(im2col_1d(x, k, s, d, pad_left, out_len) * dcols)
    np.testing.assert_allclose(lhs, np.sum(x * fast), rtol=1e-10, atol=1e-10)


def test_im2col_small_example():
    x = np.arange(1, 5, dtype=np.float32).reshape(1, 4, 1)      # 1 2 3 4
    cols = im2col_1d(x, 2, 1, 1, 1, 4)                          # pad one zero in front
    np.testing.assert_array_equal(cols[0, :, :, 0], [[0, 1], [1, 2], [2, 3], [3, 4]])
    assert cols.dtype == np.float32


def test_col2im_overlapping_windows_add():
    dcols = np.ones((1, 3, 2, 1))                               # K=2, s=1: windows overlap
    dx = col2im_1d(dcols, 4, 1, 1, 0)
    np.testing.assert_array_equal(dx[0, :, 0], [1, 2, 2, 1])


@given(geom=geometry(), relu=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 99))
def test_conv1d_rows_matches_reference(geom, relu, dtype, seed):
    b, length, _, k, s, d, pad_left, out_len = geom
    rng = np.random.default_rng(seed)
    P = rng.standard_normal((5, k, 4)).astype(dtype)
    idx = rng.integers(0, 5, (b, length))
    bias = rng.standard_normal(4).astype(dtype)
    got = conv1d_rows(P, idx, s, d, pad_left, out_len, bias, relu,
                      np.full((b, out_len, 4), np.nan, dtype))
    want = conv1d_rows_reference(P, idx, s, d, pad_left, out_len, bias, relu,
                                 np.full((b, out_len, 4), np.nan, dtype))
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(got, want, **tol)


@pytest.mark.parametrize("relu", [False, True])
def test_conv1d_rows_is_the_convolution_of_the_looked_up_rows(relu):
    """P[j, k] = table[j] · w[k]: the sums of rows equal im2col + GEMM on x = table[idx]."""
    rng = np.random.default_rng(3)
    b, length, c, k, f, s, d, pad_left, out_len = 2, 9, 3, 3, 4, 2, 2, 2, 5
    table = rng.standard_normal((6, c))
    w = rng.standard_normal((k, c, f))
    bias = rng.standard_normal(f)
    idx = rng.integers(0, 6, (b, length))
    cols = im2col_1d(table[idx], k, s, d, pad_left, out_len).reshape(b * out_len, k * c)
    want = (cols @ w.reshape(k * c, f) + bias).reshape(b, out_len, f)
    if relu:
        want = np.maximum(want, 0)
    P = np.einsum("jc,kcf->jkf", table, w)
    got = conv1d_rows(P, idx, s, d, pad_left, out_len, bias, relu, np.empty((b, out_len, f)))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
