"""Models shipped with tinynlp, loaded offline, and how they are made.

    gpt = tn.pretrained.load("tinygpt")        # a tn.models.GPT, float32, + gpt.tokenizer
    tn.pretrained.available()                  # ["tinygpt"]

``tinygpt`` is a small GPT pretrained on the corpus of
``tn.datasets.load_pretraining_corpus`` with its byte-level BPE vocabulary;
``docs/pretraining.md`` in the repository says how it was trained (the
command, the log, the curve) and what it can and cannot do.

* :mod:`tinynlp.pretrained.shipped` — the folder format (:func:`save_pretrained`,
  :func:`load_pretrained`) and the shipped models (:func:`load`, :func:`available`);
* :mod:`tinynlp.pretrained.train` — the pretraining run (``tinynlp pretrain``);
* :mod:`tinynlp.pretrained.data` — the corpus as cached token streams, batches,
  validation windows, the unigram baseline.
"""

from __future__ import annotations

from .shipped import PretrainedFormatError, available, load, load_pretrained, save_pretrained

__all__ = ["PretrainedFormatError", "available", "load", "load_pretrained", "save_pretrained"]
