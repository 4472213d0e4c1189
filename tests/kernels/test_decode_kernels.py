"""kernels.decode.decoder_step (one decoding step of a pre-LN decoder block in one pass)
against its readable twin, TransformerDecoder.call_arrays's layer-by-layer path."""

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinynlp as tn
from tinynlp.layers import TransformerDecoder


def block(dtype, activation="gelu", normalize_first=True, seed=0, D=16, heads=2):
    tn.random.seed(seed)
    layer = TransformerDecoder(24, heads, activation=activation,
                               normalize_first=normalize_first, dtype=dtype)
    with tn.no_grad():
        layer(np.zeros((1, 2, D), dtype))
    rng = np.random.default_rng(seed)
    for w in layer.weights:                       # biases and LayerNorm's γ, β away from 0, 1
        w.data[...] = w.data + 0.1 * rng.standard_normal(w.shape).astype(dtype)
    return layer


def readable(monkeypatch):
    """Run the next calls through the layer-by-layer path."""
    monkeypatch.setattr(TransformerDecoder, "_decode_step_arrays", lambda self, *a: None)


def prompt_cache(layer, B, T0, D, dtype, capacity, rng, left_pad=None):
    cache = layer._self_attention_layer.init_cache(B, capacity, dtype)
    pad = None
    if left_pad is not None:
        pad = np.ones((B, T0), bool)
        for b, n in enumerate(left_pad):
            pad[b, :n] = False
    x = rng.standard_normal((B, T0, D)).astype(dtype)
    with tn.no_grad():
        layer.call_arrays(x, decoder_padding_mask=pad, self_attention_cache=cache)
    return cache


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 2e-5)])
@pytest.mark.parametrize("activation", ["gelu", "relu"])
def test_decode_steps_equal_the_layer_path(monkeypatch, dtype, tol, activation):
    rng = np.random.default_rng(1)
    B, T0, D, steps = 3, 4, 16, 5
    layer = block(dtype, activation)
    cache = prompt_cache(layer, B, T0, D, dtype, T0 + steps, rng, left_pad=[0, 2, 1])
    twin = copy.deepcopy(cache)
    xs = rng.standard_normal((steps, B, 1, D)).astype(dtype)
    fused = [layer.call_arrays(x, self_attention_cache=cache) for x in xs]
    readable(monkeypatch)
    slow = [layer.call_arrays(x, self_attention_cache=twin) for x in xs]
    for f, s in zip(fused, slow):
        assert f.shape == (B, 1, D) and f.dtype == np.dtype(dtype)
        np.testing.assert_allclose(f, s, rtol=tol, atol=tol)
    assert cache.length == twin.length == T0 + steps
    np.testing.assert_array_equal(cache.mask, twin.mask)
    np.testing.assert_allclose(cache.keys, twin.keys, rtol=tol, atol=tol)
    np.testing.assert_allclose(cache.values, twin.values, rtol=tol, atol=tol)


@settings(max_examples=15, deadline=None)
@given(B=st.integers(1, 4), T0=st.integers(1, 5), heads=st.sampled_from([1, 2, 4]),
       masked_new=st.lists(st.booleans(), min_size=4, max_size=4), seed=st.integers(0, 99))
def test_padding_of_the_new_token_and_rows_with_nothing_to_attend_to(B, T0, heads,
                                                                      masked_new, seed):
    """A padded new token is kept in the cache as padding; a row whose keys are all padding
    attends to nothing (zeros), as in the layer path."""
    rng = np.random.default_rng(seed)
    D = 16
    layer = block("float64", seed=seed, heads=heads)
    cache = prompt_cache(layer, B, T0, D, "float64", T0 + 1, rng,
                         left_pad=[T0 if b == 0 else b % (T0 + 1) for b in range(B)])
    twin = copy.deepcopy(cache)
    x = rng.standard_normal((B, 1, D))
    pad = ~np.array(masked_new[:B])[:, None]
    fused = layer.call_arrays(x, decoder_padding_mask=pad, self_attention_cache=cache)
    with pytest.MonkeyPatch.context() as mp:
        readable(mp)
        slow = layer.call_arrays(x, decoder_padding_mask=pad, self_attention_cache=twin)
    np.testing.assert_allclose(fused, slow, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(cache.mask, twin.mask)


def test_other_blocks_take_the_layer_path(monkeypatch):
    """Post-LN, another activation, two new tokens, too many rows, a full cache: the layer
    path."""
    rng = np.random.default_rng(0)
    calls = []
    from tinynlp.kernels import decode
    real = decode.decoder_step
    monkeypatch.setattr(decode, "decoder_step", lambda *a: calls.append(1) or real(*a))
    for kw in ({"normalize_first": False}, {"activation": "tanh"}):
        layer = block("float64", **kw)
        cache = prompt_cache(layer, 2, 3, 16, "float64", 5, rng)
        layer.call_arrays(rng.standard_normal((2, 1, 16)), self_attention_cache=cache)
    layer = block("float64")
    cache = prompt_cache(layer, 2, 3, 16, "float64", 5, rng)
    layer.call_arrays(rng.standard_normal((2, 2, 16)), self_attention_cache=cache)
    many = decode.MAX_ROWS + 1                     # more rows than it is faster for
    layer.call_arrays(rng.standard_normal((many, 1, 16)),
                      self_attention_cache=prompt_cache(layer, many, 3, 16, "float64", 5, rng))
    assert calls == []
    with pytest.raises(ValueError, match="do not fit the capacity"):
        layer.call_arrays(rng.standard_normal((2, 1, 16)), self_attention_cache=cache)
    assert calls == []
    layer.call_arrays(rng.standard_normal((2, 1, 16)),
                      self_attention_cache=prompt_cache(layer, 2, 3, 16, "float64", 5, rng))
    assert calls == [1]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gpt_generates_the_same_tokens(monkeypatch, dtype):
    tn.random.seed(0)
    m = tn.models.GPT(31, 24, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
                      dtype=dtype)
    prompts = [np.array([3, 1, 4, 1, 5]), np.array([9, 2]), np.array([6, 5, 3, 5, 8, 9, 7])]
    fast = m.generate(prompts, 12, temperature=0)
    readable(monkeypatch)
    slow = m.generate(prompts, 12, temperature=0)
    for f, s in zip(fast, slow):
        np.testing.assert_array_equal(f, s)


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 2e-5)])
def test_cross_attention_blocks_equal_the_layer_path(monkeypatch, dtype, tol):
    """An encoder–decoder block: after the self-attention, LN, attention over the encoder's
    static cache (a padded source in one row), the residual — then the feed-forward."""
    rng = np.random.default_rng(2)
    B, S, D, steps = 2, 5, 16, 4
    tn.random.seed(0)
    layer = TransformerDecoder(24, 2, activation="gelu", normalize_first=True, dtype=dtype)
    enc = rng.standard_normal((B, S, D)).astype(dtype)
    with tn.no_grad():
        layer(np.zeros((B, 2, D), dtype), enc)
    for w in layer.weights:
        w.data[...] = w.data + 0.1 * rng.standard_normal(w.shape).astype(dtype)
    src_pad = np.ones((B, S), bool)
    src_pad[1, 3:] = False
    cross = layer._cross_attention_layer.compute_cache(enc, value_mask=src_pad)
    cache = layer._self_attention_layer.init_cache(B, steps, dtype)
    twin = copy.deepcopy(cache)
    xs = rng.standard_normal((steps, B, 1, D)).astype(dtype)
    from tinynlp.kernels import decode
    calls = []
    real = decode.decoder_step
    monkeypatch.setattr(decode, "decoder_step", lambda *a: calls.append(1) or real(*a))
    fused = [layer.call_arrays(x, self_attention_cache=cache, cross_attention_cache=cross)
             for x in xs]
    assert len(calls) == steps
    readable(monkeypatch)
    slow = [layer.call_arrays(x, self_attention_cache=twin, cross_attention_cache=cross)
            for x in xs]
    for f, s in zip(fused, slow):
        np.testing.assert_allclose(f, s, rtol=tol, atol=tol)
    np.testing.assert_allclose(cache.keys, twin.keys, rtol=tol, atol=tol)
    # the encoder sequence itself (no cache) or an encoder attention mask: the layer path
    calls.clear()
    monkeypatch.undo()
    monkeypatch.setattr(decode, "decoder_step", lambda *a: calls.append(1) or real(*a))
    layer.call_arrays(xs[0], enc, self_attention_cache=layer._self_attention_layer.init_cache(
        B, 2, dtype))
    layer.call_arrays(xs[0], self_attention_cache=layer._self_attention_layer.init_cache(
        B, 2, dtype), cross_attention_cache=cross,
        encoder_attention_mask=np.ones((B, 1, S), bool))
    assert calls == []


def test_translation_decodes_the_same(monkeypatch):
    """The Transformer translation model's cached decoding steps (padded sources) give the
    same logits through the kernel as through the layers, and beam search the same words."""
    from tinynlp.tasks import translation as tr
    from tinynlp.tasks.transformer_seq2seq import TransformerSeq2Seq

    tn.random.seed(2)
    model = TransformerSeq2Seq(src_vocab_size=11, tgt_vocab_size=9, hidden_dim=8, num_layers=2,
                               num_heads=2, intermediate_dim=16, dropout=0.0,
                               sequence_length=12, dtype="float64")
    model([np.array([[4, 5]]), np.array([[2]])])
    src = np.array([[4, 5, 6, 7], [8, 9, 0, 0], [10, 4, 4, 0]])
    tgt = np.array([[2, 5, 6, 7, 8], [2, 4, 4, 5, 6], [2, 8, 7, 6, 5]])

    def run():
        dec = model.start_decoding(src, max_len=10)
        return ([dec.step(tgt[:, t]) for t in range(tgt.shape[1])],
                [tr.beam_search(model, s[s > 0], 2, 3, beam_size=3, max_len=9) for s in src])

    fast_logits, fast_words = run()
    readable(monkeypatch)
    slow_logits, slow_words = run()
    for f, s in zip(fast_logits, slow_logits):
        np.testing.assert_allclose(f, s, rtol=1e-11, atol=1e-12)
    assert fast_words == slow_words


@settings(max_examples=20, deadline=None)
@given(dtype=st.sampled_from(["float64", "float32"]), B=st.integers(1, 4),
       heads=st.sampled_from([1, 2, 4]), t=st.integers(0, 5), cross=st.booleans(),
       gelu=st.booleans(), seed=st.integers(0, 999))
def test_kernel_equals_its_numpy_twin(dtype, B, heads, t, cross, gelu, seed):
    """decoder_step against decoder_step_reference on random arrays: output and the cache's
    new slot, with masked cached keys (a whole row of them in row 0)."""
    from tinynlp.kernels import decode

    rng = np.random.default_rng(seed)
    D, dk, F, cap, S = 8, 4, 12, 7, 5

    def a(*shape):
        return rng.standard_normal(shape).astype(dtype)

    def norm():
        return a(D), a(D), 1e-5

    x = a(B, D)
    attn = (a(D, heads * dk), a(heads * dk), a(D, heads * dk), a(heads * dk),
            a(D, heads * dk), a(heads * dk), a(heads * dk, D), a(D))
    keys, values = a(B, heads, cap, dk), a(B, heads, cap, dk)
    mask = rng.random((B, cap)) > 0.3
    mask[0] = False                                   # row 0: only padding, even the new one
    enc = None
    if cross:
        cmask = rng.random((B, S)) > 0.3
        enc = (norm(), (a(D, heads * dk), a(heads * dk), a(heads * dk, D), a(D)),
               (a(B, heads, S, dk), a(B, heads, S, dk), cmask))
    ffn = (a(D, F), a(F), a(F, D), a(D))
    act = decode.GELU if gelu else decode.RELU
    k2, v2 = keys.copy(), values.copy()
    ln1, ln2 = norm(), norm()
    got = decode.decoder_step(x, ln1, attn, (keys, values, mask), t, enc, ln2, ffn, act)
    want = decode.decoder_step_reference(x, ln1, attn, (k2, v2, mask), t, enc, ln2, ffn, act)
    tol = 1e-12 if dtype == "float64" else 3e-5
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 10)
    np.testing.assert_allclose(keys, k2, rtol=tol, atol=tol)
    np.testing.assert_allclose(values, v2, rtol=tol, atol=tol)
