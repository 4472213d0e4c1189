"""1-D convolution over sequences (channels-last), as PyTorch and Keras compute it.

For an input ``x`` (B, L, C), a kernel ``w`` (K, C, F) and a bias ``b`` (F,),
with stride s, dilation d and the input zero-padded as ``padding`` says::

    z[b, i, f] = Σ_k Σ_c  x_pad[b, i·s + k·d, c] · w[k, c, f]  +  b[f]

This is *cross-correlation* (the kernel slides without being flipped), so
weights are interchangeable with Keras' ``Conv1D`` and, after a transpose,
PyTorch's ``nn.Conv1d``.  The textbook convolution ``z_i = Σ_k x_{i−k+1} w_k + b``
flips the kernel; :func:`conv1d_flipped_reference` computes it and equals
``conv1d(x, w[::-1], b)``.

Padding follows Keras / TensorFlow exactly (``d_eff = (K − 1)·d + 1`` is the
span of the dilated kernel):

* ``"valid"``  no padding;  ``L_out = ⌊(L − d_eff) / s⌋ + 1``  (needs L ≥ d_eff);
* ``"same"``   ``L_out = ⌈L / s⌉``; ``total = max((L_out − 1)·s + d_eff − L, 0)``
  zeros, ``total // 2`` on the left and the rest (one more when odd) on the right;
* ``"causal"`` ``(K − 1)·d`` zeros on the left only, so output step i sees
  inputs up to step i·s; ``L_out = ⌈L / s⌉``.

Fast path (:class:`Conv1D`): gather the windows into ``cols`` (B·L_out, K·C)
with the im2col kernel, then one GEMM.  Gradients::

    dL/dw = colsᵀ · G          (one GEMM, reshaped to (K, C, F))
    dL/db = Σ_rows G
    dL/dx = col2im(G · w2ᵀ)    (one GEMM, then a scatter-add of the windows)
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.ops import pad, stack
from ..autograd.tensor import Function, Tensor, as_tensor, is_grad_enabled, shape_of, to_numpy
from ..kernels.activations import Act, apply_activation_
from ..kernels.conv import col2im_1d, conv1d_rows, im2col_1d
from ._checks import as_int, check_kernel_dtype
from .embedding import embedding
from .epilogue import activation_grad, add_bias_activation_, split_activation
from .lookup import check_lookup, shared_rows

__all__ = ["conv1d", "conv1d_lookup", "conv1d_on_rows", "conv1d_sum_rows", "conv1d_reference",
           "conv1d_flipped_reference", "conv1d_padding", "conv1d_patches"]

_PADDINGS = ("valid", "same", "causal")


def conv1d_padding(length, kernel_size, strides=1, padding="valid", dilation_rate=1):
    """``(pad_left, pad_right, out_len)`` for a 1-D convolution or pooling window.

    Keras / TensorFlow rules (see the module docstring).  Raises ValueError when
    a "valid" window is longer than the input.
    """
    s = as_int(strides, "strides", "conv1d", minimum=1)
    d = as_int(dilation_rate, "dilation_rate", "conv1d", minimum=1)
    k = as_int(kernel_size, "kernel_size", "conv1d", minimum=1)
    if not isinstance(padding, str) or padding.lower() not in _PADDINGS:
        raise ValueError(f"conv1d: padding must be one of {_PADDINGS}, got {padding!r}")
    padding = padding.lower()
    span = (k - 1) * d + 1
    if length < 1:
        raise ValueError(f"conv1d: the input must have at least one step, got length {length}")
    if padding == "valid":
        if length < span:
            raise ValueError(
                f"conv1d: kernel longer than the input: with padding='valid' the input length "
                f"L={length} must be >= (K - 1) * dilation + 1 = {span} "
                f"(K={k}, dilation_rate={d}); use padding='same' or a shorter kernel")
        return 0, 0, (length - span) // s + 1
    out_len = math.ceil(length / s)
    if padding == "causal":
        return (k - 1) * d, 0, out_len
    total = max((out_len - 1) * s + span - length, 0)
    return total // 2, total - total // 2, out_len


def conv1d_patches(x, kernel_size, strides=1, dilation_rate=1, padding="valid"):
    """The windows a 1-D convolution reads, one row each: (B, L_out, K·C) for x (B, L, C).

    Row i holds ``x_pad[i·s + k·d]`` for k = 0 … K−1 (channels last), padded by
    Keras' rules (:func:`conv1d_padding`), so that ``conv1d(x, w, b)`` equals
    ``conv1d_patches(x, K, ...) @ w.reshape(K·C, F) + b`` — the im2col that the
    fast path of :class:`Conv1D` multiplies (an int8 layer multiplies it too).
    """
    x = np.ascontiguousarray(to_numpy(x))
    nb, length, nc = x.shape
    k = as_int(kernel_size, "kernel_size", "conv1d_patches", minimum=1)
    s = as_int(strides, "strides", "conv1d_patches", minimum=1)
    d = as_int(dilation_rate, "dilation_rate", "conv1d_patches", minimum=1)
    pad_left, _, out_len = conv1d_padding(length, k, s, padding, d)
    return im2col_1d(x, k, s, d, pad_left, out_len).reshape(nb, out_len, k * nc)


def _check_args(x, w, b, padding):
    xs, ws = shape_of(x), shape_of(w)
    if len(xs) != 3:
        raise ValueError(f"conv1d: x must be 3-D (batch, length, channels), got shape {xs}")
    if len(ws) != 3:
        raise ValueError(
            f"conv1d: w must be 3-D (kernel_size, in_channels, filters), got shape {ws}")
    if xs[2] != ws[1]:
        raise ValueError(
            f"conv1d: channel mismatch: x has {xs[2]} channels (shape {xs}) but w expects "
            f"{ws[1]} input channels (shape {ws})")
    if b is not None and tuple(shape_of(b)) != (ws[2],):
        raise ValueError(f"conv1d: b must have shape ({ws[2]},) (filters), got {shape_of(b)}")
    for name, a in (("x", x), ("w", w), ("b", b)):
        if a is not None:
            dt = a.dtype if hasattr(a, "dtype") else np.asarray(a).dtype
            if dt.kind != "f":
                raise TypeError(f"conv1d: {name} must be floating point, got dtype {dt}")
    if 0 in ws[:2]:
        raise ValueError(f"conv1d: w must have a kernel size and input channels >= 1, got "
                         f"shape {ws}")


class Conv1D(Function):
    """z = im2col(x) · w2 + b  (one GEMM);   dw = colsᵀG,  db = ΣG,  dx = col2im(G w2ᵀ)

    ``cols[b, i, k, :] = x_pad[b, i·s + k·d, :]``; ``w2 = w.reshape(K·C, F)``.
    """

    @staticmethod
    def forward(ctx, x, w, b, strides=1, dilation_rate=1, pad_left=0, out_len=1,
                act=Act.LINEAR):
        nb, length, nc = x.shape
        k, _, nf = w.shape
        cols = im2col_1d(np.ascontiguousarray(x), k, strides, dilation_rate, pad_left, out_len)
        cols = cols.reshape(nb * out_len, k * nc)
        w2 = w.reshape(k * nc, nf)
        z = add_bias_activation_(cols @ w2, b, act)    # fused, in place: keep h for σ'(z)
        ctx.save_for_backward(cols if ctx.needs_input_grad[1] else None, w2,
                              None if act == Act.LINEAR else z)
        ctx.geom = (nb, length, nc, k, strides, dilation_rate, pad_left, out_len)
        ctx.w_shape, ctx.act = w.shape, act
        return z.reshape(nb, out_len, nf)

    @staticmethod
    def backward(ctx, g):
        cols, w2, h = ctx.saved
        nb, length, nc, k, s, d, pad_left, out_len = ctx.geom
        g2 = g.reshape(nb * out_len, g.shape[-1])
        if h is not None:
            g2 = activation_grad(g2, h, ctx.act)
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            dcols = (g2 @ w2.T).reshape(nb, out_len, k, nc)
            gx = col2im_1d(dcols, length, s, d, pad_left)
        if ctx.needs_input_grad[1]:
            gw = (cols.T @ g2).reshape(ctx.w_shape)
        if ctx.needs_input_grad[2]:
            gb = g2.sum(axis=0)
        return gx, gw, gb


def conv1d(x, w, b=None, strides=1, padding="valid", dilation_rate=1, activation=None):
    """1-D cross-correlation, channels-last: x (B, L, C), w (K, C, F), b (F,) → (B, L_out, F).

    ``z[b, i, f] = Σ_k Σ_c x_pad[b, i·s + k·d, c] · w[k, c, f] + b[f]``
    with ``padding`` in {"valid", "same", "causal"} (Keras rules; see the module
    docstring).  Fast path: im2col + one GEMM (:class:`Conv1D`).
    ``activation`` (optional): σ applied to z; "relu", "sigmoid" and "tanh" are
    fused into the op (in place, σ' from the output: :mod:`.epilogue`), others
    ("gelu", ...) applied after it.
    """
    _check_args(x, w, b, padding)
    check_kernel_dtype("conv1d", *[to_numpy(a) for a in (x, w, b) if a is not None])
    length, k = shape_of(x)[1], shape_of(w)[0]
    pad_left, _, out_len = conv1d_padding(length, k, strides, padding, dilation_rate)
    act, after = split_activation(activation)
    z = Conv1D.apply(x, w, b, strides=as_int(strides, "strides", "conv1d"),
                     dilation_rate=as_int(dilation_rate, "dilation_rate", "conv1d"),
                     pad_left=pad_left, out_len=out_len, act=act)
    return z if after is None else after(z)


def conv1d_lookup(ids, table, w, b=None, strides=1, padding="valid", dilation_rate=1,
                  activation=None):
    """:func:`conv1d` over x = table[ids] (``embedding(ids, table)``), without making x.

    Tap k of the convolution only ever multiplies rows of the table::

        x[b, t] · w[k] = (table · w[k])[ids[b, t]] = P[j, k]   with  P[j, k] = table[u_j] · w[k]

    for the distinct ids u of the batch (``u[j] = ids[b, t]``).  So P (|u|, K, F) is one
    GEMM of |u| rows, and output step i is the bias plus K rows of P
    (:func:`~tinynlp.kernels.conv.conv1d_rows`; steps in the padding add nothing)
    instead of K·C·F multiply-adds.  Equal to ``conv1d(embedding(ids, table), ...)`` up
    to rounding.

    For inference: when a gradient may be asked for (grad mode on and an input that
    requires one), or when the ids repeat too little
    (:func:`~tinynlp.functional.lookup.shared_rows`), it runs
    ``conv1d(embedding(ids, table), ...)`` instead.
    ``Sequential`` runs an ``Embedding`` and the ``Conv1D`` after it this way at
    inference.  ``ids`` (B, L) token ids in [0, V), ``table`` (V, C); the rest as
    :func:`conv1d`.
    """
    op = "conv1d_lookup"
    ids, tab = check_lookup(ids, table, op, layout="(batch, steps)")
    x_shape = np.broadcast_to(np.zeros((), tab.dtype), (*ids.shape, tab.shape[1]))
    _check_args(x_shape, w, b, padding)
    check_kernel_dtype(op, *[to_numpy(a) for a in (table, w, b) if a is not None])
    wants_grad = is_grad_enabled() and any(getattr(a, "requires_grad", False)
                                           for a in (table, w, b))
    shared = None if wants_grad else shared_rows(ids, tab.shape[0])
    if shared is None:
        return conv1d(embedding(ids, table), w, b, strides=strides, padding=padding,
                      dilation_rate=dilation_rate, activation=activation)
    u, inv = shared
    return conv1d_on_rows(tab[u], inv, w, b, strides, padding, dilation_rate, activation)


def conv1d_on_rows(rows, inv, w, b=None, strides=1, padding="valid", dilation_rate=1,
                   activation=None):
    """:func:`conv1d` of x[b, t] = rows[inv[b, t]] for inference, as :func:`conv1d_lookup`
    computes it: P[j, k] = rows[j] · w[k] (one GEMM), then :func:`conv1d_sum_rows`.
    ``rows`` (U, C) the distinct rows, ``inv`` (B, L) ints in [0, U) (checked by the
    caller); a Tensor without a graph."""
    k, nc, nf = shape_of(w)
    wa = to_numpy(w)
    dt = np.result_type(rows, wa, *(() if b is None else (to_numpy(b),)))
    P = rows.astype(dt, copy=False) @ wa.transpose(1, 0, 2).reshape(nc, k * nf).astype(
        dt, copy=False)
    return conv1d_sum_rows(P.reshape(len(rows), k, nf), inv, b, strides, padding,
                           dilation_rate, activation)


def conv1d_sum_rows(P, inv, b=None, strides=1, padding="valid", dilation_rate=1,
                    activation=None):
    """σ(b + Σ_k P[inv[b, t], k]) over the taps k whose input step t = i·s + k·d − pad_left
    lies inside the input (the padding adds nothing): output step i of a convolution
    whose tap products P (U, K, F) were made once per distinct row
    (:func:`~tinynlp.kernels.conv.conv1d_rows`; relu fused, other activations after).
    ``inv`` (B, L) ints in [0, U); a Tensor without a graph.  The float lookup and the
    quantized Conv1D's end here."""
    _, k, nf = P.shape
    s = as_int(strides, "strides", "conv1d")
    d = as_int(dilation_rate, "dilation_rate", "conv1d")
    pad_left, _, out_len = conv1d_padding(inv.shape[1], k, s, padding, d)
    act, after = split_activation(activation)
    bias = np.zeros(nf, P.dtype) if b is None else to_numpy(b).astype(P.dtype, copy=False)
    out = conv1d_rows(P, np.ascontiguousarray(inv), s, d, pad_left, out_len, bias,
                      act == Act.RELU, np.empty((len(inv), out_len, nf), P.dtype))
    if act not in (Act.LINEAR, Act.RELU):
        apply_activation_(out, act)
    z = Tensor(out, _copy=False)
    return z if after is None else after(z)


def conv1d_reference(x, w, b=None, strides=1, padding="valid", dilation_rate=1):
    """The formula as a direct loop of primitive ops (slow, readable):

    ``z_i = Σ_k x_pad[:, i·s + k·d, :] @ w[k] + b`` for every output step i.
    """
    _check_args(x, w, b, padding)
    x, w = as_tensor(x), as_tensor(w)
    k = w.shape[0]
    s, d = as_int(strides, "strides", "conv1d"), as_int(dilation_rate, "dilation_rate", "conv1d")
    pad_left, pad_right, out_len = conv1d_padding(x.shape[1], k, s, padding, d)
    xp = pad(x, ((0, 0), (pad_left, pad_right), (0, 0))) if pad_left or pad_right else x
    steps = []
    for i in range(out_len):
        z_i = xp[:, i * s, :] @ w[0]
        for kk in range(1, k):
            z_i = z_i + xp[:, i * s + kk * d, :] @ w[kk]
        steps.append(z_i)
    z = stack(steps, axis=1)
    return z if b is None else z + as_tensor(b)


def conv1d_flipped_reference(x, w, b=None):
    """The textbook (true) convolution, "valid" mode, stride 1:

    ``z_i = Σ_{k=1..K} x_{i−k+1} · w_k + b``   for i = K … L  (1-based, so every
    ``x_{i−k+1}`` exists: L − K + 1 outputs).

    The kernel is applied flipped relative to cross-correlation, hence
    ``conv1d_flipped_reference(x, w, b) == conv1d(x, w[::-1], b)``.
    """
    _check_args(x, w, b, "valid")
    x, w = as_tensor(x), as_tensor(w)
    k, length = w.shape[0], x.shape[1]
    conv1d_padding(length, k)  # the length check
    steps = []
    for i in range(k, length + 1):            # 1-based output index i
        z_i = None
        for kk in range(1, k + 1):            # 1-based tap k
            term = x[:, i - kk, :] @ w[kk - 1]   # x_{i−k+1} is x[:, i − k] 0-based
            z_i = term if z_i is None else z_i + term
        steps.append(z_i)
    z = stack(steps, axis=1)
    return z if b is None else z + as_tensor(b)
