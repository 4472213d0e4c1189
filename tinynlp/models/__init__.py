"""Models (``tn.models``): ``Model`` (subclass it), ``Sequential``, ``load_model``.

``tn.Sequential`` and ``tn.Model`` are the same classes.  See
:mod:`tinynlp.models.model` for the training step and
:mod:`tinynlp.models.saving` for the checkpoint format (:mod:`tinynlp.models.loading`
rebuilds a model from one; :mod:`tinynlp.models.summary` prints ``summary()``).
"""

from .loading import load_model
from .model import Model
from .saving import CheckpointError, load_weights, save_model, save_weights
from .sequential import Sequential

__all__ = ["Model", "Sequential", "load_model", "save_model", "save_weights", "load_weights",
           "CheckpointError"]
