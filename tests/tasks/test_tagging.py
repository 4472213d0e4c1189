import math
from pathlib import Path

import numpy as np
import pytest

import tinynlp as tn
from tinynlp.tasks import tagging
from tinynlp.tasks.tagging import MostFrequentTagger, token_accuracy

# ------------------------------------------------------------------ the baseline
CORPUS = [["the", "dog", "runs"], ["a", "run", "ends"], ["dogs", "run"], ["the", "run"]]
TAGS = [["DET", "NOUN", "VERB"], ["DET", "NOUN", "VERB"], ["NOUN", "VERB"], ["DET", "NOUN"]]


def test_most_frequent_tag_per_word_and_unknown_words():
    t = MostFrequentTagger().fit(CORPUS, TAGS)
    # "run": NOUN twice, VERB once
    assert t.table["run"] == "NOUN"
    # overall counts: DET 3, NOUN 5, VERB 3 → unknown words get NOUN
    assert t.default == "NOUN"
    assert t.predict([["the", "cat", "runs"]]) == [["DET", "NOUN", "VERB"]]


def test_most_frequent_tag_ties_go_to_the_alphabetically_first_tag():
    t = MostFrequentTagger().fit([["saw", "saw"]], [["VERB", "NOUN"]])
    assert t.table["saw"] == "NOUN"
    assert t.default == "NOUN"


def test_baseline_accuracy_by_hand():
    t = MostFrequentTagger().fit(CORPUS, TAGS)
    test = [["dogs", "run", "home"]]
    gold = [["NOUN", "VERB", "ADV"]]
    pred = t.predict(test)  # NOUN, NOUN, NOUN(unknown)
    assert pred == [["NOUN", "NOUN", "NOUN"]]
    assert token_accuracy(gold, pred) == pytest.approx(1 / 3)
    unseen = [[w not in t.table for w in s] for s in test]
    assert token_accuracy(gold, pred, unseen) == 0.0


def test_baseline_errors():
    with pytest.raises(ValueError, match="sentence 0 has 2 words but 1 tags"):
        MostFrequentTagger().fit([["a", "b"]], [["DET"]])
    with pytest.raises(RuntimeError, match="fit"):
        MostFrequentTagger().predict([["a"]])
    with pytest.raises(ValueError, match="2 gold tags but 1 predicted"):
        token_accuracy([["A", "B"]], [["A"]])


# ------------------------------------------------------------------ the masked loss
def test_padded_positions_do_not_count_in_the_loss_or_accuracy():
    tn.random.seed(0)
    model = tagging.build_model("bilstm", vocab_size=10, num_tags=4, embedding_dim=4, units=3)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x = np.array([[3, 4, 5, 0, 0], [6, 7, 0, 0, 0]])
    y = np.array([[1, 2, 3, 0, 0], [0, 1, 0, 0, 0]])
    loss, acc = model.evaluate(x, y, verbose=0)
    p = model.predict(x)
    real = x != 0
    picked = p[np.arange(2)[:, None], np.arange(5)[None, :], y]
    assert loss == pytest.approx(float(-np.log(picked[real]).mean()), rel=1e-5)
    assert acc == pytest.approx(float((p.argmax(-1) == y)[real].mean()))
    # other labels at the padded positions change nothing
    y2 = y.copy()
    y2[~real] = 3
    loss2, acc2 = model.evaluate(x, y2, verbose=0)
    assert loss2 == pytest.approx(loss, rel=1e-6) and acc2 == pytest.approx(acc)


# ------------------------------------------------------------------ training
@pytest.fixture(scope="module")
def trained(quick_env, tmp_path_factory):
    out = tmp_path_factory.mktemp("tagging")
    return tagging.train("bilstm", out=str(out), verbose=0), out


def test_train_quick_and_round_trip(trained, quick_env):
    result, out = trained
    assert result.metric == "token accuracy"
    assert 0.0 <= result.value <= 1.0 and math.isfinite(result.value)
    assert 0.5 < result.baseline < 1.0
    for name in ("model.tnz", "vocab.json", "learning_curves.png"):
        assert (Path(out) / name).stat().st_size > 0
    again = tagging.evaluate(str(out))  # the same quick test sentences
    assert again.value == pytest.approx(result.value)
    assert again.baseline == pytest.approx(result.baseline)
    tags = tagging.tag([["The", "dog", "ran", "."], ["Yes"]], str(out))
    assert [len(t) for t in tags] == [4, 1]
    assert all(t in tn.datasets.UNIVERSAL_TAGS for s in tags for t in s)


def test_cli_trains_tagging_and_rejects_unknown_models(quick, tmp_path, capsys):
    from tinynlp.cli import main

    out = tmp_path / "tagger"
    assert main(["train", "tagging", "--epochs", "1", "--out", str(out), "--verbose", "0"]) == 0
    printed = capsys.readouterr().out
    assert "token accuracy" in printed and "most frequent tag" in printed
    assert (out / "model.tnz").exists()
    assert main(["evaluate", "tagging", "--out", str(out)]) == 0
    assert main(["train", "tagging", "--model", "transformer", "--out", str(out)]) == 1
    assert "no model 'transformer'" in capsys.readouterr().err
