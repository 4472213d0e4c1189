"""Optimizers (``tn.optimizers``): SGD, Adam, AdamW, RMSprop, Adagrad; schedules; clipping.

Every optimizer takes ``learning_rate`` (a float or a schedule from
:mod:`tinynlp.optimizers.schedules`) and one of ``clipnorm`` (per tensor),
``clipvalue`` (elementwise) or ``global_clipnorm`` (all tensors together).
The update rules follow PyTorch's formulas exactly (the parity tests compare
with ``torch.optim``); each class docstring gives its formula and where
Keras differs.  ``get("adam")`` builds one by name.
"""

from . import clipping, schedules
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .base import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}


def get(identifier) -> Optimizer:
    """An optimizer from a name ("adam", "sgd", ...), a config dict, or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"optimizers.get: unknown optimizer {identifier!r}; "
                             f"known: {sorted(_BY_NAME)}")
        return cls()
    if isinstance(identifier, dict):
        name = identifier.get("class_name", "")
        cls = _BY_NAME.get(str(name).lower())
        if cls is None:
            raise ValueError(f"optimizers.get: unknown optimizer class {name!r}")
        return cls.from_config(identifier.get("config", {}))
    raise TypeError(f"optimizers.get: expected a name, a config dict or an Optimizer, "
                    f"got {type(identifier).__name__}")


def serialize(optimizer: Optimizer) -> dict:
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "get", "serialize",
           "schedules", "clipping"]
