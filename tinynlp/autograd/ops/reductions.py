"""Reductions along axes: sum, mean, max, min, and softmax, log-softmax, logsumexp.

Each op is a :class:`Function` — forward and hand-written backward side by side —
followed by its public function.  :func:`normalize_axis` turns an ``axis``
argument into a sorted tuple of non-negative axes (the layers' normalization
uses it too).
"""

from __future__ import annotations

import builtins

import numpy as np

from ..tensor import Function


def normalize_axis(axis, ndim):
    """``axis`` (None = all, an int or a sequence) → a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if np.isscalar(axis) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(a % builtins.max(ndim, 1))
    return tuple(sorted(out))


def _expand_back(g, shape, axes, keepdims):
    """Re-insert the reduced axes so ``g`` broadcasts against the input."""
    if not keepdims:
        for a in axes:
            g = np.expand_dims(g, a)
    return g


class Sum(Function):
    """z = Σ x (over ``axis``);   dz/dx = 1 (the gradient is copied back)"""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        ctx.shape = x.shape
        ctx.axes = normalize_axis(axis, x.ndim)
        ctx.keepdims = keepdims
        return np.asarray(x.sum(axis=ctx.axes, keepdims=keepdims))

    @staticmethod
    def backward(ctx, g):
        g = _expand_back(g, ctx.shape, ctx.axes, ctx.keepdims)
        return np.broadcast_to(g, ctx.shape).copy()


def sum(x, axis=None, keepdims=False):  # noqa: A001
    return Sum.apply(x, axis=axis, keepdims=keepdims)


class Mean(Function):
    """z = (1/n) Σ x (over ``axis``);   dz/dx = 1/n"""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        ctx.shape = x.shape
        ctx.axes = normalize_axis(axis, x.ndim)
        ctx.keepdims = keepdims
        ctx.n = int(np.prod([x.shape[a] for a in ctx.axes])) if x.ndim else 1
        return np.asarray(x.mean(axis=ctx.axes, keepdims=keepdims))

    @staticmethod
    def backward(ctx, g):
        g = _expand_back(g, ctx.shape, ctx.axes, ctx.keepdims)
        return np.broadcast_to(g / ctx.n, ctx.shape).copy()


def mean(x, axis=None, keepdims=False):
    return Mean.apply(x, axis=axis, keepdims=keepdims)


def _extremum(ctx, x, axis, keepdims, reduce):
    """The forward of Max and Min: ``reduce`` (np.max / np.min) over ``axis``; saves x, z."""
    axes = normalize_axis(axis, x.ndim)
    z = np.asarray(reduce(x, axis=axes, keepdims=True))
    ctx.save_for_backward(x, z)
    ctx.axes, ctx.keepdims = axes, keepdims
    return z if keepdims else np.squeeze(z, axis=axes)


class Max(Function):
    """z = max x (over ``axis``);   dz/dx = [x = z] / (number of ties)

    Ties share the gradient equally (like ``torch.amax``).
    """

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        return _extremum(ctx, x, axis, keepdims, np.max)

    @staticmethod
    def backward(ctx, g):
        x, z = ctx.saved
        hit = x == z
        g = _expand_back(g, x.shape, ctx.axes, ctx.keepdims)
        return g * hit / hit.sum(axis=ctx.axes, keepdims=True)


def max(x, axis=None, keepdims=False):  # noqa: A001
    return Max.apply(x, axis=axis, keepdims=keepdims)


class Min(Function):
    """z = min x (over ``axis``);   dz/dx = [x = z] / (number of ties)"""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        return _extremum(ctx, x, axis, keepdims, np.min)

    backward = Max.backward


def min(x, axis=None, keepdims=False):  # noqa: A001
    return Min.apply(x, axis=axis, keepdims=keepdims)


class Softmax(Function):
    """s = eˣ / Σ eˣ (along ``axis``);   dL/dx = s ⊙ (g − Σ g ⊙ s)"""

    @staticmethod
    def forward(ctx, x, axis=-1):
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        s = e / e.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(s)
        ctx.axis = axis
        return s

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved
        return s * (g - (g * s).sum(axis=ctx.axis, keepdims=True))


def softmax(x, axis=-1):
    return Softmax.apply(x, axis=axis)


class LogSoftmax(Function):
    """y = x − logΣeˣ (along ``axis``);   dL/dx = g − softmax(x) · Σ g"""

    @staticmethod
    def forward(ctx, x, axis=-1):
        m = x.max(axis=axis, keepdims=True)
        shifted = x - m
        y = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return g - np.exp(y) * g.sum(axis=ctx.axis, keepdims=True)


def log_softmax(x, axis=-1):
    return LogSoftmax.apply(x, axis=axis)


class LogSumExp(Function):
    """z = log Σ eˣ (along ``axis``);   dz/dx = softmax(x)"""

    @staticmethod
    def forward(ctx, x, axis=-1, keepdims=False):
        m = x.max(axis=axis, keepdims=True)
        z = m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(x, z)
        ctx.axis, ctx.keepdims = axis, keepdims
        return z if keepdims else np.squeeze(z, axis=axis)

    @staticmethod
    def backward(ctx, g):
        x, z = ctx.saved
        if not ctx.keepdims:
            g = np.expand_dims(g, ctx.axis)
        return g * np.exp(x - z)


def logsumexp(x, axis=-1, keepdims=False):
    return LogSumExp.apply(x, axis=axis, keepdims=keepdims)
