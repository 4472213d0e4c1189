"""benchmarks/batch_blocks.py runs, checks that the two ways agree, and reports the choice."""

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_quick(*args):
    spec = importlib.util.spec_from_file_location(
        "batch_blocks", os.path.join(ROOT, "benchmarks", "batch_blocks.py"))
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
        return mod.main(["--quick", *args])
    finally:
        import tinynlp as tn
        tn.set_num_threads(None)


def test_batch_blocks_quick(capsys):
    rows = run_quick()
    assert [r[:2] for r in rows] == [("emb_cnn", 6), ("gpt", 4)]
    assert all(r[2] > 0 and r[3] > 0 for r in rows)
    assert all(r[4] in ("blocks", "whole", "whole (one block: not measured)") for r in rows)
    out = capsys.readouterr().out
    assert "load average" in out and "| emb_cnn | 6 |" in out


def test_batch_blocks_train_quick(capsys):
    rows = run_quick("--train")
    assert [r[:2] for r in rows] == [("gpt", 4)]
    assert rows[0][2] > 0 and rows[0][3] > 0
    assert rows[0][4] == "whole"          # 2 sequences of 16 per block: fewer than the rule's
    assert "train step; load average" in capsys.readouterr().out
