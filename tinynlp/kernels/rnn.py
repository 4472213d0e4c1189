"""Per-time-step elementwise math of the fused LSTM / GRU (backward and forward).

The fused recurrent ops (:mod:`tinynlp.functional.rnn`) spend each step on one
GEMM plus a handful of elementwise products.  Done with NumPy, those products
are a dozen separate passes (or, vectorised over all steps, several passes over
(T, B, 4H) arrays that do not fit in cache).  These kernels do them in one pass
over a step's (B, H) slab, while it is in cache.  The LSTM forward step applies
its own activations with :func:`~tinynlp.kernels.activations.fast_tanh` (a
vectorisable float32 tanh, libm's for float64); the other kernels receive gate
values already activated by NumPy.

Gate layouts (the fused ops' internal orders):
    LSTM ``gates`` (B, 4H): blocks o, i, f, g (σ, σ, σ, tanh).
    GRU  ``gates`` (B, 3H): blocks z, r, n (σ, σ, tanh), all activated.

``real`` (B,) bool marks the rows whose step is a real token; at a padded row
the state is carried over, so the row gets no gradient and passes dh / dc on
unchanged.

Each kernel has a NumPy twin ``<name>_reference``; tests assert they agree.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .activations import fast_tanh
from .blas import gemm_tiles

__all__ = [
    "lstm_forward_step", "lstm_forward_step_reference", "lstm_forward_steps",
    "lstm_forward_steps_reference", "lstm_train_forward_steps",
    "lstm_train_forward_steps_reference", "lstm_backward_steps",
    "lstm_backward_steps_reference",
    "lstm_backward_step", "lstm_backward_step_reference",
    "gru_forward_candidate", "gru_forward_candidate_reference",
    "gru_forward_state", "gru_forward_state_reference",
    "gru_backward_step", "gru_backward_step_reference",
]


# --------------------------------------------------------------------------
# LSTM
# --------------------------------------------------------------------------

def lstm_forward_step_reference(gates, rec, bias, c_prev, h_prev, real, c, tc, h):
    """One LSTM step after its recurrent GEMM, NumPy twin of :func:`lstm_forward_step`.

    In:  gates (B, 4H) = x_t W, rec (B, 4H) = h_{t−1} U and bias (4H,), all in
         the internal order o, i, f, g with the sigmoid blocks' columns halved,
         so that a = gates + rec + bias holds a/2 for o, i, f and a for g;
         c_prev = c_{t−1}, h_prev = h_{t−1} (B, H);  real (B,) bool.
    Out: gates ← o, i, f, g = σ(a_o), σ(a_i), σ(a_f), tanh(a_g)
                 (σ(z) = ½ + ½·tanh(z/2), so every gate is one tanh);
         c ← f ⊙ c_prev + i ⊙ g;   tc ← tanh(c);   h ← o ⊙ tc
         (padded rows: c ← c_prev, tc ← tanh(c_prev), h ← h_prev).
    ``c`` may be ``c_prev`` and ``h`` may be ``h_prev`` (updated in place) —
    correct, but then the fast path's loops run as scalar code (LLVM's overlap
    check fails), so the fused op alternates between two state buffers.
    """
    H = c.shape[1]
    a = np.tanh(gates + rec + bias)
    a[:, :3 * H] = 0.5 + 0.5 * a[:, :3 * H]
    o, i, f, g = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
    r = real[:, None]
    c_new = np.where(r, f * c_prev + i * g, c_prev)
    tc_new = np.tanh(c_new)
    h_new = np.where(r, o * tc_new, h_prev)
    gates[...] = a
    c[...] = c_new
    tc[...] = tc_new
    h[...] = h_new


@njit(cache=True, error_model="numpy", nogil=True)
def lstm_forward_step(gates, rec, bias, c_prev, h_prev, real, c, tc, h):
    """Fast path of :func:`lstm_forward_step_reference`: the adds, the five tanh,
    the cell update and h in a few short loops per row, while the row is in cache.

    Each loop runs from 0 over at most three arrays; measured here, one loop
    over all thirteen row slices, or a loop starting at an offset, did not
    vectorise (2–4× slower).
    """
    B, H = c.shape
    H3 = 3 * H
    half = np.full(1, 0.5, dtype=c.dtype)[0]   # typed constant: float32 stays float32
    for b in range(B):
        gb, rb = gates[b], rec[b]
        for j in range(H3):                     # σ(a) = ½ + ½ tanh(a/2), columns pre-halved
            gb[j] = half + half * fast_tanh(gb[j] + rb[j] + bias[j])
        gg, rg, bg = gb[H3:], rb[H3:], bias[H3:]   # (a loop starting at H3 would not vectorise)
        for j in range(H):
            gg[j] = fast_tanh(gg[j] + rg[j] + bg[j])
        cb, tcb, hb = c[b], tc[b], h[b]
        if real[b]:
            i, f, g = gb[H:2 * H], gb[2 * H:H3], gb[H3:]
            cpb = c_prev[b]
            for j in range(H):
                cb[j] = f[j] * cpb[j] + i[j] * g[j]
        else:
            cb[:] = c_prev[b]
        for j in range(H):
            tcb[j] = fast_tanh(cb[j])
        if real[b]:
            o = gb[:H]
            for j in range(H):
                hb[j] = o[j] * tcb[j]
        else:
            hb[:] = h_prev[b]


@njit(cache=True, nogil=True)
def _step_rows(m, none_real, t, lo, hi, all_real):
    """``(skip, real)`` of step t for rows [lo, hi): whether no row of the batch is real
    there, and the rows' real flags (``all_real`` without a mask: ``m`` empty)."""
    if m.shape[0] == 0:
        return False, all_real
    return none_real[t], m[t, lo:hi]


@njit(cache=True, nogil=True)
def _rows_of(P, idx, out):
    """``out[b] = P[idx[b]]`` (an element loop: 3.7× faster than a row slice's copy)."""
    for b in range(idx.shape[0]):
        j = idx[b]
        for k in range(P.shape[1]):
            out[b, k] = P[j, k]


@njit(cache=True, error_model="numpy", nogil=True)
def lstm_forward_steps(gemm, xt, W, P, idx, lo, hi, U, bias, hs, cs, out, a, rec, tc, m,
                       none_real):
    """Every step of the LSTM inference for batch rows [lo, hi), in one call without the
    GIL: per step a ← x_t W and rec ← h_{t−1} U (:func:`~tinynlp.kernels.blas.gemm_tiles`
    through ``gemm``), then :func:`lstm_forward_step`.  NumPy twin:
    :func:`lstm_forward_steps_reference`.

    ``xt`` (T, B, D) contiguous; or, with ``idx`` (T, B) not empty, x_t W made once
    for every distinct input row: a ← the rows ``P[idx[t, lo:hi]]`` (``xt`` and ``W``
    are then not read; see :func:`~tinynlp.functional.rnn.embedding_lstm.lstm_lookup`).
    ``hs``, ``cs`` (2, B, H): the state now and next, ``hs[0]``, ``cs[0]`` the initial
    one; ``out`` (T, B, H); ``a``, ``rec`` (hi − lo, 4H) and ``tc`` (hi − lo, H):
    scratch.  With a mask (``m`` (T, B) not empty) a step where no row is real
    (``none_real``) outputs zeros, and padded rows keep their state and output zero.
    Returns ``cur``: the final state is ``hs[cur]``, ``cs[cur]``.
    """
    cur = 0
    all_real = np.ones(hi - lo, dtype=np.bool_)
    for t in range(out.shape[0]):
        skip, real = _step_rows(m, none_real, t, lo, hi, all_real)
        if skip:
            out[t, lo:hi] = 0
            continue
        nxt = 1 - cur
        if idx.shape[0]:
            _rows_of(P, idx[t, lo:hi], a)
        else:
            gemm_tiles(gemm, xt[t, lo:hi], W, a)
        gemm_tiles(gemm, hs[cur, lo:hi], U, rec)
        lstm_forward_step(a, rec, bias, cs[cur, lo:hi], hs[cur, lo:hi], real, cs[nxt, lo:hi],
                          tc, hs[nxt, lo:hi])
        for b in range(hi - lo):                # padded rows output zero
            if real[b]:
                out[t, lo + b] = hs[nxt, lo + b]
            else:
                out[t, lo + b] = 0
        cur = nxt
    return cur


def lstm_forward_steps_reference(xt, W, P, idx, lo, hi, U, bias, hs, cs, out, m, none_real):
    """NumPy twin of :func:`lstm_forward_steps` (the same per-step products and step)."""
    cur, rows = 0, slice(lo, hi)
    for t in range(out.shape[0]):
        if m.shape[0] and none_real[t]:
            out[t, rows] = 0
            continue
        real = m[t, rows] if m.shape[0] else np.ones(hi - lo, dtype=bool)
        nxt = 1 - cur
        a = P[idx[t, rows]] if idx.shape[0] else xt[t, rows] @ W
        tc = np.empty_like(cs[cur, rows])
        lstm_forward_step_reference(a, hs[cur, rows] @ U, bias, cs[cur, rows], hs[cur, rows],
                                    real, cs[nxt, rows], tc, hs[nxt, rows])
        out[t, rows] = np.where(real[:, None], hs[nxt, rows], 0)
        cur = nxt
    return cur


@njit(cache=True, error_model="numpy", nogil=True)
def lstm_train_forward_steps(gemm, xt, W, P, idx, lo, hi, U, bias, Hs, C, TC, A, rec, m,
                             none_real):
    """Every step of the LSTM training forward for batch rows [lo, hi), in one call without
    the GIL, keeping what BPTT needs; NumPy twin: :func:`lstm_train_forward_steps_reference`.

    Per step A[t] ← x_t W (or, given ``idx``, the rows ``P[idx[t, lo:hi]]``, as in
    :func:`lstm_forward_steps`), then (rec ← h_{t−1} U) the step writes the gate values
    into ``A[t]``, and c_t, tanh(c_t), h_t into ``C[t+1]``, ``TC[t]``, ``Hs[t+1]`` ((T+1, B,
    H), (T, B, H), (T+1, B, H); ``Hs[0]``, ``C[0]`` the initial state).  ``rec`` (hi − lo,
    4H) scratch; ``m`` / ``none_real`` as in :func:`lstm_forward_steps` (a step with no
    real row carries the state and computes nothing).
    """
    all_real = np.ones(hi - lo, dtype=np.bool_)
    for t in range(A.shape[0]):
        skip, real = _step_rows(m, none_real, t, lo, hi, all_real)
        if skip:                                # no real row: the state is carried
            Hs[t + 1, lo:hi] = Hs[t, lo:hi]
            C[t + 1, lo:hi] = C[t, lo:hi]
            continue
        if idx.shape[0]:
            _rows_of(P, idx[t, lo:hi], A[t, lo:hi])
        else:
            gemm_tiles(gemm, xt[t, lo:hi], W, A[t, lo:hi])
        gemm_tiles(gemm, Hs[t, lo:hi], U, rec)
        lstm_forward_step(A[t, lo:hi], rec, bias, C[t, lo:hi], Hs[t, lo:hi], real,
                          C[t + 1, lo:hi], TC[t, lo:hi], Hs[t + 1, lo:hi])


def lstm_train_forward_steps_reference(xt, W, P, idx, lo, hi, U, bias, Hs, C, TC, A, m,
                                       none_real):
    """NumPy twin of :func:`lstm_train_forward_steps`."""
    rows = slice(lo, hi)
    for t in range(A.shape[0]):
        if m.shape[0] and none_real[t]:
            Hs[t + 1, rows] = Hs[t, rows]
            C[t + 1, rows] = C[t, rows]
            continue
        real = m[t, rows] if m.shape[0] else np.ones(hi - lo, dtype=bool)
        A[t, rows] = P[idx[t, rows]] if idx.shape[0] else xt[t, rows] @ W
        gates = A[t, rows]
        lstm_forward_step_reference(gates, Hs[t, rows] @ U, bias, C[t, rows], Hs[t, rows], real,
                                    C[t + 1, rows], TC[t, rows], Hs[t + 1, rows])


@njit(cache=True, error_model="numpy", nogil=True)
def lstm_backward_steps(gemm, A, TC, C, UT, G, lo, hi, dh, dc, dA, tmp, m, none_real,
                        any_pad, keep):
    """LSTM BPTT over all steps, last to first, for batch rows [lo, hi), in one call without
    the GIL; NumPy twin: :func:`lstm_backward_steps_reference`.

    Per step: dh += G[t] (when ``G`` (T, B, H) is not empty), then
    :func:`lstm_backward_step` (dA[t] ← da_t, dc ← dL/dc_{t−1}) and dh ← da_t Uᵀ (at a
    step with padded rows, dh ← dh · keep + da_t Uᵀ: a padded row passes dh on).
    ``dh``, ``dc``, ``tmp`` are (hi − lo, H) rows; steps with no real row are passed over.
    """
    masked = m.shape[0] > 0
    all_real = np.ones(hi - lo, dtype=np.bool_)
    for t in range(A.shape[0] - 1, -1, -1):
        if G.shape[0] > 0:
            dh += G[t, lo:hi]
        skip, real = _step_rows(m, none_real, t, lo, hi, all_real)
        if skip:
            continue
        lstm_backward_step(A[t, lo:hi], TC[t, lo:hi], C[t, lo:hi], real, dh, dc, dA[t, lo:hi])
        if masked and any_pad[t]:
            gemm_tiles(gemm, dA[t, lo:hi], UT, tmp)
            for b in range(hi - lo):
                k = keep[t, lo + b]
                for j in range(dh.shape[1]):
                    dh[b, j] = dh[b, j] * k + tmp[b, j]
        else:
            gemm_tiles(gemm, dA[t, lo:hi], UT, dh)


def lstm_backward_steps_reference(A, TC, C, UT, G, lo, hi, dh, dc, dA, m, none_real, any_pad,
                                  keep):
    """NumPy twin of :func:`lstm_backward_steps` (no ``gemm``, no scratch)."""
    rows = slice(lo, hi)
    for t in range(A.shape[0] - 1, -1, -1):
        if G.shape[0]:
            dh += G[t, rows]                                            # dL/dh_t
        if m.shape[0] and none_real[t]:     # it carried the state: dh, dc pass straight through
            continue
        real = m[t, rows] if m.shape[0] else np.ones(hi - lo, dtype=bool)
        lstm_backward_step_reference(A[t, rows], TC[t, rows], C[t, rows], real, dh, dc,
                                     dA[t, rows])
        back = dA[t, rows] @ UT                                         # da_t Uᵀ
        if m.shape[0] and any_pad[t]:
            dh[...] = dh * keep[t, rows, None] + back           # a padded row passes dh on
        else:
            dh[...] = back


def lstm_backward_step_reference(gates, tc, c_prev, real, dh, dc, dgates):
    """One step of LSTM BPTT, NumPy twin (see :class:`tinynlp.functional.rnn.lstm_cell.LSTM`).

    In:  gates (B, 4H) = o, i, f, g;  tc = tanh(c_t);  c_prev = c_{t−1};
         dh = dL/dh_t (read only);  dc = dL/dc_t from later steps.
    Out: dgates ← dL/d(pre-activations) [da_o, da_i, da_f, da_g];
         dc ← dL/dc_{t−1}.

        dc_t = dc + dh ⊙ o ⊙ (1 − tc²)
        da_o = dh ⊙ tc ⊙ o(1 − o)      da_i = dc_t ⊙ g ⊙ i(1 − i)
        da_f = dc_t ⊙ c_prev ⊙ f(1 − f)  da_g = dc_t ⊙ i ⊙ (1 − g²)
        dL/dc_{t−1} = dc_t ⊙ f        (padded rows: da = 0, dc unchanged)
    """
    H = tc.shape[1]
    o, i, f, g = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    dct = dc + dh * o * (1 - tc * tc)
    da = np.concatenate([dh * tc * o * (1 - o), dct * g * i * (1 - i),
                         dct * c_prev * f * (1 - f), dct * i * (1 - g * g)], axis=1)
    r = real[:, None]
    dgates[...] = np.where(r, da, 0)
    dc[...] = np.where(r, dct * f, dc)


@njit(cache=True, nogil=True)
def lstm_backward_step(gates, tc, c_prev, real, dh, dc, dgates):
    """Fast path of :func:`lstm_backward_step_reference` (one pass)."""
    B, H = tc.shape
    one = np.ones(1, dtype=dc.dtype)[0]        # typed constant: float32 stays float32
    for b in range(B):
        if not real[b]:
            dgates[b, :] = 0
            continue
        # 1-D row views: contiguous inner loops that LLVM vectorises
        go, gi, gf, gg = gates[b, :H], gates[b, H:2 * H], gates[b, 2 * H:3 * H], gates[b, 3 * H:]
        do, di = dgates[b, :H], dgates[b, H:2 * H]
        df, dg = dgates[b, 2 * H:3 * H], dgates[b, 3 * H:]
        tcb, cpb, dhb, dcb = tc[b], c_prev[b], dh[b], dc[b]
        for j in range(H):
            o, i, f, g = go[j], gi[j], gf[j], gg[j]
            t = tcb[j]
            dhv = dhb[j]
            dct = dcb[j] + dhv * o * (one - t * t)
            do[j] = dhv * t * o * (one - o)
            di[j] = dct * g * i * (one - i)
            df[j] = dct * cpb[j] * f * (one - f)
            dg[j] = dct * i * (one - g * g)
            dcb[j] = dct * f


# --------------------------------------------------------------------------
# GRU
# --------------------------------------------------------------------------

def gru_forward_candidate_reference(gates, rec, b_hh, uh):
    """Finish z, r and form the candidate's pre-activation, in place.

    On entry ``gates`` (B, 3H) holds tanh(a_z/2), tanh(a_r/2) and x_h (the input
    part of the candidate); ``rec`` (B, 3H) is h_{t−1} U (only its h block is read).
    Afterwards: z = ½ + ½·tanh(a_z/2), r likewise, ``uh ← rec_h + b_hh``, and the
    candidate block holds x_h + r ⊙ uh (the caller applies tanh).
    """
    H = uh.shape[1]
    zr = gates[:, :2 * H]
    zr *= 0.5
    zr += 0.5
    uh[...] = rec[:, 2 * H:] + b_hh
    gates[:, 2 * H:] += gates[:, H:2 * H] * uh


@njit(cache=True, nogil=True)
def gru_forward_candidate(gates, rec, b_hh, uh):
    """Fast path of :func:`gru_forward_candidate_reference` (one pass)."""
    B, H = uh.shape
    half = np.full(1, 0.5, dtype=uh.dtype)[0]   # typed constant: float32 stays float32
    for b in range(B):
        gz, gr, gn = gates[b, :H], gates[b, H:2 * H], gates[b, 2 * H:]
        rh, uhb = rec[b, 2 * H:], uh[b]
        for j in range(H):
            gz[j] = half + half * gz[j]
            r = half + half * gr[j]
            gr[j] = r
            u = rh[j] + b_hh[j]
            uhb[j] = u
            gn[j] = gn[j] + r * u


def gru_forward_state_reference(gates, h_prev, real, h):
    """h ← z ⊙ h_prev + (1 − z) ⊙ n  (= n + z ⊙ (h_prev − n)) on real rows;
    h ← h_prev on padded rows."""
    H = h.shape[1]
    z, n = gates[:, :H], gates[:, 2 * H:]
    h[...] = np.where(real[:, None], n + z * (h_prev - n), h_prev)


@njit(cache=True, nogil=True)
def gru_forward_state(gates, h_prev, real, h):
    """Fast path of :func:`gru_forward_state_reference` (one pass)."""
    B, H = h.shape
    for b in range(B):
        hb, hpb = h[b], h_prev[b]
        if real[b]:
            gz, gn = gates[b, :H], gates[b, 2 * H:]
            for j in range(H):
                n = gn[j]
                hb[j] = n + gz[j] * (hpb[j] - n)
        else:
            for j in range(H):
                hb[j] = hpb[j]


def gru_backward_step_reference(gates, uh, h_prev, real, dh, d_rec, d_n):
    """One step of GRU BPTT, NumPy twin (see :class:`tinynlp.functional.rnn.gru_cell.GRU`).

    In:  gates (B, 3H) = z, r, n;  uh = h_{t−1} U_h + b_hh;  h_prev = h_{t−1};
         dh = dL/dh_t.
    Out: d_rec (B, 3H) ← [da_z, da_r, da_n ⊙ r] (gradient of h U + b_rec);
         d_n (B, H) ← da_n (gradient of the candidate's input part);
         dh ← dh ⊙ z, the direct path to dL/dh_{t−1} (the caller adds d_rec Uᵀ).

        da_z = dh ⊙ (h_prev − n) ⊙ z(1 − z)    da_n = dh ⊙ (1 − z) ⊙ (1 − n²)
        da_r = da_n ⊙ uh ⊙ r(1 − r)
    Padded rows: d_rec = d_n = 0 and dh unchanged.
    """
    H = uh.shape[1]
    z, r, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    dan = dh * (1 - z) * (1 - n * n)
    daz = dh * (h_prev - n) * z * (1 - z)
    dar = dan * uh * r * (1 - r)
    rr = real[:, None]
    d_rec[...] = np.where(rr, np.concatenate([daz, dar, dan * r], axis=1), 0)
    d_n[...] = np.where(rr, dan, 0)
    dh[...] = np.where(rr, dh * z, dh)


@njit(cache=True, nogil=True)
def gru_backward_step(gates, uh, h_prev, real, dh, d_rec, d_n):
    """Fast path of :func:`gru_backward_step_reference` (one pass)."""
    B, H = uh.shape
    one = np.ones(1, dtype=dh.dtype)[0]        # typed constant: float32 stays float32
    for b in range(B):
        if not real[b]:
            d_rec[b, :] = 0
            d_n[b, :] = 0
            continue
        gz, gr, gn = gates[b, :H], gates[b, H:2 * H], gates[b, 2 * H:]
        dz, dr, du = d_rec[b, :H], d_rec[b, H:2 * H], d_rec[b, 2 * H:]
        uhb, hpb, dhb, dnb = uh[b], h_prev[b], dh[b], d_n[b]
        for j in range(H):
            z, r, n = gz[j], gr[j], gn[j]
            dhv = dhb[j]
            dan = dhv * (one - z) * (one - n * n)
            dz[j] = dhv * (hpb[j] - n) * z * (one - z)
            dr[j] = dan * uhb[j] * r * (one - r)
            du[j] = dan * r
            dnb[j] = dan
            dhb[j] = dhv * z
