"""Pooling over the time (steps) axis of (batch, steps, channels) inputs.

``MaxPooling1D`` / ``AveragePooling1D`` slide a window of ``pool_size`` steps
with stride ``strides`` (default: ``pool_size``).  The global versions reduce
the whole time axis to one vector per sequence and are mask-aware: padded
steps are ignored (a max over real tokens only; a mean divided by the true
length), so a padded batch gives the same vectors as unpadded sequences.
"""

from __future__ import annotations

from .. import functional as F
from ._utils import as_input, as_int, as_mask, check_choice, check_rank, default_name, layer_desc
from .base import Layer
from .convolutional import conv_output_length
from .registry import register_layer

__all__ = [
    "AveragePooling1D",
    "AvgPool1D",
    "GlobalAveragePooling1D",
    "GlobalAvgPool1D",
    "GlobalMaxPool1D",
    "GlobalMaxPooling1D",
    "MaxPool1D",
    "MaxPooling1D",
]


class _Pooling1D(Layer):
    rows_independent_at_inference = True

    _op = None

    def __init__(self, pool_size=2, strides=None, padding="valid", **kwargs):
        super().__init__(**default_name(type(self), kwargs))
        cls = type(self).__name__
        self.pool_size = as_int(pool_size, "pool_size", cls, minimum=1)
        self.strides = (self.pool_size if strides is None
                        else as_int(strides, "strides", cls, minimum=1))
        self.padding = check_choice(str(padding).lower(), ("valid", "same"), "padding", cls)

    def _check_length(self, shape):
        if self.padding == "valid" and shape[1] is not None and shape[1] < self.pool_size:
            raise ValueError(
                f"{layer_desc(self)}: pool_size={self.pool_size} is longer than the input's "
                f"{shape[1]} steps (shape {tuple(shape)}) with padding='valid'"
            )

    def call(self, x, training=False):
        x = as_input(self, x)
        check_rank(self, x, 3, "(batch, steps, channels)")
        self._check_length(x.shape)
        return type(self)._op(x, pool_size=self.pool_size, strides=self.strides,
                              padding=self.padding)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self._check_length(input_shape)
        steps = conv_output_length(input_shape[1], self.pool_size, self.padding, self.strides)
        return (input_shape[0], steps, input_shape[2])

    def get_config(self):
        config = super().get_config()
        config.update(pool_size=self.pool_size, strides=self.strides, padding=self.padding)
        return config


@register_layer(aliases=("MaxPool1D",))
class MaxPooling1D(_Pooling1D):
    """y_{i,c} = max_{k < pool_size} x_{i·s + k, c}"""

    _op = staticmethod(lambda x, **kw: F.max_pool1d(x, **kw))


@register_layer(aliases=("AvgPool1D",))
class AveragePooling1D(_Pooling1D):
    """y_{i,c} = mean_{k < pool_size} x_{i·s + k, c}"""

    _op = staticmethod(lambda x, **kw: F.avg_pool1d(x, **kw))


class _GlobalPooling1D(Layer):
    rows_independent_at_inference = True

    supports_masking = True
    _op = None

    def __init__(self, keepdims=False, **kwargs):
        super().__init__(**default_name(type(self), kwargs))
        self.keepdims = bool(keepdims)

    def call(self, x, training=False, mask=None):
        x = as_input(self, x)
        check_rank(self, x, 3, "(batch, steps, channels)")
        mask = as_mask(self, mask, x.shape[:2])
        y = type(self)._op(x, mask=mask)
        return y.reshape((y.shape[0], 1, y.shape[1])) if self.keepdims else y

    def compute_mask(self, x, mask=None):
        return None  # the time axis is gone

    def compute_output_shape(self, input_shape):
        b, _, c = tuple(input_shape)
        return (b, 1, c) if self.keepdims else (b, c)

    def get_config(self):
        config = super().get_config()
        config["keepdims"] = self.keepdims
        return config


@register_layer(aliases=("GlobalMaxPool1D",))
class GlobalMaxPooling1D(_GlobalPooling1D):
    """y_c = max over the (unmasked) steps t of x_{t,c}"""

    _op = staticmethod(lambda x, mask=None: F.global_max_pool1d(x, mask=mask))


@register_layer(aliases=("GlobalAvgPool1D", "GlobalAveragePool1D"))
class GlobalAveragePooling1D(_GlobalPooling1D):
    """y_c = Σ_t m_t x_{t,c} / Σ_t m_t   (m = mask, all ones without one)"""

    _op = staticmethod(lambda x, mask=None: F.global_avg_pool1d(x, mask=mask))


MaxPool1D = MaxPooling1D
AvgPool1D = AveragePooling1D
GlobalMaxPool1D = GlobalMaxPooling1D
GlobalAvgPool1D = GlobalAveragePooling1D
