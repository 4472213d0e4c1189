"""The benchmark models in tinynlp: Keras-style layers and a plain training step.

A train step is what ``fit`` does per batch: forward, binary cross-entropy,
backward, an Adam step over the trainable weights, and clearing the gradients.
"""

from __future__ import annotations

import numpy as np

import tinynlp as tn

from .specs import EPSILON, GPT_ADAMW, LEARNING_RATE, ModelSpec


def build_layers(spec: ModelSpec, sparse: bool = False) -> list:
    L = tn.layers
    s = spec.sizes
    if spec.kind == "seed_rnn":
        return [L.SimpleRNN(s["units"], activation="relu"), L.Dense(1, activation="sigmoid")]
    if spec.kind == "seed_cnn":
        return [L.Conv1D(s["filters"], s["kernel"], activation="relu"), L.MaxPooling1D(2),
                L.Flatten(), L.Dense(s["hidden"], activation="relu"),
                L.Dense(1, activation="sigmoid")]
    if spec.kind == "transformer_cls":
        return [L.TokenAndPositionEmbedding(s["vocab"], s["maxlen"], s["dim"]),
                *[L.TransformerEncoder(s["ffn"], s["heads"]) for _ in range(s["layers"])],
                L.GlobalAveragePooling1D(), L.Dense(1, activation="sigmoid")]
    emb = L.Embedding(s["vocab"], s["dim"], sparse=sparse)
    if spec.kind == "emb_rnn":
        body = [L.SimpleRNN(s["units"])]
    elif spec.kind == "emb_lstm":
        body = [L.LSTM(s["units"])]
    else:
        body = [L.Conv1D(s["filters"], s["kernel"], activation="relu"),
                L.GlobalMaxPooling1D()]
    return [emb, *body, L.Dense(1, activation="sigmoid")]


def build_gpt(spec: ModelSpec):
    """``tn.models.GPT`` with the spec's sizes, built (GPT-2's N(0, 0.02²) initial weights)."""
    s = spec.sizes
    gpt = tn.models.GPT(s["vocab"], s["context"], s["layers"], s["heads"], s["width"], s["ffn"],
                        dropout=0.0)
    with tn.no_grad():
        gpt(np.zeros((1, s["context"]), np.int64))
    return gpt


def input_example(spec: ModelSpec, batch: int = 2):
    s = spec.sizes
    if spec.kind == "seed_rnn":
        return np.zeros((batch, s["steps"], s["features"]), np.float32)
    if spec.kind == "seed_cnn":
        return np.zeros((batch, s["length"], 1), np.float32)
    return np.zeros((batch, s["maxlen"]), np.int64)


class TinyModel:
    """A ``tn.Sequential`` compiled with Adam and binary cross-entropy.

    ``train_step`` is ``model.train_on_batch`` — what ``fit`` does per batch:
    forward, loss, backward, an Adam step over the trainable weights,
    clearing the gradients — and ``predict`` a forward pass under ``no_grad``.
    """

    def __init__(self, layers, weights=None, model=None):
        self.model = model if model is not None else tn.Sequential(layers)
        if model is not None and isinstance(model, tn.models.GPT):
            g = GPT_ADAMW
            self.model.compile(
                optimizer=tn.optimizers.AdamW(learning_rate=g["lr"], beta_1=g["betas"][0],
                                              beta_2=g["betas"][1], epsilon=g["eps"],
                                              weight_decay=g["weight_decay"]),
                loss=tn.losses.SparseCategoricalCrossentropy(from_logits=True))
        else:
            self.model.compile(
                optimizer=tn.optimizers.Adam(learning_rate=LEARNING_RATE, epsilon=EPSILON),
                loss="binary_crossentropy")
        self._weights = weights

    def _build(self, x):
        with tn.no_grad():
            self.model(x)
        if self._weights is not None:
            self.model.set_weights(list(self._weights))

    @staticmethod
    def convert_x(x):
        return x

    @staticmethod
    def convert_y(y):
        return y

    def train_step(self, x, y) -> float:
        return self.model.train_on_batch(x, y)

    def predict(self, x) -> np.ndarray:
        with tn.no_grad():
            return self.model(x).data

    def get_weights(self):
        return self.model.get_weights()


def build(spec: ModelSpec, weights, sparse: bool = False) -> TinyModel:
    if spec.kind == "gpt":
        model = TinyModel(None, weights, model=build_gpt(spec))
        model.model.set_weights(list(weights))
        return model
    model = TinyModel(build_layers(spec, sparse=sparse), weights)
    model._build(input_example(spec))
    return model
