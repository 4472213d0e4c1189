"""Train / test (and train / validation / test) splits, optionally stratified."""

from __future__ import annotations

import math

import numpy as np

from ._checks import as_labels, as_rng, check_same_length, n_items, take

__all__ = ["train_test_split", "train_val_test_split"]


def _n_from(size, n: int, name: str) -> int:
    if isinstance(size, bool):
        raise ValueError(f"{name}: expected a float in (0, 1) or an int, got {size!r}")
    if isinstance(size, (float, np.floating)):
        if not 0.0 < size < 1.0:
            raise ValueError(f"{name}: expected a float in (0, 1) or an int, got {size!r}")
        return int(math.ceil(size * n))
    if isinstance(size, (int, np.integer)):
        if not 0 < size < n:
            raise ValueError(
                f"{name}: expected an int in [1, {n - 1}] for {n} examples, got {size}")
        return int(size)
    raise ValueError(f"{name}: expected a float in (0, 1) or an int, got {size!r}")


def _stratified_counts(y: np.ndarray, n_take: int):
    """Per-class counts summing to n_take, proportional to class sizes (largest remainder)."""
    classes, y_idx, counts = np.unique(y, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        bad = classes[np.argmin(counts)]
        raise ValueError(
            f"stratify: every class needs at least 2 examples, class {bad!r} has "
            f"{counts.min()}")
    exact = counts * n_take / len(y)
    base = np.floor(exact).astype(int)
    remainder = n_take - base.sum()
    order = np.argsort(-(exact - base), kind="stable")
    base[order[:remainder]] += 1
    return classes, y_idx, counts, base


def _split_indices(n, n_test, stratify, shuffle, rng):
    if stratify is None:
        perm = rng.permutation(n) if shuffle else np.arange(n)
        return perm[: n - n_test], perm[n - n_test:]
    if not shuffle:
        raise ValueError("stratify: stratified splitting needs shuffle=True")
    y = as_labels(stratify, "stratify")
    if len(y) != n:
        raise ValueError(f"stratify: expected {n} labels (one per example), got {len(y)}")
    classes, y_idx, counts, per_class = _stratified_counts(y, n_test)
    train, test = [], []
    for k in range(len(classes)):
        idx = rng.permutation(np.flatnonzero(y_idx == k))
        t = int(per_class[k])
        test.append(idx[:t])
        train.append(idx[t:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _n_examples(arrays, minimum, how):
    """The common length of ``arrays`` (checked), at least ``minimum``."""
    if not arrays:
        raise ValueError("arrays: expected at least one array to split, got none")
    n = check_same_length([(f"arrays[{i}]", n_items(a, f"arrays[{i}]"))
                           for i, a in enumerate(arrays)])
    if n < minimum:
        raise ValueError(f"arrays: expected at least {minimum} examples to split{how}, got {n}")
    return n


def train_test_split(*arrays, test_size=0.25, random_state=None, shuffle=True, stratify=None):
    """Split arrays / lists into train and test parts (scikit-learn's order of results).

    Args:
        *arrays: one or more arrays or lists with the same number of examples.
        test_size: fraction (float in (0, 1), rounded up) or number (int) of test examples.
        random_state: None (tinynlp's global generator), an int, or a Generator.
        shuffle: shuffle before splitting (``False``: the test set is the tail).
        stratify: labels; if given, each class keeps its proportion on both sides.

    Returns:
        ``[a_train, a_test, b_train, b_test, ...]``; lists stay lists, arrays stay arrays.

    Example::

        x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, stratify=y,
                                                  random_state=0)
    """
    n = _n_examples(arrays, 2, "")
    n_test = _n_from(test_size, n, "test_size")
    if n_test >= n:
        raise ValueError(f"test_size: leaves no training example ({n_test} of {n} for test)")
    rng = as_rng(random_state)
    tr, te = _split_indices(n, n_test, stratify, shuffle, rng)
    out = []
    for a in arrays:
        out.extend([take(a, tr), take(a, te)])
    return out


def train_val_test_split(*arrays, val_size=0.1, test_size=0.1, random_state=None,
                         shuffle=True, stratify=None):
    """Three-way split: ``[a_train, a_val, a_test, b_train, b_val, b_test, ...]``.

    ``val_size`` and ``test_size`` are fractions of the *whole* data (or counts).
    With ``stratify`` every class keeps its proportion in all three parts.
    """
    n = _n_examples(arrays, 3, " three ways")
    n_test = _n_from(test_size, n, "test_size")
    n_val = _n_from(val_size, n, "val_size")
    if n_test + n_val >= n:
        raise ValueError(
            f"val_size and test_size: leave no training example ({n_val} + {n_test} of {n})")
    rng = as_rng(random_state)
    rest, te = _split_indices(n, n_test, stratify, shuffle, rng)
    strat_rest = None if stratify is None else as_labels(stratify, "stratify")[rest]
    tr_local, va_local = _split_indices(len(rest), n_val, strat_rest, shuffle, rng)
    tr, va = rest[tr_local], rest[va_local]
    out = []
    for a in arrays:
        out.extend([take(a, tr), take(a, va), take(a, te)])
    return out
