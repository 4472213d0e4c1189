"""The Transformer blocks' inference path on plain arrays (``call_arrays``) gives what the
autograd path gives: encoder, decoder with self- and cross-attention caches, masks, both
layer-norm placements, and the cases that must keep the graph (dropout while training)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinynlp as tn
from tinynlp.layers._utils import run_on_arrays
from tests.layers._util import rnd

L = tn.layers
TOL = {"float64": dict(rtol=1e-12, atol=1e-12), "float32": dict(rtol=2e-5, atol=2e-6)}


def graph_and_arrays(layer, *args, **kwargs):
    """The block's output with a graph being recorded (the autograd path) and under
    ``no_grad`` (the array path), from the same inputs."""
    y = layer(*args, **kwargs)
    with tn.no_grad():
        z = layer(*args, **kwargs)
    return y, z


@settings(max_examples=15, deadline=None)
@given(B=st.integers(1, 3), T=st.integers(1, 6), heads=st.sampled_from([1, 2]),
       normalize_first=st.booleans(), dtype=st.sampled_from(["float32", "float64"]),
       activation=st.sampled_from(["relu", "gelu", "tanh"]), pad=st.booleans(),
       seed=st.integers(0, 99))
def test_encoder_arrays_equal_the_graph(B, T, heads, normalize_first, dtype, activation, pad,
                                        seed):
    layer = L.TransformerEncoder(6, heads, normalize_first=normalize_first,
                                 activation=activation, bias_initializer="glorot_uniform",
                                 dtype=dtype)
    x = tn.tensor(rnd(B, T, 4, seed=seed).astype(dtype), requires_grad=True)
    mask = None
    if pad:
        mask = np.random.default_rng(seed).random((B, T)) < 0.7
        mask[:, 0] = True
    y, z = graph_and_arrays(layer, x, padding_mask=mask)
    assert y.requires_grad and not z.requires_grad
    assert z.dtype == np.dtype(dtype) and z.shape == y.shape
    np.testing.assert_allclose(z.data, y.data, **TOL[dtype])
    with tn.no_grad():
        direct = layer.call_arrays(x.data, mask)
    np.testing.assert_array_equal(direct, z.data)


@pytest.mark.parametrize("normalize_first", [False, True])
def test_decoder_arrays_equal_the_graph_with_cross_attention_and_caches(normalize_first):
    dec = L.TransformerDecoder(8, 2, normalize_first=normalize_first,
                               bias_initializer="glorot_uniform", dtype="float64")
    x, enc = rnd(2, 5, 4), rnd(2, 3, 4, seed=1)
    emask = np.array([[1, 1, 0], [1, 1, 1]], bool)
    dmask = np.array([[1, 1, 1, 1, 1], [0, 1, 1, 1, 1]], bool)
    y, z = graph_and_arrays(dec, x, enc, decoder_padding_mask=dmask, encoder_padding_mask=emask)
    np.testing.assert_allclose(z.data, y.data, **TOL["float64"])

    # step by step with both caches (array path) = the whole sequence (graph)
    cross = dec.compute_cross_attention_cache(enc, encoder_padding_mask=emask)
    cache = dec.init_cache(2, 5)
    steps = []
    with tn.no_grad():
        for t in range(5):
            out, cache_back, cross_back = dec(x[:, t:t + 1], decoder_padding_mask=dmask[:, t:t + 1],
                                              self_attention_cache=cache,
                                              cross_attention_cache=cross)
            assert cache_back is cache and cross_back is cross
            steps.append(out.data)
    assert cache.length == 5
    np.testing.assert_allclose(np.concatenate(steps, axis=1)[1], y.data[1], **TOL["float64"])
    np.testing.assert_allclose(np.concatenate(steps, axis=1)[0], y.data[0], **TOL["float64"])


def test_dropout_while_training_keeps_the_graph_path_and_inference_is_deterministic():
    layer = L.TransformerEncoder(8, 2, dropout=0.5, dtype="float64")
    x = rnd(2, 4, 4)
    with tn.no_grad():
        a = layer(x, training=True).data          # dropout on: not the array path
        b = layer(x).data
        c = layer(x).data
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(b, c)
    np.testing.assert_allclose(b, layer.call_arrays(x), **TOL["float64"])


def test_attention_scores_still_come_back_under_no_grad():
    layer = L.TransformerEncoder(8, 2, dtype="float64")
    with tn.no_grad():
        out, scores = layer(rnd(1, 3, 4), return_attention_scores=True)
    assert scores.shape == (1, 2, 3, 3)
    np.testing.assert_allclose(scores.data.sum(-1), 1.0, rtol=1e-12)


def test_a_sublayer_whose_call_is_changed_is_not_bypassed():
    class Doubled(L.Dense):
        def call(self, x, training=False, mask=None):
            return super().call(x) * 2.0

    layer = L.TransformerEncoder(8, 2, dtype="float64")
    x = rnd(1, 3, 4)
    layer(x)
    old = layer._feedforward_output_dense
    new = Doubled(4, dtype="float64")
    new(np.zeros((1, 1, 8)))
    new.set_weights(old.get_weights())
    layer._feedforward_output_dense = new
    y = layer(x)                                    # the graph: Doubled.call
    with tn.no_grad():
        z = layer(x)                                # arrays: must still call Doubled.call
    np.testing.assert_allclose(z.data, y.data, **TOL["float64"])
    a = np.ones((2, 8))
    out = run_on_arrays(new, a)
    np.testing.assert_allclose(out, 2.0 * (a @ old.kernel.data + old.bias.data), rtol=1e-12)


def test_array_path_errors_name_what_came():
    layer = L.TransformerEncoder(8, 2, dtype="float32")
    layer(np.zeros((1, 3, 4), np.float32))
    with tn.no_grad(), pytest.raises(ValueError, match="got an input of shape"):
        layer(np.zeros((1, 3, 6), np.float32))
    fresh = L.TransformerEncoder(8, 2)
    with pytest.raises(ValueError, match="call the layer once"):
        fresh.call_arrays(np.zeros((1, 3, 4), np.float32))


def test_a_changed_attention_sub_layer_is_not_bypassed_either():
    """The attention sub-layer goes through run_on_arrays too: a subclass that changes
    ``call`` runs in the array path (here its output is halved), with or without a cache."""
    class Halved(L.MultiHeadAttention):
        def call(self, *args, **kwargs):
            return super().call(*args, **kwargs) * 0.5

    for decoder in (False, True):
        layer = (L.TransformerDecoder if decoder else L.TransformerEncoder)(8, 2, dtype="float64")
        x = rnd(1, 3, 4)
        layer(x)
        old = layer._self_attention_layer
        new = Halved(2, 2, dtype="float64")
        new(x, x)
        new.set_weights(old.get_weights())
        layer._self_attention_layer = new
        y = layer(x)                                # the graph: Halved.call
        with tn.no_grad():
            z = layer(x)                            # arrays: run_on_arrays falls back to it
        np.testing.assert_allclose(z.data, y.data, **TOL["float64"])
        if decoder:
            cache = layer.init_cache(1, 3)
            with tn.no_grad():
                steps = [layer(x[:, t:t + 1], self_attention_cache=cache)[0].data
                         for t in range(3)]
            np.testing.assert_allclose(np.concatenate(steps, axis=1), y.data, **TOL["float64"])
