"""Padded mini-batches from token-id sequences, with optional length bucketing.

A batch is padded only to the length of its own longest sequence.  When
sequences of very different lengths share a batch, most of the batch is
padding; *bucketing* takes ``bucket_size * batch_size`` (shuffled) sequences
at a time, sorts them by length and cuts them into batches, so that each
batch holds sequences of similar length.  The batches are then shuffled, so
training still sees a random order.  :func:`padding_fraction` and
:func:`bucketing_report` measure what it saves.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import as_rng, check_same_length, n_items

__all__ = ["Batch", "BatchLoader", "padding_fraction", "bucketing_report", "batch_indices"]


class Batch(NamedTuple):
    """One padded batch.  ``ids[b, t]`` is valid where ``mask[b, t]`` is True.

    ``labels`` is None (no labels), a ``(B,)`` array (one label per sequence),
    or a ``(B, T)`` array padded like ``ids`` (one label per token).
    """

    ids: np.ndarray      # int64 (B, T), padded at the end ("post")
    mask: np.ndarray     # bool (B, T)
    lengths: np.ndarray  # int64 (B,)
    labels: object       # None | (B,) | (B, T)
    index: np.ndarray    # int64 (B,): positions of these examples in the data set


def _lengths_of(sequences) -> np.ndarray:
    if isinstance(sequences, np.ndarray) and sequences.ndim == 1 and sequences.dtype.kind in "iu":
        return sequences.astype(np.int64)  # already lengths
    return np.array([len(s) for s in sequences], dtype=np.int64)


def batch_indices(lengths, batch_size, shuffle=True, bucket_size=None, drop_last=False,
                  rng=None) -> list[np.ndarray]:
    """The example indices of each batch (the order a :class:`BatchLoader` yields).

    Without bucketing: a (shuffled) permutation cut into batches.  With
    ``bucket_size = k``: the permutation is cut into chunks of ``k * batch_size``,
    each chunk is sorted by length (stable), cut into batches, and the batches
    of all chunks are shuffled (when ``shuffle``).
    """
    lengths = np.asarray(lengths)
    n = len(lengths)
    rng = as_rng(rng) if shuffle else None
    order = rng.permutation(n) if shuffle else np.arange(n)
    if bucket_size:
        chunk = bucket_size * batch_size
        pieces = []
        for start in range(0, n, chunk):
            part = order[start:start + chunk]
            pieces.append(part[np.argsort(lengths[part], kind="stable")])
        order = np.concatenate(pieces) if pieces else order
        batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
        if drop_last and batches and len(batches[-1]) < batch_size:
            # drop the short batch: with sorting it can be anywhere, so find it
            batches = [b for b in batches if len(b) == batch_size]
        if shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches
    batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches.pop()
    return batches


def padding_fraction(lengths, batch_size, bucket_size=None, shuffle=True, random_state=0):
    """Fraction of the padded ``(B, T)`` cells that are padding, over one epoch.

    ``lengths`` may be the sequences themselves or their lengths.
    """
    lengths = _lengths_of(lengths)
    if len(lengths) == 0:
        raise ValueError("lengths: expected at least one sequence, got none")
    batches = batch_indices(lengths, batch_size, shuffle, bucket_size, rng=random_state)
    cells = sum(len(b) * int(lengths[b].max()) for b in batches)
    if cells == 0:
        return 0.0
    return 1.0 - float(lengths.sum()) / cells


def bucketing_report(lengths, batch_size, bucket_size=50, random_state=0) -> dict:
    """Padding fraction without and with bucketing, e.g. ``{'without': 0.61, 'with': 0.02}``."""
    return {"without": padding_fraction(lengths, batch_size, None, True, random_state),
            "with": padding_fraction(lengths, batch_size, bucket_size, True, random_state)}


class BatchLoader:
    """Iterate over padded batches of token-id sequences.

    Each iteration (epoch) yields :class:`Batch` tuples ``(ids, mask, lengths,
    labels, index)``; ``ids`` are int64 ``(B, T)`` padded at the end with
    ``pad_value``, where ``T`` is the longest sequence of that batch (capped by
    ``maxlen``).

    Args:
        sequences: list of token-id sequences (lists or 1-D int arrays).
        labels: None, one label per sequence (array-like), or one label
            sequence per sequence (same lengths; padded with ``label_pad_value``).
        batch_size: examples per batch.
        shuffle: reshuffle at every epoch.
        bucket_size: ``k`` to sort by length within chunks of ``k * batch_size``
            (``None``: no bucketing).
        maxlen: truncate longer sequences (keep the first ``maxlen`` tokens).
        pad_value: the id used for padding (0 = ``<pad>``).
        label_pad_value: padding for per-token labels.
        drop_last: drop a last, smaller batch.
        random_state: None (tinynlp's global generator), int, or Generator.

    >>> loader = BatchLoader([[5, 6, 7], [8]], labels=[1, 0], batch_size=2, shuffle=False)
    >>> ids, mask, lengths, y, index = next(iter(loader))
    >>> ids.tolist(), mask.tolist(), lengths.tolist(), y.tolist()
    ([[5, 6, 7], [8, 0, 0]], [[True, True, True], [True, False, False]], [3, 1], [1, 0])
    """

    def __init__(self, sequences, labels=None, batch_size=32, shuffle=True, bucket_size=None,
                 maxlen=None, pad_value=0, label_pad_value=0, drop_last=False,
                 random_state=None):
        n = n_items(sequences, "sequences")
        if n == 0:
            raise ValueError("sequences: expected at least one sequence, got an empty dataset")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
        if bucket_size is not None and (isinstance(bucket_size, bool)
                                        or not isinstance(bucket_size, (int, np.integer))
                                        or bucket_size < 1):
            raise ValueError(f"bucket_size: expected None or a positive int, got {bucket_size!r}")
        if maxlen is not None and (isinstance(maxlen, bool)
                                   or not isinstance(maxlen, (int, np.integer)) or maxlen < 1):
            raise ValueError(f"maxlen: expected None or a positive int, got {maxlen!r}")
        seqs = []
        for i, s in enumerate(sequences):
            if isinstance(s, (str, bytes)):
                raise TypeError(
                    f"sequences[{i}]: expected a sequence of token ids, got a str ({s!r:.40}); "
                    "encode the texts first (Tokenizer or Vocab)")
            a = np.asarray(s)
            if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
                raise TypeError(
                    f"sequences[{i}]: expected a 1-D sequence of integer ids, got dtype "
                    f"{a.dtype} and shape {a.shape}")
            seqs.append(a.astype(np.int64)[:maxlen] if maxlen else a.astype(np.int64))
        self.sequences = seqs
        self.per_token_labels = False
        self.labels = None
        if labels is not None:
            check_same_length([("sequences", n), ("labels", n_items(labels, "labels"))])
            first = labels[0]
            if isinstance(first, (list, tuple, np.ndarray)) and np.ndim(first) == 1:
                self.per_token_labels = True
                self.labels = []
                for i, (s, lab) in enumerate(zip(sequences, labels)):
                    lab = np.asarray(lab)
                    if len(lab) != len(s):
                        raise ValueError(
                            f"labels[{i}]: expected one label per token ({len(s)}), got "
                            f"{len(lab)}")
                    self.labels.append(lab[:maxlen] if maxlen else lab)
            else:
                self.labels = np.asarray(labels)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.bucket_size = bucket_size
        self.pad_value = pad_value
        self.label_pad_value = label_pad_value
        self.drop_last = drop_last
        self.rng = as_rng(random_state)
        self.lengths = np.array([len(s) for s in seqs], dtype=np.int64)

    def __len__(self) -> int:
        n = len(self.sequences)
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)

    def _make(self, idx: np.ndarray) -> Batch:
        lengths = self.lengths[idx]
        T = int(lengths.max()) if len(idx) else 0
        ids = np.full((len(idx), T), self.pad_value, dtype=np.int64)
        for row, i in enumerate(idx):
            ids[row, : lengths[row]] = self.sequences[i]
        mask = np.arange(T)[None, :] < lengths[:, None]
        labels = None
        if self.labels is not None:
            if self.per_token_labels:
                dtype = np.result_type(*[self.labels[i].dtype for i in idx])
                labels = np.full((len(idx), T), self.label_pad_value, dtype=dtype)
                for row, i in enumerate(idx):
                    labels[row, : lengths[row]] = self.labels[i]
            else:
                labels = self.labels[idx]
        return Batch(ids, mask, lengths, labels, np.asarray(idx, dtype=np.int64))

    def __iter__(self):
        for idx in batch_indices(self.lengths, self.batch_size, self.shuffle,
                                 self.bucket_size, self.drop_last, self.rng):
            yield self._make(idx)

    def padding_fraction(self) -> float:
        """Padding fraction of one epoch with this loader's settings (fixed seed 0)."""
        return padding_fraction(self.lengths, self.batch_size, self.bucket_size,
                                self.shuffle, 0)
