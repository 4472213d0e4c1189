"""The benchmark models, described once for all three frameworks.

Nothing here imports a framework: the worker processes read these specs and
build the model with their own framework (:mod:`benchmarks.tinynlp_models`,
:mod:`benchmarks.torch_models`, :mod:`benchmarks.keras_models`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

LEARNING_RATE = 1e-3
EPSILON = 1e-7          # Adam epsilon, the same number in all three frameworks
SEED = 0


@dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str
    kind: str                    # seed_rnn | seed_cnn | emb_rnn | emb_lstm | emb_cnn
    data: str                    # "synthetic" | "rotten_tomatoes"
    sizes: dict = field(default_factory=dict)

    @property
    def uses_embedding(self) -> bool:
        return self.kind.startswith("emb_")

    def with_sizes(self, **sizes) -> "ModelSpec":
        return replace(self, sizes={**self.sizes, **sizes})


MODELS = {
    "seed_rnn": ModelSpec(
        "seed_rnn", "seed RNN: SimpleRNN(128, relu) on (1, 10) → Dense(1, sigmoid)",
        "seed_rnn", "synthetic", dict(steps=1, features=10, units=128)),
    "seed_cnn": ModelSpec(
        "seed_cnn", "seed CNN: Conv1D(64, 3, relu) on (100, 1) → MaxPool(2) → Flatten → "
        "Dense(128, relu) → Dense(1, sigmoid)",
        "seed_cnn", "synthetic", dict(length=100, filters=64, kernel=3, hidden=128)),
    "emb_rnn": ModelSpec(
        "emb_rnn", "Embedding(20000, 100) → SimpleRNN(128) over 100 steps → Dense(1, sigmoid)",
        "emb_rnn", "rotten_tomatoes", dict(vocab=20000, maxlen=100, dim=100, units=128)),
    "emb_lstm": ModelSpec(
        "emb_lstm", "Embedding(20000, 100) → LSTM(128) over 100 steps → Dense(1, sigmoid)",
        "emb_lstm", "rotten_tomatoes", dict(vocab=20000, maxlen=100, dim=100, units=128)),
    "emb_cnn": ModelSpec(
        "emb_cnn", "Embedding(20000, 100) → Conv1D(128, 3, relu) → GlobalMaxPooling1D → "
        "Dense(1, sigmoid)",
        "emb_cnn", "rotten_tomatoes", dict(vocab=20000, maxlen=100, dim=100, filters=128,
                                           kernel=3)),
}

#: tiny sizes for ``--quick`` (CI: does the harness run at all?) and for tests
QUICK_SIZES = {
    "seed_rnn": dict(units=16),
    "seed_cnn": dict(length=20, filters=8, hidden=16),
    "emb_rnn": dict(vocab=300, maxlen=12, dim=8, units=16),
    "emb_lstm": dict(vocab=300, maxlen=12, dim=8, units=16),
    "emb_cnn": dict(vocab=300, maxlen=12, dim=8, filters=16),
}


def get_spec(name: str, quick: bool = False) -> ModelSpec:
    spec = MODELS[name]
    return spec.with_sizes(**QUICK_SIZES[name]) if quick else spec
