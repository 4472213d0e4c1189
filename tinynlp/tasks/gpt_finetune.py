"""The ``tinygpt`` model of the classification recipes: the shipped pretrained GPT, fine-tuned.

``tinynlp train sentiment --model tinygpt`` and ``tinynlp train classify --model
tinygpt`` both come here: the texts are cut into the GPT's BPE tokens
(:func:`tinynlp.pretrained.encode_texts`: at most ``maxlen`` tokens, ending with
``<|endoftext|>``), a :class:`~tinynlp.pretrained.GPTClassifier` is put on
``tn.pretrained.load("tinygpt")`` and trained with
:func:`tinynlp.pretrained.fine_tune` (head first on the frozen body, then
everything, early stopping on a validation split of the training data).

The run folder holds ``model.tnz`` (the whole classifier), ``bpe.json`` (the
tokenizer) and ``tokenizer.json`` (the recipe's metadata, with ``"bpe":
"bpe.json"``): the recipes' ``load()`` (and so ``tinynlp serve``) read it like
their other models.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..models import load_model
from ..pretrained import classifier, encode_texts, fine_tune, load, pad_ids, predict_proba
from ..text import BPETokenizer
from .common import save_run

__all__ = ["BPE_FILE", "MODEL", "SETTINGS", "is_gpt_run", "load_gpt_run", "predict_texts",
           "save_gpt_run", "stratified_split", "train_gpt_classifier"]

MODEL = "tinygpt"
BPE_FILE = "bpe.json"

#: the recipe's settings (each a keyword of :func:`train_gpt_classifier`)
SETTINGS = {"maxlen": 64, "epochs": 3, "head_epochs": 10, "learning_rate": 1e-4,
            "head_learning_rate": 1e-3, "batch_size": 32, "pooling": "last", "dropout": 0.1,
            "val_fraction": 0.1, "patience": 1}


def stratified_split(y, fraction, seed=0):
    """``(fit_idx, val_idx)``: a fixed random ``fraction`` of each class held out (at least
    one example of every class with two or more), the rest kept, both sorted."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = round(fraction * len(idx))
        if len(idx) >= 2:
            k = min(max(k, 1), len(idx) - 1)
        else:
            k = 0
        val.extend(idx[:k].tolist())
    val = np.array(sorted(val), dtype=np.int64)
    fit = np.setdiff1d(np.arange(len(y)), val)
    return fit, val


def train_gpt_classifier(x_train, y_train, num_classes, gpt=None, seed=0, verbose=0,
                         **settings):
    """Fine-tune a classifier on texts ``x_train`` / labels ``y_train``.

    ``gpt``: the body (a :class:`~tinynlp.models.GPT` with ``.tokenizer``);
    None loads ``tn.pretrained.load("tinygpt")``.  ``num_classes=1``: a sigmoid
    unit for 0/1 labels.  ``settings`` override :data:`SETTINGS`.

    Returns ``(classifier, history, sizes)``: history as
    :func:`~tinynlp.pretrained.fine_tune`, sizes ``{"fit": n, "validation": n}``.
    """
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise TypeError(f"{MODEL}: unknown setting(s) {sorted(unknown)}; expected "
                        f"{sorted(SETTINGS)}")
    s = {**SETTINGS, **settings}
    body = load(MODEL) if gpt is None else gpt
    if getattr(body, "tokenizer", None) is None:
        raise ValueError(f"{MODEL}: the GPT has no .tokenizer (a BPETokenizer) to encode texts")
    maxlen = min(int(s["maxlen"]), body.sequence_length)
    clf = classifier(body, num_classes=num_classes, pooling=s["pooling"], dropout=s["dropout"])
    seqs = encode_texts(clf.tokenizer, x_train, maxlen)
    y = np.asarray(y_train)
    fit_idx, val_idx = stratified_split(y, s["val_fraction"], seed)
    validation = None
    if len(val_idx):
        validation = ([seqs[i] for i in val_idx], y[val_idx])
    history = fine_tune(clf, [seqs[i] for i in fit_idx], y[fit_idx], validation,
                        head_epochs=s["head_epochs"], epochs=s["epochs"],
                        head_learning_rate=s["head_learning_rate"],
                        learning_rate=s["learning_rate"], batch_size=s["batch_size"],
                        patience=s["patience"], verbose=verbose)
    clf.maxlen = maxlen
    return clf, history, {"fit": len(fit_idx), "validation": len(val_idx)}


def predict_texts(clf, texts, maxlen=None) -> np.ndarray:
    """The classifier's probabilities for raw texts (N, num_classes)."""
    maxlen = maxlen or getattr(clf, "maxlen", None) or clf.sequence_length
    return predict_proba(clf, encode_texts(clf.tokenizer, list(texts), maxlen))


def save_gpt_run(out, clf, meta, history=None, title=None):
    """The run folder: model.tnz, bpe.json, tokenizer.json (``meta`` + the BPE file name and
    ``maxlen``), and the learning curves of step 2 when ``title`` is given."""
    meta = {**meta, "bpe": BPE_FILE, "maxlen": int(clf.maxlen), "model": MODEL}
    curves = None
    if history is not None:
        curves = history["full"] or history["head"]
    folder, artifacts = save_run(out, clf, "tokenizer.json", meta, curves,
                                 title if curves else None)
    clf.tokenizer.save(folder / BPE_FILE)
    artifacts["bpe"] = str(folder / BPE_FILE)
    return folder, artifacts


def is_gpt_run(meta) -> bool:
    """True for the metadata of a folder written by :func:`save_gpt_run`."""
    return "bpe" in meta


def load_gpt_run(folder, meta):
    """``(classifier, encode)`` from a folder written by :func:`save_gpt_run`: the model
    (with ``.tokenizer`` and ``.maxlen`` set) and ``texts -> padded ids``."""
    folder = Path(folder)
    tokenizer = BPETokenizer.load(folder / meta["bpe"])
    maxlen = int(meta["maxlen"])
    model = load_model(folder / "model.tnz", restore_rng=False)
    model.tokenizer, model.maxlen = tokenizer, maxlen

    def encode(texts):
        return pad_ids(encode_texts(tokenizer, list(texts), maxlen))

    return model, encode
