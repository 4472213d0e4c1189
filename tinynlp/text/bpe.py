"""``BPETokenizer``: byte-level byte-pair encoding, trained from scratch.

    tok = BPETokenizer.train(texts, vocab_size=4096)        # texts: any iterable of str
    ids = tok.encode("Hello, world!")                       # list[int]
    tok.decode(ids) == "Hello, world!"                      # every str round-trips
    tok.save("bpe.json"); tok = BPETokenizer.load("bpe.json")

**Vocabulary layout** (``vocab_size`` ids in all):

* ids 0..255: the 256 byte values (id = byte), so any text can be encoded;
* ids 256..256+M-1: one token per learned merge, in the order learned
  (merge ``r`` makes id ``256 + r`` from two earlier tokens);
* the last ids: the special tokens, in the order given to :meth:`train`
  (with the default, ``"<|endoftext|>"`` is the last id, as in GPT-2).

**Encoding** a text: the special-token strings are cut out first (see
``allowed_special`` in :meth:`encode`); each remaining stretch is pre-split
into chunks (words with their leading space, numbers, punctuation runs,
whitespace runs; the rule is in :mod:`tinynlp.text.byte_level`); each chunk's
UTF-8 bytes are merged by rank: repeatedly, the adjacent pair with the lowest
merge number is replaced by its token, until no adjacent pair is a merge.
This gives the same tokens as replaying every merge in order, which is how
training segmented the words.  Chunk encodings are cached (up to
``cache_size`` chunks, then the cache starts afresh).

**Decoding** joins the tokens' bytes and decodes them as UTF-8; a special id
decodes to its string.  Decoding the ids of a text gives the text back
exactly; an arbitrary id sequence may cut a character in two, which
``errors="replace"`` (the default) shows as U+FFFD.

**Saved file**: UTF-8 JSON ``{"type": "tinynlp.BPETokenizer", "version": 1,
"pre_split": ..., "merges": [[left, right], ...], "special_tokens": {str: id},
"tokens": [...]}``; ``tokens`` lists every token in the printable byte
alphabet (a space shows as ``Ġ``) for reading, and is checked on load.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterable

import numpy as np

from ..atomic import atomic_write
from .bpe_train import count_chunks, learn_merges, merge_pair
from ..npyio import MAX_JSON_BYTES
from .byte_level import (
    PRE_SPLIT_RULE,
    pre_split_pattern,
    token_bytes_to_str,
    token_str_to_bytes,
)
from .tokenizer import TokenizerFormatError

__all__ = ["BPETokenizer", "EOS"]

#: the end-of-text marker GPT-2 made familiar; separates documents in pretraining
EOS = "<|endoftext|>"
_FORMAT = "tinynlp.BPETokenizer"
_VERSION = 1


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


class BPETokenizer:
    """Byte-level BPE tokenizer (see the module docstring for the layout and rules).

    Build one with :meth:`train` or :meth:`load`; the constructor takes the
    learned ``merges`` (pairs of ids) and ``special_tokens`` (strings) directly.

    Attributes:
        special_tokens: ``{string: id}`` of the special tokens.
        eos_id: id of ``"<|endoftext|>"`` (None if it is not a special token).
        merges: the learned merges, ``[(left_id, right_id), ...]``.

    >>> tok = BPETokenizer.train(["low lower lowest"] * 10, vocab_size=260)
    >>> tok.decode(tok.encode("lowly")) == "lowly"
    True
    """

    def __init__(self, merges=(), special_tokens=(EOS,), cache_size: int = 100_000):
        self.merges: list[tuple[int, int]] = []
        self._bytes: list[bytes] = [bytes([b]) for b in range(256)]
        for r, pair in enumerate(merges):
            if (not isinstance(pair, (list, tuple)) or len(pair) != 2
                    or not all(_is_int(t) for t in pair)):
                raise ValueError(f"merges[{r}]: expected a pair of ints, got {pair!r}")
            a, b = int(pair[0]), int(pair[1])
            new_id = 256 + r
            if not (0 <= a < new_id and 0 <= b < new_id):
                raise ValueError(
                    f"merges[{r}]: ({a}, {b}) refers to a token that does not exist yet: "
                    f"merge {r} creates id {new_id}, so its parts must be in [0, {new_id})")
            self.merges.append((a, b))
            self._bytes.append(self._bytes[a] + self._bytes[b])
        if isinstance(special_tokens, str):
            special_tokens = (special_tokens,)
        specials = list(special_tokens)
        for i, s in enumerate(specials):
            if not isinstance(s, str) or not s:
                raise ValueError(f"special_tokens[{i}]: expected a non-empty str, got {s!r}")
        if len(set(specials)) != len(specials):
            raise ValueError(f"special_tokens: duplicates in {specials!r}")
        if not _is_int(cache_size) or cache_size < 0:
            raise ValueError(f"cache_size: expected an int >= 0, got {cache_size!r}")
        self.cache_size = int(cache_size)
        base = 256 + len(self.merges)
        self.special_tokens: dict[str, int] = {s: base + i for i, s in enumerate(specials)}
        self._special_by_id = {i: s for s, i in self.special_tokens.items()}
        self.eos_id = self.special_tokens.get(EOS)
        self._ranks = {pair: r for r, pair in enumerate(self.merges)}
        self._bytes_to_id: dict[bytes, int] = {}
        for i, b in enumerate(self._bytes):   # a+bc and ab+c: the lower id answers
            self._bytes_to_id.setdefault(b, i)
        self._cache: dict[str, list[int]] = {}
        self._splitters: dict[frozenset, re.Pattern] = {}

    # ------------------------------------------------------------------ train
    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int, special_tokens=(EOS,),
              min_frequency: int = 2, verbose: int = 0) -> "BPETokenizer":
        """Learn a vocabulary of ``vocab_size`` ids from ``texts``.

        Args:
            texts: any iterable of str (a list, a generator, a file object),
                read once; only the table of distinct chunks and their counts
                is kept in memory.
            vocab_size: total ids: 256 bytes + merges + special tokens.  At
                most ``vocab_size - 256 - len(special_tokens)`` merges are
                learned; fewer if no pair reaches ``min_frequency`` (then
                :attr:`vocab_size` is smaller than asked).
            special_tokens: strings that get their own ids (the last ones) and
                that are never split; occurrences in ``texts`` are cut out
                before counting.
            min_frequency: a pair must occur at least this often (weighted by
                word counts) to be merged.
            verbose: 1 prints progress to stderr.

        The merge loop and its tie rule are documented in
        :mod:`tinynlp.text.bpe_train`; this uses the fast incremental loop,
        which gives the same merges as the textbook one.
        """
        if isinstance(special_tokens, str):
            special_tokens = (special_tokens,)
        special_tokens = tuple(special_tokens)
        if not _is_int(vocab_size) or vocab_size < 256 + len(special_tokens):
            raise ValueError(f"vocab_size: expected an int >= 256 + {len(special_tokens)} "
                             f"(bytes + special tokens), got {vocab_size!r}")
        if isinstance(texts, str):
            raise TypeError("texts: expected an iterable of str, got a single str "
                            "(wrap it in a list)")
        cls((), special_tokens)                       # validates the special tokens
        t0 = time.perf_counter()
        table = count_chunks(texts, special_tokens, verbose=verbose)
        num_merges = int(vocab_size) - 256 - len(special_tokens)
        merges = learn_merges(table, num_merges, min_frequency, verbose=verbose)
        if verbose:
            print(f"BPE: {len(merges):,} merges from {len(table):,} distinct chunks in "
                  f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
        return cls(merges, special_tokens)

    # -------------------------------------------------------------- vocabulary
    @property
    def vocab_size(self) -> int:
        """Number of ids: 256 + len(merges) + len(special_tokens)."""
        return len(self._bytes) + len(self.special_tokens)

    def __len__(self) -> int:
        return self.vocab_size

    def __repr__(self) -> str:
        return (f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, "
                f"special_tokens={list(self.special_tokens)})")

    def _check_id(self, i, where: str = "id") -> int:
        if not _is_int(i):
            raise TypeError(f"{where}: expected an int token id, got {type(i).__name__} {i!r}")
        if not 0 <= i < self.vocab_size:
            raise ValueError(f"{where}: token id {i} is out of range [0, {self.vocab_size})")
        return int(i)

    def id_to_bytes(self, i: int) -> bytes:
        """The bytes a token stands for (a special token: its UTF-8 string)."""
        i = self._check_id(i)
        if i in self._special_by_id:
            return self._special_by_id[i].encode("utf-8")
        return self._bytes[i]

    def id_to_token(self, i: int) -> str:
        """A token as a string: a special token as itself, others in the printable
        byte alphabet (``" the"`` shows as ``"Ġthe"``).  Out of range: ValueError."""
        i = self._check_id(i)
        if i in self._special_by_id:
            return self._special_by_id[i]
        return token_bytes_to_str(self._bytes[i])

    def token_to_id(self, token: str) -> int | None:
        """Inverse of :meth:`id_to_token`; None for a string that is not a token.

        Two merges can build the same bytes (``a`` + ``bc`` after ``ab`` + ``c``);
        both ids decode alike, and this returns the lower one."""
        if not isinstance(token, str):
            raise TypeError(f"token: expected a str, got {type(token).__name__}")
        if token in self.special_tokens:
            return self.special_tokens[token]
        data = token_str_to_bytes(token)
        return None if data is None else self._bytes_to_id.get(data)

    @property
    def tokens(self) -> list[str]:
        """Every token as :meth:`id_to_token` shows it, in id order."""
        return [self.id_to_token(i) for i in range(self.vocab_size)]

    def get_vocab(self) -> dict[str, int]:
        """``{token string: id}`` for all ids (a repeated string: its lower id)."""
        vocab: dict[str, int] = {}
        for i, t in enumerate(self.tokens):
            vocab.setdefault(t, i)
        return vocab

    # ----------------------------------------------------------------- encode
    def _bpe(self, data: bytes) -> list[int]:
        """Merge a chunk's bytes by rank (lowest merge number first)."""
        ids = list(data)
        get = self._ranks.get
        missing = len(self.merges)
        while len(ids) > 1:
            r = min([get(p, missing) for p in zip(ids, ids[1:])])
            if r == missing:
                break
            ids = merge_pair(ids, self.merges[r], 256 + r)
        return ids

    def _encode_chunk(self, chunk: str) -> list[int]:
        ids = self._cache.get(chunk)
        if ids is None:
            ids = self._bpe(chunk.encode("utf-8"))
            if self.cache_size:
                if len(self._cache) >= self.cache_size:
                    self._cache.clear()
                self._cache[chunk] = ids
        return ids

    def _allowed(self, allowed_special):
        if allowed_special is True or allowed_special == "all":
            return frozenset(self.special_tokens)
        if allowed_special is False or allowed_special == "none" or allowed_special is None:
            return frozenset()
        if isinstance(allowed_special, str):
            raise ValueError(f"allowed_special: expected 'all', 'none', True, False or a "
                             f"set of special-token strings, got {allowed_special!r}")
        allowed = frozenset(allowed_special)
        unknown = allowed - set(self.special_tokens)
        if unknown:
            raise ValueError(f"allowed_special: {sorted(unknown)!r} are not special tokens "
                             f"of this tokenizer ({list(self.special_tokens)})")
        return allowed

    def _splitter(self, allowed: frozenset) -> re.Pattern:
        """A regex whose split() separates the allowed special strings (longest first)."""
        pat = self._splitters.get(allowed)
        if pat is None:
            ordered = sorted(allowed, key=lambda s: (-len(s), s))
            pat = re.compile("(" + "|".join(map(re.escape, ordered)) + ")")
            self._splitters[allowed] = pat
        return pat

    def encode(self, text: str, allowed_special="all") -> list[int]:
        """Token ids of ``text`` (module docstring: pre-split, then merges by rank).

        Args:
            text: any str without lone surrogates (they have no UTF-8 form).
            allowed_special: which special-token strings in ``text`` become their
                special id: ``"all"`` (default; ``True`` too), ``"none"``
                (``False``: they are encoded as ordinary text, byte by byte
                merged like any other characters), or a set of strings.  Use
                ``"none"`` on untrusted text so that a user cannot type an
                end-of-text marker.
        """
        if not isinstance(text, str):
            raise TypeError(f"text: expected a str, got {type(text).__name__}")
        allowed = self._allowed(allowed_special)
        try:
            if not allowed:
                return self._encode_ordinary(text)
            ids: list[int] = []
            for k, piece in enumerate(self._splitter(allowed).split(text)):
                if k % 2 == 1:                             # odd pieces: the separators
                    ids.append(self.special_tokens[piece])
                elif piece:
                    ids.extend(self._encode_ordinary(piece))
            return ids
        except UnicodeEncodeError as e:
            raise ValueError(f"text: contains the lone surrogate {e.object[e.start]!r}, which "
                             "has no UTF-8 encoding") from None

    def _encode_ordinary(self, text: str) -> list[int]:
        ids: list[int] = []
        cached = self._cache.get
        for chunk in pre_split_pattern().findall(text):
            got = cached(chunk)
            ids.extend(self._encode_chunk(chunk) if got is None else got)
        return ids

    def encode_batch(self, texts, allowed_special="all") -> list[list[int]]:
        """``[encode(t) for t in texts]``."""
        if isinstance(texts, str):
            raise TypeError("texts: expected a list of str, got a single str (use encode)")
        out = []
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"texts[{i}]: expected a str, got {type(t).__name__}")
            out.append(self.encode(t, allowed_special))
        return out

    # ----------------------------------------------------------------- decode
    def decode(self, ids, errors: str = "replace") -> str:
        """The text of a sequence of ids (list, tuple or 1-D integer array).

        Args:
            ids: token ids, each in ``[0, vocab_size)``; otherwise ValueError
                naming the position and the id.
            errors: how invalid UTF-8 (a character cut in two) is handled, as
                in ``bytes.decode``: ``"replace"`` (U+FFFD) or ``"strict"``.
        """
        if isinstance(ids, np.ndarray):
            if ids.ndim != 1 or not (np.issubdtype(ids.dtype, np.integer) or ids.size == 0):
                raise TypeError(f"ids: expected a 1-D integer array, got shape {ids.shape} "
                                f"dtype {ids.dtype}")
            ids = ids.tolist()
        elif isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
            raise TypeError(f"ids: expected a sequence of int token ids, got "
                            f"{type(ids).__name__}")
        table, specials, n = self._bytes, self._special_by_id, self.vocab_size
        parts = []
        for pos, i in enumerate(ids):
            if not _is_int(i):
                raise TypeError(f"ids[{pos}]: expected an int token id, got "
                                f"{type(i).__name__} {i!r}")
            if 0 <= i < len(table):
                parts.append(table[i])
            elif i in specials:
                parts.append(specials[i].encode("utf-8"))
            else:
                raise ValueError(f"ids[{pos}]: token id {i} is out of range [0, {n})")
        return b"".join(parts).decode("utf-8", errors=errors)

    def decode_batch(self, batch, errors: str = "replace") -> list[str]:
        """``[decode(ids) for ids in batch]``."""
        return [self.decode(ids, errors) for ids in batch]

    # ------------------------------------------------------------- save / load
    def to_dict(self) -> dict:
        """The JSON-ready description that :meth:`save` writes."""
        return {"type": _FORMAT, "version": _VERSION, "pre_split": PRE_SPLIT_RULE,
                "merges": [list(p) for p in self.merges],
                "special_tokens": dict(self.special_tokens),
                "tokens": self.tokens}

    def save(self, path) -> None:
        """Write the tokenizer as UTF-8 JSON, atomically (temporary file, then rename)."""
        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=None,
                          separators=(",", ":")) + "\n"
        atomic_write(path, lambda f: f.write(text), mode="w")

    @classmethod
    def load(cls, path) -> "BPETokenizer":
        """Read a file written by :meth:`save`; a malformed file raises
        :class:`~tinynlp.text.TokenizerFormatError` (a ValueError) naming the file and
        what is wrong."""
        path = os.fspath(path)
        try:
            if os.path.getsize(path) > MAX_JSON_BYTES:
                raise TokenizerFormatError(f"{path}: larger than the {MAX_JSON_BYTES} bytes a "
                                           "tokenizer file may have")
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: no such tokenizer file") from None
        except IsADirectoryError:
            raise TokenizerFormatError(f"{path}: is a folder, not a tokenizer file") from None
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError) as e:   # JSONDecodeError, UnicodeDecodeError
            raise TokenizerFormatError(f"{path}: not a BPETokenizer JSON file ({e})") from None
        return cls.from_dict(obj, where=path)

    @classmethod
    def from_dict(cls, obj, where: str = "tokenizer") -> "BPETokenizer":
        """Inverse of :meth:`to_dict`; ``where`` names the source in error messages, and a
        malformed description raises :class:`~tinynlp.text.TokenizerFormatError`."""
        try:
            return cls._from_dict(obj, where)
        except TokenizerFormatError:
            raise
        except ValueError as e:
            raise TokenizerFormatError(str(e)) from None

    @classmethod
    def _from_dict(cls, obj, where):
        if not isinstance(obj, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        if obj.get("type") != _FORMAT:
            raise ValueError(f"{where}: 'type' is {obj.get('type')!r}, expected {_FORMAT!r}")
        if obj.get("version") != _VERSION:
            raise ValueError(f"{where}: 'version' is {obj.get('version')!r}; this tinynlp "
                             f"reads version {_VERSION}")
        if obj.get("pre_split") != PRE_SPLIT_RULE:
            raise ValueError(f"{where}: pre-split rule {obj.get('pre_split')!r} is unknown "
                             f"(this tinynlp has {PRE_SPLIT_RULE!r})")
        for key, typ in (("merges", list), ("special_tokens", dict)):
            if not isinstance(obj.get(key), typ):
                raise ValueError(f"{where}: {key!r} must be a JSON "
                                 f"{'array' if typ is list else 'object'}, got "
                                 f"{type(obj.get(key)).__name__}")
        specials = obj["special_tokens"]
        order = sorted(specials, key=lambda s: specials[s] if _is_int(specials[s]) else -1)
        base = 256 + len(obj["merges"])
        expected = {s: base + k for k, s in enumerate(order)}
        if specials != expected:
            raise ValueError(f"{where}: special token ids {specials} must be consecutive "
                             f"from {base} (= 256 + number of merges)")
        try:
            tok = cls(obj["merges"], order)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
        if "tokens" in obj and obj["tokens"] != tok.tokens:
            got = obj["tokens"]
            if not isinstance(got, list) or len(got) != tok.vocab_size:
                raise ValueError(f"{where}: 'tokens' should list {tok.vocab_size} tokens, "
                                 f"got {len(got) if isinstance(got, list) else got!r}")
            k = next(k for k, (a, b) in enumerate(zip(got, tok.tokens)) if a != b)
            raise ValueError(f"{where}: 'tokens'[{k}] is {got[k]!r} but the merges make "
                             f"{tok.tokens[k]!r}; the file was edited or corrupted")
        return tok

    def __eq__(self, other) -> bool:
        return (isinstance(other, BPETokenizer) and self.merges == other.merges
                and self.special_tokens == other.special_tokens)

    __hash__ = None
