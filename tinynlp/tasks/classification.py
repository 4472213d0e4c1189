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

**Your own data**: ``train(data="reviews.csv", text_column="review",
label_column="stars")`` trains any of the models on a ``.csv``, ``.tsv`` or
``.jsonl`` file (:mod:`tinynlp.data.tabular`) instead of Brown: the classes are
the file's distinct labels (sorted), the test set is ``test="test.csv"`` or a
stratified ``test_size`` share held out (seeded).  Then::

    classifier = TextClassifier.load("runs/reviews")       # tinynlp.tasks.predictor
    classifier.predict(["a fine book"])                     # labels as in the file
    classifier.predict_file("new.csv", "predictions.csv")   # text, prediction, p_<class>

(the command line: ``tinynlp train classify --data reviews.csv --text-column review
--label-column stars --out runs/reviews``, then ``tinynlp predict --model runs/reviews
--data new.csv --out predictions.csv``).

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
from ..data import train_test_split
from ..data.datasets import BROWN_GENRES, load_brown_genres
from ..data.tabular import encode_labels, label_classes, read_labelled_texts
from ..models import Sequential, load_model
from ..optimizers import Adam
from ..text import Tokenizer, pad_sequences
from . import gpt_finetune
from .common import (
    TaskResult,
    check_model,
    read_json,
    require_keys,
    save_run,
    start_run,
    tokenizer_from_meta,
)

__all__ = [
    "MODELS",
    "build_model",
    "evaluate",
    "load",
    "majority_baseline",
    "own_data",
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


def _brown(seed, quick):
    """The bundled task: Brown chunks, shuffled once (so that the validation split, the
    last 10 % as in Keras, holds every genre); a subset in quick mode."""
    (x_train, y_train), (x_test, y_test) = load_brown_genres()
    order = np.random.default_rng(seed).permutation(len(x_train))
    x_train, y_train = [x_train[i] for i in order], y_train[order]
    if quick:
        x_train, y_train = x_train[:400], y_train[:400]
        pick = np.random.default_rng(seed).permutation(len(x_test))[:200]  # every genre
        x_test, y_test = [x_test[i] for i in pick], y_test[pick]
    return (x_train, y_train), (x_test, y_test), list(BROWN_GENRES)


def own_data(data, test=None, text_column="text", label_column="label", test_size=0.2,
             seed=0):
    """``(x_train, y_train), (x_test, y_test), classes`` from your own labelled file.

    ``data``: a ``.csv`` / ``.tsv`` / ``.jsonl`` file with a ``text_column`` and a
    ``label_column`` (:func:`tinynlp.data.tabular.read_labelled_texts`); ``classes``: its
    distinct labels, sorted, as written (at least two).  ``test``: a file of the same
    form for the test set, else a ``test_size`` share of ``data`` held out (stratified
    by label when every class has two examples; seeded).  The training examples are
    shuffled (seeded), so that ``fit``'s validation split is a random tenth.
    """
    texts, labels = read_labelled_texts(data, text_column, label_column)
    classes = label_classes(labels, str(data), label_column)
    y = encode_labels(labels, classes, str(data))
    if test is not None:
        x_test, test_labels = read_labelled_texts(test, text_column, label_column)
        y_test = encode_labels(test_labels, classes, str(test))
        order = np.random.default_rng(seed).permutation(len(texts))
        x_train, y_train = [texts[i] for i in order], y[order]
    else:
        if len(texts) < 4:
            raise ValueError(f"{data}: {len(texts)} examples are too few to hold out a test "
                             "set; give more, or a separate test file (test= / --test)")
        counts = np.bincount(y, minlength=len(classes))
        stratify = y if counts.min() >= 2 else None
        x_train, x_test, y_train, y_test = train_test_split(
            texts, y, test_size=test_size, random_state=seed, stratify=stratify)
        x_train, x_test = list(x_train), list(x_test)
    return (x_train, np.asarray(y_train)), (list(x_test), np.asarray(y_test)), classes


def _auto_maxlen(tokenizer, texts, cap=300):
    """The sequence length for texts of unknown size: the 95th percentile of their token
    counts (at least 8, at most ``cap``)."""
    lengths = [len(s) for s in tokenizer.texts_to_sequences(texts)]
    return int(min(cap, max(8, np.percentile(lengths, 95)))) if lengths else 8


def train(model="avg", epochs=None, batch_size=32, vocab_size=20000, maxlen=None,
          embedding_dim=64, units=64, seed=0, out="runs/classify", verbose="auto",
          plot=True, learning_rate=0.001, *, data=None, test=None, text_column="text",
          label_column="label", test_size=0.2, gpt=None) -> TaskResult:
    """Train a text classifier and evaluate it on held-out examples.

    By default, the genre of Brown passages (the bundled task).  ``data``: your own
    labelled file instead (see :func:`own_data` for ``test``, ``text_column``,
    ``label_column`` and ``test_size``).  ``maxlen``: tokens kept per text (default 300
    for Brown; for your data the 95th percentile of the training texts' lengths, at
    most 300; 128 BPE tokens for tinygpt).  ``model="tinygpt"``: the pretrained GPT
    fine-tuned (``gpt``: another GPT with ``.tokenizer`` to start from).
    """
    quick = start_run("classification", model, MODELS, seed)
    if epochs is None and model != gpt_finetune.MODEL:
        epochs = 1 if quick else {"cnn": 8, "bilstm": 4, "avg": 15}[model]
    if data is None:
        (x_train, y_train), (x_test, y_test), classes = _brown(seed, quick)
        source = "Brown genres"
    else:
        (x_train, y_train), (x_test, y_test), classes = own_data(
            data, test, text_column, label_column, test_size, seed)
        source = Path(data).name
    num_classes = len(classes)
    if model == gpt_finetune.MODEL:
        settings = {**GPT_SETTINGS, "batch_size": batch_size}
        if maxlen is not None:
            settings["maxlen"] = maxlen
        if quick:
            settings.update(maxlen=32, head_epochs=2, epochs=1)
        if epochs is not None:
            settings["epochs"] = epochs
        return _train_tinygpt((x_train, y_train), (x_test, y_test), classes, gpt, seed,
                              out, verbose, plot, settings)
    if quick:
        vocab_size, embedding_dim, units = min(vocab_size, 3000), min(embedding_dim, 16), \
            min(units, 16)

    tokenizer = Tokenizer(num_words=vocab_size, oov_token="<unk>")
    tokenizer.fit_on_texts(x_train)
    if maxlen is None:
        maxlen = 300 if data is None else _auto_maxlen(tokenizer, x_train)
    if quick:
        maxlen = min(maxlen, 80)
    X_train = pad_sequences(tokenizer.texts_to_sequences(x_train), maxlen=maxlen,
                            padding="post", truncating="post")
    X_test = pad_sequences(tokenizer.texts_to_sequences(x_test), maxlen=maxlen,
                           padding="post", truncating="post")

    net = build_model(model, vocab_size, num_classes, embedding_dim, units,
                      filters=32 if quick else 128)
    net.compile(optimizer=Adam(learning_rate), loss="sparse_categorical_crossentropy",
                metrics=["accuracy"])
    history = net.fit(X_train, y_train, epochs=epochs, batch_size=batch_size,
                      validation_split=0.1, verbose=verbose)
    probs = net.predict(X_test, batch_size=128)
    pred = probs.argmax(axis=-1)
    accuracy, macro_f1, cm = _scores(y_test, pred, num_classes)
    base_acc, base_f1, majority = majority_baseline(y_train, y_test, num_classes)

    meta = {"tokenizer": tokenizer.get_config(), "maxlen": maxlen, "task": TASK, "model": model,
            "classes": list(classes), "majority": majority}
    if data is not None:
        meta["data"] = {"train": str(Path(data).resolve()),
                        "test": None if test is None else str(Path(test).resolve()),
                        "text_column": text_column, "label_column": label_column,
                        "test_size": test_size, "seed": seed}
    folder, artifacts = save_run(out, net, "tokenizer.json", meta)
    if plot:
        tn_plot.confusion_matrix(cm, classes, path=folder / "confusion_matrix.png",
                                 title=f"{source} ({model}): accuracy {accuracy:.3f}, "
                                       f"macro-F1 {macro_f1:.3f}")
        artifacts["confusion_matrix"] = str(folder / "confusion_matrix.png")
        tn_plot.history(history, path=folder / "learning_curves.png",
                        title=f"text classification ({model}) on {source}")
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
    require_keys(meta, folder / "tokenizer.json", ("tokenizer", "maxlen", "classes"))
    tokenizer = tokenizer_from_meta(meta, folder / "tokenizer.json")
    model = load_model(folder / "model.tnz", restore_rng=False)

    def encode(texts):
        return pad_sequences(tokenizer.texts_to_sequences(texts), maxlen=meta["maxlen"],
                             padding="post", truncating="post")

    return model, encode, meta


def predict(texts, folder="runs/classify"):
    """The predicted class of each text (a genre name, or a label as written in your
    training file)."""
    if isinstance(texts, str):
        texts = [texts]
    model, encode, meta = load(folder)
    pred = model.predict(encode(list(texts)), batch_size=128).argmax(axis=-1)
    return [meta["classes"][i] for i in pred]


def _test_set(meta, data, text_column, label_column):
    """``(x_test, y_test, y_train or None)`` for :func:`evaluate`."""
    classes = meta["classes"]
    own = meta.get("data")
    if data is not None or own is not None:
        cfg = own or {}
        text_column = text_column or cfg.get("text_column", "text")
        label_column = label_column or cfg.get("label_column", "label")
        if data is not None:
            x_test, labels = read_labelled_texts(data, text_column, label_column)
            return x_test, encode_labels(labels, classes, str(data)), None
        if not Path(cfg["train"]).is_file() or (cfg.get("test") and
                                                not Path(cfg["test"]).is_file()):
            raise FileNotFoundError(
                f"the run was trained on {cfg['train']}" +
                (f" and tested on {cfg['test']}" if cfg.get("test") else "") +
                ", which is no longer there; evaluate on a labelled file with data= "
                "(--data FILE)")
        (_, y_train), (x_test, y_test), saved = own_data(
            cfg["train"], cfg.get("test"), text_column, label_column,
            cfg.get("test_size", 0.2), cfg.get("seed", 0))
        if list(saved) != list(classes):
            raise ValueError(f"{cfg['train']} has changed since training: its classes are "
                             f"now {saved}, the model's {classes}")
        return x_test, y_test, y_train
    (_, y_train), (x_test, y_test) = load_brown_genres()
    return x_test, y_test, y_train


def evaluate(folder="runs/classify", data=None, text_column=None, label_column=None
             ) -> TaskResult:
    """Re-evaluate the model saved by :func:`train` on its test set: the full Brown test
    split, or for a run on your own data its test file or held-out share (re-derived
    from the training file with the same seed).  ``data``: a labelled file to evaluate
    on instead (columns as in training unless ``text_column`` / ``label_column``)."""
    model, encode, meta = load(folder)
    x_test, y_test, y_train = _test_set(meta, data, text_column, label_column)
    num_classes = len(meta["classes"])
    pred = model.predict(encode(x_test), batch_size=128).argmax(axis=-1)
    accuracy, macro_f1, _ = _scores(y_test, pred, num_classes)
    if y_train is None:   # a new labelled file: the majority class the model was trained on
        y_train = np.array([meta.get("majority", 0)])
    base_acc, base_f1, _ = majority_baseline(y_train, y_test, num_classes)
    return TaskResult(TASK, meta.get("model", "?"), "accuracy", accuracy, "majority class",
                      base_acc, {"macro_f1": macro_f1, "baseline_macro_f1": base_f1,
                                 "test_size": len(x_test)})
