"""Byte-level BPE: pre-split rule, merge loops (textbook = fast), encode / decode, files."""

import json
import os
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinynlp.text import BPETokenizer
from tinynlp.text.bpe_train import (
    count_chunks,
    learn_merges,
    learn_merges_reference,
    merge_pair,
)
from tinynlp.text.byte_level import (
    bytes_to_unicode,
    pre_split,
    token_bytes_to_str,
    token_str_to_bytes,
)

TRAIN = [
    "The quick brown fox jumps over the lazy dog. The dog didn't mind; it's lazy.",
    "Numbers: 1234, 56.78 and 1,000,000 -- also Ⅻ and ½ (non-ASCII numbers).",
    "Ünïcödé wörds, naïve café, Straße, 東京は大きい, русский текст, ελληνικά.",
    "Emoji 😀😀 👍🏽 and combining marks: e\u0301, a\u0308, n\u0303.",
    "Tabs\tand  double  spaces\n\nand new lines\r\n  indented line.",
    "I'm sure they'll say we've done what you'd've thought: it's THE END'S end.",
] * 20


@pytest.fixture(scope="module")
def tok():
    return BPETokenizer.train(TRAIN, vocab_size=400, special_tokens=("<|endoftext|>", "<|user|>"))


# ------------------------------------------------------------------ pre-split
def test_pre_split_examples():
    assert pre_split("Hello, world!  It's 2024.") == [
        "Hello", ",", " world", "!", " ", " It", "'s", " 2024", "."]
    # contractions only when not followed by a letter; the curly apostrophe too
    assert pre_split("don't 'sorry we’ll") == ["don", "'t", " '", "sorry", " we", "’ll"]
    # combining marks stay inside their word; non-Latin letters are letters
    assert pre_split("caf\u00e9 e\u0301t\u00e9 東京") == ["café", " e\u0301té", " 東京"]
    # numbers of every category are one run; symbols/emoji are "other"
    assert pre_split("x 12½Ⅻ 😀😀!") == ["x", " 12½Ⅻ", " 😀😀!"]
    # the last space of a run goes with the next word; trailing spaces stay one chunk
    assert pre_split("a   b\n\nc  ") == ["a", "  ", " b", "\n", "\n", "c", "  "]


@given(st.text())
def test_pre_split_concatenates_back(text):
    assert "".join(pre_split(text)) == text


def test_pre_split_rejects_non_str():
    with pytest.raises(TypeError, match="text: expected a str"):
        pre_split(b"bytes")


def test_byte_alphabet():
    table = bytes_to_unicode()
    assert len(set(table)) == 256 and all(ch.isprintable() for ch in table)
    assert table[ord("a")] == "a" and table[ord(" ")] == "\u0120" and table[10] == "\u010a"
    assert token_bytes_to_str(b" the") == "\u0120the"
    assert token_str_to_bytes("\u0120the") == b" the"
    assert token_str_to_bytes("\u4e00") is None
    assert all(token_str_to_bytes(ch) == bytes([b]) for b, ch in enumerate(table))


# ---------------------------------------------------------------- merge loops
def test_merge_pair_left_to_right():
    assert merge_pair([1, 1, 1, 2, 1, 1], (1, 1), 9) == [9, 1, 2, 9]
    assert merge_pair([1, 2, 1, 2], (1, 2), 7) == [7, 7]
    assert merge_pair([3], (1, 2), 7) == [3]


def test_textbook_loop_by_hand():
    # pairs: (a,b) 5+3=8, (b,c) 5, (b,b) 3 -> merge (a,b)=256 first
    table = {b"abc": 5, b"abb": 3}
    assert learn_merges_reference(table, 10, min_frequency=1) == [
        (97, 98), (256, 99), (256, 98)]
    # ties go to the smaller pair: (a,b) and (c,d) both 4 -> (a,b) first
    assert learn_merges_reference({b"cd": 4, b"ab": 4}, 2, 1) == [(97, 98), (99, 100)]
    # min_frequency stops the loop
    assert learn_merges_reference({b"ab": 1, b"cd": 2}, 5, min_frequency=2) == [(99, 100)]
    # overlapping pairs count twice
    assert learn_merges_reference({b"aaa": 1, b"bc": 1}, 1, 1) == [(97, 97)]


words = st.dictionaries(
    st.text(alphabet="abcab ", min_size=1, max_size=8).map(lambda s: s.encode()),
    st.integers(1, 6), min_size=1, max_size=25)


@settings(max_examples=150, deadline=None)
@given(words, st.integers(0, 30), st.integers(1, 3))
def test_fast_loop_equals_textbook(table, num_merges, min_frequency):
    ref = learn_merges_reference(table, num_merges, min_frequency)
    assert learn_merges(table, num_merges, min_frequency) == ref
    # the result does not depend on the order of the table
    items = list(table.items())
    random.Random(0).shuffle(items)
    assert learn_merges(dict(items), num_merges, min_frequency) == ref


def test_fast_loop_equals_textbook_on_real_text():
    from tinynlp.data.datasets import load_rotten_tomatoes
    (x, _), _ = load_rotten_tomatoes()
    table = count_chunks(x[:300])
    ref = learn_merges_reference(table, 150)
    assert len(ref) == 150
    assert learn_merges(table, 150) == ref


def test_merge_loop_argument_errors():
    with pytest.raises(ValueError, match="num_merges"):
        learn_merges({b"ab": 2}, -1)
    with pytest.raises(ValueError, match="min_frequency"):
        learn_merges_reference({b"ab": 2}, 1, min_frequency=0)
    with pytest.raises(TypeError, match="word_counts"):
        learn_merges([b"ab"], 1)


def test_count_chunks_cuts_out_specials():
    table = count_chunks(["a<|x|>b a", "b"], special_tokens=("<|x|>",))
    assert table == {b"a": 1, b"b": 2, b" a": 1}
    with pytest.raises(TypeError, match=r"texts\[1\]: expected a str"):
        count_chunks(["ok", 3])


# ---------------------------------------------------------------------- train
def test_train_layout_and_specials(tok):
    assert tok.vocab_size == 400 == len(tok)
    assert len(tok.merges) == 400 - 256 - 2
    assert tok.special_tokens == {"<|endoftext|>": 398, "<|user|>": 399}
    assert tok.eos_id == 398
    assert tok.id_to_token(398) == "<|endoftext|>" and tok.token_to_id("<|user|>") == 399
    # merges learned from the text: " the" is a token
    assert tok.token_to_id("\u0120the") is not None


def test_train_is_deterministic_and_order_free():
    shuffled = list(TRAIN)
    random.Random(1).shuffle(shuffled)
    a = BPETokenizer.train(TRAIN, 330)
    b = BPETokenizer.train(iter(shuffled), 330)        # a generator is fine too
    assert a == b and a.merges == b.merges


def test_train_stops_when_no_pair_is_frequent_enough():
    t = BPETokenizer.train(["ab ab ab cd"], vocab_size=1000, min_frequency=2)
    assert t.merges == [(97, 98), (32, 256)] and t.vocab_size == 256 + 2 + 1


def test_train_argument_errors():
    with pytest.raises(ValueError, match="vocab_size"):
        BPETokenizer.train(["a"], vocab_size=256)            # no room for the special
    with pytest.raises(TypeError, match="single str"):
        BPETokenizer.train("abc", vocab_size=300)
    with pytest.raises(ValueError, match="special_tokens"):
        BPETokenizer.train(["a"], 300, special_tokens=("<s>", "<s>"))
    with pytest.raises(ValueError, match="lone surrogate"):
        BPETokenizer.train(["ab\ud800"], 300)


# --------------------------------------------------------------------- encode
def _encode_by_replaying_merges(tok, chunk):
    ids = list(chunk.encode("utf-8"))
    for r, pair in enumerate(tok.merges):
        ids = merge_pair(ids, pair, 256 + r)
    return ids


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet="the quick brown fox dog's lazy 1234 éü😀\n", max_size=60))
def test_encode_by_rank_equals_replaying_merges(tok, text):
    want = [i for c in pre_split(text) for i in _encode_by_replaying_merges(tok, c)]
    assert tok.encode(text) == want


texts = st.one_of(
    st.text(),                                                   # any Unicode, no surrogates
    st.lists(st.sampled_from(
        ["\x00", " ", "  ", "\t", "\n", "\r\n", "e\u0301", "😀", "👍🏽", "東", "'s", "Ⅻ",
         "the", " dog", "<|endoftext|>", "<|user", "|>", "\u200d", "\ufeff", "\U0010ffff"]),
        max_size=30).map("".join),
)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts)
def test_round_trip_any_unicode(tok, text):
    for allowed in ("all", "none"):
        ids = tok.encode(text, allowed_special=allowed)
        assert all(0 <= i < tok.vocab_size for i in ids)
        assert tok.decode(ids, errors="strict") == text


def test_allowed_special():
    t = BPETokenizer.train(TRAIN, 300, special_tokens=("<|endoftext|>", "<|user|>"))
    plain = BPETokenizer(t.merges, special_tokens=())
    s = "hi<|user|> there <|endoftext|>"
    ids = t.encode(s)
    assert ids.count(t.eos_id) == 1 and ids.count(t.special_tokens["<|user|>"]) == 1
    # "none" (or False): specials are ordinary text, as for a tokenizer without specials
    assert t.encode(s, allowed_special="none") == plain.encode(s) == t.encode(s, False)
    assert t.eos_id not in t.encode(s, allowed_special="none")
    # a subset: only those become special ids; the rest is text as if not special
    sub = t.encode(s, allowed_special={"<|endoftext|>"})
    assert sub == plain.encode("hi<|user|> there ") + [t.eos_id]
    with pytest.raises(ValueError, match="allowed_special"):
        t.encode(s, allowed_special={"<|bot|>"})
    with pytest.raises(ValueError, match="allowed_special"):
        t.encode(s, allowed_special="some")


def test_encode_batch_and_errors(tok):
    batch = ["the dog", "", "😀 fox"]
    assert tok.encode_batch(batch) == [tok.encode(t) for t in batch]
    assert tok.encode("") == []
    with pytest.raises(TypeError, match="text: expected a str"):
        tok.encode(None)
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        tok.encode_batch(["a", 1])
    with pytest.raises(TypeError, match="single str"):
        tok.encode_batch("abc")
    with pytest.raises(ValueError, match="lone surrogate"):
        tok.encode("a\udc80b")


def test_cache_does_not_change_results():
    t = BPETokenizer.train(TRAIN, 320)
    small = BPETokenizer(t.merges, cache_size=2)
    none = BPETokenizer(t.merges, cache_size=0)
    text = " ".join(TRAIN[:6])
    assert small.encode(text) == none.encode(text) == t.encode(text)
    assert len(small._cache) <= 2 and len(none._cache) == 0


# --------------------------------------------------------------------- decode
def test_decode_errors(tok):
    assert tok.decode([]) == "" and tok.decode(np.array([], dtype=np.int64)) == ""
    ids = tok.encode("the lazy dog")
    assert tok.decode(np.array(ids, dtype=np.int32)) == "the lazy dog"
    assert tok.decode(tuple(ids)) == "the lazy dog"
    with pytest.raises(ValueError, match=r"ids\[1\]: token id 400 is out of range \[0, 400\)"):
        tok.decode([1, 400])
    with pytest.raises(ValueError, match=r"ids\[0\]: token id -1 is out of range"):
        tok.decode([-1])
    with pytest.raises(TypeError, match=r"ids\[0\]: expected an int"):
        tok.decode([1.0])
    with pytest.raises(TypeError, match="1-D integer array"):
        tok.decode(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="sequence of int"):
        tok.decode("abc")
    # a character cut in two: replaced by default, an error when strict
    emoji = list("😀".encode("utf-8"))
    assert tok.decode(emoji[:2]) == "\ufffd"
    with pytest.raises(UnicodeDecodeError):
        tok.decode(emoji[:2], errors="strict")
    assert tok.decode_batch([ids, emoji]) == ["the lazy dog", "😀"]


def test_vocabulary_lookups(tok):
    for i in range(tok.vocab_size):
        assert tok.token_to_id(tok.id_to_token(i)) == i
        assert tok.decode([i], errors="ignore") == tok.id_to_bytes(i).decode("utf-8", "ignore")
    assert tok.get_vocab()["\u0120the"] == tok.token_to_id("\u0120the")
    assert tok.token_to_id("not a token at all") is None
    with pytest.raises(ValueError, match="out of range"):
        tok.id_to_token(tok.vocab_size)
    with pytest.raises(TypeError, match="expected an int"):
        tok.id_to_token("3")


def test_two_merges_building_the_same_bytes():
    # ab, bc, then (ab)c and a(bc): two ids for "abc"
    t = BPETokenizer([(97, 98), (98, 99), (256, 99), (97, 257)], special_tokens=())
    assert t.id_to_bytes(258) == t.id_to_bytes(259) == b"abc"
    assert t.token_to_id("abc") == 258 and t.get_vocab()["abc"] == 258
    assert t.decode([259, 258]) == "abcabc" and t.encode("abc") == [258]


# ----------------------------------------------------------------- save / load
def test_save_load_round_trip(tok, tmp_path):
    path = tmp_path / "sub" / "bpe.json"
    tok.save(path)
    assert os.listdir(path.parent) == ["bpe.json"]             # no temporary file left
    back = BPETokenizer.load(path)
    assert back == tok and back.eos_id == tok.eos_id
    text = "Ünïcödé 😀 and the lazy dog<|user|>"
    assert back.encode(text) == tok.encode(text)
    obj = json.loads(path.read_text(encoding="utf-8"))
    assert obj["tokens"][tok.eos_id] == "<|endoftext|>" and len(obj["merges"]) == 142


def _write(path, obj):
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")
    return path


def test_load_malformed_files(tok, tmp_path):
    good = tok.to_dict()
    p = tmp_path / "t.json"
    cases = [
        ("{not json", "not a BPETokenizer JSON file"),
        ([1, 2], "expected a JSON object"),
        ({**good, "type": "other"}, "'type' is 'other'"),
        ({**good, "version": 99}, "'version' is 99"),
        ({**good, "pre_split": "gpt2"}, "pre-split rule 'gpt2' is unknown"),
        ({**good, "merges": {}}, "'merges' must be a JSON array"),
        ({**good, "merges": [[97, 98], [97, 300]], "tokens": None,
          "special_tokens": {"<|endoftext|>": 258, "<|user|>": 259}},
         r"merges\[1\]: \(97, 300\) refers to a token that does not exist yet"),
        ({**good, "merges": [[97, "b"]], "special_tokens": {"<|endoftext|>": 257, "<|user|>": 258}},
         r"merges\[0\]: expected a pair of ints"),
        ({**good, "special_tokens": {"<|endoftext|>": 5, "<|user|>": 399}},
         "must be consecutive from 398"),
        ({**good, "tokens": good["tokens"][:-1]}, "'tokens' should list 400 tokens"),
        ({**good, "tokens": good["tokens"][:300] + ["x"] + good["tokens"][301:]},
         r"'tokens'\[300\] is 'x'"),
    ]
    for content, message in cases:
        _write(p, content)
        with pytest.raises(ValueError, match=message) as err:
            BPETokenizer.load(p)
        assert str(p) in str(err.value)
    with pytest.raises(FileNotFoundError, match="no such tokenizer file"):
        BPETokenizer.load(tmp_path / "missing.json")


def test_docstring_examples():
    import doctest

    from tinynlp.text import bpe, bpe_train, byte_level
    for module in (bpe, bpe_train, byte_level):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
