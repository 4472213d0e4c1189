"""Models (``tn.models``): ``Model`` (subclass it), ``Sequential``, ``GPT``, ``load_model``.

``tn.Sequential`` and ``tn.Model`` are the same classes.  See
:mod:`tinynlp.models.model` for the training step and
:mod:`tinynlp.models.saving` for the checkpoint format.
"""

from .gpt import GPT
from .model import Model
from .saving import CheckpointError, load_model, load_weights, save_model, save_weights
from .sequential import Sequential

__all__ = ["GPT", "Model", "Sequential", "load_model", "save_model", "save_weights",
           "load_weights", "CheckpointError"]
