"""Keras 3 parity (torch backend, weights copied with get_weights / set_weights) for the
pieces of tests/layers/test_keras_pieces.py: Masking, BatchNormalization (training,
moving statistics, inference, masks), stateful RNNs over chunks, recurrent_dropout with
the same dropout masks, the new initializers' distributions, and Keras' warning when a
mask reaches Conv1D."""

import os
import warnings

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


def seq(b=3, t=6, d=4, seed=0):
    return np.random.default_rng(seed).standard_normal((b, t, d)).astype(np.float32)


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_masking_then_rnn_matches_keras(name):
    x = seq(seed=1)
    x[0, 4:] = 0.0
    x[2, :3] = 0.0
    theirs = keras.Sequential([keras.Input((6, 4)), K.Masking(), getattr(K, name)(5)])
    ours = tn.Sequential([L.Masking(), getattr(L, name)(5)])
    ours(x)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours(x).data, np_(theirs(x)), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(L.Masking().compute_mask(x),
                                  np_(K.Masking().compute_mask(x)))
    np.testing.assert_array_equal(L.Masking()(x).data, np_(K.Masking()(x)))


@pytest.mark.parametrize("with_mask", [False, True])
def test_batch_normalization_matches_keras(with_mask):
    x = seq(4, 5, 3, seed=2) * 2 + 1
    mask = np.random.default_rng(3).random((4, 5)) > 0.3 if with_mask else None
    theirs = K.BatchNormalization(momentum=0.8)
    ours = L.BatchNormalization(momentum=0.8)
    theirs(x)
    ours(x)
    rng = np.random.default_rng(4)
    start = [w + rng.standard_normal(w.shape).astype(np.float32) * 0.1 for w in
             theirs.get_weights()]
    start[3] = np.abs(start[3]) + 0.5                       # a variance
    theirs.set_weights(start)
    ours.set_weights(start)
    kw = {} if mask is None else {"mask": mask}
    for _ in range(2):                                      # outputs and moving statistics
        np.testing.assert_allclose(ours(x, training=True, **kw).data,
                                   np_(theirs(x, training=True, **kw)), rtol=1e-4, atol=1e-5)
        for a, b in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours(x).data, np_(theirs(x, training=False)), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_stateful_chunks_match_keras(name):
    x = seq(2, 8, 3, seed=5)
    inp = keras.Input(batch_shape=(2, 4, 3))
    k_rnn = getattr(K, name)(4, stateful=True, return_sequences=True)
    theirs = keras.Model(inp, k_rnn(inp))
    ours = getattr(L, name)(4, stateful=True, return_sequences=True)
    ours(x[:, :4])
    ours.set_weights(theirs.get_weights())
    ours.reset_states()
    k_rnn.reset_states()
    for a in (0, 4):
        np.testing.assert_allclose(ours(x[:, a:a + 4]).data, np_(theirs(x[:, a:a + 4])),
                                   rtol=1e-5, atol=1e-6)
    ours.reset_states()
    k_rnn.reset_states()
    np.testing.assert_allclose(ours(x[:, 4:]).data, np_(theirs(x[:, 4:])), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_recurrent_dropout_matches_keras_with_the_same_masks(name, monkeypatch):
    import torch
    x = seq(3, 5, 4, seed=6)
    theirs = getattr(K, name)(5, dropout=0.25, recurrent_dropout=0.4, return_sequences=True)
    ours = getattr(L, name)(5, dropout=0.25, recurrent_dropout=0.4, return_sequences=True)
    theirs(x)
    ours(x)
    ours.set_weights(theirs.get_weights())
    gates = ours.n_gates
    rng = np.random.default_rng(7)

    def draw(rate, size):
        return [((rng.random((3, size)) >= rate) / (1 - rate)).astype(np.float32)
                for _ in range(gates)]

    in_masks, rec_masks = draw(0.25, 4), draw(0.4, 5)
    monkeypatch.setattr(type(ours), "_gate_masks",
                        lambda self, rate, b, n, dt: in_masks if rate == 0.25 else rec_masks)

    def as_keras(masks):
        ts = [torch.tensor(m) for m in masks]
        return ts[0] if name == "SimpleRNN" else ts

    theirs.cell.get_dropout_mask = lambda step_input: as_keras(in_masks)
    theirs.cell.get_recurrent_dropout_mask = lambda step_input: as_keras(rec_masks)
    np.testing.assert_allclose(ours(x, training=True).data, np_(theirs(x, training=True)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("ours, theirs, std, bound", [
    ("glorot_normal", "GlorotNormal", np.sqrt(2 / (300 + 200)), 2 / 0.8796),
    ("he_normal", "HeNormal", np.sqrt(2 / 300), 2 / 0.8796),
    ("he_uniform", "HeUniform", np.sqrt(2 / 300), np.sqrt(3)),
    ("lecun_normal", "LecunNormal", np.sqrt(1 / 300), 2 / 0.8796),
    ("glorot_uniform", "GlorotUniform", np.sqrt(2 / 500), np.sqrt(3)),
])
def test_initializer_distributions_match_keras(ours, theirs, std, bound):
    """Same standard deviation, same support: truncated normals end at 2σ' (σ' = σ/0.8796;
    Keras' torch backend keeps the first of 4 draws inside, so a rare value lies beyond),
    uniforms at √3 σ."""
    tn.random.seed(0)
    a = tn.initializers.get(ours)((300, 200), np.float64)
    b = np_(getattr(keras.initializers, theirs)(seed=0)((300, 200)))
    for sample in (a, b):
        assert abs(sample.std() / std - 1) < 0.02 and abs(sample.mean()) < 0.01 * 3 * std
    assert np.abs(a).max() <= bound * std * (1 + 1e-9)
    assert np.abs(a).max() > 0.97 * bound * std
    assert np.mean(np.abs(b) > bound * std * (1 + 1e-6)) < 1e-3
    t_ours = tn.initializers.TruncatedNormal(mean=1.0, stddev=0.02)((400, 100))
    t_keras = np_(keras.initializers.TruncatedNormal(mean=1.0, stddev=0.02, seed=0)((400, 100)))
    assert np.abs(t_ours - 1).max() <= 0.04 + 1e-6
    assert np.mean(np.abs(t_keras - 1) > 0.04 + 1e-6) < 1e-3
    assert abs(t_ours.std() - t_keras.std()) < 0.02 * t_keras.std()
    np.testing.assert_array_equal(tn.initializers.Constant(0.3)((2, 2)),
                                  np_(keras.initializers.Constant(0.3)((2, 2))))


def test_a_mask_reaching_conv1d_is_dropped_with_keras_warning():
    ids = np.array([[3, 5, 2, 0, 0, 0], [4, 4, 1, 7, 2, 6]])
    theirs = keras.Sequential([keras.Input((6,), dtype="int32"),
                               K.Embedding(10, 4, mask_zero=True), K.Conv1D(3, 2),
                               K.GlobalMaxPooling1D()])
    ours = tn.Sequential([L.Embedding(10, 4, mask_zero=True), L.Conv1D(3, 2),
                          L.GlobalMaxPooling1D()])
    ours(ids)
    ours.set_weights(theirs.get_weights())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        k_out = np_(theirs(ids))
    assert any("does not support masking" in str(w.message) for w in caught)
    with pytest.warns(UserWarning, match=r"'conv1d\w*' \(of type Conv1D\) was passed an input "
                                         r"with a mask, but it does not support masking"):
        out = ours(ids).data
    np.testing.assert_allclose(out, k_out, rtol=1e-5, atol=1e-6)   # both pool over padding
