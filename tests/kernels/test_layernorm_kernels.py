"""The layer-norm row kernels equal their NumPy twins, and the op uses them without changing a number."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinynlp as tn
from tinynlp import functional as F
from tinynlp.kernels.layernorm import (
    layer_norm_backward_rows,
    layer_norm_backward_rows_reference,
    layer_norm_rows,
    layer_norm_rows_reference,
)

TOL = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6)}


def arrays(N, D, dtype, seed, scale=1.0, shift=0.0):
    rng = np.random.default_rng(seed)
    x = (shift + scale * rng.standard_normal((N, D))).astype(dtype)
    return x, rng.standard_normal(D).astype(dtype), rng.standard_normal(D).astype(dtype), \
        rng.standard_normal((N, D)).astype(dtype)


@settings(max_examples=40, deadline=None)
@given(N=st.integers(0, 9), D=st.integers(1, 40), seed=st.integers(0, 999),
       dtype=st.sampled_from([np.float32, np.float64]), affine=st.booleans(),
       eps=st.sampled_from([1e-5, 1e-3]), shift=st.sampled_from([0.0, 50.0]))
def test_forward_and_backward_match_the_twins(N, D, seed, dtype, affine, eps, shift):
    x, gamma, beta, g = arrays(N, D, dtype, seed, shift=shift)
    gamma, beta = (gamma, beta) if affine else (None, None)
    y, xhat, rstd = layer_norm_rows(x, gamma, beta, eps)
    # the twin in float64 on the same values: the kernel's sums are float64, so for float32
    # it is compared with the exact statistics (NumPy's float32 mean loses digits when the
    # row is far from 0 — shift=50 — which the kernel does not)
    up = lambda a: None if a is None else a.astype(np.float64)  # noqa: E731
    y_r, xhat_r, rstd_r = layer_norm_rows_reference(up(x), up(gamma), up(beta), eps)
    for a, b in ((y, y_r), (xhat, xhat_r), (rstd, rstd_r)):
        assert a.dtype == dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, **TOL[dtype])
    y_r, xhat_r, rstd_r = (a.astype(dtype) for a in (y_r, xhat_r, rstd_r))
    y_only, none, _ = layer_norm_rows(x, gamma, beta, eps, want_xhat=False)
    assert none is None
    np.testing.assert_array_equal(y_only, y)

    out = layer_norm_backward_rows(g, xhat_r, rstd_r, gamma)
    ref = layer_norm_backward_rows_reference(g, xhat_r, rstd_r, gamma)
    for a, b in zip(out, ref):
        assert a.dtype == dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=TOL[dtype]["rtol"], atol=10 * TOL[dtype]["atol"])


def test_statistics_are_exact_for_a_constant_row_and_a_large_offset():
    x = np.array([[3.0, 3.0, 3.0, 3.0], [1e4 + 1, 1e4 - 1, 1e4 + 1, 1e4 - 1]], np.float32)
    y, xhat, rstd = layer_norm_rows(x, None, None, 1e-5)
    np.testing.assert_array_equal(y[0], 0)
    np.testing.assert_allclose(rstd[0], 1 / np.sqrt(1e-5), rtol=1e-6)
    np.testing.assert_allclose(y[1], [1, -1, 1, -1], rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_op_takes_the_kernel_path_and_agrees_with_the_general_one(dtype):
    """Last axis (kernel) against the same normalisation written over axis=(2,) of a
    (B, T, 1, D)-shaped copy, which takes the NumPy code: values and gradients."""
    rng = np.random.default_rng(1)
    xs = rng.standard_normal((3, 5, 16)).astype(dtype)
    gs, bs = rng.standard_normal(16).astype(dtype), rng.standard_normal(16).astype(dtype)
    cot = rng.standard_normal((3, 5, 16)).astype(dtype)
    x, g, b = (tn.tensor(a, requires_grad=True) for a in (xs, gs, bs))
    y = F.layer_norm(x, g, b, eps=1e-5)
    y.backward(cot)
    x2 = tn.tensor(xs[:, :, None, :].swapaxes(2, 3).copy(), requires_grad=True)  # (3, 5, 16, 1)
    g2, b2 = tn.tensor(gs[:, None], requires_grad=True), tn.tensor(bs[:, None], requires_grad=True)
    y2 = F.layer_norm(x2, g2, b2, eps=1e-5, axis=(2, 3))
    y2.backward(cot[..., None])
    tol = TOL[dtype]
    np.testing.assert_allclose(y.data, y2.data[..., 0], **tol)
    np.testing.assert_allclose(x.grad, x2.grad[..., 0], rtol=tol["rtol"], atol=10 * tol["atol"])
    np.testing.assert_allclose(g.grad, g2.grad[:, 0], rtol=tol["rtol"], atol=100 * tol["atol"])
    np.testing.assert_allclose(b.grad, b2.grad[:, 0], rtol=tol["rtol"], atol=100 * tol["atol"])
    with tn.no_grad():
        y3 = F.layer_norm(tn.tensor(xs), gs, bs, eps=1e-5)
    np.testing.assert_array_equal(y3.data, y.data)
