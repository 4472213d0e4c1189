"""Dropout and layer normalization.

Dropout (inverted, as Keras and PyTorch): keep each element with probability
1 − r and scale the kept ones by 1/(1 − r), so the expected activation is
unchanged and inference is the identity::

    y = x ⊙ m / (1 − r),   m ~ Bernoulli(1 − r);     dL/dx = g ⊙ m / (1 − r)

Layer normalization over ``axis`` (the features of each position)::

    μ = mean(x),  σ² = mean((x − μ)²),  x̂ = (x − μ) / √(σ² + ε),  y = γ ⊙ x̂ + β

    dL/dβ = Σ g,   dL/dγ = Σ g ⊙ x̂          (summed over the other axes)
    dL/dx = (1/√(σ² + ε)) · (ĝ − mean(ĝ) − x̂ ⊙ mean(ĝ ⊙ x̂)),   ĝ = g ⊙ γ
"""

from __future__ import annotations

import numpy as np

from .. import random as tn_random
from ..autograd.ops import mean, sqrt
from ..autograd.ops.reductions import normalize_axis
from ..autograd.tensor import Function, Tensor

__all__ = ["dropout", "layer_norm", "layer_norm_reference"]


class Dropout(Function):
    """y = x ⊙ k  with k = m / (1 − r) (a constant);   dL/dx = g ⊙ k"""

    differentiable = (0,)

    @staticmethod
    def forward(ctx, x, keep_scaled):
        ctx.keep = keep_scaled
        return x * keep_scaled

    @staticmethod
    def backward(ctx, g):
        return g * ctx.keep, None


def dropout(x, rate, training=True, seed=None, noise_shape=None):
    """Inverted dropout: zero each element with probability ``rate``, scale the rest by 1/(1 − rate).

    Identity (the same tensor back) when ``training`` is False or ``rate == 0``.
    The keep-mask is drawn from ``tn.random.get_rng()`` — or from
    ``np.random.default_rng(seed)`` when ``seed`` is given.  ``noise_shape``
    (broadcastable to x's shape, e.g. ``(B, 1, C)`` to drop whole channels of a
    sequence) shares one mask value along its size-1 axes, as in Keras.
    """
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.floating, np.integer)) \
            or not 0.0 <= float(rate) < 1.0:
        raise ValueError(f"dropout: rate must be a number in [0, 1), got {rate!r}")
    rate = float(rate)
    if not training or rate == 0.0:
        return x
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    if data.dtype.kind != "f":
        raise TypeError(f"dropout: x must be floating point, got dtype {data.dtype}")
    shape = data.shape if noise_shape is None else tuple(
        data.shape[i] if n is None else n for i, n in enumerate(noise_shape))
    try:
        np.broadcast_shapes(shape, data.shape)
    except ValueError:
        raise ValueError(f"dropout: noise_shape {noise_shape} does not broadcast to x's "
                         f"shape {data.shape}") from None
    rng = tn_random.get_rng() if seed is None else np.random.default_rng(seed)
    keep = rng.random(shape, dtype=np.float32 if data.dtype == np.float32 else np.float64) >= rate
    keep_scaled = keep.astype(data.dtype) * data.dtype.type(1.0 / (1.0 - rate))
    return Dropout.apply(x, keep_scaled)


def _ln_param_shape(x_shape, axes):
    """Broadcast shape of γ, β: the normalized axes keep their size, others are 1."""
    return tuple(n if i in axes else 1 for i, n in enumerate(x_shape))


def _check_ln(x, gamma, beta, axis):
    xs = x.shape if isinstance(x, (Tensor, np.ndarray)) else np.shape(x)
    axes = normalize_axis(axis, len(xs))
    want = tuple(xs[a] for a in axes)
    for name, p in (("gamma", gamma), ("beta", beta)):
        if p is None:
            continue
        ps = tuple(p.shape if isinstance(p, (Tensor, np.ndarray)) else np.shape(p))
        if ps != want:
            raise ValueError(f"layer_norm: {name} must have shape {want} (x's axes {axes} "
                             f"of shape {xs}), got {ps}")
    return xs, axes


class LayerNorm(Function):
    """y = γ x̂ + β,  x̂ = (x − μ)/√(σ² + ε);   dx = (ĝ − mean ĝ − x̂ mean(ĝ x̂))/√(σ² + ε), ĝ = γ g"""

    @staticmethod
    def forward(ctx, x, gamma, beta, eps=1e-3, axes=(-1,)):
        mu = x.mean(axis=axes, keepdims=True)
        xc = x - mu
        var = (xc * xc).mean(axis=axes, keepdims=True)
        rstd = 1.0 / np.sqrt(var + x.dtype.type(eps))
        xhat = xc * rstd
        pshape = _ln_param_shape(x.shape, axes)
        g2 = None if gamma is None else gamma.reshape(pshape)
        y = xhat if g2 is None else xhat * g2
        if beta is not None:
            y = y + beta.reshape(pshape)
        ctx.save_for_backward(xhat, rstd, g2)
        ctx.axes = axes
        ctx.other = tuple(i for i in range(x.ndim) if i not in axes)
        ctx.pshapes = (None if gamma is None else gamma.shape,
                       None if beta is None else beta.shape)
        return y

    @staticmethod
    def backward(ctx, g):
        xhat, rstd, g2 = ctx.saved
        axes, other = ctx.axes, ctx.other
        gx = ggamma = gbeta = None
        if ctx.needs_input_grad[0]:
            gh = g if g2 is None else g * g2
            gx = rstd * (gh - gh.mean(axis=axes, keepdims=True)
                         - xhat * (gh * xhat).mean(axis=axes, keepdims=True))
        if ctx.needs_input_grad[1]:
            ggamma = (g * xhat).sum(axis=other).reshape(ctx.pshapes[0])
        if ctx.needs_input_grad[2]:
            gbeta = g.sum(axis=other).reshape(ctx.pshapes[1])
        return gx, ggamma, gbeta


def layer_norm(x, gamma, beta, eps=1e-3, axis=-1):
    """Normalize each position over ``axis`` (int or tuple), then scale by γ and shift by β.

    γ and β have the shape of the normalized axes (either may be None: no
    scale / no shift).  ``eps`` defaults to Keras' 1e-3 (PyTorch uses 1e-5).
    """
    _, axes = _check_ln(x, gamma, beta, axis)
    return LayerNorm.apply(x, gamma, beta, eps=float(eps), axes=axes)


def layer_norm_reference(x, gamma, beta, eps=1e-3, axis=-1):
    """The same from primitive ops (mean, sub, mul, sqrt, div, add)."""
    xs, axes = _check_ln(x, gamma, beta, axis)
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x), _copy=False)
    mu = mean(x, axis=axes, keepdims=True)
    xc = x - mu
    var = mean(xc * xc, axis=axes, keepdims=True)
    y = xc / sqrt(var + eps)
    pshape = _ln_param_shape(xs, axes)
    if gamma is not None:
        y = y * (gamma.reshape(pshape))
    if beta is not None:
        y = y + beta.reshape(pshape)
    return y
