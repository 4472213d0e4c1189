"""The pretraining data as token ids: tokenized once, cached, memory-mapped, sampled.

The corpus (:func:`tinynlp.datasets.load_pretraining_corpus`) becomes one long
stream of token ids per split::

    ids(doc₁) <|endoftext|> ids(doc₂) <|endoftext|> …

(GPT-2's convention: the model sees where a document ends and learns to start
afresh after the marker).  Documents are encoded with ``allowed_special="none"``,
so a literal "<|endoftext|>" inside a text stays ordinary text.

**Cache.**  The stream is written once as an ``uint16`` ``.npy`` file (ids <
65,536) under ``cache_dir`` and memory-mapped afterwards; the file name holds
a hash of the tokenizer and of the documents themselves, so a changed corpus
or tokenizer never reuses a stale stream.  Writes are atomic.

**Batches.**  A training batch is ``batch_size`` windows of
``sequence_length + 1`` consecutive ids starting at positions drawn uniformly
from a seeded ``np.random.Generator``: x is a window's first T ids, y its last
T (the next token at every position).  ``n_tokens / (B·T)`` batches are "one
pass" over the stream in expectation (every id is as likely to be drawn as
any other; windows are drawn with replacement).

**Validation** uses fixed, non-overlapping windows from the validation
stream (:func:`validation_windows`), so every evaluation sees the same tokens.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from ..atomic import atomic_write

__all__ = [
    "TokenStream",
    "cached_token_stream",
    "corpus_digest",
    "cross_entropy",
    "encode_documents",
    "sample_batch",
    "unigram_cross_entropy",
    "validation_windows",
]

_MAX_UINT16_VOCAB = 1 << 16


def corpus_digest(documents) -> str:
    """SHA-256 (hex) of a list of str, each document terminated by a NUL byte."""
    h = hashlib.sha256()
    for d in documents:
        h.update(d.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def _tokenizer_digest(tokenizer) -> str:
    text = json.dumps(tokenizer.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def encode_documents(tokenizer, documents) -> np.ndarray:
    """The documents' ids, each followed by the tokenizer's ``<|endoftext|>`` id (uint16)."""
    if tokenizer.eos_id is None:
        raise ValueError("tokenizer: it has no '<|endoftext|>' special token to separate "
                         "documents; train it with special_tokens=('<|endoftext|>', ...)")
    if tokenizer.vocab_size > _MAX_UINT16_VOCAB:
        raise ValueError(f"tokenizer: {tokenizer.vocab_size} ids do not fit in uint16 "
                         f"(at most {_MAX_UINT16_VOCAB})")
    parts = []
    eos = np.array([tokenizer.eos_id], dtype=np.uint16)
    for doc in documents:
        parts.append(np.asarray(tokenizer.encode(doc, allowed_special="none"), dtype=np.uint16))
        parts.append(eos)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint16)


class TokenStream:
    """A split's ids (a read-only, usually memory-mapped uint16 array) and where they came
    from: ``ids``, ``path`` (None when not cached), ``n_documents``."""

    def __init__(self, ids, path=None, n_documents=None):
        self.ids = ids
        self.path = path
        self.n_documents = n_documents

    def __len__(self):
        return int(self.ids.shape[0])

    def __repr__(self):
        return f"TokenStream({len(self):,} ids, {self.n_documents} documents, path={self.path!r})"


def cached_token_stream(tokenizer, documents, cache_dir, name="corpus", verbose=False):
    """:func:`encode_documents`, cached as ``<cache_dir>/<name>-<hash>.npy`` and memory-mapped.

    The hash covers the tokenizer (its JSON form) and the documents' text, so a
    cached file is reused only for exactly the same input.
    """
    key = hashlib.sha256((_tokenizer_digest(tokenizer) + corpus_digest(documents))
                         .encode()).hexdigest()[:16]
    path = os.path.join(os.fspath(cache_dir), f"{name}-{key}.npy")
    if not os.path.exists(path):
        if verbose:
            print(f"tokenizing {len(documents):,} documents ({name}) -> {path}", flush=True)
        ids = encode_documents(tokenizer, documents)
        atomic_write(path, lambda f: np.save(f, ids, allow_pickle=False))
    ids = np.load(path, mmap_mode="r", allow_pickle=False)
    if ids.dtype != np.uint16 or ids.ndim != 1:
        raise ValueError(f"{path}: expected a 1-D uint16 array of token ids, got {ids.dtype} "
                         f"of shape {ids.shape}; delete the file to rebuild it")
    return TokenStream(ids, path, len(documents))


def _check_window(n, sequence_length, what):
    if n < sequence_length + 1:
        raise ValueError(f"{what}: {n} tokens are fewer than one window of sequence_length + 1 "
                         f"= {sequence_length + 1}; use a shorter sequence_length or more text")


def sample_batch(ids, rng, batch_size, sequence_length):
    """``(x, y)``, each (batch_size, sequence_length) int64: windows of T + 1 ids starting at
    uniformly drawn positions (``rng.integers``), x the first T, y the last T."""
    n = int(ids.shape[0])
    _check_window(n, sequence_length, "sample_batch")
    starts = rng.integers(0, n - sequence_length, size=batch_size)
    window = np.asarray(ids[starts[:, None] + np.arange(sequence_length + 1)], dtype=np.int64)
    return window[:, :-1], window[:, 1:]


def validation_windows(ids, sequence_length, max_windows=None):
    """``(x, y)`` of the consecutive, non-overlapping windows of the stream (the first
    ``max_windows`` of them when given): every evaluation sees the same tokens."""
    n = int(ids.shape[0])
    _check_window(n, sequence_length, "validation_windows")
    count = (n - 1) // sequence_length
    if max_windows is not None:
        count = min(count, int(max_windows))
    idx = np.arange(count)[:, None] * sequence_length + np.arange(sequence_length + 1)
    window = np.asarray(ids[idx], dtype=np.int64)
    return window[:, :-1], window[:, 1:]


def cross_entropy(logits, targets) -> np.ndarray:
    """−log softmax(logits)[target] per position, in float64 (logits (..., V), targets (...)).

    log softmax(z)_t = z_t − m − log Σ_j e^(z_j − m), m = max_j z_j (no overflow).
    """
    z = np.asarray(logits, dtype=np.float64)
    m = z.max(axis=-1, keepdims=True)
    lse = m[..., 0] + np.log(np.exp(z - m).sum(axis=-1))
    picked = np.take_along_axis(z, np.asarray(targets)[..., None], axis=-1)[..., 0]
    return lse - picked


def unigram_cross_entropy(train_ids, eval_ids, vocab_size) -> float:
    """Mean −log p(t) over ``eval_ids`` under the unigram model of ``train_ids`` (add-one
    smoothed: p(t) = (count(t) + 1) / (N + V)): the baseline a language model must beat.
    Its exp is the unigram perplexity."""
    counts = np.bincount(np.asarray(train_ids), minlength=vocab_size).astype(np.float64)
    logp = np.log(counts + 1.0) - np.log(counts.sum() + vocab_size)
    return float(-logp[np.asarray(eval_ids)].mean())
