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
from .attention import KVCache, MultiHeadAttention
from .attention_convert import mha_weights_from_torch, mha_weights_to_torch
from .base import Layer, Parameter
from .convolutional import Conv1D
from .core import Activation, Concatenate, Dense, Embedding, Flatten, Masking, Reshape
from .input_layer import Input, InputLayer
from .merge import Add, Average, Dot, Maximum, Minimum, Multiply, Subtract
from .normalization import BatchNormalization, LayerNormalization
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
from .position import PositionEmbedding, SinePositionEncoding, TokenAndPositionEmbedding
from .recurrent import GRU, LSTM, RNNBase, SimpleRNN
from .registry import (
    deserialize,
    get_layer_class,
    register_layer,
    registered_layers,
    serialize,
)
from .dropout import Dropout, SpatialDropout1D
from .symbolic import SymbolicTensor
from .transformer import TransformerDecoder, TransformerEncoder
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
    "BatchNormalization",
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
    "KVCache",
    "Layer",
    "LayerNormalization",
    "Masking",
    "MaxPool1D",
    "MaxPooling1D",
    "Maximum",
    "Minimum",
    "MultiHeadAttention",
    "Multiply",
    "Parameter",
    "PositionEmbedding",
    "RNNBase",
    "Reshape",
    "SimpleRNN",
    "SinePositionEncoding",
    "SpatialDropout1D",
    "Subtract",
    "SymbolicTensor",
    "TimeDistributed",
    "TokenAndPositionEmbedding",
    "TransformerDecoder",
    "TransformerEncoder",
    "deserialize",
    "get_layer_class",
    "initializers",
    "mha_weights_from_torch",
    "mha_weights_to_torch",
    "register_layer",
    "registered_layers",
    "regularizers",
    "serialize",
]
