"""Converting a float model: :func:`quantize_dynamic`, :func:`calibrate` (static scales)."""

from __future__ import annotations

import copy

import numpy as np

from ...layers.convolutional import Conv1D
from ...layers.core import Dense, Embedding
from ...layers.recurrent import GRU, LSTM, SimpleRNN
from .._utils import iter_layers, run_model
from .layers import QuantizedConv1D, QuantizedDense, QuantizedEmbedding, QuantizedMixin
from .recurrent import QuantizedGRU, QuantizedLSTM, QuantizedSimpleRNN

__all__ = ["quantize_dynamic", "calibrate", "is_quantized", "int8_parameters"]


_CONVERTERS = {
    Dense: QuantizedDense,
    Embedding: QuantizedEmbedding,
    Conv1D: QuantizedConv1D,
    SimpleRNN: QuantizedSimpleRNN,
    LSTM: QuantizedLSTM,
    GRU: QuantizedGRU,
}


def _converter(layer, types):
    if isinstance(layer, QuantizedMixin) or not layer.built:
        return None
    for float_cls, q_cls in _CONVERTERS.items():
        if type(layer) is float_cls and (types is None or float_cls.__name__ in types):
            return q_cls
    return None


def is_quantized(model) -> bool:
    """True if any layer of ``model`` holds int8 weights."""
    return any(isinstance(layer, QuantizedMixin) for layer in iter_layers(model))


def quantize_dynamic(model, per_channel=True, layers=None):
    """A copy of ``model`` whose Dense, Embedding, Conv1D and recurrent layers hold int8
    weights and run int8 × int8 → int32 kernels with dynamic activation scales.

    ``per_channel``: one weight scale per output unit / filter / embedding row
    (default) or one per tensor.  ``layers``: restrict to these class names
    (e.g. ``["Dense", "LSTM"]``).  The model must be built (run it once).
    Other layers (pooling, dropout, ...) are copied unchanged; the original
    model is not modified.
    """
    if isinstance(layers, str):
        layers = [layers]
    types = None if layers is None else set(layers)
    if types is not None:
        unknown = types - {c.__name__ for c in _CONVERTERS}
        if unknown:
            known = [c.__name__ for c in _CONVERTERS]
            raise ValueError(f"quantize_dynamic: layers may name {known}, got unknown "
                             f"{sorted(unknown)}")
    memo = {}
    converted = 0
    for layer in iter_layers(model):
        q_cls = _converter(layer, types)
        if q_cls is not None:
            memo[id(layer)] = q_cls.from_float(layer, per_channel=per_channel)
            converted += 1
    if not converted:
        unbuilt = [layer.name for layer in iter_layers(model) if not layer.built]
        hint = (f" (layers {unbuilt} are not built yet: run the model once first)"
                if unbuilt else "")
        raise ValueError(f"quantize_dynamic: no quantizable layer in {model!r}{hint}")
    if id(model) in memo:  # a single layer
        return memo[id(model)]
    return copy.deepcopy(model, memo)


def calibrate(model, x_sample, batch_size=64):
    """Static activation scales from sample data: ``s = max|x| / 127`` per quantized input.

    ``model``: a quantized model (from :func:`quantize_dynamic`), modified in
    place; a float model is quantized first.  Runs ``x_sample`` through it
    (dynamic scales meanwhile), records the largest input magnitude each int8
    product sees, and fixes those scales.  Returns the calibrated model.
    """
    if not is_quantized(model):
        model = quantize_dynamic(model)
    qlayers = [layer for layer in iter_layers(model) if isinstance(layer, QuantizedMixin)]
    for layer in qlayers:
        layer.start_calibration()
    try:
        run_model(model, x_sample, batch_size=batch_size)
    finally:
        for layer in qlayers:
            layer.finish_calibration()
    return model


def int8_parameters(model):
    """(number of int8 values, number of float values) held by ``model``."""
    n8 = nf = 0
    for p in model.weights:
        if p.data.dtype == np.int8:
            n8 += p.size
        else:
            nf += p.size
    return n8, nf

