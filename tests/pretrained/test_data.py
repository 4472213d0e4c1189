"""The pretraining data: documents joined with <|endoftext|>, the cached uint16 stream,
random training windows, fixed validation windows, cross-entropy and the unigram baseline."""

import os

import numpy as np
import pytest

from tinynlp.pretrained.data import (
    cached_token_stream,
    cross_entropy,
    encode_documents,
    sample_batch,
    unigram_cross_entropy,
    validation_windows,
)
from tinynlp.text import BPETokenizer

DOCS = ["the cat sat on the mat.", "a dog <|endoftext|> barked", "the end"]


@pytest.fixture(scope="module")
def tok():
    return BPETokenizer.train(DOCS * 5, 280, special_tokens=("<|endoftext|>", "<|user|>"))


def test_documents_are_joined_with_endoftext(tok):
    ids = encode_documents(tok, DOCS)
    assert ids.dtype == np.uint16
    ends = np.flatnonzero(ids == tok.eos_id)
    assert len(ends) == 3 and ends[-1] == len(ids) - 1      # one marker after each document
    pieces = np.split(ids, ends + 1)[:-1]
    # a literal "<|endoftext|>" inside a document stays ordinary text
    assert [tok.decode(p[:-1].tolist()) for p in pieces] == DOCS
    with pytest.raises(ValueError, match="no '<\\|endoftext\\|>' special token"):
        encode_documents(BPETokenizer.train(DOCS, 270, special_tokens=()), DOCS)


def test_stream_is_cached_memory_mapped_and_keyed_by_tokenizer_and_text(tok, tmp_path):
    s = cached_token_stream(tok, DOCS, tmp_path, "train")
    assert isinstance(s.ids, np.memmap) and len(s) == len(encode_documents(tok, DOCS))
    np.testing.assert_array_equal(s.ids, encode_documents(tok, DOCS))
    mtime = os.path.getmtime(s.path)
    again = cached_token_stream(tok, DOCS, tmp_path, "train")
    assert again.path == s.path and os.path.getmtime(s.path) == mtime      # reused
    other_text = cached_token_stream(tok, DOCS[:2], tmp_path, "train")
    other_tok = cached_token_stream(BPETokenizer.train(DOCS, 270), DOCS, tmp_path, "train")
    assert len({s.path, other_text.path, other_tok.path}) == 3


def test_sample_batch_windows_and_shift():
    ids = np.arange(1000, dtype=np.uint16)
    x, y = sample_batch(ids, np.random.default_rng(0), 5, 16)
    assert x.shape == y.shape == (5, 16) and x.dtype == np.int64
    np.testing.assert_array_equal(y[:, :-1], x[:, 1:])               # the next token
    np.testing.assert_array_equal(np.diff(x, axis=1), 1)             # consecutive ids
    x2, _ = sample_batch(ids, np.random.default_rng(0), 5, 16)
    np.testing.assert_array_equal(x, x2)                             # seeded
    # every start is possible: the last window ends at the last id
    starts = np.concatenate([sample_batch(np.arange(20), np.random.default_rng(s), 50, 16)[0][:, 0]
                             for s in range(5)])
    assert starts.min() == 0 and starts.max() == 3
    with pytest.raises(ValueError, match="fewer than one window"):
        sample_batch(np.arange(10), np.random.default_rng(0), 2, 16)


def test_validation_windows_are_consecutive_and_disjoint():
    ids = np.arange(50)
    x, y = validation_windows(ids, 8)
    assert x.shape == (6, 8)
    np.testing.assert_array_equal(x.reshape(-1), np.arange(48))
    np.testing.assert_array_equal(y.reshape(-1), np.arange(1, 49))
    assert validation_windows(ids, 8, max_windows=2)[0].shape == (2, 8)


def test_cross_entropy_and_unigram_baseline():
    rng = np.random.default_rng(0)
    logits = (rng.standard_normal((2, 3, 7)) * 30).astype(np.float32)   # large: no overflow
    t = rng.integers(0, 7, (2, 3))
    z = logits.astype(np.float64)
    p = np.exp(z - z.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    want = -np.log(np.take_along_axis(p, t[..., None], -1)[..., 0])
    np.testing.assert_allclose(cross_entropy(logits, t), want, rtol=1e-10)
    train = np.array([0, 0, 0, 1])
    got = unigram_cross_entropy(train, np.array([0, 1, 2]), vocab_size=3)
    assert got == pytest.approx(-np.mean(np.log([4 / 7, 2 / 7, 1 / 7])))
