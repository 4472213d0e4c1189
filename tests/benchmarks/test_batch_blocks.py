"""benchmarks/batch_blocks.py runs, checks that the two ways agree, and reports the choice."""

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_batch_blocks_quick(capsys):
    spec = importlib.util.spec_from_file_location(
        "batch_blocks", os.path.join(ROOT, "benchmarks", "batch_blocks.py"))
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
        rows = mod.main(["--quick"])
    finally:
        import tinynlp as tn
        tn.set_num_threads(None)
    assert [r[:2] for r in rows] == [("emb_cnn", 6), ("gpt", 4)]
    assert all(r[2] > 0 and r[3] > 0 for r in rows)
    assert all(r[4] in ("blocks", "whole", "whole (one block: not measured)") for r in rows)
    out = capsys.readouterr().out
    assert "load average" in out and "| emb_cnn | 6 |" in out
