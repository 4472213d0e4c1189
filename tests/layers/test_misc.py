"""Dropout, LayerNormalization, regularizers, the layer registry and configs."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinynlp as tn
from tests.helpers import check_grad, t64
from tests.layers._util import config_round_trip, gradcheck_layer, rnd

L = tn.layers
R = tn.regularizers


# ---------------------------------------------------------------- Dropout
def test_dropout_identity_at_inference():
    x = rnd(4, 5)
    layer = L.Dropout(0.5)
    np.testing.assert_array_equal(layer(x).data, x.astype(np.float32))
    np.testing.assert_array_equal(layer(x, training=False).data, x.astype(np.float32))


@given(rate=st.sampled_from([0.1, 0.3, 0.5, 0.8]))
def test_dropout_drops_about_rate_and_rescales(rate):
    x = np.ones((200, 100), dtype=np.float32)
    y = L.Dropout(rate)(x, training=True).data
    dropped = np.mean(y == 0)
    assert abs(dropped - rate) < 0.02                    # 20,000 draws: sd ≈ 0.0035
    np.testing.assert_allclose(y[y != 0], 1.0 / (1.0 - rate), rtol=1e-6)
    assert abs(y.mean() - 1.0) < 0.05


def test_dropout_gradcheck_and_seed():
    x = t64(rnd(3, 4))
    layer = L.Dropout(0.4, seed=7, dtype="float64")

    def fn(x):
        layer._rng = np.random.default_rng(7)   # the same mask on every evaluation
        return layer(x, training=True)

    check_grad("layers.Dropout", fn, [x])
    a = L.Dropout(0.5, seed=3)(np.ones((10, 10)), training=True).data
    b = L.Dropout(0.5, seed=3)(np.ones((10, 10)), training=True).data
    np.testing.assert_array_equal(a, b)
    seeded = L.Dropout(0.5, seed=3)
    c, d = seeded(np.ones((10, 10)), training=True), seeded(np.ones((10, 10)), training=True)
    assert not np.array_equal(c.data, d.data)            # a fresh mask per call


def test_dropout_global_seed_reproducible_and_noise_shape():
    tn.random.seed(5)
    a = L.Dropout(0.5)(np.ones((4, 6, 3)), training=True).data
    tn.random.seed(5)
    b = L.Dropout(0.5)(np.ones((4, 6, 3)), training=True).data
    np.testing.assert_array_equal(a, b)
    y = L.SpatialDropout1D(0.5)(np.ones((4, 6, 3)), training=True).data
    assert np.all(y == y[:, :1, :])                      # one mask over time per channel
    with pytest.raises(ValueError, match="rate"):
        L.Dropout(1.0)
    mask = np.ones((2, 3), bool)
    assert L.Dropout(0.2).compute_mask(None, mask) is mask


# ---------------------------------------------------------------- LayerNormalization
@pytest.mark.parametrize("kw", [{}, {"center": False}, {"scale": False}])
def test_layer_norm_gradcheck(kw):
    layer = L.LayerNormalization(dtype="float64", **kw)
    layer.build((None, 3, 4))
    layer.set_weights([rnd(*w.shape, seed=i) for i, w in enumerate(layer.weights)])
    gradcheck_layer("layers.LayerNormalization", layer, rnd(2, 3, 4, seed=1))


def test_layer_norm_values_and_weights():
    layer = L.LayerNormalization(epsilon=1e-3)
    x = rnd(2, 3, 6, seed=2, scale=3.0) + 5.0
    y = layer(x).data
    assert [p.name.split("/")[-1] for p in layer.weights] == ["gamma", "beta"]
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    np.testing.assert_allclose(y, (x - mu) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="built for size 6"):
        layer(np.zeros((2, 3, 5)))
    other = L.LayerNormalization(axis=1)
    assert other(x).shape == x.shape and other.gamma.shape == (3,)
    config_round_trip(L.LayerNormalization(epsilon=1e-5, center=False))


# ---------------------------------------------------------------- regularizers
def test_regularizer_formulas():
    w = t64(rnd(3, 4, seed=3))
    np.testing.assert_allclose(R.L2(0.1)(w).data, 0.1 * np.sum(w.data ** 2))
    np.testing.assert_allclose(R.L1(0.2)(w).data, 0.2 * np.sum(np.abs(w.data)))
    np.testing.assert_allclose(R.L1L2(0.2, 0.1)(w).data,
                               0.2 * np.sum(np.abs(w.data)) + 0.1 * np.sum(w.data ** 2))
    assert R.get("l2") == R.L2(0.01) and R.get("l1") == R.L1(0.01)
    assert R.get("l1_l2") == R.L1L2(0.01, 0.01) and R.L1L2() == R.L1L2(0.0, 0.0)
    assert R.get(None) is None
    fn = lambda w: w.sum()
    assert R.get(fn) is fn
    assert R.get(R.serialize(R.L1L2(0.3, 0.4))) == R.L1L2(0.3, 0.4)
    with pytest.raises(ValueError, match="unknown regularizer"):
        R.get("l3")
    with pytest.raises(ValueError, match="non-negative"):
        R.L2(-1)
    check_grad("regularizers.L2", lambda w: R.L2(0.3)(w), [w])
    check_grad("regularizers.L1L2", lambda w: R.L1L2(0.2, 0.3)(w), [w])


def test_layers_collect_regularization_losses():
    layer = L.Dense(3, kernel_regularizer="l2", bias_regularizer=R.L1(0.5), dtype="float64")
    layer.build((None, 4))
    layer.bias.assign(np.array([1.0, -2.0, 0.5]))
    losses = layer.regularization_losses()
    assert len(losses) == 2
    np.testing.assert_allclose(losses[0].data, 0.01 * np.sum(layer.kernel.data ** 2))
    np.testing.assert_allclose(losses[1].data, 0.5 * 3.5)
    assert layer.kernel.regularizer == R.L2(0.01)
    rnn = L.LSTM(2, kernel_regularizer="l2", recurrent_regularizer="l1")
    rnn.build((None, 3, 2))
    assert len(rnn.regularization_losses()) == 2
    emb = L.Embedding(5, 2, embeddings_regularizer="l2")
    emb.build()
    assert len(emb.regularization_losses()) == 1
    with pytest.raises(ValueError, match="custom regularizer"):
        L.Dense(2, kernel_regularizer=lambda w: w.sum()).get_config()


# ---------------------------------------------------------------- registry and configs
def all_layers():
    """One instance of every built-in layer, with the input that builds it."""
    ids = np.array([[1, 2, 0], [3, 4, 5]])
    seq = rnd(2, 6, 3)
    return [
        (L.Dense(4, activation="relu", kernel_regularizer="l2"), rnd(2, 3)),
        (L.Embedding(8, 3, mask_zero=True), ids),
        (L.SimpleRNN(4, activation="relu", return_sequences=True), seq),
        (L.LSTM(3, return_state=True, go_backwards=True), seq),
        (L.GRU(2, dropout=0.1, use_bias=False), seq),
        (L.Bidirectional(L.LSTM(2, return_sequences=True), merge_mode="sum"), seq),
        (L.TimeDistributed(L.Dense(2)), seq),
        (L.Conv1D(4, 3, strides=2, padding="causal", activation="tanh"), seq),
        (L.MaxPooling1D(2), seq),
        (L.AveragePooling1D(3, strides=1, padding="same"), seq),
        (L.GlobalMaxPooling1D(), seq),
        (L.GlobalAveragePooling1D(keepdims=True), seq),
        (L.Flatten(), seq),
        (L.Reshape((3, -1)), seq),
        (L.Activation("softmax"), seq),
        (L.Dropout(0.3, seed=1), seq),
        (L.SpatialDropout1D(0.2), seq),
        (L.LayerNormalization(epsilon=1e-5), seq),
    ]


def test_every_layer_is_registered_and_round_trips():
    for layer, x in all_layers():
        assert L.get_layer_class(type(layer).__name__) is type(layer)
        clone = config_round_trip(layer)
        y1, y2 = layer(x), clone(x)
        y1 = y1[0] if isinstance(y1, list) else y1
        y2 = y2[0] if isinstance(y2, list) else y2
        assert y1.shape == y2.shape, type(layer).__name__
        # identical architecture: same weight shapes and order; copied weights → same output
        assert [w.shape for w in clone.weights] == [w.shape for w in layer.weights]
        clone.set_weights(layer.get_weights())
        out1, out2 = layer(x), clone(x)
        out1 = out1[0] if isinstance(out1, list) else out1
        out2 = out2[0] if isinstance(out2, list) else out2
        np.testing.assert_array_equal(out1.data, out2.data)
        # compute_output_shape agrees with the real output (batch axis symbolic)
        shape = layer.compute_output_shape((None, *np.shape(x)[1:]))
        shape = shape[0] if isinstance(shape, list) else shape
        assert tuple(shape) == (None, *out1.shape[1:]), type(layer).__name__


def test_get_set_weights_round_trip_all_layers():
    for layer, x in all_layers():
        layer(x)
        ws = layer.get_weights()
        new = [np.random.default_rng(i).standard_normal(w.shape) for i, w in enumerate(ws)]
        layer.set_weights(new)
        for got, want in zip(layer.get_weights(), new):
            np.testing.assert_allclose(got, want.astype(np.float32))
        got = layer.get_weights()
        for g in got:
            g[...] = 0          # copies: changing them leaves the layer alone
        for p, want in zip(layer.weights, new):
            np.testing.assert_allclose(p.data, want.astype(np.float32))


def test_register_layer_decorator_and_errors():
    @L.register_layer
    class MyScale(L.Layer):
        def call(self, x, training=False):
            return x * 2.0

    assert L.get_layer_class("MyScale") is MyScale
    layer = L.deserialize(json.loads(json.dumps(L.serialize(MyScale(name="s")))))
    assert isinstance(layer, MyScale) and layer.name == "s"
    with pytest.raises(ValueError, match="unknown layer class 'Nope'"):
        L.get_layer_class("Nope")
    with pytest.raises(ValueError, match="already taken"):
        @L.register_layer(name="Dense")
        class Other(L.Layer):
            pass
    with pytest.raises(ValueError, match="class_name"):
        L.deserialize({"config": {}})


def test_keras_default_names():
    assert L.SimpleRNN(2).name.startswith("simple_rnn")
    assert L.Conv1D(2, 2).name.startswith("conv1d")
    assert L.GlobalMaxPooling1D().name.startswith("global_max_pooling1d")
    a, b = L.LSTM(2), L.LSTM(2)
    assert a.name != b.name and a.name.startswith("lstm")
