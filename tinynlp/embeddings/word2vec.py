"""Word2Vec (Mikolov et al. 2013): skip-gram and CBOW with negative sampling.

    model = tn.embeddings.Word2Vec(sentences, vector_size=100, window=5,
                                   min_count=5, sg=1, negative=5, epochs=5)
    model.wv.most_similar("king")

The arguments and their defaults follow gensim.  The pieces:

* **Vocabulary**: words seen at least ``min_count`` times, most frequent first
  (``max_vocab_size`` bounds memory while counting by pruning rare words, as
  word2vec.c and gensim do).
* **Frequent-word subsampling** (word2vec.c's formula): with t = sample·N (N
  the number of in-vocabulary words in the corpus) and c the word's count, a
  word is kept with probability  (√(c/t) + 1) · t/c  (capped at 1).
* **Noise distribution**: P(w) ∝ count(w)^0.75, sampled with an alias table.
* **Learning rate**: falls linearly from ``alpha`` to ``min_alpha`` over
  ``epochs × corpus words``.
* **Window**: for every centre word the window is shrunk by a random
  b ∈ [0, window), so near words are used more often.

The corpus is any *re-iterable* of token lists (a list, or an object whose
``__iter__`` re-reads a file); it is read once to count words and once per
epoch, encoded chunk by chunk (``batch_words × workers`` words at a time), so
only one chunk of ids is in memory.  The per-chunk training is the Numba
kernel :func:`tinynlp.kernels.word2vec.train_chunk`, run on ``workers``
threads with lock-free (Hogwild) updates.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from itertools import repeat

import numba
import numpy as np

from .. import random as tn_random
from ..atomic import atomic_write, write_json_atomic
from ..progress import Progress, resolve_verbose
from ..kernels.word2vec import noise_alias_table, train_chunk
from .keyedvectors import KeyedVectors

__all__ = ["Word2Vec", "build_vocab_counts", "keep_probabilities"]


def check_reiterable(corpus, name="sentences"):
    if corpus is None:
        raise TypeError(f"{name}: expected a re-iterable of token lists, got None")
    if iter(corpus) is corpus:
        raise TypeError(
            f"{name}: got a one-shot iterator ({type(corpus).__name__}); training reads the "
            "corpus several times, so pass a list or an object whose __iter__ restarts"
        )
    if isinstance(corpus, str):
        raise TypeError(f"{name}: expected token lists, got a str")


def build_vocab_counts(corpus, min_count=5, max_vocab_size=None):
    """Count words; return (words sorted by count desc, counts, raw word total)."""
    counts = Counter()
    min_reduce = 1
    raw = 0
    for sent in corpus:
        if isinstance(sent, str):
            raise TypeError("each sentence must be a list of tokens, got a str "
                            "(did you forget to split it?)")
        counts.update(sent)
        raw += len(sent)
        if max_vocab_size is not None and len(counts) > max_vocab_size:
            # prune, like word2vec.c's ReduceVocab: drop words seen <= min_reduce times
            counts = Counter({w: c for w, c in counts.items() if c > min_reduce})
            min_reduce += 1
    kept = [(w, c) for w, c in counts.items() if c >= min_count]
    kept.sort(key=lambda wc: -wc[1])  # stable: ties keep first-seen order
    return [w for w, _ in kept], np.array([c for _, c in kept], dtype=np.int64), raw


def keep_probabilities(counts, sample):
    """P(keep w) = (√(c/t) + 1)·t/c with t = sample·Σc, capped at 1 (word2vec.c)."""
    counts = np.asarray(counts, dtype=np.float64)
    if not sample or sample <= 0:
        return np.ones(len(counts), dtype=np.float32)
    t = sample * counts.sum()
    p = (np.sqrt(counts / t) + 1.0) * t / counts
    return np.minimum(p, 1.0).astype(np.float32)


def trainer_verbose(progress, verbose):
    """The ``verbose`` of a trainer from its ``progress`` flag (the older spelling) and
    ``verbose`` (``"auto"``, 0, 1, 2; None: from ``progress``)."""
    if verbose is None:
        return "auto" if progress else 0
    resolve_verbose(verbose, what="verbose")   # checked now; resolved at each run
    return verbose


class Word2Vec:
    """Skip-gram (``sg=1``) or CBOW (``sg=0``) with negative sampling."""

    #: longer sentences are cut into pieces of this many tokens (word2vec.c's
    #: MAX_SENTENCE_LENGTH; gensim truncates instead)
    max_sentence_length = 10000

    def __init__(self, sentences=None, vector_size=100, alpha=0.025, window=5, min_count=5,
                 max_vocab_size=None, sample=1e-3, seed=None, workers=3, min_alpha=0.0001,
                 sg=0, hs=0, negative=5, ns_exponent=0.75, cbow_mean=1, epochs=5,
                 batch_words=10000, compute_loss=False, progress=False, verbose=None):
        """gensim's arguments; ``verbose`` (``"auto"``, 0, 1, 2; default 0, silent) shows
        each epoch's progress as ``fit`` does (:mod:`tinynlp.progress`); ``progress=True``
        is ``verbose="auto"``."""
        if hs:
            raise NotImplementedError("Word2Vec: hierarchical softmax (hs=1) is not implemented; "
                                      "use negative sampling (hs=0, negative>0)")
        if negative <= 0:
            raise ValueError(f"Word2Vec: negative must be > 0, got {negative}")
        if not cbow_mean:
            raise NotImplementedError("Word2Vec: only cbow_mean=1 is implemented")
        for name, v in (("vector_size", vector_size), ("window", window), ("epochs", epochs),
                        ("workers", workers), ("batch_words", batch_words)):
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"Word2Vec: {name} must be a positive int, got {v!r}")
        self.vector_size = int(vector_size)
        self.alpha = float(alpha)
        self.min_alpha = float(min_alpha)
        self.window = int(window)
        self.min_count = int(min_count)
        self.max_vocab_size = max_vocab_size
        self.sample = float(sample)
        self.seed = seed
        self.workers = int(workers)
        self.sg = int(bool(sg))
        self.hs = 0
        self.negative = int(negative)
        self.ns_exponent = float(ns_exponent)
        self.cbow_mean = 1
        self.epochs = int(epochs)
        self.batch_words = int(batch_words)
        self.compute_loss = bool(compute_loss)
        self.verbose = trainer_verbose(progress, verbose)
        self.wv = None
        self.syn1neg = None
        self.counts = None
        self.corpus_total_words = 0
        self.train_words_per_second = None
        self.train_seconds = None
        self.effective_words = 0
        self.running_training_loss = 0.0
        self.epoch_losses = []
        if seed is None:
            self._rng = np.random.default_rng(tn_random.next_seed())
        else:
            self._rng = np.random.default_rng(seed)
        if sentences is not None:
            check_reiterable(sentences)
            self.build_vocab(sentences)
            self.train(sentences, epochs=self.epochs)

    # ------------------------------------------------------------ vocabulary
    def build_vocab(self, corpus_iterable):
        """Count words, keep those seen ``min_count`` times, initialise weights."""
        words, counts, raw = build_vocab_counts(corpus_iterable, self.min_count, self.max_vocab_size)
        if not words:
            raise ValueError(f"Word2Vec: no word occurs at least min_count={self.min_count} times; "
                             "lower min_count or give a bigger corpus")
        self.counts = counts
        self.corpus_total_words = raw
        # word2vec.c init: input vectors uniform in ±0.5/dim, output vectors zero
        syn0 = (self._rng.random((len(words), self.vector_size), dtype=np.float32) - 0.5)
        syn0 /= self.vector_size
        self.wv = KeyedVectors(words, syn0)
        self.syn1neg = np.zeros_like(syn0)
        self._keep = keep_probabilities(counts, self.sample)

        self._noise_prob, self._noise_alias = noise_alias_table(counts, self.ns_exponent)
        return self

    # -------------------------------------------------------------- training
    def _chunks(self, corpus):
        """Yield (ids int32, offsets int64, raw word count) of ~batch_words·workers words."""
        get = self.wv.key_to_index.get
        limit = self.batch_words * self.workers
        max_len = self.max_sentence_length
        buf, lengths = [], []
        for sent in corpus:
            if isinstance(sent, str):
                raise TypeError("each sentence must be a list of tokens, got a str")
            n = len(sent)
            buf.extend(map(get, sent, repeat(-1, n)))
            while n > max_len:
                lengths.append(max_len)
                n -= max_len
            lengths.append(n)
            if len(buf) >= limit:
                yield self._encode(buf, lengths)
                buf, lengths = [], []
        if buf:
            yield self._encode(buf, lengths)

    @staticmethod
    def _encode(buf, lengths):
        ids = np.array(buf, dtype=np.int32)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return ids, offsets, len(buf)

    def _part_bounds(self, offsets, n_parts):
        """Split sentences into ``n_parts`` runs of about equal word count."""
        total = offsets[-1]
        targets = (np.arange(1, n_parts) * total) // n_parts
        cuts = np.searchsorted(offsets, targets)
        return np.concatenate([[0], cuts, [len(offsets) - 1]]).astype(np.int64)

    def train(self, corpus_iterable, total_examples=None, total_words=None, epochs=None,
              start_alpha=None, end_alpha=None, compute_loss=None, progress=None, verbose=None):
        """Run ``epochs`` passes over the corpus (vocabulary must be built).

        ``verbose`` / ``progress``: as the constructor's (default: the model's)."""

        if self.wv is None:
            raise RuntimeError("Word2Vec.train: call build_vocab() first")
        check_reiterable(corpus_iterable, "corpus_iterable")

        epochs = self.epochs if epochs is None else int(epochs)
        a0 = self.alpha if start_alpha is None else float(start_alpha)
        a1 = self.min_alpha if end_alpha is None else float(end_alpha)
        compute_loss = self.compute_loss if compute_loss is None else bool(compute_loss)
        verbose = self.verbose if progress is None and verbose is None else \
            trainer_verbose(progress, verbose)
        words_per_epoch = total_words or self.corpus_total_words
        total = max(1, epochs * words_per_epoch)
        syn0 = self.wv.vectors
        if not isinstance(syn0, np.ndarray) or not syn0.flags.writeable:
            syn0 = np.array(syn0, dtype=np.float32)
            self.wv.vectors = syn0
        threads = max(1, min(self.workers, numba.config.NUMBA_NUM_THREADS))
        old_threads = numba.get_num_threads()
        numba.set_num_threads(threads)
        # compile / load the cached kernel now (an empty call), so timing is training only
        train_chunk(syn0, self.syn1neg, np.zeros(0, np.int32), np.zeros(1, np.int64),
                    np.zeros(1, np.int64), self._keep, self._noise_prob, self._noise_alias,
                    self.window, self.negative, self.sg, a0, a1, np.zeros(0, np.int64),
                    compute_loss)
        done = 0
        effective = 0
        self.epoch_losses = []
        self.running_training_loss = 0.0
        t0 = time.perf_counter()
        try:
            for epoch in range(epochs):
                epoch_loss = 0.0
                bar = Progress(words_per_epoch, verbose=verbose, unit="word",
                               title=f"Word2Vec epoch {epoch + 1}/{epochs}")
                epoch_done = 0
                for ids, offsets, raw in self._chunks(corpus_iterable):
                    n_parts = min(self.workers, len(offsets) - 1)
                    bounds = self._part_bounds(offsets, n_parts)
                    alpha_b = max(a1, a0 - (a0 - a1) * done / total)
                    alpha_e = max(a1, a0 - (a0 - a1) * min(done + raw, total) / total)
                    seeds = self._rng.integers(1, 2**47, size=n_parts, dtype=np.int64)
                    eff, losses = train_chunk(
                        syn0, self.syn1neg, ids, offsets, bounds, self._keep, self._noise_prob, self._noise_alias,
                        self.window, self.negative, self.sg, alpha_b, alpha_e, seeds, compute_loss)
                    done += raw
                    effective += int(eff.sum())
                    epoch_loss += float(losses.sum())
                    epoch_done += raw
                    bar.update(min(epoch_done, words_per_epoch), {"alpha": alpha_e})
                logs = {"alpha": alpha_e}
                if compute_loss:
                    logs["loss"] = epoch_loss
                bar.finish(logs)
                self.epoch_losses.append(epoch_loss)
                self.running_training_loss += epoch_loss
        finally:
            numba.set_num_threads(old_threads)
        elapsed = time.perf_counter() - t0
        self.wv.fill_norms(force=True)
        self.train_seconds = elapsed
        self.effective_words = effective
        self.train_words_per_second = effective / elapsed if elapsed > 0 else float("inf")
        if resolve_verbose(verbose):
            print(f"Word2Vec: trained on {done:,} raw words ({effective:,} effective) in "
                  f"{elapsed:.2f}s, {self.train_words_per_second:,.0f} effective words/s",
                  flush=True)
        return effective, done

    def get_latest_training_loss(self):
        return self.running_training_loss

    # ------------------------------------------------------------ persistence
    def save(self, path):
        """``<path>.json`` (settings, vocabulary counts) + ``<path>.npz`` (weights)."""
        path = os.fspath(path)
        meta = {k: getattr(self, k) for k in (
            "vector_size", "alpha", "min_alpha", "window", "min_count", "sample", "sg",
            "negative", "ns_exponent", "epochs", "workers", "batch_words", "corpus_total_words")}
        meta["format"] = "tinynlp.Word2Vec"
        meta["keys"] = self.wv.index_to_key
        atomic_write(path + ".npz", lambda f: np.savez(
            f, syn0=np.asarray(self.wv.vectors), syn1neg=self.syn1neg, counts=self.counts))
        write_json_atomic(path + ".json", meta, indent=None)

    @classmethod
    def load(cls, path):
        path = os.fspath(path)
        with open(path + ".json", encoding="utf-8") as f:
            meta = json.load(f)
        if meta.pop("format", None) != "tinynlp.Word2Vec":
            raise ValueError(f"{path}.json: not a tinynlp Word2Vec file")
        keys = meta.pop("keys")
        total = meta.pop("corpus_total_words")
        model = cls(**meta)
        with np.load(path + ".npz", allow_pickle=False) as z:
            model.wv = KeyedVectors(keys, z["syn0"])
            model.syn1neg = z["syn1neg"]
            model.counts = z["counts"]
        model.corpus_total_words = total
        model._keep = keep_probabilities(model.counts, model.sample)

        model._noise_prob, model._noise_alias = noise_alias_table(model.counts, model.ns_exponent)
        return model
