"""Weights are interchangeable with Keras: copy ``keras_layer.get_weights()`` into the tinynlp
layer and the outputs agree (float32), masks and go_backwards included.

Runs when Keras 3 is importable with the PyTorch backend (``KERAS_BACKEND=torch`` is set here
if no backend was chosen); skipped otherwise.
"""

import os

import numpy as np
import pytest

import tinynlp as tn

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # pragma: no cover - another backend was chosen
    pytest.skip("Keras interop tests use the torch backend", allow_module_level=True)

pytestmark = pytest.mark.slow   # importing Keras takes a few seconds
L = tn.layers
K = keras.layers


def np_(t):
    return keras.ops.convert_to_numpy(t)


def same(ours, keras_layer, x, rtol=1e-5, atol=1e-6, **call):
    """Build both on x, copy Keras' weights into ours, compare outputs."""
    theirs = keras_layer(x, **call)
    ours(x, **call)
    ours.set_weights(keras_layer.get_weights())
    mine = ours(x, **call)
    if isinstance(mine, list):
        for a, b in zip(mine, theirs):
            np.testing.assert_allclose(a.data, np_(b), rtol=rtol, atol=atol)
    else:
        np.testing.assert_allclose(mine.data, np_(theirs), rtol=rtol, atol=atol)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in keras_layer.get_weights()]


def seq(b=3, t=6, d=4, seed=0):
    return np.random.default_rng(seed).standard_normal((b, t, d)).astype(np.float32)


def test_dense_conv_pool_norm_embedding():
    x = seq()
    same(L.Dense(5, activation="tanh"), K.Dense(5, activation="tanh"), x)
    same(L.Conv1D(3, 3, activation="relu"), K.Conv1D(3, 3, activation="relu"), x)
    same(L.Conv1D(3, 2, padding="causal", dilation_rate=2),
         K.Conv1D(3, 2, padding="causal", dilation_rate=2), x)
    same(L.Conv1D(3, 3, strides=2, padding="same"), K.Conv1D(3, 3, strides=2, padding="same"), x)
    same(L.LayerNormalization(), K.LayerNormalization(), x)
    ids = np.array([[1, 5, 2, 0], [3, 0, 0, 0]])
    same(L.Embedding(6, 3), K.Embedding(6, 3), ids)
    for ours, theirs in ((L.MaxPooling1D(2), K.MaxPooling1D(2)),
                         # (Keras' torch backend differs from TensorFlow for an odd
                         # total 'same' padding such as pool 3 / stride 2 on 6 steps; ours
                         # follows TensorFlow, so compare a symmetric case)
                         (L.AveragePooling1D(3, strides=1, padding="same"),
                          K.AveragePooling1D(3, strides=1, padding="same")),
                         (L.GlobalMaxPooling1D(), K.GlobalMaxPooling1D())):
        np.testing.assert_allclose(ours(x).data, np_(theirs(x)), rtol=1e-6)
    mask = np.array([[1, 1, 1, 0, 0, 0], [1] * 6, [1, 0, 0, 0, 0, 0]], dtype=bool)
    np.testing.assert_allclose(L.GlobalAveragePooling1D()(x, mask=mask).data,
                               np_(K.GlobalAveragePooling1D()(x, mask=mask)), rtol=1e-6)


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("kw", [
    {}, {"return_sequences": True}, {"return_sequences": True, "go_backwards": True},
    {"return_state": True, "go_backwards": True},
])
def test_recurrent_layers_match_keras(name, kw):
    same(getattr(L, name)(5, **kw), getattr(K, name)(5, **kw), seq(seed=1))


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("padding", ["post", "pre"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_masked_final_state_matches_keras(name, padding, go_backwards):
    x = seq(seed=2)
    mask = np.zeros((3, 6), dtype=bool)
    for i, n in enumerate([6, 4, 2]):
        mask[i, :n] = True
    if padding == "pre":
        mask = mask[:, ::-1].copy()
    same(getattr(L, name)(4, go_backwards=go_backwards),
         getattr(K, name)(4, go_backwards=go_backwards), x, mask=mask)


@pytest.mark.parametrize("mode", ["concat", "sum", "ave", "mul"])
def test_bidirectional_matches_keras(mode):
    x = seq(seed=3)
    same(L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode=mode),
         K.Bidirectional(K.LSTM(3, return_sequences=True), merge_mode=mode), x)


@pytest.mark.parametrize("padding", ["post", "pre"])
def test_masked_bidirectional_matches_keras(padding):
    x = seq(seed=4)
    mask = np.array([[1] * 6, [1, 1, 1, 1, 0, 0], [1, 0, 0, 0, 0, 0]], dtype=bool)
    if padding == "pre":
        mask = mask[:, ::-1].copy()
    same(L.Bidirectional(L.GRU(3)), K.Bidirectional(K.GRU(3)), x, mask=mask)
    ours = L.Bidirectional(L.GRU(3, return_sequences=True))
    theirs = K.Bidirectional(K.GRU(3, return_sequences=True))
    ref = np_(theirs(x, mask=mask))
    ours(x)
    ours.set_weights(theirs.get_weights())
    out = ours(x, mask=mask).data
    np.testing.assert_allclose(out[mask], ref[mask], rtol=1e-5, atol=1e-6)


def test_seed_models_parameter_counts_match_keras():
    ours = [L.SimpleRNN(128, activation="relu"), L.Dense(1, activation="sigmoid")]
    theirs = keras.Sequential([keras.Input((1, 10)), K.SimpleRNN(128, activation="relu"),
                               K.Dense(1, activation="sigmoid")])
    x = seq(2, 1, 10)
    for layer in ours:
        x = layer(x)
    assert sum(layer.count_params() for layer in ours) == theirs.count_params() == 17921
