"""int8 kernels equal their NumPy twins exactly (small shapes: also run with JIT off)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinynlp.kernels import int8 as K


def _int8(rng, shape):
    return rng.integers(-127, 128, size=shape).astype(np.int8)


@given(m=st.integers(1, 6), k=st.integers(1, 40), n=st.integers(1, 7), seed=st.integers(0, 2**16))
def test_int8_matmul_equals_twin_exactly(m, k, n, seed):
    rng = np.random.default_rng(seed)
    a, w_t = _int8(rng, (m, k)), _int8(rng, (n, k))
    ref = K.int8_matmul_reference(a, w_t)
    for kernel in (K.int8_matmul, K.int8_matmul_parallel):
        out = kernel(a, w_t)
        assert out.dtype == np.int32
        np.testing.assert_array_equal(out, ref)


def test_int8_matmul_extremes_do_not_overflow():
    a = np.full((2, 300), -127, np.int8)
    w_t = np.full((3, 300), 127, np.int8)
    for kernel in (K.int8_matmul, K.int8_matmul_parallel):
        np.testing.assert_array_equal(kernel(a, w_t), np.full((2, 3), -127 * 127 * 300, np.int32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(m=st.integers(1, 5), k=st.integers(1, 20), seed=st.integers(0, 2**16))
def test_quantize_rows_equals_twin_exactly(dtype, m, k, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((m, k)) * rng.uniform(0.01, 100)).astype(dtype)
    x[0] = 0.0  # an all-zero row gets scale 1 and zero codes
    q, s = K.quantize_rows(x)
    q_ref, s_ref = K.quantize_rows_reference(x)
    np.testing.assert_array_equal(q, q_ref)
    np.testing.assert_array_equal(s, s_ref)
    assert q.dtype == np.int8 and s.dtype == np.float32
    assert np.abs(q).max() <= 127
    # round-trip error is at most half a step per element
    err = np.abs(q.astype(np.float64) * s[:, None] - x)
    assert np.all(err <= s[:, None].astype(np.float64) / 2 * (1 + 1e-6) + 1e-12)


@given(m=st.integers(1, 5), k=st.integers(1, 20), seed=st.integers(0, 2**16))
def test_quantize_static_equals_twin_and_clips(m, k, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((m, k)) * 3).astype(np.float32)
    scale = np.float32(0.01)  # small on purpose: most values saturate
    q = K.quantize_static(x, scale)
    np.testing.assert_array_equal(q, K.quantize_static_reference(x, scale))
    assert q.min() >= -127 and q.max() <= 127


@given(m=st.integers(1, 5), n=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_rescale_equals_twin(m, n, seed):
    rng = np.random.default_rng(seed)
    acc = rng.integers(-(2**20), 2**20, size=(m, n)).astype(np.int32)
    rs = rng.uniform(1e-3, 1, m).astype(np.float32)
    cs = rng.uniform(1e-3, 1, n).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    np.testing.assert_array_equal(K.rescale(acc, rs, cs, b), K.rescale_reference(acc, rs, cs, b))


def test_quantized_linear_approximates_float_product():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 32)).astype(np.float32)
    w = rng.standard_normal((32, 5)).astype(np.float32)
    t = np.abs(w).max(axis=0) / 127
    w_t = np.ascontiguousarray(np.clip(np.rint(w / t), -127, 127).astype(np.int8).T)
    y = K.quantized_linear(x, w_t, t.astype(np.float32))
    exact = x @ w
    assert np.abs(y - exact).max() < 0.05 * np.abs(exact).max()


def test_bad_operands_are_named():
    with pytest.raises(TypeError, match="w_t"):
        K.check_int8_operands(np.zeros((2, 3), np.int8), np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="inner dimensions"):
        K.check_int8_operands(np.zeros((2, 3), np.int8), np.zeros((2, 4), np.int8))


@given(b=st.integers(1, 3), length=st.integers(1, 12), c=st.integers(1, 5), k=st.integers(1, 4),
       stride=st.integers(1, 3), dilation=st.integers(1, 2), pad=st.integers(0, 3),
       extra=st.integers(0, 3), static=st.booleans(), seed=st.integers(0, 2**16))
def test_quantize_patches_u8_equals_twin_exactly(b, length, c, k, stride, dilation, pad, extra,
                                                 static, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((b, length, c)) * rng.uniform(0.01, 10)).astype(np.float32)
    x[0, 0] = 0.0
    out_len = max(1, (length + pad - (k - 1) * dilation - 1) // stride + 1)
    s = 0.03 if static else 0.0
    args = (x, k, stride, dilation, pad, out_len, k * c + extra, s)
    u, scale = K.quantize_patches_u8(*args)
    u_ref, scale_ref = K.quantize_patches_u8_reference(*args)
    np.testing.assert_array_equal(u, u_ref)
    np.testing.assert_array_equal(scale, scale_ref)


@given(v=st.integers(1, 30), d=st.integers(1, 9), n=st.integers(0, 12), seed=st.integers(0, 2**16))
def test_gather_dequantize_equals_twin_exactly(v, d, n, seed):
    rng = np.random.default_rng(seed)
    table = _int8(rng, (v, d))
    scale = rng.uniform(1e-3, 1, v).astype(np.float32)
    ids = rng.integers(0, v, n)
    np.testing.assert_array_equal(K.gather_dequantize(table, scale, ids),
                                  K.gather_dequantize_reference(table, scale, ids))


def test_rescale_relu_equals_twin_and_keeps_nan():
    acc = np.array([[5, -5, 0], [-7, 3, 1]], np.int32)
    rs, cs = np.array([0.5, 2.0], np.float32), np.array([1.0, 0.25, 3.0], np.float32)
    b = np.array([0.1, -0.2, np.nan], np.float32)
    y = K.rescale(acc, rs, cs, b, True)
    np.testing.assert_array_equal(y, K.rescale_reference(acc, rs, cs, b, relu=True))
    assert (y[:, :2] >= 0).all() and np.isnan(y[:, 2]).all()
    np.testing.assert_array_equal(K.rescale(acc, rs, cs, b), K.rescale_reference(acc, rs, cs, b))
