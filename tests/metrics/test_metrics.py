"""Metrics against hand-computed scikit-learn values and brute-force definitions."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinynlp as tn
from tinynlp import metrics as M

# A 3-class case worked by hand (rows: true class, columns: predicted):
#   y_true = [0, 0, 1, 1, 1, 2, 2, 2, 2, 0]
#   y_pred = [0, 1, 1, 1, 2, 2, 2, 0, 2, 0]
#   C = [[2, 1, 0],      class 0: TP 2, FP 1, FN 1 → P 2/3, R 2/3, F1 2/3
#        [0, 2, 1],      class 1: TP 2, FP 1, FN 1 → P 2/3, R 2/3, F1 2/3
#        [1, 0, 3]]      class 2: TP 3, FP 1, FN 1 → P 3/4, R 3/4, F1 3/4
YT = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 0])
YP = np.array([0, 1, 1, 1, 2, 2, 2, 0, 2, 0])


def test_confusion_matrix_by_hand():
    np.testing.assert_array_equal(M.confusion_matrix(YT, YP),
                                  [[2, 1, 0], [0, 2, 1], [1, 0, 3]])
    np.testing.assert_array_equal(M.confusion_matrix([1, 1], [1, 1], num_classes=3),
                                  [[0, 0, 0], [0, 2, 0], [0, 0, 0]])
    np.testing.assert_array_equal(M.confusion_matrix(["b", "a"], ["a", "a"]), [[1, 0], [1, 0]])
    with pytest.raises(ValueError, match="outside range"):
        M.confusion_matrix([0, 3], [0, 1], num_classes=2)


def test_precision_recall_f1_averages_by_hand():
    assert M.accuracy(YT, YP) == pytest.approx(0.7)
    assert M.f1_score(YT, YP, average="macro") == pytest.approx((2 / 3 + 2 / 3 + 3 / 4) / 3)
    assert M.f1_score(YT, YP, average="micro") == pytest.approx(0.7)   # = accuracy
    assert M.precision(YT, YP, average="macro") == pytest.approx((2 / 3 + 2 / 3 + 3 / 4) / 3)
    # weighted by support (3, 3, 4)
    assert M.recall(YT, YP, average="weighted") == pytest.approx(
        (3 * 2 / 3 + 3 * 2 / 3 + 4 * 3 / 4) / 10)
    p, r, f = M.precision_recall_fscore(YT, YP, average=None)
    np.testing.assert_allclose(f, [2 / 3, 2 / 3, 3 / 4])
    with pytest.raises(ValueError, match="average='binary' needs at most 2 classes"):
        M.f1_score(YT, YP)


def test_binary_scores_by_hand():
    y = [1, 1, 1, 0, 0, 0, 1, 0]
    p = [1, 0, 1, 1, 0, 0, 1, 0]       # TP 3, FN 1, FP 1, TN 3
    assert M.precision(y, p) == pytest.approx(0.75)
    assert M.recall(y, p) == pytest.approx(0.75)
    assert M.f1_score(y, p) == pytest.approx(0.75)
    assert M.precision(y, p, pos_label=0) == pytest.approx(0.75)
    # nothing predicted positive: precision is zero_division (sklearn's default 0)
    assert M.precision([1, 0], [0, 0]) == 0.0
    assert M.precision([1, 0], [0, 0], zero_division=1.0) == 1.0


def test_probability_accuracies():
    assert M.binary_accuracy([1, 0, 1, 0], [[0.9], [0.4], [0.3], [0.6]]) == pytest.approx(0.5)
    assert M.binary_accuracy([1, 0], [0.2, 0.1], threshold=0.0) == pytest.approx(0.5)
    onehot = np.eye(3)[[0, 2, 1]]
    probs = np.array([[0.8, 0.1, 0.1], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    assert M.categorical_accuracy(onehot, probs) == pytest.approx(2 / 3)
    assert M.sparse_categorical_accuracy([0, 2, 1], probs) == pytest.approx(2 / 3)
    assert M.sparse_categorical_accuracy([0, 2, 1], probs,
                                         sample_weight=[0, 1, 1]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"expected y_pred's shape without its class axis"):
        M.sparse_categorical_accuracy([0, 1], probs)


def test_roc_auc_by_hand_and_with_ties():
    # sklearn's docstring example: 0.75
    assert M.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    # ties count one half: pairs (+,−): (0.5,0.5) tie, (0.5,0.2) win, (0.9,0.5) win, (0.9,0.2) win
    assert M.roc_auc([1, 0, 1, 0], [0.5, 0.5, 0.9, 0.2]) == pytest.approx(3.5 / 4)
    with pytest.raises(ValueError, match="one class"):
        M.roc_auc([1, 1], [0.2, 0.3])


def test_perplexity():
    assert M.perplexity(np.log(50.0)) == pytest.approx(50.0)
    assert M.perplexity([np.log(2.0), np.log(8.0)]) == pytest.approx(4.0)


@given(st.lists(st.tuples(st.integers(0, 1), st.floats(0, 1)), min_size=2, max_size=30),
       st.lists(st.floats(0.1, 3), min_size=30, max_size=30))
def test_roc_auc_equals_pairwise_definition(pairs, weights):
    y = np.array([p[0] for p in pairs])
    s = np.array([p[1] for p in pairs])
    if y.min() == y.max():
        return
    num = den = 0.0
    wnum = wden = 0.0
    w = np.array(weights[:len(y)])
    for i, j in itertools.product(np.flatnonzero(y == 1), np.flatnonzero(y == 0)):
        v = 1.0 if s[i] > s[j] else 0.5 if s[i] == s[j] else 0.0
        num, den = num + v, den + 1
        wnum, wden = wnum + w[i] * w[j] * v, wden + w[i] * w[j]
    assert M.roc_auc(y, s) == pytest.approx(num / den)
    assert M.roc_auc(y, s, sample_weight=w) == pytest.approx(wnum / wden)


labels = st.lists(st.integers(0, 3), min_size=1, max_size=40)


@given(labels, st.data())
def test_f1_properties(yt, data):
    yt = np.array(yt)
    yp = np.array(data.draw(st.lists(st.integers(0, 3), min_size=len(yt), max_size=len(yt))))
    cm = M.confusion_matrix(yt, yp)
    assert cm.sum() == len(yt)
    assert np.trace(cm) / len(yt) == pytest.approx(M.accuracy(yt, yp))
    assert M.f1_score(yt, yp, average="micro") == pytest.approx(M.accuracy(yt, yp))
    p, r, f = M.precision_recall_fscore(yt, yp, average=None)
    assert M.f1_score(yt, yp, average="macro") == pytest.approx(f.mean())
    # F1 is the harmonic mean of P and R wherever both are positive
    both = (p > 0) & (r > 0)
    np.testing.assert_allclose(f[both], 2 * p[both] * r[both] / (p[both] + r[both]))


@given(st.lists(st.integers(0, 2), min_size=1, max_size=50), st.integers(1, 7), st.data())
def test_streaming_metrics_equal_the_batch_functions(yt, batch, data):
    yt = np.array(yt)
    rng = np.random.default_rng(len(yt))
    probs = rng.dirichlet(np.ones(3), size=len(yt))
    sparse = tn.metrics.SparseCategoricalAccuracy()
    f1 = tn.metrics.F1Score(average="macro")
    for i in range(0, len(yt), batch):
        sparse.update_state(yt[i:i + batch], probs[i:i + batch])
        f1.update_state(yt[i:i + batch], probs[i:i + batch])
    assert sparse.result() == pytest.approx(M.sparse_categorical_accuracy(yt, probs))
    assert f1.result() == pytest.approx(M.f1_score(yt, probs.argmax(1), average="macro"))


def test_streaming_binary_metrics_and_reset():
    y = np.array([1, 1, 1, 0, 0, 0, 1, 0], dtype=np.float32)
    p = np.array([0.9, 0.2, 0.8, 0.7, 0.1, 0.3, 0.6, 0.4])[:, None]
    prec, rec, auc = tn.metrics.Precision(), tn.metrics.Recall(), tn.metrics.AUC()
    for m in (prec, rec, auc):
        m.update_state(y[:4], p[:4])
        m.update_state(y[4:], p[4:])
    assert prec.result() == pytest.approx(0.75) and rec.result() == pytest.approx(0.75)
    assert auc.result() == pytest.approx(M.roc_auc(y, p[:, 0]))
    prec.reset_state()
    assert prec.result() == 0.0


def test_accuracy_resolves_by_loss_like_keras():
    L = tn.losses
    assert type(M.get("accuracy", L.get("binary_crossentropy"))) is M.BinaryAccuracy
    assert M.get("accuracy", L.BinaryCrossentropy(from_logits=True)).threshold == 0.0
    assert type(M.get("acc", L.get("categorical_crossentropy"))) is M.CategoricalAccuracy
    assert type(M.get("accuracy", L.get("sparse_categorical_crossentropy"))) is \
        M.SparseCategoricalAccuracy
    auto = M.get("accuracy", L.get("mse"))
    auto.update_state(np.array([0, 2]), np.array([[0.9, 0.1, 0.0], [0.1, 0.8, 0.1]]))
    assert auto.kind == "sparse" and auto.result() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="unknown metric 'acuracy'"):
        M.get("acuracy")


def test_masked_sequence_accuracy_ignores_padding():
    y = np.array([[1, 2, 0], [0, 0, 0]])
    probs = np.eye(3)[[[1, 2, 1], [0, 1, 2]]]
    mask = np.array([[1, 1, 0], [1, 0, 0]], dtype=float)
    m = tn.metrics.SparseCategoricalAccuracy()
    m.update_state(y, probs, sample_weight=mask)
    assert m.result() == pytest.approx(1.0)


def test_perplexity_metric_from_logits():
    logits = np.log(np.array([[[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]]))
    m = tn.metrics.Perplexity(from_logits=True)
    m.update_state(np.array([[0, 2]]), logits)
    assert m.result() == pytest.approx(np.exp(-(np.log(0.5) + np.log(0.8)) / 2))
