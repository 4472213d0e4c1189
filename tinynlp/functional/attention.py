"""Scaled dot-product attention, the core of the Transformer.

For queries q (..., Tq, d), keys k (..., Tk, d) and values v (..., Tk, dv)
(typically (batch, heads, time, head_dim), PyTorch's layout)::

    S = q kᵀ · scale + M          scores (..., Tq, Tk);  scale = 1/√d by default
    P = softmax(S)                 over the keys (last axis)
    O = P v                        (..., Tq, dv)

M is the mask: a boolean mask broadcastable to (..., Tq, Tk) where True means
"may attend" (as ``torch.nn.functional.scaled_dot_product_attention``) puts
−∞ where it is False; a float mask is added to the scores as it is (and is
differentiable); ``is_causal=True`` forbids key j for query i when j > i (the
top-left aligned triangle, as PyTorch).  A query whose keys are *all* masked
has no distribution to take: its row of P is defined to be zero, so its
output is zero and no gradient flows through it — never NaN.

Backward, with G = dL/dO::

    dV = Pᵀ G
    dP = G vᵀ
    dS = P ⊙ (dP − rowsum(dP ⊙ P))       the softmax backward, row by row
    dq = dS k · scale,   dk = dSᵀ q · scale,   dM = dS (float mask)

With dropout (rate r, training only) P is replaced by P̃ = P ⊙ m/(1 − r) in
O = P̃ v; then dV = P̃ᵀ G and dP = (G vᵀ) ⊙ m/(1 − r).

:class:`ScaledDotProductAttention` is the fused fast path: one batched GEMM
per product over all heads at once, the scale, mask and softmax applied in
place on the one (..., Tq, Tk) scores array (which becomes P and is all the
backward keeps), and the backward above written out.  Both directions go a
few sequences at a time (``CHUNK_ELEMENTS`` scores per chunk): without a
gradient P lives in one reused buffer instead of a fresh array the size of P,
in training each chunk writes its part of the P the backward keeps.  The
chunks are independent, so they are shared out over tinynlp's threads
(:func:`_over_chunks`) — the same numbers on any number of threads.
:func:`scaled_dot_product_attention_reference` composes the same from matmul,
softmax, where and mul; the two are tested equal in value and gradient.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .. import random as tn_random
from ..autograd import is_grad_enabled
from ..autograd.ops import matmul, softmax, swapaxes, where
from ..autograd.tensor import Function, Tensor, unbroadcast
from ..kernels.attention import (
    softmax_backward_rows_,
    softmax_backward_rows_reference_,
    softmax_rows_,
    softmax_rows_reference_,
)
from ..workers import run_parts
from .normalization import dropout as _dropout_op

__all__ = [
    "attention_inference",
    "attention_mask_from_padding",
    "causal_mask",
    "scaled_dot_product_attention",
    "scaled_dot_product_attention_reference",
]


# --------------------------------------------------------------------------
# masks and checks
# --------------------------------------------------------------------------

def causal_mask(Tq, Tk=None, offset=0) -> np.ndarray:
    """Boolean (Tq, Tk) mask, True where query i may attend key j: j ≤ i + offset.

    ``offset=0`` is PyTorch's ``is_causal`` (top-left aligned); a query block
    that continues a sequence of ``offset`` earlier tokens (a KV cache) uses
    ``offset = Tk − Tq`` (bottom-right aligned).
    """
    Tk = Tq if Tk is None else Tk
    return np.arange(Tk)[None, :] <= np.arange(Tq)[:, None] + offset


def attention_mask_from_padding(query_mask=None, key_mask=None):
    """Combine (B, Tq) query and (B, Tk) key padding masks into a (B, Tq, Tk) or
    broadcastable (B, 1, Tk) / (B, Tq, 1) boolean mask (True = real token), as
    Keras' MultiHeadAttention does.  Returns None if both are None."""
    out = None
    if query_mask is not None:
        out = np.asarray(getattr(query_mask, "data", query_mask), dtype=bool)[:, :, None]
    if key_mask is not None:
        km = np.asarray(getattr(key_mask, "data", key_mask), dtype=bool)[:, None, :]
        out = km if out is None else out & km
    return out


def _shape(a):
    return tuple(a.shape) if isinstance(a, (Tensor, np.ndarray)) else np.shape(a)


def _dtype(a):
    return a.dtype if isinstance(a, (Tensor, np.ndarray)) else np.asarray(a).dtype


def _check(q, k, v, mask, is_causal, dropout, scale):
    """Validate shapes and dtypes; returns (scores shape, mask kind, mask array-or-Tensor)."""
    qs, ks, vs = _shape(q), _shape(k), _shape(v)
    for name, s in (("q", qs), ("k", ks), ("v", vs)):
        if len(s) < 2:
            raise ValueError(f"scaled_dot_product_attention: {name} must have shape "
                             f"(..., time, dim), got {s}")
    dts = {np.dtype(_dtype(a)) for a in (q, k, v)}
    if len(dts) != 1 or next(iter(dts)).kind != "f":
        raise TypeError("scaled_dot_product_attention: q, k and v must share one floating "
                        f"dtype, got {_dtype(q)}, {_dtype(k)}, {_dtype(v)}")
    if qs[-1] != ks[-1]:
        raise ValueError("scaled_dot_product_attention: q and k must have the same head dim "
                         f"(last axis); got q {qs} (d={qs[-1]}) and k {ks} (d={ks[-1]})")
    if ks[-2] != vs[-2]:
        raise ValueError("scaled_dot_product_attention: k and v must have the same number of "
                         f"keys (axis -2); got k {ks} ({ks[-2]} keys) and v {vs} ({vs[-2]})")
    if ks[-2] == 0 or qs[-1] == 0:
        raise ValueError("scaled_dot_product_attention: needs at least one key and a head dim "
                         f">= 1 (a softmax over no keys is undefined); got q {qs}, k {ks}")
    try:
        batch = np.broadcast_shapes(qs[:-2], ks[:-2], vs[:-2])
    except ValueError:
        raise ValueError("scaled_dot_product_attention: the leading (batch, heads) axes of "
                         f"q {qs}, k {ks} and v {vs} do not broadcast") from None
    scores = tuple(batch) + (qs[-2], ks[-2])
    if isinstance(dropout, bool) or not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout must be in [0, 1), got "
                         f"{dropout!r}")
    if scale is not None and not (isinstance(scale, (int, float, np.floating))
                                  and math.isfinite(scale)):
        raise ValueError(f"scaled_dot_product_attention: scale must be a finite number or "
                         f"None, got {scale!r}")
    if mask is None:
        return scores, None, None
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    ms = m.shape
    try:
        ok = np.broadcast_shapes(ms, scores) == scores
    except ValueError:
        ok = False
    if not ok:
        raise ValueError("scaled_dot_product_attention: mask must broadcast to the scores' "
                         f"shape (..., Tq, Tk) = {scores}, got {ms}")
    if m.dtype == bool:
        return scores, "bool", m
    if m.dtype.kind == "f":
        if m.dtype != next(iter(dts)):
            raise TypeError(f"scaled_dot_product_attention: a float mask must have q's dtype "
                            f"{next(iter(dts))}, got {m.dtype}")
        return scores, "float", mask if isinstance(mask, Tensor) else m
    raise TypeError("scaled_dot_product_attention: mask must be boolean (True = may attend) "
                    f"or float (added to the scores), got dtype {m.dtype}")


def _allowed(kind, m, is_causal, Tq, Tk):
    """The boolean 'may attend' mask (bool mask ∧ causal), or None if there is none."""
    allowed = m if kind == "bool" else None
    if is_causal:
        c = causal_mask(Tq, Tk)
        allowed = c if allowed is None else allowed & c
    return allowed


def _dropout_keep(shape, rate, dtype, seed=None):
    """The scaled keep-mask m/(1 − r) of inverted dropout, drawn from ``tn.random`` (or
    ``default_rng(seed)``) exactly as :func:`tinynlp.functional.dropout` draws it."""
    rng = tn_random.get_rng() if seed is None else np.random.default_rng(seed)
    keep = rng.random(shape, dtype=np.float32 if dtype == np.float32 else np.float64) >= rate
    return keep.astype(dtype) * dtype.type(1.0 / (1.0 - rate))


# --------------------------------------------------------------------------
# the fused op
# --------------------------------------------------------------------------

def _rows(a):
    """A C-contiguous (..., Tq, Tk) array viewed as (N, Tq, Tk) for the row kernels."""
    return a.reshape(math.prod(a.shape[:-2]), a.shape[-2], a.shape[-1])


def attention_softmax_(s, kind, mask, is_causal, scale):
    """P = softmax(s·scale + M) in place in the raw scores s = q kᵀ (C-contiguous).

    The causal limit and the scale go to the row kernel
    (:func:`tinynlp.kernels.attention.softmax_rows_`); a boolean mask writes
    −∞ first; a float mask is added after scaling (so there the scale is
    applied here and the kernel gets 1).
    """
    Tk = s.shape[-1]
    c = scale
    if kind == "float" or scale <= 0:
        s *= s.dtype.type(scale)
        c = 1.0
        if kind == "float":
            s += mask
    if kind == "bool":
        np.copyto(s, -np.inf, where=~mask)
    offset = 0 if is_causal else Tk
    if s.dtype in (np.float32, np.float64):
        softmax_rows_(_rows(s), offset, c)
    else:                                        # e.g. float16: the NumPy twin
        softmax_rows_reference_(_rows(s), offset, c)
    return s


def attention_softmax_backward_(dp, p):
    """dS = P ⊙ (dP − rowsum(dP ⊙ P)) in place in dp (the kernel, or its twin)."""
    if dp.dtype in (np.float32, np.float64) and dp.dtype == p.dtype:
        softmax_backward_rows_(_rows(dp), _rows(p))
    else:
        softmax_backward_rows_reference_(_rows(dp), _rows(p))
    return dp


class ScaledDotProductAttention(Function):
    """O = softmax(q kᵀ·scale + M) v;   dV = Pᵀ G,  dS = P ⊙ (G vᵀ − rowsum(G vᵀ ⊙ P)),
    dq = dS k·scale,  dk = dSᵀ q·scale,  dM = dS   (see the module docstring)"""

    differentiable = (0, 1, 2, 3)

    @staticmethod
    def forward(ctx, q, k, v, mask, shape=None, kind=None, is_causal=False, scale=1.0,
                keep=None):
        train = any(ctx.needs_input_grad) and is_grad_enabled()
        if len(shape) >= 3 and shape[0] > 0 and all(a.shape[:-2] == shape[:-2]
                                                     for a in (q, k, v)):
            if not train:
                return _forward_in_chunks(q, k, v, mask, shape, kind, is_causal, scale, keep)
            p = np.empty(shape, np.result_type(q, k))   # kept for the backward
            out = _forward_in_chunks(q, k, v, mask, shape, kind, is_causal, scale, keep, p)
        else:                                           # broadcast batch axes: whole arrays
            s = np.matmul(q, np.swapaxes(k, -1, -2))
            if s.shape != shape or not s.flags.c_contiguous:   # v or the mask has more axes
                s = np.ascontiguousarray(np.broadcast_to(s, shape))
            p = attention_softmax_(s, kind, mask, is_causal, scale)
            out = np.matmul(p if keep is None else p * keep, v)
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(q, k, v, p, keep)
            ctx.scale = scale
            ctx.mask_shape = None if kind != "float" else mask.shape
        return out

    @staticmethod
    def backward(ctx, g):
        q, k, v, p, keep = ctx.saved
        need = ctx.needs_input_grad
        if not need[3] and p.ndim >= 3 and p.shape[0] > 0 and \
                all(a.shape[:-2] == p.shape[:-2] for a in (q, k, v, g)):
            return _backward_in_chunks(q, k, v, p, keep, g, ctx.scale, need)
        dq = dk = dv = dm = None
        if need[2]:
            pd = p if keep is None else p * keep
            dv = unbroadcast(np.matmul(np.swapaxes(pd, -1, -2), g), v.shape)
        if need[0] or need[1] or need[3]:
            ds = np.ascontiguousarray(np.matmul(g, np.swapaxes(v, -1, -2)))  # dP̃
            if ds.shape != p.shape:
                ds = np.ascontiguousarray(np.broadcast_to(ds, p.shape))
            if keep is not None:
                ds *= keep
            attention_softmax_backward_(ds, p)
            sc = ds.dtype.type(ctx.scale)
            if need[0]:
                dq = np.matmul(ds, k)
                dq *= sc
                dq = unbroadcast(dq, q.shape)
            if need[1]:
                dk = np.matmul(np.swapaxes(ds, -1, -2), q)
                dk *= sc
                dk = unbroadcast(dk, k.shape)
            if need[3]:
                dm = unbroadcast(ds, ctx.mask_shape)
        return dq, dk, dv, dm


#: elements of dP per chunk of :func:`_backward_in_chunks` (1 MiB of float32: in cache)
CHUNK_ELEMENTS = 1 << 18

#: a head's product (Tq · Tk · d multiply-adds) up to this size runs on one thread in
#: OpenBLAS (its threshold for threading a GEMM), so the chunks may go to parallel threads
#: without two BLAS thread pools sharing the cores
SMALL_PRODUCT = 1 << 18


def _chunk_of(a, c, ndim):
    """Rows ``c`` of the leading axis of a mask or keep-mask broadcast against (n, ...)
    (``a`` itself when that axis is broadcast)."""
    if a is None or np.ndim(a) < ndim or a.shape[0] == 1:
        return a
    return a[c]


def _over_chunks(n, per_sequence, per_head, work):
    """``work(lo, hi, step)`` over the leading-axis range [0, n), in chunks of ``step``
    sequences of ``per_sequence`` score elements (about :data:`CHUNK_ELEMENTS` each).

    The chunks are independent (each writes its own rows of the outputs), so
    when a head's products are small (``per_head`` ≤ :data:`SMALL_PRODUCT`: one
    BLAS thread each) they are split over ``numba.get_num_threads()`` threads —
    tinynlp's one thread count (:mod:`tinynlp.threads`) — the calling thread
    taking the first part, and the chunks are made small enough that every
    thread gets one.  NumPy's products and the row kernels release the GIL.
    Every sequence is computed the same way whichever thread takes it: the same
    numbers.
    """
    step = max(1, CHUNK_ELEMENTS // max(1, per_sequence))
    threads = numba.get_num_threads() if per_head <= SMALL_PRODUCT else 1
    if threads > 1:
        step = min(step, max(1, -(-n // threads)))
    chunks = -(-n // step)
    parts = min(chunks, threads)
    if parts <= 1:
        work(0, n, step)
        return
    bounds = [min(n, step * round(chunks * i / parts)) for i in range(parts + 1)]
    run_parts(work, [(lo, hi, step) for lo, hi in zip(bounds[:-1], bounds[1:])])


def _forward_in_chunks(q, k, v, mask, shape, kind, is_causal, scale, keep, p_out=None):
    """The forward a few sequences at a time, the chunks shared out by
    :func:`_over_chunks`.  Without a gradient to keep (``p_out`` None) P lives in one
    reused buffer of :data:`CHUNK_ELEMENTS` per thread (inference at batch 256 × 4
    heads × 128² would otherwise fault in a fresh 64 MiB array per layer); training
    passes ``p_out`` (the scores' shape), which receives P for the backward.  Same
    products, same numbers as the whole-array forward."""
    dt = np.result_type(q, k)
    out = np.empty(shape[:-1] + (v.shape[-1],), np.result_type(dt, v))

    def work(lo, hi, step):
        buf = None if p_out is not None else \
            np.empty((min(step, hi - lo),) + tuple(shape[1:]), dt)
        for s in range(lo, hi, step):
            c = slice(s, min(hi, s + step))
            sc = p_out[c] if buf is None else buf[:c.stop - c.start]
            np.matmul(q[c], np.swapaxes(k[c], -1, -2), out=sc)
            p = attention_softmax_(sc, kind, _chunk_of(mask, c, len(shape)), is_causal, scale)
            kc = _chunk_of(keep, c, len(shape))
            np.matmul(p if kc is None else p * kc, v[c], out=out[c])

    _over_chunks(shape[0], math.prod(shape[1:]),
                 shape[-2] * shape[-1] * max(q.shape[-1], v.shape[-1]), work)
    return out


def _backward_in_chunks(q, k, v, p, keep, g, scale, need):
    """The backward above, a few leading-axis entries (sequences) at a time.

    Same products and the same softmax backward as the whole-array path, so the same
    numbers; but dP = G vᵀ for a chunk goes into one reused buffer of
    :data:`CHUNK_ELEMENTS` elements (per thread: :func:`_over_chunks`) instead of a
    fresh array the size of P (at batch 256 × 4 heads × 128² that is 64 MiB: its page
    faults cost more than the GEMM).  For arrays without broadcast leading axes and no
    gradient to a float mask.
    """
    dt = np.result_type(g, v)
    dq = np.empty(q.shape, np.result_type(dt, k)) if need[0] else None
    dk = np.empty(k.shape, np.result_type(dt, q)) if need[1] else None
    dv = np.empty(v.shape, np.result_type(p, g) if keep is None else
                  np.result_type(p, keep, g)) if need[2] else None
    sc = dt.type(scale)

    def work(lo, hi, step):
        buf = np.empty((min(step, hi - lo),) + p.shape[1:], dt) if need[0] or need[1] else None
        for s in range(lo, hi, step):
            c = slice(s, min(hi, s + step))
            pc = p[c] if keep is None else p[c] * keep[c]
            if need[2]:
                np.matmul(np.swapaxes(pc, -1, -2), g[c], out=dv[c])
            if buf is None:
                continue
            dp = buf[:c.stop - c.start]
            np.matmul(g[c], np.swapaxes(v[c], -1, -2), out=dp)                   # dP̃
            if keep is not None:
                dp *= keep[c]
            attention_softmax_backward_(dp, p[c])                                 # dS
            if need[0]:
                np.matmul(dp, k[c], out=dq[c])
                dq[c] *= sc
            if need[1]:
                np.matmul(np.swapaxes(dp, -1, -2), q[c], out=dk[c])
                dk[c] *= sc

    _over_chunks(p.shape[0], math.prod(p.shape[1:]),
                 p.shape[-2] * p.shape[-1] * max(q.shape[-1], v.shape[-1]), work)
    return dq, dk, dv, None


def scaled_dot_product_attention(q, k, v, mask=None, is_causal=False, dropout=0.0,
                                 scale=None, training=True, seed=None):
    """softmax(q kᵀ · scale + mask) v  — PyTorch's layout and mask semantics.

    q (..., Tq, d), k (..., Tk, d), v (..., Tk, dv) → (..., Tq, dv); the
    leading axes broadcast.  ``mask``: bool (True = may attend) or float
    (added to the scores; differentiable), broadcastable to (..., Tq, Tk).
    ``is_causal``: query i sees keys j ≤ i (combined with ``mask`` if both are
    given).  ``scale`` defaults to 1/√d.  ``dropout``: rate applied to the
    attention weights when ``training`` is True (keep-masks drawn from
    ``tn.random``, or from ``np.random.default_rng(seed)``, as
    :func:`~tinynlp.functional.dropout` draws them).  A query with every key
    masked gets zeros, not NaN.
    """
    shape, kind, m = _check(q, k, v, mask, is_causal, dropout, scale)
    dt = np.dtype(_dtype(q))
    scale = 1.0 / math.sqrt(_shape(q)[-1]) if scale is None else float(scale)
    keep = None
    if training and dropout > 0.0:
        keep = _dropout_keep(shape, float(dropout), dt, seed)
    return ScaledDotProductAttention.apply(q, k, v, m, shape=shape, kind=kind,
                                           is_causal=bool(is_causal), scale=scale, keep=keep)


def attention_inference(q, k, v, mask=None, is_causal=False, scale=None):
    """softmax(q kᵀ · scale + mask) v on plain arrays, with nothing to differentiate.

    The forward of :class:`ScaledDotProductAttention` when no gradient is
    wanted — the same numbers as :func:`scaled_dot_product_attention` under
    ``no_grad`` — for the layers' inference paths
    (:meth:`~tinynlp.layers.MultiHeadAttention.call_arrays`).  ``mask`` is a
    boolean "may attend" array or None; no dropout.  The arrays come from the
    layer's own projections, so only the shapes the kernels rely on are checked.
    """
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2] or k.shape[-2] == 0:
        raise ValueError(f"attention_inference: expected q (..., Tq, d), k (..., Tk, d), "
                         f"v (..., Tk, dv) with Tk >= 1; got {q.shape}, {k.shape}, {v.shape}")
    shape = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2]) + \
        (q.shape[-2], k.shape[-2])
    if mask is not None and mask.dtype != bool:
        raise TypeError(f"attention_inference: mask must be boolean, got {mask.dtype}")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    return ScaledDotProductAttention.run(q, k, v, mask, shape=shape,
                                         kind=None if mask is None else "bool",
                                         is_causal=bool(is_causal), scale=scale)


def scaled_dot_product_attention_reference(q, k, v, mask=None, is_causal=False, dropout=0.0,
                                           scale=None, training=True, seed=None,
                                           return_weights=False):
    """The same from primitive ops (matmul, softmax, where, mul), to read and to test against.

    ``return_weights=True`` also returns P (before dropout), as a Tensor in
    the graph — what ``MultiHeadAttention(return_attention_scores=True)`` shows.
    """
    shape, kind, m = _check(q, k, v, mask, is_causal, dropout, scale)
    d = _shape(q)[-1]
    scale = 1.0 / math.sqrt(d) if scale is None else float(scale)
    q = q if isinstance(q, Tensor) else Tensor(np.asarray(q), _copy=False)
    scores = matmul(q, swapaxes(k, -1, -2)) * scale              # (..., Tq, Tk)
    if kind == "float":
        scores = scores + m
    Tq, Tk = shape[-2], shape[-1]
    allowed = _allowed(kind, None if kind != "bool" else m, is_causal, Tq, Tk)
    if kind == "float":                                           # −∞ in a float mask masks too
        finite = np.isfinite(m.data if isinstance(m, Tensor) else m)
        allowed = finite if allowed is None else allowed & finite
    if allowed is not None:
        allowed = np.broadcast_to(allowed, shape)
        lowest = np.finfo(scores.dtype).min / 2               # not −∞: no (−∞) − (−∞) = NaN
        scores = where(allowed, scores, lowest)
    weights = softmax(scores, axis=-1)
    if allowed is not None:                                       # empty rows → zeros
        weights = weights * allowed.astype(scores.dtype)
    attended = weights
    if training and dropout > 0.0:
        attended = _dropout_op(weights, float(dropout), training=True, seed=seed)
    out = matmul(attended, v)
    return (out, weights) if return_weights else out
