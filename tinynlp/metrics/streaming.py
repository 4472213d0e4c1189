"""Streaming metrics for ``model.compile(metrics=[...])``.

A metric accumulates over the batches of an epoch::

    m = tn.metrics.BinaryAccuracy()
    m.update_state(y_true, y_pred, sample_weight=None)   # once per batch
    m.result()                                           # float, over all batches so far
    m.reset_state()                                      # at each epoch start

``sample_weight`` may have the shape of the per-sample values or fewer
trailing axes (a ``(batch,)`` weight for ``(batch, time)`` values); the
training loop also passes the padding mask this way, so padded positions
never count.

``get("accuracy", loss=...)`` resolves "accuracy" the way Keras does: binary
accuracy for a binary cross-entropy (threshold 0 when it takes logits),
categorical for categorical cross-entropy, sparse categorical for sparse
categorical cross-entropy, and otherwise by the shapes at the first update.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.tensor import to_numpy
from ..functional._checks import fit_sample_weight
from . import functional as M

__all__ = [
    "Metric", "Mean", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
    "SparseCategoricalAccuracy", "Precision", "Recall", "F1Score", "AUC", "Perplexity",
    "MeanSquaredError", "MeanAbsoluteError", "get",
]


def _fit_weight(w, shape, name):
    return fit_sample_weight(to_numpy(w).astype(np.float64), shape, f"metric {name!r}")


class Metric:
    """Base class: ``update_state``, ``result``, ``reset_state``, ``name``."""

    def __init__(self, name=None):
        self.name = name or "".join(
            "_" + c.lower() if c.isupper() else c for c in type(self).__name__).lstrip("_")
        self.reset_state()

    def reset_state(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):  # pragma: no cover
        raise NotImplementedError

    def result(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}>"


class Mean(Metric):
    """Weighted running mean of the values passed to ``update_state(values, sample_weight)``."""

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None):
        v = to_numpy(values).astype(np.float64)
        if sample_weight is None:
            self.total += float(v.sum())
            self.count += v.size
        else:
            w = _fit_weight(sample_weight, v.shape, self.name)
            self.total += float((v * w).sum())
            self.count += float(w.sum())

    def result(self):
        return self.total / self.count if self.count else 0.0


class MeanMetricWrapper(Mean):
    """Weighted mean of ``fn(y_true, y_pred)`` — per-sample values."""

    def __init__(self, fn, name=None, **fn_kwargs):
        self.fn = fn
        self.fn_kwargs = fn_kwargs
        super().__init__(name or fn.__name__)

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self.fn(to_numpy(y_true), to_numpy(y_pred), **self.fn_kwargs)
        super().update_state(values, sample_weight)


class BinaryAccuracy(MeanMetricWrapper):
    """mean(y == [p > threshold])."""

    def __init__(self, threshold=0.5, name="binary_accuracy"):
        self.threshold = float(threshold)
        super().__init__(M.binary_accuracy_values, name, threshold=self.threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """mean(argmax y_true == argmax y_pred) (one-hot targets)."""

    def __init__(self, name="categorical_accuracy"):
        super().__init__(M.categorical_accuracy_values, name)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """mean(y_true == argmax y_pred) (integer targets)."""

    def __init__(self, name="sparse_categorical_accuracy"):
        super().__init__(M.sparse_categorical_accuracy_values, name)


def _squared_error(y_true, y_pred):
    yt, yp = M._align(y_true, y_pred, "mse")
    d = (yt.astype(np.float64) - yp) ** 2
    return d.mean(axis=-1) if d.ndim >= 2 else d


def _absolute_error(y_true, y_pred):
    yt, yp = M._align(y_true, y_pred, "mae")
    d = np.abs(yt.astype(np.float64) - yp)
    return d.mean(axis=-1) if d.ndim >= 2 else d


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name="mse"):
        super().__init__(_squared_error, name)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name="mae"):
        super().__init__(_absolute_error, name)


class Accuracy(Mean):
    """Keras' "accuracy": binary / categorical / sparse chosen from the shapes.

    One output unit → binary (threshold 0.5); y_true with one axis fewer than
    y_pred (or a trailing 1) → sparse categorical; same shapes → categorical.
    """

    def __init__(self, name="accuracy", threshold=0.5):
        self.threshold = threshold
        self.kind = None
        super().__init__(name)

    def update_state(self, y_true, y_pred, sample_weight=None):
        yt, yp = to_numpy(y_true), to_numpy(y_pred)
        if self.kind is None:
            if yp.ndim == 1 or yp.shape[-1] == 1:
                self.kind = "binary"
            elif yt.shape == yp.shape:
                self.kind = "categorical"
            else:
                self.kind = "sparse"
        if self.kind == "binary":
            v = M.binary_accuracy_values(yt, yp, self.threshold)
        elif self.kind == "categorical":
            v = M.categorical_accuracy_values(yt, yp)
        else:
            v = M.sparse_categorical_accuracy_values(yt, yp)
        super().update_state(v, sample_weight)


def _to_labels(y_true, y_pred, threshold):
    """(true labels, predicted labels) as 1-D int arrays, flattening time axes.

    Probabilities (…, 1) or (…,) are thresholded; (…, C) take argmax; one-hot
    targets become their argmax.
    """
    yt, yp = to_numpy(y_true), to_numpy(y_pred)
    if yp.ndim >= 1 and (yp.ndim == yt.ndim or yp.ndim == yt.ndim + 1) and \
            yp.shape[-1] > 1 and yp.dtype.kind == "f":
        pred = yp.argmax(axis=-1)
        true = yt.argmax(axis=-1) if yt.shape == yp.shape else yt
    else:
        if yt.shape != yp.shape:
            yt, yp = M._align(yt, yp, "precision/recall")
        pred = (yp > threshold).astype(np.int64) if yp.dtype.kind == "f" else yp
        true = (yt > 0.5).astype(np.int64) if yt.dtype.kind == "f" else yt
    true = np.asarray(true).reshape(-1).astype(np.int64)
    pred = np.asarray(pred).reshape(-1).astype(np.int64)
    return true, pred


class _ConfusionMetric(Metric):
    """Accumulates a confusion matrix; subclasses read P / R / F1 from it."""

    def __init__(self, threshold=0.5, average="binary", pos_label=1, name=None):
        self.threshold = float(threshold)
        self.average = average
        self.pos_label = pos_label
        super().__init__(name)

    def reset_state(self):
        self.cm = np.zeros((2, 2), dtype=np.float64)

    def update_state(self, y_true, y_pred, sample_weight=None):
        true, pred = _to_labels(y_true, y_pred, self.threshold)
        w = None
        if sample_weight is not None:
            shape = to_numpy(y_pred).shape
            per = shape[:-1] if len(shape) > 1 and shape[-1] >= 1 else shape
            w = _fit_weight(sample_weight, per, self.name).reshape(-1)
            if len(w) != len(true):
                w = np.broadcast_to(w[:, None], (len(w), len(true) // max(len(w), 1))).reshape(-1)
        k = int(max(true.max(initial=0), pred.max(initial=0))) + 1
        if k > self.cm.shape[0]:
            grown = np.zeros((k, k))
            n = self.cm.shape[0]
            grown[:n, :n] = self.cm
            self.cm = grown
        self.cm += M.confusion_matrix(true, pred, num_classes=self.cm.shape[0],
                                      sample_weight=w)

    def _prf(self):
        cm = self.cm
        tp = np.diag(cm)
        fp = cm.sum(axis=0) - tp
        fn = cm.sum(axis=1) - tp
        if self.average == "binary":
            i = self.pos_label
            tp, fp, fn = tp[i:i + 1], fp[i:i + 1], fn[i:i + 1]
        else:
            seen = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
            tp, fp, fn = tp[seen], fp[seen], fn[seen]
            if self.average == "micro":
                tp, fp, fn = tp.sum(keepdims=True), fp.sum(keepdims=True), fn.sum(keepdims=True)
        p = M._divide(tp, tp + fp, 0.0)
        r = M._divide(tp, tp + fn, 0.0)
        f = M._divide(2 * tp, 2 * tp + fp + fn, 0.0)
        return float(p.mean()) if p.size else 0.0, float(r.mean()) if r.size else 0.0, \
            float(f.mean()) if f.size else 0.0


class Precision(_ConfusionMetric):
    """TP / (TP + FP) over all batches (binary by default; ``average`` as in sklearn)."""

    def __init__(self, threshold=0.5, average="binary", pos_label=1, name="precision"):
        super().__init__(threshold, average, pos_label, name)

    def result(self):
        return self._prf()[0]


class Recall(_ConfusionMetric):
    """TP / (TP + FN) over all batches."""

    def __init__(self, threshold=0.5, average="binary", pos_label=1, name="recall"):
        super().__init__(threshold, average, pos_label, name)

    def result(self):
        return self._prf()[1]


class F1Score(_ConfusionMetric):
    """2·TP / (2·TP + FP + FN) over all batches; ``average`` binary / micro / macro."""

    def __init__(self, threshold=0.5, average="binary", pos_label=1, name="f1_score"):
        if average not in ("binary", "micro", "macro"):
            raise ValueError(f"F1Score: average must be 'binary', 'micro' or 'macro', "
                             f"got {average!r}")
        super().__init__(threshold, average, pos_label, name)

    def result(self):
        return self._prf()[2]


class AUC(Metric):
    """Exact ROC AUC over all batches (keeps the scores; binary targets, scores (…,1))."""

    def __init__(self, name="auc"):
        super().__init__(name)

    def reset_state(self):
        self.scores, self.labels, self.weights = [], [], []

    def update_state(self, y_true, y_pred, sample_weight=None):
        yt, yp = M._align(y_true, y_pred, "auc")
        self.scores.append(yp.reshape(-1).astype(np.float64))
        self.labels.append((yt.reshape(-1).astype(np.float64) > 0.5).astype(np.float64))
        w = np.ones(yp.size) if sample_weight is None else \
            _fit_weight(sample_weight, yp.shape, self.name).reshape(-1)
        self.weights.append(np.asarray(w, dtype=np.float64))

    def result(self):
        if not self.scores:
            return 0.0
        y = np.concatenate(self.labels)
        if y.min() == y.max():
            return 0.0  # undefined with one class; Keras reports 0 too
        w = np.concatenate(self.weights)
        return M.roc_auc(y, np.concatenate(self.scores),
                         sample_weight=None if np.all(w == 1) else w)


class Perplexity(Mean):
    """exp(mean per-token negative log-likelihood) for integer targets and (…, C) outputs.

    ``from_logits``: y_pred holds logits (log-softmax is taken), else probabilities.
    """

    def __init__(self, from_logits=False, name="perplexity"):
        self.from_logits = bool(from_logits)
        super().__init__(name)

    def update_state(self, y_true, y_pred, sample_weight=None):
        yt, yp = to_numpy(y_true).astype(np.int64), to_numpy(y_pred).astype(np.float64)
        if yt.ndim == yp.ndim and yt.shape[-1] == 1:
            yt = yt[..., 0]
        if yt.shape != yp.shape[:-1]:
            raise ValueError(f"perplexity: y_true has shape {yt.shape}, expected "
                             f"{yp.shape[:-1]} for y_pred {yp.shape}")
        picked = np.take_along_axis(yp, yt[..., None], axis=-1)[..., 0]
        if self.from_logits:
            m = yp.max(axis=-1)
            lse = m + np.log(np.exp(yp - m[..., None]).sum(axis=-1))
            nll = lse - picked
        else:
            nll = -np.log(np.clip(picked, 1e-7, 1.0))
        super().update_state(nll, sample_weight)

    def result(self):
        return M.perplexity(super().result()) if self.count else math.nan


_BY_NAME = {
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "precision": Precision,
    "recall": Recall,
    "f1": F1Score,
    "f1_score": F1Score,
    "auc": AUC,
    "perplexity": Perplexity,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
}


def get(identifier, loss=None) -> Metric:
    """A metric object from a name ("accuracy", "f1", ...), an object, or a function.

    ``loss`` (a :class:`tinynlp.losses.Loss`) decides what "accuracy" means.
    A function ``fn(y_true, y_pred) -> per-sample values`` is averaged.
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            return _accuracy_for(loss, identifier)
        if key == "perplexity":
            return Perplexity(from_logits=bool(getattr(loss, "from_logits", False)))
        cls = _BY_NAME.get(key)
        if cls is None:
            raise ValueError(f"metrics.get: unknown metric {identifier!r}; known: "
                             f"{sorted(['accuracy', *_BY_NAME])}")
        if cls in (Precision, Recall, F1Score) and _binary_logits(loss):
            return cls(threshold=0.0)
        return cls()
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise TypeError(f"metrics.get: expected a name, a Metric or a function, got "
                    f"{type(identifier).__name__}")


def _binary_logits(loss):
    return type(loss).__name__ == "BinaryCrossentropy" and getattr(loss, "from_logits", False)


def _accuracy_for(loss, name):
    kind = type(loss).__name__ if loss is not None else None
    if kind == "BinaryCrossentropy":
        return BinaryAccuracy(threshold=0.0 if _binary_logits(loss) else 0.5, name=name)
    if kind == "CategoricalCrossentropy":
        return CategoricalAccuracy(name=name)
    if kind == "SparseCategoricalCrossentropy":
        return SparseCategoricalAccuracy(name=name)
    return Accuracy(name=name)
