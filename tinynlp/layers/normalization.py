"""LayerNormalization (Ba et al., 2016): normalise each sample over its features.

    μ = mean(x),  σ² = var(x)  over ``axis``;   y = γ · (x − μ) / √(σ² + ε) + β
"""

from __future__ import annotations

from .. import functional as F
from ._utils import (
    as_input,
    check_initializer,
    contiguous,
    default_name,
    layer_desc,
    serialize_initializer,
)
from .base import Layer
from .registry import register_layer

__all__ = ["LayerNormalization"]


@register_layer
class LayerNormalization(Layer):
    """Weights (Keras order): ``gamma`` then ``beta``, each of the normalised axis' size.

    ``center=False`` drops β, ``scale=False`` drops γ.
    """

    supports_masking = True

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", **kwargs):
        super().__init__(**default_name(type(self), kwargs))
        if isinstance(axis, (list, tuple)):
            if len(axis) != 1:
                raise ValueError(f"LayerNormalization: only a single axis is supported, got "
                                 f"{axis!r}")
            axis = axis[0]
        self.axis = int(axis)
        self.epsilon = float(epsilon)
        if self.epsilon <= 0:
            raise ValueError(f"LayerNormalization: epsilon must be positive, got {epsilon}")
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = check_initializer(beta_initializer,
                                                  "LayerNormalization.beta_initializer")
        self.gamma_initializer = check_initializer(gamma_initializer,
                                                   "LayerNormalization.gamma_initializer")
        self.gamma = self.beta = None

    def _axis_of(self, ndim):
        if not -ndim <= self.axis < ndim or self.axis % ndim == 0:
            raise ValueError(f"{layer_desc(self)}: axis={self.axis} is not a feature axis of an "
                             f"input of rank {ndim}")
        return self.axis % ndim

    def build(self, input_shape):
        if self.built:
            return
        input_shape = tuple(input_shape)
        ax = self._axis_of(len(input_shape))
        if input_shape[ax] is None:
            raise ValueError(f"{layer_desc(self)}: the normalised axis must have a known size, "
                             f"got input shape {input_shape}")
        n = int(input_shape[ax])
        if self.scale:
            self.gamma = self.add_weight("gamma", (n,), contiguous(self.gamma_initializer))
        if self.center:
            self.beta = self.add_weight("beta", (n,), contiguous(self.beta_initializer))
        self._size = n
        self.built = True

    def call(self, x, training=False, mask=None):
        x = as_input(self, x)
        ax = self._axis_of(x.ndim)
        if x.shape[ax] != self._size:
            raise ValueError(f"{layer_desc(self)}: built for size {self._size} on axis "
                             f"{self.axis}, got input of shape {tuple(x.shape)}")
        return F.layer_norm(x, self.gamma, self.beta, eps=self.epsilon, axis=self.axis)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            axis=self.axis, epsilon=self.epsilon, center=self.center, scale=self.scale,
            beta_initializer=serialize_initializer(self.beta_initializer,
                                                   "LayerNormalization.beta_initializer"),
            gamma_initializer=serialize_initializer(self.gamma_initializer,
                                                    "LayerNormalization.gamma_initializer"),
        )
        return config
