"""Pretrained vectors into a model: KeyedVectors.to_matrix → Embedding(weights=..., trainable=False)."""

import numpy as np

import tinynlp as tn
from tinynlp.embeddings import KeyedVectors
from tinynlp.tasks import sentiment


def test_frozen_pretrained_embedding_starts_from_the_vectors_and_stays_frozen():
    words = ["good", "bad", "film", "plot"]
    kv = KeyedVectors(words, np.arange(4 * 3, dtype=np.float32).reshape(4, 3) + 1.0)
    vocab = tn.text.Vocab.build([["good", "film", "unseen"]], min_freq=1)
    matrix, n_oov = kv.to_matrix(vocab, oov="zeros")
    assert n_oov == 2  # "<unk>" and "unseen" are not in kv; "<pad>" is a zero row, not counted
    layer = tn.layers.Embedding(len(vocab), 3, weights=[matrix], trainable=False)
    model = tn.Sequential([layer, tn.layers.GlobalAveragePooling1D(),
                           tn.layers.Dense(1, activation="sigmoid")])
    x = np.array([[vocab["good"], vocab["film"]], [vocab["unseen"], 0]])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    model.fit(x, np.array([1, 0]), epochs=2, batch_size=2, verbose=0)
    table = layer.get_weights()[0]
    np.testing.assert_array_equal(table, matrix)
    np.testing.assert_array_equal(table[vocab["good"]], kv["good"])


def test_sentiment_glove_matrix_rows_match_glove():
    tok = tn.text.Tokenizer(num_words=50, oov_token="<unk>")
    tok.fit_on_texts(["the king and the queen", "a zzzqqq word"])
    kv = tn.embeddings.load_glove_6b_50d()
    matrix, frozen, trainable, found = sentiment.pretrained_embedding(tok, kv, normalize=False)
    assert matrix.shape == (50, 50)
    np.testing.assert_array_equal(matrix[tok.word_index["king"]], kv["king"])
    np.testing.assert_array_equal(matrix[0], 0.0)
    assert found == sum(w in kv for w in tok.word_index)  # zzzqqq and <unk> are not
    # the default set-up (sentiment.PRETRAINED_DEFAULTS): GloVe rows made unit length, the
    # other rows start like a fresh Embedding, the whole table trains
    matrix, frozen, trainable, _ = sentiment.pretrained_embedding(tok, kv)
    assert trainable and frozen is None
    king = kv["king"].astype(np.float64)
    np.testing.assert_allclose(matrix[tok.word_index["king"]], king / np.linalg.norm(king),
                               rtol=1e-6)
    assert 0 < np.abs(matrix[tok.word_index["zzzqqq"]]).max() <= 0.05
    _, frozen, trainable, _ = sentiment.pretrained_embedding(tok, kv, freeze="pretrained")
    assert trainable and frozen[tok.word_index["king"]] and not frozen[tok.word_index["zzzqqq"]]


def test_sentiment_train_with_glove_freezes_only_the_glove_rows(quick, tmp_path):
    r = sentiment.train("cnn", pretrained="glove", freeze="pretrained", out=tmp_path,
                        verbose=0, plot=False)
    assert "freeze=pretrained" in r.extra["pretrained"] and len(r.extra["val_accuracy"]) == 1
    model, _ = sentiment.load(tmp_path)                    # the saved model keeps the mask
    tok = tn.text.Tokenizer.from_config(
        tn.tasks.common.read_json(tmp_path / "tokenizer.json")["tokenizer"])
    start, frozen, _, _ = sentiment.pretrained_embedding(tok, freeze="pretrained")
    np.testing.assert_array_equal(model.embedding.frozen_rows, frozen)
    table = model.embedding.get_weights()[0]
    np.testing.assert_array_equal(table[frozen], start[frozen])      # GloVe rows unchanged
    assert np.any(table[~frozen] != start[~frozen])                 # the OOV rows trained
