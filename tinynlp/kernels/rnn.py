"""Per-time-step elementwise math of the fused LSTM / GRU (backward and forward).

The fused recurrent ops (:mod:`tinynlp.functional.rnn`) spend each step on one
GEMM plus a handful of elementwise products.  Done with NumPy, those products
are a dozen separate passes (or, vectorised over all steps, several passes over
(T, B, 4H) arrays that do not fit in cache).  These kernels do them in one pass
over a step's (B, H) slab, while it is in cache.  They contain no
transcendental functions (NumPy's vectorised ``tanh`` stays faster for those):
gate values arrive already activated.

Gate layouts (the fused ops' internal orders):
    LSTM ``gates`` (B, 4H): blocks o, i, f, g (σ, σ, σ, tanh), all activated.
    GRU  ``gates`` (B, 3H): blocks z, r, n (σ, σ, tanh), all activated.

``real`` (B,) bool marks the rows whose step is a real token; at a padded row
the state is carried over, so the row gets no gradient and passes dh / dc on
unchanged.

Each kernel has a NumPy twin ``<name>_reference``; tests assert they agree.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "lstm_backward_step", "lstm_backward_step_reference",
    "lstm_forward_cell", "lstm_forward_cell_reference",
    "gru_forward_candidate", "gru_forward_candidate_reference",
    "gru_forward_state", "gru_forward_state_reference",
    "gru_backward_step", "gru_backward_step_reference",
]


# --------------------------------------------------------------------------
# LSTM
# --------------------------------------------------------------------------

def lstm_forward_cell_reference(gates, c_prev, real, c):
    """Finish the gates and update the cell, in place.

    On entry ``gates`` holds tanh(a/2) for the sigmoid blocks o, i, f and tanh(a)
    for g; afterwards the sigmoid blocks hold σ(a) = ½ + ½·tanh(a/2).
    ``c ← f ⊙ c_prev + i ⊙ g`` on real rows, ``c ← c_prev`` on padded rows.
    """
    H = c.shape[1]
    s = gates[:, :3 * H]
    s *= 0.5
    s += 0.5
    i, f, g = gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    c[...] = np.where(real[:, None], f * c_prev + i * g, c_prev)


@njit(cache=True)
def lstm_forward_cell(gates, c_prev, real, c):
    """Fast path of :func:`lstm_forward_cell_reference` (one pass)."""
    B, H = c.shape
    half = np.full(1, 0.5, dtype=c.dtype)[0]   # typed constant: float32 stays float32
    for b in range(B):
        go, gi, gf, gg = gates[b, :H], gates[b, H:2 * H], gates[b, 2 * H:3 * H], gates[b, 3 * H:]
        cb, cpb = c[b], c_prev[b]
        if real[b]:
            for j in range(H):
                o = half + half * go[j]
                i = half + half * gi[j]
                f = half + half * gf[j]
                go[j] = o
                gi[j] = i
                gf[j] = f
                cb[j] = f * cpb[j] + i * gg[j]
        else:
            for j in range(H):
                go[j] = half + half * go[j]
                gi[j] = half + half * gi[j]
                gf[j] = half + half * gf[j]
                cb[j] = cpb[j]


def lstm_backward_step_reference(gates, tc, c_prev, real, dh, dc, dgates):
    """One step of LSTM BPTT, NumPy twin (see :class:`tinynlp.functional.rnn.LSTM`).

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


@njit(cache=True)
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


@njit(cache=True)
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


@njit(cache=True)
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
    """One step of GRU BPTT, NumPy twin (see :class:`tinynlp.functional.rnn.GRU`).

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


@njit(cache=True)
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
