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
  (one new array, where NumPy needs a temporary per factor);
* :func:`gelu_array` / :func:`gelu_grad_array` — gelu and its gradient from the
  input (gelu's derivative needs x, not h), one Numba pass each, exact (erf) or
  tanh form, with their NumPy twins :func:`gelu_reference` /
  :func:`gelu_backward_reference`.
"""

from __future__ import annotations

import enum
import math

import numpy as np
from numba import njit, types
from numba.extending import overload

try:  # exact erf, vectorised, for the NumPy twins; the fallback is exact too, only slower
    from scipy.special import erf as _erf
except ImportError:  # pragma: no cover - scipy is optional
    _erf = np.vectorize(math.erf, otypes=[np.float64])

__all__ = ["Act", "sigmoid", "apply_activation_", "activation_derivative",
           "activation_backward", "activation_backward_reference",
           "bias_relu_", "bias_relu_reference_", "fast_tanh", "tanh_f32", "float32_fast_path",
           "fast_erf", "erf_f32",
           "fast_exp_neg", "exp_neg_f32", "gelu_array", "gelu_grad_array", "gelu_forward",
           "gelu_backward", "gelu_reference", "gelu_backward_reference"]


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


@njit(cache=True, nogil=True, error_model="numpy")
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


@njit(cache=True, nogil=True, error_model="numpy")
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
# per 131k values.  Coefficients: ``python tools/fit_rational.py tanh`` (a minimax fit).
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


def float32_fast_path(name, f32, other, doc):
    """A scalar function for Numba kernels: ``f32`` (a vectorisable float32 routine) for a
    float32 argument, ``other`` (libm's, exact) for any other.

    Called from a kernel, the choice is made once at compile time (an
    ``overload``); called from Python (``NUMBA_DISABLE_JIT=1``), at each call.
    """
    def fn(x):
        if isinstance(x, np.float32):
            return f32(x)
        return other(x)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc

    @overload(fn, inline="always")
    def _typed(x):
        if x == types.float32:
            return lambda x: f32(x)
        return lambda x: other(x)

    return fn


fast_tanh = float32_fast_path(
    "fast_tanh", tanh_f32, math.tanh,
    "tanh of a scalar for Numba kernels: :func:`tanh_f32` for float32, libm otherwise.")


# --------------------------------------------------------------------------
# gelu: erf and exp inside a Numba loop
# --------------------------------------------------------------------------
#
# gelu(x) = x·Φ(x) with Φ(x) = ½ (1 + erf(x/√2)), and its derivative
# Φ(x) + x·φ(x) with φ(x) = e^(−x²/2) / √(2π).  Like tanh, ``math.erf`` and
# ``math.exp`` compile to libm calls that LLVM cannot vectorise (measured on
# 393k float32 values: 5.6 ms for erf, 1.7 ms for exp, against NumPy's
# vectorised exp at 0.18 ms; SciPy's erf on the array: 7 ms).  For float32:
#
# * erf(x) ≈ x · P(x²) / Q(x²) on |x| ≤ 4, ±1 beyond (1 − erf 4 = 1.5e-8),
#   P of degree 6, Q of degree 4; max abs error 4.2e-7 evaluated in float32.
#   Coefficients: ``python tools/fit_rational.py erf`` (the same minimax fit
#   as the tanh's).
# * e^(−s) for s ≥ 0 by the textbook range reduction: s = k·ln 2 + r with
#   k = round(s / ln 2) and |r| ≤ ln 2 / 2 (ln 2 split in two parts so that
#   k·ln 2 is exact), e^(−r) by its Taylor polynomial to r⁷ (remainder below
#   5e-9), times 2^(−k) = (1 << (62 − k)) · 2^(−62) built exactly from an
#   integer; 0 once s > 40 (e^(−40) = 4e-18).  About 1 float32 spacing.
#
# The tanh form ½x(1 + tanh u) is x·σ(2u), written with e = e^(−2|u|) so
# that neither 1 ± tanh u nor 1 − tanh² u = 4e / (1 + e)² cancels (through
# ``tanh_f32`` its derivative was off by 1.3e-5 at x ≈ 5; PyTorch's 4e-6).
# float64 keeps libm's exact erf and exp (the gradient checks run in float64).

_EP0, _EP1, _EP2, _EP3, _EP4, _EP5, _EP6 = (np.float32(v) for v in (
    1.1283790939626854e+00, 2.0712816736721962e-01, 5.1525270539016114e-02,
    3.9906982689415687e-03, 1.4728953276343292e-04, -1.9423232548226205e-06,
    1.9110786165396242e-08))
_EQ0, _EQ1, _EQ2, _EQ3, _EQ4 = (np.float32(v) for v in (
    1.0, 0.5168938066788598, 0.11797195351541655, 0.01495832217419514, 0.00102114343084184))
_ERF_CLAMP = np.float32(4.0)

_EXP_S_MAX = np.float32(40.0)
_LOG2E32 = np.float32(1.0 / math.log(2.0))
_LN2_HI = np.float32(0.693145751953125)          # ln 2 to 16 bits: k·_LN2_HI is exact
_LN2_LO = np.float32(math.log(2.0) - 0.693145751953125)
_TWO_M62 = np.float32(2.0 ** -62)
_HALF32 = np.float32(0.5)
_ZERO32 = np.float32(0.0)
_C2, _C3, _C4, _C5, _C6, _C7 = (np.float32(1.0 / math.factorial(n)) for n in range(2, 8))


@njit(inline="always", error_model="numpy")
def erf_f32(x):
    """erf of a float32 scalar as x·P(x²)/Q(x²) (see above); result in [−1, 1]."""
    x = min(max(x, -_ERF_CLAMP), _ERF_CLAMP)
    s = x * x
    p = (((((_EP6 * s + _EP5) * s + _EP4) * s + _EP3) * s + _EP2) * s + _EP1) * s + _EP0
    q = (((_EQ4 * s + _EQ3) * s + _EQ2) * s + _EQ1) * s + _EQ0
    return min(max(x * p / q, -_ONE32), _ONE32)


@njit(inline="always", error_model="numpy")
def exp_neg_f32(s):
    """e^(−s) of a float32 scalar s ≥ 0 by range reduction (see above); 0 for s > 40 or NaN."""
    if not s <= _EXP_S_MAX:
        return _ZERO32
    k = int(s * _LOG2E32 + _HALF32)                 # round(s / ln 2) ∈ [0, 58]
    kf = np.float32(k)
    r = (s - kf * _LN2_HI) - kf * _LN2_LO           # |r| ≤ ln 2 / 2
    e = _ONE32 - r * (_ONE32 - r * (_C2 - r * (_C3 - r * (_C4 - r * (_C5 - r * (_C6 - r * _C7))))))
    return e * (np.float32(1 << (62 - k)) * _TWO_M62)


@njit(inline="always")
def _exp_neg_libm(s):
    return math.exp(-s)


fast_erf = float32_fast_path(
    "fast_erf", erf_f32, math.erf,
    "erf of a scalar for Numba kernels: :func:`erf_f32` for float32, libm otherwise.")
fast_exp_neg = float32_fast_path(
    "fast_exp_neg", exp_neg_f32, _exp_neg_libm,
    "e^(−s) of a scalar s ≥ 0 for Numba kernels: :func:`exp_neg_f32` for float32, libm "
    "otherwise.")


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_A = 0.044715


def gelu_reference(x, approximate=False):
    """NumPy twin of :func:`gelu_forward`: x·Φ(x), or ½x(1 + tanh(√(2/π)(x + 0.044715x³)))."""
    x = np.asarray(x)
    if approximate:
        return 0.5 * x * (1.0 + np.tanh(_SQRT_2_OVER_PI * (x + _GELU_A * (x * x * x))))
    return (x * (0.5 * (1.0 + _erf(x * _INV_SQRT_2)))).astype(x.dtype, copy=False)


def gelu_backward_reference(g, x, approximate=False):
    """NumPy twin of :func:`gelu_backward`: g ⊙ gelu'(x).

    exact: gelu'(x) = Φ(x) + x·φ(x);  tanh form, with u = √(2/π)(x + 0.044715x³):
    gelu'(x) = ½(1 + tanh u) + ½x(1 − tanh² u)·√(2/π)(1 + 3·0.044715x²).
    """
    x = np.asarray(x)
    if approximate:
        t = np.tanh(_SQRT_2_OVER_PI * (x + _GELU_A * (x * x * x)))
        du = _SQRT_2_OVER_PI * (1.0 + 3 * _GELU_A * (x * x))
        return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du)
    cdf = 0.5 * (1.0 + _erf(x * _INV_SQRT_2))
    pdf = _INV_SQRT_2PI * np.exp(-0.5 * x * x)
    return (g * (cdf + x * pdf)).astype(x.dtype, copy=False)


@njit(cache=True, nogil=True, error_model="numpy")
def gelu_forward(x, approximate):
    """Fast path of :func:`gelu_reference`: a flat float array → a new array, one pass.

    tanh form: ½(1 + tanh u) = 1 / (1 + e) for u ≥ 0, e / (1 + e) for u < 0,
    with e = e^(−2|u|) (no cancellation on either side).
    """
    out = np.empty_like(x)
    half = x.dtype.type(0.5)
    one = x.dtype.type(1.0)
    zero = x.dtype.type(0.0)
    if approximate:
        c2 = x.dtype.type(2.0 * _SQRT_2_OVER_PI)
        ca2 = x.dtype.type(2.0 * _SQRT_2_OVER_PI * _GELU_A)
        for i in range(x.shape[0]):
            v = x[i]
            u2 = v * (c2 + ca2 * (v * v))                # 2u
            e = fast_exp_neg(abs(u2))
            cdf = one / (one + e) if u2 >= zero else e / (one + e)
            out[i] = v * cdf
    else:
        r = x.dtype.type(_INV_SQRT_2)
        for i in range(x.shape[0]):
            v = x[i]
            out[i] = half * v * (one + fast_erf(v * r))
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def gelu_backward(g, x, approximate):
    """Fast path of :func:`gelu_backward_reference`: flat ``g``, ``x`` of one dtype → dL/dx,
    recomputing Φ (or tanh u) from the saved input in the same pass.

    tanh form: ½(1 − tanh² u) = 2e / (1 + e)² with e = e^(−2|u|).
    """
    out = np.empty_like(x)
    half = x.dtype.type(0.5)
    one = x.dtype.type(1.0)
    two = x.dtype.type(2.0)
    zero = x.dtype.type(0.0)
    if approximate:
        c = x.dtype.type(_SQRT_2_OVER_PI)
        c2 = x.dtype.type(2.0 * _SQRT_2_OVER_PI)
        ca2 = x.dtype.type(2.0 * _SQRT_2_OVER_PI * _GELU_A)
        ca3 = x.dtype.type(3.0 * _SQRT_2_OVER_PI * _GELU_A)
        for i in range(x.shape[0]):
            v = x[i]
            s = v * v
            u2 = v * (c2 + ca2 * s)
            e = fast_exp_neg(abs(u2))
            d = one / (one + e)
            cdf = d if u2 >= zero else e * d                # ½(1 + tanh u)
            sech = two * e * d * d                          # ½(1 − tanh² u)
            out[i] = g[i] * (cdf + v * sech * (c + ca3 * s))
    else:
        r = x.dtype.type(_INV_SQRT_2)
        p = x.dtype.type(_INV_SQRT_2PI)
        for i in range(x.shape[0]):
            v = x[i]
            out[i] = g[i] * (half * (one + fast_erf(v * r)) + v * p * fast_exp_neg(half * v * v))
    return out


def gelu_array(x, approximate=False):
    """gelu of a float32 / float64 array of any shape (:func:`gelu_forward`); other dtypes
    through the NumPy twin."""
    if x.dtype not in (np.float32, np.float64):
        return gelu_reference(x, approximate)
    flat = np.ascontiguousarray(x).reshape(-1)
    return gelu_forward(flat, bool(approximate)).reshape(x.shape)


def gelu_grad_array(g, x, approximate=False):
    """dL/dx = g ⊙ gelu'(x) for arrays of x's shape (:func:`gelu_backward`)."""
    if x.dtype not in (np.float32, np.float64):
        return gelu_backward_reference(g, x, approximate)
    gf = np.ascontiguousarray(g, dtype=x.dtype).reshape(-1)
    return gelu_backward(gf, np.ascontiguousarray(x).reshape(-1),
                         bool(approximate)).reshape(x.shape)
