"""Activations: the one home of their names, σ, in-place application and σ' from the output.

The fused ops (``F.dense``, ``F.conv1d``, the RNN ops, the quantized layers)
apply an activation in place on a fresh GEMM output and keep only its output
h.  That works for the activations whose derivative can be written with h
alone::

    linear   σ'(z) = 1
    relu     σ'(z) = [h > 0]
    sigmoid  σ'(z) = h (1 − h)
    tanh     σ'(z) = 1 − h²

They are the members of :class:`Act`; ``Act.of(name)`` is None for every other
activation (gelu, elu, softmax, ...), which the ops apply after the GEMM with
their own Function (``tinynlp.functional.activations``).  Here, on plain arrays:

* :func:`sigmoid` — σ(x) = 1 / (1 + e^−x) without overflow (the one sigmoid);
* :func:`apply_activation_` — z ← σ(z) in place;
* :func:`activation_derivative` — σ'(z) written from h (NumPy), and
  :func:`activation_backward`, its one-pass Numba product ``dL/dh ⊙ σ'(z)``
  (one new array, where NumPy needs a temporary per factor).
"""

from __future__ import annotations

import enum
import math

import numpy as np
from numba import njit, types
from numba.extending import overload

__all__ = ["Act", "sigmoid", "apply_activation_", "activation_derivative",
           "activation_backward", "activation_backward_reference",
           "bias_relu_", "bias_relu_reference_", "fast_tanh", "tanh_f32"]


class Act(enum.IntEnum):
    """An activation the fused ops apply in place and differentiate from their output."""

    LINEAR = 0
    RELU = 1
    SIGMOID = 2
    TANH = 3

    @classmethod
    def of(cls, activation):
        """The member for a Keras name (any case; ``None`` is LINEAR) or a member;
        None for an activation that cannot be fused (another name, a callable)."""
        if activation is None:
            return cls.LINEAR
        if isinstance(activation, cls):
            return activation
        if isinstance(activation, str):
            return _ACT_BY_NAME.get(activation) or _ACT_BY_NAME.get(activation.lower())
        return None

    @classmethod
    def names(cls):
        """The lower-case names, e.g. for an error message."""
        return tuple(m.name.lower() for m in cls)


_ACT_BY_NAME = {m.name.lower(): m for m in Act}
_RELU, _SIGMOID, _TANH = Act.RELU, Act.SIGMOID, Act.TANH   # (a global is 4x faster than Act.X)


def sigmoid(x, out=None):
    """σ(x) = 1 / (1 + e^−x) for an array, without overflow for large |x|.

    With e = e^−|x|:  σ = 1 / (1 + e) where x ≥ 0 and e / (1 + e) where x < 0,
    so e^−x is never evaluated for a large negative x.  ``out`` (may be ``x``
    itself) receives the result; the dtype is x's.
    """
    x = np.asarray(x)
    e = np.abs(x)
    np.negative(e, out=e)
    np.exp(e, out=e)                 # e^−|x| ∈ (0, 1]
    negative = x < 0
    if out is None:
        out = np.empty_like(x)
    out[...] = 1
    np.copyto(out, e, where=negative)
    e += 1
    np.divide(out, e, out=out)
    return out


def apply_activation_(z, act):
    """z ← σ(z) in place for an :class:`Act`; returns z."""
    if act == _RELU:
        np.maximum(z, 0, out=z)
    elif act == _SIGMOID:
        sigmoid(z, out=z)
    elif act == _TANH:
        np.tanh(z, out=z)
    return z


def activation_derivative(h, act, out=None):
    """σ'(z) written with the output h = σ(z) alone (see the module docstring).

    ``out`` (h's shape) receives it; a new array otherwise.
    """
    if out is None:
        out = np.empty_like(h)
    if act == _RELU:
        np.greater(h, 0, out=out)
    elif act == _SIGMOID:
        np.subtract(1, h, out=out)
        out *= h
    elif act == _TANH:
        np.multiply(h, h, out=out)
        np.subtract(1, out, out=out)
    else:
        out.fill(1)
    return out


def activation_backward_reference(g, h, act):
    """NumPy twin of :func:`activation_backward`: ``g ⊙ σ'(z)`` from the output ``h``."""
    if act == Act.LINEAR:
        return g.copy()
    return g * activation_derivative(h, act)


@njit(cache=True, error_model="numpy")
def activation_backward(g, h, act):
    """Fast path: ``g``, ``h`` flat C-contiguous arrays of one dtype → a new array.

    Pass ``int(act)``: an :class:`Act` member works too, but Numba types an IntEnum
    argument on every call (measured 12 µs a call against 1 µs for an int).
    """
    out = np.empty_like(g)
    one = np.ones(1, dtype=h.dtype)[0]
    zero = one - one
    n = g.shape[0]
    if act == Act.RELU:
        for i in range(n):
            out[i] = g[i] if h[i] > zero else zero
    elif act == Act.SIGMOID:
        for i in range(n):
            out[i] = g[i] * (h[i] * (one - h[i]))
    elif act == Act.TANH:
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
