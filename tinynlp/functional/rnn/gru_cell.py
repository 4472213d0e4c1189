"""The GRU (Keras gate order z, r, h, reset_after=True): readable twin and fused op.

:func:`gru_reference` is the cell one step at a time in primitive ops;
:class:`GRU` runs all steps fused, the forward through :func:`gru_recurrence`
(per step: one GEMM, then two passes of the Numba step kernels of
:mod:`tinynlp.kernels.rnn`), BPTT by hand.  Without a gradient to compute the
same forward runs and nothing is kept.
"""

from __future__ import annotations

import numpy as np

from ...autograd import ops
from ...autograd.tensor import Function, as_tensor
from ...kernels.rnn import gru_backward_step, gru_forward_candidate, gru_forward_state
from .common import (
    check_gate_masks, check_inputs, common_dtype, gate_product, masked_step, zeros_state,
)
from .workspace import (
    WORKSPACE, GiveBack, MaskInfo, bptt_start, bptt_steps, grad_needed, outputs, sum_rows,
    time_major,
)

__all__ = ["GRU", "gru", "gru_reference", "gru_recurrence", "gru_gate_scale"]


def gru_gate_scale(H, dtype):
    """(3H,) factors: ½ on the sigmoid gates z, r, 1 on the candidate."""
    s = np.full(3 * H, 0.5, dtype=dtype)
    s[2 * H:] = 1
    return s


def gru_recurrence(A, Hs, UH, recur, b_rec_h, info):
    """The GRU's steps, in place.

    On entry ``A`` (T, B, 3H) holds each step's input part x_t W + b_in with the
    recurrent bias of z and r added and the z, r columns halved (σ(a) = ½ + ½·tanh(a/2));
    ``Hs`` (T+1, B, H) holds h_0 in ``Hs[0]``.  ``recur(h, out)`` writes h U (z, r
    columns halved) into ``out`` (B, 3H); ``b_rec_h`` is the candidate's recurrent bias.
    On exit ``A[t]`` = the gate values z, r, n, ``Hs[t+1]`` = h_t and ``UH[t]`` =
    h_{t−1} U_h + b_rec_h (the backward needs it); padded steps carry the state over.
    """
    T, B, H3 = A.shape
    H2 = 2 * H3 // 3
    rec = np.empty((B, H3), dtype=A.dtype)
    all_real = np.ones(B, dtype=bool)
    for t in range(T):
        h_prev, h = Hs[t], Hs[t + 1]
        if info is not None and info.none_real[t]:
            h[...] = h_prev
            continue
        a = A[t]
        recur(h_prev, rec)
        zr = a[:, :H2]
        zr += rec[:, :H2]
        np.tanh(zr, out=zr)                                  # tanh(a/2) for z, r
        gru_forward_candidate(a, rec, b_rec_h, UH[t])        # z, r; u_h; x_h + r u_h
        n = a[:, H2:]
        np.tanh(n, out=n)                                    # candidate n
        gru_forward_state(a, h_prev, all_real if info is None else info.m[t], h)


class GRU(Function):
    """GRU over all steps, Keras gate order z, r, h with reset_after=True (fused BPTT).

        [x_z x_r x_h] = x_t W + b_in,     [u_z u_r u_h] = h_{t−1} U + b_rec
        z = σ(x_z + u_z),  r = σ(x_r + u_r),  n = tanh(x_h + r ⊙ u_h)
        h_t = z ⊙ h_{t−1} + (1 − z) ⊙ n

    BPTT (dh = dL/dh_t incl. the output grad):
        da_z = dh ⊙ (h_{t−1} − n) ⊙ z(1 − z)     da_n = dh ⊙ (1 − z) ⊙ (1 − n²)
        da_r = da_n ⊙ u_h ⊙ r(1 − r)             du_h = da_n ⊙ r
        dL/dh_{t−1} = dh ⊙ z + [da_z, da_r, du_h] Uᵀ
        dW = Σ x_tᵀ [da_z, da_r, da_n],  db_in = Σ [da_z, da_r, da_n]
        dU = Σ h_{t−1}ᵀ [da_z, da_r, du_h],  db_rec = Σ [da_z, da_r, du_h]
    """

    differentiable = (0, 1, 2, 3, 4)

    @staticmethod
    def forward(ctx, x, h0, W, U, b, mask):
        dt = common_dtype(x, h0, W, U, b)
        B, T, D = x.shape
        H = U.shape[0]
        H2 = 2 * H
        info = MaskInfo.of(mask, dt)
        W, U, b = (a.astype(dt, copy=False) for a in (W, U, b))
        # the recurrent bias of z and r simply adds to the input bias; only b_rec_h
        # stays inside r ⊙ (h U_h + b_rec_h).  Halve the z, r columns: σ(z) = ½ + ½ tanh(z/2).
        half = gru_gate_scale(H, dt)
        bias_x = b[0].copy()
        bias_x[:H2] += b[1, :H2]
        bias_x *= half
        Ws, Us = W * half, U * half
        xt = time_major(x, dt, info)
        A = WORKSPACE.take((T, B, 3 * H), dt)         # pre-activations → (z, r, n)
        np.matmul(xt.reshape(T * B, D), Ws, out=A.reshape(T * B, 3 * H))
        A += bias_x
        Hs = np.empty((T + 1, B, H), dtype=dt)
        Hs[0] = 0 if h0 is None else h0
        UH = WORKSPACE.take((T, B, H), dt)            # u_h = h_{t−1} U_h + b_rec_h
        gru_recurrence(A, Hs, UH, lambda h, out: np.matmul(h, Us, out=out), b[1, H2:], info)
        if grad_needed(ctx):
            ctx.save_for_backward(xt, W, U, A, Hs, UH)
            ctx.info = info
            ctx.scratch = GiveBack(xt, A, UH)
        else:
            WORKSPACE.give(xt, A, UH)
        return outputs(Hs, info), Hs[T].copy()

    @staticmethod
    def backward(ctx, g_hs, g_last):
        xt, W, U, A, Hs, UH = ctx.saved
        info = ctx.info
        T, B, D = xt.shape
        H = U.shape[0]
        H2 = 2 * H
        dt = A.dtype
        dR = WORKSPACE.take((T, B, 3 * H), dt)  # [da_z, da_r, du_h]: grads of h U + b_rec
        dN = WORKSPACE.take((T, B, H), dt)      # da_n: grad of the candidate's input part
        G, dh, UT, tmp = bptt_start(g_hs, g_last, info, U, B, dt)
        if info is not None:
            dR[info.none_real] = 0                  # all-padding steps: no gradient, dh passes
            dN[info.none_real] = 0
        for t, real in bptt_steps(T, G, dh, info):
            gru_backward_step(A[t], UH[t], Hs[t], real, dh, dR[t], dN[t])  # dh ← dh ⊙ z
            np.matmul(dR[t], UT, out=tmp)
            dh += tmp                                           # dL/dh_{t−1}
        needs = ctx.needs_input_grad
        dR2 = dR.reshape(T * B, 3 * H)
        dN2 = dN.reshape(T * B, H)
        x2 = xt.reshape(T * B, D)
        dx = dW = dU = db = None
        if needs[0]:
            dx = dR2[:, :H2] @ W[:, :H2].T
            dx += dN2 @ W[:, H2:].T
            dx = dx.reshape(T, B, D).transpose(1, 0, 2)
        if needs[2]:
            dW = np.empty((D, 3 * H), dtype=dt)
            dW[:, :H2] = x2.T @ dR2[:, :H2]
            dW[:, H2:] = x2.T @ dN2
        if needs[3]:
            dU = Hs[:-1].reshape(T * B, H).T @ dR2
        if needs[4]:
            db = np.empty((2, 3 * H), dtype=dt)
            db[1] = sum_rows(dR2)
            db[0, :H2] = db[1, :H2]
            db[0, H2:] = sum_rows(dN2)
        WORKSPACE.give(dR, dN)
        return dx, (dh if needs[1] else None), dW, dU, db, None


def gru(x, h0, W, U, b, mask=None):
    """GRU over a whole sequence (fused, hand-written BPTT).

    Keras layout, gate order **z, r, h** (update, reset, candidate) along the
    columns of W (D, 3H) and U (H, 3H), ``reset_after=True``; b (2, 3H) =
    [input bias; recurrent bias]::

        z = σ(x_t W_z + b_iz + h U_z + b_hz)     r = σ(x_t W_r + b_ir + h U_r + b_hr)
        ĥ = tanh(x_t W_h + b_ih + r ⊙ (h U_h + b_hh))
        h_t = z ⊙ h_{t−1} + (1 − z) ⊙ ĥ

    This is PyTorch's nn.GRU too (h' = (1 − z) ⊙ n + z ⊙ h), but PyTorch stores the
    gates in the order r, z, n — use :func:`gru_weights_to_torch`.
    h0 (B, H) or None; ``mask`` (B, T) bool.  Returns ``(hs (B, T, H), h_last (B, H))``.
    Derivative: see :class:`GRU`.  Same maths as :func:`gru_reference`.
    """
    *_, m = check_inputs("gru", x, {"h0": h0}, W, U, b, mask, 3, gru_bias=True,
                         numba_kernels=True)
    return GRU.apply(as_tensor(x), None if h0 is None else as_tensor(h0), as_tensor(W),
                     as_tensor(U), as_tensor(b), m)


def gru_reference(x, h0, W, U, b, mask=None, input_masks=None, recurrent_masks=None):
    """Readable twin of :func:`gru`: the cell equations, one step at a time.

    ``input_masks`` / ``recurrent_masks``: 3 dropout masks each (gates z, r, h), as in
    :func:`~tinynlp.functional.rnn.lstm_cell.lstm_reference`.
    """
    B, T, D, H, m = check_inputs("gru_reference", x, {"h0": h0}, W, U, b, mask, 3,
                                 gru_bias=True)
    mx = check_gate_masks(input_masks, 3, B, D, "input_masks", "gru_reference")
    mh = check_gate_masks(recurrent_masks, 3, B, H, "recurrent_masks", "gru_reference")
    x, W, U, b = as_tensor(x), as_tensor(W), as_tensor(U), as_tensor(b)
    h = zeros_state(x, B, H, W, U, b) if h0 is None else as_tensor(h0)
    hs = []
    for t in range(T):
        xs = gate_product(x[:, t], W, mx) + b[0]     # input part of all three gates
        us = gate_product(h, U, mh) + b[1]           # recurrent part of all three gates
        z = ops.sigmoid(xs[:, :H] + us[:, :H])                     # update gate
        r = ops.sigmoid(xs[:, H:2 * H] + us[:, H:2 * H])           # reset gate
        n = ops.tanh(xs[:, 2 * H:] + r * us[:, 2 * H:])            # candidate
        h, out = masked_step(m, t, z * h + (1.0 - z) * n, h)
        hs.append(out)
    return ops.stack(hs, axis=1), h
