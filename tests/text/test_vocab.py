"""Vocab: ordering, specials, encode/decode, save/load, errors."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinynlp.text import PAD, UNK, Vocab

DATA = [["b", "a", "c", "a"], ["a", "b", "d"], ["e"]]


def test_build_orders_by_frequency_then_alphabetically():
    v = Vocab.build(DATA)
    assert v.itos == ["<pad>", "<unk>", "a", "b", "c", "d", "e"]
    assert v.stoi["<pad>"] == 0 and v.stoi["<unk>"] == 1 and v.stoi["a"] == 2
    assert len(v) == 7 and "c" in v and "z" not in v
    assert v["z"] == 1 and v["b"] == 3
    assert v.counts["a"] == 3


def test_order_does_not_depend_on_data_order():
    assert Vocab.build(DATA) == Vocab.build(list(reversed(DATA)))


def test_min_freq_max_size_and_specials():
    v = Vocab.build(DATA, min_freq=2)
    assert v.itos == [PAD, UNK, "a", "b"]
    v = Vocab.build(DATA, max_size=4)
    assert v.itos == [PAD, UNK, "a", "b"]
    v = Vocab.build(DATA, specials=["<bos>", "<eos>"])
    assert v.itos[:4] == [PAD, UNK, "<bos>", "<eos>"]
    v = Vocab.build(DATA, specials=["<unk>", "<s>", "<pad>"])
    assert v.itos[:3] == [PAD, UNK, "<s>"]


def test_encode_decode():
    v = Vocab.build(DATA)
    ids = v.encode(["a", "zzz", "e"])
    assert ids == [2, 1, 6]
    assert v.decode(ids) == ["a", "<unk>", "e"]
    assert v.decode([2, 0, 0], skip_pad=True) == ["a"]
    with pytest.raises(ValueError, match=r"ids\[1\]: expected an id in \[0, 7\), got 99"):
        v.decode([2, 99])
    with pytest.raises(TypeError, match="tokens"):
        v.encode("abc")


@pytest.mark.parametrize("name", ["vocab.txt", "vocab.json"])
def test_save_load_round_trip(tmp_path, name):
    v = Vocab.build([["héllo", "wörld", "a b", "tab\there"]], specials=["<bos>"])
    path = tmp_path / name
    v.save(path)
    again = Vocab.load(path)
    assert again == v and again.itos == v.itos


def test_text_format_is_one_token_per_line(tmp_path):
    v = Vocab.build([["x", "y", "x"]])
    v.save(tmp_path / "v.txt")
    assert (tmp_path / "v.txt").read_text(encoding="utf-8") == "<pad>\n<unk>\nx\ny\n"


def test_newline_token_needs_json(tmp_path):
    v = Vocab.build([["line\nbreak"]])
    with pytest.raises(ValueError, match="json"):
        v.save(tmp_path / "v.txt")
    v.save(tmp_path / "v.json")
    assert Vocab.load(tmp_path / "v.json") == v


def test_build_errors():
    with pytest.raises(TypeError, match=r"token_lists\[0\]: expected a list of tokens, got a str"):
        Vocab.build(["not tokenized"])
    with pytest.raises(TypeError, match=r"token_lists\[0\]\[1\]"):
        Vocab.build([["a", 3]])
    with pytest.raises(ValueError, match="min_freq"):
        Vocab.build(DATA, min_freq=0)
    with pytest.raises(ValueError, match="max_size"):
        Vocab.build(DATA, max_size=1)
    with pytest.raises(ValueError, match="itos"):
        Vocab(["a", "b"])


@given(st.lists(st.lists(st.text(min_size=1, max_size=4), max_size=6), max_size=6),
       st.integers(1, 3))
def test_round_trip_property(token_lists, min_freq):
    v = Vocab.build(token_lists, min_freq=min_freq)
    assert v.itos[:2] == [PAD, UNK]
    assert len(set(v.itos)) == len(v)
    for tokens in token_lists:
        ids = v.encode(tokens)
        assert all(0 <= i < len(v) for i in ids)
        decoded = v.decode(ids)
        for t, d in zip(tokens, decoded):
            assert d == (t if t in v else UNK)
