"""Weight regularizers (Keras' names and formulas): penalties added to the loss.

A regularizer is a callable ``w -> scalar Tensor``; give it to a layer
(``Dense(10, kernel_regularizer=L2(1e-4))`` or ``kernel_regularizer="l2"``),
which puts it on the :class:`~tinynlp.layers.Parameter`;
``layer.regularization_losses()`` returns the penalty terms, which the training
loop adds to the loss.

* ``L1(l1)``:      R(w) = l1 · Σ|w|          ∂R/∂w = l1 · sign(w)
* ``L2(l2)``:      R(w) = l2 · Σ w²          ∂R/∂w = 2 · l2 · w
* ``L1L2(l1, l2)``: the sum of both.

As in Keras the L2 penalty has no ½, and the default factor is 0.01.
"""

from __future__ import annotations

import numpy as np

__all__ = ["L1", "L1L2", "L2", "Regularizer", "get", "l1", "l1_l2", "l2", "serialize"]


def _factor(value, name):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a number, got {value!r}") from None
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name}: expected a finite non-negative factor, got {value}")
    return value


class Regularizer:
    """Base class: ``__call__(w) -> scalar Tensor`` and ``get_config()``."""

    def __call__(self, w):  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1(Regularizer):
    """R(w) = l1 · Σ|w|;   ∂R/∂w = l1 · sign(w)"""

    def __init__(self, l1=0.01):
        self.l1 = _factor(l1, "L1.l1")

    def __call__(self, w):
        return w.abs().sum() * self.l1

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """R(w) = l2 · Σw²;   ∂R/∂w = 2 · l2 · w"""

    def __init__(self, l2=0.01):
        self.l2 = _factor(l2, "L2.l2")

    def __call__(self, w):
        return (w * w).sum() * self.l2

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    """R(w) = l1 · Σ|w| + l2 · Σw²   (Keras' defaults here are 0 for both)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(l1, "L1L2.l1")
        self.l2 = _factor(l2, "L1L2.l2")

    def __call__(self, w):
        total = None
        if self.l1:
            total = w.abs().sum() * self.l1
        if self.l2 or total is None:
            term = (w * w).sum() * self.l2
            total = term if total is None else total + term
        return total

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


def l1(l1=0.01):
    return L1(l1)


def l2(l2=0.01):
    return L2(l2)


def l1_l2(l1=0.01, l2=0.01):
    return L1L2(l1, l2)


_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2}
_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": lambda: L1L2(0.01, 0.01), "l1l2": lambda: L1L2(0.01, 0.01)}


def get(identifier):
    """A regularizer from a name (``"l1"``, ``"l2"``, ``"l1_l2"``), a config dict
    (:func:`serialize`'s output), a callable, or ``None``."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            raise ValueError(
                f"unknown regularizer {identifier!r}; expected one of {sorted(_BY_NAME)}, "
                "a Regularizer, a callable or None"
            )
        return _BY_NAME[key]()
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        if name not in _CLASSES:
            raise ValueError(
                f"unknown regularizer class {name!r}; expected one of {sorted(_CLASSES)}"
            )
        return _CLASSES[name].from_config(identifier.get("config", {}))
    if callable(identifier):
        return identifier
    raise TypeError(
        f"regularizer: expected a name, a dict, a callable or None, got {type(identifier).__name__}"
    )


def serialize(regularizer):
    """``{"class_name", "config"}`` for a built-in regularizer, ``None`` for ``None``."""
    if regularizer is None:
        return None
    if isinstance(regularizer, Regularizer) and type(regularizer).__name__ in _CLASSES:
        return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}
    raise ValueError(
        f"cannot serialize the custom regularizer {regularizer!r}: only L1, L2 and L1L2 "
        "are saved in a layer's config"
    )
