"""Word2Vec: kernel vs NumPy twins, sampling formulas, streaming, tiny training."""

import re

import numpy as np
import pytest

import tinynlp as tn
from tinynlp.embeddings import KeyedVectors, Word2Vec
from tinynlp.embeddings.word2vec import build_vocab_counts, keep_probabilities
from tinynlp.kernels import word2vec as K


def rand_mats(V=12, dim=7, seed=0):
    rng = np.random.default_rng(seed)
    syn0 = rng.normal(scale=0.5, size=(V, dim)).astype(np.float32)
    syn1 = rng.normal(scale=0.5, size=(V, dim)).astype(np.float32)
    return syn0, syn1


def test_sg_pair_kernel_equals_twin():
    syn0, syn1 = rand_mats()
    a0, a1 = syn0.copy(), syn1.copy()
    negs = np.array([3, 5, 4, 5, 9], dtype=np.int64)  # 4 == word is skipped, 5 twice
    l_kernel = K.sg_pair(syn0, syn1, 2, 4, negs, 0.05)
    l_ref = K.sg_pair_reference(a0, a1, 2, 4, list(negs), 0.05)
    np.testing.assert_allclose(syn0, a0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(syn1, a1, rtol=1e-5, atol=1e-6)
    assert l_kernel == pytest.approx(l_ref, rel=1e-5)
    # something changed: only the context row of syn0 and the target rows of syn1
    s0, s1 = rand_mats()
    changed0 = np.flatnonzero(np.any(syn0 != s0, axis=1))
    changed1 = np.flatnonzero(np.any(syn1 != s1, axis=1))
    assert changed0.tolist() == [2]
    assert changed1.tolist() == [3, 4, 5, 9]


def test_cbow_kernel_equals_twin():
    syn0, syn1 = rand_mats()
    a0, a1 = syn0.copy(), syn1.copy()
    ctx = np.array([1, 6, 7], dtype=np.int64)
    negs = np.array([0, 8, 11], dtype=np.int64)
    lk = K.cbow_step(syn0, syn1, ctx, 3, negs, 0.03)
    lr = K.cbow_reference(a0, a1, list(ctx), 3, list(negs), 0.03)
    np.testing.assert_allclose(syn0, a0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(syn1, a1, rtol=1e-5, atol=1e-6)
    assert lk == pytest.approx(lr, rel=1e-5)


def test_sgns_gradient_is_the_formula():
    """One pair, one noise word, v·u small: the update equals α(ℓ − σ(v·u))."""
    v = np.array([0.1, -0.2, 0.3], dtype=np.float32)
    syn1 = np.array([[0.2, 0.1, 0.0], [-0.1, 0.3, 0.2]], dtype=np.float32)
    before = syn1.copy()
    neu1e = np.zeros(3, dtype=np.float32)
    K.sgns_update_reference(v, syn1, [0, 1], 0.5, neu1e)
    sig = lambda x: 1 / (1 + np.exp(-x))
    g0 = 0.5 * (1 - sig(v @ before[0]))
    g1 = 0.5 * (0 - sig(v @ before[1]))
    # the σ table has 1000 bins over [-6, 6): error < 0.012 · α in g
    np.testing.assert_allclose(syn1[0], before[0] + g0 * v, atol=1e-2 * 0.5)
    np.testing.assert_allclose(syn1[1], before[1] + g1 * v, atol=1e-2 * 0.5)
    np.testing.assert_allclose(neu1e, g0 * before[0] + g1 * before[1], atol=1e-2)


def tiny_chunk(seed=0):
    rng = np.random.default_rng(seed)
    V = 15
    counts = rng.integers(1, 50, size=V)
    ids = rng.integers(-1, V, size=60).astype(np.int32)  # -1 = OOV
    offsets = np.array([0, 9, 20, 21, 40, 60], dtype=np.int64)
    keep = keep_probabilities(counts, 0.01)
    prob, alias = K.noise_alias_table(counts)
    return V, ids, offsets, keep, prob, alias


@pytest.mark.parametrize("sg", [1, 0])
def test_train_chunk_equals_reference(sg):
    V, ids, offsets, keep, prob, alias = tiny_chunk()
    syn0, syn1 = rand_mats(V=V, dim=5, seed=1)
    syn0 *= 0.2
    a0, a1 = syn0.copy(), syn1.copy()
    eff, loss = K.train_chunk(syn0, syn1, ids, offsets, np.array([0, 5]), keep, prob, alias,
                              3, 4, sg, 0.05, 0.01, np.array([12345]), True)
    eff_r, loss_r = K.train_chunk_reference(a0, a1, ids, offsets, keep, prob, alias, 3, 4, sg,
                                            0.05, 0.01, 12345)
    assert eff[0] == eff_r
    assert 0 < eff_r < (ids >= 0).sum()  # subsampling dropped something, kept something
    np.testing.assert_allclose(syn0, a0, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(syn1, a1, rtol=1e-4, atol=1e-5)
    assert loss[0] == pytest.approx(loss_r, rel=1e-4)


def test_alias_table_distribution():
    counts = np.array([1000, 200, 50, 5, 1, 1])
    prob, alias = K.noise_alias_table(counts)
    want = counts ** 0.75 / (counts ** 0.75).sum()
    np.testing.assert_allclose(K.noise_distribution(prob, alias), want, rtol=1e-6)


def test_keep_probability_formula():
    counts = np.array([1000, 100, 10, 1])
    t = 1e-2 * counts.sum()
    p = keep_probabilities(counts, 1e-2)
    np.testing.assert_allclose(p[0], (np.sqrt(1000 / t) + 1) * t / 1000, rtol=1e-6)
    assert p[-1] == 1.0 and np.all(np.diff(p) >= 0)
    assert np.all(keep_probabilities(counts, 0) == 1)


def test_vocab_counts_min_count_and_order():
    sents = [["a", "b", "a", "c"], ["b", "a", "d", "d"]]
    words, counts, raw = build_vocab_counts(sents, min_count=2)
    assert words == ["a", "b", "d"] and counts.tolist() == [3, 2, 2] and raw == 8
    words, _, _ = build_vocab_counts(sents * 3, min_count=1, max_vocab_size=3)
    assert len(words) <= 4 and "a" in words


def topic_corpus(n=600, seed=0):
    """Two topics: words a0..a7 only appear with each other, b0..b7 likewise."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        g = "ab"[i % 2]
        out.append([f"{g}{j}" for j in rng.integers(0, 8, size=8)])
    return out


class Reiterable:
    """Streams the corpus and counts how often it was read."""

    def __init__(self, sents):
        self.sents = sents
        self.passes = 0

    def __iter__(self):
        self.passes += 1
        for s in self.sents:
            yield list(s)


@pytest.mark.parametrize("sg", [1, 0])
def test_cooccurring_words_end_up_closer(sg):
    corpus = Reiterable(topic_corpus())
    m = Word2Vec(corpus, vector_size=16, window=3, min_count=1, sg=sg, negative=3,
                 epochs=4, seed=3, workers=1, sample=0)
    assert corpus.passes == 1 + 4  # vocabulary pass + one per epoch
    kv = m.wv
    assert isinstance(kv, KeyedVectors) and len(kv) == 16
    within = np.mean([kv.similarity(f"a{i}", f"a{j}") for i in range(8) for j in range(i)]
                     + [kv.similarity(f"b{i}", f"b{j}") for i in range(8) for j in range(i)])
    across = np.mean([kv.similarity(f"a{i}", f"b{j}") for i in range(8) for j in range(8)])
    assert within > across + 0.3, (within, across)
    top = [w for w, _ in kv.most_similar("a0", topn=5)]
    assert all(w.startswith("a") for w in top)
    assert m.train_words_per_second > 0 and m.effective_words > 0


def test_seed_reproducible_and_workers_run():
    c = topic_corpus(100)
    m1 = Word2Vec(c, vector_size=8, min_count=1, epochs=1, seed=7, workers=1)
    m2 = Word2Vec(c, vector_size=8, min_count=1, epochs=1, seed=7, workers=1)
    np.testing.assert_array_equal(m1.wv.vectors, m2.wv.vectors)
    m3 = Word2Vec(c, vector_size=8, min_count=1, epochs=1, seed=8, workers=1)
    assert not np.array_equal(m1.wv.vectors, m3.wv.vectors)
    m4 = Word2Vec(c, vector_size=8, min_count=1, epochs=1, seed=7, workers=2, sg=1)
    assert np.all(np.isfinite(m4.wv.vectors))
    tn.random.seed(5)
    g1 = Word2Vec(c, vector_size=8, min_count=1, epochs=1, workers=1).wv.vectors
    tn.random.seed(5)
    g2 = Word2Vec(c, vector_size=8, min_count=1, epochs=1, workers=1).wv.vectors
    np.testing.assert_array_equal(g1, g2)


def test_loss_decreases_and_progress(capsys):
    c = topic_corpus(300)
    m = Word2Vec(c, vector_size=8, window=3, min_count=1, sg=1, epochs=3, seed=1, workers=1,
                 compute_loss=True, sample=0)
    assert len(m.epoch_losses) == 3 and m.epoch_losses[-1] < m.epoch_losses[0]
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""  # silent unless asked
    m.train(c, epochs=2, progress=True)     # "auto": one line per epoch when piped
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split(" - ")[0] for ln in lines[:2]] == ["Word2Vec epoch 1/2",
                                                         "Word2Vec epoch 2/2"]
    assert "\r" not in "".join(lines) and "alpha: " in lines[0]
    # the rate's unit follows the speed (format_rate): per word when slow, words/s when fast
    assert re.search(r" - ([\d.]+(s|ms|us)/word|[\d,]+ words/s) - ", lines[0]), lines[0]
    assert "effective words/s" in lines[2] and len(lines) == 3
    m.train(c, epochs=1, verbose=1)         # the live bar, asked for
    out = capsys.readouterr().out
    assert "\r" in out and "Word2Vec epoch 1/1 " in out and "[======" in out


def test_bad_inputs():
    with pytest.raises(TypeError, match="one-shot iterator"):
        Word2Vec(iter([["a", "b"]]), min_count=1)
    with pytest.raises(TypeError, match="list of tokens"):
        Word2Vec(["a b c"], min_count=1)
    with pytest.raises(ValueError, match="min_count=5"):
        Word2Vec([["a", "b"]], min_count=5)
    with pytest.raises(NotImplementedError, match="hs=1"):
        Word2Vec(hs=1)
    with pytest.raises(ValueError, match="vector_size"):
        Word2Vec(vector_size=0)


def test_oov_words_in_training_corpus_are_skipped_and_save_load(tmp_path):
    c = topic_corpus(100) + [["rare", "a1", "a2"]]
    m = Word2Vec(c, vector_size=8, min_count=2, epochs=1, seed=1, workers=1)
    assert "rare" not in m.wv
    m.save(tmp_path / "w2v")
    back = Word2Vec.load(tmp_path / "w2v")
    np.testing.assert_array_equal(back.wv.vectors, m.wv.vectors)
    back.train(c, epochs=1)


def test_long_sentences_are_split_not_dropped(monkeypatch):
    m = Word2Vec(vector_size=4, min_count=1, epochs=1, seed=0, workers=2, sample=0, window=2)
    sent = [f"w{i % 5}" for i in range(23)]
    m.build_vocab([sent])
    monkeypatch.setattr(Word2Vec, "max_sentence_length", 7)
    chunks = list(m._chunks([sent]))
    assert len(chunks) == 1
    _ids, offsets, raw = chunks[0]
    assert offsets.tolist() == [0, 7, 14, 21, 23] and raw == 23
    effective, done = m.train([sent])
    assert (effective, done) == (23, 23)
