"""Model adapters: one saved task folder → what the server calls.

:func:`load_adapter` looks at a folder written by ``tinynlp train TASK`` and
returns the adapter for its task:

======================================  =====================  ====================
folder (metadata file, its ``task``)    adapter                endpoint
======================================  =====================  ====================
tokenizer.json: sentiment, imbalance    :class:`Classifier`    ``/v1/classify``
tokenizer.json: classification          :class:`Classifier`    ``/v1/classify``
vocab.json: tagging                     :class:`Tagger`        ``/v1/tag``
vocab.json: translation                 :class:`Translator`    ``/v1/translate``
vocab.json: language model              ``RNNLanguageModelAdapter``  completions, chat
vocab.json: language model, model gpt   ``GPTAdapter``         completions, chat
======================================  =====================  ====================

A batch adapter (kind ``classifier``, ``tagger``, ``translator``) has
``run_batch(items) -> results``: the micro-batcher hands it the inputs of
several requests at once, and it runs them as one padded forward pass.
Items carry a ``batch_key`` (only items with equal keys share a forward,
e.g. the beam size of a translation).  A generative adapter implements
:class:`tinynlp.serve.generation.GenerativeAdapter` instead.

Another kind of model folder plugs in with :func:`register_adapter`: a
function ``folder -> adapter or None`` tried before the built-in ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..tasks import classification, sentiment, tagging, translation
from .gpt import load_char_gpt
from .rnn_lm import RNNLanguageModelAdapter

__all__ = ["BatchAdapter", "Classifier", "Tagger", "Translator", "load_adapter",
           "register_adapter"]

SENTIMENT_LABELS = ("rotten", "fresh")   # label 0, label 1 of the Rotten Tomatoes tasks


class BatchAdapter:
    """A model whose requests are answered by one forward pass over a batch of inputs."""

    kind = "batch"
    task = "?"
    description = ""

    def batch_key(self, item):
        """Items with equal keys may share one forward pass (default: all)."""
        return

    def run_batch(self, items: list) -> list:
        """One result per item, in order."""
        raise NotImplementedError

    def warmup(self) -> None:
        """Run the model once so that the first request pays no first-call cost."""


class Classifier(BatchAdapter):
    """Sentiment (binary, a sigmoid unit) or genre (softmax) classification.

    Result per text: ``{"label", "probabilities": {label: p}}``; the label is
    ``fresh`` when P(fresh) ≥ 0.5 (as ``tinynlp predict``), else the argmax.
    """

    kind = "classifier"

    def __init__(self, folder, task, model, encode, labels):
        self.folder, self.task = Path(folder), task
        self.model, self.encode, self.labels = model, encode, list(labels)
        self.description = f"{task} classifier: {', '.join(self.labels)}"

    def probabilities(self, texts):
        """``(N, n_labels)`` probabilities of ``texts`` (one forward pass)."""
        x = self.encode(list(texts))
        p = np.asarray(self.model.predict(x, batch_size=len(x)), dtype=np.float64)
        if p.ndim == 2 and p.shape[1] == len(self.labels):
            return p
        p1 = p.reshape(-1)
        return np.stack([1.0 - p1, p1], axis=1)

    def run_batch(self, texts):
        out = []
        binary = len(self.labels) == 2
        for row in self.probabilities(texts):
            k = int(row[1] >= 0.5) if binary else int(np.argmax(row))
            out.append({"label": self.labels[k],
                        "probabilities": {lab: float(v) for lab, v in zip(self.labels, row)}})
        return out

    def warmup(self):
        self.run_batch(["warm up", "the model once"])


class Tagger(BatchAdapter):
    """Part-of-speech tagging; result per sentence ``{"tokens", "tags", "scores"}``
    (score: the probability of the chosen tag).  Sentences are post-padded to the
    longest of the batch; the embedding's mask keeps the padding out."""

    kind = "tagger"
    task = "tagging"

    def __init__(self, folder):
        self.folder = Path(folder)
        self.model, self.vocab, self.tags, self.meta = tagging.load(folder)
        self.description = f"part-of-speech tagger ({len(self.tags)} tags)"

    def run_batch(self, sentences):
        ids = [self.vocab.encode(s) for s in sentences]
        x = np.zeros((len(ids), max(len(s) for s in ids)), dtype=np.int64)
        for i, s in enumerate(ids):
            x[i, :len(s)] = s
        probs = self.model.predict(x, batch_size=len(x))
        out = []
        for i, s in enumerate(sentences):
            p = probs[i, :len(s)]
            best = p.argmax(axis=-1)
            out.append({"tokens": list(s), "tags": [self.tags[k] for k in best],
                        "scores": [float(v) for v in p[np.arange(len(s)), best]]})
        return out

    def warmup(self):
        self.run_batch([["The", "dog"], ["A", "cat", "sat"]])


class Translator(BatchAdapter):
    """Spanish → English with the seq2seq model; item = ``(text, beam_size)``.

    Greedy items (beam 1) of a batch are decoded together
    (:func:`~tinynlp.tasks.translation.greedy_decode`); beam search runs
    sentence by sentence (:func:`~tinynlp.tasks.translation.beam_search`).
    """

    kind = "translator"
    task = "translation"

    def __init__(self, folder, max_len=50):
        self.t = translation
        self.folder, self.max_len = Path(folder), max_len
        self.model, self.sv, self.tv, self.meta = translation.load(folder)
        self.bos, self.eos = self.tv[translation.BOS], self.tv[translation.EOS]
        self.description = "Spanish→English encoder–decoder" + {
            "attention": " with attention", "transformer": " (Transformer)"}.get(
                self.meta.get("model"), "")

    def batch_key(self, item):
        return item[1]

    def run_batch(self, items):
        t = self.t
        src = [self.sv.encode(t.tokenize(text)) for text, _ in items]
        beam = items[0][1]
        if beam == 1:
            outs = t.greedy_decode(self.model, src, self.bos, self.eos, max_len=self.max_len,
                                   batch_size=max(1, len(src)))
        else:
            outs = [t.beam_search(self.model, s, self.bos, self.eos, beam, self.max_len)
                    for s in src]
        return [{"translation": t.detokenize(self.tv.decode(ids))} for ids in outs]

    def warmup(self):
        self.run_batch([("hola", 1), ("el mundo", 1)])


# ------------------------------------------------------------------- loading
_LOADERS = []


def register_adapter(loader):
    """Add ``loader(folder) -> adapter or None`` (tried before the built-in kinds)."""
    _LOADERS.append(loader)
    return loader


def _meta(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: cannot read it as JSON ({e})") from None


def load_adapter(folder):
    """The adapter for the task model saved in ``folder`` (see the module docstring)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"model folder {str(folder)!r} does not exist; train one first, "
                                "e.g. `tinynlp train sentiment --out runs/sentiment`")
    for loader in reversed(_LOADERS):
        adapter = loader(folder)
        if adapter is not None:
            return adapter
    if not (folder / "model.tnz").is_file():
        raise ValueError(f"{folder} holds no model.tnz: expected a folder written by "
                         "`tinynlp train TASK` (or quickstart)")
    if (folder / "tokenizer.json").is_file():
        task = _meta(folder / "tokenizer.json").get("task", "sentiment")
        if task in ("sentiment", "imbalance"):   # the imbalance task saves the same files
            model, encode = sentiment.load(folder)
            return Classifier(folder, task, model, encode, SENTIMENT_LABELS)
        if task == "classification":
            model, encode, meta = classification.load(folder)
            return Classifier(folder, task, model, encode, meta["classes"])
        raise ValueError(f"{folder}/tokenizer.json: unknown task {task!r}")
    if (folder / "vocab.json").is_file():
        task = _meta(folder / "vocab.json").get("task")
        if task == "tagging":
            return Tagger(folder)
        if task == "translation":
            return Translator(folder)
        if task == "language model":
            if _meta(folder / "vocab.json").get("model") == "gpt":
                return load_char_gpt(folder)
            return RNNLanguageModelAdapter(folder)
        raise ValueError(f"{folder}/vocab.json: unknown task {task!r}")
    raise ValueError(f"{folder} has model.tnz but neither tokenizer.json nor vocab.json: "
                     "expected a folder written by `tinynlp train TASK`")
