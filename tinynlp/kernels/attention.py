"""Row-wise softmax kernels for attention: the scaled, causally limited softmax and its backward.

The raw scores S = q kᵀ (N, Tq, Tk) (N = batch × heads) become the weights
P row by row, in place::

    P_ij = exp(c (S_ij − m_i)) / Σ_j' exp(c (S_ij' − m_i))   over the keys j ≤ i + offset
    P_ij = 0                                                  for the keys beyond (causal)

with c > 0 the scale (1/√d) and m_i the row's maximum over the allowed keys
(softmax(c·S) = softmax(c·(S − m)), and the shift keeps exp from
overflowing).  −∞ scores (masked keys) get 0; a row with no finite score is
all zeros (a query that may attend to nothing).  ``offset`` = 0 is the usual
causal triangle, ``offset = Tk − Tq`` a block of queries that continues
``Tk − Tq`` cached keys, and ``offset ≥ Tk`` no causal limit.

The backward of the softmax, row by row, in place in dP::

    dS_ij = P_ij (dP_ij − Σ_j' dP_ij' P_ij')

(the scale c is applied to dS's products by the caller).

Why kernels: on (B·H, T, T) scores NumPy's reductions along a short last
axis (max, sum) are slow, and the softmax takes five passes and a
temporary.  Here one pass shifts, scales and masks, NumPy's vectorised
``exp`` runs in place, and one pass normalises; for float32 all of it is one
kernel that finishes each row while it is in cache, with the vectorisable
float32 exponential of :mod:`tinynlp.kernels.activations` (about one float32
spacing from the exact value).  The backward is one pass.
Each kernel has its NumPy twin (``*_reference_``) and a test that they agree.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .activations import fast_exp_neg

__all__ = [
    "normalize_rows_",
    "normalize_rows_reference_",
    "shift_scale_rows_",
    "shift_scale_rows_reference_",
    "softmax_backward_rows_",
    "softmax_backward_rows_reference_",
    "softmax_rows_",
    "softmax_rows_f32_",
    "softmax_rows_reference_",
]

# reassociating sums lets LLVM vectorise the reductions; no "nnan"/"ninf":
# the kernels compare with −∞ on purpose
_FAST = {"reassoc", "nsz", "contract"}


def _beyond(Tq, Tk, offset):
    return np.arange(Tk)[None, :] > np.arange(Tq)[:, None] + offset


def shift_scale_rows_reference_(s, offset, scale):
    """NumPy twin of :func:`shift_scale_rows_`."""
    s[..., _beyond(s.shape[-2], s.shape[-1], offset)] = -np.inf
    m = s.max(axis=-1, keepdims=True)
    m[~np.isfinite(m)] = 0.0
    s -= m
    s *= s.dtype.type(scale)
    return s


@njit(inline="always", error_model="numpy")
def _allowed_max(row, stop):
    """(max of row[:stop] — −∞ if stop is 0 or all are −∞ —, whether one of them is NaN)."""
    m = row.dtype.type(-np.inf)
    nan = False
    for j in range(stop):
        m = max(m, row[j])
        nan |= row[j] != row[j]
    return m, nan


@njit(cache=True, nogil=True, error_model="numpy")
def shift_scale_rows_(s, offset, scale):
    """s ← c·(s − rowmax) over keys j ≤ i + offset, −∞ beyond; (N, Tq, Tk) C-contiguous.

    A row whose allowed scores are all −∞ is left at −∞ (so exp gives zeros)."""
    N, Tq, Tk = s.shape
    ninf = s.dtype.type(-np.inf)
    c = s.dtype.type(scale)
    for n in range(N):
        for i in range(Tq):
            row = s[n, i]
            stop = min(Tk, max(0, i + offset + 1))
            m, _ = _allowed_max(row, stop)
            if m == ninf:
                m = s.dtype.type(0.0)
            for j in range(stop):
                row[j] = (row[j] - m) * c
            for j in range(stop, Tk):
                row[j] = ninf
    return s


def normalize_rows_reference_(e):
    """NumPy twin of :func:`normalize_rows_`."""
    total = e.sum(axis=-1, keepdims=True)
    total[total == 0] = 1.0
    e /= total
    return e


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FAST)
def normalize_rows_(e):
    """e ← e / rowsum(e) for non-negative e (N, Tq, Tk); an all-zero row stays zero."""
    N, Tq, Tk = e.shape
    zero = e.dtype.type(0.0)
    for n in range(N):
        for i in range(Tq):
            row = e[n, i]
            total = zero
            for j in range(Tk):
                total += row[j]
            if total > zero:
                inv = e.dtype.type(1.0) / total
                for j in range(Tk):
                    row[j] *= inv
    return e


def softmax_rows_reference_(s, offset, scale):
    """NumPy twin of :func:`softmax_rows_`."""
    shift_scale_rows_reference_(s, offset, scale)
    np.exp(s, out=s)
    return normalize_rows_reference_(s)


@njit(inline="always", error_model="numpy", fastmath=_FAST)
def _softmax_row_f32(row, stop, c):
    """One row of :func:`softmax_rows_f32_`: the keys before ``stop`` get the weights,
    the others 0."""
    zero = row.dtype.type(0.0)
    m, nan = _allowed_max(row, stop)
    if nan:
        row[:] = np.nan
        return
    total = zero
    if m > -np.inf:
        for j in range(stop):
            e = fast_exp_neg((m - row[j]) * c)             # −∞ scores give e^(−∞) = 0
            row[j] = e
            total += e
    if total > zero:
        inv = row.dtype.type(1.0) / total
        for j in range(stop):
            row[j] *= inv
    else:                                                   # nothing to attend: zeros
        row[:stop] = zero
    row[stop:] = zero


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FAST)
def softmax_rows_f32_(s, offset, scale):
    """:func:`softmax_rows_` for float32 in one kernel: each row's maximum, its
    exponentials (``fast_exp_neg``, vectorised) and their sum, then the division,
    while the row is in cache.  A row holding a NaN becomes NaN (as NumPy's exp
    would make it)."""
    N, Tq, Tk = s.shape
    c = s.dtype.type(scale)
    for n in range(N):
        for i in range(Tq):
            _softmax_row_f32(s[n, i], min(Tk, max(0, i + offset + 1)), c)
    return s


def softmax_rows_(s, offset, scale):
    """P = softmax(scale · s) over keys j ≤ i + offset, in place in s (N, Tq, Tk) C-contiguous.

    float32: one kernel (:func:`softmax_rows_f32_`); otherwise two kernel passes
    around NumPy's vectorised exp (see the module docstring)."""
    if s.dtype == np.float32 and scale > 0:
        return softmax_rows_f32_(s, offset, scale)
    shift_scale_rows_(s, offset, scale)
    np.exp(s, out=s)
    return normalize_rows_(s)


def softmax_backward_rows_reference_(dp, p):
    """NumPy twin of :func:`softmax_backward_rows_`."""
    r = np.einsum("...ij,...ij->...i", dp, p)[..., None]
    dp -= r
    dp *= p
    return dp


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FAST)
def softmax_backward_rows_(dp, p):
    """dS = P ⊙ (dP − rowsum(dP ⊙ P)) in place in ``dp``; both C-contiguous (N, Tq, Tk)."""
    N, Tq, Tk = dp.shape
    zero = dp.dtype.type(0.0)
    for n in range(N):
        for i in range(Tq):
            g = dp[n, i]
            w = p[n, i]
            r = zero
            for j in range(Tk):
                r += g[j] * w[j]
            for j in range(Tk):
                g[j] = w[j] * (g[j] - r)
    return dp
