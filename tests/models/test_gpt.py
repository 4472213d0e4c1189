"""tn.models.GPT: forward, training with a from-logits loss, save / load, the KV cache (equal
logits, constant cost per token) and generation (greedy, sampling, ragged batches, seeds,
streaming, eos, context longer than sequence_length)."""

import numpy as np
import pytest

import tinynlp as tn
from tinynlp.models.generation import sample_next_token

V, S = 23, 16


def gpt(dtype="float32", seed=0, **kw):
    tn.random.seed(seed)
    args = dict(vocab_size=V, sequence_length=S, num_layers=2, num_heads=2, hidden_dim=16,
                intermediate_dim=32, dtype=dtype)
    args.update(kw)
    return tn.models.GPT(**args)


def ids(B=3, T=7, seed=0):
    return np.random.default_rng(seed).integers(0, V, (B, T))


# ---- the model ------------------------------------------------------------------------------

def test_forward_weights_and_tying():
    m = gpt()
    out = m(ids())
    assert out.shape == (3, 7, V) and out.dtype == np.float32
    assert len(m.weights) == 2 + 2 * 16 + 2            # embeddings, blocks, final LayerNorm
    untied = gpt(tie_embeddings=False)
    untied(ids())
    assert len(untied.weights) == len(m.weights) + 1
    assert untied.weights[-1].shape == (16, V)
    # tied: the logits are the final hidden states times the token embedding
    emb = m.embedding.token_embedding.embeddings.data
    h = m._trunk(ids()).data
    np.testing.assert_allclose(out.data, h @ emb.T, rtol=1e-5, atol=1e-6)


def test_is_causal_and_honours_a_padding_mask():
    m = gpt("float64")
    x = ids()
    a = m(x).data
    y = x.copy()
    y[:, 5:] = (y[:, 5:] + 1) % V
    np.testing.assert_allclose(m(y).data[:, :5], a[:, :5], rtol=1e-12)
    # left padding with a mask and per-row positions = the unpadded sequence
    pad = np.concatenate([np.zeros((3, 2), np.int64), x], axis=1)
    mask = np.concatenate([np.zeros((3, 2), bool), np.ones((3, 7), bool)], axis=1)
    pos = np.maximum(np.cumsum(mask, 1) - 1, 0)
    np.testing.assert_allclose(m(pad, padding_mask=mask, positions=pos).data[:, 2:], a,
                               rtol=1e-10, atol=1e-12)


def test_errors():
    with pytest.raises(ValueError, match="hidden_dim 10 must divide by num_heads 4"):
        gpt(hidden_dim=10, num_heads=4)
    m = gpt()
    with pytest.raises(ValueError, match="20 tokens is longer than the sequence_length 16"):
        m(ids(T=20))
    with pytest.raises(ValueError, match=r"token ids must be in \[0, 23\)"):
        m(np.array([[1, 23]]))
    with pytest.raises(ValueError, match="capacity must be in"):
        m.init_cache(1, 17)
    with pytest.raises(ValueError, match="temperature"):
        m.generate(ids(), 2, temperature=-1)
    with pytest.raises(ValueError, match="top_p"):
        m.generate(ids(), 2, top_p=0.0)
    with pytest.raises(ValueError, match="seed must be an int or a list of 3 ints"):
        m.generate(ids(), 2, seed=[1, 2])
    with pytest.raises(ValueError, match="prompt 1 is empty"):
        m.generate([[1, 2], []], 2)
    with pytest.raises(ValueError, match="top_k must be None or an integer >= 1"):
        m.generate_stream(ids(), 2, top_k=0)              # checked at the call, not lazily


def test_fit_with_a_from_logits_loss_and_save_load_round_trip(tmp_path):
    m = gpt()
    text = np.tile(np.arange(8), 40)                    # a sequence it can learn
    windows = np.stack([text[i:i + 9] for i in range(0, 200, 3)])
    x, y = windows[:, :-1], windows[:, 1:]
    m.compile(optimizer=tn.optimizers.Adam(1e-2),
              loss=tn.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
    hist = m.fit(x, y, epochs=4, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    assert hist.history["accuracy"][-1] > 0.8
    np.testing.assert_array_equal(m.generate(np.array([[0, 1, 2]]), 6, top_k=1)[0, 3:],
                                  [3, 4, 5, 6, 7, 0])
    path = tmp_path / "gpt.tnz"
    m.save(path)
    loaded = tn.models.load_model(path)
    assert isinstance(loaded, tn.models.GPT) and loaded.get_config() == m.get_config()
    assert loaded.loss.from_logits
    np.testing.assert_array_equal(loaded.predict(x[:4]), m.predict(x[:4]))
    np.testing.assert_array_equal(loaded.generate(x[:2, :3], 5, seed=1),
                                  m.generate(x[:2, :3], 5, seed=1))
    loaded.fit(x, y, epochs=1, batch_size=16, verbose=0)      # the optimizer state came along


# ---- the KV cache ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype,tol", [("float32", 1e-5), ("float64", 1e-12)])
def test_cached_logits_equal_recomputing_the_prefix(dtype, tol):
    m = gpt(dtype)
    x = ids(T=S)
    caches = m.init_cache(3)
    got = [m.call_with_cache(x[:, :5], caches)]
    for t in range(5, S):
        got.append(m.call_with_cache(x[:, t:t + 1], caches))
    got = np.concatenate(got, axis=1)
    for t in range(S):
        want = m(x[:, :t + 1]).data[:, -1]             # the whole prefix again
        np.testing.assert_allclose(got[:, t], want, rtol=tol, atol=tol)
    assert got.dtype == np.dtype(dtype)


@pytest.fixture
def flop_counter(monkeypatch):
    """Count the multiply-adds of every matrix product the forward passes perform."""
    from tinynlp.autograd.ops.arithmetic import MatMul
    from tinynlp.functional.attention import ScaledDotProductAttention
    from tinynlp.functional.dense import Dense
    count = [0]

    def wrap(cls, flops):
        original = cls.forward

        def forward(ctx, *args, **kwargs):
            count[0] += flops(*args)
            return original(ctx, *args, **kwargs)
        monkeypatch.setattr(cls, "forward", staticmethod(forward))

    rows = lambda x: x.size // x.shape[-1]  # noqa: E731
    wrap(Dense, lambda x, W, *a: rows(x) * W.shape[0] * W.shape[1])
    wrap(MatMul, lambda a, b: rows(a) * a.shape[-1] * b.shape[-1])
    wrap(ScaledDotProductAttention,
         lambda q, k, v, *a: rows(q) * k.shape[-2] * (q.shape[-1] + v.shape[-1]))
    return count


def test_cost_per_token_does_not_grow_with_the_prefix_like_recomputing(flop_counter,
                                                                       monkeypatch):
    # counted on the layer-by-layer path: the one-pass decoding kernel makes the same
    # products (tests/kernels/test_decode_kernels.py), out of the counter's sight
    from tinynlp.layers import TransformerDecoder
    monkeypatch.setattr(TransformerDecoder, "_decode_step_arrays", lambda self, *a: None)
    m = gpt(sequence_length=64)
    m._ensure_built()

    def per_step_flops(use_cache):
        costs = []
        flop_counter[0] = 0
        for _ in m.generate_stream(ids(B=2, T=4), 56, top_k=1, use_cache=use_cache):
            costs.append(flop_counter[0])
            flop_counter[0] = 0
        return costs       # costs[i]: the work that chose token i (after 4 + i tokens)

    cached, full = per_step_flops(True), per_step_flops(False)
    assert len(cached) == len(full) == 56
    assert all(c > 0 for c in cached)
    # with the cache, one more token of prefix adds exactly one more key and value to attend
    # to in each layer (B · layers · H·(d_k + d_v) multiply-adds) and nothing else; the
    # projections, feed-forward and head cost the same at every step
    per_key = 2 * m.num_layers * 2 * m.hidden_dim
    assert np.diff(cached[1:]).tolist() == [per_key] * 54
    assert cached[55] < 2 * cached[1]
    # recomputing runs every projection over the whole prefix again: ~ linear growth per token
    assert full[55] > 8 * full[1]
    assert full[55] > 5 * cached[55]
    assert cached[0] > cached[1]                        # the prefill runs the whole prompt


# ---- generation ----------------------------------------------------------------------------

def test_generate_shapes_greedy_and_cache_agree():
    m = gpt()
    x = ids(T=4)
    out = m.generate(x, 6, top_k=1)
    assert out.shape == (3, 10) and out.dtype == np.int64
    np.testing.assert_array_equal(out[:, :4], x)
    np.testing.assert_array_equal(out, m.generate(x, 6, temperature=0))
    np.testing.assert_array_equal(out, m.generate(x, 6, top_k=1, use_cache=False))
    # greedy by hand
    seq = x.copy()
    for _ in range(6):
        seq = np.concatenate([seq, m(seq).data[:, -1].argmax(-1)[:, None]], axis=1)
    np.testing.assert_array_equal(out, seq)
    sampled = m.generate(x, 6, seed=3, top_k=5, top_p=0.9, temperature=0.8)
    np.testing.assert_array_equal(sampled, m.generate(x, 6, seed=3, top_k=5, top_p=0.9,
                                                      temperature=0.8, use_cache=False))
    one = m.generate(list(x[0]), 3, top_k=1)
    assert one.shape == (7,)
    np.testing.assert_array_equal(one, out[0, :7])
    assert m.generate(x, 0).shape == (3, 4)


def test_ragged_prompts_each_equal_generating_alone():
    m = gpt()
    prompts = [ids(1, 3, seed=1)[0], ids(1, 7, seed=2)[0], ids(1, 1, seed=3)[0]]
    for kw in (dict(top_k=1), dict(seed=[5, 6, 7], temperature=1.3)):
        batch = m.generate(prompts, 9, **kw)
        assert isinstance(batch, list) and [len(r) for r in batch] == [12, 16, 10]
        for b, p in enumerate(prompts):
            alone_kw = dict(kw)
            if "seed" in kw:
                alone_kw["seed"] = [kw["seed"][b]]
            alone = m.generate(p[None], 9, **alone_kw)[0]
            np.testing.assert_array_equal(batch[b], alone)


def test_one_seed_per_row_makes_rows_independent():
    m = gpt()
    x = ids(T=3)
    a = m.generate(x, 8, seed=[1, 2, 3])
    b = m.generate(x[[0, 2]], 8, seed=[1, 3])
    np.testing.assert_array_equal(a[[0, 2]], b)
    c = m.generate(x, 8, seed=11)
    np.testing.assert_array_equal(c, m.generate(x, 8, seed=11))
    assert not np.array_equal(c, m.generate(x, 8, seed=12))


def test_stream_yields_each_step_and_stops_rows_at_eos():
    m = gpt()
    x = ids(T=4)
    steps = list(m.generate_stream(x, 5, seed=2))
    assert len(steps) == 5 and all(s.shape == (3,) for s in steps)
    np.testing.assert_array_equal(np.stack(steps, 1), m.generate(x, 5, seed=2)[:, 4:])
    greedy = m.generate(x, 12, top_k=1)
    eos = int(greedy[0, 6])                             # row 0 produces it by step 2
    out = m.generate(x, 12, top_k=1, eos_token_id=eos)
    assert out.shape == (3, 16)
    stops = []
    for b in range(3):
        row = greedy[b, 4:]
        hits = np.flatnonzero(row == eos)
        stop = hits[0] + 1 if len(hits) else 12
        np.testing.assert_array_equal(out[b, 4:4 + stop], row[:stop])
        assert (out[b, 4 + stop:] == eos).all()
        stops.append(stop)
    stream = list(m.generate_stream(x, 12, top_k=1, eos_token_id=eos))
    assert len(stream) == max(stops)                    # stops once every row has finished
    first = int(greedy[0, 4])                           # a single row that ends at once
    assert len(list(m.generate_stream(x[:1], 12, top_k=1, eos_token_id=first))) == 1
    np.testing.assert_array_equal(m.generate(x[:1], 12, top_k=1, eos_token_id=first)[0, 4:],
                                  [first] * 12)
    lists = m.generate([x[0], x[1, 1:]], 12, top_k=1, eos_token_id=eos)
    first = int(np.flatnonzero(greedy[0, 4:] == eos)[0])
    np.testing.assert_array_equal(lists[0], greedy[0, :4 + first + 1])     # ends at its eos


def test_context_longer_than_sequence_length_is_cropped_like_nanogpt():
    m = gpt()
    x = ids(T=12)
    out = m.generate(x, 10, top_k=1)                    # 12 + 10 > 16
    np.testing.assert_array_equal(out, m.generate(x, 10, top_k=1, use_cache=False))
    seq = x.copy()
    for _ in range(10):                                 # nanoGPT's loop
        logits = m(seq[:, -S:]).data[:, -1]
        seq = np.concatenate([seq, logits.argmax(-1)[:, None]], axis=1)
    np.testing.assert_array_equal(out, seq)
    long_prompt = m.generate(ids(T=20), 3, top_k=1)     # a prompt longer than the context
    assert long_prompt.shape == (3, 23)
    ragged = m.generate([ids(1, 20, seed=4)[0], ids(1, 5, seed=5)[0]], 15, top_k=1)
    alone = m.generate(ids(1, 5, seed=5), 15, top_k=1)[0]
    np.testing.assert_array_equal(ragged[1], alone)


def test_sample_next_token_restrictions():
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]] * 4000))
    gen = np.random.default_rng(0)
    k2 = sample_next_token(logits, top_k=2, gens=gen)
    assert set(np.unique(k2)) == {0, 1}
    np.testing.assert_allclose((k2 == 0).mean(), 0.5 / 0.8, atol=0.03)
    p = sample_next_token(logits, top_p=0.75, gens=gen)         # nucleus {0, 1}
    assert set(np.unique(p)) == {0, 1}
    assert (sample_next_token(logits, top_p=0.4, gens=gen) == 0).all()
    free = sample_next_token(logits, gens=gen)
    np.testing.assert_allclose(np.bincount(free, minlength=4) / 4000, [0.5, 0.3, 0.15, 0.05],
                               atol=0.03)
    hot = sample_next_token(logits, temperature=100.0, gens=gen)
    assert np.bincount(hot, minlength=4).min() > 800           # nearly uniform


def test_suppressed_tokens_are_never_chosen():
    m = gpt()
    x = ids(T=3)
    greedy = m.generate(x, 10, top_k=1)
    banned = sorted(set(greedy[:, 3:].ravel().tolist()))[:3]   # ids greedy decoding writes
    out = m.generate(x, 10, top_k=1, suppress_tokens=banned)
    assert not np.isin(out[:, 3:], banned).any()
    hot = m.generate(x, 200, temperature=50.0, seed=1, suppress_tokens=np.array(banned))
    assert not np.isin(hot[:, 3:], banned).any()
    np.testing.assert_array_equal(m.generate(x, 5, seed=2, suppress_tokens=[]),
                                  m.generate(x, 5, seed=2))
    with pytest.raises(ValueError, match=r"suppress_tokens must be None or token ids in \[0, 23\)"):
        m.generate(x, 2, suppress_tokens=[23])
    with pytest.raises(ValueError, match="every token"):
        m.generate_stream(x, 2, suppress_tokens=range(V))


# ---- inference in blocks of the batch over threads ------------------------------------------

@pytest.mark.parametrize("dtype,rtol", [("float32", 1e-5), ("float64", 1e-12)])
def test_inference_in_blocks_of_the_batch_equals_one_block(three_blocks, dtype, rtol):
    """GPT.call at inference may split the batch over threads (tinynlp.models.blocks);
    forced here into three uneven blocks, with a padding mask and per-row positions."""
    from tinynlp.workers import BlockChoice

    m = gpt(dtype, tie_embeddings=False)
    B, T = 5, 9
    x = ids(B, T, seed=3)
    mask = np.ones((B, T), bool)
    mask[1, :3] = mask[4, :5] = False                       # left padding in two rows
    pos = np.maximum(np.cumsum(mask, 1) - 1, 0)
    m._block_choice = BlockChoice(force=False)
    with tn.no_grad():
        whole = m(x, padding_mask=mask, positions=pos).data
    asked = three_blocks
    m._block_choice = BlockChoice(force=True)
    with tn.no_grad():
        split = m(x, padding_mask=mask, positions=pos)
    assert asked == [B]
    assert isinstance(split, tn.Tensor) and split.shape == (B, T, V)
    assert split.dtype == np.dtype(dtype)
    np.testing.assert_allclose(split.data, whole, rtol=rtol, atol=rtol)
    # each block's rows are its own sequences: a changed row changes only that row
    y = x.copy()
    y[3] = (y[3] + 1) % V
    with tn.no_grad():
        other = m(y, padding_mask=mask, positions=pos).data
    np.testing.assert_allclose(np.delete(other, 3, 0), np.delete(whole, 3, 0), rtol=rtol,
                               atol=rtol)
    assert not np.allclose(other[3], whole[3])
    # errors inside a block reach the caller; a mask of the wrong shape is not cut
    bad = x.copy()
    bad[4, 0] = V
    with tn.no_grad(), pytest.raises(ValueError, match=r"token ids must be in \[0, 23\)"):
        m(bad)
    asked.clear()
    with tn.no_grad(), pytest.raises(ValueError):
        m(x, padding_mask=np.ones((B + 1, T), bool))
    assert asked == []


def test_no_blocks_when_training_recording_gradients_or_building(three_blocks):
    from tinynlp.workers import BlockChoice

    m = gpt()
    m(ids())                                                # built
    asked = three_blocks
    m._block_choice = BlockChoice(force=True)
    out = m(ids())                                          # gradients recorded
    assert out.requires_grad and asked == []
    with tn.no_grad():
        m(ids(), training=True)
        m(ids(B=1))                                         # one row
    assert asked == []
    with tn.no_grad():
        m(ids())
    assert asked == [3]
    fresh = gpt(seed=1)                                     # the first call builds: whole
    fresh._block_choice = BlockChoice(force=True)
    with tn.no_grad():
        fresh(ids())
    assert asked == [3]
