"""Learning byte-pair merges: the textbook loop and a fast incremental twin.

Both functions take a *word-frequency table* ``{chunk_bytes: count}`` (the
pre-split chunks of the training text as UTF-8 bytes, see
:mod:`tinynlp.text.byte_level`) and return the merges in the order learned,
each a pair of token ids ``(left, right)``.  Tokens 0..255 are the bytes;
merge number ``r`` creates token ``256 + r``.

The algorithm (Sennrich et al. 2016, on bytes as in GPT-2):

1. write every word as its sequence of byte tokens;
2. count every adjacent pair of tokens over all words, each occurrence
   weighted by the word's count (overlapping occurrences count: the word
   ``a a a`` holds the pair ``(a, a)`` twice);
3. take the most frequent pair; **ties go to the smallest pair** ``(left, right)``
   compared as ids (left first), which makes the result independent of the
   order of the table and of the training texts;
4. stop if its count is below ``min_frequency``; else replace, in every word,
   each occurrence of the pair by the new token, scanning left to right
   (``a a a`` with ``(a, a)`` → ``aa a``);
5. repeat from 2 until ``num_merges`` merges are learned or no pair is left.

:func:`learn_merges_reference` does exactly that, recounting every pair each
round: obviously right, and slow (every round touches every word).
:func:`learn_merges` gives the same merges (tests assert it) by updating the
counts incrementally: it keeps the pair counts, an index pair → words that
contain it, and a max-heap of counts; a merge only revisits the words that
contain the merged pair.  Correctness rests on one fact: after a merge, a
word's pairs that do not involve the new token are a sub-multiset of its old
pairs, so an existing pair's count can only go down, and only pairs with the
new token need indexing (a merged pair never comes back).
A popped heap entry whose stored count no longer matches is pushed back with
the current count; an entry that matches is the true maximum, and among equal
counts the heap order ``(-count, left, right)`` yields the smallest pair.
"""

from __future__ import annotations

import heapq
import sys
import time
from collections import Counter, defaultdict

from .byte_level import pre_split_pattern

__all__ = ["count_chunks", "merge_pair", "learn_merges_reference", "learn_merges"]


def merge_pair(word, pair, new_id: int) -> list[int]:
    """Replace each occurrence of ``pair`` in ``word``, left to right, by ``new_id``.

    >>> merge_pair([1, 1, 1, 2, 1, 1], (1, 1), 9)
    [9, 1, 2, 9]
    """
    a, b = pair
    out = []
    i, n = 0, len(word)
    while i < n:
        if i + 1 < n and word[i] == a and word[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


def count_chunks(texts, special_tokens=(), verbose: int = 0) -> dict[bytes, int]:
    """The word-frequency table of ``texts``: ``{chunk as UTF-8 bytes: count}``.

    ``texts`` is any iterable of str, read once (a generator is fine: only the
    table is kept).  Occurrences of the ``special_tokens`` strings are cut out
    first, so no merge is learned across or inside them.
    """
    find = pre_split_pattern().findall
    specials = sorted(set(special_tokens), key=len, reverse=True)
    cut = None
    if specials:
        import re
        cut = re.compile("|".join(re.escape(s) for s in specials)).split
    counts: Counter = Counter()
    t0 = time.perf_counter()
    n_texts = n_chars = 0
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}]: expected a str, got {type(text).__name__}")
        n_texts += 1
        n_chars += len(text)
        for piece in (cut(text) if cut else (text,)):
            counts.update(find(piece))
        if verbose and n_texts % 20000 == 0:
            print(f"  counted {n_texts:,} texts, {n_chars / 1e6:.1f} M characters, "
                  f"{len(counts):,} distinct chunks ({time.perf_counter() - t0:.1f} s)",
                  file=sys.stderr)
    table: dict[bytes, int] = {}
    for chunk, c in counts.items():
        try:
            key = chunk.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValueError(
                f"texts: a text contains the lone surrogate {chunk[e.start]!r}, which has no "
                "UTF-8 encoding; clean the text (e.g. s.encode('utf-8', 'replace').decode())"
            ) from None
        table[key] = table.get(key, 0) + c
    if verbose:
        print(f"  {n_texts:,} texts, {n_chars / 1e6:.1f} M characters -> {len(table):,} "
              f"distinct chunks ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return table


def _check(word_counts, num_merges, min_frequency):
    if not isinstance(word_counts, dict):
        raise TypeError(f"word_counts: expected a dict {{bytes: int}}, got "
                        f"{type(word_counts).__name__}")
    if isinstance(num_merges, bool) or not isinstance(num_merges, int) or num_merges < 0:
        raise ValueError(f"num_merges: expected an int >= 0, got {num_merges!r}")
    if isinstance(min_frequency, bool) or not isinstance(min_frequency, int) \
            or min_frequency < 1:
        raise ValueError(f"min_frequency: expected an int >= 1, got {min_frequency!r}")


def learn_merges_reference(word_counts: dict, num_merges: int,
                           min_frequency: int = 2) -> list[tuple[int, int]]:
    """The textbook merge loop (module docstring): recount all pairs every round."""
    _check(word_counts, num_merges, min_frequency)
    words = [(list(w), c) for w, c in word_counts.items()]
    merges: list[tuple[int, int]] = []
    while len(merges) < num_merges:
        pair_counts: Counter = Counter()
        for word, c in words:
            for pair in zip(word, word[1:]):
                pair_counts[pair] += c
        if not pair_counts:
            break
        best = min(pair_counts, key=lambda p: (-pair_counts[p], p))
        if pair_counts[best] < min_frequency:
            break
        new_id = 256 + len(merges)
        merges.append(best)
        words = [(merge_pair(word, best, new_id), c) for word, c in words]
    return merges


def learn_merges(word_counts: dict, num_merges: int, min_frequency: int = 2,
                 verbose: int = 0) -> list[tuple[int, int]]:
    """Same merges as :func:`learn_merges_reference`, with incremental pair counts."""
    _check(word_counts, num_merges, min_frequency)
    words = [list(w) for w in word_counts]
    freq = list(word_counts.values())
    pair_counts: dict[tuple[int, int], int] = defaultdict(int)
    where: dict[tuple[int, int], set[int]] = defaultdict(set)   # pair -> words (may be stale)
    for i, word in enumerate(words):
        for pair in zip(word, word[1:]):
            pair_counts[pair] += freq[i]
            where[pair].add(i)
    heap = [(-c, a, b) for (a, b), c in pair_counts.items()]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    t0 = time.perf_counter()
    report = max(1, num_merges // 10)
    while len(merges) < num_merges and heap:
        neg, a, b = heapq.heappop(heap)
        best = (a, b)
        c = pair_counts.get(best, 0)
        if c != -neg:                      # stale entry: the count went down since
            if c > 0:
                heapq.heappush(heap, (-c, a, b))
            continue
        if c < min_frequency:
            break
        new_id = 256 + len(merges)
        merges.append(best)
        touched = set()
        for i in where.pop(best):
            word = words[i]
            old_pairs = list(zip(word, word[1:]))
            if best not in old_pairs:       # the index is stale for this word
                continue
            f = freq[i]
            for pair in old_pairs:
                left = pair_counts[pair] - f
                if left:
                    pair_counts[pair] = left
                else:
                    del pair_counts[pair]
            word = merge_pair(word, best, new_id)
            words[i] = word
            for pair in zip(word, word[1:]):
                pair_counts[pair] += f
                if new_id in pair:         # other pairs were in the old word: indexed
                    where[pair].add(i)
                    touched.add(pair)
        for pair in touched:               # new pairs: push their final counts
            heapq.heappush(heap, (-pair_counts[pair], pair[0], pair[1]))
        if verbose and len(merges) % report == 0:
            print(f"  merge {len(merges):,}/{num_merges:,}: count {c:,} "
                  f"({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return merges
