"""``pad_sequences`` with exactly Keras' semantics.

Keras pads **and** truncates at the front by default (``"pre"``): the last
``maxlen`` items of every sequence are kept and zeros are put before them, so
that the end of the text sits next to the output of a left-to-right RNN.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pad_sequences"]


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre",
                  truncating="pre", value=0):
    """Pad (and truncate) a list of sequences to one length, as Keras does.

    Args:
        sequences: a list of sequences (lists or 1-D arrays of numbers; items
            may themselves be arrays of one common shape).
        maxlen: the output length; ``None`` uses the longest sequence.
        dtype: dtype of the output (default ``"int32"``, as Keras).
        padding: ``"pre"`` (default) or ``"post"``: where the ``value``s go.
        truncating: ``"pre"`` (default) or ``"post"``: drop items from the
            start or from the end of sequences longer than ``maxlen``.
        value: the padding value.

    Returns:
        ``np.ndarray`` of shape ``(len(sequences), maxlen) + item_shape``.

    >>> pad_sequences([[1, 2, 3], [4]], maxlen=2)
    array([[2, 3],
           [0, 4]], dtype=int32)
    """
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise TypeError(
            f"sequences: expected a list of sequences, got {type(sequences).__name__}")
    if padding not in ("pre", "post"):
        raise ValueError(f"padding: expected 'pre' or 'post', got {padding!r}")
    if truncating not in ("pre", "post"):
        raise ValueError(f"truncating: expected 'pre' or 'post', got {truncating!r}")
    if maxlen is not None:
        if isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 1:
            raise ValueError(f"maxlen: expected None or a positive int, got {maxlen!r}")
        maxlen = int(maxlen)

    lengths = []
    item_shape = ()
    found_shape = False
    for i, s in enumerate(sequences):
        if isinstance(s, (str, bytes)) or not hasattr(s, "__len__"):
            raise TypeError(
                f"sequences[{i}]: expected a sequence (list or array), got "
                f"{type(s).__name__} ({s!r:.40})")
        lengths.append(len(s))
        if len(s) and not found_shape:
            item_shape = np.asarray(s).shape[1:]
            found_shape = True

    if maxlen is None:
        maxlen = max(lengths) if lengths else 0

    dtype = _check_value(value, dtype)
    out = np.full((len(lengths), maxlen) + item_shape, value, dtype=dtype)
    if maxlen == 0:
        return out
    for i, s in enumerate(sequences):
        if not len(s):
            continue
        kept = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        if dtype.kind in "iub":
            raw = np.asarray(kept)
            if raw.dtype.kind in "fc" and not np.isfinite(raw).all():
                raise ValueError(f"sequences[{i}]: holds NaN or infinity, which the integer "
                                 f"dtype {dtype} cannot represent")
        kept = np.asarray(kept, dtype=dtype)
        if kept.shape[1:] != item_shape:
            raise ValueError(
                f"sequences[{i}]: items have shape {kept.shape[1:]}, expected {item_shape} "
                f"(the shape of the items of the first non-empty sequence)")
        if padding == "post":
            out[i, : len(kept)] = kept
        else:
            out[i, maxlen - len(kept):] = kept
    return out


def _check_value(value, dtype):
    """``dtype`` as a NumPy dtype that can hold the padding ``value`` exactly."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype: expected a NumPy dtype such as 'int32', got {dtype!r}") from None
    if dtype.kind in "iu":
        try:
            ok = np.isfinite(value) and float(value) == int(value) \
                and np.iinfo(dtype).min <= int(value) <= np.iinfo(dtype).max
        except (TypeError, ValueError, OverflowError):
            ok = False
        if not ok:
            raise ValueError(f"value: the padding value {value!r} cannot be stored in the "
                             f"integer dtype {dtype} (use a float dtype for NaN padding)")
    return dtype
