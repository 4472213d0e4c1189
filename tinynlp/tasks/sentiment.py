"""Binary sentiment analysis on the bundled Rotten Tomatoes critic snippets.

Three models, each a few lines:

* ``rnn``  — Embedding → SimpleRNN → Dense(sigmoid)   (the seed's Elman RNN)
* ``lstm`` — Embedding → LSTM → Dense(sigmoid)
* ``cnn``  — Kim (2014): Embedding → Conv1D with kernel sizes 3, 4, 5 →
  max-over-time pooling → concatenate → Dropout → Dense(sigmoid)
* ``tinygpt`` — the shipped pretrained GPT (``tn.pretrained.load("tinygpt")``)
  with a sigmoid head on its last token's state, fine-tuned
  (:mod:`tinynlp.tasks.gpt_finetune`: BPE tokens, head first, then everything)

``pretrained="glove"`` starts the embedding from the bundled GloVe 6B 50d
vectors (or pass any ``KeyedVectors``), set up as
``docs/pretrained_results.md`` found works (:data:`PRETRAINED_DEFAULTS`):
the GloVe rows made unit length (their raw entries are ~24× the ±0.05 of a
fresh Embedding; unit rows are ~5×), words GloVe lacks starting like a fresh
Embedding, and the whole table fine-tuned.  ``freeze`` (``"all"``, or ``"pretrained"`` to
freeze only the GloVe rows), ``scale``, ``normalize`` and ``oov_init``
change that (see :meth:`tinynlp.layers.Embedding.from_pretrained`).  ``train()`` prints the
test accuracy beside the majority-class baseline and saves the model, its
tokenizer and a learning-curve plot in ``out``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import functional as F
from .. import layers as L
from .. import random as tn_random
from ..data import datasets
from ..distributed import DistributedContext
from ..embeddings import load_glove_6b_50d
from ..layers.embedding_init import lookup_rows
from ..models import Model, Sequential, load_model
from ..optimizers import Adam
from ..text import Tokenizer, pad_sequences
from . import gpt_finetune
from .common import (
    TaskResult,
    check_model,
    quick_mode,
    read_json,
    require_keys,
    save_run,
    tokenizer_from_meta,
)
from .runs import run_info

__all__ = ["KimCNN", "build_model", "pretrained_embedding", "train", "evaluate", "load",
           "predict", "MODELS", "PRETRAINED_DEFAULTS"]

MODELS = ("rnn", "lstm", "cnn", gpt_finetune.MODEL)

#: How ``train(pretrained=...)`` sets up the pretrained embedding by default: the
#: configuration with the best validation accuracy in ``docs/pretrained_results.md``.
PRETRAINED_DEFAULTS = dict(freeze="none", scale=None, normalize=True, oov_init="init")


@L.register_layer
class KimCNN(Model):
    """Kim (2014) CNN for sentence classification.

    For each kernel size k: ``c = relu(conv1d(E, w_k) + b_k)``, then
    max-over-time ``ĉ = max_t c_t``; the pooled features of all sizes are
    concatenated, dropped out and fed to a sigmoid unit.
    """

    def __init__(self, vocab_size=20000, embedding_dim=64, kernel_sizes=(3, 4, 5), filters=64,
                 dropout=0.5, embedding_trainable=True, embedding_frozen_rows=None, name=None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.embedding = L.Embedding(vocab_size, embedding_dim, trainable=embedding_trainable,
                                     frozen_rows=embedding_frozen_rows)
        frozen = self.embedding.frozen_rows
        self.config = dict(vocab_size=vocab_size, embedding_dim=embedding_dim,
                           kernel_sizes=list(kernel_sizes), filters=filters, dropout=dropout,
                           embedding_trainable=embedding_trainable,
                           embedding_frozen_rows=None if frozen is None
                           else np.flatnonzero(frozen).tolist())
        self.convs = [L.Conv1D(filters, k, activation="relu") for k in kernel_sizes]
        self.pool = L.GlobalMaxPooling1D()
        self.drop = L.Dropout(dropout)
        self.out = L.Dense(1, activation="sigmoid")

    def call(self, x, training=False):
        e = self.embedding(x)
        pooled = [self.pool(conv(e)) for conv in self.convs]
        h = F.concat(pooled, axis=-1) if len(pooled) > 1 else pooled[0]
        return self.out(self.drop(h, training=training))

    def get_config(self):
        return {"name": self.name, **self.config}


def build_model(kind="cnn", vocab_size=20000, embedding_dim=64, units=64,
                embedding_matrix=None, fine_tune=False, frozen_rows=None):
    """One of :data:`MODELS`, ready to compile.

    ``embedding_matrix`` (vocab_size, dim): pretrained vectors to start from,
    frozen unless ``fine_tune``; ``frozen_rows`` (indices or a boolean mask):
    freeze only those rows, the others train (implies ``fine_tune``).
    """
    check_model("sentiment", kind, MODELS)
    if kind == gpt_finetune.MODEL:
        raise ValueError("sentiment: the tinygpt model is built by tn.pretrained.classifier; "
                         "train it with train(model='tinygpt')")
    if embedding_matrix is not None:
        vocab_size, embedding_dim = embedding_matrix.shape
    trainable = embedding_matrix is None or fine_tune or frozen_rows is not None
    if kind == "cnn":
        model = KimCNN(vocab_size, embedding_dim, embedding_trainable=trainable,
                       embedding_frozen_rows=frozen_rows)
        embedding = model.embedding
    else:
        rnn = L.SimpleRNN(units) if kind == "rnn" else L.LSTM(units)
        embedding = L.Embedding(vocab_size, embedding_dim, mask_zero=True, trainable=trainable,
                                frozen_rows=frozen_rows)
        model = Sequential([embedding, rnn, L.Dense(1, activation="sigmoid")])
    if embedding_matrix is not None:
        model.predict(np.zeros((1, 16), dtype=np.int64))  # build the weights
        embedding.set_weights([embedding_matrix.astype(np.float32)])
    return model


def pretrained_embedding(tokenizer, vectors="glove", **options):
    """The starting embedding for ``tokenizer``'s ids from pretrained ``vectors``.

    ``vectors``: ``"glove"`` (the bundled GloVe 6B 50d) or a ``KeyedVectors``.
    ``options`` override :data:`PRETRAINED_DEFAULTS` (``freeze``, ``scale``,
    ``normalize``, ``oov_init``; see :meth:`tinynlp.layers.Embedding.from_pretrained`).
    Returns ``(matrix, frozen_rows, trainable, found)``: the float32 table
    (one row per id below ``tokenizer.num_words``), the boolean mask of frozen
    rows (None unless ``freeze="pretrained"``), whether the table trains, and
    how many of the tokenizer's words the vectors have.
    """
    if isinstance(vectors, str):
        if vectors != "glove":
            raise ValueError(f"sentiment: pretrained must be None, 'glove' or a KeyedVectors, "
                             f"got {vectors!r}")
        vectors = load_glove_6b_50d()
    unknown = set(options) - set(PRETRAINED_DEFAULTS)
    if unknown:
        raise TypeError(f"sentiment: unknown pretrained option(s) {sorted(unknown)}; expected "
                        f"{sorted(PRETRAINED_DEFAULTS)}")
    options = {**PRETRAINED_DEFAULTS, **options}
    layer = L.Embedding.from_pretrained(vectors, tokenizer, **options)
    layer.build()
    _, found = lookup_rows(vectors, tokenizer)
    return layer.embeddings.data.copy(), layer.frozen_rows, layer.trainable, int(found.sum())


def train(model="cnn", epochs=None, batch_size=64, vocab_size=20000, maxlen=60,
          embedding_dim=64, units=64, pretrained=None, fine_tune=None, seed=0,
          out="runs/sentiment", verbose="auto", plot=True, distributed=False, *,
          learning_rate=0.001, freeze=PRETRAINED_DEFAULTS["freeze"],
          scale=PRETRAINED_DEFAULTS["scale"],
          normalize=PRETRAINED_DEFAULTS["normalize"],
          oov_init=PRETRAINED_DEFAULTS["oov_init"], gpt=None) -> TaskResult:
    """Train a sentiment model on Rotten Tomatoes and evaluate it on the test split.

    ``pretrained``: None (random embedding), ``"glove"`` or a ``KeyedVectors``;
    then ``freeze`` (``"none"``: fine-tune the whole table; ``"pretrained"``:
    freeze only the rows found in the vectors; ``"all"``), ``scale``,
    ``normalize`` and ``oov_init`` set the embedding up
    (:func:`pretrained_embedding`; defaults :data:`PRETRAINED_DEFAULTS`).  ``fine_tune=True`` /
    ``False`` is the older spelling of ``freeze="none"`` / ``"all"``.
    ``distributed=True``: data-parallel over MPI (launch with ``mpiexec -n N``);
    every rank trains on its shard with averaged gradients, rank 0 saves.
    ``model="tinygpt"``: the pretrained GPT fine-tuned (``gpt``: another GPT with
    ``.tokenizer`` to start from; ``epochs``, ``batch_size`` as above, the rest is
    :data:`tinynlp.tasks.gpt_finetune.SETTINGS`).
    """
    tn_random.seed(seed)
    quick = quick_mode()
    if model == gpt_finetune.MODEL:
        if pretrained is not None or distributed:
            raise ValueError("sentiment: model 'tinygpt' is pretrained already; it takes "
                             "neither pretrained= nor distributed=")
        return _train_tinygpt(epochs, batch_size, seed, out, verbose, plot, quick, gpt)
    if epochs is None:
        epochs = 1 if quick else 4
    (x_train, y_train), (x_test, y_test) = datasets.load_rotten_tomatoes()
    if quick:
        x_train, y_train = x_train[:600], y_train[:600]
        x_test, y_test = x_test[:300], y_test[:300]
        vocab_size = min(vocab_size, 3000)

    tokenizer = Tokenizer(num_words=vocab_size, oov_token="<unk>")
    tokenizer.fit_on_texts(x_train)
    X_train = pad_sequences(tokenizer.texts_to_sequences(x_train), maxlen=maxlen)
    X_test = pad_sequences(tokenizer.texts_to_sequences(x_test), maxlen=maxlen)

    matrix, frozen, trainable, found = None, None, True, 0
    if pretrained is not None:
        if fine_tune is not None:
            freeze = "none" if fine_tune else "all"
        matrix, frozen, trainable, found = pretrained_embedding(
            tokenizer, pretrained, freeze=freeze, scale=scale, normalize=normalize,
            oov_init=oov_init)

    net = build_model(model, vocab_size, embedding_dim, units, matrix,
                      fine_tune=trainable, frozen_rows=frozen)
    net.compile(optimizer=Adam(learning_rate), loss="binary_crossentropy", metrics=["accuracy"])
    history = net.fit(X_train, y_train, epochs=epochs, batch_size=batch_size,
                      validation_split=0.1, verbose=verbose, distributed=distributed)
    loss, accuracy = net.evaluate(X_test, y_test, verbose=0)
    majority = float(max(np.mean(y_test), 1 - np.mean(y_test)))

    if distributed:
        if not DistributedContext.from_environment().is_root:
            return TaskResult("sentiment", model, "accuracy", float(accuracy), "majority class",
                              majority, {"rank": "non-root: nothing saved"})
    meta = {"tokenizer": tokenizer.get_config(), "maxlen": maxlen, "task": "sentiment",
            "model": model}
    _, artifacts = save_run(out, net, "tokenizer.json", meta, history,
                            f"sentiment ({model}) on Rotten Tomatoes" if plot else None)
    extra = {"test_loss": float(loss), "epochs": epochs, "train_size": len(x_train),
             "test_size": len(x_test)}
    if "val_accuracy" in history.history:
        extra["val_accuracy"] = [float(a) for a in history.history["val_accuracy"]]
    name = model
    if pretrained is not None:
        words = min(vocab_size, len(tokenizer.word_index) + 1) - 1
        label = pretrained if isinstance(pretrained, str) else "vectors"
        setup = (f"freeze={freeze}, scale={scale}, normalize={normalize}, oov_init={oov_init}"
                 if fine_tune is None else f"fine_tune={fine_tune}, scale={scale}")
        extra["pretrained"] = f"{label} ({found} of {words} words found; {setup})"
        name = f"{model}+{label}"
    return TaskResult("sentiment", name, "accuracy",
                      float(accuracy), "majority class", majority, extra, artifacts)


def _train_tinygpt(epochs, batch_size, seed, out, verbose, plot, quick, gpt):
    (x_train, y_train), (x_test, y_test) = datasets.load_rotten_tomatoes()
    settings = {"batch_size": batch_size}
    if quick:
        x_train, y_train = x_train[:600], y_train[:600]
        x_test, y_test = x_test[:300], y_test[:300]
        settings.update(maxlen=32, head_epochs=2, epochs=1)
    if epochs is not None:
        settings["epochs"] = epochs
    clf, history, sizes = gpt_finetune.train_gpt_classifier(
        x_train, y_train, 1, gpt, seed, verbose, **settings)
    p = gpt_finetune.predict_texts(clf, x_test).reshape(-1)
    accuracy = float(np.mean((p >= 0.5) == (y_test == 1)))
    majority = float(max(np.mean(y_test), 1 - np.mean(y_test)))
    _, artifacts = gpt_finetune.save_gpt_run(
        out, clf, {"task": "sentiment"}, history,
        "sentiment (tinygpt, fine-tuned) on Rotten Tomatoes" if plot else None)
    extra = {"epochs": len(history["full"].get("loss", [])), "train_size": sizes["fit"],
             "validation_size": sizes["validation"], "test_size": len(x_test),
             "maxlen": clf.maxlen}
    if "val_accuracy" in history["full"]:
        extra["val_accuracy"] = [float(a) for a in history["full"]["val_accuracy"]]
    return TaskResult("sentiment", gpt_finetune.MODEL, "accuracy", accuracy, "majority class",
                      majority, extra, artifacts)


def evaluate(folder="runs/sentiment") -> TaskResult:
    """Re-evaluate the model saved by :func:`train` on the full test split."""
    model, encode = load(folder)
    _, (x_test, y_test) = datasets.load_rotten_tomatoes()
    p = model.predict(encode(x_test), verbose=0).reshape(-1)
    accuracy = float(np.mean((p >= 0.5) == (y_test == 1)))
    majority = float(max(np.mean(y_test), 1 - np.mean(y_test)))
    run = run_info(folder)
    name = run.model if run is not None and run.model else type(model).__name__
    return TaskResult("sentiment", name, "accuracy", accuracy,
                      "majority class", majority, {"test_size": len(x_test)})


def load(folder="runs/sentiment"):
    """The trained model and a ``texts -> padded ids`` function saved by :func:`train`."""
    folder = Path(folder)
    meta = read_json(folder / "tokenizer.json")
    if gpt_finetune.is_gpt_run(meta):
        return gpt_finetune.load_gpt_run(folder, meta)
    require_keys(meta, folder / "tokenizer.json", ("tokenizer", "maxlen"))
    tokenizer = tokenizer_from_meta(meta, folder / "tokenizer.json")
    model = load_model(folder / "model.tnz", restore_rng=False)  # loading must not reseed tn.random

    def encode(texts):
        return pad_sequences(tokenizer.texts_to_sequences(texts), maxlen=meta["maxlen"])

    return model, encode


def predict(texts, folder="runs/sentiment"):
    """P(fresh) for each text, from the model saved in ``folder``."""
    if isinstance(texts, str):
        texts = [texts]
    model, encode = load(folder)
    return model.predict(encode(list(texts)), verbose=0).reshape(-1)
