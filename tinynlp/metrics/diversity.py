"""Diversity of generated text: distinct-n (Li et al., 2016, "A Diversity-Promoting
Objective Function for Neural Conversation Models").

    distinct-n = |{distinct n-grams in all outputs}| / |n-grams in all outputs|

A dialogue model that answers everything with "I don't know" scores near 0;
one that never repeats an n-gram across its replies scores 1.
"""

from __future__ import annotations

__all__ = ["distinct_n"]


def distinct_n(outputs, n: int = 1) -> float:
    """distinct-n of a list of token lists (each output's n-grams, pooled over all
    outputs).  0.0 when the outputs hold no n-gram at all.

    >>> distinct_n([["i", "do", "not", "know"], ["i", "do", "not", "know"]], 2)
    0.5
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"distinct_n: n must be a positive int, got {n!r}")
    total, seen = 0, set()
    for i, tokens in enumerate(outputs):
        if isinstance(tokens, str):
            raise TypeError(f"distinct_n: outputs[{i}] is a str; pass token lists "
                            "(e.g. tinynlp.text.word_tokenize(text))")
        tokens = list(tokens)
        for k in range(len(tokens) - n + 1):
            seen.add(tuple(tokens[k:k + n]))
            total += 1
    return len(seen) / total if total else 0.0
