import math
from pathlib import Path

import numpy as np
import pytest

import tinynlp as tn
from tinynlp.autograd import no_grad
from tinynlp.tasks import language_model as lm
from tinynlp.tasks.language_model import sample_next


# ------------------------------------------------------------------ sampling
def test_top_k_1_is_the_argmax_whatever_the_seed():
    logits = np.array([0.1, 2.0, 1.9, -3.0])
    picks = {sample_next(logits, temperature=t, top_k=1, rng=np.random.default_rng(s))
             for s in range(20) for t in (0.1, 1.0, 5.0)}
    assert picks == {1}


def test_top_k_restricts_the_support_and_temperature_sharpens():
    logits = np.log(np.array([0.05, 0.4, 0.3, 0.2, 0.05]))
    rng = np.random.default_rng(0)
    draws = [sample_next(logits, 1.0, 2, rng) for _ in range(400)]
    assert set(draws) == {1, 2}
    # p(1) / p(2) = 0.4 / 0.3 at temperature 1 → about 0.57 of the draws
    assert 0.47 < np.mean(np.array(draws) == 1) < 0.67
    cold = [sample_next(logits, 0.05, None, rng) for _ in range(200)]
    assert np.mean(np.array(cold) == 1) > 0.95
    hot = [sample_next(logits, 100.0, None, rng) for _ in range(1000)]
    assert np.mean(np.array(hot) == 0) > 0.12  # nearly uniform: 0.2 each


def test_sampling_errors():
    with pytest.raises(ValueError, match="temperature must be > 0"):
        sample_next([1.0, 2.0], temperature=0)
    with pytest.raises(ValueError, match="top_k must be None or a positive int"):
        sample_next([1.0, 2.0], top_k=0)


# ------------------------------------------------------------------ baseline and batches
def test_unigram_perplexity_by_hand():
    # vocab of 4 ids; train counts id2: 3, id3: 1 → p = (c + 1) / (4 + 4)
    train, test = [2, 2, 2, 3], [2, 3, 3]
    p = {2: 4 / 8, 3: 2 / 8}
    expected = math.exp(-(math.log(p[3]) + math.log(p[3])) / 2)  # the first token is skipped
    assert lm.unigram_perplexity(train, test, 4, skip_first=1) == pytest.approx(expected)


def test_window_batches_are_shifted_by_one():
    ids = np.arange(1000)
    batches = lm.WindowBatches(ids, seq_len=10, batch_size=4, tokens_per_epoch=200)
    assert len(batches) == 5
    seen = list(batches)
    assert len(seen) == 5
    for x, y in seen:
        assert x.shape == y.shape == (4, 10)
        np.testing.assert_array_equal(y, x + 1)
        np.testing.assert_array_equal(np.diff(x, axis=1), 1)  # contiguous windows
    with pytest.raises(ValueError, match="fewer than"):
        lm.WindowBatches(np.arange(5), seq_len=10)


def test_stateful_perplexity_equals_reading_each_stream_at_once():
    tn.random.seed(3)
    model = lm.RNNLanguageModel(vocab_size=7, embedding_dim=3, units=5)
    ids = np.random.default_rng(0).integers(0, 7, size=203)
    ppl, nll, count = lm.perplexity(model, ids, streams=4, seq_len=7)
    # the same streams read in one piece each
    n = len(ids) // 4
    grid = ids[:4 * n].reshape(4, n)
    with no_grad():
        logits = model(grid[:, :-1]).data.astype(np.float64)
    logp = logits - logits.max(-1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
    picked = np.take_along_axis(logp, grid[:, 1:, None], axis=-1)
    assert count == picked.size == len(lm._predicted_positions(len(ids), 4))
    assert nll == pytest.approx(-picked.mean(), rel=1e-5)
    assert ppl == pytest.approx(math.exp(-picked.mean()), rel=1e-5)


# ------------------------------------------------------------------ training and generation
@pytest.fixture(scope="module")
def trained(quick_env, tmp_path_factory):
    out = tmp_path_factory.mktemp("lm")
    return lm.train("lstm", out=str(out), verbose=0), out


def test_train_quick_and_evaluate_round_trip(trained, quick_env):
    result, out = trained
    assert result.metric == "perplexity" and result.model == "char lstm"
    assert math.isfinite(result.value) and result.value > 1.0
    assert 5.0 < result.baseline < 60.0  # characters: a few dozen symbols
    for name in ("model.tnz", "vocab.json", "learning_curves.png"):
        assert (Path(out) / name).stat().st_size > 0
    again = lm.evaluate(str(out))
    assert again.value == pytest.approx(result.value, rel=1e-5)
    assert again.baseline == pytest.approx(result.baseline)


def test_greedy_generation_is_deterministic_and_matches_rereading_the_context(trained):
    _, out = trained
    a = lm.generate("ROMEO: ", str(out), length=25, top_k=1, seed=0)
    b = lm.generate("ROMEO: ", str(out), length=25, top_k=1, seed=99, temperature=3.0)
    assert a == b and a.startswith("ROMEO: ") and len(a) == len("ROMEO: ") + 25
    # stateful stepping = re-reading the whole growing context at every step
    model, vocab, _ = lm.load(str(out))
    context = vocab.encode(list("ROMEO: "))
    with no_grad():
        for _ in range(25):
            logits = model(np.array([context])).data[0, -1].astype(np.float64)
            logits[vocab.pad_id] = -np.inf
            context.append(int(np.argmax(logits)))
    assert a == "".join(vocab.decode(context))


def test_sampled_generation_depends_on_the_seed_only(trained):
    _, out = trained
    a = lm.generate("", str(out), length=40, temperature=1.0, top_k=5, seed=1)
    b = lm.generate("", str(out), length=40, temperature=1.0, top_k=5, seed=1)
    assert a == b and len(a) == 40 and "<pad>" not in a


def test_cli_generate(trained, capsys):
    from tinynlp.cli import main

    _, out = trained
    assert main(["generate", "--prompt", "To be", "--out", str(out), "--length", "10",
                 "--top-k", "1"]) == 0
    assert capsys.readouterr().out.startswith("To be")
    assert main(["generate", "--out", str(out) + "-missing"]) == 1


@pytest.mark.slow
@pytest.mark.parametrize("model", ["rnn", "word"])
def test_other_models_train_quick(model, quick, tmp_path):
    result = lm.train(model, out=str(tmp_path), verbose=0)
    assert math.isfinite(result.value) and result.value > 1.0
    text = lm.generate("the" if model == "word" else "A", str(tmp_path), length=5, top_k=1)
    assert "<unk>" not in text and "<pad>" not in text


# ------------------------------------------------------------------ the GPT
@pytest.fixture(scope="module")
def trained_gpt(quick_env, tmp_path_factory):
    out = tmp_path_factory.mktemp("lm_gpt")
    return lm.train("gpt", out=str(out), verbose=0, plot=False), out


def test_window_perplexity_predicts_the_streams_tokens_from_their_windows():
    tn.random.seed(4)
    model = tn.models.GPT(7, 8, 1, 2, 8, 16, dtype="float64")
    ids = np.random.default_rng(1).integers(0, 7, size=123)
    streams = 3
    n = len(ids) // streams
    grid = ids[:streams * n].reshape(streams, n)
    # stride 1: every target sees the whole window of up to 8 tokens before it
    nll = []
    with no_grad():
        for j in range(1, n):
            logits = model(grid[:, max(0, j - 8):j]).data[:, -1]
            logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
            nll.extend(-logp[np.arange(streams), grid[:, j]])
    ppl, mean, count = lm.window_perplexity(model, ids, streams=streams, stride=1)
    assert count == len(nll) == len(lm._predicted_positions(len(ids), streams))
    assert mean == pytest.approx(np.mean(nll), rel=1e-10)
    # wider strides predict the same tokens, from shorter contexts on average
    for stride in (3, 8):
        assert lm.window_perplexity(model, ids, streams, stride=stride)[2] == count
    with pytest.raises(ValueError, match="stride must be in"):
        lm.window_perplexity(model, ids, stride=9)


def test_gpt_trains_quick_saves_loads_and_generates(trained_gpt):
    result, out = trained_gpt
    assert result.model == "char gpt" and math.isfinite(result.value) and result.value > 1.0
    assert "2 layers" in result.extra["architecture"]
    model, vocab, meta = lm.load(str(out))
    assert isinstance(model, tn.models.GPT) and meta["model"] == "gpt"
    assert lm.evaluate(str(out)).value == pytest.approx(result.value, rel=1e-5)
    # generate() is the GPT's own sampler, never writing <pad>
    text = lm.generate("ROMEO:", str(out), length=30, temperature=1.5, seed=3)
    ids = vocab.encode(list("ROMEO:"))
    new = model.generate(ids, 30, temperature=1.5, seed=3, suppress_tokens=[vocab.pad_id])
    assert text == "ROMEO:" + "".join(vocab.itos[i] for i in new[len(ids):])
    assert "<pad>" not in lm.generate("", str(out), length=300, temperature=3.0, seed=1)
    greedy = lm.generate("A", str(out), length=25, temperature=0)
    assert greedy == lm.generate("A", str(out), length=25, top_k=1, seed=9)
    pieces = list(lm.generate_stream("KING:", str(out), length=12, seed=5))
    assert pieces[0] == "KING:" and len(pieces) == 13
    assert "".join(pieces) == lm.generate("KING:", str(out), length=12, seed=5)
    with pytest.raises(ValueError, match="holds a 'gpt' language model, not 'lstm'"):
        lm.generate_stream("", str(out), model="lstm")
    with pytest.raises(ValueError, match="unknown model 'bert'"):
        lm.generate_stream("", str(out), model="bert")


@pytest.mark.slow
def test_cli_generate_streams_through_the_real_entry_point(trained_gpt):
    import os
    import subprocess
    import sys

    _, out = trained_gpt
    cmd = [sys.executable, "-m", "tinynlp", "generate", "--prompt", "ROMEO:",
           "--seed", "3", "--temperature", "0.9"]
    env = dict(os.environ, PYTHONUNBUFFERED="0")     # the command flushes by itself
    # runs/ holds only the GPT's run: --model gpt finds it as the most recent gpt run
    runs = out.parent / "runs_gpt_only"
    runs.mkdir(exist_ok=True)
    if not (runs / "lm").exists():
        (runs / "lm").symlink_to(out, target_is_directory=True)
    env["TINYNLP_RUNS"] = str(runs)
    done = subprocess.run(cmd + ["--length", "40", "--model", "gpt"], capture_output=True,
                          text=True, env=env, timeout=120)
    assert "using" in done.stderr and "gpt" in done.stderr
    cmd += ["--model", str(out)]
    assert done.returncode == 0, done.stderr
    assert done.stdout == lm.generate("ROMEO:", str(out), length=40, temperature=0.9,
                                      seed=3) + "\n"
    # a long generation: its first characters arrive while it is still writing
    proc = subprocess.Popen(cmd + ["--length", "100000"], stdout=subprocess.PIPE, env=env)
    try:
        first = proc.stdout.read(len("ROMEO:") + 5)
        assert first.decode().startswith("ROMEO:")
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
    # a model name with no run of its own is one line naming it
    wrong = subprocess.run(cmd[:-2] + ["--model", "lstm"], capture_output=True, text=True,
                           env=env, timeout=120)
    assert wrong.returncode == 1 and "no lstm run" in wrong.stderr
