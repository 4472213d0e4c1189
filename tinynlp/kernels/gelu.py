"""GELU's Gaussian CDF in float32, in one pass: Φ(x) and x·Φ(x) together.

    Φ(x) = ½ (1 + erf(x / √2)),   h = x · Φ(x)

erf here is Abramowitz & Stegun's formula 7.1.26 (Handbook of Mathematical
Functions, 1964), for z ≥ 0 (erf is odd)::

    erf(z) ≈ 1 − (a₁t + a₂t² + a₃t³ + a₄t⁴ + a₅t⁵) e^(−z²),   t = 1 / (1 + p z)
    p = 0.3275911, a₁ = 0.254829592, a₂ = −0.284496736, a₃ = 1.421413741,
    a₄ = −1.453152027, a₅ = 1.061405429;   |error| ≤ 1.5·10⁻⁷

so Φ is within 7.5·10⁻⁸ of the exact value — the size of float32's rounding
of Φ near 1 (2⁻²⁴ ≈ 6·10⁻⁸), which is all a float32 GELU can resolve.  It
replaces ``scipy.special.erf`` (exact, but about 5× slower per element) for
float32 inputs; float64 inputs keep the exact erf (``Gelu`` in
``tinynlp/functional/activations.py``).  The backward pass needs Φ, which
the kernel returns, and φ (exact, from NumPy's exp).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["ERF_MAX_ERROR", "gelu_cdf_f32", "gelu_cdf_f32_reference"]

#: the formula's bound on |erf error| (A&S 7.1.26)
ERF_MAX_ERROR = 1.5e-7

_P = 0.3275911
_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)


def gelu_cdf_f32_reference(x):
    """NumPy twin: ``(h, Φ)`` for float32 ``x`` (any shape), by the formula above (float64
    arithmetic, Φ rounded to float32, as the kernel)."""
    x = np.asarray(x, dtype=np.float32)
    z = np.abs(x).astype(np.float64) * _INV_SQRT_2
    t = 1.0 / (1.0 + _P * z)
    poly = t * (_A[0] + t * (_A[1] + t * (_A[2] + t * (_A[3] + t * _A[4]))))
    e = 1.0 - poly * np.exp(-z * z)
    cdf = (0.5 * (1.0 + np.where(x >= 0, e, -e))).astype(np.float32)
    return x * cdf, cdf


@njit(cache=True)
def _gelu_cdf_flat(x, h, cdf):
    a0, a1, a2, a3, a4 = _A
    for i in range(x.size):
        v = x[i]
        z = abs(float(v)) * _INV_SQRT_2          # float64 from here: Φ within 1e-7
        t = 1.0 / (1.0 + _P * z)
        poly = t * (a0 + t * (a1 + t * (a2 + t * (a3 + t * a4))))
        e = 1.0 - poly * math.exp(-z * z)
        c = np.float32(0.5 * (1.0 + (e if v >= 0 else -e)))
        cdf[i] = c
        h[i] = v * c


def gelu_cdf_f32(x):
    """``(h, Φ)`` for a float32 array ``x``: one pass, two new float32 arrays of its shape."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    h = np.empty_like(x)
    cdf = np.empty_like(x)
    _gelu_cdf_flat(x.reshape(-1), h.reshape(-1), cdf.reshape(-1))
    return h, cdf
