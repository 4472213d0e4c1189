"""Input checks shared by the data helpers: clear messages that name the argument."""

from __future__ import annotations

import numpy as np

from .. import random as tn_random


def as_rng(random_state) -> np.random.Generator:
    """None -> tinynlp's global generator; int -> a new seeded generator; Generator -> itself."""
    if random_state is None:
        return tn_random.get_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state: expected a non-negative int, got {random_state}")
        return np.random.default_rng(int(random_state))
    raise TypeError(
        "random_state: expected None, a non-negative int or a numpy Generator, got "
        f"{type(random_state).__name__} ({random_state!r:.40})")


def n_items(x, name: str) -> int:
    """Length of an array-like / list argument, with a clear error otherwise."""
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name}: expected an array or a list of examples, got a single str")
    if isinstance(x, np.ndarray):
        if x.ndim == 0:
            raise TypeError(f"{name}: expected an array with at least 1 dimension, got a scalar")
        return x.shape[0]
    if not hasattr(x, "__len__") or not hasattr(x, "__getitem__"):
        raise TypeError(
            f"{name}: expected an array or a list of examples, got {type(x).__name__}")
    return len(x)


def as_labels(y, name: str = "y") -> np.ndarray:
    """1-D numpy array of labels."""
    if isinstance(y, (str, bytes)):
        raise TypeError(f"{name}: expected a 1-D array or list of labels, got a str")
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of labels, got shape {arr.shape}")
    return arr


def check_same_length(pairs) -> int:
    """``pairs`` = [(name, length), ...]; all lengths must agree."""
    (first_name, n), *rest = pairs
    for name, m in rest:
        if m != n:
            raise ValueError(
                f"{first_name} and {name}: expected the same number of examples, got "
                f"{n} and {m}")
    return n


def take(x, idx: np.ndarray):
    """``x[idx]`` for arrays, a list for lists / tuples / other sequences."""
    if isinstance(x, np.ndarray):
        return x[idx]
    return [x[int(i)] for i in idx]
