"""The translation task's Transformer: cached decoding equal to re-reading the prefix,
beam search over the caches equal to beam search without them (float64), padding, and
train → save → load → translate in quick mode."""

import itertools
import math

import numpy as np
import pytest

import tinynlp as tn
from tinynlp.tasks import translation as tr
from tinynlp.tasks.transformer_seq2seq import TransformerSeq2Seq

BOS, EOS = 2, 3


def small(dtype="float64", seed=0, **kw):
    tn.random.seed(seed)
    args = dict(src_vocab_size=11, tgt_vocab_size=9, hidden_dim=8, num_layers=2, num_heads=2,
                intermediate_dim=16, dropout=0.0, sequence_length=12, dtype=dtype)
    args.update(kw)
    model = TransformerSeq2Seq(**args)
    model([np.array([[4, 5]]), np.array([[BOS]])])            # build
    # spread the weights so that the hypotheses differ clearly (no near-ties)
    model.set_weights([w * 12.0 if w.ndim == 2 else w for w in model.get_weights()])
    return model


def test_cached_steps_equal_the_whole_prefix_with_padded_sources():
    model = small()
    src = np.array([[4, 5, 6, 7], [8, 9, 0, 0]])               # the second row is padded
    tgt = np.array([[BOS, 5, 6, 7, 8], [BOS, 4, 4, 5, 6]])
    full = model.predict([src, tgt]).astype(np.float64)
    dec = model.start_decoding(src, max_len=10)
    for t in range(tgt.shape[1]):
        np.testing.assert_allclose(dec.step(tgt[:, t]), full[:, t], rtol=1e-11, atol=1e-12)
    # padding the source further changes nothing
    wider = np.concatenate([src, np.zeros((2, 3), np.int64)], axis=1)
    np.testing.assert_allclose(model.predict([wider, tgt]), full, rtol=1e-11, atol=1e-12)


def test_reordered_caches_follow_their_rows():
    model = small()
    src = np.array([[4, 5, 6]])
    dec = model.start_decoding(src)
    dec.step([BOS])
    dec.reorder([0, 0, 0])                                     # three hypotheses
    dec.step([5, 6, 7])
    dec.reorder([2, 0])
    got = dec.step([4, 4])
    want = model.predict([np.repeat(src, 2, 0), np.array([[BOS, 7, 4], [BOS, 5, 4]])])
    np.testing.assert_allclose(got, want[:, -1], rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("beam", [1, 3, 5])
def test_beam_search_with_caches_equals_recomputing_the_prefix(beam):
    model = small()
    for src in ([4, 5, 6, 7, 8], [9, 10], [4]):
        cached = tr.beam_hypotheses(model, src, BOS, EOS, beam_size=beam, max_len=8)
        again = tr.beam_hypotheses(model, src, BOS, EOS, beam_size=beam, max_len=8,
                                   use_cache=False)
        assert [ids for _, ids in cached] == [ids for _, ids in again]
        np.testing.assert_allclose([s for s, _ in cached], [s for s, _ in again], rtol=1e-12)
        assert tr.beam_search(model, src, BOS, EOS, beam, 8) == cached[0][1]


@pytest.mark.parametrize("attention", [False, True])
def test_the_lstm_decoders_state_is_a_cache_too(attention):
    tn.random.seed(1)
    model = tr.Seq2Seq(11, 9, embedding_dim=4, units=5, attention=attention, dtype="float64")
    for src in ([4, 5, 6], [7]):
        a = tr.beam_hypotheses(model, src, BOS, EOS, beam_size=3, max_len=6)
        b = tr.beam_hypotheses(model, src, BOS, EOS, beam_size=3, max_len=6, use_cache=False)
        assert [ids for _, ids in a] == [ids for _, ids in b]
        np.testing.assert_allclose([s for s, _ in a], [s for s, _ in b], rtol=1e-10)


def test_a_wide_beam_finds_the_exhaustive_best():
    """Nothing is pruned with a beam wider than the hypotheses: the exhaustive best wins."""
    model = small(seed=3)
    src, max_len = [4, 5, 4], 3

    def score(words):
        tin = np.array([[BOS, *words]])
        tout = np.array([*words, EOS])
        logits = model.predict([np.array([src]), tin]).astype(np.float64)[0]
        logp = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(
            -1, keepdims=True)) - logits.max(-1, keepdims=True)
        return logp[np.arange(len(tout)), tout].sum() / (len(words) + 1)

    hypotheses = [w for n in range(max_len) for w in itertools.product([1, 4, 5, 6, 7, 8],
                                                                        repeat=n)]
    best = max(hypotheses, key=score)
    found = tr.beam_search(model, src, BOS, EOS, beam_size=400, max_len=max_len)
    assert tuple(found) == best


def test_greedy_batches_equal_one_at_a_time_and_beam_1():
    model = small(dtype="float32")
    sources = [[4, 5, 6, 7], [9], [10, 4]]
    batch = tr.greedy_decode(model, sources, BOS, EOS, max_len=9)
    for s, out in zip(sources, batch):
        assert tr.greedy_decode(model, [s], BOS, EOS, max_len=9) == [out]
        assert tr.beam_search(model, s, BOS, EOS, beam_size=1, max_len=9) == out
        assert 0 not in out and BOS not in out and EOS not in out
    # more steps than the learned positions: decoding stops at sequence_length
    long = tr.greedy_decode(model, sources, BOS, EOS, max_len=100)
    assert all(len(o) <= 12 for o in long)      # 12 steps: <bos> + 11 words fed


def test_errors():
    with pytest.raises(ValueError, match="hidden_dim 10 must divide by num_heads 4"):
        TransformerSeq2Seq(5, 5, hidden_dim=10, num_heads=4)
    model = small()
    with pytest.raises(ValueError, match="the source must be integer ids"):
        model([np.array([[1.5, 2.0]]), np.array([[BOS]])])
    with pytest.raises(ValueError, match="longer than the sequence_length 12"):
        model.predict([np.ones((1, 13), np.int64), np.array([[BOS]])])


@pytest.mark.slow
def test_train_quick_save_load_translate(quick, tmp_path):
    # greedy (batched) on the test verses: an untrained model writes max_len words each
    result = tr.train("transformer", out=str(tmp_path), verbose=0, beam_size=1)
    assert result.model == "transformer seq2seq" and math.isfinite(result.value)
    assert math.isfinite(result.extra["val_loss"]) and "2 encoder" in result.extra["architecture"]
    model, sv, tv, meta = tr.load(str(tmp_path))
    assert isinstance(model, TransformerSeq2Seq) and meta["model"] == "transformer"
    assert tr.evaluate(str(tmp_path), beam_size=1).value == pytest.approx(result.value)
    out = tr.translate(["Y dijo Dios: Sea la luz.", "Jesús lloró."], str(tmp_path), beam_size=2)
    assert len(out) == 2 and all(isinstance(t, str) for t in out)


def test_beam_search_evaluation_reports_progress_over_the_caches(capsys):
    # beam_search_all (what evaluate and translate use) runs the Transformer's cached
    # decoding under tinynlp.progress.Progress: the same hypotheses, one line when piped
    model = small()
    sources = [[4, 5, 6, 7, 8], [9, 10], [4]]
    got = tr.beam_search_all(model, sources, BOS, EOS, beam_size=3, verbose=2)
    assert got == [tr.beam_search(model, s, BOS, EOS, 3) for s in sources]
    out = capsys.readouterr().out
    assert out.startswith("beam search (beam 3) - ") and "/sentence" in out
    tr.beam_search_all(model, sources, BOS, EOS, beam_size=3, verbose=0)
    assert capsys.readouterr().out == ""
