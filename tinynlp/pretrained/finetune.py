"""Fine-tuning a pretrained GPT for text classification.

    clf = tn.pretrained.classifier("tinygpt", num_classes=15, pooling="last")
    ids = encode_texts(clf.tokenizer, texts, maxlen=128)        # lists of BPE ids
    history = fine_tune(clf, ids, labels, validation_data=(val_ids, val_labels))
    clf.predict(pad_ids(encode_texts(clf.tokenizer, ["some text"], 128)))

**The model** (:class:`GPTClassifier`): the GPT body's last hidden states
``H = LN(h^L)`` (B, T, d) (:meth:`tinynlp.models.GPT.hidden_states`, the
language-model head is not used), pooled over the real tokens of each row
(:func:`pool_hidden`), dropped out, and a Dense head:

    p = σ(w · pool(H) + b)                 num_classes = 1 (binary, one sigmoid unit)
    p = softmax(W pool(H) + b)             num_classes = C ≥ 2

Pooling ``"last"``: the state of the last real token (a causal model has read
the whole text there; :func:`encode_texts` appends ``<|endoftext|>`` so that
the last token is the same marker for every text, as GPT-1's classifier
did); ``"mean"``: the average of the states of all real tokens.

**Padding.** Rows are padded at the end with :data:`PAD_ID` (−1, never a
token id), so a padded batch needs no separate mask: ``ids >= 0`` are the
real tokens.  With padding at the end and causal attention the real tokens
never see the padding, and their positions are 0 … n−1 as in pretraining.

**The schedule** (:func:`fine_tune`): *frozen body, then unfreeze* —

1. the body is frozen and only the head is trained (a logistic regression
   on the pooled features, which are computed once, since a frozen body
   without dropout gives the same features every epoch);
2. everything is unfrozen and trained at a small learning rate (linear
   warm-up, then cosine decay), with early stopping on the validation loss
   that puts back the best epoch's weights.

Why this and not discriminative learning rates: a fresh head's gradients are
large and random; sent into the pretrained body from the first step they
undo what it learned before the head is any good (Howard & Ruder, 2018,
gradual unfreezing; Kumar et al., 2022, "linear probe, then fine-tune").
Training the head first removes that, costs one forward pass over the data
(the features are cached), and needs only the ``trainable`` flags every
layer has, whereas per-layer learning rates would need parameter groups in
every optimizer.  ``head_epochs=0`` skips step 1 (plain fine-tuning).
"""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..autograd import Tensor, no_grad
from ..callbacks import EarlyStopping
from ..data.batching import BatchLoader
from ..layers import Dense, Dropout
from ..layers.registry import register_layer
from ..models import GPT, Model, Sequential
from ..optimizers import Adam
from ..optimizers.schedules import CosineDecay, LinearWarmup

__all__ = [
    "PAD_ID",
    "POOLINGS",
    "GPTClassifier",
    "encode_texts",
    "fine_tune",
    "loss_for",
    "pad_ids",
    "pool_hidden",
    "pooled_features",
    "predict_proba",
]

#: the padding id of :class:`GPTClassifier` inputs (never a token id)
PAD_ID = -1
POOLINGS = ("last", "mean")


# ------------------------------------------------------------------ inputs
def encode_texts(tokenizer, texts, maxlen, append_eos=True) -> list:
    """BPE ids of each text for a classifier: at most ``maxlen`` ids per text.

    Special-token strings inside a text are read as plain text (a review that
    contains ``<|endoftext|>`` does not end there).  A longer text keeps its
    first ``maxlen − 1`` tokens; then ``<|endoftext|>`` is appended
    (``append_eos``), so every text ends with the same marker.
    """
    if isinstance(texts, str):
        raise TypeError("texts: expected a list of str, got one str (wrap it in a list)")
    if isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 2:
        raise ValueError(f"maxlen: expected an int >= 2, got {maxlen!r}")
    eos = tokenizer.eos_id
    if append_eos and eos is None:
        raise ValueError("append_eos: the tokenizer has no <|endoftext|> token")
    keep = maxlen - 1 if append_eos else maxlen
    out = []
    for ids in tokenizer.encode_batch(list(texts), allowed_special="none"):
        ids = ids[:keep]
        out.append(ids + [eos] if append_eos else ids)
    return out


def pad_ids(seqs, length=None, pad_id=PAD_ID) -> np.ndarray:
    """Token-id lists → an int64 array (N, length) padded at the end with ``pad_id``
    (length: the longest sequence; longer sequences are cut)."""
    seqs = list(seqs)
    if length is None:
        length = max((len(s) for s in seqs), default=1)
    out = np.full((len(seqs), max(1, int(length))), pad_id, dtype=np.int64)
    for i, s in enumerate(seqs):
        s = list(s)[:out.shape[1]]
        out[i, :len(s)] = s
    return out


def _real_tokens(ids) -> np.ndarray:
    """The (B, T) mask of real tokens of a padded batch, checked: padding only at the end,
    at least one real token per row."""
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise ValueError(f"GPTClassifier: expected integer token ids of shape (batch, time), "
                         f"got {ids.dtype} of shape {ids.shape}")
    real = ids != PAD_ID
    if ids.size and (ids < PAD_ID).any():
        raise ValueError(f"GPTClassifier: token ids must be >= 0, or {PAD_ID} for padding; got "
                         f"{int(ids.min())}")
    if ids.shape[1] > 1 and (real[:, 1:] > real[:, :-1]).any():
        row = int(np.argmax((real[:, 1:] > real[:, :-1]).any(axis=1)))
        raise ValueError(f"GPTClassifier: row {row} has a real token after padding; pad at the "
                         f"end (pad_ids does)")
    if not real[:, 0].all():
        raise ValueError(f"GPTClassifier: row {int(np.argmin(real[:, 0]))} has no real token")
    return real


def pool_hidden(h, real, pooling="last"):
    """Pool hidden states h (B, T, d) over each row's real tokens (``real`` (B, T), a
    prefix of each row) → (B, d).

    ``"last"``:  z_b = h[b, n_b − 1],      n_b = Σ_t real_bt;
                 ∂L/∂h[b, n_b − 1] = ∂L/∂z_b, zero elsewhere (an indexing op).
    ``"mean"``:  z_b = Σ_t real_bt h_bt / n_b;
                 ∂L/∂h_bt = real_bt ∂L/∂z_b / n_b (:func:`F.global_avg_pool1d`).
    """
    real = np.asarray(real, dtype=bool)
    if pooling == "last":
        last = real.sum(axis=1) - 1
        return h[np.arange(real.shape[0]), last]
    if pooling == "mean":
        return F.global_avg_pool1d(h, mask=real)
    raise ValueError(f"pooling: expected one of {POOLINGS}, got {pooling!r}")


# ------------------------------------------------------------------ the model
@register_layer
class GPTClassifier(Model):
    """A pretrained GPT body + pooling over the real tokens + dropout + a Dense head.

    ``model(ids)`` → probabilities: (B, 1) for ``num_classes=1`` (a sigmoid
    unit, for ``binary_crossentropy``), else (B, num_classes) (softmax, for
    ``sparse_categorical_crossentropy``).  ``ids``: (B, T) post-padded with
    :data:`PAD_ID` (:func:`pad_ids`).  ``body``: a :class:`~tinynlp.models.GPT`
    (used as it is, weights included) or its config (a fresh GPT; how
    ``load_model`` rebuilds one).  ``tokenizer``: kept as an attribute (not
    saved with the model; the task recipes save it beside).
    """

    def __init__(self, body, num_classes=2, pooling="last", dropout=0.1, tokenizer=None,
                 name=None, **kwargs):
        if isinstance(body, dict):
            body = GPT.from_config(dict(body))
        if not isinstance(body, GPT):
            raise TypeError(f"GPTClassifier: body must be a tinynlp.models.GPT or its config, "
                            f"got {type(body).__name__}")
        kwargs.setdefault("dtype", body.dtype.name)
        super().__init__(name=name, **kwargs)
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) \
                or num_classes < 1:
            raise ValueError(f"GPTClassifier: num_classes must be a positive int, got "
                             f"{num_classes!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"GPTClassifier: pooling must be one of {POOLINGS}, got "
                             f"{pooling!r}")
        self.body = body
        self.num_classes = int(num_classes)
        self.pooling = pooling
        self.dropout = float(dropout)
        dt = self.dtype.name
        self.drop = Dropout(self.dropout, dtype=dt)
        self.head = Dense(self.num_classes, activation=_head_activation(self), dtype=dt)
        self.tokenizer = tokenizer if tokenizer is not None else getattr(body, "tokenizer", None)

    @property
    def sequence_length(self) -> int:
        """The longest input (the body's ``sequence_length``)."""
        return self.body.sequence_length

    def features(self, token_ids, training=False):
        """The pooled body states (B, d) of a padded batch: what the head reads."""
        ids = token_ids.data if isinstance(token_ids, Tensor) else np.asarray(token_ids)
        if ids.dtype.kind == "f" and np.all(ids == np.round(ids)):
            ids = ids.astype(np.int64)
        real = _real_tokens(ids)
        h = self.body.hidden_states(np.where(real, ids, 0), training=training)
        return pool_hidden(h, real, self.pooling)

    def call(self, token_ids, training=False):
        return self.head(self.drop(self.features(token_ids, training), training=training))

    def set_body_trainable(self, flag: bool) -> None:
        """Freeze (False) or unfreeze (True) the body; the head stays trainable."""
        self.body.trainable = bool(flag)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype.name, "body": self.body.get_config(),
                "num_classes": self.num_classes, "pooling": self.pooling,
                "dropout": self.dropout}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _head_activation(model) -> str:
    return "sigmoid" if model.num_classes == 1 else "softmax"


def loss_for(model) -> str:
    """The loss matching a classifier's head: binary (one sigmoid unit) or sparse softmax."""
    return "binary_crossentropy" if model.num_classes == 1 else "sparse_categorical_crossentropy"


# ------------------------------------------------------------------ the schedule
def _as_lists(x):
    """Token-id lists from lists or from a padded array (padding dropped)."""
    if isinstance(x, np.ndarray):
        if x.ndim != 2:
            raise ValueError(f"x: expected token-id lists or a padded (N, T) array, got shape "
                             f"{x.shape}")
        return [row[row != PAD_ID].tolist() for row in x]
    return [list(s) for s in x]


def _loader(seqs, y, batch_size, shuffle, bucket_size):
    return BatchLoader(seqs, labels=np.asarray(y), batch_size=batch_size, shuffle=shuffle,
                       bucket_size=bucket_size, pad_value=PAD_ID)


def pooled_features(model, seqs, batch_size=64) -> np.ndarray:
    """The pooled body states of every sequence (N, d), without gradients, in order
    (sequences sorted by length inside, so batches carry little padding)."""
    seqs = _as_lists(seqs)
    order = np.argsort([len(s) for s in seqs], kind="stable")
    out = np.zeros((len(seqs), model.body.hidden_dim), dtype=model.dtype)
    with no_grad():
        for start in range(0, len(seqs), batch_size):
            idx = order[start:start + batch_size]
            out[idx] = model.features(pad_ids([seqs[i] for i in idx])).data
    return out


def _train_head(model, seqs, y, val, epochs, learning_rate, batch_size, patience, verbose):
    """Step 1: the body frozen, the head trained on cached pooled features."""
    feats = pooled_features(model, seqs)
    val_data = None
    if val is not None:
        val_data = (pooled_features(model, val[0]), np.asarray(val[1]))
    probe = Sequential([Dropout(model.dropout, dtype=model.dtype.name),
                        Dense(model.num_classes, activation=_head_activation(model),
                              dtype=model.dtype.name)])
    probe.compile(optimizer=Adam(learning_rate), loss=loss_for(model), metrics=["accuracy"])
    callbacks = [EarlyStopping(monitor="val_loss" if val is not None else "loss",
                               patience=patience, restore_best_weights=True)]
    history = probe.fit(feats, np.asarray(y), epochs=epochs, batch_size=batch_size,
                        validation_data=val_data, verbose=verbose, callbacks=callbacks)
    model.head.set_weights(probe.layers[-1].get_weights())
    return history.history


def fine_tune(model, x, y, validation_data=None, *, head_epochs=10, epochs=3,
              head_learning_rate=1e-3, learning_rate=1e-4, batch_size=32, warmup=0.1,
              clipnorm=1.0, patience=1, bucket_size=20, verbose=0, callbacks=None) -> dict:
    """Train a :class:`GPTClassifier`: head only (body frozen), then everything.

    Args:
        model: the classifier (its body pretrained, or random for a baseline).
        x: token-id lists (:func:`encode_texts`) or a padded array (:func:`pad_ids`).
        y: labels: 0/1 for ``num_classes=1``, class indices otherwise.
        validation_data: ``(x_val, y_val)`` for early stopping (recommended);
            without it both steps run all their epochs.
        head_epochs: epochs of step 1 (0: skip it, plain fine-tuning).
        epochs: at most this many epochs of step 2 (0: only the head is trained).
        head_learning_rate / learning_rate: Adam's rate in step 1 / the peak rate of
            step 2 (reached after ``warmup`` × its steps, then cosine decay to 0).
        clipnorm: gradient clipping in step 2.
        patience: epochs without a better validation loss before stopping; the
            best epoch's weights are put back.
        bucket_size: batches of similar lengths (:class:`~tinynlp.data.BatchLoader`).

    Returns:
        ``{"head": step 1's history, "full": step 2's history}`` (dicts of lists).
        The model ends compiled with step 2's optimizer, its body trainable.
    """
    seqs = _as_lists(x)
    y = np.asarray(y)
    if len(seqs) != len(y):
        raise ValueError(f"fine_tune: x has {len(seqs)} examples, y has {len(y)}")
    if not seqs:
        raise ValueError("fine_tune: no training examples")
    val = None
    if validation_data is not None:
        val = (_as_lists(validation_data[0]), np.asarray(validation_data[1]))
    with no_grad():
        model(pad_ids(seqs[:1]))                                # build the weights
    out = {"head": {}, "full": {}}
    if head_epochs:
        model.set_body_trainable(False)
        try:
            out["head"] = _train_head(model, seqs, y, val, head_epochs, head_learning_rate,
                                      batch_size, patience + 1, verbose)
        finally:
            model.set_body_trainable(True)
    steps = max(1, epochs * math.ceil(len(seqs) / batch_size))
    schedule = LinearWarmup(CosineDecay(learning_rate, steps),
                            max(1, round(warmup * steps)))
    model.compile(optimizer=Adam(schedule, clipnorm=clipnorm), loss=loss_for(model),
                  metrics=["accuracy"])
    if epochs:
        train = _loader(seqs, y, batch_size, True, bucket_size)
        val_loader = None if val is None else _loader(val[0], val[1], 2 * batch_size, False,
                                                       bucket_size)
        cbs = list(callbacks or [])
        if val is not None:
            cbs.append(EarlyStopping(monitor="val_loss", patience=patience,
                                     restore_best_weights=True))
        history = model.fit(train, epochs=epochs, validation_data=val_loader, verbose=verbose,
                            callbacks=cbs)
        out["full"] = history.history
    return out


def predict_proba(model, seqs, batch_size=64) -> np.ndarray:
    """The model's outputs for token-id lists, in order (batched by length inside)."""
    seqs = _as_lists(seqs)
    order = np.argsort([len(s) for s in seqs], kind="stable")
    out = None
    with no_grad():
        for start in range(0, len(seqs), batch_size):
            idx = order[start:start + batch_size]
            p = model(pad_ids([seqs[i] for i in idx])).data
            if out is None:
                out = np.zeros((len(seqs), p.shape[1]), dtype=p.dtype)
            out[idx] = p
    return out if out is not None else np.zeros((0, model.num_classes))

