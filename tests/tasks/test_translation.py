import math
from pathlib import Path

import numpy as np
import pytest

import tinynlp as tn
from tinynlp.tasks import translation as tr


def test_teacher_forcing_batches():
    batches = tr.PairBatches([[5, 6, 7], [8]], [[9], [10, 11]], bos=2, eos=3, batch_size=2,
                             shuffle=False)
    (src, tin), tout = batches.make(np.array([0, 1]))
    np.testing.assert_array_equal(src, [[5, 6, 7], [8, 0, 0]])
    np.testing.assert_array_equal(tin, [[2, 9, 0], [2, 10, 11]])
    np.testing.assert_array_equal(tout, [[9, 3, 0], [10, 11, 3]])
    assert len(batches) == 1 and len(list(batches)) == 1


def test_detokenize():
    assert tr.detokenize(["and", "god", "said", ",", "let", "there", "be", "light", "."]) == \
        "and god said, let there be light."
    assert tr.tokenize("Y dijo Dios: Sea la luz.") == ["y", "dijo", "dios", ":", "sea", "la",
                                                       "luz", "."]


def test_padding_target_positions_are_ignored_by_the_loss():
    tn.random.seed(0)
    model = tr.Seq2Seq(9, 12, embedding_dim=4, units=5)
    model.compile(optimizer="adam",
                  loss=tn.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_index=0))
    src = np.array([[4, 5, 6], [7, 0, 0]])
    tin = np.array([[2, 5, 6, 0], [2, 7, 0, 0]])
    tout = np.array([[5, 6, 3, 0], [7, 3, 0, 0]])
    loss = model.evaluate([src, tin], tout, verbose=0)
    logits = model.predict([src, tin]).astype(np.float64)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(logp, tout[..., None], -1)[..., 0]
    assert loss == pytest.approx(-picked[tout != 0].mean(), rel=1e-5)


@pytest.fixture(scope="module")
def trained(quick_env, tmp_path_factory):
    out = tmp_path_factory.mktemp("translate")
    return tr.train(out=str(out), verbose=0, beam_size=3), out


def test_train_quick_and_evaluate_round_trip(trained, quick_env):
    result, out = trained
    assert result.metric == "BLEU ×100 (beam 3)"  # one scale everywhere, as sacreBLEU's
    assert 0.0 <= result.value <= 100.0 and math.isfinite(result.value)
    assert 0.0 <= result.baseline < 20.0  # Spanish copied as English
    assert result.extra["bleu_detail"].startswith(f"BLEU = {result.value:.2f} ")
    for name in ("model.tnz", "vocab.json", "learning_curves.png"):
        assert (Path(out) / name).stat().st_size > 0
    again = tr.evaluate(str(out), beam_size=3)
    assert again.value == pytest.approx(result.value)
    assert again.baseline == pytest.approx(result.baseline)
    if "sacrebleu" in result.extra:  # the `compare` extra is installed
        assert again.extra["sacrebleu"] == pytest.approx(result.extra["sacrebleu"])
        assert "case:lc" in result.extra["sacrebleu_signature"]


def test_sacre_bleu_scores_detokenized_text_against_raw_references():
    pytest.importorskip("sacrebleu")
    refs = ["And God said, Let there be light: and there was light.",
            "Jesus wept."]
    hyps = [tr.detokenize(tr.tokenize(r)) for r in refs]  # what a perfect model writes
    score, signature = tr.sacre_bleu(hyps, refs)
    assert score == pytest.approx(100.0)  # lowercased output is not penalised
    assert "tok:13a" in signature and "case:lc" in signature
    worse, _ = tr.sacre_bleu(["and god said, let there be darkness.", "jesus wept."], refs)
    assert 0.0 < worse < 100.0


def test_default_epochs_are_the_documented_ones():
    """The CLI and tools/task_table.py train with the recipe's default; the README row
    states that number of epochs."""
    assert tr.DEFAULT_EPOCHS == 5
    text = (Path(__file__).resolve().parents[2] / "docs" / "task_results.md").read_text(
        encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("- lstm seq2seq"):
            assert f"{tr.DEFAULT_EPOCHS} epochs" in line


def test_beam_size_1_is_greedy_decoding(trained):
    _, out = trained
    model, sv, tv, _ = tr.load(str(out))
    sources = ["Y dijo Dios: Sea la luz.", "Y muchos creyeron allí en él.",
               "El hijo de David.", "Jesús lloró."]
    ids = [sv.encode(tr.tokenize(s)) for s in sources]
    bos, eos = tv[tr.BOS], tv[tr.EOS]
    for s in ids:
        greedy = tr.greedy_decode(model, [s], bos, eos, max_len=30, batch_size=1)[0]
        assert tr.beam_search(model, s, bos, eos, beam_size=1, max_len=30) == greedy
    # wider beams return token lists too, never containing the specials
    for s in ids:
        out_ids = tr.beam_search(model, s, bos, eos, beam_size=4, max_len=30)
        assert bos not in out_ids and eos not in out_ids and 0 not in out_ids


@pytest.mark.parametrize("attention", [False, True])
def test_a_wide_beam_finds_the_best_length_normalised_translation(attention):
    """With a beam wider than the number of hypotheses nothing is pruned, so beam search
    must return the exhaustive search's best (Σ log p) / (words + 1)."""
    import itertools

    tn.random.seed(5)
    model = tr.Seq2Seq(6, 6, embedding_dim=3, units=4, attention=attention)
    # target vocabulary: pad unk bos eos a b
    bos, eos = 2, 3
    src = [4, 5, 4]
    max_len = 3

    def score(words):
        (s, tin), tout = tr.PairBatches([src], [list(words)], bos, eos,
                                        shuffle=False).make(np.array([0]))
        logits = model.predict([s, tin]).astype(np.float64)[0]
        logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        return logp[np.arange(len(tout[0])), tout[0]].sum() / (len(words) + 1)

    hypotheses = [w for n in range(max_len) for w in itertools.product([1, 4, 5], repeat=n)]
    best = max(hypotheses, key=score)
    found = tr.beam_search(model, src, bos, eos, beam_size=100, max_len=max_len)
    assert tuple(found) == best
    assert score(found) == pytest.approx(max(score(h) for h in hypotheses))


def test_translate_and_cli(trained, capsys):
    from tinynlp.cli import main

    _, out = trained
    a = tr.translate(["Y dijo Dios: Sea la luz."], str(out), beam_size=1)
    b = tr.translate("Y dijo Dios: Sea la luz.", str(out), beam_size=1)
    assert a == b and isinstance(a[0], str)
    with pytest.raises(ValueError, match="beam_size"):
        tr.translate(["hola"], str(out), beam_size=0)
    assert main(["translate", "Jesús lloró.", "--out", str(out), "--beam", "2"]) == 0
    assert "Jesús lloró.\t->\t" in capsys.readouterr().out


def test_attention_model_trains_round_trips_and_beam_1_is_greedy(quick, tmp_path):
    result = tr.train("attention", out=str(tmp_path), verbose=0, beam_size=2)
    assert result.model == "lstm seq2seq + attention" and math.isfinite(result.value)
    model, sv, tv, meta = tr.load(str(tmp_path))
    assert model.attention and meta["model"] == "attention"
    assert tr.evaluate(str(tmp_path), beam_size=2).value == pytest.approx(result.value)
    bos, eos = tv[tr.BOS], tv[tr.EOS]
    for text in ["Y dijo Dios: Sea la luz.", "Jesús lloró."]:
        s = sv.encode(tr.tokenize(text))
        greedy = tr.greedy_decode(model, [s], bos, eos, max_len=20, batch_size=1)[0]
        assert tr.beam_search(model, s, bos, eos, beam_size=1, max_len=20) == greedy


def test_attention_ignores_padded_source_positions():
    """Extra padding after a source sentence changes nothing in the output."""
    tn.random.seed(2)
    model = tr.Seq2Seq(9, 8, embedding_dim=4, units=5, attention=True)
    tin = np.array([[2, 5, 6]])
    a = model.predict([np.array([[4, 5, 6]]), tin])
    b = model.predict([np.array([[4, 5, 6, 0, 0, 0]]), tin])
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
