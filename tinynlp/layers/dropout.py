"""Dropout layers: randomly zero inputs while training (inverted dropout).

At training time each value is kept with probability 1 − rate and scaled by
1 / (1 − rate), so the expected output equals the input; at inference the
layer is the identity.  Masks come from ``tn.random`` (``tn.random.seed(n)``
fixes them) or, with ``seed=``, from the layer's own generator (different
masks on each call, the same sequence of masks on each run).
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ._utils import as_input, check_rate, default_name, layer_desc
from .base import Layer
from .registry import register_layer

__all__ = ["Dropout", "SpatialDropout1D"]


@register_layer
class Dropout(Layer):
    """y = x · keep / (1 − rate) with keep ~ Bernoulli(1 − rate) when ``training``, else x.

    ``noise_shape`` (Keras): the shape of the keep-mask, broadcast against the
    input; ``None`` entries take the input's size (``(None, 1, None)`` drops
    whole feature channels for all time steps).
    """

    rows_independent_at_inference = True

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**default_name(type(self), kwargs))
        self.rate = check_rate(rate, "rate", "Dropout")
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = None if seed is None else int(seed)
        self._rng = None if seed is None else np.random.default_rng(self.seed)

    def _mask_shape(self, x):
        shape = tuple(x.shape)
        if self.noise_shape is None:
            return shape
        if len(self.noise_shape) != len(shape):
            raise ValueError(f"{layer_desc(self)}: noise_shape {self.noise_shape} must have the "
                             f"input's rank {len(shape)} (input shape {shape})")
        out = tuple(n if d is None else d for d, n in zip(self.noise_shape, shape))
        for d, n in zip(out, shape):
            if d not in (1, n):
                raise ValueError(f"{layer_desc(self)}: noise_shape {self.noise_shape} does not "
                                 f"broadcast to the input shape {shape}")
        return out

    def call(self, x, training=False, mask=None):
        x = as_input(self, x)
        if not training or self.rate == 0.0:
            return x
        noise_shape = None if self.noise_shape is None else self._mask_shape(x)
        seed = None if self._rng is None else int(self._rng.integers(0, 2**31 - 1))
        return F.dropout(x, self.rate, training=True, seed=seed, noise_shape=noise_shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate,
                      noise_shape=None if self.noise_shape is None else list(self.noise_shape),
                      seed=self.seed)
        return config


@register_layer
class SpatialDropout1D(Dropout):
    """Dropout of whole channels: one keep-mask per (sequence, channel), shared over time."""

    def __init__(self, rate, seed=None, **kwargs):
        kwargs.pop("noise_shape", None)
        super().__init__(rate, noise_shape=(None, 1, None), seed=seed, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("noise_shape")
        return config
