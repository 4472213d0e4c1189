"""Splitting text into tokens, and a Keras-style ``Tokenizer``: text -> lists of word indices.

Splitting: ``word_tokenize`` splits on a regular expression: a *word* is a run of
letters or digits, optionally joined by inner apostrophes or hyphens ("don't",
"well-known"); a number may carry inner separators ("3.14", "1,000"); every
other visible character is a punctuation token on its own.  ``char_tokenize``
splits into characters; ``text_to_word_sequence`` is Keras' filter-and-split.

``Tokenizer`` semantics follow ``keras.preprocessing.text.Tokenizer``:

* index 0 is reserved (it is the padding value of ``pad_sequences``) and is
  never given to a word;
* words are ranked by frequency over all fitted texts (ties keep the order of
  first appearance); the most frequent word gets index 1, or 2 when an
  ``oov_token`` is set (the OOV token always takes index 1);
* ``word_index`` holds *every* word seen; ``num_words`` only acts when
  converting: indices ``>= num_words`` are dropped (or become the OOV index),
  so at most ``num_words - 1`` distinct words survive.
"""

from __future__ import annotations

import math
import os
import re
from collections import OrderedDict, defaultdict

import numpy as np

from ..atomic import write_json_atomic
from ..integrity import check_seal, seal
from ..npyio import MAX_JSON_BYTES, parse_json

__all__ = ["Tokenizer", "TokenizerFormatError", "text_to_word_sequence", "DEFAULT_FILTERS",
           "word_tokenize", "char_tokenize", "WORD_PATTERN"]

_FORMAT = "tinynlp.Tokenizer"


class TokenizerFormatError(ValueError):
    """A saved tokenizer (a Keras-style ``Tokenizer``'s config or JSON file, or a
    ``BPETokenizer`` JSON file) is malformed; the message names the file and the field."""

#: number with inner separators | word with inner ' ’ - | any other visible char
WORD_PATTERN = r"\d+(?:[.,:]\d+)+|\w+(?:['’\-]\w+)*|[^\w\s]"
_TOKEN_RE = re.compile(WORD_PATTERN)
_IS_WORD_RE = re.compile(r"\w")


def _check_text(text, name: str = "text") -> str:
    if not isinstance(text, str):
        raise TypeError(f"{name}: expected a str, got {type(text).__name__} ({text!r:.60})")
    return text


def word_tokenize(text: str, lower: bool = False, keep_punct: bool = True) -> list[str]:
    """Split ``text`` into word and punctuation tokens.

    >>> word_tokenize("Don't panic: it's 3.14!")
    ["Don't", 'panic', ':', "it's", '3.14', '!']
    >>> word_tokenize("Don't panic: it's 3.14!", lower=True, keep_punct=False)
    ["don't", 'panic', "it's", '3.14']

    Args:
        text: the string to split.
        lower: lowercase the tokens.
        keep_punct: keep punctuation characters as tokens (``True``) or drop
            them (``False``).
    """
    _check_text(text)
    if lower:
        text = text.lower()
    tokens = _TOKEN_RE.findall(text)
    if not keep_punct:
        tokens = [t for t in tokens if _IS_WORD_RE.search(t)]
    return tokens


def char_tokenize(text: str, lower: bool = False, keep_whitespace: bool = True) -> list[str]:
    """Split ``text`` into single characters.

    >>> char_tokenize("Hi there")
    ['H', 'i', ' ', 't', 'h', 'e', 'r', 'e']

    Args:
        text: the string to split.
        lower: lowercase first.
        keep_whitespace: keep spaces, tabs and newlines as tokens.
    """
    _check_text(text)
    if lower:
        text = text.lower()
    if keep_whitespace:
        return list(text)
    return [c for c in text if not c.isspace()]


DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


def text_to_word_sequence(text: str, filters: str = DEFAULT_FILTERS, lower: bool = True,
                          split: str = " ") -> list[str]:
    """Keras' splitter: lowercase, replace every ``filters`` char by ``split``, split."""
    _check_text(text)
    if lower:
        text = text.lower()
    if filters:
        text = text.translate(str.maketrans({c: split for c in filters}))
    return [w for w in text.split(split) if w]


class Tokenizer:
    """Turn texts into sequences of word indices (Keras semantics, see module doc).

    Args:
        num_words: keep only the ``num_words - 1`` most frequent words when
            converting (``None``: keep all).
        filters: characters removed from the texts (replaced by ``split``).
        lower: lowercase the texts.
        split: the word separator.
        char_level: treat every character as a token.
        oov_token: if given, it gets index 1 and replaces unknown (and
            beyond-``num_words``) words instead of dropping them.

    >>> tok = Tokenizer(oov_token="<OOV>")
    >>> tok.fit_on_texts(["the cat sat", "the dog"])
    >>> tok.word_index
    {'<OOV>': 1, 'the': 2, 'cat': 3, 'sat': 4, 'dog': 5}
    >>> tok.texts_to_sequences(["the bird sat"])
    [[2, 1, 4]]
    """

    def __init__(self, num_words=None, filters=DEFAULT_FILTERS, lower=True, split=" ",
                 char_level=False, oov_token=None):
        if num_words is not None and (isinstance(num_words, bool)
                                      or not isinstance(num_words, (int, np.integer))
                                      or num_words < 1):
            raise ValueError(f"num_words: expected None or a positive int, got {num_words!r}")
        self.num_words = None if num_words is None else int(num_words)
        self.filters = filters
        self.lower = lower
        self.split = split
        self.char_level = char_level
        self.oov_token = oov_token
        self.word_counts: OrderedDict[str, int] = OrderedDict()
        self.word_docs: defaultdict[str, int] = defaultdict(int)
        self.document_count = 0
        self.word_index: dict[str, int] = {}
        self.index_word: dict[int, str] = {}
        self.index_docs: defaultdict[int, int] = defaultdict(int)

    # -- helpers -----------------------------------------------------------
    def _tokens(self, text, where: str) -> list[str]:
        if isinstance(text, (list, tuple)):
            for j, t in enumerate(text):
                if not isinstance(t, str):
                    raise TypeError(f"{where}[{j}]: expected a str token, got {type(t).__name__}")
            return [t.lower() for t in text] if self.lower else list(text)
        if not isinstance(text, str):
            raise TypeError(
                f"{where}: expected a str (or a list of str tokens), got "
                f"{type(text).__name__} ({text!r:.40})")
        if self.char_level:
            return list(text.lower() if self.lower else text)
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    @staticmethod
    def _check_list(texts, name: str):
        if isinstance(texts, (str, bytes)):
            raise TypeError(f"{name}: expected a list of texts, got a single {type(texts).__name__}"
                            " (wrap it in a list)")
        if not hasattr(texts, "__iter__"):
            raise TypeError(f"{name}: expected a list of texts, got {type(texts).__name__}")

    # -- fitting -----------------------------------------------------------
    def fit_on_texts(self, texts) -> None:
        """Count words in ``texts`` (list of str, or of token lists) and rebuild the index."""
        self._check_list(texts, "texts")
        for i, text in enumerate(texts):
            self.document_count += 1
            seq = self._tokens(text, f"texts[{i}]")
            for w in seq:
                self.word_counts[w] = self.word_counts.get(w, 0) + 1
            for w in set(seq):
                self.word_docs[w] += 1
        ranked = sorted(self.word_counts.items(), key=lambda kv: kv[1], reverse=True)  # stable
        vocab = [] if self.oov_token is None else [self.oov_token]
        vocab.extend(w for w, _ in ranked if w != self.oov_token)
        self.word_index = {w: i for i, w in enumerate(vocab, start=1)}
        self.index_word = {i: w for w, i in self.word_index.items()}
        self.index_docs = defaultdict(int)
        for w, c in self.word_docs.items():
            if w in self.word_index:
                self.index_docs[self.word_index[w]] = c

    # -- converting --------------------------------------------------------
    def _keep(self, i: int) -> bool:
        return not (self.num_words and i >= self.num_words)

    def texts_to_sequences(self, texts) -> list[list[int]]:
        """Each text -> list of indices (unknown words dropped, or the OOV index)."""
        self._check_list(texts, "texts")
        oov = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        out = []
        for i, text in enumerate(texts):
            seq = []
            for w in self._tokens(text, f"texts[{i}]"):
                j = self.word_index.get(w)
                if j is not None and self._keep(j):
                    seq.append(j)
                elif oov is not None:
                    seq.append(oov)
            out.append(seq)
        return out

    def sequences_to_texts(self, sequences) -> list[str]:
        """Each list of indices -> words joined by ``split`` (unknown indices dropped / OOV)."""
        self._check_list(sequences, "sequences")
        oov_word = self.oov_token if self.oov_token in self.word_index else None
        out = []
        for seq in sequences:
            words = []
            for j in seq:
                j = int(j)
                w = self.index_word.get(j)
                if w is not None and self._keep(j):
                    words.append(w)
                elif oov_word is not None:
                    words.append(oov_word)
            out.append(" ".join(words))  # Keras joins with a space, even at char level
        return out

    def texts_to_matrix(self, texts, mode: str = "binary") -> np.ndarray:
        """Bag-of-words matrix ``(len(texts), num_words)``; see :meth:`sequences_to_matrix`."""
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def sequences_to_matrix(self, sequences, mode: str = "binary") -> np.ndarray:
        """Bag-of-words: ``mode`` is ``"binary"``, ``"count"``, ``"freq"`` or ``"tfidf"``.

        The width is ``num_words`` (or ``len(word_index) + 1``); column 0 stays 0.
        tfidf, as Keras: ``(1 + log(count)) * log(1 + docs / (1 + docs_with_word))``.
        """
        if mode not in ("binary", "count", "freq", "tfidf"):
            raise ValueError(
                f"mode: expected 'binary', 'count', 'freq' or 'tfidf', got {mode!r}")
        width = self.num_words or (len(self.word_index) + 1)
        if mode == "tfidf" and not self.document_count:
            raise ValueError("mode='tfidf' needs a fitted Tokenizer (call fit_on_texts first)")
        x = np.zeros((len(sequences), width))
        for i, seq in enumerate(sequences):
            if not len(seq):
                continue
            counts: dict[int, int] = defaultdict(int)
            for k, j in enumerate(seq):
                if isinstance(j, (bool, np.bool_)) or not isinstance(j, (int, np.integer)) \
                        or j < 0:
                    raise ValueError(f"sequences[{i}][{k}]: expected a word index >= 0, got "
                                     f"{j!r}")
                if j < width:
                    counts[int(j)] += 1
            for j, c in counts.items():
                if mode == "count":
                    x[i, j] = c
                elif mode == "freq":
                    x[i, j] = c / len(seq)
                elif mode == "binary":
                    x[i, j] = 1.0
                else:
                    tf = 1.0 + math.log(c)
                    idf = math.log(1.0 + self.document_count / (1.0 + self.index_docs.get(j, 0)))
                    x[i, j] = tf * idf
        return x

    def get_config(self) -> dict:
        """Plain-JSON state (settings and counts) for saving."""
        return {"num_words": self.num_words, "filters": self.filters, "lower": self.lower,
                "split": self.split, "char_level": self.char_level,
                "oov_token": self.oov_token, "document_count": self.document_count,
                "word_counts": list(self.word_counts.items()),
                "word_docs": dict(self.word_docs)}

    @classmethod
    def from_config(cls, config: dict, where: str = "Tokenizer.from_config") -> "Tokenizer":
        """Inverse of :meth:`get_config`; every field is checked (a
        :class:`TokenizerFormatError` names the field, and ``where`` the source)."""
        _check_config(config, where)
        tok = cls(num_words=config["num_words"], filters=config["filters"],
                  lower=config["lower"], split=config["split"],
                  char_level=config["char_level"], oov_token=config["oov_token"])
        tok.word_counts = OrderedDict((w, int(c)) for w, c in config["word_counts"])
        tok.word_docs = defaultdict(int, config["word_docs"])
        tok.fit_on_texts([])  # rebuild the index from the counts
        tok.document_count = int(config["document_count"])
        return tok

    def save(self, path) -> None:
        """Write the tokenizer as JSON (with a checksum), atomically."""
        write_json_atomic(path, seal({"format": _FORMAT, "version": 1,
                                      "config": self.get_config()}))

    @classmethod
    def load(cls, path) -> "Tokenizer":
        """Read a file written by :meth:`save` — or a task's ``tokenizer.json`` (the config
        under ``"tokenizer"``).  A malformed or damaged file raises
        :class:`TokenizerFormatError` (a ValueError) naming it."""
        path = os.fspath(path)
        if os.path.getsize(path) > MAX_JSON_BYTES:
            raise TokenizerFormatError(f"{path}: larger than the {MAX_JSON_BYTES} bytes a "
                                       "tokenizer file may have")
        with open(path, "rb") as f:
            obj = parse_json(f.read(), TokenizerFormatError, path)
        if isinstance(obj, dict) and obj.get("format") == _FORMAT:
            obj = check_seal(obj, TokenizerFormatError, path)
            if obj.get("version") != 1:
                raise TokenizerFormatError(f"{path}: version {obj.get('version')!r:.40} is "
                                           "not supported (this tinynlp reads version 1)")
            config = obj.get("config")
        elif isinstance(obj, dict) and "tokenizer" in obj:
            config = obj["tokenizer"]
        else:
            config = obj
        return cls.from_config(config, where=path)

    def __repr__(self) -> str:
        return (f"Tokenizer(num_words={self.num_words}, oov_token={self.oov_token!r}, "
                f"words={len(self.word_index)})")


def _is_count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _check_config(config, where):
    """Raise :class:`TokenizerFormatError` unless ``config`` is what :meth:`Tokenizer.get_config`
    writes."""
    def bad(field, expected):
        got = config.get(field, "<missing>") if isinstance(config, dict) else config
        return TokenizerFormatError(f"{where}: {field!r} must be {expected}, got {got!r:.80}")
    if not isinstance(config, dict):
        raise TokenizerFormatError(f"{where}: expected a JSON object with the tokenizer's "
                                   f"settings, got {type(config).__name__}")
    n = config.get("num_words", "<missing>")
    if n is not None and not (_is_count(n) and n >= 1):
        raise bad("num_words", "null or a positive integer")
    for field in ("filters", "split"):
        if not isinstance(config.get(field), str):
            raise bad(field, "a string")
    if not config["split"]:
        raise bad("split", "a non-empty string")
    for field in ("lower", "char_level"):
        if not isinstance(config.get(field), bool):
            raise bad(field, "true or false")
    oov = config.get("oov_token", "<missing>")
    if oov is not None and not isinstance(oov, str):
        raise bad("oov_token", "null or a string")
    if not _is_count(config.get("document_count")):
        raise bad("document_count", "a non-negative integer")
    counts = config.get("word_counts")
    if not isinstance(counts, (list, tuple)) or not all(
            isinstance(p, (list, tuple)) and len(p) == 2 and isinstance(p[0], str)
            and _is_count(p[1])
            for p in counts):
        raise bad("word_counts", "a list of [word, count] pairs")
    if len({w for w, _ in counts}) != len(counts):
        raise bad("word_counts", "a list of [word, count] pairs with distinct words")
    docs = config.get("word_docs")
    if not isinstance(docs, dict) or not all(_is_count(c) for c in docs.values()):
        raise bad("word_docs", "an object {word: count}")
