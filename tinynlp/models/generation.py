"""Autoregressive sampling for language models: prompts, random generators, next-token choice.

Choosing the next token from the logits z (V,) of the last position::

    greedy (temperature 0 or top_k = 1):  argmax z
    otherwise:  p = softmax(z / temperature), restricted to
        top_k — the k largest logits (ties with the k-th are kept),
        top_p — the nucleus: the most probable tokens whose cumulative
                probability reaches top_p (the most probable is always kept),
    renormalised, and sampled by inverse CDF with one uniform u ∈ (0, 1]:
    the first token whose cumulative probability reaches u · Σp.

Prompts of different lengths are left-padded into one (B, T) batch with a
(B, T) mask of real tokens, so that every row's last token sits in the last
column; each row's positions count from its own first real token.
"""

from __future__ import annotations

import numpy as np

from .. import random as tn_random
from ..autograd import Tensor

__all__ = [
    "check_sampling_args",
    "check_suppress_tokens",
    "draw_uniforms",
    "left_pad_prompts",
    "make_generators",
    "positions_from_mask",
    "sample_next_token",
]


def left_pad_prompts(token_ids, pad_id=0):
    """Prompts → (ids (B, T) int64, real (B, T) bool, form).

    ``token_ids``: a (B, T) or (T,) integer array / Tensor (``form`` "2d" or
    "1d"), or a list / tuple of 1-D integer sequences, possibly of different
    lengths (``form`` "list"; a list of ints is one prompt, form "1d").
    """
    if isinstance(token_ids, Tensor):
        token_ids = token_ids.data
    if isinstance(token_ids, np.ndarray):
        arr = token_ids
        if arr.dtype.kind not in "iu":
            raise TypeError(f"generate: token_ids must be integers, got dtype {arr.dtype}")
        if arr.ndim == 1:
            arr, form = arr[None], "1d"
        elif arr.ndim == 2:
            form = "2d"
        else:
            raise ValueError(f"generate: token_ids must be (batch, time) or (time,), got shape "
                             f"{arr.shape}")
        if arr.shape[1] == 0:
            raise ValueError("generate: the prompt must hold at least one token")
        return arr.astype(np.int64), np.ones(arr.shape, dtype=bool), form
    if not isinstance(token_ids, (list, tuple)) or len(token_ids) == 0:
        raise TypeError(f"generate: token_ids must be an integer array or a non-empty list of "
                        f"sequences, got {type(token_ids).__name__}")
    if all(np.ndim(t) == 0 for t in token_ids):
        arr = np.asarray(token_ids)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"generate: token_ids must be integers, got {arr.dtype}")
        return arr.astype(np.int64)[None], np.ones((1, len(arr)), dtype=bool), "1d"
    rows = []
    for i, t in enumerate(token_ids):
        a = np.asarray(getattr(t, "data", t))
        if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
            raise ValueError(f"generate: prompt {i} must be a 1-D sequence of integer ids, got "
                             f"{a.dtype} of shape {a.shape}")
        if a.size == 0:
            raise ValueError(f"generate: prompt {i} is empty; every prompt needs a token")
        rows.append(a.astype(np.int64))
    T = max(len(r) for r in rows)
    ids = np.full((len(rows), T), pad_id, dtype=np.int64)
    real = np.zeros((len(rows), T), dtype=bool)
    for b, r in enumerate(rows):
        ids[b, T - len(r):] = r
        real[b, T - len(r):] = True
    return ids, real, "list"


def positions_from_mask(real):
    """Position of every column counted from the row's first real token (pads: 0)."""
    return np.maximum(np.cumsum(real, axis=1) - 1, 0)


def make_generators(seed, batch_size):
    """One generator for the batch (``seed`` None → ``tn.random``'s, or an int), or one per
    row (``seed`` a list of ints: a row's draws do not depend on the other rows)."""
    if seed is None:
        return tn_random.get_rng()
    if isinstance(seed, (list, tuple, np.ndarray)):
        seeds = list(seed)
        if len(seeds) != batch_size:
            raise ValueError(f"generate: seed must be an int or a list of {batch_size} ints "
                             f"(one per prompt), got a list of {len(seeds)}")
        return [np.random.default_rng(int(s)) for s in seeds]
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"generate: seed must be None, an int or a list of ints, got {seed!r}")
    return np.random.default_rng(int(seed))


def draw_uniforms(gens, batch_size):
    """One u ∈ (0, 1] per row, from one generator or one generator per row."""
    if isinstance(gens, list):
        return np.array([1.0 - g.random() for g in gens])
    return 1.0 - gens.random(batch_size)


def check_sampling_args(max_new_tokens, temperature, top_k, top_p, eos_token_id, vocab_size):
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)) \
            or max_new_tokens < 0:
        raise ValueError(f"generate: max_new_tokens must be an integer >= 0, got "
                         f"{max_new_tokens!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.floating)) \
            or not np.isfinite(temperature) or temperature < 0:
        raise ValueError(f"generate: temperature must be a finite number >= 0 (0 = greedy), got "
                         f"{temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer))
                              or top_k < 1):
        raise ValueError(f"generate: top_k must be None or an integer >= 1, got {top_k!r}")
    if top_p is not None and (isinstance(top_p, bool) or not 0.0 < float(top_p) <= 1.0):
        raise ValueError(f"generate: top_p must be None or in (0, 1], got {top_p!r}")
    if eos_token_id is not None and (
            isinstance(eos_token_id, bool) or not isinstance(eos_token_id, (int, np.integer))
            or not 0 <= eos_token_id < vocab_size):
        raise ValueError(f"generate: eos_token_id must be None or an id in [0, {vocab_size}), "
                         f"got {eos_token_id!r}")


def check_suppress_tokens(suppress_tokens, vocab_size):
    """``suppress_tokens`` (None or ids never to be chosen) as an int64 array, or None."""
    if suppress_tokens is None:
        return None
    ids = np.asarray(list(suppress_tokens) if not isinstance(suppress_tokens, np.ndarray)
                     else suppress_tokens)
    if ids.size == 0:
        return None
    if ids.ndim != 1 or ids.dtype.kind not in "iu" or ids.min() < 0 or ids.max() >= vocab_size:
        raise ValueError(f"generate: suppress_tokens must be None or token ids in [0, "
                         f"{vocab_size}), got {suppress_tokens!r}")
    if len(np.unique(ids)) == vocab_size:
        raise ValueError("generate: suppress_tokens would suppress every token of the "
                         "vocabulary")
    return ids.astype(np.int64)


def sample_next_token(logits, temperature=1.0, top_k=None, top_p=None, gens=None):
    """The next token of each row from its last-position logits (B, V); see the module doc."""
    z = np.asarray(logits, dtype=np.float64)
    B, V = z.shape
    if temperature == 0 or top_k == 1:
        return z.argmax(axis=-1)
    z = z / float(temperature)
    if top_k is not None and top_k < V:
        kth = np.partition(z, V - top_k, axis=-1)[:, V - top_k][:, None]
        z = np.where(z < kth, -np.inf, z)
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    if top_p is not None and top_p < 1.0:
        order = np.argsort(-p, axis=-1, kind="stable")
        sorted_p = np.take_along_axis(p, order, axis=-1)
        beyond = np.cumsum(sorted_p, axis=-1) - sorted_p >= top_p   # the first is always kept
        drop = np.zeros_like(beyond)
        np.put_along_axis(drop, order, beyond, axis=-1)
        p = np.where(drop, 0.0, p)
        p /= p.sum(axis=-1, keepdims=True)
    u = draw_uniforms(tn_random.get_rng() if gens is None else gens, B)
    c = np.cumsum(p, axis=-1)
    return np.minimum((c < u[:, None] * c[:, -1:]).sum(axis=-1), V - 1)
