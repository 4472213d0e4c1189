"""Your own data: `tinynlp train classify --data FILE` and `tinynlp predict --data FILE`
on small CSV / TSV / JSONL files, the Python API beside them, and each bad input."""

import csv
import json

import numpy as np
import pytest

from tinynlp.cli import main
from tinynlp.data.tabular import read_table
from tinynlp.tasks import classification
from tinynlp.tasks.predictor import TextClassifier

GOOD = "good great fine lovely superb wonderful excellent".split()
BAD = "bad awful poor dull boring terrible weak".split()
MID = "long slow odd plain quiet loud short".split()


def examples(n=90, seed=0, classes=("pos", "neg", "meh")):
    rng = np.random.default_rng(seed)
    words = {"pos": GOOD, "neg": BAD, "meh": MID, "a": GOOD, "b": BAD}
    out = []
    for i in range(n):
        label = classes[i % len(classes)]
        out.append((" ".join(rng.choice(words[label], 3)) + " film", label))
    return out


def write_file(path, rows, text="review", label="stars"):
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps({text: t, label: lab}) + "\n" for t, lab in rows))
    else:
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, delimiter="\t" if path.suffix == ".tsv" else ",")
            w.writerow([label, text])
            w.writerows([(lab, t) for t, lab in rows])
    return path


@pytest.fixture
def run_dir(tmp_path, monkeypatch, quick):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_train_predict_evaluate_on_own_file(run_dir, capsys, suffix):
    data = write_file(run_dir / f"reviews{suffix}", examples())
    assert main(["train", "classify", "--data", str(data), "--text-column", "review",
                 "--label-column", "stars", "--epochs", "8", "--lr", "0.02", "--verbose", "0",
                 "--out", "runs/mine"]) == 0
    out = capsys.readouterr().out
    assert "classification (avg): accuracy" in out and "test_size: 18" in out
    meta = json.loads((run_dir / "runs/mine/tokenizer.json").read_text())
    assert meta["classes"] == ["meh", "neg", "pos"] and meta["data"]["label_column"] == "stars"

    new = write_file(run_dir / f"new{suffix}", [("superb lovely film", "?"),
                                                 ("awful dull boring", "?"), ("odd quiet", "?")])
    assert main(["predict", "--model", "runs/mine", "--data", str(new), "--text-column",
                 "review", "--out", "pred.csv"]) == 0
    table = read_table(run_dir / "pred.csv")
    assert table["review"] == ["superb lovely film", "awful dull boring", "odd quiet"]
    assert table["prediction"] == ["pos", "neg", "meh"]
    probs = np.array([table[f"p_{c}"] for c in ("meh", "neg", "pos")], float).T
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert list(read_table(run_dir / "pred.csv")) == ["__line__", "review", "prediction",
                                                      "p_meh", "p_neg", "p_pos"]
    capsys.readouterr()
    assert main(["evaluate", "classify"]) == 0           # the latest classify run: runs/mine
    captured = capsys.readouterr()
    assert "using runs/mine" in captured.err and "test_size: 18" in captured.out


def test_python_api_and_test_file(run_dir):
    train_file = write_file(run_dir / "train.csv", examples(60), "text", "label")
    test_file = write_file(run_dir / "test.csv", examples(12, seed=5), "text", "label")
    result = classification.train("cnn", epochs=6, learning_rate=0.01, data=train_file,
                                  test=test_file, out=run_dir / "api", verbose=0, plot=False)
    assert result.extra["test_size"] == 12 and result.extra["train_size"] == 60
    clf = TextClassifier.load(run_dir / "api")
    assert clf.classes == ["meh", "neg", "pos"] and clf.task == "classification"
    p = clf.predict_proba(["great lovely film", "boring bad"])
    assert p.shape == (2, 3) and np.allclose(p.sum(axis=1), 1.0, atol=1e-5)
    assert clf.predict(["great lovely film"]) == clf.labels_of(p[:1])
    again = classification.evaluate(run_dir / "api")
    assert again.value == pytest.approx(result.value) and again.extra["test_size"] == 12
    other = classification.evaluate(run_dir / "api", data=train_file)
    assert other.extra["test_size"] == 60
    with pytest.warns(UserWarning, match=r"1 input\(s\) hold no word.*2 \('\?\!'\)"):
        clf.predict(["fine film", "?!"])


def test_held_out_split_is_stratified_and_seeded(tmp_path):
    data = write_file(tmp_path / "d.csv", examples(40, classes=("a", "b")), "text", "label")
    (x1, y1), (t1, s1), classes = classification.own_data(data, test_size=0.25, seed=3)
    (x2, y2), (t2, s2), _ = classification.own_data(data, test_size=0.25, seed=3)
    assert classes == ["a", "b"] and t1 == t2 and len(t1) == 10 and len(x1) == 30
    assert np.bincount(s1).tolist() == [5, 5]          # stratified
    assert sorted(x1 + t1) == sorted(t for t, _ in examples(40, classes=("a", "b")))
    (x3, _), (t3, _), _ = classification.own_data(data, test_size=0.25, seed=4)
    assert t3 != t1


@pytest.mark.parametrize("content, message", [
    ("review,stars\na,pos\n", "no column 'text'; the file's columns are: 'review', 'stars'"),
    ("", "the file is empty"),
    ("text,label\n", "no rows"),
    ("text,label\na,pos\nb,pos\nc,pos\nd,pos\n", "holds a single class ('pos', 4 rows)"),
    (b"text,label\ncaf\xe9 noir,pos\nb,neg\n", "not UTF-8 text: byte 0xe9 at line 2"),
])
def test_bad_own_data_is_one_line_and_exit_1(run_dir, capsys, content, message):
    path = run_dir / "bad.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main(["train", "classify", "--data", str(path), "--verbose", "0"]) == 1
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("tinynlp train: error: ") and message in err
    assert "\n" not in err and "Traceback" not in err and "Epoch" not in captured.out
    assert not (run_dir / "runs").exists()


def test_data_options_need_data_and_classify(run_dir, capsys):
    assert main(["train", "classify", "--test", "t.csv"]) == 1
    assert "--test goes with --data FILE" in capsys.readouterr().err
    assert main(["train", "sentiment", "--data", "d.csv"]) == 1
    assert "`tinynlp train sentiment` has no option --data (it applies to: classify)" in \
        capsys.readouterr().err
    data = write_file(run_dir / "d.csv", examples(30), "text", "label")
    missing = run_dir / "absent.csv"
    assert main(["train", "classify", "--data", str(data), "--test", str(missing)]) == 1
    assert "absent.csv: no such file" in capsys.readouterr().err
