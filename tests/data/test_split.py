"""train_test_split and train_val_test_split."""

from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinynlp.data import train_test_split, train_val_test_split


def test_sizes_disjoint_cover_and_types():
    x = [f"text {i}" for i in range(10)]
    y = np.arange(10) % 2
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.3, random_state=0)
    assert isinstance(x_tr, list) and isinstance(y_tr, np.ndarray)
    assert len(x_te) == 3 and len(x_tr) == 7
    assert not set(x_tr) & set(x_te) and sorted(x_tr + x_te) == sorted(x)
    for xs, ys in ((x_tr, y_tr), (x_te, y_te)):  # rows stay aligned
        assert [int(t.split()[1]) % 2 for t in xs] == ys.tolist()


def test_int_test_size_and_no_shuffle():
    x = np.arange(10)
    tr, te = train_test_split(x, test_size=4, shuffle=False)
    np.testing.assert_array_equal(tr, np.arange(6))
    np.testing.assert_array_equal(te, np.arange(6, 10))


def test_deterministic_with_seed():
    x = np.arange(100)
    a = train_test_split(x, random_state=3)
    b = train_test_split(x, random_state=3)
    c = train_test_split(x, random_state=4)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_stratified_keeps_proportions():
    y = np.array([0] * 80 + [1] * 20)
    x = np.arange(100)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
    assert Counter(y_te.tolist()) == {0: 20, 1: 5}
    assert Counter(y_tr.tolist()) == {0: 60, 1: 15}
    np.testing.assert_array_equal(y[x_te], y_te)


@given(st.lists(st.integers(0, 3), min_size=8, max_size=80), st.floats(0.1, 0.5),
       st.integers(0, 1000))
def test_stratified_property(labels, test_size, seed):
    y = np.array(labels)
    if np.bincount(y).min(initial=99) < 2 and (np.bincount(y) == 1).any():
        with pytest.raises(ValueError, match="stratify"):
            train_test_split(np.arange(len(y)), y, test_size=test_size, stratify=y,
                             random_state=seed)
        return
    idx_tr, idx_te, y_tr, y_te = train_test_split(np.arange(len(y)), y, test_size=test_size,
                                                  stratify=y, random_state=seed)
    n_test = int(np.ceil(test_size * len(y)))
    assert len(idx_te) == n_test
    assert sorted(np.concatenate([idx_tr, idx_te]).tolist()) == list(range(len(y)))
    for c, k in Counter(labels).items():
        expected = k * n_test / len(y)
        assert abs((y_te == c).sum() - expected) < 1 + 1e-9


def test_train_val_test_split():
    y = np.array([0] * 60 + [1] * 40)
    x = [str(i) for i in range(100)]
    parts = train_val_test_split(x, y, val_size=0.1, test_size=0.2, stratify=y,
                                 random_state=0)
    x_tr, x_va, x_te, y_tr, y_va, y_te = parts
    assert (len(x_tr), len(x_va), len(x_te)) == (70, 10, 20)
    assert not (set(x_tr) & set(x_va) or set(x_tr) & set(x_te) or set(x_va) & set(x_te))
    assert Counter(y_te.tolist()) == {0: 12, 1: 8}
    assert Counter(y_va.tolist()) == {0: 6, 1: 4}
    for xs, ys in ((x_tr, y_tr), (x_va, y_va), (x_te, y_te)):
        np.testing.assert_array_equal(y[[int(s) for s in xs]], ys)


def test_split_errors():
    with pytest.raises(ValueError,
                       match=r"arrays\[0\] and arrays\[1\]: expected the same number of "
                             r"examples, got 3 and 2"):
        train_test_split([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="test_size"):
        train_test_split(np.arange(10), test_size=1.5)
    with pytest.raises(ValueError, match="test_size"):
        train_test_split(np.arange(10), test_size=10)
    with pytest.raises(ValueError, match="at least 2 examples"):
        train_test_split([1])
    with pytest.raises(ValueError, match="stratify: every class needs at least 2"):
        train_test_split(np.arange(5), stratify=[0, 0, 0, 0, 1])
    with pytest.raises(ValueError, match="stratify: expected 5 labels"):
        train_test_split(np.arange(5), stratify=[0, 1])
    with pytest.raises(ValueError, match="val_size and test_size"):
        train_val_test_split(np.arange(10), val_size=0.5, test_size=0.5)
    with pytest.raises(TypeError, match="random_state"):
        train_test_split(np.arange(10), random_state="seed")
