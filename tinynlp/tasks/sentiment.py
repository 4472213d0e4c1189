"""Binary sentiment analysis on the bundled Rotten Tomatoes critic snippets.

Three models, each a few lines:

* ``rnn``  — Embedding → SimpleRNN → Dense(sigmoid)   (the seed's Elman RNN)
* ``lstm`` — Embedding → LSTM → Dense(sigmoid)
* ``cnn``  — Kim (2014): Embedding → Conv1D with kernel sizes 3, 4, 5 →
  max-over-time pooling → concatenate → Dropout → Dense(sigmoid)

``pretrained="glove"`` starts the embedding from the bundled GloVe 6B 50d
vectors (frozen unless ``fine_tune=True``).  ``train()`` prints the test
accuracy beside the majority-class baseline and saves the model, its
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
from ..models import Model, Sequential, load_model
from ..text import Tokenizer, pad_sequences
from .common import TaskResult, check_model, quick_mode, read_json, save_run

__all__ = ["KimCNN", "build_model", "train", "evaluate", "load", "predict", "MODELS"]

MODELS = ("rnn", "lstm", "cnn")


@L.register_layer
class KimCNN(Model):
    """Kim (2014) CNN for sentence classification.

    For each kernel size k: ``c = relu(conv1d(E, w_k) + b_k)``, then
    max-over-time ``ĉ = max_t c_t``; the pooled features of all sizes are
    concatenated, dropped out and fed to a sigmoid unit.
    """

    def __init__(self, vocab_size=20000, embedding_dim=64, kernel_sizes=(3, 4, 5), filters=64,
                 dropout=0.5, embedding_trainable=True, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.config = dict(vocab_size=vocab_size, embedding_dim=embedding_dim,
                           kernel_sizes=list(kernel_sizes), filters=filters, dropout=dropout,
                           embedding_trainable=embedding_trainable)
        self.embedding = L.Embedding(vocab_size, embedding_dim, trainable=embedding_trainable)
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
                embedding_matrix=None, fine_tune=False):
    """One of :data:`MODELS`, ready to compile.

    ``embedding_matrix`` (vocab_size, dim): pretrained vectors to start from.
    """
    check_model("sentiment", kind, MODELS)
    if embedding_matrix is not None:
        vocab_size, embedding_dim = embedding_matrix.shape
    trainable = embedding_matrix is None or fine_tune
    if kind == "cnn":
        model = KimCNN(vocab_size, embedding_dim, embedding_trainable=trainable)
        embedding = model.embedding
    else:
        rnn = L.SimpleRNN(units) if kind == "rnn" else L.LSTM(units)
        embedding = L.Embedding(vocab_size, embedding_dim, mask_zero=True, trainable=trainable)
        model = Sequential([embedding, rnn, L.Dense(1, activation="sigmoid")])
    if embedding_matrix is not None:
        model.predict(np.zeros((1, 16), dtype=np.int64))  # build the weights
        embedding.set_weights([embedding_matrix.astype(np.float32)])
    return model


def _glove_matrix(tokenizer, vocab_size):
    """Rows of the bundled GloVe 50d vectors for the tokenizer's top words.

    Returns ``(matrix, found)``; words GloVe lacks get small random rows.
    """
    index = {w: i for w, i in tokenizer.word_index.items() if i < vocab_size}
    index.setdefault("<pad>", 0)
    matrix, n_oov = load_glove_6b_50d().to_matrix(index, oov="random",
                                                   seed=tn_random.next_seed())
    if len(matrix) < vocab_size:  # fewer distinct training words than vocab_size
        matrix = np.vstack([matrix, np.zeros((vocab_size - len(matrix), matrix.shape[1]),
                                             dtype=matrix.dtype)])
    return matrix, len(index) - 1 - n_oov


def train(model="cnn", epochs=None, batch_size=64, vocab_size=20000, maxlen=60,
          embedding_dim=64, units=64, pretrained=None, fine_tune=False, seed=0,
          out="runs/sentiment", verbose=1, plot=True, distributed=False) -> TaskResult:
    """Train a sentiment model on Rotten Tomatoes and evaluate it on the test split.

    ``distributed=True``: data-parallel over MPI (launch with ``mpiexec -n N``);
    every rank trains on its shard with averaged gradients, rank 0 saves.
    """
    tn_random.seed(seed)
    quick = quick_mode()
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

    matrix, found = None, 0
    if pretrained == "glove":
        matrix, found = _glove_matrix(tokenizer, vocab_size)
    elif pretrained is not None:
        raise ValueError(f"sentiment: pretrained must be None or 'glove', got {pretrained!r}")

    net = build_model(model, vocab_size, embedding_dim, units, matrix, fine_tune)
    net.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = net.fit(X_train, y_train, epochs=epochs, batch_size=batch_size,
                      validation_split=0.1, verbose=verbose, distributed=distributed)
    loss, accuracy = net.evaluate(X_test, y_test, verbose=0)
    majority = float(max(np.mean(y_test), 1 - np.mean(y_test)))

    if distributed:
        if not DistributedContext.from_environment().is_root:
            return TaskResult("sentiment", model, "accuracy", float(accuracy), "majority class",
                              majority, {"rank": "non-root: nothing saved"})
    meta = {"tokenizer": tokenizer.get_config(), "maxlen": maxlen, "task": "sentiment"}
    _, artifacts = save_run(out, net, "tokenizer.json", meta, history,
                            f"sentiment ({model}) on Rotten Tomatoes" if plot else None)
    extra = {"test_loss": float(loss), "epochs": epochs, "train_size": len(x_train),
             "test_size": len(x_test)}
    if pretrained:
        extra["pretrained"] = f"{pretrained} ({found} of {min(vocab_size, len(tokenizer.word_index) + 1) - 1} words found)"
    return TaskResult("sentiment", model + ("+glove" if pretrained else ""), "accuracy",
                      float(accuracy), "majority class", majority, extra, artifacts)


def evaluate(folder="runs/sentiment") -> TaskResult:
    """Re-evaluate the model saved by :func:`train` on the full test split."""
    model, encode = load(folder)
    _, (x_test, y_test) = datasets.load_rotten_tomatoes()
    p = model.predict(encode(x_test), verbose=0).reshape(-1)
    accuracy = float(np.mean((p >= 0.5) == (y_test == 1)))
    majority = float(max(np.mean(y_test), 1 - np.mean(y_test)))
    return TaskResult("sentiment", type(model).__name__, "accuracy", accuracy,
                      "majority class", majority, {"test_size": len(x_test)})


def load(folder="runs/sentiment"):
    """The trained model and a ``texts -> padded ids`` function saved by :func:`train`."""
    folder = Path(folder)
    meta = read_json(folder / "tokenizer.json")
    tokenizer = Tokenizer.from_config(meta["tokenizer"])
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
