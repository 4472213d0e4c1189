"""Parameter-holding layers with Keras' names and semantics.

Every layer is registered by class name (:func:`get_layer_class`,
:func:`register_layer`), so an architecture saved as JSON
(:func:`serialize` → ``{"class_name", "config"}``) can be rebuilt
(:func:`deserialize`).
"""

from . import initializers  # noqa: F401
from . import regularizers  # noqa: F401
from .base import Layer, Parameter  # noqa: F401
from .convolutional import Conv1D  # noqa: F401
from .core import Activation, Concatenate, Dense, Embedding, Flatten, Reshape  # noqa: F401
from .normalization import LayerNormalization  # noqa: F401
from .pooling import (  # noqa: F401
    AveragePooling1D, AvgPool1D, GlobalAveragePooling1D, GlobalAvgPool1D, GlobalMaxPool1D,
    GlobalMaxPooling1D, MaxPool1D, MaxPooling1D,
)
from .recurrent import GRU, LSTM, RNNBase, SimpleRNN  # noqa: F401
from .registry import (  # noqa: F401
    deserialize, get_layer_class, register_layer, registered_layers, serialize,
)
from .regularization import Dropout, SpatialDropout1D  # noqa: F401
from .wrappers import Bidirectional, TimeDistributed  # noqa: F401

Convolution1D = Conv1D

__all__ = [
    "Layer", "Parameter", "initializers", "regularizers",
    "Dense", "Embedding", "Activation", "Flatten", "Reshape", "Concatenate",
    "SimpleRNN", "LSTM", "GRU", "RNNBase", "Bidirectional", "TimeDistributed",
    "Conv1D", "Convolution1D", "MaxPooling1D", "AveragePooling1D", "GlobalMaxPooling1D",
    "GlobalAveragePooling1D", "MaxPool1D", "AvgPool1D", "GlobalMaxPool1D", "GlobalAvgPool1D",
    "Dropout", "SpatialDropout1D", "LayerNormalization",
    "get_layer_class", "register_layer", "registered_layers", "serialize", "deserialize",
]
