"""Max pooling over time (B, L, C): the value and its argmax in one pass, and the
scatter of the gradient back to the argmax.

For window i of a windowed max pool, ``t = i·s + p − pad_left`` (p < P) runs
over the window's steps inside the input; the output is the maximum and
``arg[b, i, c]`` the *first* step that attains it (as PyTorch).  The global
max pool is the special case of one window spanning the whole sequence.
Backward: ``dx[b, arg[b, i, c], c] += g[b, i, c]`` (windows may overlap, so
contributions add).

NumPy needs a strided window view, ``argmax`` over a non-contiguous axis and
``take_along_axis`` for the forward, and a one-hot product for the backward;
these kernels walk the input once, channel-innermost (contiguous).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["max_pool1d_forward", "max_pool1d_forward_reference",
           "max_pool1d_backward", "max_pool1d_backward_reference"]


def max_pool1d_forward_reference(x, pool, stride, pad_left, out_len):
    """NumPy twin: ``(y (B, out_len, C), arg (B, out_len, C) int64 absolute steps)``."""
    nb, length, nc = x.shape
    y = np.empty((nb, out_len, nc), dtype=x.dtype)
    arg = np.empty((nb, out_len, nc), dtype=np.int64)
    for i in range(out_len):
        lo = max(i * stride - pad_left, 0)
        hi = min(i * stride - pad_left + pool, length)
        window = x[:, lo:hi, :]
        a = window.argmax(axis=1)                       # first maximum
        arg[:, i, :] = lo + a
        y[:, i, :] = np.take_along_axis(window, a[:, None, :], axis=1)[:, 0, :]
    return y, arg


@njit(cache=True, nogil=True)
def max_pool1d_forward(x, pool, stride, pad_left, out_len):
    """Fast path of :func:`max_pool1d_forward_reference` (x C-contiguous)."""
    nb, length, nc = x.shape
    y = np.empty((nb, out_len, nc), dtype=x.dtype)
    arg = np.empty((nb, out_len, nc), dtype=np.int64)
    for b in range(nb):
        for i in range(out_len):
            lo = max(i * stride - pad_left, 0)
            hi = min(i * stride - pad_left + pool, length)
            for c in range(nc):
                y[b, i, c] = x[b, lo, c]
                arg[b, i, c] = lo
            for t in range(lo + 1, hi):
                for c in range(nc):
                    v = x[b, t, c]
                    cur = y[b, i, c]
                    # strict: the first maximum wins; a NaN wins (as NumPy's argmax)
                    if v > cur or (v != v and cur == cur):
                        y[b, i, c] = v
                        arg[b, i, c] = t
    return y, arg


def max_pool1d_backward_reference(g, arg, length):
    """NumPy twin: ``dx`` (B, length, C) with ``dx[b, arg, c] += g`` (``np.add.at``)."""
    nb, out_len, nc = g.shape
    dx = np.zeros((nb, length, nc), dtype=g.dtype)
    bi = np.arange(nb)[:, None, None]
    ci = np.arange(nc)[None, None, :]
    np.add.at(dx, (np.broadcast_to(bi, g.shape), arg, np.broadcast_to(ci, g.shape)), g)
    return dx


@njit(cache=True, nogil=True)
def max_pool1d_backward(g, arg, length):
    """Fast path of :func:`max_pool1d_backward_reference`."""
    nb, out_len, nc = g.shape
    dx = np.zeros((nb, length, nc), dtype=g.dtype)
    for b in range(nb):
        for i in range(out_len):
            for c in range(nc):
                dx[b, arg[b, i, c], c] += g[b, i, c]
    return dx
