"""Easy Data Augmentation (EDA, Wei & Zou 2019) for text classification.

Four operations on a token list, each a small, seeded function:

* ``synonym_replacement``: replace ``n`` random non-stop-words by a synonym;
* ``random_insertion``: insert a synonym of a random word at a random place, ``n`` times;
* ``random_swap``: swap two random positions, ``n`` times;
* ``random_deletion``: delete each token with probability ``p``.

Synonyms come from any of:

* WordNet (the default, :func:`wordnet_synonyms`): a subset of Princeton
  WordNet 3.0 bundled with tinynlp (``text/data/``, made by
  ``tools/make_wordnet_synonyms.py``), where each common word has synonyms in
  one part of speech only (its usual one in the Brown corpus) and from its two
  most frequent senses;
* an embedding model with ``most_similar(word, topn)`` and ``__contains__``
  (``tinynlp.embeddings.KeyedVectors`` or gensim's ``KeyedVectors``): the
  nearest neighbours are taken as synonyms — beware: neighbours in a word
  space are often antonyms or co-hyponyms ("good" → "bad", "film" → "drama");
* a plain ``dict`` ``{word: [synonym, ...]}``;
* a callable ``word -> list of synonyms``.

Whatever the source, a candidate that WordNet lists as an antonym of the word
is never used (``exclude_antonyms=True``), and :class:`EDA` leaves negations
(:data:`NEGATIONS`: "not", "never", ...) where they are — never replaced,
deleted or swapped — because losing or moving one flips a sentence's label
("a good film, never boring").  Both are departures from the paper, made so
that augmentation preserves labels; ``keep=()`` restores the paper's behaviour.

:class:`EDA` composes the operations as in the paper, and
:func:`augment_minority` uses it to grow the rare classes of a data set: an
alternative to ``RandomOverSampler``, which only *duplicates* minority examples.
"""

from __future__ import annotations

import functools
import gzip
import json
import math
from pathlib import Path

import numpy as np

from .. import random as tn_random
from .tokenizer import word_tokenize

__all__ = ["EDA", "synonym_replacement", "random_insertion", "random_swap",
           "random_deletion", "augment_minority", "STOPWORDS", "NEGATIONS", "SynonymSource",
           "WordNetSynonyms", "wordnet_synonyms"]

#: a short English stop-word list: these words are never replaced by synonyms
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for
from further had has have having he her here hers herself him himself his how i if in
into is it its itself just me more most my myself no nor not now of off on once only
or other our ours ourselves out over own same she should so some such than that the
their theirs them themselves then there these they this those through to too under
until up very was we were what when where which while who whom why will with would you
your yours yourself yourselves
""".split())


#: negations: EDA never replaces, deletes or swaps them (that would flip the label)
NEGATIONS = frozenset("""
not no never nor none nobody nothing neither nowhere cannot without n't hardly barely
scarcely
""".split())

WORDNET_PATH = Path(__file__).resolve().parent / "data" / "wordnet_synonyms.json.gz"


class WordNetSynonyms:
    """Synonyms and antonyms from the bundled WordNet 3.0 subset.

    ``wn("film")`` → ``["movie", "picture", "flick", "cinema"]``: the other
    single-word lemmas of the word's two most frequent WordNet senses, in the
    part of speech ``wn.pos("film")`` (``"n"``, ``"v"``, ``"a"`` or ``"r"``) the
    word usually has in the Brown corpus, restricted to the 20k most frequent
    GloVe words and never an antonym.  ``wn.antonyms("good")`` lists its
    WordNet antonyms over all senses.  Words outside the subset have none.
    Built by ``tools/make_wordnet_synonyms.py``; WordNet 3.0 licence
    (``tinynlp/data/licenses/WordNet-3.0.txt``).
    """

    def __init__(self, path=WORDNET_PATH):
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"WordNetSynonyms: {path} is missing (re-derive it with "
                "tools/make_wordnet_synonyms.py)")
        with gzip.open(path, "rt", encoding="utf-8") as f:
            data = json.load(f)
        self.about = data["about"]
        self._synonyms = data["synonyms"]
        self._pos = data["pos"]
        self._antonyms = {w: frozenset(a) for w, a in data["antonyms"].items()}

    def __call__(self, word: str) -> list[str]:
        return list(self._synonyms.get(word.lower(), ()))

    def pos(self, word: str):
        """The part of speech (``"n"``, ``"v"``, ``"a"``, ``"r"``) of the word's synonyms,
        or None."""
        return self._pos.get(word.lower())

    def antonyms(self, word: str) -> frozenset:
        return self._antonyms.get(word.lower(), frozenset())

    def are_antonyms(self, a: str, b: str) -> bool:
        a, b = a.lower(), b.lower()
        return b in self._antonyms.get(a, ()) or a in self._antonyms.get(b, ())

    def __contains__(self, word) -> bool:
        return isinstance(word, str) and word.lower() in self._synonyms

    def __len__(self) -> int:
        return len(self._synonyms)

    def __repr__(self):
        return f"WordNetSynonyms({len(self)} words, {self.about.get('source', '')})"


@functools.lru_cache(maxsize=1)
def wordnet_synonyms() -> WordNetSynonyms:
    """The bundled WordNet synonyms (loaded once): the default synonym source of EDA."""
    return WordNetSynonyms()


def _rng(random_state) -> np.random.Generator:
    if random_state is None:
        return tn_random.get_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return np.random.default_rng(int(random_state))
    raise TypeError(
        f"random_state: expected None, an int or a numpy Generator, got "
        f"{type(random_state).__name__}")


class SynonymSource:
    """Uniform view over the synonym providers (WordNet, embedding model, dict or callable).

    ``source=None`` is the bundled WordNet (:func:`wordnet_synonyms`).
    ``exclude_antonyms``: drop every candidate that WordNet lists as an antonym of
    the word (either way), whatever the source.
    """

    def __init__(self, source=None, topn: int = 5, lower: bool = True,
                 exclude_antonyms: bool = True):
        if isinstance(source, SynonymSource):
            source = source.source
        if source is None:
            source = wordnet_synonyms()
        if not (isinstance(source, dict) or callable(source)
                or (hasattr(source, "most_similar") and hasattr(source, "__contains__"))):
            raise TypeError(
                "synonyms: expected a dict {word: [synonyms]}, a callable word -> synonyms, or "
                "an object with most_similar(word, topn) and __contains__ (e.g. KeyedVectors), "
                f"got {type(source).__name__}")
        self.source = source
        self.topn = int(topn)
        self.lower = lower
        self.exclude_antonyms = bool(exclude_antonyms)
        self._cache: dict[str, list[str]] = {}

    def __call__(self, word: str) -> list[str]:
        if word in self._cache:
            return self._cache[word]
        key = word.lower() if self.lower else word
        src = self.source
        if isinstance(src, dict):
            found = list(src.get(key, src.get(word, [])))
        elif hasattr(src, "most_similar") and hasattr(src, "__contains__"):
            if key in src:
                found = [w for w, _ in src.most_similar(key, topn=self.topn)]
            elif word in src:
                found = [w for w, _ in src.most_similar(word, topn=self.topn)]
            else:
                found = []
        else:
            found = list(src(word))
        found = [s for s in found if isinstance(s, str) and s.lower() != key]
        if self.exclude_antonyms:
            wn = wordnet_synonyms()
            found = [s for s in found if not wn.are_antonyms(key, s)]
        self._cache[word] = found
        return found


def _as_source(synonyms):
    return synonyms if isinstance(synonyms, SynonymSource) else SynonymSource(synonyms)


def _kept(token, keep):
    return token.lower() in keep


def synonym_replacement(tokens, n, synonyms=None, random_state=None, stopwords=STOPWORDS,
                        keep=()):
    """Replace up to ``n`` distinct words (not stop-words, not in ``keep``; with synonyms)
    by a random synonym (``synonyms=None``: WordNet).

    Every occurrence of a chosen word is replaced by the same synonym, as in EDA.
    """
    rng = _rng(random_state)
    syn = _as_source(synonyms)
    out = list(tokens)
    candidates = list(dict.fromkeys(t for t in out if t.lower() not in stopwords
                                    and not _kept(t, keep)))
    order = rng.permutation(len(candidates))
    replaced = 0
    for k in order:
        if replaced >= n:
            break
        word = candidates[k]
        options = syn(word)
        if not options:
            continue
        new = options[int(rng.integers(len(options)))]
        out = [new if t == word else t for t in out]
        replaced += 1
    return out


def random_insertion(tokens, n, synonyms=None, random_state=None, max_tries: int = 10):
    """Insert ``n`` times a synonym of a random token at a random position
    (``synonyms=None``: WordNet)."""
    rng = _rng(random_state)
    syn = _as_source(synonyms)
    out = list(tokens)
    for _ in range(n):
        if not out:
            break
        for _ in range(max_tries):
            options = syn(out[int(rng.integers(len(out)))])
            if options:
                word = options[int(rng.integers(len(options)))]
                out.insert(int(rng.integers(len(out) + 1)), word)
                break
    return out


def random_swap(tokens, n, random_state=None, keep=()):
    """Swap the tokens at two random (distinct) positions, ``n`` times.

    Tokens in ``keep`` stay where they are and nothing is swapped across one:
    the two positions always lie between the same kept tokens, so a swap never
    changes what a negation applies to ("a good film, never boring" cannot
    become "a boring film, never good").
    """
    rng = _rng(random_state)
    out = list(tokens)
    segments, current = [], []
    for i, t in enumerate(out):
        if _kept(t, keep):
            segments.append(current)
            current = []
        else:
            current.append(i)
    segments.append(current)
    # a position to move, uniformly among those that have a partner in their segment
    movable = [(seg, k) for seg in segments if len(seg) >= 2 for k in range(len(seg))]
    if not movable:
        return out
    for _ in range(n):
        seg, a = movable[int(rng.integers(len(movable)))]
        b = int(rng.integers(len(seg) - 1))
        b += b >= a
        i, j = seg[a], seg[b]
        out[i], out[j] = out[j], out[i]
    return out


def random_deletion(tokens, p, random_state=None, keep=()):
    """Delete each token (except those in ``keep``) with probability ``p``; a single
    random token survives if all go."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p: expected a probability in [0, 1], got {p!r}")
    rng = _rng(random_state)
    out = list(tokens)
    if len(out) <= 1:
        return out
    survive = (rng.random(len(out)) >= p) | np.array([_kept(t, keep) for t in out], bool)
    if not survive.any():
        return [out[int(rng.integers(len(out)))]]
    return [t for t, k in zip(out, survive) if k]


class EDA:
    """Easy Data Augmentation: ``num_aug`` new versions of a sentence.

    As in Wei & Zou (2019), for a sentence of ``l`` tokens each operation is
    used for about a quarter of the new sentences, changing
    ``max(1, int(alpha * l))`` words (random deletion: each word with
    probability ``p_rd``).  An ``alpha`` of 0 switches an operation off.

    Args:
        alpha_sr, alpha_ri, alpha_rs: fraction of words changed by synonym
            replacement, random insertion and random swap.
        p_rd: deletion probability of random deletion.
        num_aug: new sentences per input sentence.
        synonyms: synonym source (see module doc); default: the bundled
            WordNet (:func:`wordnet_synonyms`).
        stopwords: words never replaced by synonyms.
        keep: words never replaced, deleted or swapped (default
            :data:`NEGATIONS`; ``()`` for the paper's behaviour).
        exclude_antonyms: never use a candidate that WordNet lists as an
            antonym of the word it replaces or accompanies.
        topn: neighbours taken from an embedding model.
        tokenizer: ``str -> list of tokens`` for string input (default:
            :func:`word_tokenize`); output strings are tokens joined by spaces.
        random_state: ``None`` (tinynlp's global generator), an int seed, or a
            ``np.random.Generator``.

    >>> eda = EDA(num_aug=2, random_state=0)
    >>> len(eda.augment("a quick brown fox jumps"))
    2
    """

    def __init__(self, alpha_sr=0.1, alpha_ri=0.1, alpha_rs=0.1, p_rd=0.1, num_aug=4,
                 synonyms=None, stopwords=STOPWORDS, topn=5, tokenizer=None,
                 random_state=None, keep=NEGATIONS, exclude_antonyms=True):
        for name, v in (("alpha_sr", alpha_sr), ("alpha_ri", alpha_ri),
                        ("alpha_rs", alpha_rs), ("p_rd", p_rd)):
            if not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
                raise ValueError(f"{name}: expected a number in [0, 1], got {v!r}")
        if isinstance(num_aug, bool) or not isinstance(num_aug, int) or num_aug < 1:
            raise ValueError(f"num_aug: expected an int >= 1, got {num_aug!r}")
        if not any((alpha_sr, alpha_ri, alpha_rs, p_rd)):
            raise ValueError("EDA: all of alpha_sr, alpha_ri, alpha_rs and p_rd are 0: "
                             "nothing to do")
        self.alpha_sr, self.alpha_ri, self.alpha_rs, self.p_rd = alpha_sr, alpha_ri, alpha_rs, p_rd
        self.num_aug = num_aug
        needs_synonyms = alpha_sr > 0 or alpha_ri > 0
        self.synonyms = SynonymSource(synonyms, topn=topn, exclude_antonyms=exclude_antonyms) \
            if needs_synonyms or synonyms is not None else None
        self.stopwords = frozenset(stopwords)
        self.keep = frozenset(w.lower() for w in keep)
        self.tokenizer = tokenizer or word_tokenize
        self.rng = _rng(random_state)

    def _ops(self):
        ops = []
        if self.alpha_sr > 0:
            ops.append("sr")
        if self.alpha_ri > 0:
            ops.append("ri")
        if self.alpha_rs > 0:
            ops.append("rs")
        if self.p_rd > 0:
            ops.append("rd")
        return ops

    def _apply(self, op, tokens):
        n_words = len(tokens)
        if op == "sr":
            n = max(1, int(self.alpha_sr * n_words))
            return synonym_replacement(tokens, n, self.synonyms, self.rng, self.stopwords,
                                       self.keep)
        if op == "ri":
            n = max(1, int(self.alpha_ri * n_words))
            return random_insertion(tokens, n, self.synonyms, self.rng)
        if op == "rs":
            n = max(1, int(self.alpha_rs * n_words))
            return random_swap(tokens, n, self.rng, self.keep)
        return random_deletion(tokens, self.p_rd, self.rng, self.keep)

    def augment(self, text):
        """``num_aug`` augmented versions of one text (str -> list of str; tokens -> lists)."""
        if isinstance(text, str):
            tokens, as_str = self.tokenizer(text), True
        elif isinstance(text, (list, tuple)) and all(isinstance(t, str) for t in text):
            tokens, as_str = list(text), False
        else:
            raise TypeError(
                f"text: expected a str or a list of str tokens, got {type(text).__name__}")
        ops = self._ops()
        per_op = int(math.ceil(self.num_aug / len(ops)))
        made = [self._apply(op, tokens) for op in ops for _ in range(per_op)]
        order = self.rng.permutation(len(made))[: self.num_aug]
        made = [made[i] for i in order]
        return [" ".join(m) for m in made] if as_str else made

    __call__ = augment

    def transform(self, texts):
        """Augment each text: a flat list of ``len(texts) * num_aug`` new texts."""
        if isinstance(texts, str):
            raise TypeError("texts: expected a list of texts, got a single str")
        return [a for t in texts for a in self.augment(t)]

    def __repr__(self):
        return (f"EDA(alpha_sr={self.alpha_sr}, alpha_ri={self.alpha_ri}, "
                f"alpha_rs={self.alpha_rs}, p_rd={self.p_rd}, num_aug={self.num_aug})")


def augment_minority(texts, labels, target_ratio=1.0, n=None, eda=None, random_state=None):
    """Grow every minority class with EDA-augmented copies of its own examples.

    Unlike ``RandomOverSampler``, which *duplicates* minority examples, the new
    examples are perturbed versions (synonyms, insertions, swaps, deletions).

    Args:
        texts: list of str (or of token lists).
        labels: class labels, one per text.
        target_ratio: grow each class to ``target_ratio * majority_count``
            examples (classes already at or above it are left alone).
        n: instead of ``target_ratio``: the number of new examples per minority
            class (an int, or a dict ``{class: count}``).
        eda: the :class:`EDA` to use (default: ``EDA(alpha_sr=0, alpha_ri=0,
            alpha_rs=0.1, p_rd=0.1, num_aug=1)``, which needs no synonyms).
        random_state: seed for choosing which examples to augment.

    Returns:
        ``(texts_out, labels_out)``: the originals followed by the new examples
        (``labels_out`` a numpy array).
    """
    if isinstance(texts, str):
        raise TypeError("texts: expected a list of texts, got a single str")
    texts = list(texts)
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels: expected a 1-D sequence, got shape {y.shape}")
    if len(texts) != len(y):
        raise ValueError(
            f"texts and labels: expected the same length, got {len(texts)} texts and "
            f"{len(y)} labels")
    if not texts:
        raise ValueError("texts: expected at least one example, got an empty list")
    for i, t in enumerate(texts):
        if not isinstance(t, (str, list, tuple)):
            raise TypeError(f"texts[{i}]: expected a str or a token list, got {type(t).__name__}")
    rng = _rng(random_state)
    if eda is None:
        eda = EDA(alpha_sr=0, alpha_ri=0, alpha_rs=0.1, p_rd=0.1, num_aug=1, random_state=rng)
    classes, counts = np.unique(y, return_counts=True)
    majority = counts.max()
    if n is None:
        if not isinstance(target_ratio, (int, float)) or target_ratio <= 0:
            raise ValueError(f"target_ratio: expected a positive number, got {target_ratio!r}")
        want = {c: max(0, int(round(target_ratio * majority)) - k)
                for c, k in zip(classes, counts) if k < majority}
    elif isinstance(n, dict):
        unknown = set(n) - set(classes.tolist())
        if unknown:
            raise ValueError(f"n: classes {sorted(unknown)} are not in labels {classes.tolist()}")
        want = {c: int(v) for c, v in n.items()}
    elif isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0:
        want = {c: int(n) for c, k in zip(classes, counts) if k < majority}
    else:
        raise ValueError(f"n: expected None, a non-negative int or a dict, got {n!r}")
    new_texts, new_labels = [], []
    for c, k in want.items():
        idx = np.flatnonzero(y == c)
        made = 0
        while made < k:
            i = int(idx[int(rng.integers(len(idx)))])
            for t in eda.augment(texts[i]):
                if made >= k:
                    break
                new_texts.append(t)
                new_labels.append(c)
                made += 1
    y_out = np.concatenate([y, np.asarray(new_labels, dtype=y.dtype)]) if new_labels else y.copy()
    return texts + new_texts, y_out
