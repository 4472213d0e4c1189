"""Part-of-speech tagging on the Brown corpus with the 12 universal tags.

The model reads a sentence both ways and classifies every token::

    Embedding(mask_zero) → Bidirectional(LSTM, return_sequences) → TimeDistributed(Dense(softmax))

Sentences are batched with :class:`tinynlp.data.BatchLoader` (post-padded,
bucketed by length so that little of each batch is padding).  Id 0 is the
padding, so the embedding's mask marks the real tokens; the mask flows
through the :class:`~tinynlp.models.Sequential` model to its output, and
``fit`` uses it in the loss: padded positions add nothing to the masked
``sparse_categorical_crossentropy`` (and are not counted in its mean) nor to
the accuracy.

Words seen once in the training data are left out of the vocabulary, so
that ``<unk>`` is trained on rare words and the model learns what to do with
words it has never seen.

Baseline (:class:`MostFrequentTagger`): each word gets the tag it had most
often in the training data; unknown words get the most frequent tag overall.

Models (``MODELS``): ``bilstm`` (default), ``bigru``, ``lstm`` (left to right
only).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from .. import layers as L
from ..data import BatchLoader
from ..data.datasets import UNIVERSAL_TAGS, load_brown_pos
from ..models import Sequential, load_model
from ..optimizers import Adam
from ..text import Vocab
from .common import TaskResult, check_model, quick_mode, read_json, save_run, start_run

__all__ = [
    "MODELS",
    "MostFrequentTagger",
    "build_model",
    "evaluate",
    "load",
    "tag",
    "token_accuracy",
    "train",
]

MODELS = ("bilstm", "bigru", "lstm")
TASK = "tagging"


class MostFrequentTagger:
    """The most-frequent-tag baseline.

    ``fit``: for every word form, count its tags in the training data and
    keep the most frequent one (ties: the tag that comes first
    alphabetically); the most frequent tag overall is kept for unknown words.

    >>> t = MostFrequentTagger().fit([["the", "run"], ["a", "run", "run"]],
    ...                              [["DET", "NOUN"], ["DET", "VERB", "NOUN"]])
    >>> t.predict([["run", "the", "zebra"]])
    [['NOUN', 'DET', 'DET']]
    """

    def __init__(self):
        self.table: dict = {}
        self.default = None

    @staticmethod
    def _best(counter):
        return min(counter.items(), key=lambda kv: (-kv[1], kv[0]))[0]

    def fit(self, sentences, tags):
        sentences, tags = list(sentences), list(tags)
        if len(sentences) != len(tags):
            raise ValueError(f"MostFrequentTagger.fit: got {len(sentences)} sentences but "
                             f"{len(tags)} tag sequences")
        per_word = defaultdict(Counter)
        overall = Counter()
        for i, (words, ts) in enumerate(zip(sentences, tags)):
            if len(words) != len(ts):
                raise ValueError(f"MostFrequentTagger.fit: sentence {i} has {len(words)} words "
                                 f"but {len(ts)} tags")
            for w, t in zip(words, ts):
                per_word[w][t] += 1
                overall[t] += 1
        if not overall:
            raise ValueError("MostFrequentTagger.fit: no tagged words")
        self.table = {w: self._best(c) for w, c in per_word.items()}
        self.default = self._best(overall)
        return self

    def predict(self, sentences):
        if self.default is None:
            raise RuntimeError("MostFrequentTagger: call fit() first")
        return [[self.table.get(w, self.default) for w in words] for words in sentences]


def token_accuracy(gold, pred, only=None) -> float:
    """Fraction of tokens whose predicted tag equals the gold tag.

    ``only``: a per-token boolean list of lists selecting the tokens to count
    (e.g. the words unseen in training).  NaN when no token is selected.
    """
    right = total = 0
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise ValueError(f"token_accuracy: sentence {i} has {len(g)} gold tags but "
                             f"{len(p)} predicted")
        sel = only[i] if only is not None else [True] * len(g)
        for a, b, s in zip(g, p, sel):
            if s:
                total += 1
                right += a == b
    return right / total if total else float("nan")


def build_model(kind="bilstm", vocab_size=20000, num_tags=12, embedding_dim=64, units=64):
    """One of :data:`MODELS`: Embedding(mask_zero) → (Bi)RNN(return_sequences) →
    TimeDistributed(Dense(num_tags, softmax))."""
    check_model("tagging", kind, MODELS)
    if kind == "bilstm":
        rnn = L.Bidirectional(L.LSTM(units, return_sequences=True))
    elif kind == "bigru":
        rnn = L.Bidirectional(L.GRU(units, return_sequences=True))
    else:
        rnn = L.LSTM(units, return_sequences=True)
    return Sequential([
        L.Embedding(vocab_size, embedding_dim, mask_zero=True, sparse=True),
        rnn,
        L.TimeDistributed(L.Dense(num_tags, activation="softmax")),
    ])


def _predict_tags(model, vocab, tags, sentences, batch_size=128):
    """Tag lists for token lists, batch by batch (sorted by length: little padding)."""
    ids = [vocab.encode(s) if s else [] for s in sentences]
    out = [[] for _ in sentences]
    nonempty = [i for i, s in enumerate(ids) if s]
    if not nonempty:
        return out
    loader = BatchLoader([ids[i] for i in nonempty], batch_size=batch_size, shuffle=False,
                         bucket_size=10**9)
    for batch in loader:
        probs = model.predict(batch.ids, batch_size=len(batch.ids))
        best = probs.argmax(axis=-1)
        for row, j in enumerate(batch.index):
            out[nonempty[j]] = [tags[k] for k in best[row, :batch.lengths[row]]]
    return out


def _data(seed, train_size, quick):
    """The training sentences (seeded shuffle, first ``train_size``) and the test split
    (quick mode: 300 training and 200 random test sentences)."""
    (x_train, y_train), (x_test, y_test) = load_brown_pos()
    order = np.random.default_rng(seed).permutation(len(x_train))
    x_train, y_train = [x_train[i] for i in order], [y_train[i] for i in order]
    if quick:
        train_size = min(train_size or 300, 300)
        pick = np.random.default_rng(seed).permutation(len(x_test))[:200]
        x_test, y_test = [x_test[i] for i in pick], [y_test[i] for i in pick]
    if train_size is not None:
        x_train, y_train = x_train[:train_size], y_train[:train_size]
    return (x_train, y_train), (x_test, y_test)


def train(model="bilstm", epochs=None, batch_size=32, vocab_size=20000, embedding_dim=64,
          units=64, train_size=None, seed=0, out="runs/tagging", verbose="auto",
          plot=True, learning_rate=0.001) -> TaskResult:
    """Train a POS tagger on Brown (universal tags) and evaluate it on the test documents.

    ``train_size``: use only the first ``train_size`` training sentences (after a
    seeded shuffle); None = all 46,682.
    """
    quick = start_run("tagging", model, MODELS, seed)
    if epochs is None:
        epochs = 1 if quick else 2
    if quick:
        embedding_dim, units = min(embedding_dim, 16), min(units, 16)
    (x_train, y_train), (x_test, y_test) = _data(seed, train_size, quick)

    tags = list(UNIVERSAL_TAGS)
    tag_id = {t: i for i, t in enumerate(tags)}
    vocab = Vocab.build(x_train, min_freq=2, max_size=vocab_size)
    ids = [vocab.encode(s) for s in x_train]
    labels = [np.array([tag_id[t] for t in ts], dtype=np.int64) for ts in y_train]
    n_val = max(1, len(ids) // 20)  # 5 % held out for the learning curves
    train_loader = BatchLoader(ids[n_val:], labels[n_val:], batch_size=batch_size, shuffle=True,
                               bucket_size=20)
    val_loader = BatchLoader(ids[:n_val], labels[:n_val], batch_size=128, shuffle=False,
                             bucket_size=10**9)

    net = build_model(model, len(vocab), len(tags), embedding_dim, units)
    net.compile(optimizer=Adam(learning_rate), loss="sparse_categorical_crossentropy",
                metrics=["accuracy"])
    history = net.fit(train_loader, epochs=epochs, validation_data=val_loader, verbose=verbose)

    pred = _predict_tags(net, vocab, tags, x_test)
    accuracy = token_accuracy(y_test, pred)
    baseline = MostFrequentTagger().fit(x_train, y_train)
    base_pred = baseline.predict(x_test)
    base_acc = token_accuracy(y_test, base_pred)
    unseen = [[w not in baseline.table for w in s] for s in x_test]

    meta = {"itos": vocab.itos, "tags": tags, "task": TASK, "model": model,
            "train_size": len(x_train), "seed": seed, "quick": quick}
    _, artifacts = save_run(out, net, "vocab.json", meta, history,
                            f"POS tagging ({model}) on Brown" if plot else None)
    extra = {"unseen_word_accuracy": token_accuracy(y_test, pred, unseen),
             "baseline_unseen_word_accuracy": token_accuracy(y_test, base_pred, unseen),
             "epochs": epochs, "train_sentences": len(x_train),
             "test_tokens": sum(len(s) for s in x_test), "vocab_size": len(vocab)}
    return TaskResult(TASK, model, "token accuracy", accuracy, "most frequent tag", base_acc,
                      extra, artifacts)


def load(folder="runs/tagging"):
    """``(model, vocab, tags, meta)`` saved by :func:`train`."""
    folder = Path(folder)
    meta = read_json(folder / "vocab.json")
    vocab = Vocab(meta["itos"])
    model = load_model(folder / "model.tnz", restore_rng=False)
    return model, vocab, list(meta["tags"]), meta


def tag(sentences, folder="runs/tagging"):
    """Tag token lists (or whitespace-separated strings) with the saved model."""
    if isinstance(sentences, str) or (sentences and isinstance(sentences[0], str)
                                      and " " in sentences[0]):
        sentences = [sentences] if isinstance(sentences, str) else sentences
        sentences = [s.split() for s in sentences]
    model, vocab, tags, _ = load(folder)
    return _predict_tags(model, vocab, tags, list(sentences))


def evaluate(folder="runs/tagging") -> TaskResult:
    """Token accuracy of the saved model on the test split (a 200-sentence sample in
    quick mode), beside the baseline refitted on the training sentences the model saw."""
    model, vocab, tags, meta = load(folder)
    (x_train, y_train), (x_test, y_test) = _data(meta.get("seed", 0), meta.get("train_size"),
                                                 quick_mode())
    pred = _predict_tags(model, vocab, tags, x_test)
    baseline = MostFrequentTagger().fit(x_train, y_train)
    return TaskResult(TASK, meta.get("model", "?"), "token accuracy",
                      token_accuracy(y_test, pred), "most frequent tag",
                      token_accuracy(y_test, baseline.predict(x_test)),
                      {"test_tokens": sum(len(s) for s in x_test)})
