"""Corpus BLEU (Papineni et al., 2002).

    BLEU = BP · exp( Σₙ wₙ log pₙ ),   wₙ = 1/N  (N = 4)

* ``pₙ`` — modified n-gram precision over the whole corpus: for every
  candidate n-gram, count it at most as often as it appears in the reference
  that has the most of it ("clipping"), sum over sentences, divide by the
  number of candidate n-grams;
* ``BP`` — brevity penalty: ``1`` if the candidate corpus length ``c`` exceeds
  the effective reference length ``r`` (for each sentence the reference length
  closest to the candidate's), else ``exp(1 − r/c)``.

Sentences are lists of tokens. Scores are in [0, 1] (multiply by 100 for the
usual presentation).
"""

from __future__ import annotations

import math
from collections import Counter

__all__ = ["corpus_bleu", "sentence_bleu", "BleuScore"]


class BleuScore(float):
    """A float (the BLEU score) that also carries its parts."""

    precisions: list
    brevity_penalty: float
    candidate_length: int
    reference_length: int

    def __new__(cls, score, precisions, bp, c, r):
        obj = super().__new__(cls, score)
        obj.precisions, obj.brevity_penalty = precisions, bp
        obj.candidate_length, obj.reference_length = c, r
        return obj

    def __repr__(self):
        ps = "/".join(f"{100 * p:.1f}" for p in self.precisions)
        return (f"BLEU = {100 * self:.2f} ({ps}, BP={self.brevity_penalty:.3f}, "
                f"hyp_len={self.candidate_length}, ref_len={self.reference_length})")


def _ngrams(tokens, n):
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def _check_tokens(seq, what, i):
    if isinstance(seq, str):
        raise TypeError(
            f"bleu: {what} {i} must be a list of tokens, got a str; split it first "
            "(e.g. text.split())"
        )
    return list(seq)


def corpus_bleu(references, candidates, max_n: int = 4, smooth: bool = False) -> BleuScore:
    """Corpus-level BLEU.

    ``references``: for each sentence, a list of reference token lists (or a
    single token list). ``candidates``: one token list per sentence.
    ``smooth=True`` adds one to numerator and denominator of every n > 1
    precision (Lin & Och's "add-one" smoothing), useful for single sentences.
    """
    references = list(references)
    candidates = list(candidates)
    if len(references) != len(candidates):
        raise ValueError(
            f"corpus_bleu: expected one reference set per candidate, got {len(references)} "
            f"reference sets for {len(candidates)} candidates"
        )
    matches = [0] * max_n
    totals = [0] * max_n
    c_len = r_len = 0
    for i, (refs, cand) in enumerate(zip(references, candidates)):
        cand = _check_tokens(cand, "candidate", i)
        if refs and not isinstance(refs[0], (list, tuple)):
            refs = [refs]
        refs = [_check_tokens(r, "reference", i) for r in refs]
        if not refs:
            raise ValueError(f"corpus_bleu: candidate {i} has no reference")
        c_len += len(cand)
        # effective reference length: the closest (ties: the shorter)
        r_len += min((abs(len(r) - len(cand)), len(r)) for r in refs)[1]
        for n in range(1, max_n + 1):
            cand_counts = _ngrams(cand, n)
            max_ref = Counter()
            for r in refs:
                for gram, count in _ngrams(r, n).items():
                    max_ref[gram] = max(max_ref[gram], count)
            matches[n - 1] += sum(min(c, max_ref[g]) for g, c in cand_counts.items())
            totals[n - 1] += max(len(cand) - n + 1, 0)

    precisions = []
    for n in range(max_n):
        num, den = matches[n], totals[n]
        if smooth and n > 0:
            num, den = num + 1, den + 1
        precisions.append(num / den if den > 0 else 0.0)
    if c_len == 0 or min(precisions) == 0.0:
        score = 0.0
    else:
        score = math.exp(sum(math.log(p) for p in precisions) / max_n)
    bp = 1.0 if c_len > r_len else (math.exp(1 - r_len / c_len) if c_len > 0 else 0.0)
    return BleuScore(bp * score, precisions, bp, c_len, r_len)


def sentence_bleu(references, candidate, max_n: int = 4, smooth: bool = True) -> BleuScore:
    """BLEU of one sentence (smoothed by default: short sentences often lack 4-grams)."""
    return corpus_bleu([references], [candidate], max_n=max_n, smooth=smooth)
