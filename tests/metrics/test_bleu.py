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


# ------------------------------------------------------------------ against sacreBLEU
def _sacre(hyps, refs_per_sentence):
    """sacreBLEU on already tokenized text: tokens joined by spaces, tokenize="none"
    (split on spaces only), no smoothing (as corpus_bleu), returned in [0, 1]."""
    sacrebleu = pytest.importorskip("sacrebleu")
    n_refs = max(len(r) for r in refs_per_sentence)
    streams = [[" ".join(r[k]) if k < len(r) else None for r in refs_per_sentence]
               for k in range(n_refs)]
    bleu = sacrebleu.BLEU(tokenize="none", smooth_method="none", force=True)
    score = bleu.corpus_score([" ".join(h) for h in hyps], streams)
    return score.score / 100, [p / 100 for p in score.precisions], score.bp


def _perturb(tokens, rng):
    """A plausible system output: some words dropped, replaced or swapped."""
    out = [t for t in tokens if rng.random() > 0.15]
    for i in range(len(out)):
        if rng.random() < 0.1:
            out[i] = "the"
    if len(out) > 3 and rng.random() < 0.5:
        i = int(rng.integers(len(out) - 1))
        out[i], out[i + 1] = out[i + 1], out[i]
    return out or tokens[:1]


def test_corpus_bleu_equals_sacrebleu_on_the_translation_task_tokens():
    """The task's own tokenization of real test verses, a perturbed copy as the system
    output: corpus_bleu and sacreBLEU (on the same tokens) agree to rounding, and so do
    the n-gram precisions and the brevity penalty."""
    import numpy as np

    from tinynlp.data.datasets import load_translation_pairs
    from tinynlp.tasks.translation import tokenize

    pytest.importorskip("sacrebleu")
    _, (_, english) = load_translation_pairs()
    refs = [tokenize(t) for t in english[:300]]
    rng = np.random.default_rng(0)
    hyps = [_perturb(r, rng) for r in refs]
    ours = corpus_bleu([[r] for r in refs], hyps)
    theirs, precisions, bp = _sacre(hyps, [[r] for r in refs])
    assert 0.2 < ours < 0.9  # a score with every n-gram order and the brevity penalty in play
    assert bp < 1.0
    assert ours == pytest.approx(theirs, abs=1e-12)
    assert ours.precisions == pytest.approx(precisions, abs=1e-12)
    assert ours.brevity_penalty == pytest.approx(bp, abs=1e-12)


def test_corpus_bleu_equals_sacrebleu_with_several_references():
    """Clipping against the reference with the most of an n-gram, and the effective
    reference length (closest, ties to the shorter), on random small-vocabulary text
    where repeats and length ties are common."""
    import numpy as np

    pytest.importorskip("sacrebleu")
    rng = np.random.default_rng(1)
    words = "a b c d e f".split()

    def sentence(n):
        return [words[i] for i in rng.integers(0, len(words), n)]

    for _ in range(20):
        refs = [[sentence(int(rng.integers(6, 14))) for _ in range(int(rng.integers(1, 4)))]
                for _ in range(30)]
        hyps = [sentence(int(rng.integers(5, 15))) for _ in range(30)]
        ours = corpus_bleu(refs, hyps)
        theirs, precisions, bp = _sacre(hyps, refs)
        assert ours == pytest.approx(theirs, abs=1e-12)
        assert ours.precisions == pytest.approx(precisions, abs=1e-12)
        assert ours.brevity_penalty == pytest.approx(bp, abs=1e-12)
