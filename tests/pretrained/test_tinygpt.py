"""The shipped tinygpt: loads offline from the package, is compact, models text far better
than the unigram baseline, and generates."""

import math
import os
import socket

import numpy as np
import pytest

import tinynlp as tn
from tinynlp.pretrained.data import (
    encode_documents,
    unigram_cross_entropy,
    validation_windows,
)
from tinynlp.pretrained.shipped import SHIPPED_DIR
from tinynlp.pretrained.train import evaluate_loss
from tinynlp.text import BPETokenizer


def test_unknown_name_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown model 'bigpt'; available: \[.*'tinygpt'"):
        tn.pretrained.load("bigpt")


# ---- the shipped model ------------------------------------------------------------------

def _no_network(*args, **kwargs):
    raise AssertionError("tn.pretrained.load tried to open a network connection")


@pytest.fixture(scope="module")
def tinygpt():
    """Loaded with sockets disabled: everything comes from the package."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", _no_network)
        mp.setattr(socket, "create_connection", _no_network)
        return tn.pretrained.load("tinygpt")


def test_tinygpt_is_shipped_compactly(tinygpt):
    assert "tinygpt" in tn.pretrained.available()
    folder = os.path.join(SHIPPED_DIR, "tinygpt")
    assert os.path.getsize(os.path.join(folder, "weights.npz")) <= 10 * 2 ** 20
    with np.load(os.path.join(folder, "weights.npz")) as npz:
        assert {npz[k].dtype for k in npz.files} == {np.dtype("float16")}
    assert isinstance(tinygpt, tn.models.GPT)
    assert all(p.data.dtype == np.float32 for p in tinygpt.weights)
    assert isinstance(tinygpt.tokenizer, BPETokenizer)
    assert tinygpt.tokenizer.vocab_size == tinygpt.vocab_size == 4096
    assert tinygpt.tokenizer.eos_id is not None
    info = tinygpt.pretrained_info
    assert info["parameters"] == sum(p.data.size for p in tinygpt.weights)
    assert info["tokens_seen"] >= info["train_tokens"] > 5_000_000         # about one pass
    assert info["val_perplexity"] == pytest.approx(math.exp(info["val_loss"]), rel=1e-4)
    assert info["command"].startswith("python tools/pretrain_gpt.py")


#: the shipped model's loss on the slice below, measured once (nats/token; the unigram
#: baseline of the slice is 7.081, perplexity 1,189 against the GPT's 106.0)
SLICE_LOSS = 4.663


@pytest.mark.slow
def test_tinygpt_perplexity_is_far_below_the_unigram_baseline(tinygpt):
    """On a slice of the validation split (3,072 tokens): the unigram model of a slice of
    the training split (add-one smoothed) against the GPT, both on the same tokens.  The
    margin (0.1 nat) is for other BLAS builds and float rounding; an untrained model is at
    about 8.3, a damaged weight file far above the measured loss."""
    tok = tinygpt.tokenizer
    train = tn.datasets.load_pretraining_corpus("train", verbose=False)[::40]
    val = tn.datasets.load_pretraining_corpus("validation", verbose=False)[::10]
    x, y = validation_windows(encode_documents(tok, val), tinygpt.sequence_length, 24)
    unigram = unigram_cross_entropy(encode_documents(tok, train), y.reshape(-1), tok.vocab_size)
    loss = evaluate_loss(tinygpt, x, y)
    assert loss < SLICE_LOSS + 0.1, loss
    assert np.exp(loss) < np.exp(unigram) / 8, (np.exp(loss), np.exp(unigram))


def test_tinygpt_generates(tinygpt):
    tok = tinygpt.tokenizer
    prompt = tok.encode("And the king said")
    a = tinygpt.generate(prompt, 12, temperature=0.8, top_k=40, seed=0)
    b = tinygpt.generate(prompt, 12, temperature=0.8, top_k=40, seed=0)
    np.testing.assert_array_equal(a, b)
    assert len(a) == len(prompt) + 12 and list(a[:len(prompt)]) == prompt
    text = tok.decode(a.tolist())
    assert text.startswith("And the king said") and len(text) > len("And the king said")
    greedy = tinygpt.generate(prompt, 8, temperature=0)
    np.testing.assert_array_equal(greedy, tinygpt.generate(prompt, 8, top_k=1))
