"""Sequential runs an Embedding and the LSTM after it as one (``LSTM.call_on_lookup`` →
``F.lstm_lookup``), and an Embedding and a Conv1D at inference (``F.conv1d_lookup``): the
same outputs, masks, states, training steps, warnings and errors as the two layers one
after the other, and only where both layers are the plain classes (and, in training, the
LSTM has no dropout)."""

import numpy as np
import pytest

import tinynlp as tn
from tinynlp import functional as F
from tinynlp.functional import lookup
from tinynlp.layers.lookup import looks_up
from tinynlp.models import sequential
from tinynlp.workers import BlockChoice

L = tn.layers


@pytest.fixture(autouse=True)
def always_share(monkeypatch):
    """The lookup at any share of distinct ids (these small batches repeat few)."""
    monkeypatch.setattr(lookup, "MAX_DISTINCT_FRACTION", 1.0)


def _ids(rng, B=6, T=9, V=40):
    ids = rng.integers(1, V, (B, T))
    for r, n in enumerate(rng.integers(0, T, B)):     # pre-padded sentences of varied length
        ids[r, :n] = 0
    return ids


def _count_lookups(monkeypatch):
    calls = []
    real = F.lstm_lookup

    def spy(*a, **k):
        calls.append(a[0].shape)
        return real(*a, **k)
    monkeypatch.setattr(F, "lstm_lookup", spy)
    return calls


def _in_blocks(model, x):
    """``model(x)`` at inference in blocks of the batch (forced)."""
    model._block_choice = BlockChoice(force=True)
    with tn.no_grad():
        return model(x)


def _unfolded(monkeypatch, model, x, **kw):
    with monkeypatch.context() as mp:
        mp.setattr(sequential, "looks_up", lambda *a: False)
        with tn.no_grad():
            return model(x, **kw), model.compute_mask(x)


@pytest.mark.parametrize("mask_zero", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_folded_inference_equals_the_two_layers(monkeypatch, mask_zero, go_backwards,
                                                 return_sequences, dtype):
    tn.random.seed(0)
    model = tn.Sequential([L.Embedding(40, 6, mask_zero=mask_zero, dtype=dtype),
                           L.LSTM(5, go_backwards=go_backwards,
                                  return_sequences=return_sequences, dtype=dtype),
                           L.Dense(3, dtype=dtype)])
    x = _ids(np.random.default_rng(1))
    want, want_mask = _unfolded(monkeypatch, model, x)
    calls = _count_lookups(monkeypatch)
    model._block_choice = BlockChoice(force=False)
    with tn.no_grad():
        got = model(x)
        got_mask = model.compute_mask(x)
    assert calls == [x.shape]
    assert got.dtype == want.dtype == np.dtype(dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(got.data, want.data, **tol)
    if want_mask is None:
        assert got_mask is None
    else:
        np.testing.assert_array_equal(got_mask, want_mask)


def test_predict_and_blocks_of_the_batch_fold(monkeypatch, three_blocks):
    """``predict`` and inference in blocks of rows (each block on a thread) fold too."""
    tn.random.seed(2)
    model = tn.Sequential([L.Embedding(40, 6), L.LSTM(5), L.Dense(1, activation="sigmoid")])
    x = _ids(np.random.default_rng(3), B=8)
    want, _ = _unfolded(monkeypatch, model, x)
    calls = _count_lookups(monkeypatch)
    split = _in_blocks(model, x)
    np.testing.assert_allclose(split.data, want.data, rtol=1e-5, atol=1e-6)
    assert sorted(calls) == [(1, 9), (2, 9), (5, 9)]
    calls.clear()
    np.testing.assert_allclose(model.predict(x, batch_size=8, verbose=0), want.data,
                               rtol=1e-5, atol=1e-6)
    assert calls


def test_a_loaders_mask_across_an_embedding_without_mask_zero(monkeypatch):
    """A padding mask given to the model passes the Embedding to the LSTM, folded or not."""
    tn.random.seed(4)
    model = tn.Sequential([L.Embedding(40, 6), L.LSTM(5, return_sequences=True)])
    rng = np.random.default_rng(5)
    x = _ids(rng)
    mask = x != 0
    want, _ = _unfolded(monkeypatch, model, x, mask=mask)
    calls = _count_lookups(monkeypatch)
    with tn.no_grad():
        got = model(x, mask=mask)
    assert calls
    np.testing.assert_allclose(got.data, want.data, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got.data[~mask], 0)


def test_a_stateful_lstm_carries_its_state_across_folded_calls(monkeypatch):
    tn.random.seed(6)
    layers = lambda: [L.Embedding(30, 4), L.LSTM(3, stateful=True), L.Dense(2)]  # noqa: E731
    folded, plain = tn.Sequential(layers()), tn.Sequential(layers())
    rng = np.random.default_rng(7)
    chunks = [rng.integers(0, 30, (4, 5)) for _ in range(3)]
    with tn.no_grad():
        folded(chunks[0])
        plain(chunks[0])
    plain.set_weights(folded.get_weights())
    folded.reset_states()
    plain.reset_states()
    calls = _count_lookups(monkeypatch)
    for chunk in chunks:
        want, _ = _unfolded(monkeypatch, plain, chunk)
        with tn.no_grad():
            got = folded(chunk)
        np.testing.assert_allclose(got.data, want.data, rtol=1e-5, atol=1e-6)
    assert len(calls) == 3
    for a, b in zip(folded.layers[1].states, plain.layers[1].states):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _trained(monkeypatch, fold, sparse, frozen, mask_zero, steps=3):
    """Weights and losses after ``steps`` Adam steps of a small sentiment model."""
    tn.random.seed(8)
    emb = L.Embedding(40, 6, sparse=sparse, mask_zero=mask_zero,
                      frozen_rows=np.arange(0, 40, 3) if frozen else None)
    model = tn.Sequential([emb, L.LSTM(5), L.Dense(1, activation="sigmoid")])
    model.build((None, 9))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    rng = np.random.default_rng(9)
    batches = [(_ids(rng, B=8, V=20 + 10 * k), (rng.random((8, 1)) < 0.5).astype(np.float32))
               for k in range(steps)]          # other rows each step: lazy ≠ dense Adam
    with monkeypatch.context() as mp:
        if not fold:
            mp.setattr(sequential, "looks_up", lambda *a: False)
        losses = [float(model.train_on_batch(x, y)) for x, y in batches]
    return model.get_weights(), losses


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("frozen", [False, True])
@pytest.mark.parametrize("mask_zero", [False, True])
def test_training_steps_fold_and_match_the_two_layers(monkeypatch, sparse, frozen, mask_zero):
    """Three Adam steps (lazy Adam on the touched rows when sparse), folded and not: the
    same losses and weights, frozen rows unchanged."""
    calls = _count_lookups(monkeypatch)
    got, got_losses = _trained(monkeypatch, True, sparse, frozen, mask_zero)
    assert len(calls) == 3
    want, want_losses = _trained(monkeypatch, False, sparse, frozen, mask_zero)
    assert len(calls) == 3
    np.testing.assert_allclose(got_losses, want_losses, rtol=1e-5)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)
    if frozen:
        tn.random.seed(8)
        first = L.Embedding(40, 6)
        tn.Sequential([first]).build((None, 9))
        np.testing.assert_array_equal(got[0][::3], first.get_weights()[0][::3])


def test_gradients_through_the_fold(monkeypatch):
    """Grad mode on outside training (``model(x)`` then ``backward``) folds, and the
    table and kernel get the gradients of the two layers."""
    tn.random.seed(10)
    model = tn.Sequential([L.Embedding(40, 6), L.LSTM(5), L.Dense(1)])
    model.build((None, 9))
    x = _ids(np.random.default_rng(11))
    grads = []
    for fold in (True, False):
        with monkeypatch.context() as mp:
            if not fold:
                mp.setattr(sequential, "looks_up", lambda *a: False)
            calls = _count_lookups(mp)
            for w in model.trainable_weights:
                w.grad = None
            model(x).sum().backward()
            assert bool(calls) == fold
        grads.append([w.grad.copy() for w in model.trainable_weights])
    for g, w in zip(*grads):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_dropout_keeps_training_unfolded(monkeypatch):
    tn.random.seed(12)
    model = tn.Sequential([L.Embedding(40, 6), L.LSTM(5, dropout=0.5),
                           L.Dense(1, activation="sigmoid")])
    model.build((None, 9))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    x = _ids(np.random.default_rng(13))
    calls = _count_lookups(monkeypatch)
    model.train_on_batch(x, np.ones((len(x), 1), np.float32))
    assert calls == []
    with tn.no_grad():
        model(x)                                  # no dropout at inference: folds
    assert calls == [x.shape]
    emb, lstm = model.layers[:2]
    with pytest.raises(ValueError, match="without dropout"):
        lstm.call_on_lookup(emb, x, training=True)


def test_only_the_plain_layers_fold():
    emb, lstm = L.Embedding(10, 4), L.LSTM(3)
    assert not looks_up(emb, lstm)                        # not built yet
    tn.Sequential([emb, lstm]).build((None, 5))
    assert looks_up(emb, lstm)
    assert not looks_up(emb, L.GRU(3)) and not looks_up(L.Dense(3), lstm)

    class ChangedCall(L.LSTM):
        def call(self, x, training=False, mask=None, initial_state=None):
            return super().call(x * 2.0, training=training, mask=mask)

    class ChangedEmbedding(L.Embedding):
        def call(self, x, training=False):
            return super().call(x) * 2.0

    other, other_emb = ChangedCall(3), ChangedEmbedding(10, 4)
    tn.Sequential([other_emb, other]).build((None, 5))
    assert not looks_up(emb, other) and not looks_up(other_emb, lstm)


def test_a_quantized_model_does_not_fold(monkeypatch):
    tn.random.seed(10)
    model = tn.Sequential([L.Embedding(40, 6), L.LSTM(5), L.Dense(1)])
    x = _ids(np.random.default_rng(11))
    with tn.no_grad():
        model(x)
    q = tn.compress.quantize_dynamic(model)
    calls = _count_lookups(monkeypatch)
    with tn.no_grad():
        q(x)
    assert calls == []


def test_an_out_of_range_id_gets_the_embeddings_error(monkeypatch):
    tn.random.seed(12)
    model = tn.Sequential([L.Embedding(10, 4), L.LSTM(3)])
    ok = np.zeros((2, 3), np.int64)
    with tn.no_grad():
        model(ok)
    bad = np.array([[1, 10, 2], [0, 0, 0]])
    messages = []
    for fold in (True, False):
        with monkeypatch.context() as mp:
            if not fold:
                mp.setattr(sequential, "looks_up", lambda *a: False)
            with pytest.raises(ValueError) as err, tn.no_grad():
                model(bad)
        messages.append(str(err.value))
    assert messages[0] == messages[1] and "10" in messages[0]


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("merge_mode", ["concat", "sum"])
def test_a_bidirectional_lstm_folds_both_directions(monkeypatch, return_sequences, merge_mode):
    """The tagging task's model (sparse Embedding(mask_zero) → Bidirectional(LSTM) →
    TimeDistributed(Dense)) and the classifier's: outputs and two Adam steps as with the
    layers one after the other, each direction's LSTM reading the table itself."""
    def build():
        tn.random.seed(14)
        head = (L.TimeDistributed(L.Dense(3, activation="softmax")) if return_sequences
                else L.Dense(3, activation="softmax"))
        model = tn.Sequential([L.Embedding(40, 6, mask_zero=True, sparse=True),
                               L.Bidirectional(L.LSTM(4, return_sequences=return_sequences),
                                               merge_mode=merge_mode), head])
        model.build((None, 9))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    rng = np.random.default_rng(15)
    batches = [_ids(rng, V=20 + 10 * k) for k in range(2)]
    ys = [rng.integers(0, 3, (6, 9) if return_sequences else (6,)) for _ in batches]
    runs = []
    for fold in (True, False):
        model = build()
        with monkeypatch.context() as mp:
            if not fold:
                mp.setattr(sequential, "looks_up", lambda *a: False)
            calls = _count_lookups(mp)
            with tn.no_grad():
                out = model(batches[0]).data
            losses = [float(model.train_on_batch(x, y)) for x, y in zip(batches, ys)]
            assert len(calls) == (6 if fold else 0)          # 2 directions × 3 forwards
        runs.append((out, losses, model.get_weights()))
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(runs[0][1], runs[1][1], rtol=1e-5)
    for g, w in zip(runs[0][2], runs[1][2]):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)


def test_a_bidirectional_gru_or_dropout_does_not_fold():
    emb = L.Embedding(10, 4)
    gru, drop = L.Bidirectional(L.GRU(3)), L.Bidirectional(L.LSTM(3, dropout=0.2))
    for layer in (gru, drop):
        tn.Sequential([emb, layer]).build((None, 5))
    assert not looks_up(emb, gru)
    assert looks_up(emb, drop) and not looks_up(emb, drop, training=True)


# ---- Conv1D after an Embedding (inference only) ---------------------------------------

def _text_cnn(mask_zero=False):
    tn.random.seed(16)
    model = tn.Sequential([L.Embedding(40, 6, mask_zero=mask_zero),
                           L.Conv1D(5, 3, activation="relu", padding="same"),
                           L.GlobalMaxPooling1D(), L.Dense(1, activation="sigmoid")])
    model.build((None, 9))
    return model


def _count_conv_lookups(monkeypatch):
    calls = []
    real = F.conv1d_lookup

    def spy(*a, **k):
        calls.append(np.shape(a[0]))
        return real(*a, **k)
    monkeypatch.setattr(F, "conv1d_lookup", spy)
    monkeypatch.setattr(lookup, "MAX_DISTINCT_FRACTION", 1.0)
    return calls


def test_a_text_cnn_folds_at_inference(monkeypatch, three_blocks):
    model = _text_cnn()
    x = _ids(np.random.default_rng(17), B=8)
    want, _ = _unfolded(monkeypatch, model, x)
    calls = _count_conv_lookups(monkeypatch)
    model._block_choice = BlockChoice(force=False)
    with tn.no_grad():
        whole = model(x)
    split = _in_blocks(model, x)
    assert calls[0] == x.shape and sorted(calls[1:]) == [(1, 9), (2, 9), (5, 9)]
    for got in (whole, split):
        np.testing.assert_allclose(got.data, want.data, rtol=1e-5, atol=1e-6)


def test_a_text_cnn_trains_unfolded(monkeypatch):
    """The lookup has no backward: training and grad mode keep the two layers."""
    model = _text_cnn()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    x = _ids(np.random.default_rng(18))
    calls = _count_conv_lookups(monkeypatch)
    model.train_on_batch(x, np.ones((len(x), 1), np.float32))
    model(x).sum().backward()
    assert calls == []
    assert not looks_up(model.layers[0], model.layers[1], training=True)


def test_a_mask_stopped_by_conv1d_still_warns(monkeypatch):
    """Embedding(mask_zero) then Conv1D: Keras' warning that the mask stops there, folded
    or not, and the same outputs."""
    model = _text_cnn(mask_zero=True)
    x = _ids(np.random.default_rng(19))
    with pytest.warns(UserWarning, match="does not support masking"):
        want, _ = _unfolded(monkeypatch, model, x)
    calls = _count_conv_lookups(monkeypatch)
    with pytest.warns(UserWarning, match="does not support masking"), tn.no_grad():
        got = model(x)
    assert calls == [x.shape]
    np.testing.assert_allclose(got.data, want.data, rtol=1e-5, atol=1e-6)
