"""Max-pool and activation-backward kernels == their NumPy twins; the fused
conv1d activation has the right gradient."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinynlp as tn
from tinynlp import functional as F
from tinynlp.kernels.activations import Act, activation_backward, activation_backward_reference
from tinynlp.kernels.pooling import (
    max_pool1d_backward,
    max_pool1d_backward_reference,
    max_pool1d_forward,
    max_pool1d_forward_reference,
)
from tests.helpers import check_grad, t64


@given(b=st.integers(1, 3), length=st.integers(1, 12), c=st.integers(1, 4),
       pool=st.integers(1, 4), stride=st.integers(1, 3), pad_left=st.integers(0, 1),
       ties=st.booleans())
def test_max_pool_kernels_match_reference(b, length, c, pool, stride, pad_left, ties):
    pad_left = min(pad_left, pool - 1)
    out_len = (length + pad_left - pool) // stride + 1
    if out_len < 1:
        return
    rng = np.random.default_rng(length * 7 + pool)
    x = rng.standard_normal((b, length, c)).astype(np.float32)
    if ties:
        x = np.round(x)                      # many equal values: first argmax must win
    y, arg = max_pool1d_forward(x, pool, stride, pad_left, out_len)
    y2, arg2 = max_pool1d_forward_reference(x, pool, stride, pad_left, out_len)
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(arg, arg2)
    g = rng.standard_normal(y.shape).astype(np.float32)
    np.testing.assert_allclose(max_pool1d_backward(g, arg, length),
                               max_pool1d_backward_reference(g, arg, length), rtol=1e-6)


def test_max_pool_nan_wins_like_numpy():
    x = np.array([[[1.0], [np.nan], [3.0]]], np.float64)
    y, arg = max_pool1d_forward(x, 3, 1, 0, 1)
    y2, arg2 = max_pool1d_forward_reference(x, 3, 1, 0, 1)
    assert np.isnan(y[0, 0, 0]) and np.isnan(y2[0, 0, 0])
    assert arg[0, 0, 0] == arg2[0, 0, 0] == 1


@pytest.mark.parametrize("kind", list(Act))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_backward_matches_reference(kind, dtype):
    rng = np.random.default_rng(kind)
    g = rng.standard_normal(50).astype(dtype)
    h = rng.uniform(-1, 1, 50).astype(dtype)
    h[::7] = 0.0
    out = activation_backward(g, h, kind)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, activation_backward_reference(g, h, kind), rtol=1e-6)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_conv1d_fused_activation_gradcheck(activation):
    rng = np.random.default_rng(3)
    x = t64(rng.standard_normal((2, 6, 3)))
    w = t64(rng.standard_normal((3, 3, 4)))
    b = t64(rng.standard_normal(4))
    check_grad("conv1d", lambda x, w, b: F.conv1d(x, w, b, activation=activation), [x, w, b])
    fused = F.conv1d(x, w, b, activation=activation).data
    plain = F.get_activation(activation)(F.conv1d(x, w, b)).data
    np.testing.assert_allclose(fused, plain, rtol=1e-12)


def test_global_max_pool_fast_path_gradcheck():
    x = t64(np.random.default_rng(4).standard_normal((2, 5, 3)))
    check_grad("global_max_pool1d", F.global_max_pool1d, [x])
    check_grad("max_pool1d", lambda x: F.max_pool1d(x, 2, padding="same"), [x])
    y = F.global_max_pool1d(tn.tensor(x.data)).data
    np.testing.assert_array_equal(y, x.data.max(axis=1))


# --------------------------------------------------------------------------
# fast_tanh: the tanh used inside Numba kernels
# --------------------------------------------------------------------------

from numba import njit  # noqa: E402

from tinynlp.kernels.activations import fast_tanh  # noqa: E402


@njit(cache=True, error_model="numpy")
def _fast_tanh_array(x, out):
    for i in range(x.size):
        out[i] = fast_tanh(x[i])


def _grid(dtype):
    x = np.linspace(-12, 12, 200_001).astype(dtype)
    return np.concatenate([x, np.array([0, -0.0, 1e-30, -1e-30, 9, -9, 50, -50, np.inf, -np.inf],
                                       dtype=dtype)])


def test_fast_tanh_float32_is_within_a_few_float32_spacings():
    x = _grid(np.float32)
    out = np.empty_like(x)
    _fast_tanh_array(x, out)
    exact = np.tanh(x.astype(np.float64))
    assert out.dtype == np.float32
    assert np.abs(out - exact).max() <= 4e-7          # 3.5e-7 measured; NumPy's float32: 6e-8
    assert np.all(np.abs(out) <= 1)
    np.testing.assert_array_equal(out, -_negated(x))  # odd
    assert out[x == np.inf][0] == 1 and out[x == -np.inf][0] == -1
    small = (np.abs(x) < 1e-3) & (x != 0)
    np.testing.assert_allclose(out[small], x[small], rtol=1e-6)   # tanh x ≈ x near 0


def _negated(x):
    out = np.empty_like(x)
    _fast_tanh_array(-x, out)
    return out


def test_fast_tanh_float64_is_libm_tanh():
    x = _grid(np.float64)
    out = np.empty_like(x)
    _fast_tanh_array(x, out)
    np.testing.assert_allclose(out, np.tanh(x), rtol=1e-15, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_tanh_propagates_nan(dtype):
    """A NaN must reach the loss (where fit() reports it), not be clamped to ±1."""
    x = np.array([np.nan], dtype)
    out = np.empty_like(x)
    _fast_tanh_array(x, out)
    assert np.isnan(out[0])


# --------------------------------------------------------------------------
# bias_relu_: bias add (+ relu) of a GEMM output in one pass
# --------------------------------------------------------------------------

from tinynlp.kernels.activations import bias_relu_, bias_relu_reference_  # noqa: E402


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("relu", [False, True])
@given(R=st.integers(1, 6), F=st.integers(1, 9), seed=st.integers(0, 10_000))
def test_bias_relu_matches_reference(dtype, relu, R, F, seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((R, F)).astype(dtype)
    z[0, 0] = np.nan                                   # relu(NaN) is NaN in both
    b = rng.standard_normal(F).astype(dtype)
    fast = bias_relu_(z.copy(), b, relu)
    ref = bias_relu_reference_(z.copy(), b, relu)
    np.testing.assert_array_equal(fast, ref)           # one add and one max: exact
    assert fast.dtype == dtype
    if relu:
        assert np.all(fast[~np.isnan(fast)] >= 0)
        assert np.isnan(fast[0, 0])


def test_bias_relu_works_in_place():
    z = np.array([[-1.0, 2.0], [0.5, -3.0]], np.float32)
    out = bias_relu_(z, np.array([0.5, 0.5], np.float32), True)
    assert out is z or np.shares_memory(out, z)
    np.testing.assert_array_equal(z, [[0.0, 2.5], [1.0, 0.0]])


def _fit_rational():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "tools" / "fit_rational.py"
    spec = importlib.util.spec_from_file_location("fit_rational", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fast_tanh_coefficients_are_the_ones_tools_fit_rational_derives():
    """The constants in the kernel come from ``python tools/fit_rational.py tanh``; refitting
    gives them back (to float32 precision, the precision the kernel uses)."""
    from tinynlp.kernels import activations as act

    fit_rational = _fit_rational()
    P, Q = fit_rational.fit("tanh")
    kernel_p = [act._TP0, act._TP1, act._TP2, act._TP3, act._TP4, act._TP5]
    kernel_q = [act._TQ0, act._TQ1, act._TQ2, act._TQ3]
    # within 2 float32 spacings: another LAPACK may round the fit's last bits differently
    np.testing.assert_allclose(P.astype(np.float32), kernel_p, rtol=2.5e-7, atol=0)
    np.testing.assert_allclose(Q.astype(np.float32), kernel_q, rtol=2.5e-7, atol=0)
    assert fit_rational.CLAMP == act._TANH_CLAMP
    err, _, _ = fit_rational.evaluate_float32(P, Q, "tanh", n=200_001)
    assert err <= 4e-7


def test_fast_erf_coefficients_are_the_ones_tools_fit_rational_derives():
    """The same for the float32 erf of the gelu kernels (``fit_rational.py erf``)."""
    from tinynlp.kernels import activations as act

    fit_rational = _fit_rational()
    P, Q = fit_rational.fit("erf")
    kernel_p = [act._EP0, act._EP1, act._EP2, act._EP3, act._EP4, act._EP5, act._EP6]
    kernel_q = [act._EQ0, act._EQ1, act._EQ2, act._EQ3, act._EQ4]
    np.testing.assert_allclose(P.astype(np.float32), kernel_p, rtol=2.5e-7, atol=0)
    np.testing.assert_allclose(Q.astype(np.float32), kernel_q, rtol=2.5e-7, atol=0)
    assert fit_rational.TARGETS["erf"][1] == act._ERF_CLAMP
    err, _, _ = fit_rational.evaluate_float32(P, Q, "erf", n=200_001)
    assert err <= 5e-7
