"""Conv1D: the seed's 1-D convolution over a sequence of feature vectors.

    z_i = Σ_k Σ_c x_{i·s + k·d, c} · w_{k, c, f} + b_f,    h_i = activation(z_i)

This is cross-correlation, as in Keras and PyTorch (the textbook convolution
flips the kernel; see ``F.conv1d_flipped_reference``), so weights are
interchangeable with those frameworks.  Inputs are ``(batch, steps,
channels)``; the kernel is ``(kernel_size, channels, filters)``.
"""

from __future__ import annotations

import math

from .. import functional as F
from ._utils import (
    as_ids, as_input, as_int, build_kernel_bias, check_choice, check_known, check_last_dim,
    check_rank, default_name, init_kernel_bias, kernel_bias_config, layer_desc,
)
from .base import Layer
from .registry import register_layer

__all__ = ["Conv1D", "conv_output_length"]


def conv_output_length(length, window, padding, stride, dilation=1):
    """Output steps of a 1-D convolution or pooling window (None stays None).

    ``valid``: ⌊(L − (window−1)·d − 1) / s⌋ + 1;   ``same``/``causal``: ⌈L / s⌉.
    """
    if length is None:
        return None
    if padding == "valid":
        span = (window - 1) * dilation + 1
        return max(0, (length - span) // stride + 1)
    return math.ceil(length / stride)


@register_layer(aliases=("Convolution1D",))
class Conv1D(Layer):
    """1-D convolution layer: (batch, steps, channels) → (batch, new_steps, filters).

    Weights (Keras order): ``kernel`` (kernel_size, channels, filters),
    ``bias`` (filters,).  ``padding``: ``"valid"`` (no padding), ``"same"``
    (output length ⌈L/strides⌉), ``"causal"`` (left padding only: output i sees
    inputs ≤ i).
    """

    rows_independent_at_inference = True

    float_dtypes = ("float32", "float64")   # its ops run Numba kernels

    def __init__(self, filters, kernel_size, strides=1, padding="valid", dilation_rate=1,
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 **kwargs):
        super().__init__(**default_name(type(self), kwargs))
        self.filters = as_int(filters, "filters", "Conv1D", minimum=1)
        self.kernel_size = as_int(kernel_size, "kernel_size", "Conv1D", minimum=1)
        self.strides = as_int(strides, "strides", "Conv1D", minimum=1)
        self.padding = check_choice(str(padding).lower(), ("valid", "same", "causal"),
                                    "padding", "Conv1D")
        self.dilation_rate = as_int(dilation_rate, "dilation_rate", "Conv1D", minimum=1)
        init_kernel_bias(self, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer)
        if self.strides > 1 and self.dilation_rate > 1:
            raise ValueError("Conv1D: strides > 1 together with dilation_rate > 1 is not "
                             "supported (as in Keras)")

    def build(self, input_shape):
        if self.built:
            return
        input_shape = tuple(input_shape)
        check_rank(self, input_shape, 3, "(batch, steps, channels)")
        channels = check_known(self, input_shape, -1, "channels")
        self._check_length(input_shape)
        build_kernel_bias(self, (self.kernel_size, channels, self.filters), self.filters)
        self.built = True

    def _check_length(self, shape):
        length = shape[1]
        if self.padding == "valid" and length is not None:
            span = (self.kernel_size - 1) * self.dilation_rate + 1
            if span > length:
                raise ValueError(
                    f"{layer_desc(self)}: the kernel spans {span} steps (kernel_size="
                    f"{self.kernel_size}, dilation_rate={self.dilation_rate}) but the input "
                    f"has only {length} steps (shape {tuple(shape)}) and padding='valid'; "
                    "use shorter kernels, longer inputs or padding='same'"
                )

    def call(self, x, training=False):
        x = as_input(self, x)
        check_rank(self, x, 3, "(batch, steps, channels)")
        check_last_dim(self, x, self.kernel.shape[1], what="channels")
        self._check_length(x.shape)
        return F.conv1d(x, self.kernel, self.bias, strides=self.strides, padding=self.padding,
                        dilation_rate=self.dilation_rate, activation=self.activation)

    def call_on_lookup(self, embedding, ids, training=False, mask=None):
        """``self(embedding(ids), training, mask)`` at inference, without making the
        embedding's output: :func:`F.conv1d_lookup` multiplies each distinct id's row of
        the table by the kernel's taps once, and each output step adds up its rows of
        that product.  ``Sequential`` calls it where
        :func:`~tinynlp.layers.lookup.looks_up` allows."""
        self._warn_dropped_mask(mask)              # as Layer.__call__ does
        table = embedding.embeddings
        ids = F.check_ids(as_ids(embedding, ids), table.shape[0])   # the Embedding's own check
        shape = (*ids.shape, table.shape[1])
        check_rank(self, shape, 3, "(batch, steps, channels)")
        check_last_dim(self, table, self.kernel.shape[1], what="channels")
        self._check_length(shape)
        return F.conv1d_lookup(ids, table, self.kernel, self.bias, strides=self.strides,
                               padding=self.padding, dilation_rate=self.dilation_rate,
                               activation=self.activation)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        check_rank(self, input_shape, 3, "(batch, steps, channels)")
        self._check_length(input_shape)
        steps = conv_output_length(input_shape[1], self.kernel_size, self.padding,
                                   self.strides, self.dilation_rate)
        return (input_shape[0], steps, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters, kernel_size=self.kernel_size, strides=self.strides,
            padding=self.padding, dilation_rate=self.dilation_rate, **kernel_bias_config(self))
        return config
