"""Random over/under-sampling and class weights."""

from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinynlp.data import (
    RandomOverSampler,
    RandomUnderSampler,
    class_weight_dict,
    compute_class_weight,
)

Y3 = np.array([0] * 10 + [1] * 4 + [2] * 2)
X3 = np.arange(len(Y3) * 2).reshape(-1, 2)


def counts(y):
    return dict(Counter(np.asarray(y).tolist()))


@pytest.mark.parametrize("strategy, expected", [
    ("auto", {0: 10, 1: 10, 2: 10}),
    ("not majority", {0: 10, 1: 10, 2: 10}),
    ("minority", {0: 10, 1: 4, 2: 10}),
    ("not minority", {0: 10, 1: 10, 2: 2}),
    ("all", {0: 10, 1: 10, 2: 10}),
    ({1: 6, 2: 9}, {0: 10, 1: 6, 2: 9}),
])
def test_over_sampling_counts(strategy, expected):
    X_res, y_res = RandomOverSampler(sampling_strategy=strategy, random_state=0).fit_resample(
        X3, Y3)
    assert counts(y_res) == expected
    assert len(X_res) == len(y_res)


@pytest.mark.parametrize("strategy, expected", [
    ("auto", {0: 2, 1: 2, 2: 2}),
    ("not minority", {0: 2, 1: 2, 2: 2}),
    ("majority", {0: 2, 1: 4, 2: 2}),
    ("not majority", {0: 10, 1: 2, 2: 2}),
    ("all", {0: 2, 1: 2, 2: 2}),
    ({0: 5}, {0: 5, 1: 4, 2: 2}),
])
def test_under_sampling_counts(strategy, expected):
    _, y_res = RandomUnderSampler(sampling_strategy=strategy, random_state=0).fit_resample(
        X3, Y3)
    assert counts(y_res) == expected


def test_float_strategy_binary():
    y = np.array([0] * 12 + [1] * 3)
    X = np.arange(15)
    _, y_o = RandomOverSampler(sampling_strategy=0.5, random_state=0).fit_resample(X, y)
    assert counts(y_o) == {0: 12, 1: 6}
    _, y_u = RandomUnderSampler(sampling_strategy=0.5, random_state=0).fit_resample(X, y)
    assert counts(y_u) == {0: 6, 1: 3}


def test_over_sampling_duplicates_minority_examples():
    """Over-sampling keeps every original row and only *adds copies* of minority rows."""
    ros = RandomOverSampler(random_state=0)
    X_res, y_res = ros.fit_resample(X3, Y3)
    np.testing.assert_array_equal(X_res[: len(X3)], X3)
    added = ros.sample_indices_[len(X3):]
    assert set(Y3[added].tolist()) <= {1, 2}  # only minority classes are duplicated
    np.testing.assert_array_equal(X_res, X3[ros.sample_indices_])
    np.testing.assert_array_equal(y_res, Y3[ros.sample_indices_])


def test_under_sampling_drops_majority_examples():
    """Under-sampling keeps a subset, never duplicates, and drops only from larger classes."""
    rus = RandomUnderSampler(random_state=0)
    X_res, y_res = rus.fit_resample(X3, Y3)
    idx = rus.sample_indices_
    assert len(set(idx.tolist())) == len(idx)  # no duplicates
    np.testing.assert_array_equal(X_res, X3[idx])
    kept_minority = idx[Y3[idx] == 2]
    assert sorted(kept_minority.tolist()) == np.flatnonzero(Y3 == 2).tolist()


def test_lists_of_texts_and_sequences():
    texts = ["good"] * 5 + ["bad", "worse"]
    y = [1] * 5 + [0, 0]
    X_res, y_res = RandomOverSampler(random_state=1).fit_resample(texts, y)
    assert isinstance(X_res, list) and len(X_res) == 10
    assert Counter(X_res[7:]) <= Counter({"bad": 3, "worse": 3})
    assert all(isinstance(t, str) for t in X_res)
    seqs = [[1, 2], [3], [4, 5, 6], [7]]
    X_res, y_res = RandomUnderSampler(random_state=0).fit_resample(seqs, [0, 0, 0, 1])
    assert len(X_res) == 2 and [7] in X_res


def test_reproducible_with_seed_and_global_rng():
    a = RandomOverSampler(random_state=5).fit_resample(X3, Y3)[0]
    b = RandomOverSampler(random_state=5).fit_resample(X3, Y3)[0]
    np.testing.assert_array_equal(a, b)
    import tinynlp as tn
    tn.random.seed(9)
    c = RandomUnderSampler().fit_resample(X3, Y3)[0]
    tn.random.seed(9)
    d = RandomUnderSampler().fit_resample(X3, Y3)[0]
    np.testing.assert_array_equal(c, d)


def test_string_labels():
    y = np.array(["spam"] * 2 + ["ham"] * 6)
    _, y_res = RandomOverSampler(random_state=0).fit_resample(np.zeros((8, 1)), y)
    assert counts(y_res) == {"ham": 6, "spam": 6}


@pytest.mark.parametrize("sampler", [RandomOverSampler, RandomUnderSampler])
def test_errors(sampler):
    with pytest.raises(ValueError, match="X and y: expected the same number of examples, got 3 and 2"):
        sampler().fit_resample(np.zeros((3, 2)), [0, 1])
    with pytest.raises(ValueError, match="sampling_strategy: expected one of"):
        sampler(sampling_strategy="most").fit_resample(X3, Y3)
    with pytest.raises(ValueError, match="empty"):
        sampler().fit_resample([], [])
    with pytest.raises(ValueError, match="only for binary"):
        sampler(sampling_strategy=0.5).fit_resample(X3, Y3)
    with pytest.raises(ValueError, match="not in y"):
        sampler(sampling_strategy={7: 3}).fit_resample(X3, Y3)
    with pytest.raises(TypeError, match="X"):
        sampler().fit_resample("abc", [0, 1, 0])


def test_strategy_direction_errors():
    with pytest.raises(ValueError, match="cannot shrink"):
        RandomOverSampler(sampling_strategy={0: 3}).fit_resample(X3, Y3)
    with pytest.raises(ValueError, match="cannot grow"):
        RandomUnderSampler(sampling_strategy={2: 5}).fit_resample(X3, Y3)
    with pytest.raises(ValueError, match="minority"):
        RandomUnderSampler(sampling_strategy="minority").fit_resample(X3, Y3)
    y = np.array([0] * 10 + [1] * 6)
    with pytest.raises(ValueError, match="cannot remove samples"):
        RandomOverSampler(sampling_strategy=0.5).fit_resample(np.zeros(16), y)


labels_st = st.lists(st.integers(0, 3), min_size=2, max_size=60)
over_st = st.sampled_from(["auto", "minority", "not minority", "not majority", "all"])
under_st = st.sampled_from(["auto", "majority", "not minority", "not majority", "all"])


@given(labels_st, over_st)
def test_over_sampling_matches_imblearn_counts(labels, strategy):
    imblearn = pytest.importorskip("imblearn.over_sampling")
    y = np.array(labels)
    X = np.arange(len(y)).reshape(-1, 1)
    ours = RandomOverSampler(sampling_strategy=strategy, random_state=0).fit_resample(X, y)[1]
    if len(np.unique(y)) < 2:
        return  # imbalanced-learn refuses a single class
    theirs = imblearn.RandomOverSampler(sampling_strategy=strategy,
                                        random_state=0).fit_resample(X, y)[1]
    assert counts(ours) == counts(theirs)


@given(labels_st, under_st)
def test_under_sampling_matches_imblearn_counts(labels, strategy):
    imblearn = pytest.importorskip("imblearn.under_sampling")
    y = np.array(labels)
    if len(np.unique(y)) < 2:
        return
    X = np.arange(len(y)).reshape(-1, 1)
    ours = RandomUnderSampler(sampling_strategy=strategy, random_state=0).fit_resample(X, y)[1]
    theirs = imblearn.RandomUnderSampler(sampling_strategy=strategy,
                                         random_state=0).fit_resample(X, y)[1]
    assert counts(ours) == counts(theirs)


@given(st.lists(st.integers(0, 1), min_size=4, max_size=50),
       st.floats(0.2, 1.0), st.sampled_from(["over", "under"]))
def test_float_ratio_matches_imblearn(labels, ratio, kind):
    imb = pytest.importorskip("imblearn")
    y = np.array(labels)
    c = np.bincount(y, minlength=2)
    if c.min() == 0:
        return
    X = np.arange(len(y)).reshape(-1, 1)
    ours_cls = RandomOverSampler if kind == "over" else RandomUnderSampler
    theirs_cls = (imb.over_sampling.RandomOverSampler if kind == "over"
                  else imb.under_sampling.RandomUnderSampler)
    try:
        theirs = theirs_cls(sampling_strategy=ratio, random_state=0).fit_resample(X, y)[1]
    except ValueError:
        with pytest.raises(ValueError):
            ours_cls(sampling_strategy=ratio, random_state=0).fit_resample(X, y)
        return
    ours = ours_cls(sampling_strategy=ratio, random_state=0).fit_resample(X, y)[1]
    assert counts(ours) == counts(theirs)


# ------------------------------------------------------------ class weights
def test_balanced_formula():
    y = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2])
    w = compute_class_weight("balanced", classes=np.array([0, 1, 2]), y=y)
    np.testing.assert_allclose(w, [12 / (3 * 4), 12 / (3 * 2), 12 / (3 * 6)])
    assert w.dtype == np.float64
    w = compute_class_weight("balanced", classes=np.array([2, 0, 1]), y=y)
    np.testing.assert_allclose(w, [12 / 18, 1.0, 2.0])
    np.testing.assert_array_equal(compute_class_weight(None, classes=[0, 1, 2], y=y), 1.0)
    np.testing.assert_array_equal(
        compute_class_weight({1: 3.0}, classes=np.array([0, 1, 2]), y=y), [1.0, 3.0, 1.0])


def test_class_weight_dict_for_keras_fit():
    d = class_weight_dict([0, 0, 0, 1])
    assert d == {0: 4 / 6, 1: 2.0}
    assert all(type(k) is int and type(v) is float for k, v in d.items())


@given(st.lists(st.integers(0, 4), min_size=1, max_size=80))
def test_class_weight_matches_sklearn(labels):
    utils = pytest.importorskip("sklearn.utils.class_weight")
    y = np.array(labels)
    classes = np.unique(y)
    np.testing.assert_allclose(
        compute_class_weight("balanced", classes=classes, y=y),
        utils.compute_class_weight("balanced", classes=classes, y=y))
    # balanced weights make every class carry the same total weight
    w = dict(zip(classes.tolist(), compute_class_weight("balanced", classes=classes, y=y)))
    totals = [w[c] * (y == c).sum() for c in classes.tolist()]
    np.testing.assert_allclose(totals, len(y) / len(classes))


def test_class_weight_errors():
    with pytest.raises(ValueError, match="classes: must include every label of y"):
        compute_class_weight("balanced", classes=np.array([0, 1]), y=[0, 1, 2])
    with pytest.raises(ValueError, match="do not occur in y"):
        compute_class_weight("balanced", classes=np.array([0, 1, 5]), y=[0, 1])
    with pytest.raises(ValueError, match="class_weight: expected 'balanced'"):
        compute_class_weight("balance", classes=np.array([0, 1]), y=[0, 1])
