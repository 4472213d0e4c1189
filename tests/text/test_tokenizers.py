"""word_tokenize, char_tokenize and the Keras-style Tokenizer."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinynlp.text import Tokenizer, char_tokenize, word_tokenize
from tinynlp.text.tokenizer import text_to_word_sequence


# ------------------------------------------------------------- word / char
def test_word_tokenize_keeps_punctuation_and_contractions():
    assert word_tokenize("Don't panic: it's 3.14!") == ["Don't", "panic", ":", "it's", "3.14",
                                                        "!"]
    assert word_tokenize("A well-known, 1,000-page book...") == [
        "A", "well-known", ",", "1,000", "-", "page", "book", ".", ".", "."]


def test_word_tokenize_lower_and_drop_punct():
    assert word_tokenize("Hello, World!", lower=True) == ["hello", ",", "world", "!"]
    assert word_tokenize("Hello, World!", lower=True, keep_punct=False) == ["hello", "world"]
    assert word_tokenize("") == []
    assert word_tokenize("¿Qué tal? Señor", keep_punct=False) == ["Qué", "tal", "Señor"]


@given(st.text(max_size=60))
def test_word_tokens_cover_all_visible_characters(text):
    toks = word_tokenize(text)
    assert "".join(toks) == "".join(text.split())
    assert all(t and not any(c.isspace() for c in t) for t in toks)


def test_char_tokenize():
    assert char_tokenize("Hi there") == ["H", "i", " ", "t", "h", "e", "r", "e"]
    assert char_tokenize("Hi there", lower=True, keep_whitespace=False) == list("hithere")


def test_tokenizers_reject_non_strings():
    with pytest.raises(TypeError, match="text: expected a str, got int"):
        word_tokenize(3)
    with pytest.raises(TypeError, match="text"):
        char_tokenize(["a"])


# ---------------------------------------------------------------- Tokenizer
TEXTS = ["The sun is shining in June!", "September is grey.", "Life is beautiful in August.",
         "I like it", "This and other things?"]


def test_word_index_ranked_by_frequency_ties_in_order_of_appearance():
    tok = Tokenizer()
    tok.fit_on_texts(TEXTS)
    expected = ["is", "in", "the", "sun", "shining", "june", "september", "grey", "life",
                "beautiful", "august", "i", "like", "it", "this", "and", "other", "things"]
    assert tok.word_index == {w: i for i, w in enumerate(expected, start=1)}
    assert tok.index_word[1] == "is"
    assert 0 not in tok.index_word  # index 0 is reserved for padding
    assert tok.word_counts["is"] == 3 and tok.word_docs["in"] == 2
    assert tok.document_count == 5


def test_texts_to_sequences_drops_unknown_and_applies_num_words():
    tok = Tokenizer()
    tok.fit_on_texts(TEXTS)
    assert tok.texts_to_sequences(["June is beautiful and I like it!"]) == [
        [6, 1, 10, 16, 12, 13, 14]]
    assert tok.texts_to_sequences(["unknown words only"]) == [[]]
    tok5 = Tokenizer(num_words=5)
    tok5.fit_on_texts(TEXTS)
    assert len(tok5.word_index) == 18  # the index keeps every word
    # only indices 1..4 survive (Keras: i < num_words)
    assert tok5.texts_to_sequences(["June is beautiful and the sun is in"]) == [
        [1, 3, 4, 1, 2]]


def test_oov_token_takes_index_1():
    tok = Tokenizer(num_words=4, oov_token="<OOV>")
    tok.fit_on_texts(TEXTS)
    assert tok.word_index["<OOV>"] == 1 and tok.word_index["is"] == 2
    assert tok.texts_to_sequences(["is in the sun xyz"]) == [[2, 3, 1, 1, 1]]
    assert tok.sequences_to_texts([[2, 3, 1, 9, 77]]) == ["is in <OOV> <OOV> <OOV>"]


def test_sequences_to_texts_without_oov_drops():
    tok = Tokenizer(num_words=3)
    tok.fit_on_texts(TEXTS)
    assert tok.sequences_to_texts([[1, 2, 3, 0, 99]]) == ["is in"]


def test_filters_lower_split_and_char_level():
    assert text_to_word_sequence("Hi, there! HI") == ["hi", "there", "hi"]
    tok = Tokenizer(lower=False, filters="")
    tok.fit_on_texts(["Hi, Hi, there"])
    assert tok.word_index == {"Hi,": 1, "there": 2}
    ct = Tokenizer(char_level=True)
    ct.fit_on_texts(["abca"])
    assert ct.word_index == {"a": 1, "b": 2, "c": 3}
    assert ct.texts_to_sequences(["cab"]) == [[3, 1, 2]]


def test_token_lists_accepted():
    tok = Tokenizer()
    tok.fit_on_texts([["New", "York"], ["new"]])
    assert tok.word_index == {"new": 1, "york": 2}
    assert tok.texts_to_sequences([["York", "new"]]) == [[2, 1]]


def test_texts_to_matrix_modes():
    tok = Tokenizer()
    tok.fit_on_texts(["a a b", "b c"])
    seq = [[1, 1, 2]]  # "a a b"; a and b both occur twice, a first
    assert tok.word_index == {"a": 1, "b": 2, "c": 3}
    np.testing.assert_array_equal(tok.sequences_to_matrix(seq, "count"), [[0, 2, 1, 0]])
    np.testing.assert_array_equal(tok.sequences_to_matrix(seq, "binary"), [[0, 1, 1, 0]])
    np.testing.assert_allclose(tok.sequences_to_matrix(seq, "freq"), [[0, 2 / 3, 1 / 3, 0]])
    tfidf = tok.sequences_to_matrix(seq, "tfidf")
    np.testing.assert_allclose(tfidf[0, 1], (1 + np.log(2)) * np.log(1 + 2 / (1 + 1)))
    with pytest.raises(ValueError, match="mode"):
        tok.sequences_to_matrix(seq, "bm25")


def test_config_round_trip():
    tok = Tokenizer(num_words=6, oov_token="<OOV>")
    tok.fit_on_texts(TEXTS)
    again = Tokenizer.from_config(tok.get_config())
    assert again.word_index == tok.word_index
    assert again.texts_to_sequences(TEXTS) == tok.texts_to_sequences(TEXTS)


def test_tokenizer_errors():
    tok = Tokenizer()
    with pytest.raises(TypeError, match="texts: expected a list of texts, got a single str"):
        tok.fit_on_texts("one text")
    with pytest.raises(TypeError, match=r"texts\[1\]: expected a str"):
        tok.fit_on_texts(["fine", 42])
    with pytest.raises(ValueError, match="num_words"):
        Tokenizer(num_words=0)


words = st.sampled_from(["alpha", "beta", "gamma", "delta", "eps", "zeta"])


@given(st.lists(st.lists(words, min_size=1, max_size=8), min_size=1, max_size=10),
       st.one_of(st.none(), st.integers(1, 8)))
def test_tokenizer_properties(docs, num_words):
    texts = [" ".join(d) for d in docs]
    tok = Tokenizer(num_words=num_words)
    tok.fit_on_texts(texts)
    # indices 1..V, ranked by non-increasing count
    assert sorted(tok.word_index.values()) == list(range(1, len(tok.word_index) + 1))
    counts = [tok.word_counts[tok.index_word[i]] for i in range(1, len(tok.word_index) + 1)]
    assert counts == sorted(counts, reverse=True)
    seqs = tok.texts_to_sequences(texts)
    for s in seqs:
        assert all(1 <= i < (num_words or 10**9) for i in s)
    if num_words is None:  # without a cap the round trip is exact
        assert tok.sequences_to_texts(seqs) == texts
