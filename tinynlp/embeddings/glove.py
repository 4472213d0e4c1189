"""GloVe: global vectors from a co-occurrence matrix (Pennington et al. 2014).

    model = tn.embeddings.GloVe(sentences, vector_size=50, window=10, epochs=25)
    model.wv.most_similar("king")

1. Count X_ij, the 1/distance-weighted co-occurrences within ``window``
   (Numba, chunk by chunk; each chunk's pairs are merged into a sparse sorted
   COO matrix, so memory grows with the distinct pairs, not the corpus).
2. Minimise  J = Σ_{X_ij>0} ½ f(X_ij) (w_i·w̃_j + b_i + b̃_j − log X_ij)²
   with AdaGrad over shuffled entries, ``workers`` threads (Hogwild).
3. The word vectors are w + w̃ (the paper's choice).

Parameters are float32 (AdaGrad histories too).  ``x_max=100`` is the paper's
value for billions of tokens; on a small corpus most X_ij are far below it and
get tiny weights — on the 1.2M-token Brown corpus (100 dims, window 10, 25
epochs) x_max=10 gave WordSim-353 ρ 0.125 and analogy accuracy 0.023, against
0.067 / 0.011 with x_max=100 and 15 epochs.
"""

from __future__ import annotations

import time

import numba
import numpy as np

from .. import random as tn_random
from ..kernels.glove import cooccurrence_pairs, glove_epoch, merge_pairs, weighting
from ..progress import Progress
from .keyedvectors import KeyedVectors
from .word2vec import build_vocab_counts, check_reiterable, trainer_verbose

__all__ = ["GloVe"]


class GloVe:
    #: the fewest co-occurrence entries per kernel call of an epoch (see :meth:`train`)
    CHUNK = 200_000

    def __init__(self, sentences=None, vector_size=100, window=10, x_max=100.0, alpha=0.75,
                 learning_rate=0.05, epochs=25, min_count=5, seed=None, workers=3,
                 symmetric=True, max_vocab_size=None, batch_words=200000, progress=False,
                 verbose=None):
        """``verbose`` (``"auto"``, 0, 1, 2; default 0) shows each epoch's progress as
        ``fit`` does (:mod:`tinynlp.progress`); ``progress=True`` is ``verbose="auto"``."""
        for name, v in (("vector_size", vector_size), ("window", window), ("epochs", epochs),
                        ("workers", workers), ("batch_words", batch_words)):
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"GloVe: {name} must be a positive int, got {v!r}")
        if x_max <= 0:
            raise ValueError(f"GloVe: x_max must be > 0, got {x_max}")
        self.vector_size = int(vector_size)
        self.window = int(window)
        self.x_max = float(x_max)
        self.alpha = float(alpha)
        self.learning_rate = float(learning_rate)
        self.epochs = int(epochs)
        self.min_count = int(min_count)
        self.workers = int(workers)
        self.symmetric = bool(symmetric)
        self.max_vocab_size = max_vocab_size
        self.batch_words = int(batch_words)
        self.verbose = trainer_verbose(progress, verbose)
        if seed is None:
            seed = tn_random.next_seed()
        self._rng = np.random.default_rng(seed)
        self.wv = None
        self.loss_history = []  # mean ½ f·diff² per non-zero entry, one per epoch
        self.rows = self.cols = self.counts_x = None
        if sentences is not None:
            check_reiterable(sentences)
            self.build_vocab(sentences)
            self.count_cooccurrences(sentences)
            self.train()

    def build_vocab(self, corpus):
        words, counts, raw = build_vocab_counts(corpus, self.min_count, self.max_vocab_size)
        if not words:
            raise ValueError(f"GloVe: no word occurs at least min_count={self.min_count} times")
        self.index_to_key = words
        self.key_to_index = {w: i for i, w in enumerate(words)}
        self.word_counts = counts
        self.corpus_total_words = raw
        return self

    def count_cooccurrences(self, corpus):
        """Build the sparse X (``rows``, ``cols``, ``counts_x``: COO, sorted)."""

        V = len(self.index_to_key)
        get = self.key_to_index.get
        keys = np.zeros(0, dtype=np.int64)
        vals = np.zeros(0, dtype=np.float64)
        buf, lengths = [], []

        def flush():
            nonlocal keys, vals
            ids = np.array(buf, dtype=np.int64)
            offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
            np.cumsum(lengths, out=offsets[1:])
            k, v = merge_pairs(*cooccurrence_pairs(ids, offsets, self.window, V, self.symmetric))
            keys, vals = merge_pairs(np.concatenate([keys, k]), np.concatenate([vals, v]))

        for sent in corpus:
            buf.extend(get(w, -1) for w in sent)
            lengths.append(len(sent))
            if len(buf) >= self.batch_words:
                flush()
                buf, lengths = [], []
        if buf:
            flush()
        self.rows = (keys // V).astype(np.int32)
        self.cols = (keys % V).astype(np.int32)
        self.counts_x = vals
        return self

    def train(self, epochs=None):
        if self.counts_x is None:
            raise RuntimeError("GloVe.train: call build_vocab() and count_cooccurrences() first")
        if self.counts_x.shape[0] == 0:
            raise ValueError("GloVe: no co-occurrences (sentences too short for the window?)")
        epochs = self.epochs if epochs is None else int(epochs)
        V, dim = len(self.index_to_key), self.vector_size
        if not hasattr(self, "W"):
            rng = self._rng
            f32 = np.float32
            self.W = ((rng.random((V, dim)) - 0.5) / dim).astype(f32)
            self.Wc = ((rng.random((V, dim)) - 0.5) / dim).astype(f32)
            self.b = ((rng.random(V) - 0.5) / dim).astype(f32)
            self.bc = ((rng.random(V) - 0.5) / dim).astype(f32)
            self.gW = np.ones((V, dim), dtype=f32)  # AdaGrad histories start at 1
            self.gWc = np.ones((V, dim), dtype=f32)
            self.gb = np.ones(V, dtype=f32)
            self.gbc = np.ones(V, dtype=f32)
        logx = np.log(self.counts_x).astype(np.float32)
        fx = weighting(self.counts_x, self.x_max, self.alpha).astype(np.float32)
        n = self.counts_x.shape[0]
        # an epoch runs in pieces of at least CHUNK entries, so that the progress bar moves
        # (each piece split into ``workers`` parts trained in parallel, as a whole epoch was)
        pieces = np.linspace(0, n, max(1, min(20, n // self.CHUNK)) + 1).astype(np.int64)
        threads = max(1, min(self.workers, numba.config.NUMBA_NUM_THREADS))

        old = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            for ep in range(epochs):
                order = self._rng.permutation(n).astype(np.int64)
                bar = Progress(n, verbose=self.verbose, unit="pair",
                               title=f"GloVe epoch {ep + 1}/{epochs}")
                cost = 0.0
                for a, z in zip(pieces[:-1], pieces[1:]):
                    part = order[a:z]
                    parts = max(1, min(self.workers, z - a))
                    bounds = (np.arange(parts + 1, dtype=np.int64) * (z - a)) // parts
                    cost += glove_epoch(self.W, self.Wc, self.b, self.bc, self.gW, self.gWc,
                                        self.gb, self.gbc, self.rows, self.cols, logx, fx, part,
                                        bounds, np.float32(self.learning_rate))  # float32 loop
                    bar.update(int(z), {"cost": cost / max(int(z), 1)})
                self.loss_history.append(cost / n)
                bar.finish({"cost": cost / n})
        finally:
            numba.set_num_threads(old)
        self.wv = KeyedVectors(self.index_to_key, (self.W + self.Wc).astype(np.float32))
        return self.loss_history
