"""Word and character tokenizers.

``word_tokenize`` splits on a regular expression: a *word* is a run of letters
or digits, optionally joined by inner apostrophes or hyphens ("don't",
"well-known"); a number may carry inner separators ("3.14", "1,000"); every
other visible character is a punctuation token on its own.
"""

from __future__ import annotations

import re

__all__ = ["word_tokenize", "char_tokenize", "WORD_PATTERN"]

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
