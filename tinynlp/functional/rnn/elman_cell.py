"""The Elman RNN  h_t = σ(x_t W + h_{t−1} U + b): readable twin, fused op, inference path.

:func:`elman_rnn_reference` is the formula one step at a time in primitive ops
(autograd derives BPTT); :class:`ElmanRNN` runs all steps fused, with BPTT by
hand.  Without a gradient to compute it takes the same forward
(:func:`elman_recurrence`) and keeps nothing for the backward.
"""

from __future__ import annotations

import numpy as np

from ...autograd import ops
from ...autograd.tensor import Function, as_tensor
from ...kernels.activations import activation_derivative, apply_activation_
from ..activations import get_activation
from .common import (
    check_activation, check_gate_masks, check_inputs, common_dtype, gate_product, masked_step,
    zeros_state,
)
from .workspace import (
    WORKSPACE, GiveBack, MaskInfo, bptt_start, bptt_steps, grad_needed, outputs, sum_rows,
    time_major,
    time_major_view,
)

__all__ = ["ElmanRNN", "elman_rnn", "elman_rnn_reference", "elman_recurrence"]


def elman_recurrence(Hs, recur, act, info, zero_start=False):
    """h_t = σ(z_t + h_{t−1} U) for t = 1..T, in place on the states ``Hs`` (T+1, B, H).

    On entry ``Hs[0]`` = h_0 and ``Hs[t]`` (t ≥ 1) = x_t W + b, the input part of
    z_t; on exit ``Hs[t]`` = h_t.  ``recur(h, out)`` writes ``h U`` into ``out``
    (a float GEMM, or the int8 one of a quantized layer); ``act`` is an
    :class:`~tinynlp.kernels.activations.Act`; ``info`` a :class:`MaskInfo` or None:
    at a padded step the state is carried over (h_t = h_{t−1}).  ``zero_start``:
    h_0 = 0, so the first step skips its recurrent product.
    """
    rec = None
    for t in range(Hs.shape[0] - 1):
        h_prev, h = Hs[t], Hs[t + 1]
        if info is not None and info.none_real[t]:
            h[...] = h_prev
            continue
        if t or not zero_start:
            if rec is None:
                rec = np.empty_like(h)
            recur(h_prev, rec)
            h += rec
        apply_activation_(h, act)
        if info is not None and info.any_pad[t]:
            np.copyto(h, h_prev, where=info.pad[t])


class ElmanRNN(Function):
    """h_t = σ(z_t),  z_t = x_t W + h_{t−1} U + b   (t = 1..T), all steps fused.

    BPTT, with δ_t = dL/dz_t and dL/dh_t = g_t + δ_{t+1} Uᵀ (g_t the output grad):
        δ_t = dL/dh_t ⊙ σ'(z_t)
        dL/dx_t = δ_t Wᵀ,  dL/dh0 = δ_1 Uᵀ
        dL/dW = Σ_t x_tᵀ δ_t,  dL/dU = Σ_t h_{t−1}ᵀ δ_t,  dL/db = Σ_t Σ_batch δ_t
    At a padded step h_t = h_{t−1}: δ_t = 0 and dL/dh_{t−1} = dL/dh_t.

    The forward runs time-major (every step's slab contiguous): the input
    projection of all steps is one GEMM written where the states will live,
    then :func:`elman_recurrence`.  With no gradient to compute (inference)
    nothing is kept.
    """

    differentiable = (0, 1, 2, 3, 4)

    @staticmethod
    def forward(ctx, x, h0, W, U, b, mask, act):
        dt = common_dtype(x, h0, W, U, b)
        W, U, b = (a.astype(dt, copy=False) for a in (W, U, b))
        B, T, D = x.shape
        H = U.shape[0]
        info = MaskInfo.of(mask, dt)
        training = grad_needed(ctx)
        if training:
            xt, owned = time_major(x, dt, info), True            # (T, B, D), kept for dW
        else:
            xt, owned = time_major_view(x, dt, info)   # read in place if nothing to zero
        Hs = np.empty((T + 1, B, H), dtype=dt)                    # Hs[t+1] = h_t
        Hs[0] = 0 if h0 is None else h0
        # input projection of every step at once, written where h_t will live
        np.matmul(xt.reshape(T * B, D), W, out=Hs[1:].reshape(T * B, H))
        Hs[1:] += b
        elman_recurrence(Hs, lambda h, out: np.matmul(h, U, out=out), act, info,
                         zero_start=h0 is None)
        if training:
            ctx.save_for_backward(xt, W, U, Hs)
            ctx.info, ctx.act = info, act
            ctx.scratch = GiveBack(xt)
        elif owned:
            WORKSPACE.give(xt)
        return outputs(Hs, info), Hs[T].copy()

    @staticmethod
    def backward(ctx, g_hs, g_last):
        xt, W, U, Hs = ctx.saved
        info = ctx.info
        T, B, D = xt.shape
        H = U.shape[0]
        dt = Hs.dtype
        dZ = WORKSPACE.take((T, B, H), dt)
        activation_derivative(Hs[1:], ctx.act, out=dZ)             # σ'(z_t), all steps
        if info is not None:
            np.copyto(dZ, 0, where=info.pad)
        G, dh, UT, rec = bptt_start(g_hs, g_last, info, U, B, dt)
        for t, _ in bptt_steps(T, G, dh, info):                  # (all-padding steps: δ_t = 0)
            dz = dZ[t]
            dz *= dh                                               # δ_t
            if info is not None and info.any_pad[t]:
                np.matmul(dz, UT, out=rec)
                dh *= info.keep[t]
                dh += rec
            else:
                np.matmul(dz, UT, out=dh)                          # dL/dh_{t−1}
        needs = ctx.needs_input_grad
        dZ2 = dZ.reshape(T * B, H)
        dx = (dZ2 @ W.T).reshape(T, B, D).transpose(1, 0, 2) if needs[0] else None
        dW = xt.reshape(T * B, D).T @ dZ2 if needs[2] else None
        dU = Hs[:-1].reshape(T * B, H).T @ dZ2 if needs[3] else None
        db = sum_rows(dZ2) if needs[4] else None
        WORKSPACE.give(dZ)
        return dx, (dh if needs[1] else None), dW, dU, db, None


def elman_rnn(x, h0, W, U, b, activation="tanh", mask=None):
    """Elman RNN over a whole sequence (fused, hand-written BPTT).

        h_t = σ(x_t W + h_{t−1} U + b),   t = 1..T,   h_0 = h0 (zeros if None)

    x (B, T, D), h0 (B, H) or None, W (D, H), U (H, H), b (H,);
    ``activation`` σ ∈ {"tanh", "relu", "sigmoid", "linear"}; ``mask`` (B, T) bool:
    padded steps keep the state and output zeros (see :mod:`tinynlp.functional.rnn`).

    Returns ``(hs, h_last)``: hs (B, T, H) the state after every step, h_last
    (B, H) the final state.  Derivative: see :class:`ElmanRNN`.
    Same maths as :func:`elman_rnn_reference`.
    """
    act = check_activation("elman_rnn", activation)
    *_, m = check_inputs("elman_rnn", x, {"h0": h0}, W, U, b, mask, 1)
    return ElmanRNN.apply(as_tensor(x), None if h0 is None else as_tensor(h0), as_tensor(W),
                          as_tensor(U), as_tensor(b), m, act=act)


def elman_rnn_reference(x, h0, W, U, b, activation="tanh", mask=None, input_masks=None,
                        recurrent_masks=None):
    """Readable twin of :func:`elman_rnn`: one line of maths per time step.

    Each step is ``h = σ(x[:, t] @ W + h @ U + b)`` built from primitive ops,
    so autograd derives BPTT by itself.  Masked steps keep ``h`` and output 0.

    ``input_masks`` / ``recurrent_masks``: dropout masks (B, D) / (B, H), the same at
    every step (Keras' ``dropout`` / ``recurrent_dropout``): x_t ⊙ m_x and h ⊙ m_h
    replace x_t and h in the products — the layers' per-step path when training with
    ``recurrent_dropout`` (the fused op has no place for them).
    """
    act = check_activation("elman_rnn_reference", activation)
    B, T, D, H, m = check_inputs("elman_rnn_reference", x, {"h0": h0}, W, U, b, mask, 1)
    mx = check_gate_masks(input_masks, 1, B, D, "input_masks", "elman_rnn_reference")
    mh = check_gate_masks(recurrent_masks, 1, B, H, "recurrent_masks", "elman_rnn_reference")
    x, W, U, b = as_tensor(x), as_tensor(W), as_tensor(U), as_tensor(b)
    sigma = get_activation(act.name.lower())
    h = zeros_state(x, B, H, W, U, b) if h0 is None else as_tensor(h0)
    hs = []
    for t in range(T):
        h_new = sigma(gate_product(x[:, t], W, mx) + gate_product(h, U, mh) + b)
        h, out = masked_step(m, t, h_new, h)           # padding: carry h, output zero
        hs.append(out)
    return ops.stack(hs, axis=1), h
