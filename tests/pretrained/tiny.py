"""A tiny stand-in for the shipped GPT: a BPE of a few hundred ids and a one-block GPT,
pretrained for a few steps on Rotten Tomatoes training text (a second or two).

Tests of fine-tuning use it instead of ``tn.pretrained.load("tinygpt")``, so they never
need the real model; it has the same interface (``gpt.tokenizer``, the special tokens).
"""

from __future__ import annotations

import functools

import numpy as np

import tinynlp as tn
from tinynlp.models import GPT
from tinynlp.text import BPETokenizer

SPECIALS = ("<|endoftext|>", "<|user|>", "<|bot|>")


@functools.cache
def _tokenizer(vocab_size=320):
    (texts, _), _ = tn.datasets.load_rotten_tomatoes()
    return BPETokenizer.train(texts[:1500], vocab_size=vocab_size, special_tokens=SPECIALS)


def tiny_gpt(seed=0, steps=20, dtype="float32", sequence_length=64, hidden_dim=16):
    """A fresh tiny GPT (with ``.tokenizer``), pretrained ``steps`` Adam steps on RT text
    (the pretrained weights are computed once and copied into every new model)."""
    weights = _pretrained_weights(seed, steps, dtype, sequence_length, hidden_dim)
    gpt = _fresh(seed, dtype, sequence_length, hidden_dim)
    gpt.set_weights([w.copy() for w in weights])
    return gpt


def _fresh(seed, dtype, sequence_length, hidden_dim):
    tok = _tokenizer()
    tn.random.seed(seed)
    gpt = GPT(tok.vocab_size, sequence_length, 1, 2, hidden_dim, 2 * hidden_dim, dtype=dtype)
    gpt.tokenizer = tok
    gpt(np.zeros((1, 1), dtype=np.int64))
    return gpt


@functools.cache
def _pretrained_weights(seed, steps, dtype, sequence_length, hidden_dim):
    tok = _tokenizer()
    gpt = _fresh(seed, dtype, sequence_length, hidden_dim)
    if steps:
        (texts, _), _ = tn.datasets.load_rotten_tomatoes()
        ids = []
        for t in texts[:400]:
            ids.extend(tok.encode(t) + [tok.eos_id])
        stream = np.array(ids, dtype=np.int64)
        T = 32
        n = (len(stream) - 1) // T
        x = stream[:n * T].reshape(n, T)
        y = stream[1:n * T + 1].reshape(n, T)
        gpt.compile(optimizer=tn.optimizers.Adam(3e-3),
                    loss=tn.losses.SparseCategoricalCrossentropy(from_logits=True))
        rng = np.random.default_rng(seed)
        for _ in range(steps):
            idx = rng.integers(0, n, 16)
            gpt.train_on_batch(x[idx], y[idx])
    return tuple(w.copy() for w in gpt.get_weights())
