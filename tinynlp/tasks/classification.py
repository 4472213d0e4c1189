"""Multi-class text classification: the genre of a Brown-corpus passage (15 classes).

Each example is a chunk of 10 consecutive sentences (about 200 tokens) from
one of the 500 Brown documents; the label is the document's genre
(:data:`tinynlp.data.datasets.BROWN_GENRES`); train and test come from
different documents (:func:`tinynlp.datasets.load_brown_genres`).

Models (``MODELS``):

* ``cnn``    — Embedding → Conv1D(relu) → max-over-time pooling → Dropout →
  Dense(15, softmax)
* ``bilstm`` — Embedding(mask_zero) → Bidirectional(LSTM) → Dropout →
  Dense(15, softmax)
* ``avg``    — Embedding(mask_zero) → mean over the real tokens → Dense(15,
  softmax) (a fastText-style bag of words; the default: on these 4,685
  training chunks it generalises to unseen documents better than the
  others, and trains in a minute)
* ``tinygpt`` — the shipped pretrained GPT with a softmax head on its last
  token's state, fine-tuned on the first 128 BPE tokens of each chunk
  (:mod:`tinynlp.tasks.gpt_finetune`)

Trained with ``sparse_categorical_crossentropy``.  :func:`train` reports
test accuracy and macro-F1 beside the majority-class baseline (the most
frequent genre of the training set) and saves the model, its tokenizer, the
learning curves and a confusion-matrix plot (:func:`tinynlp.plot.confusion_matrix`)
in ``out``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import layers as L
from .. import metrics as tn_metrics
from .. import plot as tn_plot
from ..data.datasets import BROWN_GENRES, load_brown_genres
from ..models import Sequential, load_model
from ..text import Tokenizer, pad_sequences
from . import gpt_finetune
from .common import TaskResult, check_model, read_json, save_run, start_run

__all__ = [
    "MODELS",
    "build_model",
    "evaluate",
    "load",
    "majority_baseline",
    "predict",
    "train",
]

MODELS = ("cnn", "bilstm", "avg", gpt_finetune.MODEL)
#: the tinygpt model's settings here (the rest: gpt_finetune.SETTINGS)
GPT_SETTINGS = {"maxlen": 128, "epochs": 2}
TASK = "classification"


def build_model(kind="cnn", vocab_size=20000, num_classes=15, embedding_dim=64, units=64,
                filters=128, kernel_size=5, dropout=0.5):
    """One of :data:`MODELS` as a :class:`~tinynlp.models.Sequential`, ready to compile."""
    check_model("classification", kind, MODELS)
    if kind == gpt_finetune.MODEL:
        raise ValueError("classification: the tinygpt model is built by tn.pretrained.classifier; "
                         "train it with train(model='tinygpt')")
    out = L.Dense(num_classes, activation="softmax")
    if kind == "cnn":
        return Sequential([
            L.Embedding(vocab_size, embedding_dim),
            L.Conv1D(filters, kernel_size, activation="relu"),
            L.GlobalMaxPooling1D(),
            L.Dropout(dropout),
            out,
        ])
    if kind == "bilstm":
        return Sequential([
            L.Embedding(vocab_size, embedding_dim, mask_zero=True),
            L.Bidirectional(L.LSTM(units)),
            L.Dropout(dropout),
            out,
        ])
    return Sequential([
        L.Embedding(vocab_size, embedding_dim, mask_zero=True),
        L.GlobalAveragePooling1D(),
        out,
    ])


def majority_baseline(y_train, y_test, num_classes):
    """Accuracy and macro-F1 of always predicting the most frequent training class."""
    majority = int(np.bincount(np.asarray(y_train), minlength=num_classes).argmax())
    pred = np.full(len(y_test), majority)
    return (float(np.mean(pred == y_test)),
            float(tn_metrics.f1_score(y_test, pred, average="macro",
                                      labels=np.arange(num_classes))),
            majority)


def _scores(y_true, y_pred, num_classes):
    labels = np.arange(num_classes)
    return (float(np.mean(y_true == y_pred)),
            float(tn_metrics.f1_score(y_true, y_pred, average="macro", labels=labels)),
            tn_metrics.confusion_matrix(y_true, y_pred, labels=labels))


def train(model="avg", epochs=None, batch_size=32, vocab_size=20000, maxlen=None,
          embedding_dim=64, units=64, seed=0, out="runs/classify", verbose=1,
          plot=True, gpt=None) -> TaskResult:
    """Train a genre classifier on Brown and evaluate it on the test documents.

    ``maxlen``: tokens kept per chunk (default 300 words; 128 BPE tokens for tinygpt).
    ``model="tinygpt"``: the pretrained GPT fine-tuned (``gpt``: another GPT with
    ``.tokenizer`` to start from)."""
    quick = start_run("classification", model, MODELS, seed)
    gpt_maxlen, maxlen = maxlen or GPT_SETTINGS["maxlen"], maxlen or 300
    if epochs is None:
        epochs = 1 if quick else {"cnn": 8, "bilstm": 4, "avg": 15}[model]
    (x_train, y_train), (x_test, y_test) = load_brown_genres()
    num_classes = len(BROWN_GENRES)
    # the loader lists chunks document by document (genre by genre): shuffle once so that
    # the validation split (the last 10 %, as in Keras) holds every genre
    order = np.random.default_rng(seed).permutation(len(x_train))
    x_train, y_train = [x_train[i] for i in order], y_train[order]
    if quick:
        x_train, y_train = x_train[:400], y_train[:400]
        pick = np.random.default_rng(seed).permutation(len(x_test))[:200]  # every genre
        x_test, y_test = [x_test[i] for i in pick], y_test[pick]
        vocab_size, maxlen = min(vocab_size, 3000), min(maxlen, 80)
        embedding_dim, units = min(embedding_dim, 16), min(units, 16)
    if model == gpt_finetune.MODEL:
        settings = {**GPT_SETTINGS, "batch_size": batch_size, "maxlen": gpt_maxlen}
        if quick:
            settings.update(maxlen=32, head_epochs=2, epochs=1)
        if epochs is not None:
            settings["epochs"] = epochs
        return _train_tinygpt((x_train, y_train), (x_test, y_test), BROWN_GENRES, gpt, seed,
                              out, verbose, plot, settings)

    tokenizer = Tokenizer(num_words=vocab_size, oov_token="<unk>")
    tokenizer.fit_on_texts(x_train)
    X_train = pad_sequences(tokenizer.texts_to_sequences(x_train), maxlen=maxlen,
                            padding="post", truncating="post")
    X_test = pad_sequences(tokenizer.texts_to_sequences(x_test), maxlen=maxlen,
                           padding="post", truncating="post")

    net = build_model(model, vocab_size, num_classes, embedding_dim, units,
                      filters=32 if quick else 128)
    net.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = net.fit(X_train, y_train, epochs=epochs, batch_size=batch_size,
                      validation_split=0.1, verbose=verbose)
    probs = net.predict(X_test, batch_size=128)
    pred = probs.argmax(axis=-1)
    accuracy, macro_f1, cm = _scores(y_test, pred, num_classes)
    base_acc, base_f1, majority = majority_baseline(y_train, y_test, num_classes)

    meta = {"tokenizer": tokenizer.get_config(), "maxlen": maxlen, "task": TASK, "model": model,
            "classes": list(BROWN_GENRES), "majority": majority}
    folder, artifacts = save_run(out, net, "tokenizer.json", meta)
    if plot:
        tn_plot.confusion_matrix(cm, BROWN_GENRES, path=folder / "confusion_matrix.png",
                                 title=f"Brown genres ({model}): accuracy {accuracy:.3f}, "
                                       f"macro-F1 {macro_f1:.3f}")
        artifacts["confusion_matrix"] = str(folder / "confusion_matrix.png")
        tn_plot.history(history, path=folder / "learning_curves.png",
                        title=f"genre classification ({model}) on Brown")
        artifacts["plot"] = str(folder / "learning_curves.png")
    extra = {"macro_f1": macro_f1, "baseline_macro_f1": base_f1, "epochs": epochs,
             "train_size": len(x_train), "test_size": len(x_test),
             "confusion_matrix": cm.tolist()}
    return TaskResult(TASK, model, "accuracy", accuracy, "majority class", base_acc, extra,
                      artifacts)


def _train_tinygpt(train_xy, test_xy, classes, gpt, seed, out, verbose, plot, settings):
    (x_train, y_train), (x_test, y_test) = train_xy, test_xy
    num_classes = len(classes)
    clf, history, sizes = gpt_finetune.train_gpt_classifier(
        x_train, y_train, num_classes, gpt, seed, verbose, **settings)
    pred = gpt_finetune.predict_texts(clf, x_test).argmax(axis=-1)
    accuracy, macro_f1, cm = _scores(y_test, pred, num_classes)
    base_acc, base_f1, majority = majority_baseline(y_train, y_test, num_classes)
    meta = {"task": TASK, "classes": list(classes), "majority": majority}
    folder, artifacts = gpt_finetune.save_gpt_run(
        out, clf, meta, history, "genre classification (tinygpt, fine-tuned)" if plot else None)
    if plot:
        tn_plot.confusion_matrix(cm, classes, path=folder / "confusion_matrix.png",
                                 title=f"tinygpt: accuracy {accuracy:.3f}, "
                                       f"macro-F1 {macro_f1:.3f}")
        artifacts["confusion_matrix"] = str(folder / "confusion_matrix.png")
    extra = {"macro_f1": macro_f1, "baseline_macro_f1": base_f1,
             "epochs": len(history["full"].get("loss", [])), "train_size": sizes["fit"],
             "validation_size": sizes["validation"], "test_size": len(x_test),
             "maxlen": clf.maxlen, "confusion_matrix": cm.tolist()}
    return TaskResult(TASK, gpt_finetune.MODEL, "accuracy", accuracy, "majority class",
                      base_acc, extra, artifacts)


def load(folder="runs/classify"):
    """``(model, encode, meta)``: the trained model, a ``texts -> padded ids`` function
    and the saved metadata (class names, ...)."""
    folder = Path(folder)
    meta = read_json(folder / "tokenizer.json")
    if gpt_finetune.is_gpt_run(meta):
        return (*gpt_finetune.load_gpt_run(folder, meta), meta)
    tokenizer = Tokenizer.from_config(meta["tokenizer"])
    model = load_model(folder / "model.tnz", restore_rng=False)

    def encode(texts):
        return pad_sequences(tokenizer.texts_to_sequences(texts), maxlen=meta["maxlen"],
                             padding="post", truncating="post")

    return model, encode, meta


def predict(texts, folder="runs/classify"):
    """The predicted genre name of each text."""
    if isinstance(texts, str):
        texts = [texts]
    model, encode, meta = load(folder)
    pred = model.predict(encode(list(texts)), batch_size=128).argmax(axis=-1)
    return [meta["classes"][i] for i in pred]


def evaluate(folder="runs/classify") -> TaskResult:
    """Re-evaluate the model saved by :func:`train` on the full test split."""
    model, encode, meta = load(folder)
    (_, y_train), (x_test, y_test) = load_brown_genres()
    num_classes = len(BROWN_GENRES)
    pred = model.predict(encode(x_test), batch_size=128).argmax(axis=-1)
    accuracy, macro_f1, _ = _scores(y_test, pred, num_classes)
    base_acc, base_f1, _ = majority_baseline(y_train, y_test, num_classes)
    return TaskResult(TASK, meta.get("model", "?"), "accuracy", accuracy, "majority class",
                      base_acc, {"macro_f1": macro_f1, "baseline_macro_f1": base_f1,
                                 "test_size": len(x_test)})
