"""Derive the coefficients of the float32 tanh and erf in ``tinynlp/kernels/activations.py``.

    python tools/fit_rational.py            # both
    python tools/fit_rational.py tanh       # or: erf

Both functions are odd, so each is approximated on [0, X] as

    f(x) ≈ x · P(x²) / Q(x²),   Q(0) = 1,

and the input is clamped to [−X, X], where f is within float32's spacing
just under 1 of ±1:

    tanh: P of degree 5, Q of degree 3, X = 9   (1 − tanh(9) = 3e-8)
    erf:  P of degree 6, Q of degree 4, X = 4   (1 − erf(4) = 1.5e-8)

The fit minimises the largest *relative* error on a dense grid with Lawson's
iteration: a weighted linear least-squares fit of x·P − f·Q = 0, re-weighted
each round by the error of the previous one, which converges towards the
minimax (equal-ripple) solution.  Powers of x² are scaled by 1/X² while
fitting to keep the least-squares problem well conditioned.

The script prints the coefficients and the error of the approximation when
it is *evaluated in float32* (Horner's rule, as the kernel does) against the
float64 function, and NumPy's own float32 tanh for comparison.
"""

from __future__ import annotations

import math
import sys

import numpy as np

_erf = np.vectorize(math.erf, otypes=[np.float64])

# name: (the float64 function, X, degree of P, degree of Q)
TARGETS = {
    "tanh": (np.tanh, 9.0, 5, 3),
    "erf": (_erf, 4.0, 6, 4),
}
CLAMP = TARGETS["tanh"][1]          # the tanh kernel's clamp (kept under its former name)


def fit(name="tanh", rounds=200):
    """Lawson-weighted rational fit of ``TARGETS[name]``; (P, Q) coefficients in powers of x²."""
    func, clamp, p_degree, q_degree = TARGETS[name]
    x = np.concatenate([np.linspace(0, 1, 4001)[1:], np.linspace(1, clamp, 16001)[1:]])
    y = func(x)
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


def evaluate_float32(P, Q, name="tanh", n=4_000_001):
    """Largest absolute error and error in units of float32 spacing, on [−12, 12],
    and the error of NumPy's float32 function where it has one (else NaN)."""
    func, clamp = TARGETS[name][:2]
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
    exact = func(x.astype(np.float64))
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    err = np.abs(t - exact)
    numpy_err = np.abs(np.tanh(x) - exact).max() if name == "tanh" else float("nan")
    return err.max(), (err / spacing).max(), numpy_err


def main(argv=None):
    names = (argv if argv is not None else sys.argv[1:]) or list(TARGETS)
    np.set_printoptions(precision=17)
    for name in names:
        if name not in TARGETS:
            raise SystemExit(f"fit_rational: unknown function {name!r}; expected one of "
                             f"{sorted(TARGETS)}")
        P, Q = fit(name)
        print(f"{name}: P (powers of x², from x⁰):", repr(P))
        print(f"{name}: Q (powers of x², from x⁰):", repr(Q))
        err, ulps, numpy_err = evaluate_float32(P, Q, name)
        line = f"{name}: float32 evaluation: max abs error {err:.2e} ({ulps:.1f} float32 spacings)"
        if name == "tanh":
            line += f"; NumPy's float32 tanh: {numpy_err:.2e}"
        print(line)


if __name__ == "__main__":
    main()
