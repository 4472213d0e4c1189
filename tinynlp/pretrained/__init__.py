"""Models shipped with tinynlp, loaded offline, how they are made, and fine-tuning them.

    gpt = tn.pretrained.load("tinygpt")        # a tn.models.GPT, float32, + gpt.tokenizer
    tn.pretrained.available()                  # ["tinygpt"]
    clf = tn.pretrained.classifier("tinygpt", num_classes=2, pooling="last")

``tinygpt`` is a small GPT pretrained on the corpus of
``tn.datasets.load_pretraining_corpus`` with its byte-level BPE vocabulary;
``docs/pretraining.md`` in the repository says how it was trained (the
command, the log, the curve) and what it can and cannot do.

* :mod:`tinynlp.pretrained.shipped` — the folder format (:func:`save_pretrained`,
  :func:`load_pretrained`) and the shipped models (:func:`load`, :func:`available`);
* :mod:`tinynlp.pretrained.train` — the pretraining run (``tinynlp pretrain``);
* :mod:`tinynlp.pretrained.data` — the corpus as cached token streams, batches,
  validation windows, the unigram baseline;
* :mod:`tinynlp.pretrained.finetune` — :func:`classifier` puts a pooling + Dense
  head on a pretrained GPT (:class:`~tinynlp.pretrained.finetune.GPTClassifier`);
  :func:`fine_tune` trains it with the frozen-body-then-unfreeze schedule.
"""

from __future__ import annotations

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
from .shipped import PretrainedFormatError, available, load, load_pretrained, save_pretrained

__all__ = [
    "PAD_ID",
    "POOLINGS",
    "GPTClassifier",
    "PretrainedFormatError",
    "available",
    "classifier",
    "encode_texts",
    "fine_tune",
    "load",
    "load_pretrained",
    "loss_for",
    "pad_ids",
    "pool_hidden",
    "pooled_features",
    "predict_proba",
    "save_pretrained",
]


def classifier(model="tinygpt", num_classes=2, pooling="last", dropout=0.1) -> GPTClassifier:
    """A pretrained GPT with a classification head, ready for :func:`fine_tune`.

    ``model``: the name of a shipped model (:func:`load`) or a GPT instance
    (its ``tokenizer`` attribute is carried over).  ``num_classes=1``: one
    sigmoid unit (binary tasks, ``binary_crossentropy``); C ≥ 2: softmax.
    ``pooling``: ``"last"`` (the last real token's state) or ``"mean"``.
    """
    body = load(model) if isinstance(model, str) else model
    return GPTClassifier(body, num_classes=num_classes, pooling=pooling, dropout=dropout)
