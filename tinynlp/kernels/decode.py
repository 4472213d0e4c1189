"""One decoding step of a pre-LN Transformer decoder block in one pass (the KV cache's
fast path).

Generating with a KV cache runs each block on one new token per row.  The readable
path (:meth:`tinynlp.layers.TransformerDecoder.call_arrays`) makes about a dozen
NumPy calls and a few dozen Python calls per block for products of a single row —
microseconds of arithmetic each, so at batch 1 the calls are most of the time.
:func:`decoder_step` does the same arithmetic in one compiled function per block::

    h  = LN₁(x)                                   (γ₁, β₁, ε₁)
    q  = h W_q + b_q,  k = h W_k + b_k,  v = h W_v + b_v      (heads: H × d_k)
    K[t] = k,  V[t] = v                           (the cache's slot t; its mask is set)
    a_h = Σ_j softmax_j(q_h · K_j / √d_k) V_j     over the cached j ≤ t it may attend to
    x₁ = x + a W_o + b_o
   (x₁ += cross-attention of LN(x₁) over the encoder's cached keys and values, the
         same way, when the block has it)
    y  = x₁ + σ(LN₂(x₁) W₁ + c₁) W₂ + c₂          (σ: exact gelu or relu)

A row whose keys are all masked gets a = 0 (as the attention op gives).  Layer norm
takes float64 row sums, as :mod:`tinynlp.kernels.layernorm` does; the products
accumulate in the arrays' dtype, as the BLAS does, so float32 results agree with the
readable path to float32 rounding (float64: to ~1e-15), which the tests check.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .activations import fast_erf, fast_exp_neg, gelu_reference
from .layernorm import row_mean_rstd

__all__ = ["decoder_step", "decoder_step_reference", "GELU", "RELU", "MAX_ROWS"]

GELU = 1      # exact: x·Φ(x)
RELU = 2

#: the most rows a step takes through :func:`decoder_step`.  Each row reads every weight
#: once (row products, no GEMM), so past a few rows the BLAS's GEMMs on the layer path
#: win: the baby GPT's greedy decoding, 1 thread, tokens/s kernel vs layers, was 3,164 vs
#: 1,176 at 1 row, 9,572 vs 7,913 at 8 and 10,878 vs 11,415 at 16.
MAX_ROWS = 8

_INV_SQRT_2 = 1.0 / math.sqrt(2.0)


def decoder_step_reference(x, ln1, attn, cache, t, cross, ln2, ffn, act):
    """NumPy twin of :func:`decoder_step`: the same arguments, output and cache writes, the
    module docstring's lines as array expressions."""
    def norm(z, gamma, beta, eps):
        z64 = z.astype(np.float64)
        mu = z64.mean(-1, keepdims=True)
        var = ((z64 - mu) ** 2).mean(-1, keepdims=True)
        return ((z64 - mu) / np.sqrt(var + eps) * gamma + beta).astype(z.dtype)

    def attend(q, keys, values, mask, n):             # q (B, H·d_k) → (B, H·d_v)
        B, H, _, dk = keys.shape
        s = np.einsum("bhd,bhjd->bhj", q.reshape(B, H, dk), keys[:, :, :n]) / math.sqrt(dk)
        allowed = np.broadcast_to(mask[:, None, :n], s.shape)
        top = np.where(allowed, s, -np.inf).max(-1, keepdims=True)
        e = np.where(allowed, np.exp(s - np.where(np.isfinite(top), top, 0)), 0)
        total = e.sum(-1, keepdims=True)
        w = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
        return np.einsum("bhj,bhjd->bhd", w, values[:, :, :n]).reshape(B, -1)

    (g1, be1, eps1), (g2, be2, eps2) = ln1, ln2
    Wq, bq, Wk, bk, Wv, bv, Wo, bo = attn
    keys, values, mask = cache
    B, H = keys.shape[:2]
    h = norm(x, g1, be1, eps1)
    keys[:, :, t] = (h @ Wk + bk).reshape(B, H, -1)
    values[:, :, t] = (h @ Wv + bv).reshape(B, H, -1)
    x1 = x + attend(h @ Wq + bq, keys, values, mask, t + 1) @ Wo + bo
    if cross is not None:
        (gc, bec, epsc), (Wqc, bqc, Woc, boc), (ck, cv, cm) = cross
        q = norm(x1, gc, bec, epsc) @ Wqc + bqc
        x1 = x1 + attend(q, ck, cv, cm, ck.shape[2]) @ Woc + boc
    W1, c1, W2, c2 = ffn
    u = norm(x1, g2, be2, eps2) @ W1 + c1
    u = gelu_reference(u) if act == GELU else np.maximum(u, 0)
    return x1 + u @ W2 + c2


@njit(inline="always", error_model="numpy")
def _layer_norm(row, gamma, beta, eps, out):
    """out = (row − mean) / √(var + ε) · γ + β, float64 statistics."""
    mu, r = row_mean_rstd(row, eps)
    for j in range(row.shape[0]):
        out[j] = (row[j] - mu) * r * gamma[j] + beta[j]


@njit(inline="always", error_model="numpy")
def _row_times(h, W, b, out):
    """out = h W + b for one row h (D,), W (D, N) row-major: N-long axpys (vectorised)."""
    N = W.shape[1]
    for j in range(N):
        out[j] = b[j]
    for i in range(h.shape[0]):
        hi = h[i]
        Wi = W[i]
        for j in range(N):
            out[j] += hi * Wi[j]


@njit(nogil=True, error_model="numpy")
def _attend(q, keys, values, mask, b, n, scale, p, a):
    """a = Σ_j softmax_j(q_h · K_j · scale) V_j per head h, over the slots j < n of row b that
    ``mask`` allows (a = 0 where none is); ``p`` is scratch of length ≥ n."""
    H, dk, dv = keys.shape[1], keys.shape[3], values.shape[3]
    dt = q.dtype.type
    zero = dt(0.0)
    for hh in range(H):
        top = dt(-np.inf)
        for j in range(n):
            if mask[b, j]:
                s = zero
                for c in range(dk):
                    s += q[hh * dk + c] * keys[b, hh, j, c]
                s *= scale
                p[j] = s
                top = max(top, s)
        total = zero
        for j in range(n):
            if mask[b, j]:
                e = fast_exp_neg(top - p[j])
                p[j] = e
                total += e
        for c in range(dv):
            a[hh * dv + c] = zero
        if total > zero:
            inv = dt(1.0) / total
            for j in range(n):
                if mask[b, j]:
                    w = p[j] * inv
                    for c in range(dv):
                        a[hh * dv + c] += w * values[b, hh, j, c]


@njit(cache=True, nogil=True, error_model="numpy")
def decoder_step(x, ln1, attn, cache, t, cross, ln2, ffn, act):
    """The block's output (B, D) for one new token per row ``x`` (B, D) (see the module
    docstring).  Each argument group is a tuple of arrays, as the layers hold them with
    the heads flattened:

    - ``ln1``, ``ln2``: (γ, β, ε) of the self-attention's and the feed-forward's
      LayerNorm;
    - ``attn``: (W_q, b_q, W_k, b_k, W_v, b_v, W_o, b_o), W_q (D, H·d_k), W_o (H·d_v, D);
    - ``cache``: (keys, values, mask), (B, H, capacity, d) and (B, capacity).  The step
      writes its keys and values at slot ``t`` and attends over the slots j ≤ t with
      ``mask[b, j]`` True (the caller sets ``mask[:, t]``);
    - ``cross``: None without cross-attention, else ((γ, β, ε), (W_q, b_q, W_o, b_o),
      (keys, values, mask)): its LayerNorm, projections and the encoder's static cache,
      attended to after the self-attention, x₁ += attention(LN(x₁), encoder);
    - ``ffn``: (W₁, c₁, W₂, c₂); ``act``: :data:`GELU` or :data:`RELU`.
    """
    B, D = x.shape
    g1, be1, eps1 = ln1
    Wq, bq, Wk, bk, Wv, bv, Wo, bo = attn
    keys, values, mask = cache
    g2, be2, eps2 = ln2
    W1, c1, W2, c2 = ffn
    H, dk, dv = keys.shape[1], keys.shape[3], values.shape[3]
    F = W1.shape[1]
    dt = x.dtype.type
    zero = dt(0.0)
    out = np.empty_like(x)
    h = np.empty(D, x.dtype)
    q = np.empty(H * dk, x.dtype)
    k = np.empty(H * dk, x.dtype)
    v = np.empty(H * dv, x.dtype)
    a = np.empty(H * dv, x.dtype)
    x1 = np.empty(D, x.dtype)
    u = np.empty(F, x.dtype)
    n_cross = qc_n = ac_n = yc_n = 0            # the cross-attention's scratch, if any
    if cross is not None:
        ck, cv = cross[2][0], cross[2][1]
        n_cross, qc_n, ac_n = ck.shape[2], ck.shape[1] * ck.shape[3], cv.shape[1] * cv.shape[3]
        yc_n = D
    qc = np.empty(qc_n, x.dtype)
    ac = np.empty(ac_n, x.dtype)
    yc = np.empty(yc_n, x.dtype)
    p = np.empty(max(t + 1, n_cross), x.dtype)
    half = dt(0.5)
    one = dt(1.0)
    r2 = dt(_INV_SQRT_2)
    for b in range(B):
        _layer_norm(x[b], g1, be1, eps1, h)
        _row_times(h, Wq, bq, q)
        _row_times(h, Wk, bk, k)
        _row_times(h, Wv, bv, v)
        for hh in range(H):
            for c in range(dk):
                keys[b, hh, t, c] = k[hh * dk + c]
            for c in range(dv):
                values[b, hh, t, c] = v[hh * dv + c]
        _attend(q, keys, values, mask, b, t + 1, dt(1.0 / math.sqrt(dk)), p, a)
        _row_times(a, Wo, bo, x1)
        for j in range(D):
            x1[j] += x[b, j]
        if cross is not None:
            _cross_attend(x1, cross, b, p, h, qc, ac, yc)
        _layer_norm(x1, g2, be2, eps2, h)
        _row_times(h, W1, c1, u)
        if act == GELU:
            for j in range(F):
                u[j] = half * u[j] * (one + fast_erf(u[j] * r2))
        elif act == RELU:
            for j in range(F):
                u[j] = max(u[j], zero)
        _row_times(u, W2, c2, out[b])
        for j in range(D):
            out[b, j] += x1[j]
    return out


@njit(nogil=True, error_model="numpy")
def _cross_attend(x1, cross, b, p, h, q, a, y):
    """x₁ += (attention of LN(x₁) over the encoder's cached keys and values) W_o + b_o, for
    row b (``h``, ``q``, ``a``, ``y``, ``p``: scratch, allocated once per step)."""
    (g, be, eps), (Wq, bq, Wo, bo), (keys, values, mask) = cross
    _layer_norm(x1, g, be, eps, h)
    _row_times(h, Wq, bq, q)
    _attend(q, keys, values, mask, b, keys.shape[2],
            x1.dtype.type(1.0 / math.sqrt(keys.shape[3])), p, a)
    _row_times(a, Wo, bo, y)
    for j in range(x1.shape[0]):
        x1[j] += y[j]
