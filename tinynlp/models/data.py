"""Turning what ``fit`` / ``evaluate`` / ``predict`` receive into batches.

Accepted inputs (Keras' conventions):

- ``x`` an ndarray (or Tensor) and ``y`` an ndarray: sliced into batches;
- ``x`` a list / tuple of arrays (a model with several inputs), all with the
  same number of samples;
- ``x`` an iterable of batches and ``y=None``: each item is ``(x, y)``,
  ``(x, y, sample_weight)``, or a :class:`tinynlp.data.Batch` (``ids``,
  ``mask``, ``lengths``, ``labels``, ``index``) from a ``BatchLoader`` — then
  ``ids`` is the input and ``mask`` the padding mask.  The iterable is
  iterated once per epoch (``len()`` is used for the progress bar if defined).

Every batch comes out as a :class:`BatchData` ``(x, y, sample_weight, mask)``.
"""

from __future__ import annotations

import collections.abc
from typing import NamedTuple

import numpy as np

from ..autograd.tensor import Tensor, to_numpy


class BatchData(NamedTuple):
    x: object                 # ndarray or list of ndarrays
    y: object                 # ndarray or None
    sample_weight: object     # ndarray or None
    mask: object              # (B, T) bool padding mask from a loader, or None


def _as_array(a, name):
    """An ndarray of user data, with a clear error for ragged lists."""
    if isinstance(a, (Tensor, np.ndarray)):
        return to_numpy(a)
    try:
        arr = np.asarray(a)
    except Exception as e:  # ragged lists and the like
        raise TypeError(f"{name}: cannot convert {type(a).__name__} to an array ({e}); pad "
                        "sequences first (tn.text.pad_sequences) or pass a batch loader") from None
    if arr.dtype == object:
        raise TypeError(f"{name}: got a ragged / object array of shape {arr.shape}; pad "
                        "sequences first (tn.text.pad_sequences) or pass a batch loader")
    return arr


def check_batch_size(batch_size, what) -> int:
    """``batch_size`` (None: Keras' default 32) as a positive int, else a ValueError."""
    if batch_size is None:
        return 32
    if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"{what}: batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def require_samples(data, what):
    """An error for array data with no samples (a loss over nothing would be NaN)."""
    if isinstance(data, ArrayData) and data.n == 0:
        raise ValueError(f"{what}: x has no samples (an empty array); there is nothing to "
                         f"{'train on' if what == 'fit' else 'evaluate'}")


def is_array_like(x) -> bool:
    if isinstance(x, (np.ndarray, Tensor)):
        return True
    if isinstance(x, (list, tuple)) and x and all(isinstance(v, (np.ndarray, Tensor)) for v in x):
        return True
    return False


def _n(x):
    return len(x[0]) if isinstance(x, list) else len(x)


def _take(x, idx):
    if isinstance(x, list):
        return [v[idx] for v in x]
    return x[idx]


class ArrayData:
    """In-memory arrays, sliced by index arrays."""

    def __init__(self, x, y=None, sample_weight=None, what="fit"):
        if isinstance(x, (list, tuple)) and not isinstance(x, np.ndarray) and \
                is_array_like(list(x)):
            x = [_as_array(v, f"{what}: x[{i}]") for i, v in enumerate(x)]
        else:
            x = _as_array(x, f"{what}: x")
            if x.ndim == 0:
                raise ValueError(f"{what}: x must have a batch axis, got a scalar")
        self.x = x
        n = _n(x)
        if isinstance(x, list):
            lens = [len(v) for v in x]
            if len(set(lens)) != 1:
                raise ValueError(f"{what}: the input arrays have different numbers of samples "
                                 f"{lens}")
        self.y = None if y is None else _as_array(y, f"{what}: y")
        if self.y is not None and len(self.y) != n:
            raise ValueError(f"{what}: x has {n} samples but y has {len(self.y)}")
        self.sample_weight = None if sample_weight is None else \
            _as_array(sample_weight, f"{what}: sample_weight").astype(np.float64)
        if self.sample_weight is not None and len(self.sample_weight) != n:
            raise ValueError(f"{what}: x has {n} samples but sample_weight has "
                             f"{len(self.sample_weight)}")
        self.n = n

    def __len__(self):
        return self.n

    def subset(self, start, stop):
        out = ArrayData.__new__(ArrayData)
        sl = slice(start, stop)
        out.x = _take(self.x, sl)
        out.y = None if self.y is None else self.y[sl]
        out.sample_weight = None if self.sample_weight is None else self.sample_weight[sl]
        out.n = _n(out.x)
        return out

    def split_last(self, fraction, what="fit"):
        """(train, validation): the validation part is the *last* ``fraction`` (Keras)."""
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"{what}: validation_split must be in [0, 1), got {fraction!r}")
        split_at = int(np.floor(self.n * (1.0 - fraction)))
        if split_at == 0 or split_at == self.n:
            raise ValueError(f"{what}: validation_split={fraction} leaves an empty training or "
                             f"validation set for {self.n} samples")
        return self.subset(0, split_at), self.subset(split_at, self.n)

    def num_batches(self, batch_size, n=None):
        n = self.n if n is None else n
        return -(-n // batch_size)

    def batches(self, batch_size, indices=None):
        if indices is None:
            for start in range(0, self.n, batch_size):
                sl = slice(start, min(start + batch_size, self.n))
                yield self._batch(sl)
        else:
            for start in range(0, len(indices), batch_size):
                yield self._batch(indices[start:start + batch_size])

    def _batch(self, idx):
        return BatchData(_take(self.x, idx), None if self.y is None else self.y[idx],
                         None if self.sample_weight is None else self.sample_weight[idx], None)


def unpack_batch(item, what="fit"):
    """One item of a batch iterable → :class:`BatchData`."""
    if hasattr(item, "ids") and hasattr(item, "mask") and hasattr(item, "labels"):
        return BatchData(item.ids, item.labels, getattr(item, "sample_weight", None), item.mask)
    if isinstance(item, dict):
        return BatchData(item["x"], item.get("y"), item.get("sample_weight"), item.get("mask"))
    if isinstance(item, (tuple, list)) and len(item) in (1, 2, 3):
        x = item[0]
        y = item[1] if len(item) > 1 else None
        sw = item[2] if len(item) > 2 else None
        return BatchData(x, y, sw, None)
    if isinstance(item, (np.ndarray, Tensor)):
        return BatchData(item, None, None, None)
    raise TypeError(f"{what}: each batch must be (x, y), (x, y, sample_weight) or a "
                    f"tinynlp.data.Batch, got {type(item).__name__}"
                    + (f" of length {len(item)}" if hasattr(item, '__len__') else ""))


class IterableData:
    """An iterable of batches, re-iterated every epoch."""

    def __init__(self, iterable, what="fit"):
        if isinstance(iterable, (str, bytes, dict)) or not hasattr(iterable, "__iter__"):
            raise TypeError(f"{what}: x must be an array, a list of arrays, or an iterable of "
                            f"(x, y) batches; got {type(iterable).__name__}")
        # a generator / iterator can only serve one epoch
        self._one_shot = isinstance(iterable, collections.abc.Iterator)
        self.iterable = iterable
        self.what = what
        self._used = False

    def num_batches(self, batch_size=None, n=None):
        try:
            return len(self.iterable)
        except TypeError:
            return None

    def batches(self, batch_size=None, indices=None):
        if self._one_shot and self._used:
            raise ValueError(f"{self.what}: the batch generator is exhausted after one epoch; "
                             "pass a re-iterable object (a list, a BatchLoader, or a class "
                             "with __iter__) to train for several epochs")
        self._used = True
        for item in self.iterable:
            yield unpack_batch(item, self.what)


def _numeric_nested_list(x) -> bool:
    """True for plain (nested) lists of numbers such as ``[[1, 2], [3, 4]]``."""
    if not isinstance(x, list) or not x:
        return False
    if any(isinstance(v, (tuple, dict, np.ndarray, Tensor)) for v in x):
        return False
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError):
        return False
    return arr.dtype.kind in "biuf"


def make_data(x, y=None, sample_weight=None, what="fit"):
    """ArrayData for arrays (or array-like lists), IterableData for an iterable of batches."""
    if x is None:
        raise ValueError(f"{what}: x is required")
    if y is not None or is_array_like(x) or _numeric_nested_list(x):
        return ArrayData(x, y, sample_weight, what)
    if sample_weight is not None:
        raise ValueError(f"{what}: sample_weight must come inside the batches when x is an "
                         "iterable of batches")
    return IterableData(x, what)


def class_weights_for(y, class_weight, y_pred_shape=None, what="fit"):
    """Per-sample (or per-position) weights ``class_weight[label]`` for targets ``y``.

    Labels: integer targets as they are (any shape, e.g. per-token tags);
    ``(B, 1)`` probabilities/labels rounded; one-hot ``(…, C)`` by argmax.
    """
    y = np.asarray(y)
    if y.ndim >= 2 and y.shape[-1] > 1 and y.dtype.kind == "f" and \
            (y_pred_shape is None or tuple(y_pred_shape) == y.shape):
        labels = y.argmax(axis=-1)
    else:
        if y.ndim >= 2 and y.shape[-1] == 1:
            y = y[..., 0]
        labels = np.rint(y).astype(np.int64) if y.dtype.kind == "f" else y.astype(np.int64)
    keys = {}
    for k, v in class_weight.items():
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
            raise TypeError(f"{what}: class_weight keys must be integer class indices, got {k!r}")
        keys[int(k)] = float(v)
    table_size = max(max(keys) + 1, int(labels.max(initial=0)) + 1)
    table = np.full(table_size, np.nan)
    for k, v in keys.items():
        if k >= 0:
            table[k] = v
    if labels.size and labels.min() < 0:
        raise ValueError(f"{what}: class_weight needs non-negative class labels, found "
                         f"{int(labels.min())}")
    w = table[labels]
    if np.isnan(w).any():
        missing = sorted(set(labels[np.isnan(w)].tolist()))
        raise ValueError(f"{what}: class_weight has no weight for class(es) {missing[:10]} "
                         f"(given: {sorted(keys)})")
    return w
