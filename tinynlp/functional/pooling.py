"""Pooling over the time axis of (B, L, C) sequences.

Windowed pooling (``max_pool1d``, ``avg_pool1d``) uses Keras' window rules
(:func:`~tinynlp.functional.conv.conv1d_padding` with dilation 1): ``strides``
defaults to ``pool_size``; ``"valid"`` drops the incomplete tail window;
``"same"`` pads so that ``L_out = ⌈L / s⌉`` — padded steps never win a max and
are not counted in an average (as TensorFlow does).

For window W_i = {i·s + p : 0 ≤ p < P, inside the input}::

    max:  y_i = max_{t ∈ W_i} x_t        dL/dx_t += g_i  for t = the first argmax
    avg:  y_i = (1/|W_i|) Σ_{t ∈ W_i} x_t   dL/dx_t += g_i / |W_i|  for every t ∈ W_i

Ties in a max send the whole gradient to the first maximal element (the
earliest time step), as PyTorch's max pooling does.

Global pooling reduces the whole time axis to (B, C) and understands masks:
with ``mask`` (B, L) bool, padded steps (False) are ignored — the max is over
valid steps only, the mean divides by the number of valid steps.  A row with
no valid step pools to 0 (and passes no gradient).
"""

from __future__ import annotations

import numpy as np

from ..autograd.tensor import Function, shape_of
from ..kernels.pooling import max_pool1d_backward, max_pool1d_forward
from ._checks import KERNEL_DTYPES, as_int, check_mask
from .conv import conv1d_padding

__all__ = ["max_pool1d", "avg_pool1d", "global_max_pool1d", "global_avg_pool1d"]


def _fast(x):
    """float32 / float64 (B, L, C) inputs take the Numba kernels (same first-argmax and NaN
    rules); other dtypes (float16, integers) the NumPy path."""
    return x.dtype in KERNEL_DTYPES and x.ndim == 3 and x.shape[1] > 0


def _check_x(x, op):
    xs = shape_of(x)
    if len(xs) != 3:
        raise ValueError(f"{op}: x must be 3-D (batch, steps, channels), got shape {xs}")
    return xs


def _windows(xp, pool, stride, out_len):
    sb, sl, sc = xp.strides
    return np.lib.stride_tricks.as_strided(
        xp, shape=(xp.shape[0], out_len, pool, xp.shape[2]),
        strides=(sb, stride * sl, sl, sc), writeable=False)


def _geometry(x_shape, pool_size, strides, padding, op):
    pool = as_int(pool_size, "pool_size", op, minimum=1)
    stride = pool if strides is None else as_int(strides, "strides", op)
    if isinstance(padding, str) and padding.lower() == "causal":
        raise ValueError(f"{op}: padding must be 'valid' or 'same', got 'causal'")
    try:
        pad_left, pad_right, out_len = conv1d_padding(x_shape[1], pool, stride, padding)
    except ValueError as e:
        raise ValueError(str(e).replace("conv1d", op).replace("kernel", "pool window")
                         .replace("K=", "pool_size=")) from None
    return pool, stride, pad_left, pad_right, out_len


def _scatter_windows(g_windows, length, pad_left, pad_right, stride):
    """dx from per-window-position gradients (B, L_out, P, C): adds each tap's
    slice (for one tap p the positions i·s + p are distinct, so += is exact)."""
    nb, out_len, pool, nc = g_windows.shape
    dxp = np.zeros((nb, pad_left + length + pad_right, nc), dtype=g_windows.dtype)
    span = (out_len - 1) * stride + 1
    for p in range(pool):
        dxp[:, p:p + span:stride] += g_windows[:, :, p]
    return dxp[:, pad_left:pad_left + length]


class MaxPool1D(Function):
    """y_i = max over window i;   dL/dx = g_i at each window's first argmax (summed over windows)"""

    @staticmethod
    def forward(ctx, x, pool=2, stride=2, pad_left=0, pad_right=0, out_len=1):
        ctx.geom = (x.shape[1], pool, stride, pad_left, pad_right)
        if _fast(x):
            # fast path: value and first argmax in one pass (tinynlp.kernels.pooling);
            # the NumPy code below is the same computation on a strided window view
            y, ctx.abs_arg = max_pool1d_forward(np.ascontiguousarray(x), pool, stride,
                                                pad_left, out_len)
            return y
        ctx.abs_arg = None
        fill = -np.inf
        xp = np.pad(x, ((0, 0), (pad_left, pad_right), (0, 0)), constant_values=fill) \
            if pad_left or pad_right else x
        win = _windows(xp, pool, stride, out_len)
        arg = win.argmax(axis=2)                      # first maximum on ties
        ctx.arg = arg
        return np.take_along_axis(win, arg[:, :, None, :], axis=2)[:, :, 0, :]

    @staticmethod
    def backward(ctx, g):
        length, pool, stride, pad_left, pad_right = ctx.geom
        if ctx.abs_arg is not None:
            return max_pool1d_backward(np.ascontiguousarray(g), ctx.abs_arg, length)
        onehot = ctx.arg[:, :, None, :] == np.arange(pool)[None, None, :, None]
        return _scatter_windows(g[:, :, None, :] * onehot, length, pad_left, pad_right, stride)


class AvgPool1D(Function):
    """y_i = (1/|W_i|) Σ_{t∈W_i} x_t  (padding not counted);   dL/dx_t = Σ_{i: t∈W_i} g_i / |W_i|"""

    @staticmethod
    def forward(ctx, x, pool=2, stride=2, pad_left=0, pad_right=0, out_len=1):
        xp = np.pad(x, ((0, 0), (pad_left, pad_right), (0, 0))) if pad_left or pad_right else x
        total = _windows(xp, pool, stride, out_len).sum(axis=2)
        # |W_i|: window positions that fall inside the unpadded input
        starts = np.arange(out_len) * stride - pad_left
        count = (np.minimum(starts + pool, x.shape[1]) - np.maximum(starts, 0)).astype(x.dtype)
        ctx.count = count
        ctx.geom = (x.shape[1], pool, stride, pad_left, pad_right)
        return total / count[None, :, None]

    @staticmethod
    def backward(ctx, g):
        length, pool, stride, pad_left, pad_right = ctx.geom
        share = g / ctx.count[None, :, None]
        nb, out_len, nc = g.shape
        gw = np.broadcast_to(share[:, :, None, :], (nb, out_len, pool, nc))
        # padded taps receive gradient too, but it lands in the padding and is cut off
        return _scatter_windows(gw, length, pad_left, pad_right, stride)


def max_pool1d(x, pool_size=2, strides=None, padding="valid"):
    """Max over windows of ``pool_size`` steps: (B, L, C) → (B, L_out, C).

    ``strides`` defaults to ``pool_size`` (Keras).  Ties: gradient to the first maximum.
    """
    xs = _check_x(x, "max_pool1d")
    pool, stride, pl, pr, out_len = _geometry(xs, pool_size, strides, padding, "max_pool1d")
    return MaxPool1D.apply(x, pool=pool, stride=stride, pad_left=pl, pad_right=pr,
                           out_len=out_len)


def avg_pool1d(x, pool_size=2, strides=None, padding="valid"):
    """Mean over windows of ``pool_size`` steps (padding excluded from the count)."""
    xs = _check_x(x, "avg_pool1d")
    pool, stride, pl, pr, out_len = _geometry(xs, pool_size, strides, padding, "avg_pool1d")
    return AvgPool1D.apply(x, pool=pool, stride=stride, pad_left=pl, pad_right=pr,
                           out_len=out_len)


def _steps_mask(mask, xs, op):
    return check_mask(mask, xs[:2], op, layout="shape (batch, steps) =")


class GlobalMaxPool1D(Function):
    """y[b, c] = max_{t valid} x[b, t, c];   dL/dx[b, t*, c] = g[b, c] at the first argmax t*"""

    differentiable = (0,)

    @staticmethod
    def forward(ctx, x, mask=None):
        if mask is None and _fast(x):
            # fast path: one window spanning the sequence (tinynlp.kernels.pooling)
            y, arg = max_pool1d_forward(np.ascontiguousarray(x), x.shape[1], 1, 0, 1)
            ctx.arg, ctx.empty, ctx.shape = arg, None, x.shape
            return y[:, 0, :]
        if mask is not None:
            x = np.where(mask[:, :, None], x, -np.inf)
        arg = x.argmax(axis=1)                         # (B, C), first maximum on ties
        y = np.take_along_axis(x, arg[:, None, :], axis=1)[:, 0, :]
        empty = None
        if mask is not None:
            empty = ~mask.any(axis=1)                  # rows with no valid step
            if empty.any():
                y = np.where(empty[:, None], 0, y).astype(x.dtype, copy=False)
        ctx.arg, ctx.empty, ctx.shape = arg, empty, x.shape
        return y

    @staticmethod
    def backward(ctx, g):
        if ctx.arg.ndim == 3:        # from the fast path: (B, 1, C) absolute steps
            return max_pool1d_backward(np.ascontiguousarray(g)[:, None, :], ctx.arg,
                                       ctx.shape[1]), None
        if ctx.empty is not None and ctx.empty.any():
            g = np.where(ctx.empty[:, None], 0, g).astype(g.dtype, copy=False)
        gx = np.zeros(ctx.shape, dtype=g.dtype)
        np.put_along_axis(gx, ctx.arg[:, None, :], g[:, None, :], axis=1)
        return gx, None


class GlobalAvgPool1D(Function):
    """y[b, c] = Σ_t m[b,t] x[b,t,c] / Σ_t m[b,t];   dL/dx[b,t,c] = m[b,t] g[b,c] / Σ_t m[b,t]"""

    differentiable = (0,)

    @staticmethod
    def forward(ctx, x, mask=None):
        ctx.shape = x.shape
        if mask is None:
            ctx.weights = None
            return x.mean(axis=1)
        count = np.maximum(mask.sum(axis=1), 1).astype(x.dtype)       # (B,)
        w = mask.astype(x.dtype) / count[:, None]                      # (B, L)
        ctx.weights = w
        return np.einsum("btc,bt->bc", x, w)

    @staticmethod
    def backward(ctx, g):
        nb, length, nc = ctx.shape
        if ctx.weights is None:
            return np.broadcast_to((g / length)[:, None, :], ctx.shape).copy(), None
        return g[:, None, :] * ctx.weights[:, :, None], None


def global_max_pool1d(x, mask=None):
    """Max over all (valid) steps: (B, L, C) → (B, C).  Rows with no valid step give 0."""
    xs = _check_x(x, "global_max_pool1d")
    return GlobalMaxPool1D.apply(x, _steps_mask(mask, xs, "global_max_pool1d"))


def global_avg_pool1d(x, mask=None):
    """Mean over all (valid) steps: (B, L, C) → (B, C).  Rows with no valid step give 0."""
    xs = _check_x(x, "global_avg_pool1d")
    return GlobalAvgPool1D.apply(x, _steps_mask(mask, xs, "global_avg_pool1d"))
