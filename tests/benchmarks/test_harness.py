"""The benchmark harness runs end to end (``--quick``) and reports what it measured."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from benchmarks import harness  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_run_writes_a_report(tmp_path):
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--silent", "--frameworks",
         "tinynlp,torch", "--models", "seed_rnn,emb_cnn", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    assert "| seed_rnn | 8 |" in text and "| emb_cnn (sparse) | 8 |" in text
    assert "Ratios" in text and "Accuracy" in text
    assert (tmp_path / "ratios.png").stat().st_size > 1000
    data = json.loads((tmp_path / "RESULTS.json").read_text())
    assert not [r for r in data["results"] if "error" in r]
    for r in data["results"]:
        assert len(r["train_ms"]) >= 3 and len(r["infer_ms"]) >= 3
        assert r["rss_peak_mb"] >= r["rss_before_steps_mb"] > 0
        assert 0.0 <= r["accuracy"] <= 1.0
    rows = harness.ratio_rows(data)
    assert {(r["model"], r["sparse"]) for r in rows} == {
        ("seed_rnn", False), ("emb_cnn", False), ("emb_cnn", True)}
    for r in rows:
        assert r["train_vs_torch"] > 0 and r["keras"] is None
        # same weights, same batches: the first losses agree
        assert harness.max_loss_diff(r["tiny"], r["torch"]) < 1e-4


def _canned():
    def worker(fw, model, sparse=False, scale=1.0):
        return {"framework": fw, "model": model, "batch": 32, "sparse": sparse,
                "mode": "timing", "train_ms": [scale, 2 * scale, 3 * scale],
                "infer_ms": [scale / 2] * 3, "rss_peak_mb": 100 * scale,
                "rss_before_steps_mb": 90 * scale, "rss_after_import_mb": 80.0,
                "import_s": 0.5, "first_train_s": 0.1, "first_losses": [0.7, 0.6],
                "load_before": (0.1, 0.1, 0.1), "accuracy": 0.5, "epochs": 1, "fit_s": 1.0}

    results = [worker("tinynlp", "emb_rnn"), worker("torch", "emb_rnn", scale=2.0),
               worker("keras", "emb_rnn", scale=4.0)]
    info = {"date": "2026-01-01T00:00:00", "cpu": "cpu", "cores": 2, "platform": "linux",
            "versions": harness.versions(), "numpy_blas": "blas", "threads": 2,
            "quick": False, "epochs": 1, "batch_sizes": [32], "accuracy_batches": [32], "load_start": (0, 0, 0),
            "load_end": (0, 0, 0), "budget_s": 3.0, "total_s": 1.0}
    return {"info": info, "results": results, "jit": []}


def test_ratios_are_tinynlp_over_other():
    (row,) = harness.ratio_rows(_canned())
    assert row["train_vs_torch"] == pytest.approx(0.5)
    assert row["train_vs_keras"] == pytest.approx(0.25)
    assert row["mem_vs_torch"] == pytest.approx(0.5)


def test_report_and_plot_from_results(tmp_path):
    data = _canned()
    harness.write_markdown(data, tmp_path / "R.md")
    harness.plot_ratios(data, tmp_path / "r.png")
    text = (tmp_path / "R.md").read_text()
    assert "| emb_rnn | 32 | 0.50 ✓ | 0.50 ✓ | 0.50 ✓ | 0.25 ✓ |" in text
    assert (tmp_path / "r.png").stat().st_size > 1000


def test_quick_without_out_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "run_all", lambda args: _canned())
    monkeypatch.setattr(harness, "HERE", tmp_path)
    assert harness.main(["--quick", "--silent"]) == 0
    assert list(tmp_path.iterdir()) == []
    assert harness.main(["--silent"]) == 0          # full mode writes the report
    assert {p.name for p in tmp_path.iterdir()} == {"RESULTS.md", "RESULTS.json", "ratios.png"}


def test_bad_arguments_are_rejected():
    with pytest.raises(SystemExit):
        harness.parse_args(["--models", "nope"])
    with pytest.raises(SystemExit):
        harness.parse_args(["--frameworks", "tensorflow"])


def _round(train, infer, rss=100.0, **extra):
    return {"train_ms": train, "infer_ms": infer, "train_cpu_ms": 1.0, "rss_peak_mb": rss,
            "rss_before_steps_mb": rss - 10, "load_before": (0.1, 0.1, 0.1), **extra}


def test_rounds_pool_the_steps_and_keep_each_rounds_median():
    pooled = harness.pool_rounds([_round([1.0, 2.0, 3.0], [1.0] * 3, accuracy=0.7),
                                  _round([5.0, 6.0, 7.0], [2.0] * 3, rss=120.0)])
    assert pooled["train_ms"] == [1.0, 2.0, 3.0, 5.0, 6.0, 7.0]
    assert pooled["round_train_ms"] == [2.0, 6.0]
    assert pooled["round_infer_ms"] == [1.0, 2.0]
    assert (pooled["rss_peak_mb"], pooled["rss_before_steps_mb"]) == (120.0, 110.0)
    assert pooled["accuracy"] == 0.7 and pooled["rounds"] == 2
    failed = harness.pool_rounds([_round([1.0], [1.0]), {"error": "boom"}])
    assert failed == {"error": "boom"}
    single = _round([1.0], [1.0])
    assert harness.pool_rounds([single]) == single


def test_report_lists_each_rounds_ratio(tmp_path):
    data = _canned()
    data["info"]["rounds"] = 2
    for r in data["results"]:
        r["round_train_ms"] = [2.0, 4.0] if r["framework"] == "tinynlp" else [4.0, 4.0]
        r["round_infer_ms"] = [1.0, 1.0] if r["framework"] == "tinynlp" else [0.5, 2.0]
    harness.write_markdown(data, tmp_path / "R.md")
    text = (tmp_path / "R.md").read_text()
    assert "runs in 2 rounds of fresh processes" in text
    assert "| emb_rnn | 32 | 0.50, 1.00 | 2.00, 0.50 |" in text
