"""Models (``tn.models``): ``Model`` (subclass it), ``Sequential``, ``GPT``, ``load_model``, and
the functional API: ``Input`` and ``Model(inputs, outputs)`` (a ``Functional``).

``tn.Sequential``, ``tn.Model`` and ``tn.Input`` are the same objects.  See
:mod:`tinynlp.models.model` for the training step, :mod:`tinynlp.models.functional`
for graphs of layers and :mod:`tinynlp.models.saving` for the checkpoint format
(:mod:`tinynlp.models.loading` rebuilds a model from one; :mod:`tinynlp.models.summary`
prints ``summary()``).
"""

from ..layers.input_layer import Input
from .functional import Functional
from .gpt import GPT
from .loading import load_model, model_from_config, model_from_json
from .model import Model
from .saving import CheckpointError, load_weights, save_model, save_weights
from .sequential import Sequential

__all__ = ["Functional", "GPT", "Input", "Model", "Sequential", "load_model", "save_model",
           "save_weights", "load_weights", "CheckpointError", "model_from_json",
           "model_from_config"]
