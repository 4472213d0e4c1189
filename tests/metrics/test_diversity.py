import pytest

from tinynlp.metrics import distinct_n


def test_distinct_n_counts_over_all_outputs():
    outs = [["i", "do", "not", "know"], ["i", "do", "not", "know"], ["yes"]]
    assert distinct_n(outs, 1) == pytest.approx(5 / 9)
    assert distinct_n(outs, 2) == pytest.approx(3 / 6)
    assert distinct_n([["a", "b"], ["c"]], 3) == 0.0          # no trigram at all
    assert distinct_n([["a", "b", "c"], ["d", "e"]], 2) == 1.0


def test_distinct_n_errors():
    with pytest.raises(ValueError, match="n must"):
        distinct_n([["a"]], 0)
    with pytest.raises(TypeError, match="token lists"):
        distinct_n(["a text"], 1)
