"""Derive the coefficients of the float32 tanh in ``tinynlp/kernels/activations.py``.

    python tools/fit_tanh.py

tanh is odd, so it is approximated on [0, X] as

    tanh(x) ≈ x · P(x²) / Q(x²),   P of degree 5, Q of degree 3, Q(0) = 1,

and the input is clamped to [−X, X] with X = 9 (1 − tanh(9) = 3e-8, below
float32's spacing just under 1).  The fit minimises the largest *relative*
error on a dense grid with Lawson's iteration: a weighted linear
least-squares fit of x·P − tanh·Q = 0, re-weighted each round by the error
of the previous one, which converges towards the minimax (equal-ripple)
solution.  Powers of x² are scaled by 1/X² while fitting to keep the
least-squares problem well conditioned.

The script prints the coefficients and the error of the approximation when
it is *evaluated in float32* (Horner's rule, as the kernel does) against
float64 ``np.tanh``, and NumPy's own float32 ``np.tanh`` for comparison.
"""

from __future__ import annotations

import numpy as np

CLAMP = 9.0
P_DEGREE, Q_DEGREE = 5, 3


def fit(p_degree=P_DEGREE, q_degree=Q_DEGREE, clamp=CLAMP, rounds=200):
    """Lawson-weighted rational fit; returns (P, Q) coefficients in powers of x²."""
    x = np.concatenate([np.linspace(0, 1, 4001)[1:], np.linspace(1, clamp, 16001)[1:]])
    y = np.tanh(x)
    scale = clamp * clamp
    s = x * x / scale
    cols = [x * s**k for k in range(p_degree + 1)] + [-y * s**k for k in range(1, q_degree + 1)]
    A = np.stack(cols, axis=1) / y[:, None]          # rows scaled: relative error
    weights = np.full(x.size, 1.0 / x.size)
    for _ in range(rounds):
        w = np.sqrt(weights)
        coef = np.linalg.lstsq(A * w[:, None], w, rcond=None)[0]
        P = coef[:p_degree + 1]
        Q = np.concatenate([[1.0], coef[p_degree + 1:]])
        approx = x * np.polyval(P[::-1], s) / np.polyval(Q[::-1], s)
        weights = weights * np.abs(approx - y) / y
        weights /= weights.sum()
    return P / scale**np.arange(p_degree + 1), Q / scale**np.arange(q_degree + 1)


def evaluate_float32(P, Q, clamp=CLAMP, n=4_000_001):
    """Largest absolute error and error in units of float32 spacing, on [−12, 12]."""
    x = np.linspace(-12, 12, n).astype(np.float32)
    xc = np.clip(x, np.float32(-clamp), np.float32(clamp))
    s = xc * xc
    P32, Q32 = P.astype(np.float32), Q.astype(np.float32)
    num = np.full_like(s, P32[-1])
    for c in P32[-2::-1]:
        num = num * s + c
    den = np.full_like(s, Q32[-1])
    for c in Q32[-2::-1]:
        den = den * s + c
    t = np.clip(xc * num / den, np.float32(-1), np.float32(1))
    exact = np.tanh(x.astype(np.float64))
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    err = np.abs(t - exact)
    numpy_err = np.abs(np.tanh(x) - exact)
    return err.max(), (err / spacing).max(), numpy_err.max()


def main():
    P, Q = fit()
    np.set_printoptions(precision=17)
    print("P (powers of x², from x⁰):", repr(P))
    print("Q (powers of x², from x⁰):", repr(Q))
    err, ulps, numpy_err = evaluate_float32(P, Q)
    print(f"float32 evaluation: max abs error {err:.2e} ({ulps:.1f} float32 spacings); "
          f"NumPy's float32 tanh: {numpy_err:.2e}")


if __name__ == "__main__":
    main()
