"""KeyedVectors: a vocabulary of words, each mapped to a row of a float32 matrix.

Reads and writes the two file formats everyone exchanges embeddings in
(:mod:`tinynlp.embeddings.vector_files` parses them, checking everything):

* **GloVe text**: one ``word v1 v2 ... vd`` line per word, no header.
* **word2vec**: a ``count dim`` header line, then either text lines as above
  (``binary=False``) or, for ``binary=True``, ``word`` + a space + ``dim``
  little-endian float32 values (+ an optional newline) per word.

Both may be gzip-compressed (``.gz``).  Files written here load in gensim and
the reverse.  A malformed file raises :class:`EmbeddingFormatError` (a
ValueError) naming the file and line.

Similarity is cosine similarity::

    cos(u, v) = u·v / (‖u‖ ‖v‖)

and ``most_similar`` ranks every word at once with one matrix-vector product of
the row-normalised matrix with the (normalised) query direction.
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np

from .. import random as tn_random
from ..atomic import atomic_write
from ..layers.embedding_init import lookup_rows
from ..npyio import MAX_JSON_BYTES, npy_file_header
from .evaluation import evaluate_analogies, evaluate_similarity
from .vector_files import (
    EmbeddingFormatError, check_unicode_errors, read_glove, read_word2vec, write_binary_rows,
    write_text_rows,
)

__all__ = ["EmbeddingFormatError", "KeyedVectors"]


def _unit_rows(m):
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (m / norms).astype(np.float32, copy=False)


class KeyedVectors:
    """Words ↔ vectors.

    ``KeyedVectors(keys, vectors)`` with ``keys`` a list of distinct strings and
    ``vectors`` an ``(len(keys), dim)`` array (stored as float32).
    """

    def __init__(self, keys=(), vectors=None, vector_size=None):
        keys = list(keys)
        if vectors is None:
            if vector_size is None:
                raise ValueError("KeyedVectors: pass vectors or vector_size")
            vectors = np.zeros((len(keys), int(vector_size)), dtype=np.float32)
        vectors = np.asanyarray(vectors)  # keeps a np.memmap a memmap
        if vectors.dtype != np.float32:
            vectors = vectors.astype(np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(keys):
            raise ValueError(
                f"KeyedVectors: vectors must have shape ({len(keys)}, dim), got {vectors.shape}"
            )
        self.index_to_key = keys
        self.key_to_index = {k: i for i, k in enumerate(keys)}
        if len(self.key_to_index) != len(keys):
            seen = set()
            dup = next(k for k in keys if k in seen or seen.add(k))
            raise ValueError(f"KeyedVectors: duplicate key {dup!r}")
        self.vectors = vectors
        self.skipped_lines = []
        self._normed = None

    # ------------------------------------------------------------------ basics
    @property
    def vector_size(self):
        return int(self.vectors.shape[1])

    def __len__(self):
        return len(self.index_to_key)

    def __contains__(self, key):
        return key in self.key_to_index

    def has_index_for(self, key):
        return key in self.key_to_index

    def __repr__(self):
        return f"<KeyedVectors: {len(self)} keys, vector_size={self.vector_size}>"

    def get_index(self, key):
        try:
            return self.key_to_index[key]
        except KeyError:
            raise KeyError(f"Key {key!r} not present in vocabulary") from None

    def get_vector(self, key, norm=False):
        i = self.get_index(key)
        return self.get_normed_vectors()[i] if norm else self.vectors[i]

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.vectors[self.get_index(key)]
        if isinstance(key, (list, tuple)):
            return self.vectors[[self.get_index(k) for k in key]]
        raise TypeError(f"KeyedVectors[...]: expected a str or a list of str, got {type(key).__name__}")

    def add_vectors(self, keys, vectors):
        """Append new words (existing words are overwritten)."""
        keys = [keys] if isinstance(keys, str) else list(keys)
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(keys), -1)
        if vectors.shape[1] != self.vector_size:
            raise ValueError(f"add_vectors: expected dim {self.vector_size}, got {vectors.shape[1]}")
        new_rows = []
        new_keys = []
        base = np.array(self.vectors, dtype=np.float32)  # copy (may have been a memmap)
        for k, v in zip(keys, vectors):
            if k in self.key_to_index:
                base[self.key_to_index[k]] = v
            else:
                self.key_to_index[k] = len(self.index_to_key)
                self.index_to_key.append(k)
                new_keys.append(k)
                new_rows.append(v)
        self.vectors = np.vstack([base] + ([np.vstack(new_rows)] if new_rows else []))
        self._normed = None

    def get_normed_vectors(self):
        """Rows scaled to unit length (zero rows stay zero); cached."""
        if self._normed is None:
            self._normed = _unit_rows(np.asarray(self.vectors, dtype=np.float32))
        return self._normed

    def fill_norms(self, force=False):
        if force:
            self._normed = None
        self.get_normed_vectors()

    # -------------------------------------------------------------- similarity
    def similarity(self, w1, w2):
        """cos(w1, w2)."""
        u, v = self[w1].astype(np.float64), self[w2].astype(np.float64)
        d = np.linalg.norm(u) * np.linalg.norm(v)
        return float(u @ v / d) if d > 0 else 0.0

    def _query(self, positive, negative):
        """Unit query direction: mean of ±unit vectors (gensim's convention)."""
        if isinstance(positive, (str, np.ndarray)):
            positive = [positive]
        if isinstance(negative, (str, np.ndarray)):
            negative = [negative]
        items = [(p, 1.0) for p in (positive or [])] + [(n, -1.0) for n in (negative or [])]
        if not items:
            raise ValueError("most_similar: give at least one positive or negative word")
        normed = self.get_normed_vectors()
        acc = np.zeros(self.vector_size, dtype=np.float64)
        exclude = []
        for item, sign in items:
            if isinstance(item, tuple):  # (word, weight) like gensim
                item, weight = item
                sign = sign * float(weight)
            if isinstance(item, str):
                i = self.get_index(item)
                exclude.append(i)
                acc += sign * normed[i]
            else:
                vec = np.asarray(item, dtype=np.float64).reshape(-1)
                if vec.shape[0] != self.vector_size:
                    raise ValueError(
                        f"most_similar: vector of dim {vec.shape[0]}, expected {self.vector_size}"
                    )
                n = np.linalg.norm(vec)
                acc += sign * (vec / n if n > 0 else vec)
        acc /= len(items)
        n = np.linalg.norm(acc)
        if n > 0:
            acc /= n
        return acc.astype(np.float32), exclude

    def most_similar(self, positive=None, negative=None, topn=10, restrict_vocab=None):
        """Words closest (cosine) to mean(positive) − mean(negative) of unit vectors.

        Returns ``[(word, similarity), ...]`` best first, without the query words.
        ``topn=None`` returns the similarity to every word (an array).
        """
        if topn is not None and (isinstance(topn, bool) or not isinstance(topn, (int, np.integer))
                                 or topn < 0):
            raise ValueError(f"most_similar: topn must be None or an integer >= 0, got {topn!r}")
        query, exclude = self._query(positive, negative)
        normed = self.get_normed_vectors()
        limit = len(self) if restrict_vocab is None else min(int(restrict_vocab), len(self))
        sims = normed[:limit] @ query
        if topn is None:
            return sims
        exclude = [i for i in exclude if i < limit]
        k = min(int(topn) + len(exclude), limit)
        if k <= 0:
            return []
        if k < limit:
            top = np.argpartition(-sims, k - 1)[:k]
        else:
            top = np.arange(limit)
        top = top[np.lexsort((top, -sims[top]))]  # by similarity, ties by index
        ex = set(exclude)
        out = [(self.index_to_key[i], float(sims[i])) for i in top if i not in ex]
        return out[: int(topn)]

    def similar_by_word(self, word, topn=10, restrict_vocab=None):
        return self.most_similar(positive=[word], topn=topn, restrict_vocab=restrict_vocab)

    def similar_by_vector(self, vector, topn=10, restrict_vocab=None):
        return self.most_similar(positive=[np.asarray(vector)], topn=topn, restrict_vocab=restrict_vocab)

    def analogy(self, a, b, c, topn=1, restrict_vocab=None):
        """a : b :: c : ?   — the word(s) closest to b − a + c (3CosAdd)."""
        res = self.most_similar(positive=[b, c], negative=[a], topn=topn, restrict_vocab=restrict_vocab)
        return res[0][0] if topn == 1 and res else res

    def doesnt_match(self, words):
        """The word furthest from the mean of the (unit) vectors of ``words``."""
        words = list(words)
        known = [w for w in words if w in self.key_to_index]
        if len(known) != len(words):
            missing = [w for w in words if w not in self.key_to_index]
            warnings.warn(f"doesnt_match: ignoring words not in vocabulary: {missing}", stacklevel=2)
        if not known:
            raise ValueError("doesnt_match: none of the words is in the vocabulary")
        normed = self.get_normed_vectors()[[self.key_to_index[w] for w in known]]
        mean = normed.mean(axis=0)
        n = np.linalg.norm(mean)
        if n > 0:
            mean = mean / n
        return known[int(np.argmin(normed @ mean))]

    def distance(self, w1, w2):
        return 1.0 - self.similarity(w1, w2)

    # ------------------------------------------------------------- evaluation
    def evaluate_word_analogies(self, analogies=None, restrict_vocab=300000, case_insensitive=True):
        """gensim-style: returns ``(accuracy, sections)``; see :func:`evaluate_analogies`."""

        r = evaluate_analogies(self, analogies, restrict_vocab=restrict_vocab,
                               case_insensitive=case_insensitive)
        return r.accuracy, r.sections

    def evaluate_word_pairs(self, pairs=None, delimiter="\t", restrict_vocab=300000,
                            case_insensitive=True):
        """gensim-style: returns ``((pearson_r, p), (spearman_rho, p), oov_percent)``."""

        r = evaluate_similarity(self, pairs if pairs is not None else "wordsim353",
                                delimiter=delimiter, restrict_vocab=restrict_vocab,
                                case_insensitive=case_insensitive)
        return (r.pearson, r.pearson_pvalue), (r.spearman, r.spearman_pvalue), r.oov_ratio * 100.0

    # ---------------------------------------------------- pretrained → layer
    def to_matrix(self, vocab, oov="random", scale=None, seed=None, pad_index=0, lowercase=True):
        """An ``(len(vocab), dim)`` float32 matrix for an embedding layer.

        ``vocab`` is a Keras-style ``Tokenizer`` (its ``word_index`` below
        ``num_words``), an object with ``itos`` (list index → token), a dict
        ``word → index`` or a plain list of tokens.  Row ``i`` is this word's
        vector (falling back to its lower-case form when ``lowercase``); words
        not found are *OOV* and get ``oov="random"`` (normal, std ``scale``,
        default the std of all vectors) or ``oov="zeros"`` rows.  The row
        ``pad_index`` (``<pad>``, index 0) is all zeros and not counted.
        Returns ``(matrix, n_oov)``.

        To also rescale or normalise the vectors, choose another OOV start or
        freeze only the pretrained rows, use
        ``tn.layers.Embedding.from_pretrained(kv, vocab, ...)``.
        """

        if oov not in ("random", "zeros"):
            raise ValueError(f"to_matrix: oov must be 'random' or 'zeros', got {oov!r}")
        out, found = lookup_rows(self, vocab, lowercase=lowercase, pad_index=pad_index)
        missing = ~found
        if pad_index is not None and 0 <= pad_index < len(out):
            missing[pad_index] = False
        n_oov = int(missing.sum())
        if oov == "random" and n_oov:
            if scale is None:
                scale = float(np.std(self.vectors)) if len(self) else 0.1
            rng = np.random.default_rng(seed) if seed is not None else _global_rng()
            for i in np.flatnonzero(missing):  # row by row: the draws of the former loop
                out[i] = rng.normal(0.0, scale, size=self.vector_size)
        return out, n_oov

    # ------------------------------------------------------------- reading
    @classmethod
    def load_glove(cls, path, on_error="raise", mmap=False, limit=None, cache_dir=None):
        """Read a header-less GloVe text file (plain or ``.gz``).

        ``mmap=True`` keeps a cache (``<name>.tinynlp.npy`` + ``.tinynlp.json``)
        beside the file, or in ``cache_dir``, refreshed when the text is newer,
        and memory-maps it.
        """
        if mmap:
            return cls._load_cached(path, limit, cache_dir,
                                    lambda: cls.load_glove(path, on_error=on_error, limit=limit))
        return cls._from_parsed(*read_glove(path, on_error=on_error, limit=limit))

    @classmethod
    def load_word2vec_format(cls, path, binary=False, on_error="raise", limit=None, mmap=False,
                             unicode_errors="strict", no_header=False, cache_dir=None):
        """Read the word2vec format (``count dim`` header; text or binary; ``.gz`` ok).
        ``no_header=True`` (text only) reads header-less GloVe text, as in gensim."""
        if no_header:
            if binary:
                raise ValueError("load_word2vec_format: no_header=True needs binary=False")
            return cls.load_glove(path, on_error=on_error, mmap=mmap, limit=limit,
                                  cache_dir=cache_dir)
        check_unicode_errors(unicode_errors)
        if mmap:
            return cls._load_cached(path, limit, cache_dir, lambda: cls.load_word2vec_format(
                path, binary=binary, on_error=on_error, limit=limit, unicode_errors=unicode_errors))
        return cls._from_parsed(*read_word2vec(path, binary=binary, on_error=on_error,
                                               limit=limit, unicode_errors=unicode_errors))

    @classmethod
    def _from_parsed(cls, keys, vectors, skipped):
        kv = cls(keys, vectors)
        kv.skipped_lines = skipped
        return kv

    @classmethod
    def _load_cached(cls, path, limit, cache_dir, parse):
        path = os.fspath(path)
        base = path if cache_dir is None else os.path.join(os.fspath(cache_dir),
                                                           os.path.basename(path))
        if cache_dir is not None:
            os.makedirs(cache_dir, exist_ok=True)
        stem = base + (f".limit{int(limit)}" if limit is not None else "") + ".tinynlp"
        npy, meta = stem + ".npy", stem + ".json"
        fresh = (os.path.exists(npy) and os.path.exists(meta)
                 and os.path.getmtime(npy) >= os.path.getmtime(path))
        if fresh:
            try:
                return cls.load(stem, mmap="r")
            except EmbeddingFormatError as e:   # a damaged cache is rebuilt from the source
                warnings.warn(f"mmap: the cache {stem}.* is damaged ({e}); rebuilding it from "
                              f"{path}", stacklevel=3)
        kv = parse()
        try:
            kv.save(stem)
        except OSError as e:  # read-only folder: fall back to memory
            warnings.warn(f"mmap: cannot write cache beside {path} ({e}); loaded into memory",
                          stacklevel=3)
            return kv
        return cls.load(stem, mmap="r")

    # ------------------------------------------------------------- writing
    def save_word2vec_format(self, path, binary=False, write_header=True):
        """Write the word2vec format (gensim / word2vec.c compatible)."""
        vecs = np.asarray(self.vectors, dtype="<f4")
        self._check_keys_writable()

        def write(f):
            if write_header:
                f.write(f"{len(self)} {self.vector_size}\n".encode())
            if binary:
                write_binary_rows(f, self.index_to_key, vecs)
            else:
                write_text_rows(f, self.index_to_key, vecs)

        atomic_write(path, write)

    def save_glove(self, path):
        """Write header-less GloVe text (``.gz`` compresses)."""
        self._check_keys_writable()
        vecs = np.asarray(self.vectors, dtype=np.float32)
        atomic_write(path, lambda f: write_text_rows(f, self.index_to_key, vecs))

    def _check_keys_writable(self):
        for k in self.index_to_key:
            if not k or any(ch.isspace() for ch in k):
                raise ValueError(f"cannot write key {k!r}: keys must be non-empty with no whitespace")

    def save(self, path):
        """Native format: ``<path>.npy`` (vectors, memory-mappable) + ``<path>.json`` (keys)."""
        path = os.fspath(path)
        vecs = np.ascontiguousarray(self.vectors, dtype=np.float32)
        atomic_write(path + ".npy", lambda f: np.save(f, vecs, allow_pickle=False))
        meta = {"format": "tinynlp.KeyedVectors", "version": 1, "vector_size": self.vector_size,
                "keys": self.index_to_key}
        atomic_write(path + ".json", lambda f: f.write(json.dumps(meta).encode("utf-8")))

    @classmethod
    def load(cls, path, mmap=None):
        """Load what :meth:`save` wrote; ``mmap='r'`` memory-maps the vectors.  A damaged
        pair of files raises :class:`EmbeddingFormatError` naming the file."""
        path = os.fspath(path)
        meta_path, npy_path = path + ".json", path + ".npy"
        if os.path.getsize(meta_path) > MAX_JSON_BYTES:
            raise EmbeddingFormatError(meta_path, None, "too large for a KeyedVectors index")
        with open(meta_path, "rb") as f:
            meta = _parse_meta(f.read(), meta_path)
        header = npy_file_header(npy_path, _NpyError, label="the vectors")
        if header.dtype != np.float32 or len(header.shape) != 2 \
                or header.shape[0] != len(meta["keys"]) or header.shape[1] != meta["vector_size"]:
            raise EmbeddingFormatError(
                npy_path, None, f"holds {header.dtype} {header.shape}; {meta_path} lists "
                f"{len(meta['keys'])} keys of dimension {meta['vector_size']} (float32)")
        try:
            vecs = np.load(npy_path, mmap_mode=mmap, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise EmbeddingFormatError(npy_path, None, f"cannot be read ({e})") from None
        try:
            return cls(meta["keys"], vecs)
        except ValueError as e:
            raise EmbeddingFormatError(meta_path, None, str(e)) from None


def _global_rng():
    return tn_random.get_rng()


class _NpyError(EmbeddingFormatError):
    """EmbeddingFormatError with the one-message signature :mod:`tinynlp.npyio` raises
    with (its messages already name the file)."""

    def __init__(self, message):
        ValueError.__init__(self, message)
        self.path, self.lineno = None, None


def _parse_meta(raw, meta_path):
    def bad(message):
        return EmbeddingFormatError(meta_path, None, message)
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise bad(f"not valid JSON ({type(e).__name__}: {e})") from None
    if not isinstance(meta, dict) or meta.get("format") != "tinynlp.KeyedVectors":
        raise bad("not a tinynlp KeyedVectors file")
    keys, size = meta.get("keys"), meta.get("vector_size")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise bad("'keys' must be a list of strings")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise bad(f"'vector_size' must be a non-negative integer, got {size!r:.40}")
    return meta
