"""The `tinynlp` command through its real entry point (the installed console script, in a
subprocess, output piped): quickstart, predict, evaluate, embed, bench, and one-line errors.

Trainings run in quick mode (TINYNLP_QUICK=1) in a temporary folder, so `runs/` is theirs.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "tinynlp"


def tinynlp(*args, cwd, stdin=None, env=None, timeout=300):
    """Run the command; returns the CompletedProcess (text, output captured = piped)."""
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "tinynlp"]
    full_env = dict(os.environ, TINYNLP_QUICK="1", MPLBACKEND="Agg", **(env or {}))
    full_env.pop("TINYNLP_TRACEBACK", None)
    return subprocess.run(cmd + [str(a) for a in args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=timeout, env=full_env)


def one_line_error(proc, command, fragment):
    """Exit 1 and a single `tinynlp CMD: error: ...` line on stderr holding ``fragment``."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith(f"tinynlp {command}: ")]
    assert any(ln.startswith(f"tinynlp {command}: error: ") and fragment in ln
               for ln in errors), proc.stderr
    assert "Traceback" not in proc.stderr


def test_version_and_help(tmp_path):
    from tinynlp import __version__
    proc = tinynlp("--version", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == f"tinynlp {__version__}"
    proc = tinynlp("train", "--help", cwd=tmp_path)
    assert proc.returncode == 0
    assert "sentiment  rnn, lstm, cnn" in proc.stdout and "(default cnn)" in proc.stdout
    for flag in ("--epochs", "--batch-size", "--lr", "--seed", "--data", "--text-column"):
        assert flag in proc.stdout


@pytest.mark.slow
def test_quickstart_piped_then_predict_and_evaluate(tmp_path):
    """The README's path: quickstart (its piped output small: a line per epoch), then
    predict and evaluate with no flags find the run; predict reads standard input."""
    proc = tinynlp("quickstart", "--epochs", "4", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert len(out.encode()) < 5 * 1024 and "\r" not in out
    epoch_lines = [ln for ln in out.splitlines() if ln.startswith("Epoch ")]
    assert [ln.split(" - ")[0] for ln in epoch_lines] == [f"Epoch {i}/4" for i in range(1, 5)]
    assert len(out.splitlines()) < 40
    assert "sentiment (cnn): accuracy" in out and "Try it:" in out
    assert (tmp_path / "runs/quickstart/model.tnz").is_file()
    assert (tmp_path / "runs/quickstart/run.json").is_file()

    proc = tinynlp("predict", "a gorgeous, witty film", "dull and lifeless", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "using runs/quickstart" in proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and lines[0].endswith("\ta gorgeous, witty film")
    assert lines[0].split("\t")[1] in ("fresh", "rotten") and 0.5 <= float(lines[0][:5]) <= 1

    proc = tinynlp("predict", "-", stdin="first line\n\nthird, after an empty one\n",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [ln.split("\t")[2] for ln in proc.stdout.splitlines()] == [
        "first line", "", "third, after an empty one"]
    assert "warning: 1 input(s) hold no word" in proc.stderr

    proc = tinynlp("evaluate", "sentiment", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "sentiment (" in proc.stdout and "accuracy = " in proc.stdout


@pytest.mark.slow
def test_train_out_under_a_file_fails_before_training(tmp_path):
    (tmp_path / "afile").write_text("x")
    proc = tinynlp("train", "sentiment", "--out", tmp_path / "afile" / "run", cwd=tmp_path)
    one_line_error(proc, "train", "is under")
    assert "Epoch" not in proc.stdout            # checked before any training
    proc = tinynlp("train", "lm", "--pretrained", "glove", cwd=tmp_path)
    one_line_error(proc, "train", "has no option --pretrained (it applies to: sentiment)")
    proc = tinynlp("train", "tagging", "--model", "transformer", cwd=tmp_path)
    one_line_error(proc, "train", "no model 'transformer'")


@pytest.mark.slow
def test_reading_commands_without_a_run_say_what_to_do(tmp_path):
    for args, command in ((["predict", "hello"], "predict"), (["evaluate", "tagging"], "evaluate"),
                          (["generate"], "generate"), (["translate", "hola"], "translate")):
        proc = tinynlp(*args, cwd=tmp_path)
        one_line_error(proc, command, "train one first with `tinynlp train")
    proc = tinynlp("predict", cwd=tmp_path)
    one_line_error(proc, "predict", "nothing to classify")


@pytest.mark.slow
def test_bad_checkpoint_and_tokenizer_files_are_one_line(tmp_path):
    run = tmp_path / "runs" / "broken"
    run.mkdir(parents=True)
    (run / "model.tnz").write_bytes(b"PK\x03\x04 this is not a zip")
    (run / "tokenizer.json").write_text('{"task": "sentiment", "tokenizer": ')
    proc = tinynlp("predict", "hello", "--model", run, cwd=tmp_path)
    one_line_error(proc, "predict", "tokenizer.json")
    (run / "tokenizer.json").write_text('{"task": "sentiment", "maxlen": 10}')
    proc = tinynlp("predict", "hello", "--model", run, cwd=tmp_path)
    one_line_error(proc, "predict", "tokenizer")
    (run / "tokenizer.json").write_text('{"task": "sentiment", "maxlen": 10, "tokenizer": '
                                        '{"num_words": 5}}')
    proc = tinynlp("predict", "hello", "--model", run, cwd=tmp_path)
    one_line_error(proc, "predict", "the tokenizer's settings are damaged")
    (run / "tokenizer.json").write_text('{"task": "sentiment", "maxlen": 10, "tokenizer": '
                                        '{"num_words": 5, "filters": "", "lower": true, '
                                        '"split": " ", "char_level": false, "oov_token": null,'
                                        ' "document_count": 1, "word_counts": [["a", 1]], '
                                        '"word_docs": {"a": 1}}}')
    proc = tinynlp("predict", "hello", "--model", run, cwd=tmp_path)
    one_line_error(proc, "predict", "model.tnz")     # the corrupt checkpoint, named
    proc = tinynlp("predict", "x", "--out", run, cwd=tmp_path)
    one_line_error(proc, "predict", "the model folder is --model")


@pytest.mark.slow
def test_embed_query_and_train(tmp_path):
    proc = tinynlp("embed", "query", "king", "--topn", "3", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("king: ") and proc.stdout.count("(") == 3
    proc = tinynlp("embed", "query", "king", "qwzxv", cwd=tmp_path)
    one_line_error(proc, "embed", "not in the vocabulary of glove")
    assert proc.stdout.startswith("king: ")       # the known word is still answered
    proc = tinynlp("embed", "query", "king", "--topn", "0", cwd=tmp_path)
    assert proc.returncode == 2 and "expected a positive integer" in proc.stderr
    bad = tmp_path / "bad.txt"
    bad.write_text("3 4\nking 0.1 0.2 0.3 0.4\nqueen 0.1 zero 0.3 0.4\n")
    proc = tinynlp("embed", "query", "king", "--vectors", bad, cwd=tmp_path)
    one_line_error(proc, "embed", "bad.txt")
    import gzip
    cut = tmp_path / "cut.txt.gz"
    cut.write_bytes(gzip.compress(b"2 2\nking 0.1 0.2\nqueen 0.3 0.4\n")[:-10])
    proc = tinynlp("embed", "query", "king", "--vectors", cut, cwd=tmp_path)
    one_line_error(proc, "embed", "cut.txt.gz")
    proc = tinynlp("embed", "train", "--epochs", "1", "--dim", "8", "--min-count", "50",
                   "--output", tmp_path / "v.txt", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Word2Vec epoch 1/1 - " in proc.stdout and "-> " in proc.stdout
    assert (tmp_path / "v.txt").read_text().split("\n", 1)[0].endswith(" 8")
    (tmp_path / "afile").write_text("x")
    proc = tinynlp("embed", "train", "--output", tmp_path / "afile" / "v.txt", cwd=tmp_path)
    one_line_error(proc, "embed", "is a file, not a folder")


@pytest.mark.slow
def test_bench_from_a_checkout_and_from_elsewhere(tmp_path):
    pytest.importorskip("torch")
    if __import__("importlib").util.find_spec("keras") is None:
        pytest.skip("keras is not installed")
    # from a folder outside the repository: found next to the (editable) package, or a
    # message saying exactly what to do
    proc = tinynlp("bench", "--quick", "--silent", "--frameworks", "tinynlp",
                   "--models", "seed_rnn", cwd=tmp_path)
    # the package the command imports from there (an installed copy, not this checkout,
    # when tinynlp was installed without -e, as CI does)
    where = subprocess.run([sys.executable, "-c", "import tinynlp; print(tinynlp.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True)
    package_root = Path(where.stdout.strip()).resolve().parents[1]
    if (package_root / "benchmarks" / "harness.py").is_file():
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert f"the benchmarks of {package_root}" in proc.stderr
    else:
        one_line_error(proc, "bench", "clone the repository")
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT / "benchmarks", copy / "benchmarks",
                    ignore=shutil.ignore_patterns("*.png", "__pycache__"))
    proc = tinynlp("bench", "--quick", "--silent", "--frameworks", "tinynlp",
                   "--models", "seed_rnn", cwd=copy)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"the benchmarks of {copy}" in proc.stderr


def test_bench_says_what_to_install(capsys, monkeypatch, tmp_path):
    from tinynlp.cli import bench
    from tinynlp.cli.common import CLIError

    with pytest.raises(CLIError, match=r"clone the repository, install it with pip install "
                                       r"\"\.\[bench\]\""):
        bench.run_bench(type("A", (), {"quick": True, "options": []}), roots=[tmp_path])
    monkeypatch.setattr(bench.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(CLIError, match=r"torch and keras are not installed: pip install "
                                       r"\"tinynlp\[bench\]\""):
        bench.run_bench(type("A", (), {"quick": True, "options": []}), roots=[ROOT])
