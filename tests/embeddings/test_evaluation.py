"""Spearman / Pearson, analogy and similarity evaluation."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinynlp.embeddings import (
    KeyedVectors,
    evaluate_analogies,
    evaluate_similarity,
    pearson,
    rankdata,
    spearman,
)
from tinynlp.embeddings.evaluation import correlation_pvalue


def test_rankdata_average_ties_by_hand():
    np.testing.assert_array_equal(rankdata([10, 20, 20, 5]), [2, 3.5, 3.5, 1])
    np.testing.assert_array_equal(rankdata([1, 1, 1]), [2, 2, 2])


def test_spearman_by_hand():
    # x ranks 1..5, y ranks 1,3,2,5,4 -> d = 0,-1,1,-1,1 -> rho = 1 - 6*4/(5*24) = 0.8
    assert spearman([1, 2, 3, 4, 5], [10, 30, 20, 50, 40]) == pytest.approx(0.8)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # ties: x ranks [1, 2.5, 2.5, 4], y ranks [1, 2, 3, 4]
    # pearson of those: cov = sum((rx-2.5)(ry-2.5)) = 2.25+0+0+2.25=4.5 ; var_x=4.5, var_y=5
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / np.sqrt(4.5 * 5))
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))


@given(st.lists(st.tuples(st.integers(-5, 5), st.floats(-10, 10, allow_nan=False)),
                min_size=3, max_size=40))
def test_spearman_and_pvalue_match_scipy(pairs):
    stats = pytest.importorskip("scipy.stats")
    x = [p[0] for p in pairs]
    y = [p[1] for p in pairs]
    ours = spearman(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = stats.spearmanr(x, y)
    if np.isnan(ref.statistic):
        assert np.isnan(ours)
        return
    assert ours == pytest.approx(ref.statistic, abs=1e-9)
    if abs(ours) < 0.999999:
        assert correlation_pvalue(ours, len(x)) == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-12)


def test_pearson_matches_numpy():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=50), rng.normal(size=50)
    assert pearson(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1])


def toy_kv():
    keys = ["man", "woman", "king", "queen", "boy", "girl", "apple"]
    vecs = np.array([
        [1, 0, 0, 0], [1, 1, 0, 0], [1, 0, 1, 0], [1, 1, 1, 0],
        [1, 0, 0, 1], [1, 1, 0, 1], [0, 0, 0, -1],
    ], dtype=np.float32)
    return KeyedVectors(keys, vecs)


def test_evaluate_analogies_counts(tmp_path):
    p = tmp_path / "q.txt"
    p.write_text(": royal\nman woman king queen\nMAN WOMAN BOY GIRL\nman king woman apple\n"
                 ": oov\nman woman dog cat\n", encoding="utf-8")
    r = evaluate_analogies(toy_kv(), p)
    assert (r.correct, r.incorrect, r.oov, r.total) == (2, 1, 1, 4)
    assert r.accuracy == pytest.approx(2 / 3)
    assert [s["section"] for s in r.sections] == ["royal", "Total accuracy"]
    acc, sections = r  # gensim's return shape
    assert acc == r.accuracy and len(sections[-1]["correct"]) == 2
    # restrict_vocab: only the first 4 words are candidates / known
    r4 = evaluate_analogies(toy_kv(), p, restrict_vocab=4)
    assert (r4.correct, r4.oov) == (1, 3)
    assert toy_kv().evaluate_word_analogies(p)[0] == pytest.approx(2 / 3)


def test_evaluate_similarity(tmp_path):
    p = tmp_path / "pairs.tsv"
    p.write_text("# comment\nman\tboy\t9\nman\tapple\t1\nking\tqueen\t7\nman\tdog\t5\n",
                 encoding="utf-8")
    kv = toy_kv()
    r = evaluate_similarity(kv, str(p))
    assert (r.pairs, r.oov, r.total) == (3, 1, 4)
    cos = [kv.similarity("man", "boy"), kv.similarity("man", "apple"),
           kv.similarity("king", "queen")]
    assert r.spearman == pytest.approx(spearman([9, 1, 7], cos))
    (pr, _), (rho, _), oov_pct = kv.evaluate_word_pairs(str(p))
    assert rho == pytest.approx(r.spearman) and oov_pct == pytest.approx(25.0)
    assert pr == pytest.approx(pearson([9, 1, 7], cos), abs=1e-6)


def test_bundled_datasets_parse():
    kv = toy_kv()
    for name, n in (("wordsim353", 353), ("simlex999", 999)):
        r = evaluate_similarity(kv, name)
        assert r.total == n
    r = evaluate_analogies(kv)
    assert r.total == 19544 and r.answered + r.oov == 19544
    # the 'family' section has man/woman/king/queen/boy/girl questions
    assert r.answered == 6 and r.sections[0]["section"] == "family"
