"""Losses for ``model.compile(loss=...)`` (``tn.losses``), built on :mod:`tinynlp.functional`.

Three ways to name a loss, as in Keras::

    model.compile(loss="binary_crossentropy")                         # a name
    model.compile(loss=tn.losses.BinaryCrossentropy(from_logits=True))  # an object
    model.compile(loss=my_fn)            # any callable (y_true, y_pred) -> Tensor

A loss object is called as ``loss(y_true, y_pred, sample_weight=None,
mask=None)`` and returns a scalar Tensor: the per-sample (per-position)
losses weighted by ``sample_weight`` and averaged over the positions the mask
keeps (Keras' "sum over batch size"; see :mod:`tinynlp.functional.losses`
for the formulas and gradients).  That reduction has one home,
:meth:`Loss.__call__`: a subclass only says what the per-sample losses are
(``call``).  A plain callable may return either a scalar or per-sample losses
(which are then weighted and averaged the same way).
"""

from __future__ import annotations

from . import functional as F
from .autograd.tensor import Tensor

__all__ = [
    "Loss", "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
    "MeanSquaredError", "LossFunctionWrapper", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "mse", "mean_squared_error",
    "get", "serialize", "splits_over_rows",
]


class Loss:
    """Base class, Keras style: subclasses implement ``call(y_true, y_pred)`` returning
    per-sample (per-position) losses; ``__call__`` weights, masks and averages them::

        class Huber(tn.losses.Loss):
            def call(self, y_true, y_pred):
                err = (y_pred - y_true).abs()
                return tn.autograd.where(err.data < 1, 0.5 * err * err, err - 0.5).mean(axis=-1)
    """

    def __init__(self, name=None):
        self.name = name or _snake(type(self).__name__)

    def __call__(self, y_true, y_pred, sample_weight=None, mask=None) -> Tensor:
        out, mask = self.per_sample(y_true, y_pred, mask)
        return _reduce(out, sample_weight, mask, self.name)

    def call(self, y_true, y_pred):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred)")

    def per_sample(self, y_true, y_pred, mask=None):
        """``(per-sample losses, mask of the positions that count)``: :meth:`call` and
        ``mask`` unchanged, unless the loss itself leaves positions out (``ignore_index``)."""
        return self.call(y_true, y_pred), mask

    def sum_and_count(self, y_true, y_pred, sample_weight=None, mask=None):
        """``(S, n)``: the sum of the weighted per-sample losses (a scalar Tensor) and the
        number of positions that count, so that the loss is S / max(n, 1).  Blocks of a
        batch's rows add their S and n up to the batch's loss (for a loss that
        :func:`splits_over_rows`)."""
        out, mask = self.per_sample(y_true, y_pred, mask)
        return F.loss_sum_and_count(out, sample_weight=sample_weight, mask=mask,
                                    op=f"loss {self.name!r}")

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


def _reduce(out, sample_weight, mask, name):
    """Scalar losses pass through; per-sample losses are weighted, masked and averaged."""
    if not isinstance(out, Tensor):
        raise TypeError(f"loss {name!r}: the loss function must return a Tensor "
                        f"(built from y_pred so it has a gradient), got {type(out).__name__}")
    if out.size == 1 and out.ndim <= 1:
        if sample_weight is not None or mask is not None:
            raise ValueError(f"loss {name!r} returns a scalar, so sample weights, "
                             "class weights and masks cannot be applied; return one loss "
                             "per sample instead")
        return out.reshape(()) if out.ndim else out
    return F.reduce_loss(out, sample_weight=sample_weight, mask=mask, reduction="mean",
                         op=f"loss {name!r}")


class BinaryCrossentropy(Loss):
    """ℓ = −[y log p + (1 − y) log(1 − p)]  (``from_logits``: p = σ(z), computed stably)."""

    def __init__(self, from_logits=False, name="binary_crossentropy"):
        super().__init__(name)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        return F.binary_crossentropy(y_true, y_pred, from_logits=self.from_logits,
                                     reduction="none")

    def get_config(self):
        return {"from_logits": self.from_logits, "name": self.name}


class CategoricalCrossentropy(Loss):
    """ℓ = −Σ_c y_c log p_c for one-hot (or soft) targets y."""

    def __init__(self, from_logits=False, name="categorical_crossentropy"):
        super().__init__(name)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        return F.categorical_crossentropy(y_true, y_pred, from_logits=self.from_logits,
                                          reduction="none")

    def get_config(self):
        return {"from_logits": self.from_logits, "name": self.name}


class SparseCategoricalCrossentropy(Loss):
    """ℓ = −log p_t for integer targets t; ``ignore_index`` positions are left out."""

    def __init__(self, from_logits=False, ignore_index=None,
                 name="sparse_categorical_crossentropy"):
        super().__init__(name)
        self.from_logits = bool(from_logits)
        self.ignore_index = ignore_index

    def call(self, y_true, y_pred):
        return self.per_sample(y_true, y_pred)[0]

    def per_sample(self, y_true, y_pred, mask=None):
        """Masked and ``ignore_index`` positions are left out of the count (and may hold
        any label, e.g. a padding id outside the classes)."""
        t, mask = F.sparse_targets(y_true, y_pred, mask, self.ignore_index)
        per = F.sparse_categorical_crossentropy(t, y_pred, from_logits=self.from_logits,
                                                mask=mask, reduction="none")
        return per, mask

    def get_config(self):
        return {"from_logits": self.from_logits, "ignore_index": self.ignore_index,
                "name": self.name}


class MeanSquaredError(Loss):
    """ℓ = mean over the last axis of (y − p)²."""

    def __init__(self, name="mean_squared_error"):
        super().__init__(name)

    def call(self, y_true, y_pred):
        return F.mse(y_true, y_pred, reduction="none")


class LossFunctionWrapper(Loss):
    """Wraps a callable ``fn(y_true, y_pred) -> Tensor`` (scalar or per-sample losses)."""

    def __init__(self, fn, name=None):
        super().__init__(name or getattr(fn, "__name__", "loss"))
        self.fn = fn

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred)

    def get_config(self):
        raise TypeError(f"loss {self.name!r} wraps a plain function and cannot be saved as "
                        "config; use a tn.losses class or pass custom_objects when loading")


# functional forms (y_true, y_pred) -> scalar Tensor, under their Keras names
def binary_crossentropy(y_true, y_pred, from_logits=False):
    return F.binary_crossentropy(y_true, y_pred, from_logits=from_logits)


def categorical_crossentropy(y_true, y_pred, from_logits=False):
    return F.categorical_crossentropy(y_true, y_pred, from_logits=from_logits)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    return F.sparse_categorical_crossentropy(y_true, y_pred, from_logits=from_logits)


def mse(y_true, y_pred):
    return F.mse(y_true, y_pred)


mean_squared_error = mse

_BY_NAME = {
    "binary_crossentropy": BinaryCrossentropy,
    "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
}
_CLASSES = {c.__name__: c for c in (BinaryCrossentropy, CategoricalCrossentropy,
                                    SparseCategoricalCrossentropy, MeanSquaredError)}


def splits_over_rows(loss) -> bool:
    """True when ``loss`` is one of the classes above with its ``call`` and ``per_sample``
    as they are here: it always returns per-sample losses, so the loss of a batch is
    Σ S / Σ n over any blocks of its rows (:meth:`Loss.sum_and_count`).  A plain callable
    or a subclass that changes them may return one scalar, and is not split."""
    t = type(loss)
    return isinstance(loss, Loss) and any(t.call is c.call and t.per_sample is c.per_sample
                                          for c in _CLASSES.values())


def get(identifier) -> Loss:
    """A :class:`Loss` from a name, a ``{"class_name", "config"}`` dict, an object or a callable."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"losses.get: unknown loss {identifier!r}; known: "
                             f"{sorted(_BY_NAME)}")
        return cls()
    if isinstance(identifier, dict):
        cls = _CLASSES.get(identifier.get("class_name"))
        if cls is None:
            raise ValueError(f"losses.get: unknown loss class {identifier.get('class_name')!r}")
        return cls.from_config(identifier.get("config", {}))
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise TypeError(f"losses.get: expected a name, a Loss or a callable, got "
                    f"{type(identifier).__name__}")


def serialize(loss: Loss) -> dict:
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def _snake(name):
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
