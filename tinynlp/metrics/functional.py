"""Metric functions on plain arrays (NumPy in, Python floats / arrays out).

Label metrics follow scikit-learn's definitions (``y_true`` and ``y_pred``
are class labels); probability metrics follow Keras' (``y_pred`` holds
probabilities or scores):

======================================  ==============================================
``accuracy(y, ŷ)``                      mean(y == ŷ)  (labels)
``binary_accuracy(y, p, threshold)``    mean(y == [p > threshold])
``categorical_accuracy(Y, P)``          mean(argmax Y == argmax P)  (one-hot Y)
``sparse_categorical_accuracy(y, P)``   mean(y == argmax P)         (integer y)
``confusion_matrix(y, ŷ)``              C[i, j] = #{true class i, predicted j}
``precision`` / ``recall``              TP / (TP + FP),  TP / (TP + FN)
``f1_score``                            2·TP / (2·TP + FP + FN)  (harmonic mean of P, R)
``roc_auc(y, s)``                       P(s₊ > s₋) + ½ P(s₊ = s₋)  (Mann–Whitney U)
``perplexity(mean_nll)``                exp(mean negative log-likelihood per token)
======================================  ==============================================

``average`` for precision / recall / F1 (scikit-learn's meanings):
``"binary"`` — the ``pos_label`` class only; ``"micro"`` — pool TP, FP, FN
over all classes (equals accuracy for single-label data); ``"macro"`` —
unweighted mean of the per-class scores; ``"weighted"`` — mean weighted by
each class's support; ``None`` — the per-class scores.  A score whose
denominator is 0 is ``zero_division`` (0.0 by default, scikit-learn's
``"warn"`` value without the warning).
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.tensor import to_numpy

__all__ = [
    "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "confusion_matrix", "precision", "recall", "f1_score", "precision_recall_fscore",
    "roc_auc", "perplexity",
]


def _weighted_mean(values, sample_weight, fn):
    values = np.asarray(values, dtype=np.float64)
    if sample_weight is None:
        return float(values.mean()) if values.size else 0.0
    w = to_numpy(sample_weight).astype(np.float64)
    if w.shape != values.shape:
        w = w.reshape(w.shape + (1,) * (values.ndim - w.ndim)) if w.ndim < values.ndim else w
        try:
            w = np.broadcast_to(w, values.shape)
        except ValueError:
            raise ValueError(f"{fn}: sample_weight of shape {to_numpy(sample_weight).shape} does "
                             f"not fit the per-sample shape {values.shape}") from None
    total = w.sum()
    return float((values * w).sum() / total) if total > 0 else 0.0


def _labels_1d(y, name, fn):
    y = to_numpy(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{fn}: {name} must be a 1-D array of labels, got shape {y.shape}")
    return y


def _same_length(a, b, fn):
    if len(a) != len(b):
        raise ValueError(f"{fn}: y_true has {len(a)} labels but y_pred has {len(b)}")


def accuracy(y_true, y_pred, sample_weight=None) -> float:
    """Fraction of labels predicted exactly: mean(y_true == y_pred)."""
    yt, yp = to_numpy(y_true), to_numpy(y_pred)
    if yt.shape != yp.shape:
        raise ValueError(f"accuracy: y_true has shape {yt.shape} but y_pred has {yp.shape}")
    return _weighted_mean(yt == yp, sample_weight, "accuracy")


def _align(y_true, y_pred, fn):
    yt, yp = to_numpy(y_true), to_numpy(y_pred)
    if yt.shape == yp.shape:
        return yt, yp
    if yt.ndim == yp.ndim - 1 and yp.shape[-1] == 1 and yt.shape == yp.shape[:-1]:
        return yt[..., None], yp
    if yt.ndim == yp.ndim + 1 and yt.shape[-1] == 1 and yt.shape[:-1] == yp.shape:
        return yt[..., 0], yp
    raise ValueError(f"{fn}: y_true has shape {yt.shape} but y_pred has shape {yp.shape}")


def binary_accuracy_values(y_true, y_pred, threshold=0.5) -> np.ndarray:
    """Per-sample correctness: (y == [p > t]) averaged over the last axis when ndim ≥ 2."""
    yt, yp = _align(y_true, y_pred, "binary_accuracy")
    correct = (yt.astype(np.float64) > 0.5) == (yp > threshold)
    return correct.mean(axis=-1) if correct.ndim >= 2 else correct.astype(np.float64)


def binary_accuracy(y_true, y_pred, threshold=0.5, sample_weight=None) -> float:
    """mean(y == [p > threshold]) for probabilities p (threshold 0 for logits)."""
    return _weighted_mean(binary_accuracy_values(y_true, y_pred, threshold), sample_weight,
                          "binary_accuracy")


def categorical_accuracy_values(y_true, y_pred) -> np.ndarray:
    yt, yp = to_numpy(y_true), to_numpy(y_pred)
    if yt.shape != yp.shape:
        raise ValueError(f"categorical_accuracy: y_true (one-hot) has shape {yt.shape} but "
                         f"y_pred has shape {yp.shape}")
    return (yt.argmax(axis=-1) == yp.argmax(axis=-1)).astype(np.float64)


def categorical_accuracy(y_true, y_pred, sample_weight=None) -> float:
    """mean(argmax y_true == argmax y_pred) for one-hot targets."""
    return _weighted_mean(categorical_accuracy_values(y_true, y_pred), sample_weight,
                          "categorical_accuracy")


def sparse_categorical_accuracy_values(y_true, y_pred) -> np.ndarray:
    yt, yp = to_numpy(y_true), to_numpy(y_pred)
    if yt.ndim == yp.ndim and yt.shape[-1] == 1:
        yt = yt[..., 0]
    if yt.shape != yp.shape[:-1]:
        raise ValueError(f"sparse_categorical_accuracy: y_true (integer classes) has shape "
                         f"{yt.shape}; expected y_pred's shape without its class axis, "
                         f"{yp.shape[:-1]}")
    return (yt.astype(np.int64) == yp.argmax(axis=-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred, sample_weight=None) -> float:
    """mean(y_true == argmax y_pred) for integer targets."""
    return _weighted_mean(sparse_categorical_accuracy_values(y_true, y_pred), sample_weight,
                          "sparse_categorical_accuracy")


def confusion_matrix(y_true, y_pred, num_classes=None, labels=None, sample_weight=None):
    """C[i, j] = number (or total weight) of samples of true class i predicted as j.

    Classes are ``labels`` if given (in that order), else ``range(num_classes)``
    if given, else the sorted union of the labels seen (scikit-learn's rule).
    """
    yt = _labels_1d(y_true, "y_true", "confusion_matrix")
    yp = _labels_1d(y_pred, "y_pred", "confusion_matrix")
    _same_length(yt, yp, "confusion_matrix")
    if labels is None:
        labels = np.arange(num_classes) if num_classes is not None else np.union1d(yt, yp)
    labels = np.asarray(labels)
    k = len(labels)
    w = np.ones(len(yt)) if sample_weight is None else to_numpy(sample_weight).astype(np.float64)
    cm = np.zeros((k, k), dtype=np.int64 if sample_weight is None else np.float64)
    ti, pi = _positions(labels, yt), _positions(labels, yp)
    keep = (ti >= 0) & (pi >= 0)
    if num_classes is not None and not keep.all():
        bad = yt[ti < 0].tolist() + yp[pi < 0].tolist()
        raise ValueError(f"confusion_matrix: labels {sorted(set(bad))[:5]} are outside "
                         f"range({num_classes})")
    np.add.at(cm, (ti[keep], pi[keep]), w[keep].astype(cm.dtype))
    return cm


def _positions(labels, y):
    """Index of each y in ``labels`` (-1 where absent), vectorised."""
    if k := len(labels):
        sorter = np.argsort(labels, kind="mergesort")
        pos = np.searchsorted(labels, y, sorter=sorter).clip(0, k - 1)
        idx = sorter[pos]
        return np.where(labels[idx] == y, idx, -1)
    return np.full(len(y), -1, dtype=np.int64)


def _divide(num, den, zero_division):
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    out = np.full(np.broadcast(num, den).shape, float(zero_division))
    np.divide(num, den, out=out, where=den > 0)
    return out


def precision_recall_fscore(y_true, y_pred, average="binary", pos_label=1, labels=None,
                            zero_division=0.0, sample_weight=None):
    """(precision, recall, F1) with scikit-learn's ``average`` semantics (see module doc)."""
    fn = "precision_recall_fscore"
    averages = ("binary", "micro", "macro", "weighted", None)
    if average not in averages:
        raise ValueError(f"{fn}: average must be one of {averages}, got {average!r}")
    yt = _labels_1d(y_true, "y_true", fn)
    yp = _labels_1d(y_pred, "y_pred", fn)
    _same_length(yt, yp, fn)
    present = np.union1d(yt, yp)
    if average == "binary":
        if len(present) > 2:
            raise ValueError(f"{fn}: average='binary' needs at most 2 classes, found "
                             f"{len(present)} ({present[:6].tolist()}); use 'macro' or 'micro'")
        labels = np.array([pos_label])
    elif labels is None:
        labels = present
    labels = np.asarray(labels)
    cm_labels = np.union1d(labels, present)
    cm = confusion_matrix(yt, yp, labels=cm_labels, sample_weight=sample_weight)
    pos = np.searchsorted(cm_labels, labels)
    tp = np.diag(cm)[pos].astype(np.float64)
    fp = cm.sum(axis=0)[pos] - tp
    fn_ = cm.sum(axis=1)[pos] - tp
    if average == "micro":
        tp, fp, fn_ = tp.sum(), fp.sum(), fn_.sum()
    p = _divide(tp, tp + fp, zero_division)
    r = _divide(tp, tp + fn_, zero_division)
    f = _divide(2 * tp, 2 * tp + fp + fn_, zero_division)
    if average in ("binary", "micro"):
        return float(np.ravel(p)[0]), float(np.ravel(r)[0]), float(np.ravel(f)[0])
    if average == "macro":
        return float(p.mean()), float(r.mean()), float(f.mean())
    if average == "weighted":
        support = tp + fn_
        s = support.sum()
        if s == 0:
            return (float(zero_division),) * 3
        return (float((p * support).sum() / s), float((r * support).sum() / s),
                float((f * support).sum() / s))
    return p, r, f


def precision(y_true, y_pred, average="binary", pos_label=1, labels=None, zero_division=0.0,
              sample_weight=None):
    """TP / (TP + FP): of the samples predicted positive, the fraction that are."""
    return precision_recall_fscore(y_true, y_pred, average, pos_label, labels, zero_division,
                                   sample_weight)[0]


def recall(y_true, y_pred, average="binary", pos_label=1, labels=None, zero_division=0.0,
           sample_weight=None):
    """TP / (TP + FN): of the positive samples, the fraction found."""
    return precision_recall_fscore(y_true, y_pred, average, pos_label, labels, zero_division,
                                   sample_weight)[1]


def f1_score(y_true, y_pred, average="binary", pos_label=1, labels=None, zero_division=0.0,
             sample_weight=None):
    """2·P·R / (P + R) = 2·TP / (2·TP + FP + FN)."""
    return precision_recall_fscore(y_true, y_pred, average, pos_label, labels, zero_division,
                                   sample_weight)[2]


def _average_ranks(x):
    """1-based ranks of ``x`` with ties given their average rank."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    ranks = np.empty(len(x), dtype=np.float64)
    # boundaries of runs of equal values
    change = np.flatnonzero(np.diff(xs)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(x)]])
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = 0.5 * (s + 1 + e)
    return ranks


def roc_auc(y_true, y_score, sample_weight=None) -> float:
    """Area under the ROC curve for binary labels = P(score₊ > score₋) + ½·P(tie).

    Computed exactly by the Mann–Whitney statistic: with average ranks R of
    the scores, AUC = (Σ_{positives} R − n₊(n₊+1)/2) / (n₊·n₋).
    """
    yt = _labels_1d(y_true, "y_true", "roc_auc").astype(np.float64)
    s = _labels_1d(y_score, "y_score", "roc_auc").astype(np.float64)
    _same_length(yt, s, "roc_auc")
    if not np.isin(yt, (0.0, 1.0)).all():
        raise ValueError("roc_auc: y_true must hold binary labels 0/1")
    if sample_weight is not None:
        # weighted: pairwise definition, O(n log n) via sorting by score
        w = _labels_1d(sample_weight, "sample_weight", "roc_auc").astype(np.float64)
        order = np.argsort(s, kind="mergesort")
        s, yt, w = s[order], yt[order], w[order]
        wp, wn = w * yt, w * (1 - yt)
        if wp.sum() == 0 or wn.sum() == 0:
            raise ValueError("roc_auc: needs both positive and negative samples")
        change = np.flatnonzero(np.diff(s)) + 1
        starts = np.concatenate([[0], change])
        ends = np.concatenate([change, [len(s)]])
        below_neg, total = 0.0, 0.0
        for a, b in zip(starts, ends):
            pos_here, neg_here = wp[a:b].sum(), wn[a:b].sum()
            total += pos_here * (below_neg + 0.5 * neg_here)
            below_neg += neg_here
        return float(total / (wp.sum() * wn.sum()))
    n_pos = yt.sum()
    n_neg = len(yt) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("roc_auc: needs both positive and negative samples (AUC is undefined "
                         "with one class)")
    ranks = _average_ranks(s)
    return float((ranks[yt == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def perplexity(mean_nll) -> float:
    """exp(mean negative log-likelihood per token, in nats).  An array is averaged first."""
    v = to_numpy(mean_nll)
    v = float(v.mean()) if v.ndim else float(v)
    return math.exp(v) if v < 709 else float("inf")
