"""Models shipped with tinynlp, and fine-tuning them.

    gpt = tn.pretrained.load("tinygpt")                  # a tn.models.GPT, gpt.tokenizer a BPE
    clf = tn.pretrained.classifier("tinygpt", num_classes=2, pooling="last")

:func:`classifier` puts a pooling + Dense head on a pretrained GPT
(:class:`~tinynlp.pretrained.finetune.GPTClassifier`); :func:`fine_tune`
trains it with the frozen-body-then-unfreeze schedule described in
:mod:`tinynlp.pretrained.finetune`.
"""

from __future__ import annotations

from ..models import GPT
from .finetune import (
    PAD_ID,
    POOLINGS,
    GPTClassifier,
    encode_texts,
    fine_tune,
    loss_for,
    pad_ids,
    pool_hidden,
    pooled_features,
    predict_proba,
)

__all__ = [
    "PAD_ID",
    "POOLINGS",
    "GPTClassifier",
    "classifier",
    "encode_texts",
    "fine_tune",
    "load",
    "loss_for",
    "pad_ids",
    "pool_hidden",
    "pooled_features",
    "predict_proba",
]


def load(name: str = "tinygpt") -> GPT:
    """The pretrained model ``name`` (shipped with the package), its tokenizer as
    ``model.tokenizer``."""
    raise FileNotFoundError(f"the pretrained model {name!r} is not shipped with this build of "
                            "tinynlp yet")


def classifier(model="tinygpt", num_classes=2, pooling="last", dropout=0.1) -> GPTClassifier:
    """A pretrained GPT with a classification head, ready for :func:`fine_tune`.

    ``model``: the name of a shipped model (:func:`load`) or a GPT instance
    (its ``tokenizer`` attribute is carried over).  ``num_classes=1``: one
    sigmoid unit (binary tasks, ``binary_crossentropy``); C ≥ 2: softmax.
    ``pooling``: ``"last"`` (the last real token's state) or ``"mean"``.
    """
    body = load(model) if isinstance(model, str) else model
    return GPTClassifier(body, num_classes=num_classes, pooling=pooling, dropout=dropout)
