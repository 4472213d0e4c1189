"""The LSTM (Keras gate order i, f, c, o): readable twin, fused op, inference path.

:func:`lstm_reference` is the cell one step at a time in primitive ops;
:class:`LSTM` runs all steps fused (one pass of
:func:`~tinynlp.kernels.rnn.lstm_forward_step` per step after its recurrent GEMM,
BPTT by hand).  Without a gradient to compute it runs :func:`lstm_inference`,
which keeps only the current state instead of every step's cells.

The rows of a batch never meet in a recurrence, so all three (inference,
training forward, BPTT) cut the batch into blocks of rows, one per thread
(:func:`row_parts`), and run a block's steps in one Numba call without the GIL
(the ``*_steps`` kernels of :mod:`tinynlp.kernels.rnn`, each tested against its
NumPy twin; :func:`lstm_blocks_inference` says why).  Where :func:`step_gemm`
finds that slower, the whole batch takes the NumPy path: x_t W for a chunk of
steps in one GEMM, then a Python loop over the steps.

Internally the gates are in the order o, i, f, c (the three sigmoid gates
contiguous, and the three blocks multiplied by dL/dc in the backward too), and
the sigmoid gates' columns of W, U and b are halved, so that one tanh per gate
does the work: σ(z) = ½ + ½·tanh(z/2) (halving is exact in floating point).
"""

from __future__ import annotations

import numba
import numpy as np

from ...autograd import ops
from ...autograd.tensor import Function, as_tensor
from ...kernels.blas import ONE_THREAD_PRODUCT, numpy_gemm, short_blas_spin
from ...kernels.rnn import (
    lstm_backward_step, lstm_backward_steps, lstm_forward_step, lstm_forward_steps,
    lstm_train_forward_steps,
)
from ...workers import row_blocks, run_parts
from .common import (
    check_gate_masks, check_inputs, common_dtype, gate_product, masked_step, zeros_state,
)
from .workspace import (
    WORKSPACE, GiveBack, MaskInfo, bptt_start, bptt_steps, grad_needed, outputs, steps_per_chunk,
    sum_rows, time_major, time_major_view,
)

__all__ = ["LSTM", "lstm", "lstm_reference", "lstm_inference", "lstm_blocks_inference",
           "run_inference", "run_training_forward", "run_bptt", "internal_weights",
           "lstm_to_internal", "lstm_from_internal", "lstm_gate_scale"]


def lstm_to_internal(a, axis=-1):
    """Keras gate blocks (i, f, c, o) → the internal order (o, i, f, c) along ``axis``
    (the last or the first; a copy)."""
    return _move_blocks(a, 3, axis)


def lstm_from_internal(a, axis=-1):
    """The internal gate order (o, i, f, c) → Keras' (i, f, c, o) along ``axis`` (a copy)."""
    return _move_blocks(a, 1, axis)


def _move_blocks(a, k, axis):
    """The last 4 − k of the four gate blocks first, then the first k (one concatenate:
    measured 5× faster than ``np.roll`` on these small arrays)."""
    cut = k * (a.shape[axis] // 4)
    if axis == 0:
        return np.concatenate([a[cut:], a[:cut]], axis=0)
    return np.concatenate([a[..., cut:], a[..., :cut]], axis=-1)


def lstm_gate_scale(H, dtype):
    """(4H,) factors: ½ on the internal order's sigmoid gates (o, i, f), 1 on c."""
    s = np.full(4 * H, 0.5, dtype=dtype)
    s[3 * H:] = 1
    return s


#: a step's recurrent product (B · H · 4H multiply-adds) from this size up is shared out
#: over tinynlp's threads by blocks of batch rows (:func:`lstm_blocks_inference`); below it the
#: threads' hand-offs cost more than the step
SPLIT_PRODUCT = 1 << 18
#: the fewest batch rows a thread takes (fewer rows make a poor GEMM)
MIN_ROWS_PER_THREAD = 8


def row_parts(B, H):
    """How many blocks of batch rows the LSTM shares over threads: one when
    the products are small, or when OpenBLAS's idle threads spin long enough to take a
    core from the blocks (:func:`~tinynlp.kernels.blas.short_blas_spin`: NumPy imported
    before tinynlp, without ``OPENBLAS_THREAD_TIMEOUT``)."""
    if B * H * 4 * H < SPLIT_PRODUCT or not short_blas_spin():
        return 1
    return max(1, min(numba.get_num_threads(), B // MIN_ROWS_PER_THREAD))


def step_gemm(dt, parts, B, H):
    """NumPy's GEMM for the Numba step loops, or None for the Python loops (np.matmul).

    One block of rows on several threads is the exception: a product larger than a
    tile is then better left whole to OpenBLAS's own threads (measured with
    ``benchmarks/lstm_rows.py``, LSTM(128), 100 steps, batch 32, two threads: a
    forward and backward of 20.0 ms in one-thread tiles, 17.0 ms on the NumPy path).
    On one thread the tiles win (24.0 against 27.4 ms).
    """
    if parts == 1 and numba.get_num_threads() > 1 and B * H * 4 * H > ONE_THREAD_PRODUCT:
        return None
    return numpy_gemm(dt)


def _plan(dt, B, H):
    """``(parts, gemm)``: the blocks of rows (:func:`row_parts`) and the GEMM of their Numba
    kernels (:func:`step_gemm`); without that GEMM, the whole batch in one block on the
    NumPy path."""
    parts = row_blocks(B, row_parts(B, H))
    gemm = step_gemm(dt, len(parts), B, H)
    return (parts if gemm is not None else [(0, B)]), gemm


def lstm_inference(T, B, H, dt, project, recur, bs, h0, c0, info):
    """The forward of :class:`LSTM` when no gradient will be asked for.

    The same arithmetic, in the same order, as the training forward's NumPy path
    (so the outputs agree bit for bit), but nothing is kept for backpropagation:
    only the (B, H) state h, c and tanh(c) scratch and the output are written per
    step, instead of the (T+1, B, H) cells and tanh(c) of every step.  Time-major,
    so that every slab the per-step kernel touches is contiguous (a strided slab
    keeps LLVM from vectorising it: measured 2× slower for the whole forward).

    ``project(t0, t1, out)`` writes x_t W of steps t0 ≤ t < t1 into ``out``
    (t1 − t0, B, 4H) and ``recur(h, out)`` writes h U into ``out`` (B, 4H), both in
    the internal order with halved sigmoid columns; ``bs`` is the bias likewise.
    (A float GEMM here; a quantized layer passes its int8 products: its state scale
    is the whole batch's, so it needs this loop over all rows.)  Where
    :func:`step_gemm` allows, the float LSTM takes :func:`lstm_blocks_inference`.
    Returns time-major ``(out (T, B, H), h_last, c_last)``.
    """
    S = steps_per_chunk(B, 4 * H, dt)
    A = WORKSPACE.take((S, B, 4 * H), dt)                 # x_t W of S steps at a time
    out = np.empty((T, B, H), dtype=dt)
    # two buffers each for h and c, swapped every step: the kernel's vectorised
    # loop falls back to scalar code when an output overlaps an input
    hs = np.empty((2, B, H), dtype=dt)
    cs = np.empty((2, B, H), dtype=dt)
    hs[0] = 0 if h0 is None else h0
    cs[0] = 0 if c0 is None else c0
    rec = np.empty((B, 4 * H), dtype=dt)
    tc = np.empty((B, H), dtype=dt)
    real = np.ones(B, dtype=bool)
    cur = 0                                     # hs[cur], cs[cur]: the current state
    h_prev = hs[0]                              # without a mask h_t lives in out[t]
    for t in range(T):
        if t % S == 0:
            t1 = min(t + S, T)
            project(t, t1, A[:t1 - t])
        if info is not None:
            if info.none_real[t]:
                out[t] = 0
                continue
            real = info.m[t]
        recur(h_prev, rec)
        nxt = 1 - cur
        h_new = out[t] if info is None else hs[nxt]
        # gates, c_t, tanh(c_t), h_t = o tanh(c_t) in one pass (padded rows keep h, c)
        lstm_forward_step(A[t % S], rec, bs, cs[cur], h_prev, real, cs[nxt], tc, h_new)
        if info is not None:
            np.multiply(h_new, real[:, None], out=out[t])   # padded steps output zero
        h_prev, cur = h_new, nxt
    WORKSPACE.give(A)
    return out, h_prev.copy(), cs[cur].copy()


def lstm_blocks_inference(gemm, xt, W, U, bs, h0, c0, info, parts, lookup=None):
    """The forward of :class:`LSTM` without a gradient, in blocks of batch rows.

    The rows of a batch never meet in a recurrence, so each block of ``parts``
    (:func:`row_parts`: one per thread, given out by
    :func:`~tinynlp.workers.run_parts`) runs every step on its own, in one Numba
    call without the GIL (:func:`~tinynlp.kernels.rnn.lstm_forward_steps`): per
    step x_t W and h_{t−1} U for its rows, through NumPy's own OpenBLAS in tiles
    it runs on the calling thread (``gemm``: :func:`step_gemm`), then the step
    kernel.  The threads never meet until the end.  (A Python loop per block
    would hold the GIL at every step, and the threads would queue for it.)

    ``xt`` (T, B, D) contiguous, W (D, 4H), U (H, 4H) and ``bs`` in the internal
    order with halved sigmoid columns; or ``xt``, ``W`` None and ``lookup`` =
    ``(P, idx)``: x_t W is row ``idx[t, b]`` of P (:func:`~.embedding_lstm.lstm_lookup`).  Returns
    time-major ``(out, h_last, c_last)``.
    """
    dt = bs.dtype
    T, B = _steps_and_rows(xt, lookup)
    xt, W, P, idx = _step_inputs(xt, W, lookup, dt)
    H = U.shape[0]
    out = np.empty((T, B, H), dtype=dt)
    hs = np.empty((2, B, H), dtype=dt)              # h, c now and next, swapped each step
    cs = np.empty((2, B, H), dtype=dt)
    hs[0] = 0 if h0 is None else h0
    cs[0] = 0 if c0 is None else c0
    m, none_real, _, _ = _mask_arrays(info)
    cur = {}

    def block(lo, hi):
        scratch = [np.empty((hi - lo, n), dtype=dt) for n in (4 * H, 4 * H, H)]
        cur[lo] = lstm_forward_steps(gemm, xt, W, P, idx, lo, hi, U, bs, hs, cs, out, *scratch,
                                     m, none_real)
    run_parts(block, parts)
    return (out, np.concatenate([hs[cur[lo], lo:hi] for lo, hi in parts]),
            np.concatenate([cs[cur[lo], lo:hi] for lo, hi in parts]))


def _steps_and_rows(xt, lookup):
    """``(T, B)`` of the input: ``xt`` (T, B, D), or the (T, B) ids of ``lookup``."""
    return lookup[1].shape if lookup is not None else xt.shape[:2]


def _step_inputs(xt, Ws, lookup, dt):
    """``(xt, Ws, P, idx)`` as the step kernels take them: the unused pair empty."""
    if lookup is None:
        return xt, Ws, _NO_ROWS.astype(dt), _NO_IDX
    P, idx = lookup
    return _EMPTY3.astype(dt), _NO_ROWS.astype(dt), P, idx


def _projector(xt, Ws, lookup):
    """``project(t0, t1, out)``: x_t W of steps t0 ≤ t < t1 into ``out`` (t1 − t0, B, 4H),
    by one GEMM, or (``lookup`` = ``(P, idx)``) as the rows of P."""
    if lookup is not None:
        P, idx = lookup
        return lambda t0, t1, out: np.take(P, idx[t0:t1], axis=0, out=out)
    _, B, D = xt.shape

    def project(t0, t1, out):
        np.matmul(xt[t0:t1].reshape((t1 - t0) * B, D), Ws,
                  out=out.reshape((t1 - t0) * B, out.shape[2]))
    return project


def run_inference(xt, Ws, Us, bs, h0, c0, info, lookup=None):
    """The LSTM's forward without a gradient, time-major ``(out, h_last, c_last)``: in
    blocks of rows where :func:`_plan` allows (:func:`lstm_blocks_inference`), else the
    whole batch on the NumPy path (:func:`lstm_inference`).  The input is ``xt`` (T, B, D)
    with ``Ws``, or ``lookup`` = ``(P, idx)`` (:func:`~.embedding_lstm.lstm_lookup`)."""
    T, B = _steps_and_rows(xt, lookup)
    H, dt = Us.shape[0], bs.dtype
    parts, gemm = _plan(dt, B, H)
    if gemm is not None:
        return lstm_blocks_inference(gemm, xt, Ws, Us, bs, h0, c0, info, parts, lookup)
    return lstm_inference(T, B, H, dt, _projector(xt, Ws, lookup),
                          lambda h, r: np.matmul(h, Us, out=r), bs, h0, c0, info)


def run_training_forward(xt, Ws, Us, bs, h0, c0, info, lookup=None):
    """The LSTM's forward when a backward will follow, keeping what BPTT needs:
    ``(A, Hs, C, TC)`` — every step's gate values (T, B, 4H) (o, i, f, g), the states h
    and c (T+1, B, H) (index 0: the initial state) and tanh(c_t) (T, B, H); A, C and TC
    are :data:`WORKSPACE` buffers.  The input as in :func:`run_inference`."""
    T, B = _steps_and_rows(xt, lookup)
    H, dt = Us.shape[0], bs.dtype
    A = WORKSPACE.take((T, B, 4 * H), dt)       # x_t W → gate values (o, i, f, g)
    Hs = np.empty((T + 1, B, H), dtype=dt)
    C = WORKSPACE.take((T + 1, B, H), dt)
    TC = WORKSPACE.take((T, B, H), dt)          # tanh(c_t)
    Hs[0] = 0 if h0 is None else h0
    C[0] = 0 if c0 is None else c0
    parts, gemm = _plan(dt, B, H)
    if gemm is not None:
        # each thread its own block of rows, all steps, x_t W too (as in
        # lstm_blocks_inference), keeping every step's gates, c, tanh(c) and h
        m, none_real, _, _ = _mask_arrays(info)
        xs, W, P, idx = _step_inputs(xt, Ws, lookup, dt)
        run_parts(lambda lo, hi: lstm_train_forward_steps(
            gemm, xs, W, P, idx, lo, hi, Us, bs, Hs, C, TC, A, np.empty((hi - lo, 4 * H), dt),
            m, none_real), parts)
        return A, Hs, C, TC
    project = _projector(xt, Ws, lookup)
    S = steps_per_chunk(B, 4 * H, dt)
    rec = np.empty((B, 4 * H), dtype=dt)
    all_real = np.ones(B, dtype=bool)
    for t in range(T):
        if t % S == 0:                           # x_t W for the next S steps
            t1 = min(t + S, T)
            project(t, t1, A[t:t1])
        if info is not None and info.none_real[t]:
            Hs[t + 1] = Hs[t]
            C[t + 1] = C[t]
            continue
        real = all_real if info is None else info.m[t]
        np.matmul(Hs[t], Us, out=rec)
        # one pass: gates A[t] ← σ/tanh(A[t] + rec + b), c_t = f c_{t−1} + i g,
        # TC[t] = tanh(c_t), h_t = o tanh(c_t)  (padded rows keep h and c)
        lstm_forward_step(A[t], rec, bs, C[t], Hs[t], real, C[t + 1], TC[t], Hs[t + 1])
    return A, Hs, C, TC


def run_bptt(A, TC, C, Up, g_hs, g_h, g_c, info):
    """Back-propagation through every step, last to first: ``(dA, dh, dc)`` — dL/da_t
    (T, B, 4H) (o, i, f, g; a :data:`WORKSPACE` buffer), dL/dh_0 and dL/dc_0."""
    T, B, H4 = A.shape
    H, dt = H4 // 4, A.dtype
    dA = WORKSPACE.take((T, B, 4 * H), dt)      # dL/da for every step (order o, i, f, g)
    G, dh, UT, tmp = bptt_start(g_hs, g_h, info, Up, B, dt)
    dc = np.zeros((B, H), dt) if g_c is None else g_c.astype(dt, copy=True)
    if info is not None:
        dA[info.none_real] = 0                  # all-padding steps: dh, dc pass unchanged
    parts, gemm = _plan(dt, B, H)
    if gemm is not None:
        # each thread its own block of rows, all steps (see lstm_blocks_inference)
        m, none_real, any_pad, keep = _mask_arrays(info)
        G = _EMPTY3.astype(dt) if G is None else np.ascontiguousarray(G)
        run_parts(lambda lo, hi: lstm_backward_steps(
            gemm, A, TC, C, UT, G, lo, hi, dh[lo:hi], dc[lo:hi], dA, tmp[lo:hi], m,
            none_real, any_pad, keep), parts)
        return dA, dh, dc
    for t, real in bptt_steps(T, G, dh, info):
        # da_t into dA[t]; dc ← dL/dc_{t−1}
        lstm_backward_step(A[t], TC[t], C[t], real, dh, dc, dA[t])
        if info is not None and info.any_pad[t]:
            np.matmul(dA[t], UT, out=tmp)
            dh *= info.keep[t]
            dh += tmp
        else:
            np.matmul(dA[t], UT, out=dh)                # dL/dh_{t−1} = da_t Uᵀ
    return dA, dh, dc


def internal_weights(W, U, b, dt):
    """``(Wp, Up, bp, Ws, Us, bs)``: W, U, b in the internal gate order (o, i, f, c), then
    the same with the sigmoid gates' columns halved.

    σ(z) = ½ + ½ tanh(z/2): halving the sigmoid gates' columns lets one tanh over all four
    blocks do the work (halving is exact in floating point).
    """
    Wp, Up, bp = (lstm_to_internal(a).astype(dt, copy=False) for a in (W, U, b))
    half = lstm_gate_scale(Up.shape[0], dt)
    return Wp, Up, bp, Wp * half, Up * half, bp * half


_NO_MASK = np.zeros((0, 0), dtype=bool)
_NO_STEPS = np.zeros(0, dtype=bool)
_NO_KEEP = np.zeros((0, 0))
_NO_ROWS = np.zeros((0, 0))
_NO_IDX = np.zeros((0, 0), dtype=np.intp)


_EMPTY3 = np.zeros((0, 0, 0))


def _mask_arrays(info):
    """``(m, none_real, any_pad, keep)`` of a :class:`MaskInfo` as the step kernels take them
    (empty arrays without a mask)."""
    if info is None:
        return _NO_MASK, _NO_STEPS, _NO_STEPS, _NO_KEEP
    return info.m, info.none_real, info.any_pad, info.keep[:, :, 0]


class LSTM(Function):
    """LSTM over all steps (Keras gate order i, f, c, o; fused, hand-written BPTT).

        [a_i a_f a_c a_o] = x_t W + h_{t−1} U + b
        i = σ(a_i),  f = σ(a_f),  g = tanh(a_c),  o = σ(a_o)
        c_t = f ⊙ c_{t−1} + i ⊙ g,     h_t = o ⊙ tanh(c_t)

    BPTT (dh = dL/dh_t incl. the output grad, dc = dL/dc_t incl. the path from h_t):
        dc += dh ⊙ o ⊙ (1 − tanh² c_t)
        da_o = dh ⊙ tanh c_t ⊙ o(1 − o)      da_i = dc ⊙ g ⊙ i(1 − i)
        da_f = dc ⊙ c_{t−1} ⊙ f(1 − f)       da_c = dc ⊙ i ⊙ (1 − g²)
        dL/dc_{t−1} = dc ⊙ f,   dL/dh_{t−1} = da Uᵀ,   dW = Σ x_tᵀ da, dU = Σ h_{t−1}ᵀ da
    Each backward step is one pass of :func:`~tinynlp.kernels.rnn.lstm_backward_step`
    (the lines above) and one GEMM; gates are stored internally in the order
    o, i, f, c so that the three sigmoid gates are contiguous.
    """

    differentiable = (0, 1, 2, 3, 4, 5)

    @staticmethod
    def forward(ctx, x, h0, c0, W, U, b, mask):
        dt = common_dtype(x, h0, c0, W, U, b)
        Wp, Up, _, Ws, Us, bs = internal_weights(W, U, b, dt)
        info = MaskInfo.of(mask, dt)
        if not grad_needed(ctx):
            xt, owned = time_major_view(x, dt, info)
            out, h, c = run_inference(xt, Ws, Us, bs, h0, c0, info)
            if owned:
                WORKSPACE.give(xt)
            return out.transpose(1, 0, 2), h, c
        xt = time_major(x, dt, info)
        A, Hs, C, TC = run_training_forward(xt, Ws, Us, bs, h0, c0, info)
        ctx.save_for_backward(xt, Wp, Up, A, Hs, C, TC)
        ctx.info = info
        ctx.scratch = GiveBack(xt, A, C, TC)
        return outputs(Hs, info), Hs[-1].copy(), C[-1].copy()

    @staticmethod
    def backward(ctx, g_hs, g_h, g_c):
        xt, Wp, Up, A, Hs, C, TC = ctx.saved
        T, B, D = xt.shape
        H = Up.shape[0]
        dA, dh, dc = run_bptt(A, TC, C, Up, g_hs, g_h, g_c, ctx.info)
        needs = ctx.needs_input_grad
        dA2 = dA.reshape(T * B, 4 * H)
        dx = dW = dU = db = None
        if needs[0]:
            dx = (dA2 @ Wp.T).reshape(T, B, D).transpose(1, 0, 2)
        if needs[3]:
            dW = lstm_from_internal(xt.reshape(T * B, D).T @ dA2)
        if needs[4]:
            dU = lstm_from_internal(Hs[:-1].reshape(T * B, H).T @ dA2)
        if needs[5]:
            db = lstm_from_internal(sum_rows(dA2))
        WORKSPACE.give(dA)
        return (dx, dh if needs[1] else None, dc if needs[2] else None, dW, dU, db, None)


def lstm(x, h0, c0, W, U, b, mask=None):
    """LSTM over a whole sequence (fused, hand-written BPTT).

    Keras layout and gate order **i, f, c, o** (input, forget, cell candidate,
    output) along the columns of W (D, 4H), U (H, 4H) and b (4H,) — the same
    order as PyTorch's i, f, g, o rows (see :func:`lstm_weights_to_torch`)::

        i = σ(x_t W_i + h U_i + b_i)    f = σ(x_t W_f + h U_f + b_f)
        g = tanh(x_t W_c + h U_c + b_c) o = σ(x_t W_o + h U_o + b_o)
        c_t = f ⊙ c_{t−1} + i ⊙ g       h_t = o ⊙ tanh(c_t)

    h0, c0 (B, H) or None (zeros); ``mask`` (B, T) bool: padded steps keep h and c
    and output zeros.  Returns ``(hs (B, T, H), h_last (B, H), c_last (B, H))``.
    Derivative: see :class:`LSTM`.  Same maths as :func:`lstm_reference`.
    """
    *_, m = check_inputs("lstm", x, {"h0": h0, "c0": c0}, W, U, b, mask, 4,
                         numba_kernels=True)
    return LSTM.apply(as_tensor(x), None if h0 is None else as_tensor(h0),
                      None if c0 is None else as_tensor(c0), as_tensor(W), as_tensor(U),
                      as_tensor(b), m)


def lstm_reference(x, h0, c0, W, U, b, mask=None, input_masks=None, recurrent_masks=None):
    """Readable twin of :func:`lstm`: the cell equations, one step at a time.

    ``input_masks`` / ``recurrent_masks``: 4 dropout masks each (gates i, f, c, o; (B, D) /
    (B, H), the same at every step), as Keras' ``dropout`` / ``recurrent_dropout`` apply
    them: gate g reads x_t ⊙ m_x[g] and h ⊙ m_h[g] (see :func:`.common.gate_product`).
    """
    B, T, D, H, m = check_inputs("lstm_reference", x, {"h0": h0, "c0": c0}, W, U, b, mask, 4)
    mx = check_gate_masks(input_masks, 4, B, D, "input_masks", "lstm_reference")
    mh = check_gate_masks(recurrent_masks, 4, B, H, "recurrent_masks", "lstm_reference")
    x, W, U, b = as_tensor(x), as_tensor(W), as_tensor(U), as_tensor(b)
    h = zeros_state(x, B, H, W, U, b) if h0 is None else as_tensor(h0)
    c = zeros_state(x, B, H, W, U, b) if c0 is None else as_tensor(c0)
    hs = []
    for t in range(T):
        z = gate_product(x[:, t], W, mx) + gate_product(h, U, mh) + b
        i = ops.sigmoid(z[:, 0 * H:1 * H])      # input gate
        f = ops.sigmoid(z[:, 1 * H:2 * H])      # forget gate
        g = ops.tanh(z[:, 2 * H:3 * H])         # cell candidate
        o = ops.sigmoid(z[:, 3 * H:4 * H])      # output gate
        c_new = f * c + i * g
        h, out = masked_step(m, t, o * ops.tanh(c_new), h)
        c, _ = masked_step(m, t, c_new, c)
        hs.append(out)
    return ops.stack(hs, axis=1), h, c
