"""benchmarks/recurrent_dropout_cost.py runs and reports one row per cell."""

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_recurrent_dropout_cost_quick(capsys):
    spec = importlib.util.spec_from_file_location(
        "recurrent_dropout_cost", os.path.join(ROOT, "benchmarks", "recurrent_dropout_cost.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = mod.main(["--quick"])
    assert [r[0] for r in rows] == ["SimpleRNN", "LSTM", "GRU"]
    assert all(a > 0 and b > 0 and r == b / a for _, a, b, r in rows)
    out = capsys.readouterr().out
    assert "load average" in out and out.count("| SimpleRNN |") == 1
