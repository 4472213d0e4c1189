import math
from pathlib import Path

import numpy as np
import pytest

from tinynlp.tasks import classification


@pytest.fixture(scope="module")
def trained(quick_env, tmp_path_factory):
    out = tmp_path_factory.mktemp("classify")
    result = classification.train("avg", out=str(out), verbose=0)
    return result, out


def test_train_quick_returns_finite_metrics_and_saves_artifacts(trained):
    result, out = trained
    assert result.task == "classification" and result.model == "avg"
    assert 0.0 <= result.value <= 1.0 and math.isfinite(result.value)
    assert 0.0 < result.baseline < 1.0
    assert 0.0 <= result.extra["macro_f1"] <= 1.0
    for name in ("model.tnz", "tokenizer.json", "confusion_matrix.png", "learning_curves.png"):
        assert (Path(out) / name).stat().st_size > 0
    cm = np.array(result.extra["confusion_matrix"])
    assert cm.shape == (15, 15) and cm.sum() == result.extra["test_size"]
    # the accuracy is the trace of the confusion matrix
    assert result.value == pytest.approx(np.trace(cm) / cm.sum())


def test_saved_model_round_trips(trained, quick_env):
    _result, out = trained
    again = classification.evaluate(str(out))
    assert again.task == "classification" and math.isfinite(again.value)
    assert again.baseline == pytest.approx(0.1473, abs=1e-3)  # 'learned' on the 1,073 test chunks
    genres = classification.predict(["the court ruled that the senate bill was void",
                                     "the rocket left the planet"], str(out))
    from tinynlp.data.datasets import BROWN_GENRES
    assert len(genres) == 2 and all(g in BROWN_GENRES for g in genres)


def test_majority_baseline_on_a_toy_split():
    acc, f1, majority = classification.majority_baseline([0, 2, 2, 1], np.array([2, 2, 0, 1]), 3)
    assert majority == 2 and acc == 0.5
    # per class F1: class 2 = 2·2/(2·2+2) = 2/3, classes 0 and 1 never predicted → 0
    assert f1 == pytest.approx((2 / 3) / 3)


def test_unknown_model_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown model 'gpt'"):
        classification.train("gpt")
