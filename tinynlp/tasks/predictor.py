"""A trained text classifier, whatever task wrote it: predictions with their labels.

    classifier = TextClassifier.load("runs/quickstart")      # sentiment, classify, imbalance
    classifier.classes                                        # ["rotten", "fresh"]
    classifier.predict_proba(["a gorgeous film"])             # (1, 2) probabilities
    classifier.predict(["a gorgeous film"])                   # ["fresh"]
    classifier.predict_file("new.csv", "predictions.csv")     # text, prediction, p_<class>

A binary model with one sigmoid unit (sentiment, imbalance) gives
``[1 − p, p]``; a softmax model (classification, your own data) its outputs.
A text that leaves the tokenizer nothing to read (empty, or punctuation only)
still gets a prediction — the model's answer for an empty input — but a
``UserWarning`` says which one it is.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..data.datasets import CLASS_NAMES
from ..data.tabular import read_texts, write_predictions
from ..pretrained.finetune import PAD_ID, GPTClassifier
from . import classification, sentiment
from .runs import run_info

__all__ = ["TextClassifier", "CLASSIFIER_TASKS"]

#: the tasks whose runs :class:`TextClassifier` loads (names as saved in run.json)
CLASSIFIER_TASKS = ("sentiment", "classification", "imbalance")


class TextClassifier:
    """A classifier saved in a run folder; see the module docstring."""

    def __init__(self, model, encode, classes, folder=None, task=None):
        self.model, self.encode = model, encode
        self.classes = [str(c) for c in classes]
        self.folder, self.task = folder, task

    @classmethod
    def load(cls, folder):
        """The classifier saved in ``folder`` by ``train`` (or the quickstart)."""
        folder = Path(folder)
        run = run_info(folder)
        if run is None:
            raise FileNotFoundError(f"{folder} holds no trained model (expected model.tnz and "
                                    "the tokenizer.json of `tinynlp train`)")
        if run.task not in CLASSIFIER_TASKS:
            raise ValueError(f"{folder} holds a {run.task} model, not a text classifier "
                             f"(a run of: {', '.join(CLASSIFIER_TASKS)})")
        if run.task == "classification":
            model, encode, meta = classification.load(folder)
            classes = meta["classes"]
        else:
            model, encode = sentiment.load(folder)
            classes = CLASS_NAMES["rotten_tomatoes"]
        return cls(model, encode, classes, folder, run.task)

    def predict_proba(self, texts) -> np.ndarray:
        """``(len(texts), len(classes))`` probabilities, one row per text in order."""
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.classes)))
        x = np.asarray(self.encode(texts))
        if isinstance(self.model, GPTClassifier):
            # a GPT row is the text's BPE ids, <|endoftext|>, then −1 padding: an empty
            # text leaves the end marker alone
            empty = np.flatnonzero((x != PAD_ID).sum(axis=1) <= 1)
        else:                                   # word ids, padded with 0
            empty = np.flatnonzero(~np.any(x != 0, axis=1))
        if len(empty):
            shown = ", ".join(f"{i + 1} ({texts[i][:30]!r})" for i in empty[:5])
            more = f" and {len(empty) - 5} more" if len(empty) > 5 else ""
            warnings.warn(f"{len(empty)} input(s) hold no word the model can read (empty or "
                          f"punctuation only): {shown}{more}; their prediction is the "
                          "model's answer for an empty text", UserWarning, stacklevel=2)
        p = np.asarray(self.model.predict(x, batch_size=128, verbose=0), dtype=np.float64)
        if p.ndim == 2 and p.shape[1] == len(self.classes):
            return p
        p = p.reshape(-1)
        return np.stack([1.0 - p, p], axis=1)

    def labels_of(self, probabilities) -> list:
        """The class of each row of probabilities (the most probable one)."""
        return [self.classes[k] for k in np.argmax(probabilities, axis=1)]

    def predict(self, texts) -> list:
        """The predicted class of each text, as the training data wrote it."""
        return self.labels_of(self.predict_proba(texts))

    def predict_file(self, data, out, text_column="text"):
        """Predictions for the texts of ``data`` (``.csv``, ``.tsv``, ``.jsonl`` or ``.txt``,
        see :mod:`tinynlp.data.tabular`) written to the CSV ``out`` (a path or a stream):
        one row per text, in order — the text, ``prediction``, ``p_<class>`` per class.
        Returns the number of rows."""
        texts = read_texts(data, text_column)
        probs = self.predict_proba(texts)
        write_predictions(out, texts, self.labels_of(probs), probs, self.classes, text_column)
        return len(texts)
