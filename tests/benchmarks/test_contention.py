"""The harness's load measurements: the competing process, the report section, merging."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from benchmarks import contention, harness  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_competing_process_runs_then_is_gone():
    with contention.competing_process(settle_s=0.05) as proc:
        assert proc.poll() is None               # running
        pid = proc.pid
    assert proc.poll() is not None               # killed and reaped
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with contention.competing_process(active=False) as nothing:
        assert nothing is None


def test_competing_process_is_killed_on_error():
    with pytest.raises(RuntimeError), contention.competing_process(settle_s=0.0) as proc:
        raise RuntimeError("a worker failed")
    assert proc.poll() is not None


def _r(ms, threads):
    return {"train_ms": [ms] * 3, "threads_used": threads, "load_before": (0.2, 0.2, 0.2)}


def _entry():
    return {"model": "emb_rnn", "batch": 32, "tiny_quiet": _r(10.0, 2), "tiny_loaded": _r(14.0, 1),
            "tiny1_loaded": _r(15.0, 1), "tiny2_loaded": _r(45.0, 2),
            "torch_quiet": _r(12.0, 2), "torch_loaded": _r(60.0, 2)}


def test_slowdowns_and_the_report_section():
    e = _entry()
    assert contention.slowdown(e, "tiny_quiet", "tiny_loaded") == pytest.approx(1.4)
    assert contention.loaded_ratio(e) == pytest.approx(14 / 60)
    lines = "\n".join(contention.contention_lines({"contention": [e]}))
    assert "| emb_rnn | 32 | 10.00 (2t) | 14.00 (1t) **×1.40** | 15.00 (1t) **×1.50** | " \
           "45.00 (2t) **×4.50** | 12.00 (2t) | 60.00 (2t) **×5.00** | 0.23 |" in lines
    assert contention.contention_lines({"contention": []}) == []
    e["torch_loaded"] = {"error": "boom"}
    assert contention.loaded_ratio(e) is None


def test_merge_keeps_rows_not_measured_again():
    def res(fw, model, ms):
        return {"framework": fw, "model": model, "batch": 32, "sparse": False, "mode": "timing",
                "train_ms": [ms]}

    old = {"info": {"date": "old"}, "results": [res("tinynlp", "a", 1), res("tinynlp", "b", 3),
                                                res("torch", "a", 2)],
           "jit": [{"model": "a", "cold": {}}], "contention": [{"model": "a", "batch": 32}]}
    new = {"info": {"date": "new", "load_start": (1, 1, 1), "load_end": (2, 2, 2)},
           "results": [res("tinynlp", "b", 30), res("tinynlp", "gpt", 5)], "jit": [],
           "contention": [{"model": "b", "batch": 32}]}
    m = harness.merge_results(old, new)
    got = [(r["framework"], r["model"], r["train_ms"][0]) for r in m["results"]]
    assert got == [("tinynlp", "a", 1), ("tinynlp", "b", 30), ("torch", "a", 2),
                   ("tinynlp", "gpt", 5)]                  # a row measured again keeps its place
    merged = m["info"]["merged"][0]
    assert m["info"]["date"] == "old" and merged["timing"] == ["b", "gpt"]
    assert merged["contention"] == ["b"]
    assert [c["model"] for c in m["contention"]] == ["a", "b"] and m["jit"][0]["model"] == "a"


def test_merged_runs_are_listed_in_the_report(tmp_path):
    data = json.loads((ROOT / "benchmarks" / "RESULTS.json").read_text())
    data["info"]["merged"] = [{"date": "D", "commit": "c", "load_start": (2.0, 1, 1),
                               "load_end": (0.1, 1, 1), "timing": ["gpt"], "contention": []}]
    harness.write_markdown(data, tmp_path / "R.md")
    assert ("- measured again on D (commit c; load (2.0, 1, 1) at start, (0.1, 1, 1) at end; "
            "**provisional**: the machine was shared): the timing rows of gpt; the other rows "
            "are from the run above") in (tmp_path / "R.md").read_text()


def test_transformer_rows_skip_keras_and_use_their_batch():
    args = harness.parse_args(["--models", "gpt,transformer_cls"])
    assert harness.variants("gpt", ["tinynlp", "torch", "keras"]) == [("tinynlp", False),
                                                                     ("torch", False)]
    assert harness.model_batch_sizes("gpt", args) == [12]
    assert harness.model_batch_sizes("transformer_cls", args) == [32, 256]


@pytest.mark.slow
def test_quick_contention_run(tmp_path):
    out = tmp_path / "R.md"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--silent", "--frameworks", "tinynlp",
         "--models", "seed_rnn", "--contention-only", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((tmp_path / "R.json").read_text())
    (entry,) = data["contention"]
    assert set(entry) == {"model", "batch", "tiny_quiet", "tiny_loaded", "tiny1_loaded",
                          "tiny2_loaded"}
    assert entry["tiny1_loaded"]["threads_used"] == 1 and entry["tiny2_loaded"]["threads_used"] == 2
    assert 1 <= entry["tiny_loaded"]["threads_used"] <= os.cpu_count()
    assert "## Under load" in out.read_text()
