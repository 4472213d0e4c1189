"""Embedding.from_pretrained: scale / normalise, OOV rows, freezing only the pretrained rows."""

import numpy as np
import pytest

import tinynlp as tn
from tests.layers._util import config_round_trip
from tinynlp.embeddings import KeyedVectors
from tinynlp.layers.embedding_init import lookup_rows, normalize_rows, prepare_pretrained

L = tn.layers
WORDS = ["good", "bad", "film", "plot"]


@pytest.fixture
def kv():
    rng = np.random.default_rng(0)
    return KeyedVectors(WORDS, rng.normal(0.0, 0.7, (4, 6)).astype(np.float32))


VOCAB = ["<pad>", "<unk>", "good", "Film", "unseen", "bad", "rare"]   # ids 0..6
FOUND = np.array([False, False, True, True, False, True, False])      # "Film" via lower case


def test_lookup_rows_marks_found_rows_and_keeps_pad_zero(kv):
    m, found = lookup_rows(kv, VOCAB)
    np.testing.assert_array_equal(found, FOUND)
    np.testing.assert_array_equal(m[3], kv["film"])
    np.testing.assert_array_equal(m[~found], 0.0)
    tok = tn.text.Tokenizer(num_words=5, oov_token="<unk>")
    tok.fit_on_texts(["good good good film film unseen", "bad"])
    itos_m, itos_found = lookup_rows(kv, tok)                 # ids below num_words only
    assert itos_m.shape == (5, 6)
    assert [i for i in range(5) if itos_found[i]] == [tok.word_index[w] for w in ("good", "film")]


def test_scale_and_normalize_are_exact(kv):
    m, found = lookup_rows(kv, VOCAB)
    scaled = prepare_pretrained(m, found, scale=0.1, pad_index=0, dtype=np.float64)
    np.testing.assert_allclose(scaled[found], 0.1 * m[found].astype(np.float64), rtol=1e-15)
    unit = prepare_pretrained(m, found, normalize=True, scale=0.5, pad_index=0, dtype=np.float64)
    np.testing.assert_allclose(np.linalg.norm(unit[found], axis=1), 0.5, rtol=1e-14)
    np.testing.assert_allclose(unit[found], 0.5 * normalize_rows(m[found].astype(np.float64)),
                               rtol=1e-14)
    np.testing.assert_array_equal(unit[0], 0.0)                    # the padding row
    tn.random.seed(0)
    matched = prepare_pretrained(m, found, scale="init", pad_index=0, dtype=np.float64)
    uniform_std = 0.1 / np.sqrt(12)                              # U(-0.05, 0.05)
    assert matched[found].std() == pytest.approx(uniform_std, rel=0.05)
    ratio = matched[found] / m[found].astype(np.float64)
    np.testing.assert_allclose(ratio, ratio[0, 0], rtol=1e-12)   # one factor for all rows


@pytest.mark.parametrize("oov_init", ["init", "zeros", "mean", "like_pretrained", "normal"])
def test_oov_rows(kv, oov_init):
    m, found = lookup_rows(kv, VOCAB)
    oov = ~found
    oov[0] = False
    tn.random.seed(1)
    out = prepare_pretrained(np.repeat(m, 50, axis=0), np.repeat(found, 50),
                             oov_init=oov_init, dtype=np.float64)[np.arange(7) * 50]
    big = prepare_pretrained(np.repeat(m, 200, axis=0), np.repeat(found, 200),
                             oov_init=oov_init, dtype=np.float64)
    rows = big[np.repeat(oov, 200)]
    pre = m[found].astype(np.float64)
    if oov_init == "init":        # the layer's initializer: U(-0.05, 0.05)
        assert np.abs(rows).max() <= 0.05 and rows.std() == pytest.approx(0.0289, rel=0.1)
    elif oov_init == "zeros":
        np.testing.assert_array_equal(rows, 0.0)
    elif oov_init == "mean":
        np.testing.assert_allclose(rows, np.broadcast_to(pre.mean(0), rows.shape), rtol=1e-12)
    elif oov_init == "like_pretrained":
        assert rows.std() == pytest.approx(pre.std(), rel=0.1)
    else:                         # any initializer by name: N(0, 0.05²)
        assert rows.std() == pytest.approx(0.05, rel=0.1)
    np.testing.assert_array_equal(out[found], pre)               # pretrained rows untouched


def test_from_pretrained_matrix_like_pytorch():
    matrix = np.arange(12, dtype=np.float32).reshape(4, 3)
    frozen = L.Embedding.from_pretrained(matrix)                 # freeze=True by default
    assert not frozen.trainable
    np.testing.assert_array_equal(frozen(np.array([[3, 1]])).data[0], matrix[[3, 1]])
    free = L.Embedding.from_pretrained(matrix, freeze=False, scale=2.0)
    assert free.trainable and free.frozen_rows is None
    free.build()
    np.testing.assert_array_equal(free.embeddings.data, 2 * matrix)
    part = L.Embedding.from_pretrained(matrix, freeze="pretrained", pretrained_rows=[0, 2],
                                       oov_init="zeros")
    np.testing.assert_array_equal(part.frozen_rows, [True, False, True, False])
    part.build()
    np.testing.assert_array_equal(part.embeddings.data[[1, 3]], 0.0)


def test_from_pretrained_vectors_and_vocab(kv):
    layer = L.Embedding.from_pretrained(kv, VOCAB, freeze="pretrained", scale=0.1,
                                        mask_zero=True, name="emb")
    assert layer.input_dim == 7 and layer.output_dim == 6 and layer.mask_zero
    np.testing.assert_array_equal(layer.frozen_rows, FOUND | (np.arange(7) == 0))
    out = layer(np.array([[2, 3, 0]])).data[0]
    np.testing.assert_allclose(out[0], np.float32(0.1) * kv["good"], rtol=1e-6)
    np.testing.assert_allclose(out[1], np.float32(0.1) * kv["film"], rtol=1e-6)
    np.testing.assert_array_equal(out[2], 0.0)
    vocab = tn.text.Vocab(VOCAB)
    same = L.Embedding.from_pretrained(kv, vocab, freeze="pretrained", scale=0.1)
    np.testing.assert_array_equal(same.frozen_rows, layer.frozen_rows)
    wider = L.Embedding.from_pretrained(kv, VOCAB, input_dim=9)
    assert wider.input_dim == 9


def _fit_steps(layer, optimizer, steps=3):
    model = tn.Sequential([layer, L.GlobalAveragePooling1D(), L.Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizer, loss="binary_crossentropy")
    x = np.array([[2, 3, 1, 4], [5, 6, 0, 0], [1, 2, 5, 0], [4, 6, 3, 2]])
    y = np.array([1, 0, 1, 0], dtype=np.float32)
    model.predict(x[:1])
    before = layer.get_weights()[0].copy()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return before, layer.get_weights()[0]


OPTIMIZERS = [
    lambda: tn.optimizers.Adam(0.01),
    lambda: tn.optimizers.SGD(0.5, momentum=0.9),
    lambda: tn.optimizers.RMSprop(0.01),
    lambda: tn.optimizers.Adagrad(0.1),
]


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("make_opt", OPTIMIZERS)
def test_frozen_pretrained_rows_stay_while_oov_rows_train(kv, sparse, make_opt):
    layer = L.Embedding.from_pretrained(kv, VOCAB, freeze="pretrained", scale=0.1,
                                        sparse=sparse)
    before, after = _fit_steps(layer, make_opt())
    frozen = layer.frozen_rows
    np.testing.assert_array_equal(after[frozen], before[frozen])     # bit for bit
    assert np.all(np.any(after[~frozen] != before[~frozen], axis=1))  # every OOV row moved


def test_lazy_sparse_updates_keep_frozen_rows_even_with_weight_decay(kv):
    layer = L.Embedding.from_pretrained(kv, VOCAB, freeze="pretrained", sparse=True)
    before, after = _fit_steps(layer, tn.optimizers.AdamW(0.01, weight_decay=0.1))
    frozen = layer.frozen_rows
    np.testing.assert_array_equal(after[frozen], before[frozen])
    # dense updates decay every row, frozen or not (as the Embedding docstring says)
    dense = L.Embedding.from_pretrained(kv, VOCAB, freeze="pretrained")
    before, after = _fit_steps(dense, tn.optimizers.AdamW(0.01, weight_decay=0.1))
    found = dense.frozen_rows & np.any(before != 0, axis=1)
    assert np.all(after[found] != before[found])


def test_freeze_all_and_none(kv):
    frozen = L.Embedding.from_pretrained(kv, VOCAB, freeze="all")
    before, after = _fit_steps(frozen, tn.optimizers.Adam(0.01))
    np.testing.assert_array_equal(after, before)
    free = L.Embedding.from_pretrained(kv, VOCAB, freeze="none")
    before, after = _fit_steps(free, tn.optimizers.Adam(0.01))
    assert np.any(after[2] != before[2])                               # a GloVe row trains


def test_frozen_rows_survive_config_and_model_save(kv, tmp_path):
    layer = L.Embedding.from_pretrained(kv, VOCAB, freeze="pretrained")
    clone = config_round_trip(layer)
    np.testing.assert_array_equal(clone.frozen_rows, layer.frozen_rows)
    model = tn.Sequential([layer, L.GlobalAveragePooling1D(), L.Dense(1)])
    model.predict(np.array([[1, 2]]))
    model.save(tmp_path / "m.tnz")
    back = tn.models.load_model(tmp_path / "m.tnz")
    np.testing.assert_array_equal(back.layers[0].frozen_rows, layer.frozen_rows)
    np.testing.assert_array_equal(back.layers[0].get_weights()[0], layer.get_weights()[0])
    assert "frozen_rows" not in L.Embedding(5, 2).get_config()        # Keras-shaped by default


def test_frozen_rows_can_be_changed_later(kv):
    layer = L.Embedding.from_pretrained(kv, VOCAB, freeze="pretrained")
    layer.frozen_rows = None                                           # unfreeze everything
    before, after = _fit_steps(layer, tn.optimizers.Adam(0.01))
    assert np.any(after[2] != before[2])


def test_gensim_keyed_vectors_work_too():
    gensim_models = pytest.importorskip("gensim.models")
    g = gensim_models.KeyedVectors(3)
    g.add_vectors(["good", "bad"], np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32))
    layer = L.Embedding.from_pretrained(g, ["<pad>", "good", "bad", "meh"], scale=0.5)
    layer.build()
    np.testing.assert_array_equal(layer.embeddings.data[1:3], [[0.5, 1, 1.5], [2, 2.5, 3]])


def test_bad_arguments_are_named(kv):
    with pytest.raises(ValueError, match="freeze must be"):
        L.Embedding.from_pretrained(kv, VOCAB, freeze="some")
    with pytest.raises(ValueError, match="word vectors need a vocab"):
        L.Embedding.from_pretrained(kv)
    with pytest.raises(ValueError, match="vocab is only for word vectors"):
        L.Embedding.from_pretrained(np.zeros((3, 2)), VOCAB)
    with pytest.raises(ValueError, match="scale must be"):
        L.Embedding.from_pretrained(kv, VOCAB, scale=-1.0)
    with pytest.raises(ValueError, match="scale must be"):
        L.Embedding.from_pretrained(kv, VOCAB, scale="big")
    with pytest.raises(ValueError, match="oov_init must be one of"):
        L.Embedding.from_pretrained(kv, VOCAB, oov_init="gaussian")
    with pytest.raises(ValueError, match=r"pretrained_rows .*shape \(3,\)"):
        L.Embedding.from_pretrained(np.zeros((3, 2)), pretrained_rows=np.ones(2, bool))
    with pytest.raises(ValueError, match="input_dim=3 is smaller than the 7 rows"):
        L.Embedding.from_pretrained(kv, VOCAB, input_dim=3)
    with pytest.raises(ValueError, match=r"frozen_rows .*shape \(5,\)"):
        L.Embedding(5, 2, frozen_rows=np.ones(3, bool))
