"""Normalization layers.

- ``LayerNormalization`` (Ba et al., 2016): each sample over its features,
  ``μ = mean(x),  σ² = var(x)`` over ``axis``;  ``y = γ · (x − μ) / √(σ² + ε) + β``.
- ``BatchNormalization`` (Ioffe & Szegedy, 2015): each feature over the batch (and the
  time steps), with moving statistics for inference, as Keras.
"""

from __future__ import annotations

from .. import functional as F
from ..autograd import as_array
from ._utils import (
    as_input,
    as_mask,
    check_initializer,
    contiguous,
    default_name,
    layer_desc,
    serialize_initializer,
)
from .base import Layer
from .registry import register_layer

__all__ = ["BatchNormalization", "LayerNormalization"]


@register_layer
class LayerNormalization(Layer):
    """Weights (Keras order): ``gamma`` then ``beta``, each of the normalised axis' size.

    ``center=False`` drops β, ``scale=False`` drops γ.
    """

    rows_independent_at_inference = True

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
        self._check_size(x)
        return F.layer_norm(x, self.gamma, self.beta, eps=self.epsilon, axis=self.axis)

    def _check_size(self, x):
        if x.shape[self._axis_of(x.ndim)] != self._size:
            raise ValueError(f"{layer_desc(self)}: built for size {self._size} on axis "
                             f"{self.axis}, got input of shape {tuple(x.shape)}")

    def call_arrays(self, x):
        """Inference on a plain array (a Transformer block's fast path): :meth:`call`
        without the graph, the same numbers."""
        self._check_size(x)
        return F.layer_norm_inference(x, None if self.gamma is None else as_array(self.gamma),
                                      None if self.beta is None else as_array(self.beta),
                                      eps=self.epsilon, axis=self.axis)

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


@register_layer
class BatchNormalization(Layer):
    """Keras' ``BatchNormalization`` over the last axis (features, channels last).

    Training (``training=True`` and the layer trainable): each feature is normalized
    with the batch's mean and (biased) variance over all other axes — positions a
    ``mask`` marks as padding do not count — and the moving statistics follow::

        moving_mean ← momentum · moving_mean + (1 − momentum) · mean
        moving_variance ← momentum · moving_variance + (1 − momentum) · variance

    Inference (or a frozen layer, as in Keras): ``γ (x − moving_mean) / √(moving_variance
    + ε) + β``.  Weights (Keras order): ``gamma``, ``beta`` (trainable), then
    ``moving_mean``, ``moving_variance`` (not trainable: saved, never optimized).
    """

    rows_independent_at_inference = True

    supports_masking = True

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 **kwargs):
        super().__init__(**default_name(type(self), kwargs))
        if isinstance(axis, (list, tuple)) and len(axis) == 1:
            axis = axis[0]
        if axis != -1:
            raise ValueError(f"BatchNormalization: only axis=-1 (the features, channels last "
                             f"as tinynlp lays sequences out) is supported, got {axis!r}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1), got {momentum}")
        if not epsilon > 0:
            raise ValueError(f"BatchNormalization: epsilon must be positive, got {epsilon}")
        self.axis, self.momentum, self.epsilon = -1, float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        cls = "BatchNormalization"
        self.beta_initializer = check_initializer(beta_initializer, f"{cls}.beta_initializer")
        self.gamma_initializer = check_initializer(gamma_initializer,
                                                   f"{cls}.gamma_initializer")
        self.moving_mean_initializer = check_initializer(moving_mean_initializer,
                                                         f"{cls}.moving_mean_initializer")
        self.moving_variance_initializer = check_initializer(
            moving_variance_initializer, f"{cls}.moving_variance_initializer")
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def build(self, input_shape):
        if self.built:
            return
        input_shape = tuple(input_shape)
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"{layer_desc(self)}: expected inputs (batch, ..., features) with "
                             f"a known number of features, got shape {input_shape}")
        n = int(input_shape[-1])
        if self.scale:
            self.gamma = self.add_weight("gamma", (n,), contiguous(self.gamma_initializer))
        if self.center:
            self.beta = self.add_weight("beta", (n,), contiguous(self.beta_initializer))
        self.moving_mean = self.add_weight("moving_mean", (n,),
                                           contiguous(self.moving_mean_initializer),
                                           trainable=False)
        self.moving_variance = self.add_weight("moving_variance", (n,),
                                               contiguous(self.moving_variance_initializer),
                                               trainable=False)
        self.built = True

    def call(self, x, training=False, mask=None):
        x = as_input(self, x)
        n = self.moving_mean.shape[0]
        if x.ndim < 2 or x.shape[-1] != n:
            raise ValueError(f"{layer_desc(self)}: built for {n} features, got input of shape "
                             f"{tuple(x.shape)}")
        mask = as_mask(self, mask, tuple(x.shape[:-1]))
        if not (training and self.trainable):
            return F.batch_norm(x, self.gamma, self.beta, self.epsilon,
                                mean=self.moving_mean.data, variance=self.moving_variance.data)
        mean, variance = F.batch_moments(x.data, mask)
        m = self.moving_mean.data.dtype.type(self.momentum)
        self.moving_mean.data[...] = self.moving_mean.data * m + mean * (1 - m)
        self.moving_variance.data[...] = self.moving_variance.data * m + variance * (1 - m)
        return F.batch_norm(x, self.gamma, self.beta, self.epsilon, mask=mask)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        cls = "BatchNormalization"
        config.update(
            axis=self.axis, momentum=self.momentum, epsilon=self.epsilon, center=self.center,
            scale=self.scale,
            beta_initializer=serialize_initializer(self.beta_initializer,
                                                   f"{cls}.beta_initializer"),
            gamma_initializer=serialize_initializer(self.gamma_initializer,
                                                    f"{cls}.gamma_initializer"),
            moving_mean_initializer=serialize_initializer(self.moving_mean_initializer,
                                                          f"{cls}.moving_mean_initializer"),
            moving_variance_initializer=serialize_initializer(
                self.moving_variance_initializer, f"{cls}.moving_variance_initializer"),
        )
        return config
