"""Position information for attention, with KerasHub's names and semantics.

Attention by itself is blind to order: permute the tokens and every output
is permuted the same way.  These layers give each position a vector to add
to its token's embedding.

* :class:`PositionEmbedding` — learned: row t of an ``(sequence_length, d)``
  table ``embeddings`` is the vector of position t.  It cannot go past
  ``sequence_length``.
* :class:`SinePositionEncoding` — fixed (Vaswani et al., 2017): for position
  t and feature i, with D features and wavelength base W (``max_wavelength``)::

      θ_{t,i} = t · W^(−2⌊i/2⌋ / D);     PE_{t,i} = sin θ  (i even),  cos θ  (i odd)

* :class:`TokenAndPositionEmbedding` — ``Embedding(token ids) + PositionEmbedding``.

Each returns / adds a (batch, time, d) tensor.  ``start_index`` shifts the
positions (decoding one token at a time with a cache); ``positions`` (batch,
time) gives every token its own position (e.g. left-padded rows that start
at different columns).
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..autograd import Tensor
from ..autograd.ops import broadcast_to
from ._utils import (
    check_initializer,
    contiguous,
    default_name,
    layer_desc,
    serialize_initializer,
)
from .base import Layer
from .core import Embedding
from .registry import register_layer

__all__ = ["PositionEmbedding", "SinePositionEncoding", "TokenAndPositionEmbedding"]


def _int(value, arg, owner, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{owner}: {arg} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _positions(layer, positions, shape, limit=None):
    """Integer (batch, time) positions as an int64 array, checked against ``limit``."""
    p = positions.data if isinstance(positions, Tensor) else np.asarray(positions)
    if p.dtype.kind not in "iu":
        raise TypeError(f"{layer_desc(layer)}: positions must be integers, got dtype {p.dtype}")
    if p.shape not in (tuple(shape), tuple(shape[1:])):
        raise ValueError(f"{layer_desc(layer)}: positions must have shape (batch, time) = "
                         f"{tuple(shape)} or (time,), got {p.shape}")
    if p.size and p.min() < 0:
        raise ValueError(f"{layer_desc(layer)}: positions must be >= 0, got {p.min()}")
    if limit is not None and p.size and p.max() >= limit:
        raise ValueError(f"{layer_desc(layer)}: position {p.max()} is beyond the "
                         f"sequence_length {limit} of this learned position embedding "
                         f"(positions 0..{limit - 1})")
    return np.broadcast_to(p.astype(np.int64, copy=False), tuple(shape))


@register_layer
class PositionEmbedding(Layer):
    """Learned position vectors: (batch, time, d) → the (batch, time, d) embeddings of
    positions start_index … start_index + time − 1 (not added to the input).

    Weight: ``embeddings`` (sequence_length, d).
    """

    rows_independent_at_inference = True

    def __init__(self, sequence_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**default_name(type(self), kwargs))
        self.sequence_length = _int(sequence_length, "sequence_length", "PositionEmbedding")
        self.initializer = check_initializer(initializer, "PositionEmbedding.initializer")
        self.embeddings = None

    def build(self, input_shape):
        if self.built:
            return
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"{layer_desc(self)}: expected (batch, time, features) inputs with "
                             f"known features, got shape {tuple(input_shape)}")
        self.embeddings = self.add_weight("embeddings", (self.sequence_length,
                                                          int(input_shape[-1])),
                                          contiguous(self.initializer))
        self.built = True

    def call(self, inputs, training=False, start_index=0, positions=None):
        shape = tuple(np.shape(getattr(inputs, "data", inputs)))
        if len(shape) < 2:
            raise ValueError(f"{layer_desc(self)}: expected (batch, time, features) inputs, got "
                             f"shape {shape}")
        T, d = shape[-2], shape[-1]
        if d != self.embeddings.shape[1]:
            raise ValueError(f"{layer_desc(self)}: built for {self.embeddings.shape[1]} "
                             f"features, got inputs of shape {shape}")
        if positions is not None:
            pos = _positions(self, positions, shape[:-1], self.sequence_length)
            return F.embedding(pos, self.embeddings)
        start = _int(start_index, "start_index", layer_desc(self), minimum=0)
        if start + T > self.sequence_length:
            where = f"positions {start}..{start + T - 1}" if start else f"{T} tokens"
            raise ValueError(f"{layer_desc(self)}: a sequence of {where} is longer than the "
                             f"sequence_length {self.sequence_length} this learned position "
                             f"embedding was built for")
        return broadcast_to(self.embeddings[start:start + T], shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(sequence_length=self.sequence_length,
                      initializer=serialize_initializer(self.initializer,
                                                        "PositionEmbedding.initializer"))
        return config


def sine_position_encoding(positions, dim, max_wavelength=10000.0, dtype=np.float32):
    """PE (…, dim) for integer ``positions`` (…,): sin θ on even features, cos θ on odd,
    θ_{t,i} = t · max_wavelength^(−2⌊i/2⌋/dim)."""
    i = np.arange(dim)
    timescales = np.power(1.0 / max_wavelength, (2 * (i // 2)) / dim)
    angles = np.asarray(positions, dtype=np.float64)[..., None] * timescales
    return np.where(i % 2 == 0, np.sin(angles), np.cos(angles)).astype(dtype)


@register_layer
class SinePositionEncoding(Layer):
    """Fixed sinusoidal position vectors, the shape of the input (see the module docstring).

    No weights; the output does not depend on the input's values."""

    rows_independent_at_inference = True

    def __init__(self, max_wavelength=10000, **kwargs):
        super().__init__(**default_name(type(self), kwargs))
        if not np.isscalar(max_wavelength) or not float(max_wavelength) > 1:
            raise ValueError(f"SinePositionEncoding: max_wavelength must be a number > 1, got "
                             f"{max_wavelength!r}")
        self.max_wavelength = max_wavelength

    def call(self, inputs, training=False, start_index=0, positions=None):
        shape = tuple(np.shape(getattr(inputs, "data", inputs)))
        if len(shape) < 2:
            raise ValueError(f"{layer_desc(self)}: expected (batch, time, features) inputs, got "
                             f"shape {shape}")
        dt = np.dtype(getattr(inputs, "dtype", self.dtype))
        dt = dt if dt.kind == "f" else self.dtype
        if positions is not None:
            pos = _positions(self, positions, shape[:-1])
            return Tensor(sine_position_encoding(pos, shape[-1], self.max_wavelength, dt),
                          _copy=False)
        start = _int(start_index, "start_index", layer_desc(self), minimum=0)
        pe = sine_position_encoding(np.arange(start, start + shape[-2]), shape[-1],
                                    self.max_wavelength, dt)
        return Tensor(np.broadcast_to(pe, shape), _copy=False)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["max_wavelength"] = self.max_wavelength
        return config


@register_layer
class TokenAndPositionEmbedding(Layer):
    """Token ids (batch, time) → token embedding + learned position embedding (batch, time, d).

    Weights (KerasHub order): ``token_embedding/embeddings`` (vocabulary_size, d),
    ``position_embedding/embeddings`` (sequence_length, d).  ``mask_zero=True``
    makes id 0 padding (the mask is passed on, as ``Embedding`` does).
    """

    rows_independent_at_inference = True

    def __init__(self, vocabulary_size, sequence_length, embedding_dim,
                 embeddings_initializer="uniform", mask_zero=False, **kwargs):
        super().__init__(**default_name(type(self), kwargs))
        owner = "TokenAndPositionEmbedding"
        self.vocabulary_size = _int(vocabulary_size, "vocabulary_size", owner)
        self.sequence_length = _int(sequence_length, "sequence_length", owner)
        self.embedding_dim = _int(embedding_dim, "embedding_dim", owner)
        self.embeddings_initializer = check_initializer(
            embeddings_initializer, "TokenAndPositionEmbedding.embeddings_initializer")
        self.mask_zero = bool(mask_zero)
        dtype = self.dtype.name
        self.token_embedding = Embedding(self.vocabulary_size, self.embedding_dim,
                                         embeddings_initializer=self.embeddings_initializer,
                                         mask_zero=self.mask_zero, dtype=dtype,
                                         name=f"{self.name}/token_embedding")
        self.position_embedding = PositionEmbedding(self.sequence_length,
                                                    initializer=self.embeddings_initializer,
                                                    dtype=dtype,
                                                    name=f"{self.name}/position_embedding")

    def build(self, input_shape):
        if self.built:
            return
        self.token_embedding.build(tuple(input_shape))
        self.position_embedding.build(tuple(input_shape) + (self.embedding_dim,))
        self.built = True

    def call(self, inputs, training=False, start_index=0, positions=None):
        tokens = self.token_embedding(inputs)
        return tokens + self.position_embedding(tokens, start_index=start_index,
                                                positions=positions)

    def compute_mask(self, inputs, mask=None):
        return self.token_embedding.compute_mask(inputs, mask)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape), self.embedding_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size, sequence_length=self.sequence_length,
            embedding_dim=self.embedding_dim,
            embeddings_initializer=serialize_initializer(
                self.embeddings_initializer, "TokenAndPositionEmbedding.embeddings_initializer"),
            mask_zero=self.mask_zero)
        return config
