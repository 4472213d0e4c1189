"""Corpus BLEU against cases computed by hand."""

import math

import pytest

from tinynlp.metrics.bleu import corpus_bleu, sentence_bleu


def test_identical_sentence_scores_one():
    s = "the cat sat on the mat".split()
    assert corpus_bleu([[s]], [s]) == pytest.approx(1.0)


def test_papineni_clipping_example():
    # "the the the the the the the" vs two references: unigram precision 2/7
    cand = "the the the the the the the".split()
    refs = ["the cat is on the mat".split(), "there is a cat on the mat".split()]
    score = corpus_bleu([refs], [cand], max_n=1)
    assert score.precisions[0] == pytest.approx(2 / 7)
    # c = 7 > closest reference length 7? lengths 6 and 7: closest to 7 is 7 -> BP = 1
    assert score.brevity_penalty == pytest.approx(1.0)
    assert float(score) == pytest.approx(2 / 7)


def test_hand_computed_bigram_bleu_with_brevity_penalty():
    ref = "a b c d e f".split()
    cand = "a b c x".split()
    # unigrams: a b c match (3/4); bigrams: ab bc match of ab bc cx (2/3)
    s = corpus_bleu([[ref]], [cand], max_n=2)
    assert s.precisions == pytest.approx([3 / 4, 2 / 3])
    bp = math.exp(1 - 6 / 4)
    assert float(s) == pytest.approx(bp * math.sqrt(3 / 4 * 2 / 3))


def test_corpus_level_sums_counts_before_dividing():
    refs = [["a b".split()], ["c d e f".split()]]
    cands = ["a b".split(), "c d e g".split()]
    s = corpus_bleu(refs, cands, max_n=2)
    # unigrams: 2/2 + 3/4 -> 5/6; bigrams: 1/1 + 2/3 -> 3/4
    assert s.precisions == pytest.approx([5 / 6, 3 / 4])
    assert s.brevity_penalty == 1.0  # c = r = 6
    assert float(s) == pytest.approx(math.sqrt(5 / 6 * 3 / 4))


def test_zero_when_a_precision_is_zero_unless_smoothed():
    ref = "one two three four".split()
    cand = "one two four three".split()  # no matching 4-gram or 3-gram
    assert corpus_bleu([[ref]], [cand]) == 0.0
    assert sentence_bleu([ref], cand) > 0.0


def test_errors():
    with pytest.raises(ValueError, match="one reference set per candidate"):
        corpus_bleu([[["a"]]], [["a"], ["b"]])
    with pytest.raises(TypeError, match="list of tokens"):
        corpus_bleu([["a b"]], ["a b"])
