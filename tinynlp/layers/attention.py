"""MultiHeadAttention (Keras 3's names, arguments and weight layout) and its KV cache.

For a query sequence x_q (B, T, d_q) and a key/value sequence x_k, x_v (B, S, ·),
with H heads of size d_k (keys) and d_v (values)::

    Q_h = x_q W_h^Q + b_h^Q,   K_h = x_k W_h^K + b_h^K,   V_h = x_v W_h^V + b_h^V
    O_h = softmax(Q_h K_hᵀ / √d_k + M) V_h                 (F.scaled_dot_product_attention)
    y   = Σ_h O_h W_h^O + b^O

The weights are stored as Keras stores them, so ``keras_mha.get_weights()``
copies straight in: ``query/kernel`` (d_q, H, d_k), ``query/bias`` (H, d_k),
``key/…`` likewise, ``value/kernel`` (d_v_in, H, d_v), ``value/bias`` (H, d_v),
``attention_output/kernel`` (H, d_v, d_out), ``attention_output/bias`` (d_out,).
A (d, H, d_k) kernel *is* a (d, H·d_k) matrix, so each projection is one GEMM
over all heads; the heads are a reshape to (B, H, T, d_k), and attention runs
head-batched on that layout.

Masks, as Keras combines them: a ``query_mask`` (B, T), a ``value_mask`` /
``key_mask`` (B, S) (e.g. from ``Embedding(mask_zero=True)``), an
``attention_mask`` (B, T, S) (True / 1 = may attend) and
``use_causal_mask=True`` are ANDed together.  A padded query (every key
masked) gets a zero attention vector, so its output is the output bias
(Keras gives the same or a uniform average over the keys, depending on its
code path — compare only real positions).

Incremental decoding: a :class:`KVCache` holds the projected keys and values
of the tokens seen so far, preallocated (B, H, capacity, d).  Called with
``cache=``, the layer projects only the new tokens, appends their keys and
values, and attends over the cache — one step costs O(length · d), not a
recomputation of the prefix.  Caches hold plain arrays: they are for
inference (no gradient flows into earlier steps).
"""

from __future__ import annotations

import numpy as np

from ..autograd import no_grad
from .. import functional as F
from ..autograd import Tensor, as_array
from ..autograd.ops import reshape, transpose
from . import regularizers
from ._utils import (
    as_input,
    check_initializer,
    check_rate,
    contiguous,
    default_name,
    layer_desc,
    serialize_initializer,
)
from .base import Layer
from .registry import register_layer

__all__ = ["KVCache", "MultiHeadAttention"]


class KVCache:
    """Preallocated keys (B, H, capacity, d_k), values (B, H, capacity, d_v) and key
    padding mask (B, capacity) of one attention layer; the first ``length`` slots are used.

    A *static* cache (``static=True``, e.g. the encoder's keys and values for
    cross-attention, from :meth:`MultiHeadAttention.compute_cache`) is read,
    never appended to.  :meth:`reorder` selects batch rows (beam search).
    """

    def __init__(self, batch_size, num_heads, capacity, key_dim, value_dim=None,
                 dtype="float32"):
        for arg, n in (("batch_size", batch_size), ("num_heads", num_heads),
                       ("capacity", capacity), ("key_dim", key_dim)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"KVCache: {arg} must be a positive integer, got {n!r}")
        value_dim = key_dim if value_dim is None else value_dim
        dtype = np.dtype(dtype)
        self.keys = np.zeros((batch_size, num_heads, capacity, key_dim), dtype=dtype)
        self.values = np.zeros((batch_size, num_heads, capacity, value_dim), dtype=dtype)
        self.mask = np.ones((batch_size, capacity), dtype=bool)
        self.length = 0
        self.static = False

    @classmethod
    def from_arrays(cls, keys, values, mask=None, static=True):
        """A full cache holding ``keys`` (B, H, S, d_k) and ``values`` (B, H, S, d_v)."""
        keys, values = np.asarray(keys), np.asarray(values)
        if keys.ndim != 4 or values.ndim != 4 or keys.shape[:3] != values.shape[:3]:
            raise ValueError(f"KVCache.from_arrays: keys and values must be (B, H, S, d) with "
                             f"the same B, H, S; got {keys.shape} and {values.shape}")
        cache = cls.__new__(cls)
        cache.keys = np.ascontiguousarray(keys)
        cache.values = np.ascontiguousarray(values)
        B, _, S, _ = keys.shape
        cache.mask = np.ones((B, S), bool) if mask is None else np.array(mask, dtype=bool)
        if cache.mask.shape != (B, S):
            raise ValueError(f"KVCache.from_arrays: mask must have shape (batch, keys) = "
                             f"{(B, S)}, got {cache.mask.shape}")
        cache.length = S
        cache.static = bool(static)
        return cache

    @property
    def capacity(self) -> int:
        return self.keys.shape[2]

    @property
    def batch_size(self) -> int:
        return self.keys.shape[0]

    def append(self, keys, values, mask=None):
        """Write the new tokens' keys (B, H, T, d_k), values and (B, T) mask after the
        first ``length`` slots."""
        if self.static:
            raise ValueError("KVCache.append: this cache is static (precomputed cross-attention "
                             "keys and values); it cannot be appended to")
        T = keys.shape[2]
        if keys.shape[:2] != self.keys.shape[:2] or keys.shape[3] != self.keys.shape[3] \
                or values.shape[:3] != keys.shape[:3] or values.shape[3] != self.values.shape[3]:
            raise ValueError(f"KVCache.append: expected keys (B, H, T, d_k) = "
                             f"{self.keys.shape[:2] + ('T', self.keys.shape[3])} and matching "
                             f"values, got {keys.shape} and {values.shape}")
        if self.length + T > self.capacity:
            raise ValueError(f"KVCache.append: {T} new token(s) after {self.length} cached do "
                             f"not fit the capacity {self.capacity}")
        end = self.length + T
        self.keys[:, :, self.length:end] = keys
        self.values[:, :, self.length:end] = values
        self.mask[:, self.length:end] = True if mask is None else np.asarray(mask, dtype=bool)
        self.length = end

    def view(self):
        """(keys, values, mask) of the filled part: views, no copy."""
        n = self.length
        return self.keys[:, :, :n], self.values[:, :, :n], self.mask[:, :n]

    def reorder(self, indices):
        """Keep batch rows ``indices`` (may repeat: beam search); returns self."""
        idx = np.asarray(indices, dtype=np.int64)
        self.keys = self.keys[idx]
        self.values = self.values[idx]
        self.mask = self.mask[idx]
        return self

    def reset(self):
        """Forget the cached tokens (the arrays are kept for reuse)."""
        if self.static:
            raise ValueError("KVCache.reset: a static cache cannot be reset")
        self.length = 0
        self.mask[:] = True

    def __repr__(self):
        kind = "static " if self.static else ""
        return (f"<{kind}KVCache {self.length}/{self.capacity} tokens, batch "
                f"{self.keys.shape[0]}, {self.keys.shape[1]} heads>")


def _positive_int(value, arg):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"MultiHeadAttention: {arg} must be a positive integer, got {value!r}")
    return int(value)


def _as_bool_mask(layer, mask, name, shape):
    """A bool ndarray from a bool / 0-1 mask broadcastable to ``shape``, or None."""
    if mask is None:
        return None
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != bool:
        if m.dtype.kind not in "biuf" or not np.isin(m, (0, 1)).all():
            raise ValueError(f"{layer_desc(layer)}: {name} must be boolean (or 0/1), got dtype "
                             f"{m.dtype}")
        m = m.astype(bool)
    try:
        ok = np.broadcast_shapes(m.shape, shape) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{layer_desc(layer)}: {name} must have shape {tuple(shape)} (or "
                         f"broadcast to it), got {m.shape}")
    return m


@register_layer
class MultiHeadAttention(Layer):
    """Multi-head attention, Keras 3: ``mha(query, value, key=None, ...)``; see the module doc.

    ``output_shape``: the last axes of the output (an int or a tuple);
    default the query's feature size.  ``dropout`` is applied to the
    attention weights while training.  ``attention_axes`` other than None
    (attention over the time axis of (B, T, d) inputs) is not supported.
    """

    float_dtypes = ("float32", "float64")   # its ops run Numba kernels

    supports_masking = True

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 seed=None, **kwargs):
        super().__init__(**default_name(type(self), kwargs))
        self.num_heads = _positive_int(num_heads, "num_heads")
        self.key_dim = _positive_int(key_dim, "key_dim")
        self.value_dim = self.key_dim if value_dim is None else _positive_int(value_dim,
                                                                             "value_dim")
        self.dropout = check_rate(dropout, "dropout", "MultiHeadAttention")
        self.use_bias = bool(use_bias)
        if output_shape is not None:
            output_shape = (output_shape,) if np.ndim(output_shape) == 0 else tuple(output_shape)
            output_shape = tuple(_positive_int(n, "output_shape") for n in output_shape)
        self.output_shape_arg = output_shape
        if attention_axes is not None and tuple(np.atleast_1d(attention_axes)) not in ((1,),):
            raise ValueError(f"MultiHeadAttention: only attention over the time axis of "
                             f"(batch, time, features) inputs is supported "
                             f"(attention_axes=None), got {attention_axes!r}")
        self.kernel_initializer = check_initializer(kernel_initializer,
                                                    "MultiHeadAttention.kernel_initializer")
        self.bias_initializer = check_initializer(bias_initializer,
                                                  "MultiHeadAttention.bias_initializer")
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.seed = None if seed is None else int(seed)
        self._rng_seed = None if seed is None else np.random.default_rng(self.seed)
        self.query_kernel = self.query_bias = self.key_kernel = self.key_bias = None
        self.value_kernel = self.value_bias = self.output_kernel = self.output_bias = None

    # ---- weights ------------------------------------------------------------------
    def build(self, query_shape, value_shape=None, key_shape=None):
        if self.built:
            return
        value_shape = query_shape if value_shape is None else value_shape
        key_shape = value_shape if key_shape is None else key_shape
        for name, s in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(s) != 3 or s[-1] is None:
                raise ValueError(f"{layer_desc(self)}: {name} must be (batch, time, features) "
                                 f"with known features, got shape {tuple(s)}")
        H, dk, dv = self.num_heads, self.key_dim, self.value_dim
        out = self.output_shape_arg or (int(query_shape[-1]),)
        kinit, binit = contiguous(self.kernel_initializer), contiguous(self.bias_initializer)

        def kernel(name, shape):
            return self.add_weight(name, shape, kinit, regularizer=self.kernel_regularizer)

        def bias(name, shape):
            if not self.use_bias:
                return None
            return self.add_weight(name, shape, binit, regularizer=self.bias_regularizer)

        self.query_kernel = kernel("query/kernel", (int(query_shape[-1]), H, dk))
        self.query_bias = bias("query/bias", (H, dk))
        self.key_kernel = kernel("key/kernel", (int(key_shape[-1]), H, dk))
        self.key_bias = bias("key/bias", (H, dk))
        self.value_kernel = kernel("value/kernel", (int(value_shape[-1]), H, dv))
        self.value_bias = bias("value/bias", (H, dv))
        self.output_kernel = kernel("attention_output/kernel", (H, dv, *out))
        self.output_bias = bias("attention_output/bias", tuple(out))
        self._out = tuple(out)
        self.built = True

    # ---- the projections --------------------------------------------------------------
    def _heads(self, x, W, b, dim, arrays=False):
        """(B, T, d) → (B, H, T, dim): one GEMM over all heads, then a reshape — on
        Tensors, or with ``arrays=True`` on plain arrays (the inference path)."""
        B, T, d = x.shape
        H = self.num_heads
        if d != W.shape[0]:
            raise ValueError(f"{layer_desc(self)}: built for {W.shape[0]} input features "
                             f"here, got an input of shape {tuple(x.shape)}")
        if arrays:
            y = F.dense_inference(x, as_array(W).reshape(d, H * dim),
                                  None if b is None else as_array(b).reshape(H * dim))
            return y.reshape(B, T, H, dim).transpose(0, 2, 1, 3)
        y = F.dense(x, reshape(W, (d, H * dim)), None if b is None else reshape(b, (H * dim,)))
        return transpose(reshape(y, (B, T, H, dim)), (0, 2, 1, 3))

    def _project_out(self, o, arrays=False):
        """(B, H, T, d_v) → (B, T, *output_shape) — Tensors, or plain arrays with
        ``arrays=True`` (the inference path)."""
        B, H, T, dv = o.shape
        n_out = int(np.prod(self._out))
        if arrays:
            y = F.dense_inference(o.transpose(0, 2, 1, 3).reshape(B, T, H * dv),
                                  as_array(self.output_kernel).reshape(H * dv, n_out),
                                  None if self.output_bias is None else
                                  as_array(self.output_bias).reshape(n_out))
            return y.reshape(B, T, *self._out)
        o = reshape(transpose(o, (0, 2, 1, 3)), (B, T, H * dv))
        y = F.dense(o, reshape(self.output_kernel, (H * dv, n_out)),
                    None if self.output_bias is None else reshape(self.output_bias, (n_out,)))
        return y if len(self._out) == 1 else reshape(y, (B, T, *self._out))

    # ---- caches -------------------------------------------------------------------------
    def init_cache(self, batch_size, capacity, dtype=None) -> KVCache:
        """An empty :class:`KVCache` for self-attention decoding of up to ``capacity`` tokens."""
        self._require_built("init_cache")
        return KVCache(batch_size, self.num_heads, capacity, self.key_dim, self.value_dim,
                       dtype=dtype or self.dtype)

    def compute_cache(self, value, key=None, value_mask=None) -> KVCache:
        """The projected keys and values of a fixed sequence (the encoder's, for
        cross-attention) as a static :class:`KVCache`, computed once."""
        self._require_built("compute_cache")
        value = as_input(self, value)
        key = value if key is None else as_input(self, key)
        with no_grad():
            k = self._heads(key, self.key_kernel, self.key_bias, self.key_dim)
            v = self._heads(value, self.value_kernel, self.value_bias, self.value_dim)
        mask = _as_bool_mask(self, value_mask, "value_mask", value.shape[:2])
        mask = None if mask is None else np.broadcast_to(mask, value.shape[:2])
        return KVCache.from_arrays(k.data, v.data, mask=mask, static=True)

    def _require_built(self, what):
        if not self.built:
            raise ValueError(f"{layer_desc(self)}.{what}: the layer has no weights yet; call "
                             "it once (or build it) first")

    # ---- calling ----------------------------------------------------------------------
    def __call__(self, query, value=None, key=None, query_mask=None, value_mask=None,
                 key_mask=None, attention_mask=None, return_attention_scores=False,
                 training=False, use_causal_mask=False, cache=None, mask=None):
        """See the class and module docstrings.  ``mask`` (what a model passes along):
        a query mask, or a list ``[query_mask, value_mask(, key_mask)]``."""
        if mask is not None:
            masks = list(mask) if isinstance(mask, (list, tuple)) else [mask]
            masks += [None] * (3 - len(masks))
            query_mask = masks[0] if query_mask is None else query_mask
            value_mask = masks[1] if value_mask is None else value_mask
            key_mask = masks[2] if key_mask is None else key_mask
        static = cache is not None and cache.static
        if value is None and not static:
            if cache is not None:
                value = query
            else:
                raise TypeError(f"{layer_desc(self)}: missing the value argument "
                                "(self-attention is mha(x, x))")
        if not self.built:
            if static:
                raise ValueError(f"{layer_desc(self)}: build the layer (call it once) before "
                                 "using a precomputed cache")
            shape = lambda a: tuple(np.shape(getattr(a, "data", a)))
            self.build(shape(query), shape(value), None if key is None else shape(key))
        return self.call(query, value, key, query_mask, value_mask, key_mask, attention_mask,
                         return_attention_scores, training, use_causal_mask, cache)

    def _check_key_value(self, B, value, key):
        """Key and value (B, S, ·) with the query's batch and one length; returns S."""
        for name, a in (("value", value), ("key", key)):
            if a.ndim != 3 or a.shape[0] != B:
                raise ValueError(f"{layer_desc(self)}: {name} must be (batch, time, "
                                 f"features) with the query's batch {B}, got shape "
                                 f"{tuple(a.shape)}")
        if key.shape[1] != value.shape[1]:
            raise ValueError(f"{layer_desc(self)}: key and value must have the same length, "
                             f"got {tuple(key.shape)} and {tuple(value.shape)}")
        return value.shape[1]

    def _keys_values(self, B, value, key, value_mask, key_mask, cache, arrays):
        """``(k, v, key_pad, offset)``: the projected keys and values (B, H, S, d) —
        Tensors, or arrays with ``arrays=True`` (:meth:`_heads`) — or a cache's after
        appending them, the (B, S) real-key mask, and the number of cached tokens
        before the new ones (a static cache: its own keys and values, offset 0)."""
        if cache is not None and cache.static:
            k, v, key_pad = cache.view()
            return k, v, key_pad, 0
        S = self._check_key_value(B, value, key)
        k = self._heads(key, self.key_kernel, self.key_bias, self.key_dim, arrays)
        v = self._heads(value, self.value_kernel, self.value_bias, self.value_dim, arrays)
        key_pad = self._key_padding(B, S, value_mask, key_mask)
        if cache is None:
            return k, v, key_pad, 0
        offset = cache.length
        cache.append(as_array(k), as_array(v), key_pad)
        k, v, key_pad = cache.view()
        return k, v, key_pad, offset

    def _key_padding(self, B, S, value_mask, key_mask):
        """The (B, S) "real key" mask of the new keys (value_mask ∧ key_mask), or None."""
        pad = None
        for name, m in (("value_mask", value_mask), ("key_mask", key_mask)):
            m = _as_bool_mask(self, m, name, (B, S))
            if m is not None:
                m = np.broadcast_to(m, (B, S))
                pad = m if pad is None else pad & m
        return pad

    def _allowed(self, B, T, S, query_mask, key_pad, attention_mask, use_causal_mask, offset):
        """``(allowed, causal_plain)``: the "may attend" mask broadcastable to (B, H, T, S)
        (None when everything is allowed), and whether the causal limit is the plain
        top-left triangle that the attention op applies itself."""
        allowed = None
        qm = _as_bool_mask(self, query_mask, "query_mask", (B, T))
        if qm is not None and not qm.all():
            allowed = np.broadcast_to(qm, (B, T))[:, :, None]
        if key_pad is not None and not key_pad.all():
            allowed = key_pad[:, None, :] if allowed is None else allowed & key_pad[:, None, :]
        am = _as_bool_mask(self, attention_mask, "attention_mask", (B, T, S))
        if am is not None:
            allowed = am if allowed is None else allowed & am
        causal_plain = bool(use_causal_mask) and offset == 0        # top-left, as Keras
        if use_causal_mask and not causal_plain and T > 1:     # one new query sees them all
            c = F.causal_mask(T, S, offset=S - T)
            allowed = c if allowed is None else allowed & c
        if allowed is not None:
            while allowed.ndim < 3:
                allowed = allowed[None]
            allowed = allowed[:, None]                      # the heads axis
        return allowed, causal_plain

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, return_attention_scores=False, training=False,
             use_causal_mask=False, cache=None):
        query = as_input(self, query)
        if query.ndim != 3:
            raise ValueError(f"{layer_desc(self)}: query must be (batch, time, features), got "
                             f"shape {tuple(query.shape)}")
        B, T = query.shape[:2]
        q = self._heads(query, self.query_kernel, self.query_bias, self.key_dim)

        if cache is None or not cache.static:
            value = as_input(self, value)
            key = value if key is None else as_input(self, key)
        k, v, key_pad, offset = self._keys_values(B, value, key, value_mask, key_mask, cache,
                                                  arrays=False)
        k, v = (a if isinstance(a, Tensor) else Tensor(a, _copy=False) for a in (k, v))
        allowed, causal_plain = self._allowed(B, T, k.shape[2], query_mask, key_pad,
                                              attention_mask, use_causal_mask, offset)

        rate = self.dropout if training else 0.0
        seed = None
        if rate and self._rng_seed is not None:
            seed = int(self._rng_seed.integers(0, 2**31 - 1))
        if return_attention_scores:
            out, scores = F.scaled_dot_product_attention_reference(
                q, k, v, mask=allowed, is_causal=causal_plain, dropout=rate, training=rate > 0,
                seed=seed, return_weights=True)
        else:
            scores = None
            out = F.scaled_dot_product_attention(q, k, v, mask=allowed, is_causal=causal_plain,
                                                 dropout=rate, training=rate > 0, seed=seed)
        y = self._project_out(out)
        return (y, scores) if return_attention_scores else y

    # ---- inference on plain arrays ------------------------------------------------------
    def call_arrays(self, query, value=None, key=None, query_mask=None, value_mask=None,
                    key_mask=None, attention_mask=None, use_causal_mask=False, cache=None):
        """Inference on plain arrays: :meth:`call` without dropout, the graph or ``Tensor``s.

        The same products in the same order as :meth:`call` under ``no_grad``
        (the same numbers); what it saves is the per-op bookkeeping — a decode
        step of a GPT block is a dozen NumPy calls here, ~30 autograd ops there.
        Arguments as :meth:`call` (arrays); returns the (B, T, *output_shape) array.
        """
        self._require_built("call_arrays")
        if query.ndim != 3:
            raise ValueError(f"{layer_desc(self)}: query must be (batch, time, features), got "
                             f"shape {tuple(query.shape)}")
        B, T = query.shape[:2]
        q = self._heads(query, self.query_kernel, self.query_bias, self.key_dim, arrays=True)
        value = query if value is None else value
        k, v, key_pad, offset = self._keys_values(B, value, value if key is None else key,
                                                  value_mask, key_mask, cache,
                                                  arrays=True)
        allowed, causal_plain = self._allowed(B, T, k.shape[2], query_mask, key_pad,
                                              attention_mask, use_causal_mask, offset)
        o = F.attention_inference(q, k, v, mask=allowed, is_causal=causal_plain)
        return self._project_out(o, arrays=True)

    def compute_mask(self, query, mask=None):
        if isinstance(mask, (list, tuple)):
            return mask[0] if mask else None
        return mask

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        query_shape = tuple(query_shape)
        out = self.output_shape_arg or (query_shape[-1],)
        return (*query_shape[:-1], *out)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads, key_dim=self.key_dim, value_dim=self.value_dim,
            dropout=self.dropout, use_bias=self.use_bias,
            output_shape=None if self.output_shape_arg is None else list(self.output_shape_arg),
            attention_axes=None,
            kernel_initializer=serialize_initializer(self.kernel_initializer,
                                                     "MultiHeadAttention.kernel_initializer"),
            bias_initializer=serialize_initializer(self.bias_initializer,
                                                   "MultiHeadAttention.bias_initializer"),
            kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer),
            seed=self.seed,
        )
        return config
