"""tools/transfer_table.py --quick on a tiny stand-in GPT (--body): every model and data set
runs, rows are appended as they finish, a re-run resumes (trains nothing twice), the report,
its plot and the kept notes."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from tests.pretrained.tiny import tiny_gpt

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def table():
    spec = importlib.util.spec_from_file_location("transfer_table",
                                                  ROOT / "tools" / "transfer_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_subsets_are_stratified_and_fixed_per_seed(table):
    y = np.array([0] * 300 + [1] * 100 + [2] * 3)
    sub = table.label_subset(y, 0.1, seed=0)
    assert np.bincount(y[sub]).tolist() == [30, 10, 1]
    assert np.array_equal(sub, table.label_subset(y, 0.1, seed=0))
    assert not np.array_equal(sub, table.label_subset(y, 0.1, seed=1))
    assert len(table.label_subset(y, 1.0, seed=0)) == len(y)
    fit, val = table.holdout(y[sub], seed=0)
    assert len(val) == 5 and sorted(np.concatenate([fit, val]).tolist()) == list(range(41))
    assert np.bincount(y[sub][val], minlength=3).tolist() == [4, 1, 0]   # never a last one


@pytest.mark.slow
def test_quick_grid_resumes_and_reports(table, tmp_path):
    body = tmp_path / "body"
    body.mkdir()
    gpt = tiny_gpt()
    gpt.save(body / "gpt.tnz")
    gpt.tokenizer.save(body / "bpe.json")
    results, out = tmp_path / "r.jsonl", tmp_path / "t.md"
    args = ["--quick", "--body", str(body), "--results", str(results), "--out", str(out),
            "--fractions", "0.1", "--threads", "1"]
    assert table.main(args) == 0
    rows = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    assert {(r["dataset"], r["model"]) for r in rows} == {
        (d, m) for d in table.DATASETS for m in table.MODELS}
    assert all(0 <= r["accuracy"] <= 1 and r["quick"] and r["n_val"] >= 5 for r in rows)
    text = out.read_text(encoding="utf-8")
    assert "QUICK MODE" in text and (tmp_path / "t.png").stat().st_size > 0
    assert "goal (≥ +5)" in text
    # notes are kept; a re-run trains nothing new
    out.write_text(text + "\n<!-- notes:begin -->\nwhat the curves show\n<!-- notes:end -->\n",
                   encoding="utf-8")
    assert table.main(args) == 0
    assert len(results.read_text(encoding="utf-8").splitlines()) == len(rows)
    assert "what the curves show" in out.read_text(encoding="utf-8")
