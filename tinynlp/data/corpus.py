"""The pretraining corpus: ~6 million words of English running text, no test text in it.

    docs = tn.datasets.load_pretraining_corpus("train")        # list of str (documents)
    val = tn.datasets.load_pretraining_corpus("validation")
    tok = tn.text.BPETokenizer.train(docs, vocab_size=4096)

The corpus is assembled from the bundled data sets, using only their
*training* parts, plus three files made for it by
``tools/make_pretrain_corpus.py`` (``DATA.md`` lists every source, its
licence and its word count):

=====================  ===============================================================
source                 documents
=====================  ===============================================================
``brown``              Brown corpus training documents (detokenised: see :func:`detokenize`)
``shakespeare``        training part of each work, cut into pieces of >= 200 lines
``kjv``                King James Bible (the translation pairs' English side), one per
                       chapter, translation test verses removed
``web``                World English Bible (with Deuterocanon), one per chapter, the same
                       test verses removed (they translate the same references)
``spam_assassin``      SpamAssassin training e-mails (subject, blank line, body)
``rotten_tomatoes``    Rotten Tomatoes training snippets
``wordnet``            WordNet 3.0 glosses and examples, 50 synsets a document
``devils_dictionary``  Ambrose Bierce's *The Devil's Dictionary*, one entry a document
=====================  ===============================================================

**Words** are whitespace-separated tokens, ``len(text.split())``
(:func:`word_count`).

**Validation split**: a document is validation when CRC-32 of
``"<source>:<key>"`` mod 100 < 2 (the key: Brown document id, work and piece,
Bible chapter, the text itself for e-mails and snippets, WordNet's first
synset, the headword); about 2 % of the words.  Exact duplicate documents
(some e-mails) are kept once.

**Exclusion**: nothing from the evaluation or test split of any task enters
either split: the Brown test documents (genre, tagging and word-LM tests), the
last 10 % of each Shakespeare work, every translation test verse (for any
``max_tokens``), the SpamAssassin and Rotten Tomatoes test texts.
:func:`task_test_texts` returns all of them, and tasks added later register
theirs with :func:`register_test_split` (the dialogue corpus does), so that
the n-gram check of :func:`ngram_overlap` (``tools/check_pretrain_overlap.py``)
covers them too; documents that equal a registered test text exactly are
dropped from the corpus.
"""

from __future__ import annotations

import functools
import gzip
import json
import lzma
import math
import re
import sys
import time
import zlib
from collections import defaultdict

from . import datasets as _ds

__all__ = [
    "load_pretraining_corpus", "PRETRAIN_SOURCES", "VALIDATION_PERCENT", "word_count",
    "detokenize", "task_test_texts", "register_test_split", "ngram_overlap", "ngrams",
]

PRETRAIN_SOURCES = ("brown", "shakespeare", "kjv", "web", "spam_assassin",
                    "rotten_tomatoes", "wordnet", "devils_dictionary")
VALIDATION_PERCENT = 2
SHAKESPEARE_PIECE_LINES = 200


def word_count(texts) -> int:
    """Number of whitespace-separated tokens in an iterable of str (the corpus' 'words')."""
    return sum(len(t.split()) for t in texts)


# Brown's tokens are separated by spaces, with `` and '' for quotes.  Joined
# back: no space before closing punctuation, none after an opening bracket or
# quote; `` and '' become ".
_NO_SPACE_BEFORE = {",", ".", ";", ":", "!", "?", ")", "]", "}", "''"}
_NO_SPACE_AFTER = {"(", "[", "{", "``"}


def detokenize(tokens) -> str:
    """Join Brown-style tokens into running text.

    No space before ``, . ; : ! ? ) ] }`` and closing quotes, none after
    opening brackets and quotes; both quote tokens become ``"``; a sentence
    period after an abbreviation's (``Jr.`` ``.``) is dropped.

    >>> detokenize(["He", "said", "``", "no", "''", "(", "twice", ")", "to", "Jr.", "."])
    'He said "no" (twice) to Jr.'
    """
    out = []
    glue = True                                   # no space before the first token
    for tok in tokens:
        if tok == "." and out and out[-1].endswith("."):
            continue                              # "Jr." + "." at a sentence end
        if out and not glue and tok not in _NO_SPACE_BEFORE:
            out.append(" ")
        out.append('"' if tok in ("``", "''") else tok)
        glue = tok in _NO_SPACE_AFTER
    return "".join(out)


@functools.lru_cache(maxsize=None)
def _rows(name: str) -> tuple:
    opener = lzma.open if name.endswith(".xz") else gzip.open
    with opener(_ds.data_path(name), "rt", encoding="utf-8") as f:
        return tuple(json.loads(line) for line in f)


def _brown_documents(split: str):
    """(document id, [detokenised sentences]) of the Brown documents of one split.

    Reads the bundled file directly (``load_brown_pos`` does not keep document
    boundaries); rows are ``{"doc", "split", "sentences": ["word/tag ..."]}``.
    """
    for r in _rows("brown.jsonl.gz"):
        if r["split"] == split:
            yield r["doc"], [detokenize(item.rpartition("/")[0] for item in s.split(" "))
                             for s in r["sentences"]]


# ------------------------------------------------------------------ sources
# Each yields (key, text) for the training side of one source, in file order.
def _brown():
    for doc, sentences in _brown_documents("train"):
        yield doc, " ".join(sentences)


def _shakespeare():
    for work in _ds.SHAKESPEARE_WORKS:
        train, _test = _ds.load_shakespeare(works=[work])
        lines = train.rstrip("\n").split("\n")
        piece, k = [], 0
        for line in lines:
            if not line.strip() and len(piece) >= SHAKESPEARE_PIECE_LINES:
                yield f"{work}#{k}", "\n".join(piece)
                piece, k = [], k + 1
                continue
            piece.append(line)
        if any(x.strip() for x in piece):
            yield f"{work}#{k}", "\n".join(piece).strip("\n")


def _chapters(rows, text_key):
    """Verses (train split only) grouped by chapter, in order: ("Book c", text)."""
    chapters: dict[str, list[str]] = {}
    for r in rows:
        if r["split"] == "train":
            chapters.setdefault(r["ref"].rpartition(":")[0], []).append(r[text_key])
    for chapter, verses in chapters.items():
        yield chapter, " ".join(verses)


def _kjv():
    return _chapters(_rows("bible_es_en.jsonl.gz"), "en")


def _web():
    return _chapters(_rows("web_bible.jsonl.xz"), "text")


def _spam():
    (x, _), _ = _ds.load_spam_assassin()
    return ((t, t) for t in x)


def _rotten():
    (x, _), _ = _ds.load_rotten_tomatoes()
    return ((t, t) for t in x)


def _keyed(name):
    def gen():                                    # rows without text: e.g. a licence notice
        return ((r["key"], r["text"]) for r in _rows(name) if "text" in r)
    return gen


_SOURCES = {
    "brown": _brown, "shakespeare": _shakespeare, "kjv": _kjv, "web": _web,
    "spam_assassin": _spam, "rotten_tomatoes": _rotten,
    "wordnet": _keyed("wordnet_glosses.jsonl.xz"),
    "devils_dictionary": _keyed("devils_dictionary.jsonl.xz"),
}


def _is_validation(source: str, key: str) -> bool:
    return zlib.crc32(f"{source}:{key}".encode("utf-8")) % 100 < VALIDATION_PERCENT


# ------------------------------------------------------ task test splits
_TEST_SPLITS: dict = {}


def register_test_split(name: str, loader) -> None:
    """Declare a task's held-out texts: ``loader()`` returns a list of str.

    Registered texts are checked by :func:`ngram_overlap` reports and any
    corpus document equal to one of them is dropped.  A data set added later
    (e.g. the dialogue corpus) calls this when its module is imported.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: expected a non-empty str, got {name!r}")
    if not callable(loader):
        raise TypeError(f"loader: expected a callable returning a list of str, got "
                        f"{type(loader).__name__}")
    _TEST_SPLITS[name] = loader
    _CACHE.clear()


def _shakespeare_test():
    _train, test = _ds.load_shakespeare()
    return [p for p in test.split("\n\n") if p.strip()]


def _brown_test():
    return [s for _doc, sentences in _brown_documents("test") for s in sentences]


def task_test_texts(names=None) -> dict[str, list[str]]:
    """``{task: its test / evaluation texts}`` for every registered task (or ``names``).

    Brown's test documents come as detokenised sentences, Shakespeare's test
    part as its blank-line-separated passages, the translation test set as
    its English sentences.
    """
    names = list(_TEST_SPLITS) if names is None else list(names)
    unknown = [n for n in names if n not in _TEST_SPLITS]
    if unknown:
        raise ValueError(f"names: unknown test splits {unknown}; registered: "
                         f"{list(_TEST_SPLITS)}")
    return {n: list(_TEST_SPLITS[n]()) for n in names}


# ------------------------------------------------------------------ loader
def _progress(verbose):
    if verbose is None:
        verbose = sys.stderr.isatty()
    if not verbose:
        return lambda msg: None
    return lambda msg: print(msg, file=sys.stderr, flush=True)


_CACHE: dict[tuple, dict] = {}     # sources -> {"train": ..., "validation": ...}


def _assemble(sources: tuple, verbose) -> dict:
    """Both splits for ``sources``, built once and kept (cleared by register_test_split)."""
    if sources in _CACHE:
        return _CACHE[sources]
    say = _progress(verbose)
    t0 = time.perf_counter()
    held_out = set()
    for texts in task_test_texts().values():
        held_out.update(texts)
    out = {"train": [], "validation": []}
    seen = set()
    for k, name in enumerate(sources):
        n = 0
        for key, text in _SOURCES[name]():
            if not text.strip() or text in seen or text in held_out:
                continue
            seen.add(text)
            out["validation" if _is_validation(name, key) else "train"].append((name, text))
            n += 1
        say(f"pretraining corpus: {name} ({k + 1}/{len(sources)}): {n:,} documents "
            f"({time.perf_counter() - t0:.1f} s)")
    _CACHE[sources] = {s: tuple(v) for s, v in out.items()}
    return _CACHE[sources]


def load_pretraining_corpus(split: str = "train", sources=None, return_sources: bool = False,
                            verbose=None):
    """Documents of the pretraining corpus (module docstring: sources, split, exclusion).

    Args:
        split: ``"train"`` or ``"validation"`` (a fixed ~2 % of the documents).
        sources: None for all of :data:`PRETRAIN_SOURCES`, or a list of names
            from it (e.g. ``["brown", "wordnet"]``); documents come in that order.
        return_sources: return ``(source, text)`` pairs instead of texts.
        verbose: print progress to stderr; None (default) prints it only
            when stderr is a terminal.  The first load takes a few seconds;
            later calls with the same sources are served from memory.

    Returns:
        A new list of str (or of ``(source, text)`` tuples).
    """
    if split not in ("train", "validation"):
        raise ValueError(f"split: expected 'train' or 'validation', got {split!r}")
    if sources is None:
        names = PRETRAIN_SOURCES
    else:
        if isinstance(sources, str):
            sources = [sources]
        names = tuple(sources)
        unknown = [s for s in names if s not in _SOURCES]
        if not names or unknown:
            raise ValueError(f"sources: expected None or names from {PRETRAIN_SOURCES}, "
                             f"got {list(names)!r}")
    docs = _assemble(names, verbose)[split]
    return list(docs) if return_sources else [t for _, t in docs]


# ------------------------------------------------------------ n-gram check
_WORD = re.compile(r"\w+")


def ngrams(text: str, n: int = 8):
    """The word n-grams of ``text`` after normalising: lower case, words = runs of
    letters/digits (punctuation and spacing ignored), as tuples."""
    words = _WORD.findall(text.lower())
    return [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]


def ngram_overlap(corpus_texts, test_texts, n: int = 8) -> dict:
    """How many of the test texts' word n-grams also occur in the corpus.

    Args:
        corpus_texts: iterable of str (streamed once).
        test_texts: list of str (its n-grams are held in memory).
        n: n-gram length (8: long enough that a shared n-gram means shared text,
            not a common phrase).

    Returns:
        ``{"test_ngrams": distinct n-grams of the test texts, "shared": how many
        of them occur in the corpus, "fraction": shared / test_ngrams,
        "test_texts_hit": test texts with at least one shared n-gram,
        "test_texts": number of test texts}``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n: expected a positive int, got {n!r}")
    owner = defaultdict(list)
    test_texts = list(test_texts)
    for i, t in enumerate(test_texts):
        for g in set(ngrams(t, n)):
            owner[g].append(i)
    shared = set()
    for text in corpus_texts:
        for g in ngrams(text, n):
            if g in owner:
                shared.add(g)
    hit = {i for g in shared for i in owner[g]}
    total = len(owner)
    return {"test_ngrams": total, "shared": len(shared),
            "fraction": len(shared) / total if total else math.nan,
            "test_texts_hit": len(hit), "test_texts": len(test_texts)}


# the bundled tasks' held-out texts (a later data set registers its own)
register_test_split("rotten_tomatoes", lambda: _ds.load_rotten_tomatoes()[1][0])
register_test_split("spam_assassin", lambda: _ds.load_spam_assassin()[1][0])
register_test_split("brown", _brown_test)
register_test_split("shakespeare", _shakespeare_test)
register_test_split("translation_en", lambda: _ds.load_translation_pairs(max_tokens=None)[1][1])
register_test_split("dialogue", lambda: [line for c in _ds.load_dialogue(as_pairs=False)[1]
                                         for line in c])
