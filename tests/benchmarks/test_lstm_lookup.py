"""benchmarks/lstm_lookup.py runs (on the real batches' stand-in and on ids of a chosen share
of distinct ones), checks the two ways agree, and restores the fold and its rule."""

import importlib.util
import os

from tinynlp.functional.rnn import embedding_lstm
from tinynlp.models import sequential

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_lstm_lookup_quick(capsys):
    spec = importlib.util.spec_from_file_location(
        "lstm_lookup", os.path.join(ROOT, "benchmarks", "lstm_lookup.py"))
    mod = importlib.util.module_from_spec(spec)
    folds, limit = sequential.looks_up, embedding_lstm.MAX_DISTINCT_FRACTION
    try:
        spec.loader.exec_module(mod)
        rows = mod.main(["--quick"])
        assert mod.main(["--quick", "--distinct", "0.9", "--forced"])
    finally:
        import tinynlp as tn
        tn.set_num_threads(None)
    assert [r[:3] for r in rows] == [(16, False, "train step"), (16, False, "inference"),
                                     (16, True, "train step"), (16, True, "inference")]
    assert all(v > 0 for r in rows for v in r[3:])
    assert sequential.looks_up is folds and embedding_lstm.MAX_DISTINCT_FRACTION == limit
    out = capsys.readouterr().out
    assert "load average" in out and "| 16 | 0.22 | sparse | inference |" in out
