"""TransformerEncoder / TransformerDecoder: gradients, post-LN and pre-LN, masks, KerasHub's
weight order, incremental decoding with self- and cross-attention caches, and a Keras
composition of the encoder block."""

import os

import numpy as np
import pytest

import tinynlp as tn
from tests.helpers import check_grad, t64
from tests.layers._util import config_round_trip, gradcheck_layer, rnd

L = tn.layers


@pytest.mark.parametrize("normalize_first", [False, True])
def test_encoder_gradient(normalize_first):
    layer = L.TransformerEncoder(6, 2, normalize_first=normalize_first, activation="gelu",
                                 bias_initializer="glorot_uniform", dtype="float64")
    pad = np.array([[1, 1, 1, 0], [1, 1, 1, 1]], bool)
    gradcheck_layer("TransformerEncoder", layer, rnd(2, 4, 4), dict(padding_mask=pad))


@pytest.mark.parametrize("normalize_first", [False, True])
def test_decoder_gradient_with_cross_attention(normalize_first):
    layer = L.TransformerDecoder(5, 2, normalize_first=normalize_first,
                                 bias_initializer="glorot_uniform", dtype="float64")
    x, enc = t64(rnd(2, 3, 4)), t64(rnd(2, 5, 4, seed=1))
    emask = np.array([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], bool)
    layer(x, enc)
    fn = lambda x, e, *ws: layer(x, e, encoder_padding_mask=emask)  # noqa: E731
    check_grad("TransformerDecoder", fn, [x, enc, *layer.trainable_weights])


def test_decoder_is_causal_and_padding_masks_keys():
    layer = L.TransformerDecoder(8, 2, dtype="float64")
    x = rnd(1, 5, 4)
    out = layer(x).data
    y = x.copy()
    y[0, 3:] += 5.0                                     # change the future
    np.testing.assert_allclose(layer(y).data[0, :3], out[0, :3], rtol=1e-12)
    enc = L.TransformerEncoder(8, 2, dtype="float64")
    pad = np.array([[1, 1, 1, 0, 0]], bool)
    a = enc(x, padding_mask=pad).data
    np.testing.assert_allclose(enc(y, padding_mask=pad).data[0, :3], a[0, :3], rtol=1e-12)


def test_weight_order_is_kerashub():
    enc = L.TransformerEncoder(16, 2, name="enc")
    enc(np.zeros((1, 3, 8), np.float32))
    names = [w.name.split("/", 1)[1] for w in enc.weights]
    assert names[:8] == [f"self_attention_layer/{p}/{w}" for p in
                         ("query", "key", "value", "attention_output") for w in ("kernel", "bias")]
    assert names[8:] == ["self_attention_layer_norm/gamma", "self_attention_layer_norm/beta",
                         "feedforward_layer_norm/gamma", "feedforward_layer_norm/beta",
                         "feedforward_intermediate_dense/kernel",
                         "feedforward_intermediate_dense/bias",
                         "feedforward_output_dense/kernel", "feedforward_output_dense/bias"]
    dec = L.TransformerDecoder(16, 2, name="dec")
    dec(np.zeros((1, 3, 8), np.float32), np.zeros((1, 4, 6), np.float32))
    groups = []
    for w in dec.weights:
        g = w.name.split("/")[1]
        if not groups or groups[-1] != g:
            groups.append(g)
    assert groups == ["self_attention", "self_attention_layer_norm", "cross_attention",
                      "cross_attention_layer_norm", "feedforward_intermediate_dense",
                      "feedforward_output_dense", "feedforward_layer_norm"]
    assert dec.weights[12].shape == (6, 2, 4)          # cross-attention key kernel: encoder width
    assert len(dec.weights) == 26


def test_config_round_trip_and_errors():
    enc = L.TransformerEncoder(16, 4, dropout=0.1, activation="gelu", normalize_first=True,
                               layer_norm_epsilon=1e-6)
    clone = config_round_trip(enc)
    assert clone.normalize_first and clone.layer_norm_epsilon == 1e-6
    config_round_trip(L.TransformerDecoder(8, 2))
    with pytest.raises(ValueError, match="hidden_dim 10.*must divide by num_heads 4"):
        L.TransformerEncoder(8, 4)(np.zeros((1, 3, 10), np.float32))
    dec = L.TransformerDecoder(8, 2)
    dec(np.zeros((1, 3, 4), np.float32))
    with pytest.raises(ValueError, match="built without cross-attention"):
        dec(np.zeros((1, 3, 4), np.float32), np.zeros((1, 2, 4), np.float32))
    with pytest.raises(ValueError, match="intermediate_dim must be a positive integer"):
        L.TransformerDecoder(0, 2)


def test_in_a_sequential_model_with_a_propagated_mask():
    tn.random.seed(0)
    model = tn.Sequential([L.Embedding(20, 8, mask_zero=True), L.TransformerEncoder(16, 2),
                           L.GlobalAveragePooling1D(), L.Dense(1, activation="sigmoid")])
    ids = np.array([[3, 4, 5, 0, 0], [6, 7, 8, 9, 1]])
    out = model.predict(ids)
    out2 = model.predict(np.array([[3, 4, 5, 0, 0, 0, 0], [6, 7, 8, 9, 1, 0, 0]]))
    np.testing.assert_allclose(out, out2, rtol=1e-5)     # extra padding changes nothing


def test_decoder_cache_equals_the_full_computation():
    dec = L.TransformerDecoder(12, 2, normalize_first=True, dtype="float64")
    x, enc = rnd(3, 6, 4), rnd(3, 5, 6, seed=1)
    emask = np.ones((3, 5), bool)
    emask[1, 3:] = False
    full = dec(x, enc, encoder_padding_mask=emask).data
    cache = dec.init_cache(3, 8)
    cross = dec.compute_cross_attention_cache(enc, encoder_padding_mask=emask)
    outs = []
    out, c1, c2 = dec(x[:, :2], self_attention_cache=cache, cross_attention_cache=cross)
    assert c1 is cache and c2 is cross
    outs.append(out.data)
    for t in range(2, 6):
        outs.append(dec(x[:, t:t + 1], self_attention_cache=cache,
                        cross_attention_cache=cross)[0].data)
    np.testing.assert_allclose(np.concatenate(outs, axis=1), full, rtol=1e-12, atol=1e-13)
    # beam search: pick rows; both caches follow
    cache.reorder([1, 1, 0])
    cross.reorder([1, 1, 0])
    x2 = np.concatenate([x, rnd(3, 1, 4, seed=5)], axis=1)[[1, 1, 0]]
    want = dec(x2, enc[[1, 1, 0]], encoder_padding_mask=emask[[1, 1, 0]]).data[:, -1]
    got = dec(x2[:, -1:], self_attention_cache=cache, cross_attention_cache=cross)[0].data
    np.testing.assert_allclose(got[:, 0], want, rtol=1e-12, atol=1e-13)


def test_decoder_only_cache_returns_a_pair():
    dec = L.TransformerDecoder(8, 2)
    x = rnd(2, 3, 4).astype(np.float32)
    dec(x)
    out, cache = dec(x, self_attention_cache=dec.init_cache(2, 5))
    assert out.shape == (2, 3, 4) and cache.length == 3
    np.testing.assert_allclose(out.data, dec(x).data, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("normalize_first", [False, True])
def test_encoder_block_equals_the_same_block_built_from_keras_layers(normalize_first):
    """KerasHub is not installed: rebuild its encoder block from Keras core layers, copy the
    weights in KerasHub's order, compare (checks our residual / LayerNorm / FFN wiring)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":  # pragma: no cover
        pytest.skip("Keras interop tests use the torch backend")
    K = keras.layers
    mha, ln1, ln2 = K.MultiHeadAttention(2, 4), K.LayerNormalization(epsilon=1e-5), \
        K.LayerNormalization(epsilon=1e-5)
    d1, d2 = K.Dense(16, activation="relu"), K.Dense(8)
    x = np.random.default_rng(0).standard_normal((2, 5, 8)).astype(np.float32)

    def keras_block(x):
        h = ln1(x) if normalize_first else x
        h = mha(h, h) + x
        if not normalize_first:
            h = ln1(h)
        f = ln2(h) if normalize_first else h
        f = d2(d1(f)) + h
        return f if normalize_first else ln2(f)

    ref = keras.ops.convert_to_numpy(keras_block(keras.ops.convert_to_tensor(x)))
    ours = L.TransformerEncoder(16, 2, normalize_first=normalize_first)
    ours(x)
    ours.set_weights([w for layer in (mha, ln1, ln2, d1, d2) for w in layer.get_weights()])
    np.testing.assert_allclose(ours(x).data, ref, rtol=1e-5, atol=2e-5)
