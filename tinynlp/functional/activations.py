"""Activation functions σ, and ``get_activation`` to look one up by its Keras name.

``relu``, ``tanh``, ``sigmoid`` and ``softmax`` are primitive ops
(:mod:`tinynlp.autograd.ops`); the others are defined here, each as a
:class:`Function` whose docstring gives the formula and its derivative.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.ops import relu, sigmoid, softmax, tanh
from ..autograd.tensor import Function
from ..kernels.activations import sigmoid as sigmoid_array
from ..kernels.gelu import gelu_cdf_f32

__all__ = ["get_activation", "linear", "gelu", "elu", "selu", "leaky_relu", "softplus",
           "softsign", "silu", "swish", "ACTIVATIONS"]

try:  # exact erf, vectorised; the fallback is exact too, only slower
    from scipy.special import erf as _erf
except ImportError:  # pragma: no cover - scipy is optional
    _erf = np.vectorize(math.erf, otypes=[np.float64])

_SQRT_2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_C = math.sqrt(2.0 / math.pi)


def linear(x):
    """σ(x) = x  (Keras' "linear": the identity)."""
    return x


class Gelu(Function):
    """h = x · Φ(x),  Φ(x) = ½ (1 + erf(x / √2));   dh/dx = Φ(x) + x · φ(x),  φ = e^(−x²/2) / √(2π)

    float32 inputs: Φ by a fitted rational erf (|error| ≤ 2.8·10⁻⁸, below float32's
    resolution of Φ) in one vectorised Numba pass (:mod:`tinynlp.kernels.gelu`); float64:
    the exact erf.

    ``approximate=True``: h = ½ x (1 + tanh(u)),  u = √(2/π) (x + 0.044715 x³);
    dh/dx = ½ (1 + tanh u) + ½ x (1 − tanh² u) · √(2/π) (1 + 3·0.044715 x²)
    """

    @staticmethod
    def forward(ctx, x, approximate=False):
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        if approximate:
            t = np.tanh(_TANH_C * (x + 0.044715 * x ** 3))
            ctx.t = t
            return 0.5 * x * (1.0 + t)
        if x.dtype == np.float32:     # one Numba pass, Φ within 3e-8 (kernels/gelu.py)
            h, ctx.cdf = gelu_cdf_f32(x)
            return h
        cdf = (0.5 * (1.0 + _erf(x / _SQRT_2))).astype(x.dtype, copy=False)
        ctx.cdf = cdf
        return x * cdf

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        if ctx.approximate:
            t = ctx.t
            du = _TANH_C * (1.0 + 3 * 0.044715 * x * x)
            return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du)
        pdf = _INV_SQRT_2PI * np.exp(-0.5 * x * x)
        return g * (ctx.cdf + x * pdf)


class Elu(Function):
    """h = x if x > 0 else α (eˣ − 1);   dh/dx = 1 if x > 0 else α eˣ  (= h + α)"""

    @staticmethod
    def forward(ctx, x, alpha=1.0):
        h = np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False)
        ctx.save_for_backward(x, h)
        ctx.alpha = alpha
        return h

    @staticmethod
    def backward(ctx, g):
        x, h = ctx.saved
        return g * np.where(x > 0, 1.0, h + ctx.alpha).astype(g.dtype, copy=False)


_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805


class Selu(Function):
    """h = λ·x if x > 0 else λα (eˣ − 1)  (λ ≈ 1.0507, α ≈ 1.6733);   dh/dx = λ if x > 0 else λα eˣ"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        neg = _SELU_ALPHA * np.expm1(np.minimum(x, 0))
        return (_SELU_SCALE * np.where(x > 0, x, neg)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        d = np.where(x > 0, _SELU_SCALE, _SELU_SCALE * _SELU_ALPHA * np.exp(np.minimum(x, 0)))
        return g * d.astype(g.dtype, copy=False)


class LeakyRelu(Function):
    """h = x if x > 0 else a·x;   dh/dx = 1 if x > 0 else a"""

    @staticmethod
    def forward(ctx, x, negative_slope=0.2):
        ctx.save_for_backward(x)
        ctx.slope = negative_slope
        return np.where(x > 0, x, x * negative_slope).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g * np.where(x > 0, 1.0, ctx.slope).astype(g.dtype, copy=False)


class Softplus(Function):
    """h = log(1 + eˣ) = max(x, 0) + log(1 + e^−|x|);   dh/dx = σ(x)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g * sigmoid_array(x)


class Softsign(Function):
    """h = x / (1 + |x|);   dh/dx = 1 / (1 + |x|)²"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x / (1.0 + np.abs(x))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        a = 1.0 + np.abs(x)
        return g / (a * a)


class Silu(Function):
    """h = x · σ(x)  (swish);   dh/dx = σ(x) (1 + x (1 − σ(x)))"""

    @staticmethod
    def forward(ctx, x):
        s = sigmoid_array(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, g):
        x, s = ctx.saved
        return g * s * (1.0 + x * (1.0 - s))


def gelu(x, approximate=False):
    """Gaussian error linear unit x·Φ(x) (exact erf form by default, as Keras and PyTorch)."""
    return Gelu.apply(x, approximate=bool(approximate))


def elu(x, alpha=1.0):
    """Exponential linear unit."""
    return Elu.apply(x, alpha=float(alpha))


def selu(x):
    """Scaled ELU (self-normalising)."""
    return Selu.apply(x)


def leaky_relu(x, negative_slope=0.2):
    """Leaky ReLU (Keras' default slope 0.2; PyTorch's is 0.01)."""
    return LeakyRelu.apply(x, negative_slope=float(negative_slope))


def softplus(x):
    """log(1 + eˣ), computed without overflow."""
    return Softplus.apply(x)


def softsign(x):
    """x / (1 + |x|)."""
    return Softsign.apply(x)


def silu(x):
    """x · σ(x) (a.k.a. swish)."""
    return Silu.apply(x)


swish = silu

ACTIVATIONS = {
    "linear": linear, "relu": relu, "tanh": tanh, "sigmoid": sigmoid, "softmax": softmax,
    "gelu": gelu, "elu": elu, "selu": selu, "leaky_relu": leaky_relu, "softplus": softplus,
    "softsign": softsign, "silu": silu, "swish": silu,
}


def get_activation(name_or_callable):
    """The activation for a Keras name (``None`` / ``"linear"`` = identity) or a callable.

    Names: ``sorted(ACTIVATIONS)``.  A callable is returned unchanged.
    """
    if name_or_callable is None:
        return linear
    if callable(name_or_callable):
        return name_or_callable
    if isinstance(name_or_callable, str):
        key = name_or_callable.lower()
        if key in ACTIVATIONS:
            return ACTIVATIONS[key]
        raise ValueError(
            f"get_activation: unknown activation {name_or_callable!r}; "
            f"expected one of {sorted(ACTIVATIONS)} or a callable")
    raise TypeError(
        f"get_activation: expected a name, a callable or None, got {type(name_or_callable).__name__}")
