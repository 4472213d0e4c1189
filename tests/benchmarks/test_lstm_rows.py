"""benchmarks/lstm_rows.py runs, checks the three ways agree, and restores the defaults."""

from tinynlp.functional.rnn import lstm_cell

from .scripts import run_script


def test_lstm_rows_quick(capsys, monkeypatch):
    monkeypatch.setenv("TINYNLP_NUMBA_GEMM", "1")
    split, step_gemm = lstm_cell.SPLIT_PRODUCT, lstm_cell.step_gemm
    rows = run_script("lstm_rows", ["--quick"])
    assert [r[:2] for r in rows] == [(8, "inference"), (8, "train step")]
    assert all(v > 0 for r in rows for v in r[2:])
    assert (lstm_cell.SPLIT_PRODUCT, lstm_cell.step_gemm) == (split, step_gemm)
    out = capsys.readouterr().out
    assert "load average" in out and "| 8 | inference |" in out
