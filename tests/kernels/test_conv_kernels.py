"""im2col_1d / col2im_1d (Numba) against their NumPy twins, and their adjointness."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tinynlp.kernels.conv import col2im_1d, col2im_1d_reference, im2col_1d, im2col_1d_reference


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
