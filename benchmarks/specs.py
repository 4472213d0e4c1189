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
    kind: str                    # seed_rnn | seed_cnn | emb_rnn | emb_lstm | emb_cnn | gpt
                                 # | transformer_cls
    data: str                    # "synthetic" | "rotten_tomatoes" | "shakespeare"
    sizes: dict = field(default_factory=dict)
    #: the batch sizes it is measured at (None: the harness's --batch-sizes)
    batch_sizes: tuple | None = None
    #: the frameworks that have a twin of it
    frameworks: tuple = ("tinynlp", "torch", "keras")

    @property
    def uses_embedding(self) -> bool:
        return self.kind.startswith("emb_")

    @property
    def binary_output(self) -> bool:
        """A sigmoid classifier (BCE loss, the accuracy column) — all but the GPT."""
        return self.kind != "gpt"

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
    "transformer_cls": ModelSpec(
        "transformer_cls", "TokenAndPositionEmbedding(20000, 128, 64) → TransformerEncoder(256, "
        "4 heads, relu, post-LN) ×2 → GlobalAveragePooling1D → Dense(1, sigmoid) "
        "(PyTorch: nn.TransformerEncoderLayer ×2)",
        "transformer_cls", "rotten_tomatoes",
        dict(vocab=20000, maxlen=128, dim=64, heads=4, ffn=256, layers=2),
        frameworks=("tinynlp", "torch")),
    "gpt": ModelSpec(
        "gpt", "baby GPT (nanoGPT's CPU Shakespeare settings): 4 layers, 4 heads, width 128, "
        "context 64, GELU MLP 512, pre-LN, tied embeddings, dropout 0, next-character "
        "cross-entropy, AdamW(lr 1e-3, betas (0.9, 0.99), eps 1e-8, weight decay 0.1)",
        "gpt", "shakespeare",
        dict(vocab=96, context=64, layers=4, heads=4, width=128, ffn=512),
        batch_sizes=(12,), frameworks=("tinynlp", "torch")),
}

#: the GPT's optimizer (nanoGPT's Shakespeare config; its weight decay here applies to every
#: weight in both frameworks, and the learning rate is constant: no warm-up, no decay)
GPT_ADAMW = dict(lr=1e-3, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)

#: tiny sizes for ``--quick`` (CI: does the harness run at all?) and for tests
QUICK_SIZES = {
    "seed_rnn": dict(units=16),
    "seed_cnn": dict(length=20, filters=8, hidden=16),
    "emb_rnn": dict(vocab=300, maxlen=12, dim=8, units=16),
    "emb_lstm": dict(vocab=300, maxlen=12, dim=8, units=16),
    "emb_cnn": dict(vocab=300, maxlen=12, dim=8, filters=16),
    "transformer_cls": dict(vocab=300, maxlen=12, dim=16, heads=2, ffn=32),
    "gpt": dict(context=16, layers=2, heads=2, width=32, ffn=128),
}


def get_spec(name: str, quick: bool = False) -> ModelSpec:
    spec = MODELS[name]
    return spec.with_sizes(**QUICK_SIZES[name]) if quick else spec
