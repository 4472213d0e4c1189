"""GloVe: co-occurrence counts and AdaGrad epoch vs twins; loss decreases."""

import itertools

import numpy as np
import pytest

from tinynlp.embeddings import GloVe
from tinynlp.kernels import glove as G


def test_cooccurrence_kernel_equals_reference():
    rng = np.random.default_rng(0)
    V = 9
    sents = [rng.integers(-1, V, size=n) for n in (5, 1, 12, 0, 7)]
    ids = np.concatenate(sents).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sents])]).astype(np.int64)
    for symmetric in (True, False):
        keys, vals = G.merge_pairs(*G.cooccurrence_pairs(ids, offsets, 3, V, symmetric))
        ref = G.cooccurrence_reference(sents, 3, symmetric)
        got = {(int(k) // V, int(k) % V): v for k, v in zip(keys, vals)}
        assert got.keys() == ref.keys()
        for key in ref:
            assert got[key] == pytest.approx(ref[key])


def test_cooccurrence_by_hand():
    # sentence a b a (ids 0 1 0), window 2: (0,1)+=1 (1,0)+=1 twice... and (0,0) += 1/2 twice
    ids = np.array([0, 1, 0], dtype=np.int64)
    keys, vals = G.merge_pairs(*G.cooccurrence_pairs(ids, np.array([0, 3]), 2, 2, True))
    got = {(int(k) // 2, int(k) % 2): v for k, v in zip(keys, vals)}
    assert got == {(0, 0): 1.0, (0, 1): 2.0, (1, 0): 2.0}


def test_glove_epoch_kernel_equals_reference():
    rng = np.random.default_rng(1)
    V, dim, n = 6, 4, 20
    rows = rng.integers(0, V, n).astype(np.int32)
    cols = rng.integers(0, V, n).astype(np.int32)
    x = rng.uniform(0.5, 150, n)
    logx, fx = np.log(x), G.weighting(x, 100.0, 0.75)
    init = [rng.normal(scale=0.1, size=(V, dim)), rng.normal(scale=0.1, size=(V, dim)),
            rng.normal(scale=0.1, size=V), rng.normal(scale=0.1, size=V),
            np.ones((V, dim)), np.ones((V, dim)), np.ones(V), np.ones(V)]
    a = [p.copy() for p in init]
    b = [p.copy() for p in init]
    order = rng.permutation(n).astype(np.int64)
    ck = G.glove_epoch(*a, rows, cols, logx, fx, order, np.array([0, n]), 0.05)
    cr = G.glove_epoch_reference(*b, rows, cols, logx, fx, order, 0.05)
    assert ck == pytest.approx(cr, rel=1e-9)
    for p, q in zip(a, b):
        np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)


def test_weighting():
    np.testing.assert_allclose(G.weighting([1, 50, 100, 500], 100, 0.75),
                               [0.01 ** 0.75, 0.5 ** 0.75, 1, 1])


def test_glove_loss_decreases_and_topics_separate():
    rng = np.random.default_rng(0)
    sents = [[f"{'ab'[i % 2]}{j}" for j in rng.integers(0, 6, size=8)] for i in range(300)]
    m = GloVe(sents, vector_size=10, window=3, epochs=15, min_count=1, seed=0, workers=1,
              x_max=10)
    h = m.loss_history
    assert len(h) == 15 and h[-1] < 0.5 * h[0]
    assert all(b <= a * 1.05 for a, b in itertools.pairwise(h))
    kv = m.wv
    within = np.mean([kv.similarity(f"a{i}", f"a{j}") for i in range(6) for j in range(i)])
    across = np.mean([kv.similarity(f"a{i}", f"b{j}") for i in range(6) for j in range(6)])
    assert within > across + 0.3
    np.testing.assert_allclose(kv.vectors, (m.W + m.Wc).astype(np.float32))
    m2 = GloVe(sents, vector_size=10, window=3, epochs=2, min_count=1, seed=0, workers=2)
    assert np.all(np.isfinite(m2.wv.vectors))


def test_glove_progress_and_chunked_epochs(capsys, monkeypatch):
    """verbose="auto" in a pipe: one line per epoch; an epoch run in pieces (to move the
    bar) trains exactly as one piece with one worker."""
    rng = np.random.default_rng(1)
    sents = [[f"w{j}" for j in rng.integers(0, 30, size=10)] for _ in range(200)]
    whole = GloVe(sents, vector_size=6, window=3, epochs=2, min_count=1, seed=3, workers=1)
    assert capsys.readouterr().out == ""          # silent by default
    monkeypatch.setattr(GloVe, "CHUNK", 50)       # several pieces per epoch
    pieces = GloVe(sents, vector_size=6, window=3, epochs=2, min_count=1, seed=3, workers=1,
                   verbose="auto")
    np.testing.assert_array_equal(whole.wv.vectors, pieces.wv.vectors)
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split(" - ")[0] for ln in lines] == ["GloVe epoch 1/2", "GloVe epoch 2/2"]
    assert "cost: " in lines[0] and ("pairs/s" in lines[0] or "/pair" in lines[0])
    GloVe(sents, vector_size=6, window=3, epochs=1, min_count=1, seed=3, workers=1, verbose=1)
    out = capsys.readouterr().out
    assert out.count("\r") > 1 and "ETA: " in out and out.endswith("\n")
