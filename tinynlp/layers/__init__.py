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
from .input_layer import Input, InputLayer
from .merge import Add, Average, Dot, Maximum, Minimum, Multiply, Subtract
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
from .regularization import Dropout, SpatialDropout1D
from .symbolic import SymbolicTensor
from .wrappers import Bidirectional, TimeDistributed

Convolution1D = Conv1D

__all__ = [
    "GRU",
    "LSTM",
    "Activation",
    "Add",
    "Average",
    "AveragePooling1D",
    "AvgPool1D",
    "Bidirectional",
    "Concatenate",
    "Conv1D",
    "Convolution1D",
    "Dense",
    "Dot",
    "Dropout",
    "Embedding",
    "Flatten",
    "GlobalAveragePooling1D",
    "GlobalAvgPool1D",
    "GlobalMaxPool1D",
    "GlobalMaxPooling1D",
    "Input",
    "InputLayer",
    "Layer",
    "LayerNormalization",
    "MaxPool1D",
    "MaxPooling1D",
    "Maximum",
    "Minimum",
    "Multiply",
    "Parameter",
    "RNNBase",
    "Reshape",
    "SimpleRNN",
    "SpatialDropout1D",
    "Subtract",
    "SymbolicTensor",
    "TimeDistributed",
    "deserialize",
    "get_layer_class",
    "initializers",
    "register_layer",
    "registered_layers",
    "regularizers",
    "serialize",
]
