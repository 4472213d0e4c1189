"""Word2Vec with negative sampling (SGNS and CBOW), Numba kernels + NumPy twins.

For an input vector v = syn0[i] (skip-gram: a context word; CBOW: the mean of
the context vectors) and an output word o with k noise words n_1..n_k drawn
from P(w) ∝ count(w)^0.75 (an alias table), one SGD step maximises

    log σ(v·u_o) + Σ_j log σ(−v·u_{n_j}),        u = syn1neg[·]

Its gradient for each output row (label ℓ = 1 for o, 0 for noise) is
g = α (ℓ − σ(v·u)), giving the updates

    u   += g · v        (for every output row, in turn)
    v   += Σ g · u      (accumulated in ``neu1e``, applied at the end)

exactly as in Mikolov's word2vec.c.  The dot product is clipped to ±MAX_EXP
(σ is then 0 or 1), also as there.

``train_chunk`` runs whole sentences: it drops words by frequent-word
subsampling, shrinks the window by a random amount per centre word, and calls
the pair update.  It is ``parallel=True``: each ``prange`` iteration is one part
of the chunk, and threads update the shared matrices without locks (Hogwild),
like the C tool's threads.  Random numbers come from word2vec.c's linear
congruential generator (48-bit, Java's constants), one stream per part.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .activations import sigmoid

MAX_EXP = 6.0
SIGMOID_TABLE_SIZE = 1000
_LCG_MUL = 25214903917
_LCG_ADD = 11
_LCG_MASK = (1 << 48) - 1


def make_sigmoid_table(size=SIGMOID_TABLE_SIZE, max_exp=MAX_EXP):
    """σ sampled on [−max_exp, max_exp) (word2vec.c's expTable): entry i is
    σ((2i/size − 1)·max_exp)."""
    x = (np.arange(size, dtype=np.float64) / size * 2.0 - 1.0) * max_exp
    return sigmoid(x).astype(np.float32)


SIGMOID_TABLE = make_sigmoid_table()
_SIG_SCALE = SIGMOID_TABLE_SIZE / MAX_EXP / 2.0


def sigmoid_lookup(f):
    """σ(f) as the kernels compute it: 1 above MAX_EXP, 0 below −MAX_EXP, else the table."""
    if f >= MAX_EXP:
        return np.float32(1.0)
    if f <= -MAX_EXP:
        return np.float32(0.0)
    return SIGMOID_TABLE[int((f + MAX_EXP) * _SIG_SCALE)]


@njit(cache=True, nogil=True, inline="always")
def _sigmoid_fast(f, sig):
    if f >= MAX_EXP:
        return np.float32(1.0)
    if f <= -MAX_EXP:
        return np.float32(0.0)
    return sig[int((f + MAX_EXP) * _SIG_SCALE)]


@njit(cache=True, nogil=True, inline="always")
def _pair_loss(f, label):
    """−log σ(f) for the true word, −log σ(−f) for a noise word (f clipped)."""
    if f > MAX_EXP:
        f = MAX_EXP
    elif f < -MAX_EXP:
        f = -MAX_EXP
    return math.log1p(math.exp(-f)) if label > 0.5 else math.log1p(math.exp(f))


# ----------------------------------------------------------------- one pair
@njit(cache=True, nogil=True, fastmath=True)
def sgns_update(v, syn1neg, targets, alpha, neu1e, sig):
    """One negative-sampling step for input vector ``v``.  ``targets[0]`` is
    the true output word, ``targets[1:]`` the noise words.  Each output row
    gets u += g·v in turn; Σ g·u is added into ``neu1e`` (the caller applies it
    to the input row(s)).  Returns the loss −log σ(v·u_o) − Σ log σ(−v·u_n)."""
    dim = v.shape[0]
    alpha = np.float32(alpha)
    loss = 0.0
    for d in range(targets.shape[0]):
        t = targets[d]
        label = np.float32(1.0) if d == 0 else np.float32(0.0)
        f = np.float32(0.0)
        for k in range(dim):
            f += v[k] * syn1neg[t, k]
        g = (label - _sigmoid_fast(f, sig)) * alpha
        loss += _pair_loss(f, label)
        for k in range(dim):
            neu1e[k] += g * syn1neg[t, k]
        for k in range(dim):
            syn1neg[t, k] += g * v[k]
    return loss


def sgns_update_reference(v, syn1neg, targets, alpha, neu1e):
    """NumPy twin of :func:`sgns_update` (same order of row updates)."""
    loss = 0.0
    for d, t in enumerate(targets):
        label = 1.0 if d == 0 else 0.0
        f = float(np.dot(v, syn1neg[t]))
        g = np.float32((label - sigmoid_lookup(f)) * np.float32(alpha))
        fc = min(max(f, -MAX_EXP), MAX_EXP)
        loss += np.log1p(np.exp(-fc)) if d == 0 else np.log1p(np.exp(fc))
        neu1e += g * syn1neg[t]
        syn1neg[t] += g * v
    return float(loss)


def sg_pair_reference(syn0, syn1neg, context, word, negatives, alpha):
    """Skip-gram pair (word2vec.c convention): the *context* word's input
    vector predicts the centre ``word`` against ``negatives`` (a noise word
    equal to ``word`` is skipped)."""
    neu1e = np.zeros(syn0.shape[1], dtype=np.float32)
    targets = [word] + [n for n in negatives if n != word]
    loss = sgns_update_reference(syn0[context].copy(), syn1neg, targets, alpha, neu1e)
    syn0[context] += neu1e
    return loss


def cbow_reference(syn0, syn1neg, contexts, word, negatives, alpha):
    """CBOW step: v = mean of the context vectors predicts ``word``; every
    context vector then receives the full ``neu1e`` (gensim's cbow_mean=1)."""
    neu1 = syn0[list(contexts)].sum(axis=0) * np.float32(1.0 / len(contexts))
    neu1e = np.zeros(syn0.shape[1], dtype=np.float32)
    targets = [word] + [n for n in negatives if n != word]
    loss = sgns_update_reference(neu1.astype(np.float32), syn1neg, targets, alpha, neu1e)
    for c in contexts:
        syn0[c] += neu1e
    return loss


@njit(cache=True, nogil=True)
def _targets(word, negatives):
    targets = np.empty(negatives.shape[0] + 1, dtype=np.int64)
    targets[0] = word
    n = 1
    for j in range(negatives.shape[0]):
        if negatives[j] != word:
            targets[n] = negatives[j]
            n += 1
    return targets[:n]


@njit(cache=True, nogil=True)
def sg_pair(syn0, syn1neg, context, word, negatives, alpha):
    """Kernel twin of :func:`sg_pair_reference`."""
    neu1e = np.zeros(syn0.shape[1], dtype=np.float32)
    v = syn0[context].copy()
    loss = sgns_update(v, syn1neg, _targets(word, negatives), alpha, neu1e, SIGMOID_TABLE)
    for k in range(syn0.shape[1]):
        syn0[context, k] += neu1e[k]
    return loss


@njit(cache=True, nogil=True)
def cbow_step(syn0, syn1neg, contexts, word, negatives, alpha):
    """Kernel twin of :func:`cbow_reference`."""
    dim = syn0.shape[1]
    neu1 = np.zeros(dim, dtype=np.float32)
    neu1e = np.zeros(dim, dtype=np.float32)
    for c in contexts:
        for k in range(dim):
            neu1[k] += syn0[c, k]
    inv = np.float32(1.0 / contexts.shape[0])
    for k in range(dim):
        neu1[k] *= inv
    loss = sgns_update(neu1, syn1neg, _targets(word, negatives), alpha, neu1e, SIGMOID_TABLE)
    for c in contexts:
        for k in range(dim):
            syn0[c, k] += neu1e[k]
    return loss


# ------------------------------------------------------------ noise words
def noise_alias_table(counts, exponent=0.75):
    """Walker/Vose alias table for P(w) ∝ count(w)^exponent.

    Sampling: pick a column i uniformly, keep i with probability
    ``prob[i]``, else take ``alias[i]``; exact, O(1), and only 8 bytes per
    word, so it stays in cache (a 10^8-slot unigram table like word2vec.c's
    does not, and every noise draw would miss)."""
    w = np.asarray(counts, dtype=np.float64) ** exponent
    n = w.shape[0]
    if n == 0:
        raise ValueError("noise_alias_table: empty vocabulary")
    scaled = w * (n / w.sum())
    prob = np.ones(n, dtype=np.float64)
    alias = np.arange(n, dtype=np.int32)
    small = [i for i in range(n) if scaled[i] < 1.0]
    large = [i for i in range(n) if scaled[i] >= 1.0]
    while small and large:
        s_, l_ = small.pop(), large.pop()
        prob[s_] = scaled[s_]
        alias[s_] = l_
        scaled[l_] = scaled[l_] + scaled[s_] - 1.0
        (small if scaled[l_] < 1.0 else large).append(l_)
    # leftovers are 1 up to rounding
    return prob.astype(np.float32), alias


def noise_distribution(prob, alias):
    """The exact distribution an alias table samples from (for tests)."""
    n = prob.shape[0]
    p = prob.astype(np.float64) / n
    np.add.at(p, alias, (1.0 - prob.astype(np.float64)) / n)
    return p


@njit(cache=True, nogil=True, inline="always")
def _draw_noise(r, n_words, noise_prob, noise_alias):
    """One noise word by the alias method (a column, then a biased coin), drawn from
    the word2vec.c linear congruential generator; returns (word, new state)."""
    r = (r * _LCG_MUL + _LCG_ADD) & _LCG_MASK
    t = ((r >> 16) * n_words) >> 32
    r = (r * _LCG_MUL + _LCG_ADD) & _LCG_MASK
    if ((r >> 24) & 0xFFFFFF) / 16777216.0 >= noise_prob[t]:
        t = noise_alias[t]
    return t, r


# ------------------------------------------------------------ a whole chunk
@njit(cache=True, nogil=True, fastmath=True)
def _train_part(syn0, syn1neg, ids, offsets, s_begin, s_end, keep_prob, noise_prob,
                noise_alias, window, negative, sg, alpha_begin, alpha_end, seed, compute_loss, sig):
    """Train sentences ``s_begin .. s_end-1`` of the chunk; returns
    (effective words, loss).  ``ids`` < 0 are out-of-vocabulary and dropped.
    The pair update of :func:`sgns_update` is written inline here (row indices
    instead of views), which Numba compiles to tighter SIMD loops."""
    dim = syn0.shape[1]
    n_words = noise_prob.shape[0]
    r = int(seed) & _LCG_MASK
    neu1 = np.empty(dim, dtype=np.float32)
    neu1e = np.empty(dim, dtype=np.float32)
    longest = 0
    raw_total = offsets[s_end] - offsets[s_begin]
    for s in range(s_begin, s_end):
        longest = max(longest, offsets[s + 1] - offsets[s])
    sen = np.empty(longest, dtype=np.int64)
    effective = 0
    loss = 0.0
    raw_done = 0
    for s in range(s_begin, s_end):
        # linear learning-rate decay across this part's raw words
        frac = raw_done / raw_total if raw_total > 0 else 0.0
        alpha = np.float32(alpha_begin + (alpha_end - alpha_begin) * frac)
        raw_done += offsets[s + 1] - offsets[s]
        # 1. drop OOV words and subsample frequent ones
        n = 0
        for p in range(offsets[s], offsets[s + 1]):
            w = ids[p]
            if w < 0:
                continue
            if keep_prob[w] < 1.0:
                r = (r * _LCG_MUL + _LCG_ADD) & _LCG_MASK
                if keep_prob[w] < ((r >> 24) & 0xFFFFFF) / 16777216.0:
                    continue
            sen[n] = w
            n += 1
        effective += n
        # 2. slide the randomly shrunk window over what is left
        for i in range(n):
            word = sen[i]
            r = (r * _LCG_MUL + _LCG_ADD) & _LCG_MASK
            b = (r >> 16) % window
            lo = max(0, i - window + b)
            hi = min(n, i + window - b + 1)
            if sg:
                # skip-gram: each context word's input vector predicts the centre word
                for j in range(lo, hi):
                    if j == i:
                        continue
                    c = sen[j]
                    for k in range(dim):
                        neu1e[k] = 0.0
                    for d in range(negative + 1):
                        if d == 0:
                            t = word
                            label = np.float32(1.0)
                        else:
                            t, r = _draw_noise(r, n_words, noise_prob, noise_alias)
                            if t == word:
                                continue
                            label = np.float32(0.0)
                        f = np.float32(0.0)
                        for k in range(dim):
                            f += syn0[c, k] * syn1neg[t, k]
                        g = (label - _sigmoid_fast(f, sig)) * alpha
                        if compute_loss:
                            loss += _pair_loss(f, label)
                        for k in range(dim):
                            neu1e[k] += g * syn1neg[t, k]
                        for k in range(dim):
                            syn1neg[t, k] += g * syn0[c, k]
                    for k in range(dim):
                        syn0[c, k] += neu1e[k]
            else:
                # CBOW: the mean of the context vectors predicts the centre word
                cw = hi - lo - 1
                if cw <= 0:
                    continue
                for k in range(dim):
                    neu1[k] = 0.0
                    neu1e[k] = 0.0
                for j in range(lo, hi):
                    if j != i:
                        c = sen[j]
                        for k in range(dim):
                            neu1[k] += syn0[c, k]
                inv = np.float32(1.0 / cw)
                for k in range(dim):
                    neu1[k] *= inv
                for d in range(negative + 1):
                    if d == 0:
                        t = word
                        label = np.float32(1.0)
                    else:
                        t, r = _draw_noise(r, n_words, noise_prob, noise_alias)
                        if t == word:
                            continue
                        label = np.float32(0.0)
                    f = np.float32(0.0)
                    for k in range(dim):
                        f += neu1[k] * syn1neg[t, k]
                    g = (label - _sigmoid_fast(f, sig)) * alpha
                    if compute_loss:
                        loss += _pair_loss(f, label)
                    for k in range(dim):
                        neu1e[k] += g * syn1neg[t, k]
                    for k in range(dim):
                        syn1neg[t, k] += g * neu1[k]
                for j in range(lo, hi):
                    if j != i:
                        c = sen[j]
                        for k in range(dim):
                            syn0[c, k] += neu1e[k]
    return effective, loss


@njit(cache=True, nogil=True, parallel=True)
def train_chunk(syn0, syn1neg, ids, offsets, part_bounds, keep_prob, noise_prob, noise_alias,
                window, negative, sg, alpha_begin, alpha_end, seeds, compute_loss):
    """Train every part of a chunk in parallel (Hogwild); part p covers
    sentences ``part_bounds[p] .. part_bounds[p+1]-1`` with random stream
    ``seeds[p]``.  Noise words are drawn from the alias table
    (``noise_prob``, ``noise_alias``) of :func:`noise_alias_table`.  Returns per-part
    (effective words, loss) arrays."""
    n_parts = part_bounds.shape[0] - 1
    eff = np.zeros(n_parts, dtype=np.int64)
    losses = np.zeros(n_parts, dtype=np.float64)
    sig = SIGMOID_TABLE
    for p in prange(n_parts):
        e, lo = _train_part(syn0, syn1neg, ids, offsets, part_bounds[p], part_bounds[p + 1],
                            keep_prob, noise_prob, noise_alias, window, negative, sg,
                            alpha_begin, alpha_end, seeds[p], compute_loss, sig)
        eff[p] = e
        losses[p] = lo
    return eff, losses


def train_chunk_reference(syn0, syn1neg, ids, offsets, keep_prob, noise_prob, noise_alias, window,
                          negative, sg, alpha_begin, alpha_end, seed):
    """Plain-Python twin of one part of :func:`train_chunk` (same random stream,
    same order of updates), built from the NumPy pair twins.  Slow; for tests."""
    mask = _LCG_MASK

    def lcg(x):
        return (x * _LCG_MUL + _LCG_ADD) & mask

    def draw(x):  # one noise word by the alias method: a column, then a biased coin
        n = len(noise_prob)
        x = lcg(x)
        t = ((x >> 16) * n) >> 32
        x = lcg(x)
        if ((x >> 24) & 0xFFFFFF) / 16777216.0 >= noise_prob[t]:
            t = int(noise_alias[t])
        return int(t), x

    r = int(seed) & mask
    n_sent = len(offsets) - 1
    raw_total = int(offsets[-1] - offsets[0])
    raw_done = 0
    effective = 0
    loss = 0.0
    for s in range(n_sent):
        frac = raw_done / raw_total if raw_total > 0 else 0.0
        alpha = alpha_begin + (alpha_end - alpha_begin) * frac
        raw_done += int(offsets[s + 1] - offsets[s])
        sen = []
        for w in ids[offsets[s]:offsets[s + 1]]:
            w = int(w)
            if w < 0:
                continue
            if keep_prob[w] < 1.0:
                r = lcg(r)
                if keep_prob[w] < ((r >> 24) & 0xFFFFFF) / 16777216.0:
                    continue
            sen.append(w)
        effective += len(sen)
        n = len(sen)
        for i, word in enumerate(sen):
            r = lcg(r)
            b = (r >> 16) % window
            lo, hi = max(0, i - window + b), min(n, i + window - b + 1)
            if sg:
                for j in range(lo, hi):
                    if j == i:
                        continue
                    negs = []
                    for _ in range(negative):
                        t, r = draw(r)
                        negs.append(t)
                    loss += sg_pair_reference(syn0, syn1neg, sen[j], word, negs, alpha)
            else:
                ctx = [sen[j] for j in range(lo, hi) if j != i]
                if not ctx:
                    continue
                negs = []
                for _ in range(negative):
                    t, r = draw(r)
                    negs.append(t)
                loss += cbow_reference(syn0, syn1neg, ctx, word, negs, alpha)
    return effective, loss
