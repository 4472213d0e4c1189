"""MultiHeadAttention (gradients, masks, KV cache, Keras 3 weights and outputs) and the position
layers (PositionEmbedding, SinePositionEncoding, TokenAndPositionEmbedding)."""

import os

import numpy as np
import pytest

import tinynlp as tn
from tests.helpers import t64
from tests.layers._util import config_round_trip, gradcheck_layer, rnd

L = tn.layers


def mha64(*args, **kw):
    return L.MultiHeadAttention(*args, dtype="float64", **kw)


# ---- gradients ------------------------------------------------------------------------------

def test_self_attention_gradient_with_masks():
    layer = mha64(2, 3, bias_initializer="glorot_uniform")
    x = rnd(2, 4, 5)
    pad = np.array([[1, 1, 1, 0], [1, 1, 1, 1]], bool)
    gradcheck_layer("MultiHeadAttention", layer, x,
                    dict(value=t64(x, requires_grad=False), value_mask=pad,
                         use_causal_mask=True))


def test_cross_attention_gradient_wrt_query_key_value_and_weights():
    layer = mha64(2, 3, value_dim=2, output_shape=(3, 2), bias_initializer="glorot_uniform")
    q, k, v = t64(rnd(2, 3, 4)), t64(rnd(2, 5, 6, seed=1)), t64(rnd(2, 5, 3, seed=2))
    layer(q, v, k)
    am = np.random.default_rng(3).random((2, 3, 5)) > 0.3
    fn = lambda q, k, v, *ws: layer(q, v, k, attention_mask=am)  # noqa: E731
    from tests.helpers import check_grad
    check_grad("MultiHeadAttention", fn, [q, k, v, *layer.trainable_weights])


def test_attention_scores_and_dropout():
    layer = L.MultiHeadAttention(2, 4, dropout=0.5, seed=3)
    x = rnd(2, 5, 6).astype(np.float32)
    out, scores = layer(x, x, return_attention_scores=True, use_causal_mask=True)
    assert out.shape == (2, 5, 6) and scores.shape == (2, 2, 5, 5)
    np.testing.assert_allclose(scores.data.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(np.triu(scores.data[0, 0], 1), 0.0)
    a, b = layer(x, x, training=True).data, layer(x, x, training=True).data
    assert not np.allclose(a, b)                       # fresh dropout masks on each call
    np.testing.assert_array_equal(layer(x, x).data, layer(x, x).data)


def test_padding_masks_hide_padded_keys_and_padded_queries_get_the_bias():
    layer = L.MultiHeadAttention(2, 3, dtype="float64", bias_initializer="glorot_uniform")
    x = rnd(2, 5, 4)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    out = layer(x, x, query_mask=mask, value_mask=mask).data
    y = x.copy()
    y[0, 3:] = 100.0                                  # garbage in the padding
    out2 = layer(y, y, mask=[mask, mask]).data       # the list form a model passes along
    np.testing.assert_allclose(out[0, :3], out2[0, :3], rtol=1e-12)
    np.testing.assert_allclose(out[0, 3:], np.broadcast_to(layer.output_bias.data, (2, 4)))


# ---- the KV cache ---------------------------------------------------------------------------

def test_cache_steps_equal_the_full_causal_computation():
    layer = mha64(2, 3)
    x = rnd(2, 7, 5)
    pad = np.ones((2, 7), bool)
    pad[1, :2] = False                                 # a left-padded row
    full = layer(x, x, value_mask=pad, use_causal_mask=True).data
    cache = layer.init_cache(2, 10)
    outs = [layer(x[:, :3], value_mask=pad[:, :3], use_causal_mask=True, cache=cache).data]
    for t in range(3, 7):
        outs.append(layer(x[:, t:t + 1], use_causal_mask=True, cache=cache).data)
    assert cache.length == 7
    got = np.concatenate(outs, axis=1)
    np.testing.assert_allclose(got[0], full[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got[1, 2:], full[1, 2:], rtol=1e-12, atol=1e-14)


def test_static_cache_for_cross_attention_and_reorder():
    layer = mha64(2, 3)
    q, enc = rnd(3, 2, 4), rnd(3, 5, 6, seed=1)
    emask = np.ones((3, 5), bool)
    emask[2, 3:] = False
    want = layer(q, enc, value_mask=emask).data
    cache = layer.compute_cache(enc, value_mask=emask)
    np.testing.assert_allclose(layer(q, None, cache=cache).data, want, rtol=1e-12)
    cache.reorder([2, 2, 0])
    np.testing.assert_allclose(layer(q[[2, 2, 0]], None, cache=cache).data, want[[2, 2, 0]],
                               rtol=1e-12)
    with pytest.raises(ValueError, match="static"):
        cache.append(cache.keys, cache.values)


def test_cache_capacity_error():
    layer = mha64(1, 2)
    x = rnd(1, 3, 2)
    layer(x, x)
    cache = layer.init_cache(1, 4)
    layer(x, cache=cache)
    with pytest.raises(ValueError, match="2 new token.*after 3 cached.*capacity 4"):
        layer(x[:, :2], cache=cache)


# ---- config, errors -----------------------------------------------------------------------

def test_weights_shapes_config_and_errors():
    layer = L.MultiHeadAttention(3, 4, value_dim=2, output_shape=7)
    layer(np.zeros((1, 2, 5), np.float32), np.zeros((1, 3, 6), np.float32))
    assert [w.shape for w in layer.get_weights()] == [
        (5, 3, 4), (3, 4), (6, 3, 4), (3, 4), (6, 3, 2), (3, 2), (3, 2, 7), (7,)]
    assert layer.weights[0].name.endswith("query/kernel")
    clone = config_round_trip(layer)
    assert clone.value_dim == 2 and clone.output_shape_arg == (7,)
    with pytest.raises(ValueError, match="num_heads must be a positive integer"):
        L.MultiHeadAttention(0, 4)
    with pytest.raises(ValueError, match=r"attention_mask must have shape \(1, 2, 3\)"):
        layer(np.zeros((1, 2, 5), np.float32), np.zeros((1, 3, 6), np.float32),
              attention_mask=np.ones((1, 3, 2), bool))
    with pytest.raises(ValueError, match="built for 5 input features"):
        layer(np.zeros((1, 2, 4), np.float32), np.zeros((1, 3, 6), np.float32))
    with pytest.raises(ValueError, match="same length"):
        layer(np.zeros((1, 2, 5), np.float32), np.zeros((1, 3, 6), np.float32),
              np.zeros((1, 4, 6), np.float32))


# ---- Keras 3 ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":  # pragma: no cover
        pytest.skip("Keras interop tests use the torch backend")
    return keras


@pytest.mark.slow
@pytest.mark.parametrize("kw", [dict(), dict(value_dim=2, output_shape=(5,)),
                                dict(use_bias=False)])
def test_multi_head_attention_matches_keras(keras, kw):
    rng = np.random.default_rng(0)
    q = rng.standard_normal((2, 5, 6)).astype(np.float32)
    v = rng.standard_normal((2, 7, 8)).astype(np.float32)
    k = rng.standard_normal((2, 7, 3)).astype(np.float32)
    theirs = keras.layers.MultiHeadAttention(3, 4, **kw)
    ours = L.MultiHeadAttention(3, 4, **kw)
    np_ = keras.ops.convert_to_numpy
    ref = np_(theirs(q, v, k))
    ours(q, v, k)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours(q, v, k).data, ref, rtol=1e-5, atol=1e-6)

    am = rng.random((2, 5, 7)) > 0.3
    am[:, :, 0] = True                                   # no empty rows (Keras averages there)
    for call in (dict(attention_mask=am), dict(use_causal_mask=True),
                 dict(attention_mask=am, use_causal_mask=True)):
        np.testing.assert_allclose(ours(q, v, k, **call).data, np_(theirs(q, v, k, **call)),
                                   rtol=1e-5, atol=1e-6)
    _, s = ours(q, v, k, return_attention_scores=True)
    _, ks = theirs(q, v, k, return_attention_scores=True)
    np.testing.assert_allclose(s.data, np_(ks), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.get_weights()[0], theirs.get_weights()[0])


@pytest.mark.slow
def test_masks_propagated_from_embedding_as_keras(keras):
    ids = np.array([[3, 1, 4, 1, 5, 0, 0], [2, 7, 1, 8, 2, 8, 1]])
    kemb = keras.layers.Embedding(10, 6, mask_zero=True)
    kmha = keras.layers.MultiHeadAttention(2, 3)
    inp = keras.Input((7,), dtype="int32")
    e = kemb(inp)
    model = keras.Model(inp, kmha(e, e))
    ref = keras.ops.convert_to_numpy(model(ids))

    emb = L.Embedding(10, 6, mask_zero=True)
    mha = L.MultiHeadAttention(2, 3)
    x = emb(ids)
    m = emb.compute_mask(ids)
    mha(x, x)
    emb.set_weights(kemb.get_weights())
    mha.set_weights(kmha.get_weights())
    x = emb(ids)
    ours = mha(x, x, query_mask=m, value_mask=m).data
    real = ids != 0                                   # padded queries: unspecified in Keras
    np.testing.assert_allclose(ours[real], ref[real], rtol=1e-5, atol=1e-6)


# ---- position layers ------------------------------------------------------------------------

def test_position_embedding_gradient_start_index_and_positions():
    layer = L.PositionEmbedding(6, dtype="float64")
    x = rnd(2, 4, 3)
    gradcheck_layer("PositionEmbedding", layer, x, input_grad=False)
    table = layer.embeddings.data
    np.testing.assert_array_equal(layer(x).data, np.broadcast_to(table[:4], (2, 4, 3)))
    np.testing.assert_array_equal(layer(x, start_index=2).data[1], table[2:6])
    pos = np.array([[0, 0, 1, 2], [3, 4, 5, 5]])
    np.testing.assert_array_equal(layer(x, positions=pos).data, table[pos])
    gradcheck_layer("PositionEmbedding", layer, x, dict(positions=pos), input_grad=False)


def test_position_embedding_too_long_names_both_numbers():
    layer = L.PositionEmbedding(5)
    with pytest.raises(ValueError, match="7 tokens.*sequence_length 5"):
        layer(np.zeros((1, 7, 2), np.float32))
    layer(np.zeros((1, 3, 2), np.float32))
    with pytest.raises(ValueError, match="positions 3..5.*sequence_length 5"):
        layer(np.zeros((1, 3, 2), np.float32), start_index=3)
    with pytest.raises(ValueError, match="position 5 is beyond the sequence_length 5"):
        layer(np.zeros((1, 2, 2), np.float32), positions=np.array([[1, 5]]))
    emb = L.TokenAndPositionEmbedding(10, 4, 3)
    with pytest.raises(ValueError, match="6 tokens.*sequence_length 4"):
        emb(np.ones((1, 6), np.int64))


def test_sine_position_encoding_values():
    x = np.zeros((2, 5, 6), np.float32)
    pe = L.SinePositionEncoding()(x).data
    t, i = 3, 4                                          # even feature: sin
    np.testing.assert_allclose(pe[1, t, i], np.sin(t / 10000 ** (4 / 6)), rtol=1e-6)
    np.testing.assert_allclose(pe[0, t, 5], np.cos(t / 10000 ** (4 / 6)), rtol=1e-6)
    np.testing.assert_allclose(pe[0, 0], [0, 1, 0, 1, 0, 1])
    shifted = L.SinePositionEncoding(max_wavelength=100)(x, start_index=2).data
    np.testing.assert_allclose(shifted[0, 0], L.SinePositionEncoding(100)(
        np.zeros((1, 3, 6), np.float32)).data[0, 2], rtol=1e-6)
    pos = np.array([[4, 0, 1, 2, 3], [0, 1, 2, 3, 4]])
    np.testing.assert_allclose(L.SinePositionEncoding()(x, positions=pos).data[0, 0], pe[0, 4],
                               rtol=1e-6)
    assert pe.dtype == np.float32
    # added to an input, the gradient flows to the input unchanged
    from tests.helpers import check_grad
    enc = L.SinePositionEncoding(dtype="float64")
    check_grad("SinePositionEncoding", lambda x: x + enc(x), [t64(rnd(1, 3, 4))])


def test_token_and_position_embedding():
    layer = L.TokenAndPositionEmbedding(10, 6, 4, mask_zero=True, dtype="float64")
    ids = np.array([[1, 2, 3, 0], [4, 0, 0, 0]])
    gradcheck_layer("TokenAndPositionEmbedding", layer, ids, input_grad=False)
    tok, pos = layer.get_weights()
    assert tok.shape == (10, 4) and pos.shape == (6, 4)
    assert [w.name for w in layer.weights] == [
        f"{layer.name}/token_embedding/embeddings", f"{layer.name}/position_embedding/embeddings"]
    np.testing.assert_allclose(layer(ids).data, tok[ids] + pos[:4])
    np.testing.assert_allclose(layer(ids, start_index=2).data, tok[ids] + pos[2:6])
    np.testing.assert_array_equal(layer.compute_mask(ids), ids != 0)
    clone = config_round_trip(layer)
    assert clone.mask_zero and clone.sequence_length == 6
