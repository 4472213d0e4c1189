"""The VNNI int8 GEMM equals its NumPy twin (the int32 matrix product) bit for bit.

Small shapes, so the suite also runs with NUMBA_DISABLE_JIT=1 (the vector operations'
NumPy twins then run in place of the intrinsics).  With the JIT on, the kernel runs
only on a CPU with AVX-512 VNNI; elsewhere those tests are skipped.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numba import config, njit

from tinynlp.kernels import int8 as K
from tinynlp.kernels import int8_gemm as G

RUNS = config.DISABLE_JIT or G.vnni_available()
needs_kernel = pytest.mark.skipif(not RUNS, reason="compiled VNNI kernel needs AVX-512 VNNI")


def _int8(rng, shape):
    return rng.integers(-127, 128, size=shape).astype(np.int8)


@needs_kernel
@given(m=st.integers(1, 9), k=st.integers(1, 41), n=st.integers(1, 70), seed=st.integers(0, 2**16))
def test_packed_gemm_equals_int32_matmul_exactly(m, k, n, seed):
    rng = np.random.default_rng(seed)
    w_t = _int8(rng, (n, k))
    packed = G.pack_int8(w_t)
    assert packed.k_pad % G.K_GROUP == 0 and packed.k_pad - k < G.K_GROUP
    q = _int8(rng, (m, k))
    u = np.full((m, packed.k_pad), 128, np.uint8)
    u[:, :k] = (q.astype(np.int16) + 128).astype(np.uint8)
    u[:, k:] = rng.integers(0, 256, (m, packed.k_pad - k))  # padding meets zero weights
    out = G.packed_int8_gemm(u, packed)
    assert out.dtype == np.int32 and out.shape == (m, n)
    np.testing.assert_array_equal(out, G.int8_gemm_reference(u, packed))
    np.testing.assert_array_equal(out, K.int8_matmul_reference(q, w_t))


@needs_kernel
def test_packed_gemm_extremes():
    """|C| near K · 127² with K = 70,000: the shifted sums (up to K · 255 · 127 > 2³¹)
    wrap in int32 and the correction unwraps them exactly."""
    k, rows = 70_000, 1 if config.DISABLE_JIT else 5
    cases = ((127, 127), (127, -127), (-127, 127), (-127, -127))
    for a, w in cases[:2] if config.DISABLE_JIT else cases:  # u = 255: these wrap
        packed = G.pack_int8(np.full((3, k), w, np.int8))
        u = np.full((rows, packed.k_pad), a + 128, np.uint8)
        np.testing.assert_array_equal(G.packed_int8_gemm(u, packed),
                                      np.full((rows, 3), a * w * k, np.int32))


@needs_kernel
@given(m=st.integers(1, 6), k=st.integers(1, 30), n=st.integers(1, 20), seed=st.integers(0, 2**16),
       static=st.booleans())
def test_quantized_linear_packed_equals_portable_path(m, k, n, seed, static):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((m, k)) * rng.uniform(0.01, 10)).astype(np.float32)
    w_t = _int8(rng, (n, k))
    scale = rng.uniform(1e-3, 1e-1, n).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    x_scale = np.float32(0.02) if static else None
    y = G.quantized_linear_packed(x, G.pack_int8(w_t), scale, bias, x_scale)
    np.testing.assert_array_equal(y, K.quantized_linear(x, w_t, scale, bias, x_scale))


@given(m=st.integers(1, 5), k=st.integers(1, 20), pad=st.integers(0, 3), seed=st.integers(0, 2**16),
       static=st.booleans())
def test_quantize_rows_u8_equals_twin_exactly(m, k, pad, seed, static):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((m, k)) * rng.uniform(0.01, 100)).astype(np.float32)
    x[0] = 0.0
    s = np.float32(0.05) if static else 0.0
    u, scale = K.quantize_rows_u8(x, k + pad, s)
    u_ref, scale_ref = K.quantize_rows_u8_reference(x, k + pad, s)
    np.testing.assert_array_equal(u, u_ref)
    np.testing.assert_array_equal(scale, scale_ref)
    assert u.dtype == np.uint8 and (u[:, k:] == 128).all()
    q = K.quantize_static_reference(x, s) if static else K.quantize_rows_reference(x)[0]
    np.testing.assert_array_equal(u[:, :k].astype(np.int16) - 128, q)


def test_quantize_rows_u8_exact_at_ties():
    """Quotients exactly on a half-integer round to even, as the division does
    (the fast path multiplies by 1/s and redoes such rows by division)."""
    x = (np.arange(-300, 300, dtype=np.float32) * np.float32(0.5))[None, :]
    for s in (0.5, 0.25, 1.0, 2.0):
        u, _ = K.quantize_rows_u8(x, 600, s)
        np.testing.assert_array_equal(u, K.quantize_rows_u8_reference(x, 600, s)[0])
    for s in (0.37, 0.0123, 3.3):  # near-ties: float32 neighbours of (j + ½) · s
        mid = ((np.arange(-130, 130) + 0.5) * s).astype(np.float32)
        z = np.concatenate([mid, np.nextafter(mid, np.float32(np.inf)),
                            np.nextafter(mid, np.float32(-np.inf))])[None, :]
        for static in (s, 0.0):
            u, _ = K.quantize_rows_u8(z, z.shape[1], static)
            np.testing.assert_array_equal(u, K.quantize_rows_u8_reference(z, z.shape[1], static)[0])
    tiny = np.array([[1e-43, -3e-44, 0.0, 2e-42]], np.float32)  # subnormal rows and scales
    for static in (0.0, 1e-44):
        u, _ = K.quantize_rows_u8(tiny, 4, static)
        np.testing.assert_array_equal(u, K.quantize_rows_u8_reference(tiny, 4, static)[0])
    y = np.array([[127.0, 2.5, -2.5, 0.5, 1.5]], np.float32)  # scale exactly 1
    u, scale = K.quantize_rows_u8(y, 5, 0.0)
    assert scale[0] == 1.0
    np.testing.assert_array_equal(u[0].astype(int) - 128, [127, 2, -2, 0, 2])


def test_pack_matches_detects_any_changed_byte():
    rng = np.random.default_rng(0)
    w_t = _int8(rng, (5, 13))
    packed = G.pack_int8(w_t)
    assert packed.matches(w_t) and packed.matches(w_t.copy())
    for i in range(w_t.size):  # every byte, in the 8-byte words and in the tail
        changed = w_t.copy()
        changed.reshape(-1)[i] ^= 1
        assert not packed.matches(changed)
    assert not packed.matches(w_t[:4])


def test_bad_operands_are_refused():
    packed = G.pack_int8(np.zeros((3, 6), np.int8))
    with pytest.raises(TypeError, match="u must be a 2-D uint8"):
        G.packed_int8_gemm(np.zeros((2, 8), np.int8), packed)
    with pytest.raises(ValueError, match="8 columns"):
        G.packed_int8_gemm(np.zeros((2, 6), np.uint8), packed)
    with pytest.raises(TypeError, match="w_t must be a 2-D int8"):
        G.pack_int8(np.zeros((3, 6), np.float32))
    with pytest.raises(ValueError, match=r"x must be \(M, 6\)"):
        G.quantized_linear_packed(np.zeros((2, 5), np.float32), packed, 1.0)


@pytest.mark.skipif(config.DISABLE_JIT or not G.vnni_available(), reason="needs the JIT and VNNI")
def test_kernel_compiles_to_vpdpbusd():
    """The compiled inner loop is VNNI: a fresh (uncached) compile's assembly has vpdpbusd."""
    fresh = njit(G.int8_gemm_vnni.py_func)
    packed = G.pack_int8(np.ones((2, 4), np.int8))
    fresh(np.full(4, 129, np.uint8), 1, 4, packed.data, packed.correction)
    assert "vpdpbusd" in fresh.inspect_asm(fresh.signatures[0])


@given(s=st.floats(0.0001220703125, 1024.0, width=32), seed=st.integers(0, 2**16))
def test_quantize_rows_u8_exact_near_ties_any_scale(s, seed):
    """Values a float32 step or two from (j + ½) · s, for a random scale s."""
    rng = np.random.default_rng(seed)
    mid = ((rng.integers(-140, 140, 64) + 0.5) * s).astype(np.float32)
    z = np.stack([mid, np.nextafter(mid, np.float32(np.inf)),
                  np.nextafter(mid, np.float32(-np.inf))])
    for static in (s, 0.0):
        u, scale = K.quantize_rows_u8(z, z.shape[1] + 1, static)
        u_ref, scale_ref = K.quantize_rows_u8_reference(z, z.shape[1] + 1, static)
        np.testing.assert_array_equal(u, u_ref)
        np.testing.assert_array_equal(scale, scale_ref)
