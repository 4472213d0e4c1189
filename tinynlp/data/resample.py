"""Class-imbalance tools with imbalanced-learn's and scikit-learn's API.

* :class:`RandomOverSampler` **duplicates minority examples** (draws them
  again, with replacement) until the classes have the requested sizes.  Nothing
  is removed.  Duplicates make a model see the same rare examples many times,
  so over-sample the *training* split only, never before splitting.
* :class:`RandomUnderSampler` **drops majority examples** (keeps a random
  subset, without replacement) until the classes have the requested sizes.
  Nothing is duplicated; information in the dropped examples is lost.
* :func:`compute_class_weight` re-weights the loss instead of the data:
  ``"balanced"`` gives class ``c`` the weight ``n_samples / (n_classes * n_c)``.
  :func:`class_weight_dict` returns it as the ``{class: weight}`` dict that
  ``model.fit(class_weight=...)`` accepts.

``sampling_strategy`` follows imbalanced-learn:

=================  ===========================  ============================
value              over-sampling grows ...      under-sampling shrinks ...
=================  ===========================  ============================
``"auto"``         every class but the majority every class but the minority
``"minority"``     the minority class           (not allowed)
``"majority"``     (not allowed)                the majority class
``"not minority"`` every class but the minority every class but the minority
``"not majority"`` every class but the majority every class but the majority
``"all"``          every class                  every class
float (binary)     minority to ``r * n_major``  majority to ``n_minor / r``
dict               ``{class: n_after}``         ``{class: n_after}``
callable           ``f(y) -> dict``             ``f(y) -> dict``
=================  ===========================  ============================

The string strategies make the chosen classes as large as the majority
(over-sampling) or as small as the minority (under-sampling).  Ties between
class sizes are broken by the smaller label, as imbalanced-learn does.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ._checks import as_labels, as_rng, check_same_length, n_items, take

__all__ = ["RandomOverSampler", "RandomUnderSampler", "compute_class_weight",
           "class_weight_dict"]

_OVER = ("auto", "minority", "not minority", "not majority", "all")
_UNDER = ("auto", "majority", "not minority", "not majority", "all")


def _class_counts(y: np.ndarray) -> "OrderedDict":
    classes, counts = np.unique(y, return_counts=True)
    return OrderedDict((c.item() if hasattr(c, "item") else c, int(k))
                       for c, k in zip(classes, counts))


def _resolve(strategy, y: np.ndarray, kind: str) -> "OrderedDict":
    """The number of samples to *add* (over) or to *keep* (under), per affected class."""
    stats = _class_counts(y)
    major = max(stats, key=stats.get)  # first max in label order
    minor = min(stats, key=stats.get)
    n_major, n_minor = stats[major], stats[minor]
    allowed = _OVER if kind == "over" else _UNDER
    if callable(strategy) and not isinstance(strategy, str):
        strategy = strategy(y)
        if not isinstance(strategy, dict):
            raise ValueError(f"sampling_strategy: the callable must return a dict, got "
                             f"{type(strategy).__name__}")
    if isinstance(strategy, str):
        if strategy not in allowed:
            raise ValueError(
                f"sampling_strategy: expected one of {list(allowed)}, a float or a dict for "
                f"{'over' if kind == 'over' else 'under'}-sampling, got {strategy!r}")
        if kind == "over":
            chosen = {"auto": [c for c in stats if c != major],
                      "not majority": [c for c in stats if c != major],
                      "minority": [minor],
                      "not minority": [c for c in stats if c != minor],
                      "all": list(stats)}[strategy]
            return OrderedDict((c, n_major - stats[c]) for c in chosen)
        chosen = {"auto": [c for c in stats if c != minor],
                  "not minority": [c for c in stats if c != minor],
                  "majority": [major],
                  "not majority": [c for c in stats if c != major],
                  "all": list(stats)}[strategy]
        return OrderedDict((c, n_minor) for c in chosen)
    if isinstance(strategy, (float, np.floating)) and not isinstance(strategy, bool):
        if len(stats) != 2:
            raise ValueError(
                f"sampling_strategy: a float is only for binary targets, y has "
                f"{len(stats)} classes {list(stats)}; use a dict")
        if not 0.0 < strategy <= 1.0:
            raise ValueError(f"sampling_strategy: expected a float in (0, 1], got {strategy}")
        if kind == "over":
            out = OrderedDict((c, int(n_major * strategy - stats[c]))
                              for c in stats if c != major)
            if any(v <= 0 for v in out.values()):  # as imbalanced-learn: nothing to add is an error
                raise ValueError(
                    f"sampling_strategy: ratio {strategy} asks for {int(n_major * strategy)} "
                    f"minority samples, not more than the {n_minor} there are; over-sampling "
                    f"cannot remove samples (increase the ratio)")
            return out
        out = OrderedDict((c, int(n_minor / strategy)) for c in stats if c != minor)
        if any(v > stats[c] for c, v in out.items()):
            raise ValueError(
                f"sampling_strategy: ratio {strategy} asks for more majority samples "
                f"({int(n_minor / strategy)}) than there are ({n_major}); under-sampling "
                f"cannot add samples")
        return out
    if isinstance(strategy, dict):
        out = OrderedDict()
        for c, want in strategy.items():
            key = c.item() if hasattr(c, "item") else c
            if key not in stats:
                raise ValueError(
                    f"sampling_strategy: class {c!r} is not in y (classes: {list(stats)})")
            if isinstance(want, bool) or not isinstance(want, (int, np.integer)) or want < 0:
                raise ValueError(
                    f"sampling_strategy[{c!r}]: expected a non-negative int, got {want!r}")
            if kind == "over":
                if want < stats[key]:
                    raise ValueError(
                        f"sampling_strategy[{c!r}]: over-sampling cannot shrink class {c!r} "
                        f"from {stats[key]} to {want} samples")
                out[key] = int(want) - stats[key]
            else:
                if want > stats[key]:
                    raise ValueError(
                        f"sampling_strategy[{c!r}]: under-sampling cannot grow class {c!r} "
                        f"from {stats[key]} to {want} samples")
                out[key] = int(want)
        return out
    raise ValueError(
        f"sampling_strategy: expected one of {list(allowed)}, a float, a dict or a callable, "
        f"got {strategy!r}")


def _check_X_y(X, y):
    n_x = n_items(X, "X")
    y = as_labels(y, "y")
    check_same_length([("X", n_x), ("y", len(y))])
    if n_x == 0:
        raise ValueError("X: expected at least one example, got an empty dataset")
    return y


class _BaseSampler:
    _kind = "over"

    def __init__(self, sampling_strategy="auto", random_state=None):
        self.sampling_strategy = sampling_strategy
        self.random_state = random_state

    def fit(self, X, y):
        """Check the inputs and work out ``sampling_strategy_`` (no resampling yet)."""
        y = _check_X_y(X, y)
        self.sampling_strategy_ = _resolve(self.sampling_strategy, y, self._kind)
        return self

    def fit_resample(self, X, y):
        """Resample; returns ``(X_resampled, y_resampled)``.

        ``X`` may be a numpy array (rows are examples) or a list (of texts,
        token-id sequences, ...); the result has the same kind.  The rows taken
        are in ``sample_indices_``.
        """
        y = _check_X_y(X, y)
        self.sampling_strategy_ = _resolve(self.sampling_strategy, y, self._kind)
        rng = as_rng(self.random_state)
        idx = self._indices(y, rng)
        self.sample_indices_ = idx
        return take(X, idx), y[idx]

    def __repr__(self):
        return (f"{type(self).__name__}(sampling_strategy={self.sampling_strategy!r}, "
                f"random_state={self.random_state!r})")


class RandomOverSampler(_BaseSampler):
    """Over-sample by **duplicating** randomly chosen minority examples (with replacement).

    The result is all the original examples, in their order, followed by the
    duplicates (class by class, in label order).  See the module doc for
    ``sampling_strategy``.

    >>> ros = RandomOverSampler(random_state=0)
    >>> X_res, y_res = ros.fit_resample([[1], [2], [3]], [0, 0, 1])
    >>> y_res.tolist(), ros.sample_indices_.tolist(), dict(ros.sampling_strategy_)
    ([0, 0, 1, 1], [0, 1, 2, 2], {1: 1})
    """

    _kind = "over"

    def _indices(self, y, rng):
        parts = [np.arange(len(y))]
        for c, n_new in self.sampling_strategy_.items():
            if n_new > 0:
                members = np.flatnonzero(y == c)
                parts.append(rng.choice(members, size=n_new, replace=True))
        return np.concatenate(parts)


class RandomUnderSampler(_BaseSampler):
    """Under-sample by **dropping** randomly chosen majority examples.

    Kept examples are drawn without replacement (``replacement=True`` draws
    with replacement, as imbalanced-learn allows).  The result is grouped by
    class, in label order.  See the module doc for ``sampling_strategy``.
    """

    _kind = "under"

    def __init__(self, sampling_strategy="auto", random_state=None, replacement=False):
        super().__init__(sampling_strategy, random_state)
        self.replacement = replacement

    def _indices(self, y, rng):
        parts = []
        for c in _class_counts(y):
            members = np.flatnonzero(y == c)
            if c in self.sampling_strategy_:
                keep = rng.choice(len(members), size=self.sampling_strategy_[c],
                                  replace=self.replacement)
                parts.append(members[np.sort(keep)] if not self.replacement else members[keep])
            else:
                parts.append(members)
        return np.concatenate(parts)


def compute_class_weight(class_weight, *, classes, y):
    """Class weights, as ``sklearn.utils.class_weight.compute_class_weight``.

    Args:
        class_weight: ``"balanced"`` (``n_samples / (n_classes * np.bincount(y))``),
            a dict ``{class: weight}`` (missing classes get 1), or ``None`` (all 1).
        classes: the classes to weight (every label in ``y`` must be among them).
        y: the labels.

    Returns:
        ``np.ndarray`` of float64 weights, in the order of ``classes``.
    """
    y = as_labels(y, "y")
    classes = np.asarray(classes)
    if classes.ndim != 1 or len(classes) == 0:
        raise ValueError(f"classes: expected a non-empty 1-D array of classes, got {classes!r}")
    if len(np.unique(classes)) != len(classes):
        raise ValueError(f"classes: expected distinct classes, got {classes.tolist()}")
    missing_in_classes = np.setdiff1d(np.unique(y), classes)
    if len(missing_in_classes):
        raise ValueError(
            f"classes: must include every label of y, missing {missing_in_classes.tolist()}")
    if class_weight is None or (isinstance(class_weight, dict) and not class_weight):
        return np.ones(len(classes), dtype=np.float64)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(
                f"class_weight: expected 'balanced', a dict or None, got {class_weight!r}")
        if len(y) == 0:
            raise ValueError("y: expected at least one label for 'balanced' weights, got none")
        not_in_y = np.setdiff1d(classes, y)
        if len(not_in_y):
            raise ValueError(
                f"classes: {not_in_y.tolist()} do not occur in y; 'balanced' weights need "
                "every class to occur at least once")
        present, counts = np.unique(y, return_counts=True)
        weights = len(y) / (len(present) * counts.astype(np.float64))
        lookup = dict(zip(present.tolist(), weights))
        return np.array([lookup[c] for c in classes.tolist()], dtype=np.float64)
    if isinstance(class_weight, dict):
        out = np.ones(len(classes), dtype=np.float64)
        pos = {c: i for i, c in enumerate(classes.tolist())}
        for c, w in class_weight.items():
            key = c.item() if hasattr(c, "item") else c
            if key not in pos:
                raise ValueError(f"class_weight: class {c!r} is not in classes "
                                 f"{classes.tolist()}")
            out[pos[key]] = float(w)
        return out
    raise ValueError(f"class_weight: expected 'balanced', a dict or None, got {class_weight!r}")


def class_weight_dict(y, classes=None, class_weight="balanced") -> dict:
    """``{class: weight}`` for ``model.fit(class_weight=...)`` (plain Python keys and floats).

    >>> class_weight_dict([0, 0, 0, 1])
    {0: 0.6666666666666666, 1: 2.0}
    """
    y = as_labels(y, "y")
    if classes is None:
        classes = np.unique(y)
    classes = np.asarray(classes)
    weights = compute_class_weight(class_weight, classes=classes, y=y)
    return {c: float(w) for c, w in zip(classes.tolist(), weights)}
