"""The tinygpt model of the sentiment and genre recipes, on a tiny stand-in GPT (quick mode):
training, the saved folder read back by the recipes' load(), predict, the serve adapter and
the command line."""

import math
from pathlib import Path

import numpy as np
import pytest

from tests.pretrained.tiny import tiny_gpt
from tinynlp import cli
from tinynlp.data.datasets import BROWN_GENRES
from tinynlp.pretrained import GPTClassifier
from tinynlp.serve.adapters import Classifier, load_adapter
from tinynlp.tasks import classification, gpt_finetune, sentiment


@pytest.fixture(scope="module")
def sentiment_run(quick_env, tmp_path_factory):
    out = tmp_path_factory.mktemp("sentiment_gpt")
    return sentiment.train("tinygpt", out=str(out), verbose=0, gpt=tiny_gpt()), out


def test_sentiment_tinygpt_trains_saves_and_loads(sentiment_run):
    result, out = sentiment_run
    assert result.model == "tinygpt" and 0.0 <= result.value <= 1.0
    assert result.extra["train_size"] + result.extra["validation_size"] == 600
    for name in ("model.tnz", "bpe.json", "tokenizer.json", "learning_curves.png"):
        assert (Path(out) / name).stat().st_size > 0
    model, encode = sentiment.load(out)
    assert isinstance(model, GPTClassifier)
    x = encode(["a gorgeous, witty movie.", "dull"])
    assert x.dtype == np.int64 and x.shape[0] == 2 and (x[1] == -1).any()
    p = sentiment.predict(["a gorgeous, witty movie.", "dull"], out)
    assert p.shape == (2,) and np.all((p >= 0) & (p <= 1))
    np.testing.assert_allclose(p, model.predict(x).reshape(-1), rtol=1e-5)
    again = sentiment.evaluate(out)
    assert math.isfinite(again.value)


def test_the_serve_adapter_reads_a_tinygpt_folder(sentiment_run):
    _, out = sentiment_run
    adapter = load_adapter(out)
    assert isinstance(adapter, Classifier)
    (r,) = adapter.run_batch(["what a lovely film"])
    assert r["label"] in ("rotten", "fresh") and sum(r["probabilities"].values()) == \
        pytest.approx(1.0)


def test_genres_tinygpt_trains_and_predicts(quick_env, tmp_path):
    result = classification.train("tinygpt", out=str(tmp_path), verbose=0, gpt=tiny_gpt(),
                                  plot=False)
    assert result.model == "tinygpt" and np.array(result.extra["confusion_matrix"]).shape \
        == (15, 15)
    assert result.extra["maxlen"] == 32
    genres = classification.predict(["the court ruled that the senate bill was void"],
                                    str(tmp_path))
    assert genres[0] in BROWN_GENRES
    model, encode, meta = classification.load(tmp_path)
    assert meta["model"] == "tinygpt" and model.predict(encode(["a text"])).shape == (1, 15)


def test_build_model_points_to_the_pretrained_classifier():
    with pytest.raises(ValueError, match="tn.pretrained.classifier"):
        sentiment.build_model("tinygpt")
    with pytest.raises(ValueError, match="tn.pretrained.classifier"):
        classification.build_model("tinygpt")
    with pytest.raises(ValueError, match="neither pretrained"):
        sentiment.train("tinygpt", pretrained="glove")


def test_stratified_split_holds_out_every_class():
    y = np.array([0] * 50 + [1] * 10 + [2] * 2 + [3])
    fit, val = gpt_finetune.stratified_split(y, 0.1, seed=0)
    assert sorted(np.concatenate([fit, val]).tolist()) == list(range(len(y)))
    assert np.bincount(y[val], minlength=4).tolist() == [5, 1, 1, 0]


def test_cli_train_sentiment_model_tinygpt(quick, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(gpt_finetune, "load", lambda name: tiny_gpt())
    code = cli.main(["train", "sentiment", "--model", "tinygpt", "--out", str(tmp_path),
                     "--verbose", "0"])
    assert code == 0 and "sentiment (tinygpt)" in capsys.readouterr().out
    assert (tmp_path / "bpe.json").is_file()


def test_own_data_with_tinygpt_trains_and_predicts_a_file(quick_env, tmp_path):
    from tinynlp.tasks.predictor import TextClassifier
    rows = ["text,label"] + [f"a bright happy day number {i},pos" for i in range(12)] + \
        [f"a dull grey rainy day number {i},neg" for i in range(12)]
    data = tmp_path / "mood.csv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = classification.train("tinygpt", data=str(data), out=str(tmp_path / "run"),
                                  verbose=0, gpt=tiny_gpt(), plot=False)
    assert result.model == "tinygpt" and result.extra["test_size"] == 5
    classifier = TextClassifier.load(tmp_path / "run")
    assert classifier.classes == ["neg", "pos"]
    (tmp_path / "new.csv").write_text("text\nsunny and bright\ngrey rain\n", encoding="utf-8")
    classifier.predict_file(tmp_path / "new.csv", tmp_path / "pred.csv")
    lines = (tmp_path / "pred.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].split(",")[:2] == ["text", "prediction"] and len(lines) == 3
    assert all(line.split(",")[1] in ("neg", "pos") for line in lines[1:])


def test_text_classifier_warns_about_an_empty_text_in_a_tinygpt_run(sentiment_run):
    """GPT rows pad with −1, not 0: an empty text is all padding and gets the warning; a
    real text does not."""
    from tinynlp.tasks.predictor import TextClassifier
    _, out = sentiment_run
    clf = TextClassifier.load(out)
    with pytest.warns(UserWarning, match=r"1 input\(s\) hold no word.*2 \(''\)"):
        p = clf.predict_proba(["a gorgeous, witty movie.", ""])
    assert p.shape == (2, 2) and np.allclose(p.sum(axis=1), 1)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.predict_proba(["dull"])
