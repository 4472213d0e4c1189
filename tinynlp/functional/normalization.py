"""Dropout, layer normalization and batch normalization.

Dropout (inverted, as Keras and PyTorch): keep each element with probability
1 − r and scale the kept ones by 1/(1 − r), so the expected activation is
unchanged and inference is the identity::

    y = x ⊙ m / (1 − r),   m ~ Bernoulli(1 − r);     dL/dx = g ⊙ m / (1 − r)

Layer normalization over ``axis`` (the features of each position)::

    μ = mean(x),  σ² = mean((x − μ)²),  x̂ = (x − μ) / √(σ² + ε),  y = γ ⊙ x̂ + β

    dL/dβ = Σ g,   dL/dγ = Σ g ⊙ x̂          (summed over the other axes)
    dL/dx = (1/√(σ² + ε)) · (ĝ − mean(ĝ) − x̂ ⊙ mean(ĝ ⊙ x̂)),   ĝ = g ⊙ γ

Batch normalization over every axis but the last (each feature's statistics over
the batch and the time steps), with an optional mask w ∈ {0, 1} per position
(padding does not count; every position is still normalized, as in Keras)::

    W = Σ w,  μ = Σ w x / W,  σ² = Σ w (x − μ)² / W,  x̂ = (x − μ) / √(σ² + ε),
    y = γ x̂ + β

    dL/dβ = Σ g,   dL/dγ = Σ g x̂          (sums over all positions)
    dL/dx = (γ / √(σ² + ε)) · (g − (w/W) Σ g − (w x̂ / W) Σ g x̂)
"""

from __future__ import annotations

import numpy as np

from .. import random as tn_random
from ..autograd.ops import mean, sqrt
from ..autograd.ops import sum as tsum
from ..autograd.ops.reductions import normalize_axis
from ..autograd import is_grad_enabled
from ..autograd.tensor import Function, Tensor
from ..kernels.layernorm import layer_norm_backward_rows, layer_norm_rows

__all__ = ["dropout", "layer_norm", "layer_norm_inference", "layer_norm_reference", "batch_norm",
           "batch_norm_reference", "batch_moments"]


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
    """y = γ x̂ + β,  x̂ = (x − μ)/√(σ² + ε);   dx = (ĝ − mean ĝ − x̂ mean(ĝ x̂))/√(σ² + ε), ĝ = γ g

    Over the last axis of a float32 / float64 array (every Transformer's case)
    both directions run the row kernels of :mod:`tinynlp.kernels.layernorm`;
    the NumPy code below is the general case and the kernels' reference.
    """

    @staticmethod
    def forward(ctx, x, gamma, beta, eps=1e-3, axes=(-1,)):
        ctx.pshapes = (None if gamma is None else gamma.shape,
                       None if beta is None else beta.shape)
        if axes == (x.ndim - 1,) and x.size and x.dtype in (np.float32, np.float64) \
                and all(p is None or p.dtype == x.dtype for p in (gamma, beta)):
            return _layer_norm_last_axis(ctx, x, gamma, beta, eps)
        ctx.rows = False
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
        return y

    @staticmethod
    def backward(ctx, g):
        if ctx.rows:
            return _layer_norm_last_axis_backward(ctx, g)
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


def _layer_norm_last_axis(ctx, x, gamma, beta, eps):
    """The forward over the last axis by the row kernel (:mod:`tinynlp.kernels.layernorm`);
    x̂ is kept only when a gradient will be asked for."""
    D = x.shape[-1]
    rows = np.ascontiguousarray(x).reshape(-1, D)
    train = is_grad_enabled() and any(ctx.needs_input_grad)
    y, xhat, rstd = layer_norm_rows(rows, gamma, beta, eps, want_xhat=train)
    ctx.rows = True
    if train:
        ctx.save_for_backward(xhat, rstd, gamma)
    return y.reshape(x.shape)


def _layer_norm_last_axis_backward(ctx, g):
    xhat, rstd, gamma = ctx.saved
    g2 = np.ascontiguousarray(g, dtype=xhat.dtype).reshape(xhat.shape)
    gx, ggamma, gbeta = layer_norm_backward_rows(g2, xhat, rstd, gamma)
    need = ctx.needs_input_grad
    return (gx.reshape(g.shape) if need[0] else None,
            ggamma.reshape(ctx.pshapes[0]) if need[1] else None,
            gbeta.reshape(ctx.pshapes[1]) if need[2] else None)


def layer_norm(x, gamma, beta, eps=1e-3, axis=-1):
    """Normalize each position over ``axis`` (int or tuple), then scale by γ and shift by β.

    γ and β have the shape of the normalized axes (either may be None: no
    scale / no shift).  ``eps`` defaults to Keras' 1e-3 (PyTorch uses 1e-5).
    """
    _, axes = _check_ln(x, gamma, beta, axis)
    return LayerNorm.apply(x, gamma, beta, eps=float(eps), axes=axes)


def layer_norm_inference(x, gamma, beta, eps=1e-3, axis=-1):
    """:func:`layer_norm` on plain arrays with nothing to differentiate (a layer's
    inference path): the same numbers, no Tensors."""
    _, axes = _check_ln(x, gamma, beta, axis)
    return LayerNorm.run(x, gamma, beta, eps=float(eps), axes=axes)


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


# ---- batch normalization ---------------------------------------------------------------

def _bn_weights(x_shape, mask, dtype):
    """The mask as weights of shape (..., 1) broadcasting over the features, or None."""
    if mask is None:
        return None
    m = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if m.shape != tuple(x_shape[:-1]):
        raise ValueError(f"batch_norm: mask must have the shape of x without its feature axis, "
                         f"{tuple(x_shape[:-1])}, got {m.shape}")
    if m.dtype != bool and not np.isin(m, (0, 1)).all():
        raise ValueError("batch_norm: mask must be boolean (or 0/1)")
    return m.astype(dtype)[..., None]


def batch_moments(x, mask=None):
    """Per-feature ``(mean, variance)`` of the array ``x`` over every axis but the last
    (biased variance; masked positions left out).  Plain arrays, no gradient."""
    x = np.asarray(x)
    axes = tuple(range(x.ndim - 1))
    w = _bn_weights(x.shape, mask, x.dtype)
    if w is None:
        mu = x.mean(axis=axes)
        return mu, ((x - mu) ** 2).mean(axis=axes)
    total = np.maximum(w.sum(axis=axes), 1.0)
    mu = (w * x).sum(axis=axes) / total
    return mu, (w * (x - mu) ** 2).sum(axis=axes) / total


class BatchNorm(Function):
    """y = γ x̂ + β with the batch's (masked) statistics;
    dx = (γ/√(σ²+ε)) (g − (w/W) Σg − (w x̂/W) Σ g x̂)   (see the module docstring)"""

    @staticmethod
    def forward(ctx, x, gamma, beta, w, eps=1e-3):
        axes = tuple(range(x.ndim - 1))
        if w is None:
            total = x.dtype.type(np.prod([x.shape[a] for a in axes]))
            mu = x.mean(axis=axes)
            xc = x - mu
            var = (xc * xc).mean(axis=axes)
        else:
            total = np.maximum(w.sum(axis=axes), 1.0)
            mu = (w * x).sum(axis=axes) / total
            xc = x - mu
            var = (w * xc * xc).sum(axis=axes) / total
        rstd = 1.0 / np.sqrt(var + x.dtype.type(eps))
        xhat = xc * rstd
        y = xhat if gamma is None else xhat * gamma
        if beta is not None:
            y = y + beta
        ctx.save_for_backward(xhat, rstd, gamma, w, total)
        return y

    @staticmethod
    def backward(ctx, g):
        xhat, rstd, gamma, w, total = ctx.saved
        axes = tuple(range(g.ndim - 1))
        gx = ggamma = gbeta = None
        sum_g = g.sum(axis=axes)
        sum_gx = (g * xhat).sum(axis=axes)
        if ctx.needs_input_grad[0]:
            scale = rstd if gamma is None else gamma * rstd
            ww = 1.0 if w is None else w
            gx = scale * (g - ww * (sum_g / total) - ww * xhat * (sum_gx / total))
        if ctx.needs_input_grad[1]:
            ggamma = sum_gx
        if ctx.needs_input_grad[2]:
            gbeta = sum_g
        return gx, ggamma, gbeta, None


def _check_bn(x, gamma, beta, mean, variance):
    xs = x.shape if isinstance(x, (Tensor, np.ndarray)) else np.shape(x)
    if len(xs) < 2:
        raise ValueError(f"batch_norm: x must be (batch, ..., features), got shape {xs}")
    for name, p in (("gamma", gamma), ("beta", beta), ("mean", mean), ("variance", variance)):
        if p is not None and tuple(np.shape(p.data if isinstance(p, Tensor) else p)) != xs[-1:]:
            raise ValueError(f"batch_norm: {name} must have shape ({xs[-1]},) (x's features), "
                             f"got {tuple(np.shape(p.data if isinstance(p, Tensor) else p))}")
    if (mean is None) != (variance is None):
        raise ValueError("batch_norm: give both mean and variance (inference), or neither")
    return xs


def batch_norm(x, gamma, beta, eps=1e-3, mask=None, mean=None, variance=None):
    """Batch normalization of x (batch, ..., features) over every axis but the last.

    With ``mean`` / ``variance`` (the moving statistics, inference) it is the affine
    map ``γ (x − mean)/√(variance + ε) + β``; without, the batch's own statistics are
    used (training; positions where ``mask`` is False do not count), and the
    gradient flows through them (:class:`BatchNorm`).  γ or β may be None.
    ``eps`` defaults to Keras' 1e-3.
    """
    xs = _check_bn(x, gamma, beta, mean, variance)
    if mean is not None:
        x = x if isinstance(x, Tensor) else Tensor(np.asarray(x), _copy=False)
        dt = x.data.dtype
        scale = 1.0 / np.sqrt(np.asarray(variance, dtype=dt) + dt.type(eps))
        y = (x - Tensor(np.asarray(mean, dtype=dt), _copy=False)) * Tensor(scale, _copy=False)
        if gamma is not None:
            y = y * gamma
        return y if beta is None else y + beta
    dt = (x.data if isinstance(x, Tensor) else np.asarray(x)).dtype
    return BatchNorm.apply(x, gamma, beta, _bn_weights(xs, mask, dt), eps=float(eps))


def batch_norm_reference(x, gamma, beta, eps=1e-3, mask=None):
    """:func:`batch_norm` with the batch's statistics, from primitive ops."""
    xs = _check_bn(x, gamma, beta, None, None)
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x), _copy=False)
    axes = tuple(range(len(xs) - 1))
    w = _bn_weights(xs, mask, x.data.dtype)
    if w is None:
        w = np.ones(xs[:-1] + (1,), dtype=x.data.dtype)
    total = float(max(w.sum(), 1.0))
    wt = Tensor(w, _copy=False)
    mu = tsum(wt * x, axis=axes) / total
    xc = x - mu
    var = tsum(wt * xc * xc, axis=axes) / total
    y = xc / sqrt(var + eps)
    if gamma is not None:
        y = y * gamma
    return y if beta is None else y + beta
