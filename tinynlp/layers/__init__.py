"""Parameter-holding layers with Keras' names and semantics.

Every layer is registered by class name (:func:`get_layer_class`,
:func:`register_layer`), so an architecture saved as JSON
(:func:`serialize` → ``{"class_name", "config"}``) can be rebuilt
(:func:`deserialize`).
"""

from . import (
    initializers,
    regularizers,
)
from .base import Layer, Parameter
from .convolutional import Conv1D
from .core import Activation, Concatenate, Dense, Embedding, Flatten, Reshape
from .normalization import LayerNormalization
from .pooling import (
    AveragePooling1D,
    AvgPool1D,
    GlobalAveragePooling1D,
    GlobalAvgPool1D,
    GlobalMaxPool1D,
    GlobalMaxPooling1D,
    MaxPool1D,
    MaxPooling1D,
)
from .recurrent import GRU, LSTM, RNNBase, SimpleRNN
from .registry import (
    deserialize,
    get_layer_class,
    register_layer,
    registered_layers,
    serialize,
)
from .dropout import Dropout, SpatialDropout1D
from .wrappers import Bidirectional, TimeDistributed

Convolution1D = Conv1D

__all__ = [
    "GRU",
    "LSTM",
    "Activation",
    "AveragePooling1D",
    "AvgPool1D",
    "Bidirectional",
    "Concatenate",
    "Conv1D",
    "Convolution1D",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GlobalAveragePooling1D",
    "GlobalAvgPool1D",
    "GlobalMaxPool1D",
    "GlobalMaxPooling1D",
    "Layer",
    "LayerNormalization",
    "MaxPool1D",
    "MaxPooling1D",
    "Parameter",
    "RNNBase",
    "Reshape",
    "SimpleRNN",
    "SpatialDropout1D",
    "TimeDistributed",
    "deserialize",
    "get_layer_class",
    "initializers",
    "register_layer",
    "registered_layers",
    "regularizers",
    "serialize",
]
