"""Class imbalance, measured: five ways to train on a skewed binary data set.

The data: Rotten Tomatoes sentiment with the *rotten* class (label 0)
subsampled so that it is only ``minority_fraction`` (default 10 %) of the
training set — about 570 rotten against 5,100 fresh snippets.  The test split
is left untouched (balanced, 2,499 snippets), so a model that ignores the
rare class is caught out.

The same small model (the Kim CNN of :mod:`tinynlp.tasks.sentiment`) is
trained with the same settings under each strategy (``STRATEGIES``):

* ``none``         — no correction;
* ``class_weight`` — ``fit(class_weight=...)`` with the "balanced" weights
  ``n / (2 · n_c)`` (:func:`tinynlp.data.class_weight_dict`);
* ``oversample``   — :class:`tinynlp.data.RandomOverSampler`: minority examples
  duplicated until the classes are equal;
* ``undersample``  — :class:`tinynlp.data.RandomUnderSampler`: majority examples
  dropped until the classes are equal (far fewer training steps);
* ``eda``          — :func:`tinynlp.text.augment_minority`: the minority class
  grown to the majority's size with EDA-perturbed copies (EDA's defaults:
  WordNet synonyms of the same part of speech, never antonyms, negations kept;
  random insertion, swap and deletion).

Reported on the test split at the 0.5 threshold: recall, precision and F1 of
the minority (rotten) class, and overall accuracy.  :func:`compare` runs every
strategy over several seeds; ``tools/imbalance_table.py`` writes the table to
``docs/imbalance_results.md``.
"""

from __future__ import annotations

import time

import numpy as np

from .. import metrics as tn_metrics
from .. import random as tn_random
from ..data import RandomOverSampler, RandomUnderSampler, class_weight_dict
from ..data.datasets import load_rotten_tomatoes
from ..models import load_model
from ..optimizers import Adam
from ..text import EDA, Tokenizer, augment_minority, pad_sequences
from .common import TaskResult, out_dir, quick_mode, read_json, write_json_atomic
from .runs import write_run_info
from .sentiment import build_model

__all__ = [
    "MODELS",
    "STRATEGIES",
    "compare",
    "evaluate",
    "make_imbalanced",
    "markdown_table",
    "resample",
    "train",
]

STRATEGIES = ("none", "class_weight", "oversample", "undersample", "eda")
MODELS = STRATEGIES
TASK = "imbalance"
MINORITY = 0  # rotten


def make_imbalanced(texts, labels, minority=MINORITY, fraction=0.1, seed=0):
    """Keep every majority example and a random subset of the minority so that the
    minority is ``fraction`` of the result (original order kept)."""
    y = np.asarray(labels)
    if not 0.0 < fraction < 0.5:
        raise ValueError(f"make_imbalanced: fraction must be in (0, 0.5), got {fraction!r}")
    minority_idx = np.flatnonzero(y == minority)
    n_major = int(np.sum(y != minority))
    n_keep = round(n_major * fraction / (1.0 - fraction))
    if n_keep > len(minority_idx):
        raise ValueError(f"make_imbalanced: need {n_keep} minority examples, have "
                         f"{len(minority_idx)}")
    keep = np.random.default_rng(seed).choice(minority_idx, size=n_keep, replace=False)
    mask = y != minority
    mask[keep] = True
    idx = np.flatnonzero(mask)
    return [texts[i] for i in idx], y[idx]


def _eda(seed):
    return EDA(alpha_sr=0.1, alpha_ri=0.1, alpha_rs=0.1, p_rd=0.1, num_aug=4,
               random_state=seed)  # synonyms: the bundled WordNet (label-preserving)


def resample(strategy, texts, labels, seed=0):
    """The training texts, labels and ``class_weight`` (or None) for ``strategy``."""
    y = np.asarray(labels)
    if strategy == "none":
        return list(texts), y, None
    if strategy == "class_weight":
        return list(texts), y, class_weight_dict(y)
    if strategy == "oversample":
        xs, ys = RandomOverSampler(random_state=seed).fit_resample(list(texts), y)
        return list(xs), np.asarray(ys), None
    if strategy == "undersample":
        xs, ys = RandomUnderSampler(random_state=seed).fit_resample(list(texts), y)
        return list(xs), np.asarray(ys), None
    if strategy == "eda":
        xs, ys = augment_minority(list(texts), y, target_ratio=1.0, eda=_eda(seed),
                                  random_state=seed)
        return list(xs), np.asarray(ys), None
    raise ValueError(f"imbalance: unknown strategy {strategy!r}; expected one of {STRATEGIES}")


def _scores(y_true, p):
    pred = (p >= 0.5).astype(np.int64)
    return {
        "minority_recall": float(tn_metrics.recall(y_true, pred, pos_label=MINORITY)),
        "minority_precision": float(tn_metrics.precision(y_true, pred, pos_label=MINORITY)),
        "minority_f1": float(tn_metrics.f1_score(y_true, pred, pos_label=MINORITY)),
        "accuracy": float(np.mean(pred == y_true)),
    }


def _load(quick, fraction, seed):
    (x_train, y_train), (x_test, y_test) = load_rotten_tomatoes()
    x_train, y_train = make_imbalanced(list(x_train), y_train, fraction=fraction, seed=seed)
    if quick:
        rng = np.random.default_rng(seed)  # 500 examples, the same 10 % minority
        minority = rng.permutation(np.flatnonzero(y_train == MINORITY))[:50]
        majority = rng.permutation(np.flatnonzero(y_train != MINORITY))[:450]
        pick = np.sort(np.concatenate([minority, majority]))
        x_train, y_train = [x_train[i] for i in pick], y_train[pick]
        pick = rng.permutation(len(x_test))[:200]
        x_test, y_test = [x_test[i] for i in pick], np.asarray(y_test)[pick]
    return (x_train, np.asarray(y_train)), (list(x_test), np.asarray(y_test))


def _fit_one(strategy, data, seed, epochs, batch_size, vocab_size, maxlen, embedding_dim,
             verbose, learning_rate=0.001):
    (x_train, y_train), (x_test, y_test) = data
    tn_random.seed(seed)
    start = time.perf_counter()
    xs, ys, class_weight = resample(strategy, x_train, y_train, seed)
    tokenizer = Tokenizer(num_words=vocab_size, oov_token="<unk>")
    tokenizer.fit_on_texts(xs)
    X = pad_sequences(tokenizer.texts_to_sequences(xs), maxlen=maxlen)
    X_test = pad_sequences(tokenizer.texts_to_sequences(x_test), maxlen=maxlen)
    net = build_model("cnn", vocab_size, embedding_dim)
    net.compile(optimizer=Adam(learning_rate), loss="binary_crossentropy", metrics=["accuracy"])
    net.fit(X, ys.astype(np.float32), epochs=epochs, batch_size=batch_size,
            class_weight=class_weight, verbose=verbose)
    p = net.predict(X_test, batch_size=256).reshape(-1)
    row = {"strategy": strategy, "seed": seed, **_scores(y_test, p),
           "train_size": len(xs), "train_minority": int(np.sum(ys == MINORITY)),
           "seconds": time.perf_counter() - start}
    return row, net, tokenizer


def _settings(epochs, vocab_size, maxlen, embedding_dim, quick):
    if epochs is None:
        epochs = 1 if quick else 4
    if quick:
        vocab_size, maxlen, embedding_dim = min(vocab_size, 2000), min(maxlen, 40), 16
    return epochs, vocab_size, maxlen, embedding_dim


def train(model="none", epochs=None, batch_size=64, vocab_size=20000, maxlen=60,
          embedding_dim=64, minority_fraction=0.1, seed=0, out="runs/imbalance",
          verbose="auto", learning_rate=0.001) -> TaskResult:
    """Train the CNN on imbalanced Rotten Tomatoes under one strategy (``model``).

    Metric: F1 of the minority class on the balanced test split, beside the
    majority-class predictor (F1 = 0: it never predicts the minority).
    """
    if model not in STRATEGIES:
        raise ValueError(f"imbalance: unknown strategy {model!r}; expected one of {STRATEGIES}")
    quick = quick_mode()
    epochs, vocab_size, maxlen, embedding_dim = _settings(epochs, vocab_size, maxlen,
                                                          embedding_dim, quick)
    data = _load(quick, minority_fraction, seed)
    row, net, tokenizer = _fit_one(model, data, seed, epochs, batch_size, vocab_size, maxlen,
                                   embedding_dim, verbose, learning_rate)
    folder = out_dir(out)
    net.save(folder / "model.tnz")
    write_json_atomic(folder / "tokenizer.json",
                      {"tokenizer": tokenizer.get_config(), "maxlen": maxlen, "task": TASK,
                       "strategy": model, "minority_fraction": minority_fraction,
                       "seed": seed, "quick": quick, "scores": row})
    write_run_info(folder, TASK, model)
    extra = {k: v for k, v in row.items() if k not in ("strategy", "minority_f1")}
    extra["epochs"] = epochs
    return TaskResult(TASK, model, "minority F1", row["minority_f1"], "majority class", 0.0,
                      extra, {"model": str(folder / "model.tnz"),
                              "tokenizer": str(folder / "tokenizer.json")})


def evaluate(folder="runs/imbalance") -> TaskResult:
    """Re-score the model saved by :func:`train` on its test split."""
    meta = read_json(f"{folder}/tokenizer.json")
    tokenizer = Tokenizer.from_config(meta["tokenizer"])
    net = load_model(f"{folder}/model.tnz", restore_rng=False)
    _, (x_test, y_test) = _load(quick_mode(), meta["minority_fraction"], meta["seed"])
    X = pad_sequences(tokenizer.texts_to_sequences(x_test), maxlen=meta["maxlen"])
    s = _scores(y_test, net.predict(X, batch_size=256).reshape(-1))
    return TaskResult(TASK, meta["strategy"], "minority F1", s["minority_f1"], "majority class",
                      0.0, {k: v for k, v in s.items() if k != "minority_f1"})


def compare(strategies=STRATEGIES, seeds=(0, 1, 2), epochs=None, batch_size=64,
            vocab_size=20000, maxlen=60, embedding_dim=64, minority_fraction=0.1, verbose=0,
            log=print):
    """Train every strategy for every seed; returns one dict per run (scores, sizes, time).

    The imbalanced training set is drawn once (seed 0), so the seeds vary only
    the resampling and the training.
    """
    quick = quick_mode()
    epochs, vocab_size, maxlen, embedding_dim = _settings(epochs, vocab_size, maxlen,
                                                          embedding_dim, quick)
    data = _load(quick, minority_fraction, 0)
    rows = []
    for strategy in strategies:
        for seed in seeds:
            row, _, _ = _fit_one(strategy, data, seed, epochs, batch_size, vocab_size, maxlen,
                                 embedding_dim, verbose)
            row["epochs"] = epochs
            rows.append(row)
            if log:
                log(f"{strategy:>12} seed {seed}: minority recall {row['minority_recall']:.3f} "
                    f"F1 {row['minority_f1']:.3f} accuracy {row['accuracy']:.3f} "
                    f"({row['seconds']:.0f}s, {row['train_size']} training examples)")
    return rows


def markdown_table(rows):
    """Mean ± standard deviation over seeds, one line per strategy."""
    by = {}
    for r in rows:
        by.setdefault(r["strategy"], []).append(r)
    cols = ("minority_recall", "minority_precision", "minority_f1", "accuracy")
    lines = [("| strategy | training examples (rotten) | minority recall | minority precision "
             "| minority F1 | accuracy |"), "|---|---|---|---|---|---|"]
    for strategy, rs in by.items():
        cells = []
        for c in cols:
            v = np.array([r[c] for r in rs])
            cells.append(f"{v.mean():.3f} ± {v.std():.3f}" if len(v) > 1 else f"{v[0]:.3f}")
        sizes = f"{rs[0]['train_size']} ({rs[0]['train_minority']})"
        lines.append(f"| {strategy} | {sizes} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
