"""The dialogue task on the tiny stand-in GPT (quick mode): the data layout the GPT is
trained on, the reply perplexity both models share, training, saving, and `tinynlp chat`
with piped standard input through the real entry point."""

import math
import subprocess
import sys
from pathlib import Path

import pytest

import tinynlp as tn
from tests.pretrained.tiny import tiny_gpt
from tinynlp import cli
from tinynlp.tasks import dialogue

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def runs(quick_env, tmp_path_factory):
    out = {}
    for model in dialogue.MODELS:
        folder = tmp_path_factory.mktemp(f"dialogue_{model}")
        out[model] = (dialogue.train(model, gpt=tiny_gpt(), out=str(folder), verbose=0,
                                     samples=3), folder)
    return out


def test_reply_batches_put_the_loss_on_the_reply_only():
    tok = tiny_gpt(steps=0).tokenizer
    user, bot, eos = dialogue.special_ids(tok)
    p, r = dialogue.encode_pair(tok, "hello there", "hi!")
    (x, y), = list(dialogue.ReplyBatches(tok, [p], [r], shuffle=False))
    seq = [user] + p + [bot] + r + [eos]
    assert x[0].tolist() == seq[:-1]
    assert y[0].tolist() == [-1] * (len(p) + 1) + r + [eos]      # the first target: reply[0]
    # padding: x with <|endoftext|>, y with -1
    (x, y), = list(dialogue.ReplyBatches(tok, [p, p[:1]], [r, r], shuffle=False,
                                         bucket_size=None))
    n = len(r) + 3                                               # the short row's length
    assert x.shape == (2, len(seq) - 1)
    assert (x[1, n:] == eos).all() and (y[1, n:] == -1).all() and y[1, n - 1] == eos


def test_context_alternates_speakers_and_keeps_the_end():
    tok = tiny_gpt(steps=0).tokenizer
    user, bot, _ = dialogue.special_ids(tok)
    ids = dialogue.context_ids(tok, ["hi", "hello", "how are you?"], 100)
    assert ids[0] == user and ids[-1] == bot
    assert [i for i in ids if i in (user, bot)] == [user, bot, user, bot]
    short = dialogue.context_ids(tok, ["hi", "hello", "how are you?"], 8)
    assert len(short) <= 8 and short[0] == user and short[-1] == bot
    assert [i for i in short if i in (user, bot)] == [user, bot]   # only the last turn fits
    with pytest.raises(ValueError, match="special tokens"):
        dialogue.special_ids(tn.text.BPETokenizer.train(["a b"] * 3, 260))


def test_reply_nll_is_the_models_own_loss():
    """Σ −log p over the reply tokens = the training loss (a mean over the same tokens) × N,
    for the GPT and for the seq2seq model: the perplexities compare."""
    gpt = tiny_gpt()
    tok = gpt.tokenizer
    (prompts, replies), _ = tn.datasets.load_dialogue()
    p, r = dialogue._encode_pairs(tok, prompts[:5], replies[:5], 16, 16)
    total, n = dialogue.reply_nll("tinygpt", gpt, tok, p, r)
    assert n == sum(len(x) + 1 for x in r)
    (x, y), = list(dialogue.ReplyBatches(tok, p, r, batch_size=8, shuffle=False))
    loss = tn.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_index=-1)
    assert total / n == pytest.approx(float(loss(y, gpt(x)).data), rel=1e-5)
    s2s = tn.tasks.translation.Seq2Seq(tok.vocab_size + 1, tok.vocab_size + 1, 8, 8)
    total, n2 = dialogue.reply_nll("seq2seq", s2s, tok, p, r)
    assert n2 == n and math.isfinite(total)


def test_unigram_perplexity_and_scores():
    assert dialogue.unigram_perplexity([[1, 1]], [[1]], vocab_size=4, eos=0) == pytest.approx(
        math.exp(-(math.log(3 / 7) + math.log(2 / 7)) / 2))
    s = dialogue.text_scores(["i do not know", "i do not know"], ["yes", "i do"])
    assert s["distinct_1"] == 0.5 and s["distinct_2"] == 0.5 and s["bleu"] == 0.0
    assert dialogue.retrieve(["hello there", "what is ai"], ["hi", "a field"], "What is AI?") \
        == "a field"


def test_train_quick_both_models(runs):
    for result, folder in runs.values():
        assert result.task == "dialogue" and math.isfinite(result.value) and result.value > 1
        assert result.baseline > 1 and result.extra["test_tokens"] > 0
        assert len(result.extra["samples"]) == 3
        assert 0 <= result.extra["distinct_1"] <= 1 and result.extra["bleu"] >= 0
        for name in ("model.tnz", "bpe.json", "dialogue.json", "learning_curves.png"):
            assert (Path(folder) / name).stat().st_size > 0
        again = dialogue.evaluate(folder)
        assert again.value == pytest.approx(result.value, rel=1e-4)


@pytest.mark.parametrize("model", dialogue.MODELS)
def test_chatbot_replies_and_is_reproducible(runs, model):
    bot = dialogue.Chatbot(runs[model][1])
    a = bot.reply(["hello", "hi", "how are you?"], seed=3)
    assert isinstance(a, str) and "<|" not in a
    assert bot.reply(["hello", "hi", "how are you?"], seed=3) == a
    assert isinstance(bot.reply("hello", temperature=0), str)


@pytest.mark.slow
def test_cli_chat_with_piped_stdin(runs):
    folder = runs["tinygpt"][1]
    cmd = [sys.executable, "-m", "tinynlp", "chat", "--model", str(folder), "--seed", "1",
           "--max-tokens", "8"]
    text = "hello\n\nwhat is ai?\n/reset\ntell me a joke\n/quit\nnever read\n"
    first = subprocess.run(cmd, input=text, capture_output=True, text=True, cwd=REPO, check=False,
                           timeout=120)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["bot", "bot", "(conversation reset)", "bot"]
    second = subprocess.run(cmd, input=text, capture_output=True, text=True, cwd=REPO, check=False,
                            timeout=120)
    assert second.stdout == first.stdout                      # --seed: the same replies
    missing = subprocess.run([sys.executable, "-m", "tinynlp", "chat", "--model",
                              str(folder / "nope")], input="", capture_output=True, text=True,
                             cwd=REPO, timeout=60, check=False)
    assert missing.returncode == 1 and "no such folder" in missing.stderr


def test_cli_train_dialogue_accepts_the_models(quick, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(dialogue, "load_pretrained", lambda name: tiny_gpt())
    assert cli.main(["train", "dialogue", "--model", "seq2seq", "--out", str(tmp_path),
                        "--verbose", "0"]) == 0
    assert "dialogue (seq2seq lstm)" in capsys.readouterr().out
    assert cli.main(["train", "dialogue", "--model", "gpt2"]) == 1
