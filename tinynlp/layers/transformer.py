"""Transformer blocks with KerasHub's names, arguments, semantics and weight order.

An encoder block (post-LN, ``normalize_first=False``, as BERT and the 2017 paper)::

    x = LN₁(x + Dropout(MHA(x, x)))
    x = LN₂(x + Dropout(W₂ σ(W₁ x + b₁) + b₂))

With ``normalize_first=True`` (pre-LN, as GPT-2) each sub-block normalises
its input instead and the residual stream is left unnormalised::

    x = x + Dropout(MHA(LN₁(x), LN₁(x)))
    x = x + Dropout(FFN(LN₂(x)))

A decoder block is the same with causal self-attention (token t sees tokens
≤ t) and, when it is given an encoder sequence, a cross-attention sub-block
between the two (queries from the decoder, keys and values from the encoder).

Masks: a padding mask (B, T) (True = real token; e.g. propagated from
``Embedding(mask_zero=True)``) masks the *keys* — as KerasHub merges it — and
an attention mask (B, T, S) is ANDed in.  Padded positions still produce an
output (to be ignored, or masked in the loss).

The head size is ``hidden_dim // num_heads`` (hidden_dim = the input's last
axis).  Unlike KerasHub, which floors it, tinynlp requires hidden_dim to
divide by num_heads: a remainder would silently shrink the attention width.

Inference: under ``no_grad`` with dropout off, ``call`` runs the block on
plain arrays (``call_arrays``: the same ops' forwards through
``Function.run``, no Tensors or graph) — the same numbers without the
per-op bookkeeping, which dominated a decode step.

Incremental decoding (:class:`TransformerDecoder`): pass a
:class:`~tinynlp.layers.KVCache` from :meth:`TransformerDecoder.init_cache`
as ``self_attention_cache`` and feed the new token(s) only; the cache is
updated in place (and returned, as KerasHub returns its updated cache).  The
encoder's keys and values for cross-attention are computed once with
:meth:`TransformerDecoder.compute_cross_attention_cache`.  (KerasHub passes
a stacked (B, 2, S, H, d) tensor and an update index instead.)
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..autograd import Tensor, is_grad_enabled
from ..autograd.tensor import as_array
from ..kernels import decode
from ._utils import (
    as_input,
    check_initializer,
    check_rate,
    default_name,
    layer_desc,
    run_on_arrays,
    serialize_activation,
    serialize_initializer,
)
from .attention import MultiHeadAttention
from .base import Layer
from .core import Dense
from .dropout import Dropout
from .normalization import LayerNormalization
from .registry import register_layer

__all__ = ["TransformerDecoder", "TransformerEncoder"]


class _TransformerBlock(Layer):
    """What the encoder and the decoder share: arguments, checks, sub-layer factories."""

    float_dtypes = ("float32", "float64")   # its ops run Numba kernels

    supports_masking = True

    def __init__(self, intermediate_dim, num_heads, dropout=0.0, activation="relu",
                 layer_norm_epsilon=1e-5, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", normalize_first=False, **kwargs):
        super().__init__(**default_name(type(self), kwargs))
        owner = type(self).__name__
        for arg, v in (("intermediate_dim", intermediate_dim), ("num_heads", num_heads)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{owner}: {arg} must be a positive integer, got {v!r}")
        self.intermediate_dim = int(intermediate_dim)
        self.num_heads = int(num_heads)
        self.dropout = check_rate(dropout, "dropout", owner)
        self.activation = activation
        F.get_activation(activation)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.kernel_initializer = check_initializer(kernel_initializer,
                                                    f"{owner}.kernel_initializer")
        self.bias_initializer = check_initializer(bias_initializer, f"{owner}.bias_initializer")
        self.normalize_first = bool(normalize_first)

    def _head_dim(self, shape):
        if len(shape) != 3 or shape[-1] is None:
            raise ValueError(f"{layer_desc(self)}: expected (batch, time, hidden_dim) inputs with "
                             f"known hidden_dim, got shape {tuple(shape)}")
        hidden = int(shape[-1])
        if hidden % self.num_heads:
            raise ValueError(f"{layer_desc(self)}: hidden_dim {hidden} (the input's last axis) "
                             f"must divide by num_heads {self.num_heads}; the head size would be "
                             f"{hidden / self.num_heads:g}")
        return hidden, hidden // self.num_heads

    def _sub(self, name):
        return f"{self.name}/{name}"

    def _mha(self, name, head_dim):
        return MultiHeadAttention(self.num_heads, head_dim, dropout=self.dropout,
                                  kernel_initializer=self.kernel_initializer,
                                  bias_initializer=self.bias_initializer,
                                  dtype=self.dtype.name, name=self._sub(name))

    def _norm(self, name):
        return LayerNormalization(epsilon=self.layer_norm_epsilon, dtype=self.dtype.name,
                                  name=self._sub(name))

    def _drop(self, name):
        return Dropout(self.dropout, dtype=self.dtype.name, name=self._sub(name))

    def _dense(self, name, units, activation=None):
        return Dense(units, activation=activation, kernel_initializer=self.kernel_initializer,
                     bias_initializer=self.bias_initializer, dtype=self.dtype.name,
                     name=self._sub(name))

    def _feedforward(self, x, training):
        residual = x
        if self.normalize_first:
            x = self._feedforward_layer_norm(x)
        x = self._feedforward_output_dense(self._feedforward_intermediate_dense(x))
        x = self._feedforward_dropout(x, training=training) + residual
        if not self.normalize_first:
            x = self._feedforward_layer_norm(x)
        return x

    # ---- inference on plain arrays ------------------------------------------------------
    def _require_built(self, what):
        if not self.built:
            raise ValueError(f"{layer_desc(self)}.{what}: call the layer once (or build it) "
                             "first")

    def _use_arrays(self, training):
        """Whether this call can take the array path: no graph is being recorded and
        dropout is off (inference, or a rate of 0)."""
        return not is_grad_enabled() and (not training or self.dropout == 0.0)

    def _feedforward_arrays(self, x):
        """:meth:`_feedforward` on arrays (no dropout)."""
        residual = x
        if self.normalize_first:
            x = run_on_arrays(self._feedforward_layer_norm, x)
        x = run_on_arrays(self._feedforward_output_dense,
                          run_on_arrays(self._feedforward_intermediate_dense, x))
        x += residual
        if not self.normalize_first:
            x = run_on_arrays(self._feedforward_layer_norm, x)
        return x

    def _attention_arrays(self, attention, norm, x, **kwargs):
        """One attention sub-block on arrays: (pre-LN,) attention, residual (, post-LN)."""
        residual = x
        if self.normalize_first:
            x = run_on_arrays(norm, x)
        if "value" not in kwargs and kwargs.get("cache") is None:
            kwargs["value"] = x                           # self-attention: mha(x, x)
        y = run_on_arrays(attention, x, **kwargs)
        y += residual
        return y if self.normalize_first else run_on_arrays(norm, y)

    def compute_output_shape(self, input_shape, *args):
        return tuple(input_shape)

    def get_config(self):
        owner = type(self).__name__
        config = super().get_config()
        config.update(
            intermediate_dim=self.intermediate_dim, num_heads=self.num_heads,
            dropout=self.dropout,
            activation=serialize_activation(self.activation, f"{owner}.activation"),
            layer_norm_epsilon=self.layer_norm_epsilon,
            kernel_initializer=serialize_initializer(self.kernel_initializer,
                                                     f"{owner}.kernel_initializer"),
            bias_initializer=serialize_initializer(self.bias_initializer,
                                                   f"{owner}.bias_initializer"),
            normalize_first=self.normalize_first)
        return config


@register_layer
class TransformerEncoder(_TransformerBlock):
    """Self-attention + feed-forward block (see the module docstring); KerasHub's arguments.

    Called as ``encoder(x, padding_mask=None, attention_mask=None,
    return_attention_scores=False, training=False)``; a mask passed along by
    a model (``mask=``) is used as the padding mask.  Weights, KerasHub order:
    self-attention (8), its LayerNorm (2), the feed-forward LayerNorm (2),
    the intermediate Dense (2), the output Dense (2).  Constructor arguments:
    those of the shared block (``intermediate_dim, num_heads, dropout=0.0,
    activation="relu", layer_norm_epsilon=1e-5, ..., normalize_first=False``).
    """

    rows_independent_at_inference = True

    def build(self, input_shape):
        if self.built:
            return
        hidden, head_dim = self._head_dim(tuple(input_shape))
        # attribute order = weight order (KerasHub's)
        self._self_attention_layer = self._mha("self_attention_layer", head_dim)
        self._self_attention_layer.build(tuple(input_shape), tuple(input_shape))
        self._self_attention_layer_norm = self._norm("self_attention_layer_norm")
        self._self_attention_layer_norm.build(tuple(input_shape))
        self._self_attention_dropout = self._drop("self_attention_dropout")
        self._feedforward_layer_norm = self._norm("feedforward_layer_norm")
        self._feedforward_layer_norm.build(tuple(input_shape))
        self._feedforward_intermediate_dense = self._dense(
            "feedforward_intermediate_dense", self.intermediate_dim, self.activation)
        self._feedforward_intermediate_dense.build(tuple(input_shape))
        self._feedforward_output_dense = self._dense("feedforward_output_dense", hidden)
        self._feedforward_output_dense.build((None, None, self.intermediate_dim))
        self._feedforward_dropout = self._drop("feedforward_dropout")
        self.built = True

    def call(self, inputs, training=False, mask=None, padding_mask=None, attention_mask=None,
             return_attention_scores=False):
        x = inputs
        if padding_mask is None:
            padding_mask = mask
        if self._use_arrays(training) and not return_attention_scores:
            return Tensor(self.call_arrays(as_input(self, x).data, padding_mask, attention_mask),
                          _copy=False)
        residual = x
        if self.normalize_first:
            x = self._self_attention_layer_norm(x)
        out = self._self_attention_layer(x, x, value_mask=padding_mask,
                                         attention_mask=attention_mask, training=training,
                                         return_attention_scores=return_attention_scores)
        x, scores = out if return_attention_scores else (out, None)
        x = self._self_attention_dropout(x, training=training) + residual
        if not self.normalize_first:
            x = self._self_attention_layer_norm(x)
        x = self._feedforward(x, training)
        return (x, scores) if return_attention_scores else x

    def call_arrays(self, x, padding_mask=None, attention_mask=None):
        """Inference on a plain array (B, T, d): :meth:`call` without dropout and without
        the graph — the same numbers; what ``call`` runs under ``no_grad``."""
        self._require_built("call_arrays")
        x = self._attention_arrays(self._self_attention_layer, self._self_attention_layer_norm,
                                   x, value_mask=padding_mask, attention_mask=attention_mask)
        return self._feedforward_arrays(x)


@register_layer
class TransformerDecoder(_TransformerBlock):
    """Causal self-attention (+ cross-attention) + feed-forward block; KerasHub's arguments.

    Called as ``decoder(decoder_sequence, encoder_sequence=None,
    decoder_padding_mask=None, decoder_attention_mask=None,
    encoder_padding_mask=None, encoder_attention_mask=None,
    self_attention_cache=None, cross_attention_cache=None, use_causal_mask=True,
    training=False)``.  Whether it has cross-attention is fixed by the first
    call (with or without an encoder sequence).  Returns the output, or with a
    self-attention cache ``(output, self_attention_cache)`` — plus the
    cross-attention cache when the block has cross-attention.

    Weights, KerasHub order: self-attention (8), its LayerNorm (2),
    [cross-attention (8), its LayerNorm (2)], the intermediate Dense (2), the
    output Dense (2), the feed-forward LayerNorm (2).
    """

    rows_independent_at_inference = True

    def __init__(self, intermediate_dim, num_heads, dropout=0.0, activation="relu",
                 layer_norm_epsilon=1e-5, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", normalize_first=False, **kwargs):
        super().__init__(intermediate_dim, num_heads, dropout, activation, layer_norm_epsilon,
                         kernel_initializer, bias_initializer, normalize_first, **kwargs)
        self._has_cross_attention = None

    def build(self, decoder_sequence_shape, encoder_sequence_shape=None):
        if self.built:
            return
        dshape = tuple(decoder_sequence_shape)
        hidden, head_dim = self._head_dim(dshape)
        self._self_attention_layer = self._mha("self_attention", head_dim)
        self._self_attention_layer.build(dshape, dshape)
        self._self_attention_layer_norm = self._norm("self_attention_layer_norm")
        self._self_attention_layer_norm.build(dshape)
        self._self_attention_dropout = self._drop("self_attention_dropout")
        self._has_cross_attention = encoder_sequence_shape is not None
        if self._has_cross_attention:
            eshape = tuple(encoder_sequence_shape)
            if len(eshape) != 3 or eshape[-1] is None:
                raise ValueError(f"{layer_desc(self)}: expected an encoder sequence (batch, "
                                 f"time, features), got shape {eshape}")
            self._cross_attention_layer = self._mha("cross_attention", head_dim)
            self._cross_attention_layer.build(dshape, eshape)
            self._cross_attention_layer_norm = self._norm("cross_attention_layer_norm")
            self._cross_attention_layer_norm.build(dshape)
            self._cross_attention_dropout = self._drop("cross_attention_dropout")
        self._feedforward_intermediate_dense = self._dense(
            "feedforward_intermediate_dense", self.intermediate_dim, self.activation)
        self._feedforward_intermediate_dense.build(dshape)
        self._feedforward_output_dense = self._dense("feedforward_output_dense", hidden)
        self._feedforward_output_dense.build((None, None, self.intermediate_dim))
        self._feedforward_layer_norm = self._norm("feedforward_layer_norm")
        self._feedforward_layer_norm.build(dshape)
        self._feedforward_dropout = self._drop("feedforward_dropout")
        self.built = True

    # ---- caches -------------------------------------------------------------------------
    def init_cache(self, batch_size, capacity, dtype=None):
        """An empty self-attention :class:`~tinynlp.layers.KVCache` for ``capacity`` tokens."""
        self._require_built("init_cache")
        return self._self_attention_layer.init_cache(batch_size, capacity, dtype)

    def compute_cross_attention_cache(self, encoder_sequence, encoder_padding_mask=None):
        """The cross-attention keys and values of ``encoder_sequence``, computed once (a
        static :class:`~tinynlp.layers.KVCache`; ``.reorder`` it with the beams)."""
        self._require_built("compute_cross_attention_cache")
        if not self._has_cross_attention:
            raise ValueError(f"{layer_desc(self)}: this decoder was built without "
                             "cross-attention (first called without an encoder sequence)")
        return self._cross_attention_layer.compute_cache(encoder_sequence,
                                                         value_mask=encoder_padding_mask)

    # ---- calling ----------------------------------------------------------------------
    def __call__(self, decoder_sequence, encoder_sequence=None, decoder_padding_mask=None,
                 decoder_attention_mask=None, encoder_padding_mask=None,
                 encoder_attention_mask=None, self_attention_cache=None,
                 cross_attention_cache=None, use_causal_mask=True, training=False, mask=None):
        if not self.built:
            shape = lambda a: tuple(np.shape(getattr(a, "data", a)))
            self.build(shape(decoder_sequence),
                       None if encoder_sequence is None else shape(encoder_sequence))
        has_encoder = encoder_sequence is not None or cross_attention_cache is not None
        if has_encoder and not self._has_cross_attention:
            raise ValueError(f"{layer_desc(self)}: built without cross-attention (first called "
                             "with the decoder sequence only) but now given an encoder sequence")
        if self._has_cross_attention and not has_encoder:
            raise ValueError(f"{layer_desc(self)}: built with cross-attention; call it with the "
                             "encoder sequence (or a cross_attention_cache) as well")
        if decoder_padding_mask is None:
            decoder_padding_mask = mask
        return self.call(decoder_sequence, encoder_sequence, decoder_padding_mask,
                         decoder_attention_mask, encoder_padding_mask, encoder_attention_mask,
                         self_attention_cache, cross_attention_cache, use_causal_mask,
                         training)

    def call(self, decoder_sequence, encoder_sequence=None, decoder_padding_mask=None,
             decoder_attention_mask=None, encoder_padding_mask=None,
             encoder_attention_mask=None, self_attention_cache=None,
             cross_attention_cache=None, use_causal_mask=True, training=False):
        if self._use_arrays(training):
            x = Tensor(self.call_arrays(
                as_input(self, decoder_sequence).data,
                None if encoder_sequence is None else as_input(self, encoder_sequence).data,
                decoder_padding_mask, decoder_attention_mask, encoder_padding_mask,
                encoder_attention_mask, self_attention_cache, cross_attention_cache,
                use_causal_mask), _copy=False)
            return self._with_caches(x, self_attention_cache, cross_attention_cache)
        x = decoder_sequence
        residual = x
        if self.normalize_first:
            x = self._self_attention_layer_norm(x)
        x = self._self_attention_layer(x, x, value_mask=decoder_padding_mask,
                                       attention_mask=decoder_attention_mask,
                                       use_causal_mask=use_causal_mask, training=training,
                                       cache=self_attention_cache)
        x = self._self_attention_dropout(x, training=training) + residual
        if not self.normalize_first:
            x = self._self_attention_layer_norm(x)

        if self._has_cross_attention:
            residual = x
            if self.normalize_first:
                x = self._cross_attention_layer_norm(x)
            if cross_attention_cache is not None:
                x = self._cross_attention_layer(x, None, attention_mask=encoder_attention_mask,
                                                training=training, cache=cross_attention_cache)
            else:
                x = self._cross_attention_layer(x, encoder_sequence,
                                                value_mask=encoder_padding_mask,
                                                attention_mask=encoder_attention_mask,
                                                training=training)
            x = self._cross_attention_dropout(x, training=training) + residual
            if not self.normalize_first:
                x = self._cross_attention_layer_norm(x)

        x = self._feedforward(x, training)
        return self._with_caches(x, self_attention_cache, cross_attention_cache)

    def _with_caches(self, x, self_attention_cache, cross_attention_cache):
        if self_attention_cache is None:
            return x
        if self._has_cross_attention:
            return x, self_attention_cache, cross_attention_cache
        return x, self_attention_cache

    def call_arrays(self, decoder_sequence, encoder_sequence=None, decoder_padding_mask=None,
                    decoder_attention_mask=None, encoder_padding_mask=None,
                    encoder_attention_mask=None, self_attention_cache=None,
                    cross_attention_cache=None, use_causal_mask=True):
        """Inference on plain arrays: :meth:`call` without dropout and without the graph —
        the same numbers; what ``call`` runs under ``no_grad``.  Returns the output
        array; a cache passed in is updated in place."""
        self._require_built("call_arrays")
        if decoder_attention_mask is None and encoder_sequence is None and \
                encoder_attention_mask is None:
            fused = self._decode_step_arrays(decoder_sequence, decoder_padding_mask,
                                             self_attention_cache, cross_attention_cache)
            if fused is not None:
                return fused
        x = self._attention_arrays(
            self._self_attention_layer, self._self_attention_layer_norm, decoder_sequence,
            value_mask=decoder_padding_mask, attention_mask=decoder_attention_mask,
            use_causal_mask=use_causal_mask, cache=self_attention_cache)
        if self._has_cross_attention:
            if cross_attention_cache is not None:
                kw = dict(attention_mask=encoder_attention_mask, cache=cross_attention_cache)
            else:
                kw = dict(value=encoder_sequence, value_mask=encoder_padding_mask,
                          attention_mask=encoder_attention_mask)
            x = self._attention_arrays(self._cross_attention_layer,
                                       self._cross_attention_layer_norm, x, **kw)
        return self._feedforward_arrays(x)

    def get_config(self):
        return super().get_config()

    # ---- one decoding step in one pass -------------------------------------------------
    def _decode_step_arrays(self, x, padding_mask, cache, cross_cache=None):
        """:meth:`call_arrays` for one new token per row after the tokens in a
        self-attention ``cache`` (and, with cross-attention, the encoder's static
        ``cross_cache``), in one compiled pass (:func:`kernels.decode.decoder_step`: the
        same arithmetic), or None when this is not the block that kernel computes —
        pre-LN, a gelu or relu feed-forward, the plain sub-layers — or when the batch has
        more rows than the kernel is faster for (:data:`kernels.decode.MAX_ROWS`)."""
        act = {"gelu": decode.GELU, "relu": decode.RELU}.get(self.activation) \
            if isinstance(self.activation, str) else None
        D = x.shape[-1]
        if (act is None or not self.normalize_first or not _plain_attention(
                self._self_attention_layer, self._self_attention_layer_norm, D)
                or not _plain_dense(self._feedforward_intermediate_dense)
                or not _plain_dense(self._feedforward_output_dense)
                or self._feedforward_output_dense.activation is not None
                or not _plain_norm(self._feedforward_layer_norm)
                or cache is None or cache.static or cache.length >= cache.capacity
                or x.ndim != 3 or x.shape[1] != 1 or x.shape[0] > decode.MAX_ROWS
                or x.dtype not in (np.float32, np.float64)
                or cache.keys.dtype != x.dtype or cache.batch_size != x.shape[0]):
            return None
        cross = None
        if self._has_cross_attention:
            if (cross_cache is None or not cross_cache.static
                    or cross_cache.keys.dtype != x.dtype
                    or cross_cache.batch_size != x.shape[0] or not _plain_attention(
                        self._cross_attention_layer, self._cross_attention_layer_norm, D)):
                return None
            mha = self._cross_attention_layer
            k, v, m = cross_cache.view()
            cross = (_norm_arrays(self._cross_attention_layer_norm, D),
                     (*_flat(mha.query_kernel, mha.query_bias),
                      *_flat(mha.output_kernel, mha.output_bias, heads_first=True)),
                     (k, v, np.ascontiguousarray(m)))
        B = x.shape[0]
        pad = None if padding_mask is None else np.asarray(padding_mask, dtype=bool)
        if pad is not None and pad.shape != (B, 1):
            return None
        t = cache.length
        cache.mask[:, t] = True if pad is None else pad[:, 0]
        y = decode.decoder_step(
            np.ascontiguousarray(x[:, 0]), _norm_arrays(self._self_attention_layer_norm, D),
            _projections(self._self_attention_layer), (cache.keys, cache.values, cache.mask),
            t, cross,
            _norm_arrays(self._feedforward_layer_norm, D),
            (*_dense_arrays(self._feedforward_intermediate_dense),
             *_dense_arrays(self._feedforward_output_dense)), act)
        cache.length = t + 1
        return y[:, None, :]


def _plain_attention(mha, norm, D):
    """A MultiHeadAttention and its LayerNorm as the decoding kernel computes them."""
    return type(mha) is MultiHeadAttention and mha._out == (D,) and _plain_norm(norm)


def _plain_norm(norm):
    return type(norm) is LayerNormalization and norm.axis in (-1, 2)


def _plain_dense(layer):
    return type(layer) is Dense


def _norm_arrays(ln, D):
    """γ, β (ones / zeros where the layer has none) and ε of a LayerNormalization."""
    dt = ln.dtype
    gamma = np.ones(D, dt) if ln.gamma is None else as_array(ln.gamma)
    beta = np.zeros(D, dt) if ln.beta is None else as_array(ln.beta)
    return gamma, beta, ln.epsilon


def _dense_arrays(layer):
    """W (in, out) and b (zeros when the layer has none) of a Dense."""
    W = as_array(layer.kernel)
    return W, (np.zeros(W.shape[1], W.dtype) if layer.bias is None else as_array(layer.bias))


def _flat(W, b, heads_first=False):
    """A projection's kernel as a matrix — (in, H·d) for q, k, v; (H·d, out) for the output
    (``heads_first``) — and its bias flat (zeros when the layer has none)."""
    W = as_array(W)
    W = W.reshape(-1, W.shape[-1]) if heads_first else W.reshape(W.shape[0], -1)
    return W, (np.zeros(W.shape[1], W.dtype) if b is None else as_array(b).reshape(-1))


def _projections(mha):
    """(W_q, b_q, W_k, b_k, W_v, b_v, W_o, b_o) of a MultiHeadAttention, the heads flattened."""
    return (*_flat(mha.query_kernel, mha.query_bias), *_flat(mha.key_kernel, mha.key_bias),
            *_flat(mha.value_kernel, mha.value_bias),
            *_flat(mha.output_kernel, mha.output_bias, heads_first=True))
