"""im2col / col2im for 1-D convolution (channels-last), Numba kernels + NumPy twins.

A 1-D convolution with kernel size K, stride s, dilation d and ``pad_left``
zeros in front of the input reads, for output step i and kernel tap k, the
input step

    t = i·s + k·d − pad_left          (a zero when t < 0 or t ≥ L)

``im2col_1d`` gathers those rows into ``cols[b, i, k, :] = x[b, t, :]`` so that
the whole convolution is one matrix product ``cols.reshape(B·L_out, K·C) @
w.reshape(K·C, F)``.  ``col2im_1d`` is its adjoint (the backward for x): every
``dcols[b, i, k, :]`` is *added* back into ``dx[b, t, :]`` — windows overlap
whenever s < K·d, so one input step receives several contributions.

Both kernels are serial on purpose: they are memory-bound copies, and a
``parallel=True`` kernel's OpenMP threads keep spinning after they finish,
fighting the BLAS threads of the GEMM that follows (measured: a 3x slowdown of
im2col + GEMM on two cores).
"""

from __future__ import annotations

import numpy as np
from numba import njit


def _padded_windows(xp, kernel_size, stride, dilation, out_len):
    """A read-only strided view (B, L_out, K, C) of the padded input ``xp``."""
    sb, sl, sc = xp.strides
    return np.lib.stride_tricks.as_strided(
        xp, shape=(xp.shape[0], out_len, kernel_size, xp.shape[2]),
        strides=(sb, stride * sl, dilation * sl, sc), writeable=False)


def im2col_1d_reference(x, kernel_size, stride, dilation, pad_left, out_len):
    """NumPy twin: zero-pad, take a strided view of the windows, copy it."""
    b, length, c = x.shape
    need = (out_len - 1) * stride + (kernel_size - 1) * dilation + 1
    pad_right = max(need - pad_left - length, 0)
    xp = np.pad(x, ((0, 0), (pad_left, pad_right), (0, 0)))
    return np.ascontiguousarray(_padded_windows(xp, kernel_size, stride, dilation, out_len))


@njit(cache=True, nogil=True)
def im2col_1d(x, kernel_size, stride, dilation, pad_left, out_len):
    """Fast path: ``cols`` (B, L_out, K, C) with the zero padding implicit."""
    nb, length, nc = x.shape
    cols = np.empty((nb, out_len, kernel_size, nc), dtype=x.dtype)
    for b in range(nb):
        for i in range(out_len):
            for k in range(kernel_size):
                t = i * stride + k * dilation - pad_left
                if 0 <= t < length:
                    for c in range(nc):
                        cols[b, i, k, c] = x[b, t, c]
                else:
                    for c in range(nc):
                        cols[b, i, k, c] = 0
    return cols


def col2im_1d_reference(dcols, length, stride, dilation, pad_left):
    """NumPy twin of :func:`col2im_1d`: ``np.add.at`` into the padded input, unpad."""
    nb, out_len, kernel_size, nc = dcols.shape
    need = (out_len - 1) * stride + (kernel_size - 1) * dilation + 1
    padded = max(need, pad_left + length)
    dxp = np.zeros((nb, padded, nc), dtype=dcols.dtype)
    t = (np.arange(out_len)[:, None] * stride + np.arange(kernel_size)[None, :] * dilation)
    for b in range(nb):
        np.add.at(dxp[b], t.reshape(-1), dcols[b].reshape(-1, nc))
    return dxp[:, pad_left:pad_left + length]


@njit(cache=True, nogil=True)
def col2im_1d(dcols, length, stride, dilation, pad_left):
    """Fast path: ``dx`` (B, L, C); ``dx[b, t] += dcols[b, i, k]`` for t = i·s + k·d − pad_left.

    Contributions that land in the padding are dropped.
    """
    nb, out_len, kernel_size, nc = dcols.shape
    dx = np.zeros((nb, length, nc), dtype=dcols.dtype)
    for b in range(nb):
        for i in range(out_len):
            for k in range(kernel_size):
                t = i * stride + k * dilation - pad_left
                if 0 <= t < length:
                    for c in range(nc):
                        dx[b, t, c] += dcols[b, i, k, c]
    return dx


# --------------------------------------------------------------------------
# a convolution over an embedding's rows (F.conv1d_lookup)
# --------------------------------------------------------------------------
#
# When x[b, t] = table[ids[b, t]], tap k of the convolution only ever multiplies
# rows of the table: x[b, t] · w[k] = (table w[k])[ids[b, t]].  With
# P[j, k] = table[u_j] · w[k] made once for the batch's distinct ids u, output
# step i is a sum of K rows of P instead of K·C·F multiply-adds.

def conv1d_rows_reference(P, idx, stride, dilation, pad_left, out_len, bias, relu, out):
    """NumPy twin of :func:`conv1d_rows`."""
    B, L = idx.shape
    K = P.shape[1]
    out[:] = bias
    for k in range(K):
        t = np.arange(out_len) * stride + k * dilation - pad_left
        inside = (t >= 0) & (t < L)
        out[:, inside] += P[idx[:, t[inside]], k]
    if relu:
        np.maximum(out, 0, out=out)
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def conv1d_rows(P, idx, stride, dilation, pad_left, out_len, bias, relu, out):
    """``out[b, i] = bias + Σ_k P[idx[b, t], k]`` over the taps k whose input step
    t = i·s + k·d − pad_left lies inside [0, L) (the padding adds nothing), then
    ``max(·, 0)`` if ``relu``.

    ``P`` (U, K, F): row j, tap k = table[u_j] · w[k]; ``idx`` (B, L): each input
    step's row of P; ``out`` (B, out_len, F).
    """
    B, L = idx.shape
    K, nf = P.shape[1], P.shape[2]
    zero = np.zeros(1, dtype=out.dtype)[0]
    for b in range(B):
        for i in range(out_len):
            o = out[b, i]
            for f in range(nf):
                o[f] = bias[f]
            for k in range(K):
                t = i * stride + k * dilation - pad_left
                if t < 0 or t >= L:
                    continue
                pk = P[idx[b, t], k]
                for f in range(nf):
                    o[f] += pk[f]
            if relu:
                for f in range(nf):
                    if o[f] < zero:
                        o[f] = zero
    return out
