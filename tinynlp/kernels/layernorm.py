"""Layer normalization over the last axis, one row at a time: forward and backward.

For each row x (D,) of a C-contiguous (N, D) array::

    μ = Σ x / D,   σ² = Σ (x − μ)² / D,   r = 1/√(σ² + ε),   x̂ = (x − μ) r,   y = γ ⊙ x̂ + β

and, with g = dL/dy and ĝ = γ ⊙ g::

    dL/dx = r (ĝ − mean(ĝ) − x̂ ⊙ mean(ĝ ⊙ x̂)),   dL/dγ = Σ_rows g ⊙ x̂,   dL/dβ = Σ_rows g

Why kernels: NumPy needs six passes and four temporaries for the forward,
and its reductions along a short last axis (D = 128 in the baby GPT) are
slow.  Here a row is read twice (sums, then the output) while it is in
cache; the row sums accumulate in float64 whatever the dtype, so float32
results are at least as accurate as NumPy's.  Each kernel has its NumPy twin
(``*_reference``) and a test that they agree.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "layer_norm_rows",
    "row_mean_rstd",
    "layer_norm_rows_reference",
    "layer_norm_backward_rows",
    "layer_norm_backward_rows_reference",
]


def layer_norm_rows_reference(x, gamma, beta, eps, want_xhat=True):
    """NumPy twin of :func:`layer_norm_rows`."""
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(axis=-1, keepdims=True)
    rstd = 1.0 / np.sqrt(var + x.dtype.type(eps))
    xhat = xc * rstd
    y = xhat if gamma is None else xhat * gamma
    if beta is not None:
        y = y + beta
    return y.astype(x.dtype, copy=False), (xhat if want_xhat else None), rstd[:, 0]


# reassociated float64 row sums let LLVM vectorise them
_FAST = {"reassoc", "nsz", "contract"}


@njit(inline="always", error_model="numpy")
def row_mean_rstd(row, eps):
    """(μ, 1/√(σ² + ε)) of one row, from float64 sums (also the decoding kernel's)."""
    D = row.shape[0]
    s = np.float64(0.0)         # float64 sums (np.float64, not 0.0: without the JIT
    for j in range(D):          # a Python float would take float32 from the row)
        s += row[j]
    mu = s / D
    ss = np.float64(0.0)
    for j in range(D):
        d = row[j] - mu
        ss += d * d
    return mu, 1.0 / np.sqrt(ss / D + eps)


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FAST)
def _ln_forward(x, gamma, beta, eps, y, xhat, rstd):
    N, D = x.shape
    keep = xhat.shape[0] == N
    for n in range(N):
        row = x[n]
        mu, r = row_mean_rstd(row, eps)
        rstd[n] = r
        out = y[n]
        if keep:
            xr = xhat[n]
            for j in range(D):
                xh = (row[j] - mu) * r
                xr[j] = xh
                out[j] = xh * gamma[j] + beta[j]
        else:
            for j in range(D):
                out[j] = (row[j] - mu) * r * gamma[j] + beta[j]


def layer_norm_rows(x, gamma, beta, eps, want_xhat=True):
    """y (N, D), x̂ (N, D) or None, r (N,) for x (N, D) float32 / float64, C-contiguous.

    ``gamma`` / ``beta`` (D,) or None (no scale / no shift).  ``want_xhat``:
    also keep x̂ (what the backward needs); inference skips it.
    """
    N, D = x.shape
    dt = x.dtype
    g = np.ones(D, dt) if gamma is None else np.ascontiguousarray(gamma, dtype=dt)
    b = np.zeros(D, dt) if beta is None else np.ascontiguousarray(beta, dtype=dt)
    y = np.empty_like(x)
    xhat = np.empty_like(x) if want_xhat else np.empty((0, D), dt)
    rstd = np.empty(N, dt)
    _ln_forward(x, g, b, float(eps), y, xhat, rstd)
    return y, (xhat if want_xhat else None), rstd


def layer_norm_backward_rows_reference(g, xhat, rstd, gamma):
    """NumPy twin of :func:`layer_norm_backward_rows`."""
    gh = g if gamma is None else g * gamma
    r = rstd[:, None]
    gx = r * (gh - gh.mean(axis=-1, keepdims=True)
              - xhat * (gh * xhat).mean(axis=-1, keepdims=True))
    return gx.astype(g.dtype, copy=False), (g * xhat).sum(axis=0), g.sum(axis=0)


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FAST)
def _ln_backward(g, xhat, rstd, gamma, gx, dgamma, dbeta):
    N, D = g.shape
    for n in range(N):
        gr = g[n]
        xr = xhat[n]
        s1 = np.float64(0.0)
        s2 = np.float64(0.0)
        for j in range(D):
            gh = gr[j] * gamma[j]
            s1 += gh
            s2 += gh * xr[j]
            dgamma[j] += gr[j] * xr[j]
            dbeta[j] += gr[j]
        m1 = s1 / D
        m2 = s2 / D
        r = rstd[n]
        out = gx[n]
        for j in range(D):
            out[j] = r * (gr[j] * gamma[j] - m1 - xr[j] * m2)


def layer_norm_backward_rows(g, xhat, rstd, gamma):
    """(dL/dx (N, D), dL/dγ (D,), dL/dβ (D,)) from g = dL/dy, x̂ and r of the forward.

    All (N, D) arrays C-contiguous, one float dtype; ``gamma`` (D,) or None.
    """
    N, D = g.shape
    dt = g.dtype
    gam = np.ones(D, dt) if gamma is None else np.ascontiguousarray(gamma, dtype=dt)
    gx = np.empty_like(g)
    dgamma = np.zeros(D, np.float64)
    dbeta = np.zeros(D, np.float64)
    _ln_backward(g, xhat, rstd, gam, gx, dgamma, dbeta)
    return gx, dgamma.astype(dt), dbeta.astype(dt)
