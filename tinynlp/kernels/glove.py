"""GloVe (Pennington, Socher & Manning 2014): co-occurrence counting and the
AdaGrad epoch, as Numba kernels with NumPy / plain-Python twins.

Counting: within a sentence, each pair of words at distance d ≤ window adds
1/d to X[i, j] (and to X[j, i] when symmetric).

Objective (weighted least squares over the non-zero X_ij):

    J = Σ ½ f(X_ij) (w_i·w̃_j + b_i + b̃_j − log X_ij)²,
    f(x) = (x / x_max)^α  if x < x_max  else 1

With e = f(X_ij)·(w_i·w̃_j + b_i + b̃_j − log X_ij) the gradients are
∂J/∂w_i = e·w̃_j, ∂J/∂w̃_j = e·w_i, ∂J/∂b_i = ∂J/∂b̃_j = e, and AdaGrad updates
each parameter θ with its own history G:  θ −= lr · ∂θ / √G,  then  G += ∂θ².
(G starts at 1, as in the reference implementation.)
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


# ------------------------------------------------------------------ counting
@njit(cache=True, nogil=True)
def cooccurrence_pairs(ids, offsets, window, n_words, symmetric):
    """Un-merged (key, weight) pairs of one chunk; key = i·n_words + j.
    ``ids`` < 0 (out of vocabulary) are removed before measuring distance."""
    n = 0
    for s in range(offsets.shape[0] - 1):
        n += offsets[s + 1] - offsets[s]
    per = window * (2 if symmetric else 1)
    keys = np.empty(n * per, dtype=np.int64)
    vals = np.empty(n * per, dtype=np.float64)
    sen = np.empty(n, dtype=np.int64)
    m = 0
    for s in range(offsets.shape[0] - 1):
        length = 0
        for p in range(offsets[s], offsets[s + 1]):
            if ids[p] >= 0:
                sen[length] = ids[p]
                length += 1
        for i in range(length):
            wi = sen[i]
            lo = i - window
            lo = max(lo, 0)
            for j in range(lo, i):
                wj = sen[j]
                inc = 1.0 / (i - j)
                keys[m] = wi * n_words + wj  # centre i, context j on its left
                vals[m] = inc
                m += 1
                if symmetric:
                    keys[m] = wj * n_words + wi
                    vals[m] = inc
                    m += 1
    return keys[:m], vals[:m]


def merge_pairs(keys, vals):
    """Sum the weights of equal keys: returns (sorted unique keys, sums)."""
    if keys.shape[0] == 0:
        return keys.astype(np.int64), vals.astype(np.float64)
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    v = vals[order]
    starts = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1])))
    return k[starts], np.add.reduceat(v, starts)


def cooccurrence_reference(sentences, window, symmetric=True):
    """Plain-Python twin: ``{(i, j): X_ij}`` from lists of ids (negatives = OOV)."""
    X = {}
    for sent in sentences:
        sen = [int(w) for w in sent if w >= 0]
        for i, wi in enumerate(sen):
            for j in range(max(0, i - window), i):
                wj = sen[j]
                inc = 1.0 / (i - j)
                X[(wi, wj)] = X.get((wi, wj), 0.0) + inc
                if symmetric:
                    X[(wj, wi)] = X.get((wj, wi), 0.0) + inc
    return X


# ------------------------------------------------------------------ training
@njit(cache=True, nogil=True, fastmath=True)
def _glove_part(W, Wc, b, bc, gW, gWc, gb, gbc, rows, cols, logx, fx, order, begin, end, lr):
    dim = W.shape[1]
    cost = 0.0
    for q in range(begin, end):
        e_ = order[q]
        i = rows[e_]
        j = cols[e_]
        diff = b[i] + bc[j] - logx[e_]
        for k in range(dim):
            diff += W[i, k] * Wc[j, k]
        fdiff = fx[e_] * diff
        cost += 0.5 * fdiff * diff
        for k in range(dim):
            d_w = fdiff * Wc[j, k]
            d_c = fdiff * W[i, k]
            W[i, k] -= lr * d_w / np.sqrt(gW[i, k])
            Wc[j, k] -= lr * d_c / np.sqrt(gWc[j, k])
            gW[i, k] += d_w * d_w
            gWc[j, k] += d_c * d_c
        b[i] -= lr * fdiff / math.sqrt(gb[i])
        bc[j] -= lr * fdiff / math.sqrt(gbc[j])
        gb[i] += fdiff * fdiff
        gbc[j] += fdiff * fdiff
    return cost


@njit(cache=True, nogil=True, parallel=True)
def glove_epoch(W, Wc, b, bc, gW, gWc, gb, gbc, rows, cols, logx, fx, order, part_bounds, lr):
    """One pass over the entries in ``order``, split into parts trained in
    parallel without locks (Hogwild).  Returns the summed cost J of the pass
    (each term measured just before its update)."""
    n_parts = part_bounds.shape[0] - 1
    costs = np.zeros(n_parts, dtype=np.float64)
    for p in prange(n_parts):
        costs[p] = _glove_part(W, Wc, b, bc, gW, gWc, gb, gbc, rows, cols, logx, fx, order,
                               part_bounds[p], part_bounds[p + 1], lr)
    return costs.sum()


def glove_epoch_reference(W, Wc, b, bc, gW, gWc, gb, gbc, rows, cols, logx, fx, order, lr):
    """NumPy twin of :func:`glove_epoch` with one part (same entry order)."""
    cost = 0.0
    for e_ in order:
        i, j = rows[e_], cols[e_]
        diff = float(W[i] @ Wc[j]) + b[i] + bc[j] - logx[e_]
        fdiff = fx[e_] * diff
        cost += 0.5 * fdiff * diff
        d_w = fdiff * Wc[j]
        d_c = fdiff * W[i]
        W[i] -= (lr * d_w / np.sqrt(gW[i])).astype(W.dtype)
        Wc[j] -= (lr * d_c / np.sqrt(gWc[j])).astype(Wc.dtype)
        gW[i] += (d_w * d_w).astype(gW.dtype)
        gWc[j] += (d_c * d_c).astype(gWc.dtype)
        b[i] -= lr * fdiff / np.sqrt(gb[i])
        bc[j] -= lr * fdiff / np.sqrt(gbc[j])
        gb[i] += fdiff * fdiff
        gbc[j] += fdiff * fdiff
    return cost


def weighting(x, x_max=100.0, alpha=0.75):
    """f(x) = (x / x_max)^α for x < x_max, else 1."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x < x_max, (x / x_max) ** alpha, 1.0)
