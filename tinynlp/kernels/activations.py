"""The backward of an activation, written from its output h, in one pass.

For h = σ(z) the derivative can be written with h alone::

    relu     σ'(z) = [h > 0]
    sigmoid  σ'(z) = h (1 − h)
    tanh     σ'(z) = 1 − h²
    linear   σ'(z) = 1

so a fused "GEMM + bias + activation" op (``F.dense``, ``F.conv1d`` with an
``activation``) keeps only h and computes ``dL/dz = dL/dh ⊙ σ'(z)`` here: one
pass and one new array, where NumPy needs a temporary per factor.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

__all__ = ["ACTIVATION_KINDS", "activation_backward", "activation_backward_reference",
           "bias_relu_", "bias_relu_reference_", "fast_tanh", "tanh_f32"]

#: activation name → the integer the kernel switches on
ACTIVATION_KINDS = {"linear": 0, "relu": 1, "sigmoid": 2, "tanh": 3}


def activation_backward_reference(g, h, kind):
    """NumPy twin: ``g ⊙ σ'(z)`` from the output ``h`` (same shapes)."""
    if kind == 1:
        return g * (h > 0)
    if kind == 2:
        return g * (h * (1 - h))
    if kind == 3:
        return g * (1 - h * h)
    return g.copy()


@njit(cache=True, error_model="numpy")
def activation_backward(g, h, kind):
    """Fast path: ``g``, ``h`` flat C-contiguous arrays of one dtype → a new array."""
    out = np.empty_like(g)
    one = np.ones(1, dtype=h.dtype)[0]
    zero = one - one
    n = g.shape[0]
    if kind == 1:
        for i in range(n):
            out[i] = g[i] if h[i] > zero else zero
    elif kind == 2:
        for i in range(n):
            out[i] = g[i] * (h[i] * (one - h[i]))
    elif kind == 3:
        for i in range(n):
            out[i] = g[i] * (one - h[i] * h[i])
    else:
        for i in range(n):
            out[i] = g[i]
    return out


def bias_relu_reference_(z, b, relu):
    """NumPy twin of :func:`bias_relu_`: ``z ← z + b``, then ``max(z, 0)`` if ``relu``."""
    z += b
    if relu:
        np.maximum(z, 0, out=z)
    return z


@njit(cache=True, error_model="numpy")
def bias_relu_(z, b, relu):
    """Fast path: the bias add and relu of a GEMM's output (R, F) in one pass, in place.

    NumPy needs two passes (``z += b``; ``np.maximum(z, 0, out=z)``): 1.3 ms
    against 0.5 ms here for the (25088, 128) float32 output of the embedding
    CNN's convolution at batch 256.  relu(NaN) stays NaN, as with NumPy.
    """
    R, F = z.shape
    zero = np.zeros(1, dtype=z.dtype)[0]
    for r in range(R):
        zr = z[r]
        if relu:
            for j in range(F):
                v = zr[j] + b[j]
                zr[j] = zero if v < zero else v
        else:
            for j in range(F):
                zr[j] += b[j]
    return z


# --------------------------------------------------------------------------
# tanh inside a Numba loop
# --------------------------------------------------------------------------
#
# Numba compiles ``math.tanh`` / ``np.tanh`` on a scalar to a libm call, which
# LLVM cannot vectorise: measured 1800 µs per 131k float32 values against
# NumPy's 37 µs.  For float32, a rational function that LLVM *can* vectorise
# (multiplies, adds, one division, min/max) is as accurate as float32 needs:
#
#     tanh(x) ≈ x · P(x²) / Q(x²)  on |x| ≤ 9,  ±1 beyond (1 − tanh 9 = 3e-8),
#
# max abs error 3.5e-7 (6 float32 spacings; NumPy's float32 tanh: 6e-8), 48 µs
# per 131k values.  Coefficients: ``python tools/fit_tanh.py`` (a minimax fit).
# float64 keeps the exact libm tanh (gradient checks run in float64).

_TANH_CLAMP = np.float32(9.0)
_TP0, _TP1, _TP2, _TP3, _TP4, _TP5 = (np.float32(v) for v in (
    9.9999994113425994e-01, 1.2919222738077446e-01, 2.9207559548599174e-03,
    9.2673724931687659e-06, -1.2780315378878888e-08, 1.8254974029295855e-11))
_TQ0, _TQ1, _TQ2, _TQ3 = (np.float32(v) for v in (
    1.0, 4.6252506579672120e-01, 2.3763143887938903e-02, 2.2809942216769186e-04))
_ONE32 = np.float32(1.0)


@njit(inline="always", error_model="numpy")
def tanh_f32(x):
    """tanh of a float32 scalar as x·P(x²)/Q(x²) (see above); result in [−1, 1]."""
    x = min(max(x, -_TANH_CLAMP), _TANH_CLAMP)
    s = x * x
    p = ((((_TP5 * s + _TP4) * s + _TP3) * s + _TP2) * s + _TP1) * s + _TP0
    q = ((_TQ3 * s + _TQ2) * s + _TQ1) * s + _TQ0
    return min(max(x * p / q, -_ONE32), _ONE32)


def fast_tanh(x):
    """tanh of a scalar for Numba kernels: :func:`tanh_f32` for float32, libm otherwise.

    Called from a kernel, the choice is made once at compile time (see the
    overload below); called from Python (``NUMBA_DISABLE_JIT=1``), here.
    """
    if isinstance(x, np.float32):
        return tanh_f32(x)
    return math.tanh(x)


@overload(fast_tanh, inline="always")
def _fast_tanh_overload(x):
    if x == types.float32:
        return lambda x: tanh_f32(x)
    return lambda x: math.tanh(x)
