"""Intrinsic evaluation of word vectors: analogies and word-pair similarity.

* **Analogies** (Mikolov et al. 2013, ``questions-words.txt``): for a line
  ``a b c d`` the prediction is the word (other than a, b, c) whose unit
  vector is closest to  b̂ − â + ĉ  (3CosAdd).  Accuracy = correct / answered;
  questions with a word outside the (restricted) vocabulary are skipped and
  counted as OOV.
* **Similarity** (WordSim-353, SimLex-999): Spearman's rank correlation between
  human scores and cosine similarities,

      ρ = Pearson(rank(x), rank(y)),

  where tied values get the average of the ranks they span.
"""

from __future__ import annotations

import gzip
import math
import os
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "DATASETS",
    "AnalogyResult",
    "SimilarityResult",
    "dataset_path",
    "evaluate_analogies",
    "evaluate_similarity",
    "pearson",
    "rankdata",
    "spearman",
]

_DATA = os.path.join(os.path.dirname(__file__), "data")
DATASETS = {
    "questions-words": "questions-words.txt.gz",
    "wordsim353": "wordsim353.tsv.gz",
    "simlex999": "simlex999.txt.gz",
}


def dataset_path(name):
    """Path of a bundled evaluation file (``questions-words``, ``wordsim353``, ``simlex999``)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(DATASETS)}")
    return os.path.join(_DATA, DATASETS[name])


def _read_lines(path):
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return f.read().splitlines()


# --------------------------------------------------------------- statistics
def rankdata(x):
    """Ranks 1..n; tied values share the average of the ranks they occupy."""
    x = np.asarray(x, dtype=np.float64).ravel()
    n = x.shape[0]
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    ranks = np.empty(n, dtype=np.float64)
    i = 0
    while i < n:
        j = i
        while j + 1 < n and xs[j + 1] == xs[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0  # average of ranks i+1 .. j+1
        i = j + 1
    return ranks


def pearson(x, y):
    """r = Σ(x−x̄)(y−ȳ) / √(Σ(x−x̄)² Σ(y−ȳ)²)   (nan if either is constant)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"pearson: x and y need the same length, got {x.shape[0]} and {y.shape[0]}")
    if x.shape[0] < 2:
        return float("nan")
    dx, dy = x - x.mean(), y - y.mean()
    den = math.sqrt(float(dx @ dx) * float(dy @ dy))
    return float(dx @ dy / den) if den > 0 else float("nan")


def spearman(x, y):
    """Spearman's ρ: Pearson correlation of the average ranks."""
    return pearson(rankdata(x), rankdata(y))


def _betacf(a, b, x, iters=300, eps=3e-16):
    """Continued fraction for the regularised incomplete beta (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, iters + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        de = d * c
        h *= de
        if abs(de - 1.0) < eps:
            break
    return h


def _betainc(a, b, x):
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(lbeta + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def correlation_pvalue(r, n):
    """Two-sided p-value of a correlation r over n pairs (t = r √((n−2)/(1−r²)), n−2 dof)."""
    if n < 3 or not np.isfinite(r):
        return float("nan")
    if abs(r) >= 1.0:
        return 0.0
    df = n - 2.0
    t2 = r * r * df / (1.0 - r * r)
    return float(_betainc(df / 2.0, 0.5, df / (df + t2)))


# ---------------------------------------------------------------- analogies
@dataclass
class AnalogyResult:
    accuracy: float          # correct / (correct + incorrect); nan when nothing answered
    correct: int
    incorrect: int
    oov: int                 # questions skipped: a word outside the (restricted) vocabulary
    total: int               # questions in the file
    sections: list = field(default_factory=list)  # gensim-style per-section dicts

    @property
    def answered(self):
        return self.correct + self.incorrect

    def __iter__(self):  # allows: accuracy, sections = ...  (gensim's return shape)
        return iter((self.accuracy, self.sections))


def _lookup_table(kv, restrict_vocab, case_insensitive):
    keys = kv.index_to_key[: min(int(restrict_vocab), len(kv))]
    if case_insensitive:
        table = {}
        for i in range(len(keys) - 1, -1, -1):  # most frequent (lowest index) wins
            table[keys[i].upper()] = i
        return table, len(keys)
    return {k: i for i, k in enumerate(keys)}, len(keys)


def evaluate_analogies(kv, path=None, restrict_vocab=300000, case_insensitive=True, batch=512):
    """Accuracy on ``a b c d`` analogy questions (default: the bundled Mikolov set).

    Only the first ``restrict_vocab`` words (files are frequency-ordered) are
    used, both to decide whether a question is answerable and as candidates,
    as gensim does.  Returns an :class:`AnalogyResult`.
    """
    lines = _read_lines(path if path is not None else dataset_path("questions-words"))
    table, limit = _lookup_table(kv, restrict_vocab, case_insensitive)
    normed = kv.get_normed_vectors()[:limit]
    sections = []
    questions = []  # (section index, ia, ib, ic, id, words)
    total = oov = 0
    for line in lines:
        if line.startswith(":"):
            sections.append({"section": line.lstrip(": ").strip(), "correct": [], "incorrect": []})
            continue
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 4:
            raise ValueError(f"{path}: analogy line needs 4 words, got {line!r}")
        if not sections:
            sections.append({"section": "", "correct": [], "incorrect": []})
        total += 1
        words = [w.upper() for w in parts] if case_insensitive else parts
        ids = [table.get(w) for w in words]
        if any(i is None for i in ids):
            oov += 1
            continue
        questions.append((len(sections) - 1, *ids, tuple(words)))
    correct = incorrect = 0
    for start in range(0, len(questions), batch):
        qs = questions[start:start + batch]
        ia = np.array([q[1] for q in qs])
        ib = np.array([q[2] for q in qs])
        ic = np.array([q[3] for q in qs])
        query = normed[ib] - normed[ia] + normed[ic]
        sims = query @ normed.T  # (batch, limit); the query's norm does not change argmax
        rows = np.arange(len(qs))
        sims[rows, ia] = -np.inf
        sims[rows, ib] = -np.inf
        sims[rows, ic] = -np.inf
        pred = np.argmax(sims, axis=1)
        for q, p in zip(qs, pred):
            ok = p == q[4]
            sections[q[0]]["correct" if ok else "incorrect"].append(q[5])
            correct += int(ok)
            incorrect += int(not ok)
    answered = correct + incorrect
    acc = correct / answered if answered else float("nan")
    sections = [s for s in sections if s["correct"] or s["incorrect"]]
    sections.append({
        "section": "Total accuracy",
        "correct": [w for s in sections for w in s["correct"]],
        "incorrect": [w for s in sections for w in s["incorrect"]],
    })
    return AnalogyResult(acc, correct, incorrect, oov, total, sections)


# --------------------------------------------------------------- similarity
@dataclass
class SimilarityResult:
    spearman: float
    spearman_pvalue: float
    pearson: float
    pearson_pvalue: float
    pairs: int       # pairs scored
    oov: int         # pairs skipped because a word was out of vocabulary
    total: int

    @property
    def oov_ratio(self):
        return self.oov / self.total if self.total else 0.0


def evaluate_similarity(kv, dataset="wordsim353", delimiter="\t", restrict_vocab=300000,
                        case_insensitive=True):
    """Spearman ρ between human scores and cosine similarity.

    ``dataset`` is ``"wordsim353"``, ``"simlex999"`` or a path to a file of
    ``word1<TAB>word2<TAB>score`` lines (``#`` starts a comment).  Pairs with a
    word outside the first ``restrict_vocab`` words are skipped (``oov``).
    """
    path = dataset_path(dataset) if dataset in DATASETS else dataset
    table, _limit = _lookup_table(kv, restrict_vocab, case_insensitive)
    normed = kv.get_normed_vectors()
    human, model = [], []
    total = oov = 0
    for lineno, line in enumerate(_read_lines(path), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(delimiter)
        if len(parts) < 3:
            raise ValueError(f"{path}:{lineno}: expected 'word1{delimiter}word2{delimiter}score'")
        a, b = parts[0].strip(), parts[1].strip()
        try:
            score = float(parts[2])
        except ValueError:
            raise ValueError(f"{path}:{lineno}: bad score {parts[2]!r}") from None
        total += 1
        if case_insensitive:
            a, b = a.upper(), b.upper()
        ia, ib = table.get(a), table.get(b)
        if ia is None or ib is None:
            oov += 1
            continue
        human.append(score)
        model.append(float(normed[ia] @ normed[ib]))
    rho = spearman(human, model) if len(human) >= 2 else float("nan")
    r = pearson(human, model) if len(human) >= 2 else float("nan")
    n = len(human)
    return SimilarityResult(rho, correlation_pvalue(rho, n), r, correlation_pvalue(r, n), n, oov, total)
