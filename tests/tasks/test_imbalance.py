import math

import numpy as np
import pytest

from tinynlp.tasks import imbalance


def test_make_imbalanced_keeps_the_majority_and_a_tenth_minority():
    texts = [f"t{i}" for i in range(300)]
    labels = np.array([0] * 150 + [1] * 150)
    x, y = imbalance.make_imbalanced(texts, labels, fraction=0.1, seed=0)
    assert np.sum(y == 1) == 150 and np.sum(y == 0) == round(150 / 9)
    assert all(t in texts for t in x)
    assert [texts.index(t) for t in x] == sorted(texts.index(t) for t in x)
    with pytest.raises(ValueError, match="fraction"):
        imbalance.make_imbalanced(texts, labels, fraction=0.6)


@pytest.mark.parametrize("strategy, size, minority, weighted", [
    ("none", 110, 10, False), ("class_weight", 110, 10, True),
    ("oversample", 200, 100, False), ("undersample", 20, 10, False)])
def test_resampling_strategies(strategy, size, minority, weighted):
    texts = [f"word{i} other" for i in range(110)]
    labels = np.array([0] * 10 + [1] * 100)
    x, y, cw = imbalance.resample(strategy, texts, labels, seed=0)
    assert len(x) == len(y) == size and np.sum(y == 0) == minority
    if weighted:
        assert cw == pytest.approx({0: 110 / 20, 1: 110 / 200})
    else:
        assert cw is None
    with pytest.raises(ValueError, match="unknown strategy"):
        imbalance.resample("smote", texts, labels)


def test_train_quick_with_class_weights(quick, tmp_path):
    result = imbalance.train("class_weight", out=str(tmp_path), verbose=0)
    assert result.metric == "minority F1" and math.isfinite(result.value)
    assert 0.0 <= result.extra["minority_recall"] <= 1.0
    assert result.extra["train_minority"] == 50 and result.extra["train_size"] == 500
    again = imbalance.evaluate(str(tmp_path))
    assert again.value == pytest.approx(result.value)


def test_markdown_table_averages_over_seeds():
    rows = [{"strategy": "none", "seed": s, "minority_recall": r, "minority_precision": 1.0,
             "minority_f1": 0.5, "accuracy": 0.6, "train_size": 10, "train_minority": 1}
            for s, r in ((0, 0.2), (1, 0.4))]
    table = imbalance.markdown_table(rows)
    assert "| none | 10 (1) | 0.300 ± 0.100 | 1.000 ± 0.000 |" in table


@pytest.mark.slow
def test_eda_strategy_grows_the_minority_with_new_texts(quick):
    texts = ["a truly terrible boring film", "the plot is dull and slow"] + \
        [f"a great movie number {i}" for i in range(20)]
    labels = np.array([0, 0] + [1] * 20)
    x, y, _ = imbalance.resample("eda", texts, labels, seed=0)
    assert np.sum(y == 0) == 20 and len(x) == 40
    new = x[22:]
    assert all(isinstance(t, str) and t for t in new)
