"""benchmarks/lstm_rows.py runs, checks the three ways agree, and restores the defaults."""

import importlib.util
import os

from tinynlp.functional.rnn import lstm_cell

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_lstm_rows_quick(capsys, monkeypatch):
    monkeypatch.setenv("TINYNLP_NUMBA_GEMM", "1")
    spec = importlib.util.spec_from_file_location(
        "lstm_rows", os.path.join(ROOT, "benchmarks", "lstm_rows.py"))
    mod = importlib.util.module_from_spec(spec)
    split, step_gemm = lstm_cell.SPLIT_PRODUCT, lstm_cell.step_gemm
    try:
        spec.loader.exec_module(mod)
        rows = mod.main(["--quick"])
    finally:
        import tinynlp as tn
        tn.set_num_threads(None)
    assert [r[:2] for r in rows] == [(8, "inference"), (8, "train step")]
    assert all(v > 0 for r in rows for v in r[2:])
    assert (lstm_cell.SPLIT_PRODUCT, lstm_cell.step_gemm) == (split, step_gemm)
    out = capsys.readouterr().out
    assert "load average" in out and "| 8 | inference |" in out
