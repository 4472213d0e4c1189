"""Quantization-aware training: fake-quantized weights with a straight-through gradient."""

from __future__ import annotations

import numpy as np

from ...autograd.tensor import Function, Tensor, as_tensor
from ...kernels.int8 import QMAX
from .._utils import iter_layers
from .tensors import channel_axis, channel_shape, quantize_tensor

__all__ = ["FakeQuantize", "fake_quantize", "prepare_qat", "strip_qat"]


class FakeQuantize(Function):
    """y = s · clip(round(x / s), −127, 127)   (x rounded to the int8 grid and back);

    dL/dx = dL/dy · 1[−127 ≤ round(x / s) ≤ 127]   — the straight-through estimator: the
    rounding is treated as the identity (its true derivative is 0 almost
    everywhere, which would stop all learning), and values clipped away get no
    gradient.  ``scale`` is a constant (no gradient), broadcastable against x.
    """

    differentiable = (0,)

    @staticmethod
    def forward(ctx, x, scale):
        s = np.asarray(scale, dtype=np.float64)
        r = np.rint(x.astype(np.float64) / s)
        inside = np.abs(r) <= QMAX
        ctx.save_for_backward(inside)
        return (np.clip(r, -QMAX, QMAX) * s).astype(x.dtype)

    @staticmethod
    def backward(ctx, g):
        (inside,) = ctx.saved
        return g * inside, None


def fake_quantize(x, per_channel=False, axis=-1, scale=None):
    """Round ``x`` (a Tensor) to its int8 grid and back, with a straight-through gradient.

    The scale is ``max|x| / 127`` (per channel along ``axis`` if asked), computed
    from the current values and treated as a constant; or pass ``scale``.
    """
    x = as_tensor(x)
    if scale is None:
        _, scale = quantize_tensor(x.data, per_channel, axis)
        if per_channel:
            axis = channel_axis(axis, x.ndim, "fake_quantize")
            scale = scale.reshape(channel_shape(x.ndim, axis, x.shape[axis]))
    return FakeQuantize.apply(x, np.asarray(scale, dtype=np.float32))


# weights that get fake-quantized, and the axis of their channels
_QAT_WEIGHTS = {
    "Dense": (("kernel", -1),),
    "Conv1D": (("kernel", -1),),
    "Embedding": (("embeddings", 0),),
    "SimpleRNN": (("kernel", -1), ("recurrent_kernel", -1)),
    "LSTM": (("kernel", -1), ("recurrent_kernel", -1)),
    "GRU": (("kernel", -1), ("recurrent_kernel", -1)),
}


def _float_class_name(layer):
    for cls in type(layer).__mro__:
        if cls.__name__ in _QAT_WEIGHTS:
            return cls.__name__
    return None


def prepare_qat(model, per_channel=True):
    """Quantization-aware training: make every Dense / Conv1D / Embedding / recurrent
    layer of ``model`` compute with fake-quantized weights (in place; returns ``model``).

    The parameters stay float32 and keep learning (straight-through gradients);
    only the forward pass sees the int8 grid.  Train as usual, then
    :func:`strip_qat` and :func:`quantize_dynamic`.
    """
    for layer in iter_layers(model):
        name = _float_class_name(layer)
        if name is None or getattr(layer, "quantized", False) or "call" in vars(layer):
            continue
        layer.call = _qat_call(layer, _QAT_WEIGHTS[name], per_channel)
        layer._qat = True
    return model


def _qat_call(layer, weights, per_channel):
    original = type(layer).call

    def call(*args, **kwargs):
        saved = {}
        try:
            for attr, axis in weights:
                p = getattr(layer, attr, None)
                if isinstance(p, Tensor):
                    saved[attr] = p
                    setattr(layer, attr, fake_quantize(p, per_channel, axis))
            return original(layer, *args, **kwargs)
        finally:
            for attr, p in saved.items():
                setattr(layer, attr, p)

    return call


def strip_qat(model):
    """Undo :func:`prepare_qat` (in place; returns ``model``)."""
    for layer in iter_layers(model):
        if getattr(layer, "_qat", False):
            vars(layer).pop("call", None)
            layer._qat = False
    return model
