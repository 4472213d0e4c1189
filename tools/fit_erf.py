"""Fit the rational erf of ``tinynlp/kernels/gelu.py`` and print its coefficients and error.

    erf(z) ≈ z · P(z²) / Q(z²)  on 0 ≤ z ≤ 4,   deg P = deg Q = 5,  Q(0) = 1

Sanathanan–Koerner iterations: minimise Σ w·(z·P(u) − erf(z)·Q(u))², linear in
the coefficients, with the weights w = 1 / |Q(u)| of the previous fit, so the
residual approaches the relative error erf − z·P/Q.  Samples: Chebyshev points
on [0, 4] plus a uniform grid.  Run: ``python tools/fit_erf.py`` (SciPy's exact
erf is the target; it is needed only here).
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf


def fit(n=5, m=5, zmax=4.0, iters=30, samples=4000):
    k = np.arange(samples)
    z = np.concatenate([zmax * (1 - np.cos(np.pi * (k + 0.5) / samples)) / 2,
                        np.linspace(0, zmax, samples)])
    f, u = erf(z), z * z
    w = np.ones_like(z)
    for _ in range(iters):
        a = np.concatenate([z[:, None] * u[:, None] ** np.arange(n + 1),
                            -f[:, None] * u[:, None] ** np.arange(1, m + 1)], axis=1)
        coef, *_ = np.linalg.lstsq(a * w[:, None], f * w, rcond=None)
        p, q = coef[:n + 1], np.concatenate([[1.0], coef[n + 1:]])
        w = 1.0 / np.abs(np.polyval(q[::-1], u))
    return p, q


def max_error(p, q, zmax=4.0):
    z = np.linspace(0, 8, 2_000_001)
    zc = np.minimum(z, zmax)
    approx = np.minimum(zc * np.polyval(p[::-1], zc * zc) / np.polyval(q[::-1], zc * zc), 1.0)
    return float(np.abs(approx - erf(z)).max())


if __name__ == "__main__":
    p, q = fit()
    print("P =", tuple(float(x) for x in p))
    print("Q =", tuple(float(x) for x in q))
    print(f"max |error| on [0, 8]: {max_error(p, q):.2e}")
