"""Pretrained vectors → the starting table of an :class:`~tinynlp.layers.Embedding`.

Three choices decide whether pretrained vectors help a small model
(``docs/pretrained_results.md`` measures them):

* **which rows are pretrained**: row ``i`` is the vector of the word the
  tokenizer numbered ``i``; words the vectors lack are *OOV* rows;
* **the scale of the pretrained rows**: GloVe 6B 50d entries have a standard
  deviation of about 0.69, 24 times that of the ``uniform(±0.05)`` rows a
  freshly initialised Embedding starts from.  Adam moves every weight by
  about the learning rate per step whatever its size, so in a few epochs it
  can reshape a table of small numbers but hardly one of large numbers; and
  the layers after the table start with inputs 24 times larger than usual.
  ``normalize=True`` makes every pretrained row unit length; ``scale=c``
  multiplies the pretrained rows by c; ``scale="init"`` picks c so that
  their standard deviation equals that of the layer's initializer;
* **how the OOV rows start** (``oov_init``): ``"init"`` the layer's own
  initializer (what a randomly initialised table would hold), ``"zeros"``,
  ``"mean"`` (the mean pretrained row), ``"like_pretrained"`` (normal noise
  with the pretrained rows' standard deviation), or any initializer name or
  callable (``"uniform"``, ``"normal"`` ...).

The padding row (``pad_index``) is all zeros.  A vocabulary is a Keras-style
``Tokenizer`` (``word_index`` + ``num_words``), an object with ``itos``
(``tn.text.Vocab``), a dict ``word → index`` or a list of words.  Vectors
are any object with ``key_to_index`` and ``vectors`` (tinynlp's or gensim's
``KeyedVectors``).
"""

from __future__ import annotations

import numpy as np

from .. import random as tn_random
from . import initializers as _initializers

__all__ = ["OOV_SPECIAL", "lookup_rows", "normalize_rows", "prepare_pretrained", "vocab_to_itos"]

#: ``oov_init`` values that are not initializers.
OOV_SPECIAL = ("init", "mean", "like_pretrained")


def vocab_to_itos(vocab, op="to_matrix") -> list:
    """The list ``index → word`` of a vocabulary (``None`` where no word has that index)."""
    if hasattr(vocab, "word_index"):  # a Keras-style Tokenizer: ids 1.., below num_words
        limit = getattr(vocab, "num_words", None)
        index = {w: i for w, i in vocab.word_index.items() if limit is None or i < limit}
        n = limit if limit is not None else max(index.values(), default=0) + 1
        itos = [None] * max(n, 1)
        for w, i in index.items():
            itos[i] = w
        return itos
    if hasattr(vocab, "itos"):
        return list(vocab.itos)
    if isinstance(vocab, dict):
        n = max(vocab.values()) + 1 if vocab else 0
        itos = [None] * n
        for w, i in vocab.items():
            if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or i < 0:
                raise ValueError(f"{op}: index of {w!r} must be a non-negative int, got {i!r}")
            itos[i] = w
        return itos
    if isinstance(vocab, (list, tuple)):
        return list(vocab)
    raise TypeError(f"{op}: vocab must be a Tokenizer (word_index), have .itos, or be a dict "
                    f"word→index or a list of tokens; got {type(vocab).__name__}")


def lookup_rows(vectors, vocab, lowercase=True, pad_index=0, op="to_matrix"):
    """``(matrix, found)``: row ``i`` the vector of word ``itos[i]`` (float32), zeros where
    the vectors lack the word; ``found`` (bool) marks the rows that were found.

    A word missing as written is looked up lower-cased when ``lowercase``.  Row
    ``pad_index`` stays zero and is never "found".
    """
    itos = vocab_to_itos(vocab, op)
    key_to_index = vectors.key_to_index
    table = vectors.vectors
    out = np.zeros((len(itos), table.shape[1]), dtype=np.float32)
    found = np.zeros(len(itos), dtype=bool)
    for i, w in enumerate(itos):
        if w is None or (pad_index is not None and i == pad_index):
            continue
        j = key_to_index.get(w)
        if j is None and lowercase and isinstance(w, str):
            j = key_to_index.get(w.lower())
        if j is not None:
            out[i] = table[j]
            found[i] = True
    return out, found


def normalize_rows(matrix):
    """Each row divided by its Euclidean length, ``r / ‖r‖₂`` (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def prepare_pretrained(matrix, pretrained=None, *, scale=None, normalize=False, oov_init="init",
                       init="uniform", pad_index=None, dtype=np.float32):
    """The starting table from pretrained ``matrix`` (V, D).

    ``pretrained`` (bool ``(V,)``, default all rows) marks the rows holding
    pretrained vectors.  In order: those rows are made unit length
    (``normalize``), multiplied by ``scale`` (a positive number, or ``"init"``:
    ``std(init sample) / std(pretrained rows)``); the other rows are filled
    by ``oov_init`` (``init`` is the layer's initializer); row ``pad_index``
    is zero.  Returns a new ``dtype`` array; ``matrix`` is not changed.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"pretrained matrix must be 2-D (vocab_size, dim), got shape "
                         f"{matrix.shape}")
    v, d = matrix.shape
    pre = np.ones(v, dtype=bool) if pretrained is None else np.asarray(pretrained, dtype=bool)
    if pre.shape != (v,):
        raise ValueError(f"pretrained_rows must be a boolean mask of shape ({v},), got "
                         f"{pre.shape}")
    if pad_index is not None:
        if not 0 <= pad_index < v:
            raise ValueError(f"pad_index must be a row of the {v}-row matrix, got {pad_index}")
        pre = pre.copy()
        pre[pad_index] = False
    out = np.zeros((v, d), dtype=np.float64)
    rows = matrix[pre]
    if normalize:
        rows = normalize_rows(rows)
    if isinstance(scale, str):
        if scale != "init":
            raise ValueError(f"scale must be None, a positive number or 'init', got {scale!r}")
        sd = float(rows.std()) if rows.size else 0.0
        target = float(np.std(_initializers.get(init)((v, d), np.float64)))
        if target == 0:
            raise ValueError("scale='init': the layer's initializer draws constant rows; "
                             "give a number instead")
        rows = rows * (target / sd if sd > 0 else 1.0)
    elif scale is not None:
        if isinstance(scale, bool) or not isinstance(scale, (int, float, np.number)) \
                or not scale > 0:
            raise ValueError(f"scale must be None, a positive number or 'init', got {scale!r}")
        rows = rows * float(scale)
    out[pre] = rows
    oov = ~pre
    if pad_index is not None:
        oov[pad_index] = False
    n = int(oov.sum())
    if n:
        out[oov] = _oov_rows(oov_init, n, d, rows, init)
    return out.astype(dtype)


def _oov_rows(oov_init, n, d, pretrained_rows, init):
    if oov_init is None or oov_init == "init":
        return _initializers.get(init)((n, d), np.float64)
    if oov_init == "mean":
        return np.broadcast_to(pretrained_rows.mean(axis=0) if len(pretrained_rows)
                               else np.zeros(d), (n, d))
    if oov_init == "like_pretrained":
        sd = float(pretrained_rows.std()) if pretrained_rows.size else 0.0
        return sd * tn_random.get_rng().standard_normal((n, d))
    if isinstance(oov_init, str) or callable(oov_init):
        try:
            fn = _initializers.get(oov_init)
        except ValueError:
            raise ValueError(f"oov_init must be one of {OOV_SPECIAL}, an initializer name or a "
                             f"callable; got {oov_init!r}") from None
        return np.asarray(fn((n, d), np.float64), dtype=np.float64)
    raise TypeError(f"oov_init must be one of {OOV_SPECIAL}, an initializer name or a callable; "
                    f"got {type(oov_init).__name__}")
