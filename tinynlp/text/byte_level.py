"""Byte-level helpers for BPE: the pre-split rule and the printable byte alphabet.

**Pre-split.**  Before byte-pair merges are learned or applied, text is cut
into *chunks* so that merges never cross a word boundary (GPT-2's idea).  The
rule, applied left to right, each chunk the first alternative that matches:

1. a contraction: an apostrophe (``'`` or ``’``) followed by ``s t re ve m ll d``
   (any case) and *not* followed by a further letter (``don't`` → ``don`` ``'t``,
   but ``'sorry`` → ``'`` ``sorry``);
2. an optional single space, then a run of letters: Unicode categories ``L*``
   (letters) and ``M*`` (combining marks, so that ``e`` + U+0301 stays one word);
3. an optional single space, then a run of numbers: categories ``N*``
   (digits, Roman numerals, fractions ...);
4. an optional single space, then a run of anything else that is not
   whitespace (punctuation, symbols, emoji, control characters);
5. a run of whitespace that is not followed by a non-space character (so the
   last space of a run goes with the next word: ``"a  b"`` → ``a`` ``" "`` ``" b"``);
6. any other run of whitespace (e.g. a newline before a word).

Every character falls into exactly one of letters / numbers / whitespace /
other, so the chunks concatenate back to the input exactly.  The categories
come from the running Python's ``unicodedata`` (``unicodedata.unidata_version``,
14.0 for Python 3.11), so a character assigned in a later Unicode version may
split differently under an older Python.  The standard ``re`` module has no
``\\p{L}``, so the character classes are built once from that table as
code-point ranges (about 0.3 s, on first use).

**Byte alphabet.**  The 256 byte values are the base tokens (id = byte value).
To show a token as text (``id_to_token``), each byte is mapped to one
printable character: the printable Latin-1 bytes ``!``..``~``, ``¡``..``¬``,
``®``..``ÿ`` stand for themselves, the other 68 bytes (control characters,
space, DEL, NBSP, soft hyphen ...) for the code points 256, 257, ... in byte
order.  This is the convention GPT-2 introduced (a space shows as ``Ġ``, a
newline as ``Ċ``), so token strings can be compared with other byte-level BPEs.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata

__all__ = ["PRE_SPLIT_RULE", "pre_split", "pre_split_pattern", "bytes_to_unicode",
           "unicode_to_bytes", "token_bytes_to_str", "token_str_to_bytes"]

#: name stored in saved tokenizers; a change to the rule above gets a new name
PRE_SPLIT_RULE = "tinynlp-bytelevel-v1"

def _ranges_class(pred) -> str:
    """A regex character-class body listing every code point where ``pred(category)``."""
    parts = []
    start = prev = None
    for cp in range(sys.maxunicode + 1):
        if pred(unicodedata.category(chr(cp))):
            if start is None:
                start = cp
            prev = cp
        elif start is not None:
            parts.append((start, prev))
            start = None
    if start is not None:
        parts.append((start, prev))

    def esc(cp):
        return f"\\U{cp:08x}"

    return "".join(esc(a) if a == b else f"{esc(a)}-{esc(b)}" for a, b in parts)


@functools.lru_cache(maxsize=1)
def pre_split_pattern() -> re.Pattern:
    """The compiled pre-split pattern (see the module docstring for the rule)."""
    letters = _ranges_class(lambda c: c[0] in "LM")
    numbers = _ranges_class(lambda c: c[0] == "N")
    pattern = (
        rf"['’](?i:s|t|re|ve|m|ll|d)(?![{letters}])"   # 1. contraction
        rf"| ?[{letters}]+"                            # 2. word
        rf"| ?[{numbers}]+"                            # 3. number
        rf"| ?[^\s{letters}{numbers}]+"                # 4. punctuation, symbols ...
        r"|\s+(?!\S)"                                  # 5. spaces not before a word
        r"|\s+"                                        # 6. other spaces
    )
    return re.compile(pattern)


def pre_split(text: str) -> list[str]:
    """Cut ``text`` into chunks by the module's rule; ``"".join(chunks) == text``.

    >>> pre_split("Hello, world!  It's 2024.")
    ['Hello', ',', ' world', '!', ' ', ' It', "'s", ' 2024', '.']
    """
    if not isinstance(text, str):
        raise TypeError(f"text: expected a str, got {type(text).__name__}")
    return pre_split_pattern().findall(text)


@functools.lru_cache(maxsize=1)
def bytes_to_unicode() -> tuple[str, ...]:
    """The printable character standing for each byte value 0..255 (see module doc)."""
    printable = set(range(ord("!"), ord("~") + 1)) | set(range(0xA1, 0xAD)) \
        | set(range(0xAE, 0x100))
    out, extra = [], 0
    for b in range(256):
        if b in printable:
            out.append(chr(b))
        else:
            out.append(chr(256 + extra))
            extra += 1
    return tuple(out)


@functools.lru_cache(maxsize=1)
def unicode_to_bytes() -> dict[str, int]:
    """Inverse of :func:`bytes_to_unicode`: printable character -> byte value."""
    return {ch: b for b, ch in enumerate(bytes_to_unicode())}


def token_bytes_to_str(data: bytes) -> str:
    """Show a byte string in the printable alphabet (``b" the"`` → ``"Ġthe"``)."""
    table = bytes_to_unicode()
    return "".join(table[b] for b in data)


def token_str_to_bytes(token: str) -> bytes | None:
    """Inverse of :func:`token_bytes_to_str`; None when a character is not in the alphabet."""
    inv = unicode_to_bytes()
    try:
        return bytes(inv[ch] for ch in token)
    except KeyError:
        return None
