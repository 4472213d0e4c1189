"""KeyedVectors: a vocabulary of words, each mapped to a row of a float32 matrix.

Reads and writes the two file formats everyone exchanges embeddings in:

* **GloVe text**: one ``word v1 v2 ... vd`` line per word, no header.
* **word2vec**: a ``count dim`` header line, then either text lines as above
  (``binary=False``) or, for ``binary=True``, ``word`` + a space + ``dim``
  little-endian float32 values (+ an optional newline) per word.

Both may be gzip-compressed (``.gz``).  Files written here load in gensim and
the reverse.

Similarity is cosine similarity::

    cos(u, v) = u·v / (‖u‖ ‖v‖)

and ``most_similar`` ranks every word at once with one matrix-vector product of
the row-normalised matrix with the (normalised) query direction.
"""

from __future__ import annotations

import gzip
import json
import os
import warnings

import numpy as np

from .. import random as tn_random
from ..atomic import atomic_write
from ..layers.embedding_init import lookup_rows
from .evaluation import evaluate_analogies, evaluate_similarity

__all__ = ["EmbeddingFormatError", "KeyedVectors"]


class EmbeddingFormatError(ValueError):
    """A malformed line in an embedding file (names the file and line number)."""

    def __init__(self, path, lineno, message):
        self.path = str(path)
        self.lineno = lineno
        where = f"{self.path}:{lineno}" if lineno is not None else self.path
        super().__init__(f"{where}: {message}")


def _open(path, mode="rb"):
    path = os.fspath(path)
    if path.endswith(".gz"):
        return gzip.open(path, mode)
    return open(path, mode)


class _Reader:
    """Collects rows while parsing; raises or skips malformed lines."""

    def __init__(self, path, on_error, dim=None):
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error: expected 'raise' or 'skip', got {on_error!r}")
        self.path = os.fspath(path)
        self.on_error = on_error
        self.dim = dim
        self.keys = []
        self.rows = []
        self.seen = {}
        self.skipped = []  # (lineno, message)

    def bad(self, lineno, message):
        if self.on_error == "raise":
            raise EmbeddingFormatError(self.path, lineno, message)
        self.skipped.append((lineno, message))

    def add_text(self, lineno, line):
        parts = line.rstrip("\r\n").rstrip(" ").split(" ")
        if len(parts) < 2 or parts[0] == "":
            self.bad(lineno, f"expected a word followed by numbers, got {line[:60]!r}")
            return
        word, values = parts[0], parts[1:]
        if self.dim is None:
            self.dim = len(values)
        if len(values) != self.dim:
            self.bad(lineno, f"word {word!r}: expected {self.dim} values, got {len(values)}")
            return
        try:
            vec = np.array(values, dtype=np.float32)
        except ValueError:
            bad = next(v for v in values if not _is_float(v))
            self.bad(lineno, f"word {word!r}: bad float {bad!r}")
            return
        self.add(lineno, word, vec)

    def add(self, lineno, word, vec):
        if word in self.seen:
            self.bad(lineno, f"duplicate word {word!r} (first seen on line {self.seen[word]})")
            return
        self.seen[word] = lineno
        self.keys.append(word)
        self.rows.append(vec)

    def result(self):
        if not self.keys:
            raise EmbeddingFormatError(self.path, None, "no vectors found (empty file?)")
        kv = KeyedVectors(self.keys, np.vstack(self.rows).astype(np.float32, copy=False))
        kv.skipped_lines = self.skipped
        if self.skipped:
            warnings.warn(
                f"{self.path}: skipped {len(self.skipped)} malformed line(s), "
                f"first: line {self.skipped[0][0]}: {self.skipped[0][1]}",
                stacklevel=3,
            )
        return kv


def _looks_like_header(line):
    parts = line.split()
    return len(parts) == 2 and all(p.isdigit() for p in parts)


def _is_float(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


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
        reader = _Reader(path, on_error)
        with _open(path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                if limit is not None and len(reader.keys) >= limit:
                    break
                line = _decode(raw, path, lineno, reader)
                if line is None:
                    continue
                if not line.strip():
                    reader.bad(lineno, "empty line")
                    continue
                if lineno == 1 and _looks_like_header(line):
                    raise EmbeddingFormatError(
                        path, 1, f"{line.strip()!r} looks like a word2vec 'count dim' header; "
                        "use KeyedVectors.load_word2vec_format for this file")
                reader.add_text(lineno, line)
        return reader.result()

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
        if mmap:
            return cls._load_cached(path, limit, cache_dir, lambda: cls.load_word2vec_format(
                path, binary=binary, on_error=on_error, limit=limit, unicode_errors=unicode_errors))
        with _open(path, "rb") as f:
            header = f.readline()
            if not header:
                raise EmbeddingFormatError(path, 1, "empty file (expected a 'count dim' header)")
            try:
                count, dim = (int(x) for x in header.split())
            except ValueError:
                raise EmbeddingFormatError(
                    path, 1, f"expected a 'count dim' header, got {header[:60]!r}") from None
            if count < 0 or dim <= 0:
                raise EmbeddingFormatError(path, 1, f"bad header values count={count} dim={dim}")
            reader = _Reader(path, on_error, dim=dim)
            n = count if limit is None else min(count, limit)
            if binary:
                _read_binary(f, reader, n, dim, unicode_errors)
            else:
                lineno = 1
                for raw in f:
                    lineno += 1
                    if len(reader.keys) + len(reader.skipped) >= n:
                        if limit is None and raw.strip():
                            reader.bad(lineno, f"more lines than the header's count {count}")
                        break
                    line = _decode(raw, path, lineno, reader, unicode_errors)
                    if line is None:
                        continue
                    if not line.strip():
                        reader.bad(lineno, "empty line")
                        continue
                    reader.add_text(lineno, line)
                got = len(reader.keys) + len(reader.skipped)
                if got < n:
                    reader.bad(lineno + 1, f"file ends after {got} vectors, header said {count}")
        return reader.result()

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
        if not fresh:
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
                for k, v in zip(self.index_to_key, vecs):
                    f.write(k.encode("utf-8") + b" " + v.tobytes() + b"\n")
            else:
                _write_text_rows(f, self.index_to_key, vecs)

        atomic_write(path, write)

    def save_glove(self, path):
        """Write header-less GloVe text (``.gz`` compresses)."""
        self._check_keys_writable()
        vecs = np.asarray(self.vectors, dtype=np.float32)
        atomic_write(path, lambda f: _write_text_rows(f, self.index_to_key, vecs))

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
        """Load what :meth:`save` wrote; ``mmap='r'`` memory-maps the vectors."""
        path = os.fspath(path)
        with open(path + ".json", "rb") as f:
            meta = json.loads(f.read().decode("utf-8"))
        if meta.get("format") != "tinynlp.KeyedVectors":
            raise ValueError(f"{path}.json: not a tinynlp KeyedVectors file")
        vecs = np.load(path + ".npy", mmap_mode=mmap, allow_pickle=False)
        return cls(meta["keys"], vecs)


def _global_rng():
    return tn_random.get_rng()


def _decode(raw, path, lineno, reader, errors="strict"):
    try:
        return raw.decode("utf-8", errors=errors)
    except UnicodeDecodeError as e:
        reader.bad(lineno, f"not valid UTF-8 ({e.reason} at byte {e.start})")
        return None


def _write_text_rows(f, keys, vecs):
    # str() of a float32 scalar is the shortest text that reads back to the same float32
    chunk = []
    for k, v in zip(keys, vecs):
        chunk.append(k + " " + " ".join(map(str, v)) + "\n")
        if len(chunk) >= 4096:
            f.write("".join(chunk).encode("utf-8"))
            chunk = []
    if chunk:
        f.write("".join(chunk).encode("utf-8"))


def _read_binary(f, reader, n, dim, unicode_errors):
    nbytes = 4 * dim
    for rec in range(n):
        lineno = rec + 2  # record number, counted like lines (header is line 1)
        word = bytearray()
        while True:
            ch = f.read(1)
            if ch == b"":
                got = len(reader.keys) + len(reader.skipped)
                reader.bad(lineno, f"file ends after {got} vectors, header said {n}")
                return
            if ch == b" ":
                break
            if ch == b"\n" and not word:
                continue  # newline after the previous vector (word2vec.c writes one)
            word += ch
        data = f.read(nbytes)
        if len(data) != nbytes:
            reader.bad(lineno, f"record {rec + 1} ({bytes(word)[:40]!r}): expected {nbytes} bytes "
                               f"of float32 data, got {len(data)}")
            return
        try:
            w = word.decode("utf-8", errors=unicode_errors).strip()
        except UnicodeDecodeError as e:
            reader.bad(lineno, f"record {rec + 1}: word is not valid UTF-8 ({e.reason})")
            continue
        reader.add(lineno, w, np.frombuffer(data, dtype="<f4").astype(np.float32))
