"""benchmarks/lstm_lookup.py runs (on the real batches' stand-in and on ids of a chosen share
of distinct ones), checks the two ways agree, and restores the fold and its rule."""

from tinynlp.functional import lookup
from tinynlp.models import sequential

from .scripts import run_script


def test_lstm_lookup_quick(capsys):
    folds, limit = sequential.looks_up, lookup.MAX_DISTINCT_FRACTION
    rows = run_script("lstm_lookup", ["--quick"])
    assert run_script("lstm_lookup", ["--quick", "--distinct", "0.9", "--forced"])
    assert [r[:3] for r in rows] == [(16, False, "train step"), (16, False, "inference"),
                                     (16, True, "train step"), (16, True, "inference")]
    assert all(v > 0 for r in rows for v in r[3:])
    assert sequential.looks_up is folds and lookup.MAX_DISTINCT_FRACTION == limit
    out = capsys.readouterr().out
    assert "load average" in out and "| 16 | 0.22 | sparse | inference |" in out
