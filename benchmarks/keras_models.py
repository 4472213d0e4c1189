"""The benchmark models in Keras 3 on its torch backend (``KERAS_BACKEND=torch``).

``train_on_batch`` / ``predict_on_batch`` are Keras' own per-batch training
step and inference; the optimizer is ``keras.optimizers.Adam`` with the same
learning rate and epsilon (Keras places epsilon slightly differently from
PyTorch and tinynlp: see NOTES.md).
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers as L  # noqa: E402

from .specs import EPSILON, LEARNING_RATE, ModelSpec  # noqa: E402


def make_model(spec: ModelSpec):
    s = spec.sizes
    if spec.kind == "seed_rnn":
        stack = [keras.Input((s["steps"], s["features"])),
                 L.SimpleRNN(s["units"], activation="relu"), L.Dense(1, activation="sigmoid")]
    elif spec.kind == "seed_cnn":
        stack = [keras.Input((s["length"], 1)),
                 L.Conv1D(s["filters"], s["kernel"], activation="relu"), L.MaxPooling1D(2),
                 L.Flatten(), L.Dense(s["hidden"], activation="relu"),
                 L.Dense(1, activation="sigmoid")]
    else:
        stack = [keras.Input((s["maxlen"],), dtype="int64"), L.Embedding(s["vocab"], s["dim"])]
        if spec.kind == "emb_rnn":
            stack.append(L.SimpleRNN(s["units"]))
        elif spec.kind == "emb_lstm":
            stack.append(L.LSTM(s["units"]))
        else:
            stack += [L.Conv1D(s["filters"], s["kernel"], activation="relu"),
                      L.GlobalMaxPooling1D()]
        stack.append(L.Dense(1, activation="sigmoid"))
    return keras.Sequential(stack)


class KerasModel:
    def __init__(self, model):
        self.model = model

    @staticmethod
    def convert_x(x):
        return x

    @staticmethod
    def convert_y(y):
        return y

    def train_step(self, x, y) -> float:
        return float(self.model.train_on_batch(x, y))

    def predict(self, x) -> np.ndarray:
        return np.asarray(self.model.predict_on_batch(x))


def build(spec: ModelSpec, weights, sparse: bool = False) -> KerasModel:
    if sparse:
        raise ValueError("Keras has no row-sparse embedding gradients")
    model = make_model(spec)
    model.set_weights(list(weights))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE,
                                                  epsilon=EPSILON),
                  loss="binary_crossentropy")
    return KerasModel(model)
