"""The float32 GELU kernel: equal to its NumPy twin, within float32's resolution of the
exact Φ, and what ``F.gelu`` uses for float32 (float64 keeps the exact erf)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinynlp as tn
from tinynlp.kernels.gelu import ERF_MAX_ERROR, P, Q, gelu_cdf_f32, gelu_cdf_f32_reference

exact_erf = np.vectorize(math.erf, otypes=[np.float64])


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=7),
                  elements=st.floats(-40, 40, width=32)))
def test_kernel_equals_its_numpy_twin(x):
    h, cdf = gelu_cdf_f32(x)
    h_ref, cdf_ref = gelu_cdf_f32_reference(x)
    assert h.shape == cdf.shape == x.shape and h.dtype == cdf.dtype == np.float32
    np.testing.assert_array_max_ulp(cdf, cdf_ref, maxulp=1)
    np.testing.assert_array_max_ulp(h, h_ref, maxulp=1)


def test_cdf_is_within_the_formula_bound_of_the_exact_one():
    x = np.linspace(-12, 12, 240_001, dtype=np.float32)
    exact = 0.5 * (1.0 + exact_erf(x.astype(np.float64) / math.sqrt(2.0)))
    _, cdf = gelu_cdf_f32(x)
    # the formula's error on Φ (half erf's) plus float32's rounding of Φ (≤ 2⁻²⁵ near 1)
    assert np.abs(cdf - exact).max() <= ERF_MAX_ERROR / 2 + 2.0 ** -25
    # ... and relative to Φ where Φ is small (x < 0): float32's rounding dominates there too
    small = exact < 0.25
    assert np.all(np.abs(cdf - exact)[small] <= ERF_MAX_ERROR / 2 + 2.0 ** -24 * exact[small])
    assert cdf[0] == 0.0 and cdf[-1] == 1.0 and np.all(np.diff(cdf) >= -1e-7)
    assert gelu_cdf_f32(np.zeros(3, np.float32))[1].tolist() == [0.5] * 3


def test_the_fit_is_the_committed_one():
    """tools/fit_erf.py reproduces the kernel's coefficients and error bound."""
    import importlib.util
    from pathlib import Path

    pytest.importorskip("scipy")
    path = Path(__file__).resolve().parents[2] / "tools" / "fit_erf.py"
    spec = importlib.util.spec_from_file_location("fit_erf", path)
    fit_erf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fit_erf)
    p, q = fit_erf.fit()
    np.testing.assert_allclose(p, P, rtol=1e-9)
    np.testing.assert_allclose(q, Q, rtol=1e-9)
    assert fit_erf.max_error(np.array(P), np.array(Q)) <= ERF_MAX_ERROR


def test_gelu_float32_uses_it_and_float64_stays_exact():
    x = np.random.default_rng(0).standard_normal((4, 33)) * 3
    exact = x * 0.5 * (1.0 + exact_erf(x / math.sqrt(2.0)))
    h64 = tn.functional.gelu(tn.tensor(x)).data
    np.testing.assert_allclose(h64, exact, rtol=1e-15, atol=1e-15)
    h32 = tn.functional.gelu(tn.tensor(x.astype(np.float32))).data
    assert h32.dtype == np.float32
    np.testing.assert_array_equal(h32, gelu_cdf_f32(x.astype(np.float32))[0])
    # Φ's error (the formula's, plus rounding to float32) scaled by |x|, and h's rounding
    bound = np.abs(x) * (ERF_MAX_ERROR / 2 + 2.0 ** -24) + 2.0 ** -24 * np.abs(exact)
    assert np.all(np.abs(h32 - exact) <= bound)


def test_gelu_float32_gradient():
    x = np.random.default_rng(1).standard_normal((3, 8)).astype(np.float32) * 2
    t = tn.tensor(x, requires_grad=True)
    tn.functional.gelu(t).sum().backward()
    x64 = x.astype(np.float64)
    want = 0.5 * (1.0 + exact_erf(x64 / math.sqrt(2.0))) + x64 * np.exp(-0.5 * x64 ** 2) / \
        math.sqrt(2.0 * math.pi)
    np.testing.assert_allclose(t.grad, want, rtol=0, atol=1e-6)
