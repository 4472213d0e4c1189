"""Core layers: Dense, Embedding, Activation, Flatten, Reshape, Concatenate.

``Dense`` is the seed's ``h = σ(W x + b)`` in row form, ``h = σ(x @ W + b)``
with ``W`` stored ``(in, out)`` as Keras stores it.  ``Embedding`` looks rows
up in a ``(input_dim, output_dim)`` table (a one-hot product done as a
gather; its gradient is a scatter-add).
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..autograd import Tensor, as_array
from . import regularizers
from ._utils import (
    as_ids,
    as_input,
    build_kernel_bias,
    check_initializer,
    check_known,
    check_last_dim,
    check_rank,
    contiguous,
    default_name,
    init_kernel_bias,
    kernel_bias_config,
    layer_desc,
    serialize_activation,
    serialize_initializer,
)
from .base import Layer
from .embedding_init import lookup_rows, prepare_pretrained
from .registry import register_layer

__all__ = ["Activation", "Concatenate", "Dense", "Embedding", "Flatten", "Masking", "Reshape"]


@register_layer
class Dense(Layer):
    """h = activation(x @ kernel + bias) on the last axis of an input of any rank ≥ 2.

    Weights (Keras order): ``kernel`` (in, units), ``bias`` (units,).
    """

    rows_independent_at_inference = True

    float_dtypes = ("float32", "float64")   # its ops run Numba kernels

    supports_masking = True

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 **kwargs):
        super().__init__(**default_name(type(self), kwargs))
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"Dense: units must be a positive integer, got {units!r}")
        self.units = int(units)
        init_kernel_bias(self, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer)

    def build(self, input_shape):
        if self.built:
            return
        input_shape = tuple(input_shape)
        check_rank(self, input_shape, 2, "(batch, ..., features)", at_least=True)
        features = check_known(self, input_shape, -1, "features")
        build_kernel_bias(self, (features, self.units), self.units)
        self.built = True

    def call(self, x, training=False, mask=None):
        x = as_input(self, x)
        check_rank(self, x, 2, "(batch, ..., features)", at_least=True)
        check_last_dim(self, x, self.kernel.shape[0])
        return F.dense(x, self.kernel, self.bias, activation=self.activation)

    def call_arrays(self, x):
        """Inference on a plain array (a Transformer block's fast path): :meth:`call`
        without the graph, the same numbers."""
        check_last_dim(self, x, self.kernel.shape[0])
        return F.dense_inference(x, as_array(self.kernel),
                                 None if self.bias is None else as_array(self.bias),
                                 activation=self.activation)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, **kernel_bias_config(self))
        return config


@register_layer
class Embedding(Layer):
    """Token ids (batch, ...) → vectors (batch, ..., output_dim): rows of ``embeddings``.

    ``weights=[matrix]`` starts from a pretrained ``(input_dim, output_dim)``
    matrix; ``trainable=False`` freezes it (no gradient is computed);
    :meth:`from_pretrained` builds the matrix from word vectors (scaled,
    normalised, OOV rows filled) and can freeze only the pretrained rows.
    ``mask_zero=True`` treats id 0 as padding: :meth:`compute_mask` returns
    ``ids != 0`` for the layers that follow (so ``input_dim`` must count it).
    ``sparse=True`` makes the table's gradient a :class:`RowSparseGrad`
    touching only the looked-up rows (``Parameter.sparse`` is set, so
    optimizers can update only those rows).

    ``frozen_rows`` (row indices or a boolean ``(input_dim,)`` mask) holds
    those rows fixed while the others train: the lookup gives them no
    gradient (PyTorch's ``padding_idx`` generalised to many rows), so with
    dense gradients they get a zero gradient and with ``sparse=True`` they
    are left out of the row-sparse gradient altogether.  Like ``padding_idx``
    it acts on the lookup's gradient only: an ``embeddings_regularizer`` or
    weight decay still moves frozen rows under a dense update (with
    ``sparse=True`` and a lazy optimizer, the default, they are never visited).
    """

    rows_independent_at_inference = True

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 mask_zero=False, input_length=None, weights=None, sparse=False,
                 embeddings_regularizer=None, frozen_rows=None, **kwargs):
        if input_length is not None and kwargs.get("input_shape") is None:
            kwargs["input_shape"] = (input_length,) if np.ndim(input_length) == 0 \
                else tuple(input_length)
        super().__init__(**default_name(type(self), kwargs))
        for arg, v in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"Embedding: {arg} must be a positive integer, got {v!r}")
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.embeddings_initializer = check_initializer(
            embeddings_initializer, "Embedding.embeddings_initializer")
        self.mask_zero = bool(mask_zero)
        self.input_length = input_length
        self.sparse = bool(sparse)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self._initial_weights = None
        if weights is not None:
            if isinstance(weights, (np.ndarray, Tensor)):
                weights = [weights]
            weights = list(weights)
            if len(weights) != 1:
                raise ValueError(
                    f"Embedding: weights must be a list holding one (input_dim, output_dim) "
                    f"matrix, got a list of {len(weights)}"
                )
            matrix = np.asarray(weights[0].data if isinstance(weights[0], Tensor) else weights[0])
            if matrix.shape != (self.input_dim, self.output_dim):
                raise ValueError(
                    f"Embedding: pretrained weights must have shape (input_dim, output_dim) = "
                    f"{(self.input_dim, self.output_dim)}, got {matrix.shape}"
                )
            self._initial_weights = matrix.astype(self.dtype)  # a copy
        self.embeddings = None
        self.frozen_rows = frozen_rows

    @property
    def frozen_rows(self):
        """Boolean ``(input_dim,)`` mask of the rows that get no gradient, or None."""
        return self._frozen_rows

    @frozen_rows.setter
    def frozen_rows(self, rows):
        mask = F.check_frozen_rows(rows, self.input_dim, op=f"{layer_desc(self)}")
        self._frozen_rows = None if mask is None or not mask.any() else mask

    @classmethod
    def from_pretrained(cls, embeddings, vocab=None, *, freeze=True, scale=None,
                        normalize=False, oov_init="init", pretrained_rows=None, pad_index=None,
                        lowercase=True, input_dim=None, **kwargs):
        """An Embedding starting from pretrained vectors.

        ``embeddings`` is a ``(V, D)`` matrix (as PyTorch's
        ``nn.Embedding.from_pretrained``) or word vectors (tinynlp's or gensim's
        ``KeyedVectors``) with ``vocab`` (a ``Tokenizer``, a ``Vocab``, a dict
        word → id or a list of words): row ``i`` is then the vector of the word
        numbered ``i``, and words the vectors lack are OOV rows.

        * ``freeze``: ``True`` / ``"all"`` (the table does not train),
          ``"pretrained"`` (only the pretrained rows and the padding row are
          frozen; OOV rows train — see ``frozen_rows``), ``False`` / ``"none"``.
        * ``scale``, ``normalize``, ``oov_init``: see
          :func:`tinynlp.layers.embedding_init.prepare_pretrained` (``normalize``
          makes pretrained rows unit length, then ``scale`` multiplies them —
          a number, or ``"init"`` to match the std of
          ``embeddings_initializer``; ``oov_init="init"`` draws OOV rows from
          ``embeddings_initializer``).
        * ``pretrained_rows``: for a matrix, which rows are pretrained
          (default all); ``pad_index``: the padding row, kept zero (default 0
          with a ``vocab``, none for a matrix); ``lowercase``: look a word up
          lower-cased when missing as written; ``input_dim``: more rows than
          the vocabulary has (the extra rows are OOV rows).

        Other keyword arguments go to the constructor (``mask_zero``,
        ``sparse``, ``embeddings_initializer``, ``name`` ...).
        """

        modes = {True: "all", "all": "all", "pretrained": "pretrained", False: "none",
                 "none": "none"}
        mode = modes.get(freeze) if isinstance(freeze, (bool, str)) else None
        if mode is None:
            raise ValueError(f"Embedding.from_pretrained: freeze must be True/'all', "
                             f"'pretrained' or False/'none', got {freeze!r}")
        if hasattr(embeddings, "key_to_index") and hasattr(embeddings, "vectors"):
            if vocab is None:
                raise ValueError("Embedding.from_pretrained: word vectors need a vocab "
                                 "(Tokenizer, Vocab, dict word→id or list of words)")
            if pretrained_rows is not None:
                raise ValueError("Embedding.from_pretrained: pretrained_rows is for a matrix; "
                                 "with word vectors the rows found in them are pretrained")
            pad_index = 0 if pad_index is None else pad_index
            matrix, found = lookup_rows(embeddings, vocab, lowercase=lowercase,
                                        pad_index=pad_index, op="Embedding.from_pretrained")
        else:
            if vocab is not None:
                raise ValueError("Embedding.from_pretrained: vocab is only for word vectors "
                                 "(KeyedVectors); a matrix's row i is already id i")
            matrix = np.asarray(embeddings.data if isinstance(embeddings, Tensor) else embeddings)
            found = (np.ones(len(matrix), dtype=bool) if pretrained_rows is None else
                     F.check_frozen_rows(pretrained_rows, len(matrix), name="pretrained_rows",
                                         op="Embedding.from_pretrained"))
        if matrix.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: expected a 2-D (vocab_size, dim) "
                             f"matrix, got shape {matrix.shape}")
        if input_dim is not None and input_dim != len(matrix):
            if input_dim < len(matrix):
                raise ValueError(f"Embedding.from_pretrained: input_dim={input_dim} is smaller "
                                 f"than the {len(matrix)} rows of the vocabulary")
            extra = input_dim - len(matrix)
            matrix = np.vstack([matrix, np.zeros((extra, matrix.shape[1]), matrix.dtype)])
            found = np.concatenate([found, np.zeros(extra, dtype=bool)])
        init = check_initializer(kwargs.get("embeddings_initializer", "uniform"),
                                 "Embedding.embeddings_initializer")
        table = prepare_pretrained(matrix, found, scale=scale, normalize=normalize,
                                   oov_init=oov_init, init=init, pad_index=pad_index,
                                   dtype=np.dtype(kwargs.get("dtype", "float32")))
        if mode == "all":
            kwargs["trainable"] = False
        elif mode == "pretrained":
            frozen = found.copy()
            if pad_index is not None:
                frozen[pad_index] = True
            kwargs["frozen_rows"] = frozen
        return cls(len(table), table.shape[1], weights=[table], **kwargs)

    def build(self, input_shape=None):
        if self.built:
            return
        init = self.embeddings_initializer
        if self._initial_weights is not None:
            matrix = self._initial_weights
            init = lambda shape, dtype: matrix.astype(dtype)
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim),
                                          contiguous(init),
                                          regularizer=self.embeddings_regularizer,
                                          sparse=self.sparse)
        self._initial_weights = None
        self.built = True

    def call(self, x, training=False):
        ids = as_ids(self, x)
        return F.embedding(ids, self.embeddings, sparse=self.sparse,
                           frozen_rows=self._frozen_rows)

    def compute_mask(self, x, mask=None):
        if not self.mask_zero:
            return None
        return as_ids(self, x) != 0

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape), self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            input_dim=self.input_dim, output_dim=self.output_dim,
            embeddings_initializer=serialize_initializer(
                self.embeddings_initializer, "Embedding.embeddings_initializer"),
            mask_zero=self.mask_zero,
            input_length=self.input_length if np.ndim(self.input_length) == 0
            else list(self.input_length),
            sparse=self.sparse,
            embeddings_regularizer=regularizers.serialize(self.embeddings_regularizer),
        )
        if self._frozen_rows is not None:
            config["frozen_rows"] = np.flatnonzero(self._frozen_rows).tolist()
        return config


@register_layer
class Masking(Layer):
    """Marks as padding every time step whose features all equal ``mask_value``.

        m_t = any_c(x_{t,c} ≠ mask_value),   y_t = m_t · x_t,   mask out = m

    (Keras' ``Masking``: masked steps come out as zeros, and the mask goes on to
    the layers after it — an RNN skips those steps.)  ``dL/dx_t = m_t · g_t``.
    """

    rows_independent_at_inference = True

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**default_name(type(self), kwargs))
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float, np.number)):
            raise ValueError(f"Masking: mask_value must be a number, got {mask_value!r}")
        self.mask_value = float(mask_value)

    def _keep(self, x):
        data = x.data if isinstance(x, Tensor) else np.asarray(x)
        if data.ndim < 3:
            raise ValueError(f"{layer_desc(self)}: expected (batch, time, features), got shape "
                             f"{data.shape}")
        return np.any(data != self.mask_value, axis=-1)

    def call(self, x, training=False, mask=None):
        x = as_input(self, x)
        keep = self._keep(x)
        return x * Tensor(keep[..., None].astype(x.dtype), _copy=False)

    def compute_mask(self, x, mask=None):
        keep = self._keep(x)
        if mask is not None:
            keep = keep & np.asarray(getattr(mask, "data", mask), dtype=bool)
        return keep

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["mask_value"] = self.mask_value
        return config


@register_layer
class Activation(Layer):
    """Applies an activation by name (``"relu"``, ``"softmax"``, ...) elementwise."""

    rows_independent_at_inference = True

    supports_masking = True

    def __init__(self, activation, **kwargs):
        super().__init__(**default_name(type(self), kwargs))
        self.activation = activation
        self._fn = F.get_activation(activation)

    def call(self, x, training=False, mask=None):
        return self._fn(as_input(self, x))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["activation"] = serialize_activation(self.activation, "Activation.activation")
        return config


@register_layer
class Flatten(Layer):
    """(batch, d1, d2, ...) → (batch, d1·d2·...)."""

    rows_independent_at_inference = True

    def __init__(self, **kwargs):
        super().__init__(**default_name(type(self), kwargs))

    def call(self, x, training=False):
        x = as_input(self, x)
        if x.ndim < 1:
            raise ValueError(f"{layer_desc(self)}: expected an input with a batch axis, "
                             f"got a scalar")
        return x.reshape((x.shape[0], int(np.prod(x.shape[1:], dtype=np.int64))))

    def compute_output_shape(self, input_shape):
        rest = tuple(input_shape)[1:]
        flat = None if any(d is None for d in rest) else int(np.prod(rest, dtype=np.int64))
        return (input_shape[0], flat)


def _resolve_shape(layer, target, size):
    """``target`` (with at most one -1) for ``size`` elements per sample."""
    target = list(target)
    if target.count(-1) > 1:
        raise ValueError(f"{layer_desc(layer)}: at most one -1 in target_shape, got {target}")
    if -1 in target:
        known = int(np.prod([d for d in target if d != -1], dtype=np.int64))
        if known == 0 or size % known:
            raise ValueError(
                f"{layer_desc(layer)}: cannot reshape {size} values per sample into {tuple(target)}"
            )
        target[target.index(-1)] = size // known
    if int(np.prod(target, dtype=np.int64)) != size:
        raise ValueError(
            f"{layer_desc(layer)}: cannot reshape {size} values per sample into "
            f"target_shape {tuple(target)}"
        )
    return tuple(target)


@register_layer
class Reshape(Layer):
    """(batch, ...) → (batch, *target_shape); one entry may be -1."""

    rows_independent_at_inference = True

    def __init__(self, target_shape, **kwargs):
        super().__init__(**default_name(type(self), kwargs))
        self.target_shape = tuple(int(d) for d in target_shape)

    def call(self, x, training=False):
        x = as_input(self, x)
        size = int(np.prod(x.shape[1:], dtype=np.int64))
        return x.reshape((x.shape[0], *_resolve_shape(self, self.target_shape, size)))

    def compute_output_shape(self, input_shape):
        rest = tuple(input_shape)[1:]
        if any(d is None for d in rest):
            return (input_shape[0], *(None if d == -1 else d for d in self.target_shape))
        return (input_shape[0],
                *_resolve_shape(self, self.target_shape, int(np.prod(rest, dtype=np.int64))))

    def get_config(self):
        config = super().get_config()
        config["target_shape"] = list(self.target_shape)
        return config


@register_layer
class Concatenate(Layer):
    """Joins a list of tensors along ``axis`` (all other axes must agree)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**default_name(type(self), kwargs))
        self.axis = int(axis)

    def __call__(self, inputs, training=False, mask=None, **kwargs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError(f"{layer_desc(self)}: expected a list of at least 2 tensors, "
                             f"got {type(inputs).__name__}")
        self.built = True
        return self.call(inputs, training=training)

    def call(self, inputs, training=False):
        xs = [as_input(self, x) for x in inputs]
        ranks = {x.ndim for x in xs}
        if len(ranks) != 1:
            raise ValueError(f"{layer_desc(self)}: inputs must have the same rank, got shapes "
                             f"{[tuple(x.shape) for x in xs]}")
        return F.concat(xs, axis=self.axis)

    def compute_output_shape(self, input_shapes):
        shapes = [list(s) for s in input_shapes]
        out = list(shapes[0])
        ax = self.axis % len(out)
        sizes = [s[ax] for s in shapes]
        out[ax] = None if any(d is None for d in sizes) else int(sum(sizes))
        return tuple(out)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config
