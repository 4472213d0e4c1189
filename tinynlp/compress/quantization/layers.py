"""int8 layers: Dense, Embedding and Conv1D with int8 weights (inference only).

Each holds its kernel as int8 codes with one float32 scale per output channel
and runs int8 × int8 → int32 products (:func:`tinynlp.kernels.int8.quantized_linear`);
the input rows are quantized on the fly (dynamic scales) or with a calibrated
static scale.  On a CPU with AVX-512 VNNI the products run on the codes packed
once for :func:`tinynlp.kernels.int8_gemm.quantized_linear_packed` (same codes, same
exact integer products, several times faster); the pack is made when the layer
is quantized (or first run after loading) and remade whenever the codes change.  Everything else comes from the floors below: Keras' padding and
the im2col of the convolution (:func:`tinynlp.functional.conv1d_patches`), the
activations (:func:`tinynlp.functional.epilogue.activate_`), the layers' checks.
"""

from __future__ import annotations

import numpy as np

from ...autograd.tensor import Tensor, is_grad_enabled, to_numpy
from ...functional.conv import conv1d_padding, conv1d_patches, conv1d_sum_rows
from ...functional.lookup import shared_rows
from ...functional.epilogue import activate_
from ...kernels.activations import Act
from ...kernels.int8 import QMAX, gather_dequantize, quantize_patches_u8, quantized_linear
from ...kernels.int8_gemm import (
    pack_int8,
    quantized_linear_packed,
    rescale_codes,
    static_scale,
    vnni_available,
)
from ...layers._utils import as_ids, as_input, check_last_dim, check_rank, layer_desc
from ...layers.convolutional import Conv1D
from ...layers.core import Dense, Embedding
from ...layers.registry import register_layer
from .tensors import quantize_tensor

__all__ = ["QuantizedMixin", "QuantizedDense", "QuantizedEmbedding", "QuantizedConv1D"]


class QuantizedMixin:
    """Weights as int8 Parameters, activation scales (dynamic or calibrated), calibration."""

    quantized = True

    # ---- weights -----------------------------------------------------------------
    def _int8_weight(self, name, shape):
        p = self.add_weight(name, shape, "zeros", trainable=False, dtype="float32")
        if p.data.dtype != np.int8:  # (a checkpoint loader may already have put codes there)
            p.data = np.zeros(shape, np.int8)  # int8 storage: get_weights/set_weights keep it
        return p

    def _scale_weight(self, name, shape=(1,)):
        return self.add_weight(name, shape, "zeros", trainable=False, dtype="float32")

    def _float_weight(self, name, shape):
        return self.add_weight(name, shape, "zeros", trainable=False)

    @classmethod
    def _from_float_layer(cls, layer, per_channel, input_shape):
        """A built quantized copy of the float ``layer`` (its bias copied, kernels not yet)."""
        if not layer.built:
            raise ValueError(
                f"quantize_dynamic: layer {layer.name!r} is not built yet; run the model once "
                "(e.g. model.predict on a small batch) before quantizing it")
        q = cls.from_config({**layer.get_config(), "per_channel": per_channel})
        q.build(input_shape)
        if getattr(layer, "use_bias", False):
            q.bias.data[...] = layer.bias.data
        return q

    def _set_int8_kernel(self, name, w):
        """``<name>_q`` ← the codes of the float kernel ``w`` (..., out), stored transposed
        (out, ...) for the int8 product; ``<name>_scale`` ← one scale per output channel."""
        codes, scale = quantize_tensor(w, self.per_channel, axis=-1)
        getattr(self, name + "_q").data[...] = codes.reshape(-1, codes.shape[-1]).T
        param = getattr(self, name + "_scale")
        param.data[...] = np.broadcast_to(np.asarray(scale, np.float32), param.shape)

    def _packed(self, name, w_q):
        """The VNNI pack of the int8 weight ``w_q`` (N, K) kept under ``name`` (None
        without VNNI): made once, remade when ``w_q``'s codes differ from the packed ones
        (set_weights, load_weights, an in-place write: the bytes are compared, at memory
        speed)."""
        if not vnni_available():
            return None
        packs = self.__dict__.setdefault("_int8_packs", {})
        packed = packs.get(name)
        if packed is None or not packed.matches(w_q):
            packed = packs[name] = pack_int8(w_q)
        return packed

    # ---- int8 products and activation scales ---------------------------------------
    def _qlinear(self, x2, w_q, w_scale, bias, scale_name, packed=None, relu=False):
        """int8 product of the rows of ``x2`` with the int8 weight ``w_q`` (N, K): arrays
        (``packed``: the same weight from :meth:`_packed`, for the VNNI kernel; ``relu``
        fused into the rescaling).

        While calibrating, records the largest |x| the product sees under ``scale_name``;
        otherwise uses that layer weight's static scale (0 = dynamic per-row scales).
        """
        x2 = np.ascontiguousarray(x2, dtype=np.float32)
        observed = getattr(self, "_calibration", None)
        if observed is not None and x2.size:
            observed[scale_name] = max(observed.get(scale_name, 0.0), float(np.abs(x2).max()))
        static = self._static_scale(scale_name)
        b = None if bias is None else np.asarray(bias, dtype=np.float32)
        if packed is not None:
            return quantized_linear_packed(x2, packed, w_scale, b, static, relu)
        return quantized_linear(x2, w_q, w_scale, b, static, relu)

    def _static_scale(self, scale_name):
        """The calibrated scale ``scale_name`` (None: dynamic, or calibrating now)."""
        if getattr(self, "_calibration", None) is not None:
            return None
        s = float(getattr(self, scale_name).data[0])
        return s if s > 0 else None

    def start_calibration(self):
        self._calibration = {}

    def finish_calibration(self):
        observed = self._calibration
        self._calibration = None
        for name, amax in (observed or {}).items():
            getattr(self, name).data[...] = amax / QMAX if amax > 0 else 0.0

    @property
    def is_static(self):
        return any(float(getattr(self, name).data[0]) > 0
                   for name in ("input_scale", "state_scale") if hasattr(self, name))

    def _out(self, y):
        return Tensor(np.asarray(y).astype(self.dtype, copy=False), _copy=False)

    def _bias_array(self):
        return None if self.bias is None else self.bias.data

    def get_config(self):
        config = super().get_config()
        config["per_channel"] = self.per_channel
        config["trainable"] = False
        return config


class _QuantizedKernelMixin(QuantizedMixin):
    """One int8 kernel ``kernel_q`` (out, in), its scales, a float bias and ``input_scale``."""

    def _build_kernel(self, units, fan_in):
        self.kernel_q = self._int8_weight("kernel_q", (units, fan_in))
        self.kernel_scale = self._scale_weight("kernel_scale", (units,))
        if self.use_bias:
            self.bias = self._float_weight("bias", (units,))
        self.input_scale = self._scale_weight("input_scale")
        self.built = True

    def _project(self, rows):
        """σ(rows · W + b) for the 2-D ``rows`` with the int8 kernel (relu fused)."""
        relu = Act.of(self.activation) == Act.RELU
        y = self._qlinear(rows, self.kernel_q.data, self.kernel_scale.data, self._bias_array(),
                          "input_scale", self._packed("kernel", self.kernel_q.data), relu)
        return y if relu else activate_(y, self.activation)


@register_layer
class QuantizedDense(_QuantizedKernelMixin, Dense):
    """Dense with an int8 kernel: ``h = σ(s_x s_w · (q_x · q_w) + b)``.

    Weights: ``kernel_q`` (units, in) int8 (stored transposed for the kernel),
    ``kernel_scale`` (units,), ``bias`` (units,), ``input_scale`` (1,) — 0 means
    dynamic per-row scales, > 0 a calibrated static scale.
    """

    def __init__(self, units, per_channel=True, **kwargs):
        super().__init__(units, **kwargs)
        self.per_channel = bool(per_channel)
        self.kernel_q = self.kernel_scale = self.input_scale = None

    def build(self, input_shape):
        if not self.built:
            self._build_kernel(self.units, int(tuple(input_shape)[-1]))

    @classmethod
    def from_float(cls, layer, per_channel=True):
        q = cls._from_float_layer(layer, per_channel, (None, layer.kernel.shape[0]))
        q._set_int8_kernel("kernel", layer.kernel.data)
        q._packed("kernel", q.kernel_q.data)  # pack now rather than on the first call
        return q

    def call(self, x, training=False, mask=None):
        x = as_input(self, x)
        check_rank(self, x, 2, "(batch, ..., features)", at_least=True)
        check_last_dim(self, x, self.kernel_q.shape[1])
        xa = x.data
        y = self._project(xa.reshape(-1, xa.shape[-1]))
        return self._out(y.reshape(*xa.shape[:-1], self.units))


@register_layer
class QuantizedEmbedding(QuantizedMixin, Embedding):
    """Embedding with an int8 table and one float32 scale per row (per token).

    A lookup returns ``scale[id] · q[id]`` — no product, so no activation scale.
    Weights: ``embeddings_q`` (input_dim, output_dim) int8, ``embeddings_scale``
    (input_dim,).
    """

    def __init__(self, input_dim, output_dim, per_channel=True, **kwargs):
        super().__init__(input_dim, output_dim, **kwargs)
        self.per_channel = bool(per_channel)
        self.embeddings_q = self.embeddings_scale = None

    def build(self, input_shape=None):
        if self.built:
            return
        self.embeddings_q = self._int8_weight("embeddings_q", (self.input_dim, self.output_dim))
        self.embeddings_scale = self._scale_weight("embeddings_scale", (self.input_dim,))
        self.built = True

    @classmethod
    def from_float(cls, layer, per_channel=True):
        q = cls._from_float_layer(layer, per_channel, None)
        codes, scale = quantize_tensor(layer.embeddings.data, per_channel, axis=0)
        q.embeddings_q.data[...] = codes
        q.embeddings_scale.data[...] = np.broadcast_to(np.asarray(scale, np.float32),
                                                       q.embeddings_scale.shape)
        return q

    def _ids(self, x):
        ids = as_ids(self, x)
        if ids.size and (ids.min() < 0 or ids.max() >= self.input_dim):
            bad = ids.min() if ids.min() < 0 else ids.max()
            raise ValueError(f"{layer_desc(self)}: token id {int(bad)} is out of "
                             f"range [0, input_dim={self.input_dim})")
        return ids

    def call(self, x, training=False):
        ids = self._ids(x)
        rows = gather_dequantize(self.embeddings_q.data, self.embeddings_scale.data,
                                 np.ascontiguousarray(ids).reshape(-1))
        return self._out(rows.reshape(*ids.shape, self.output_dim))

    def compute_mask(self, x, mask=None):
        if not self.mask_zero:
            return None
        return self._ids(to_numpy(x)) != 0


@register_layer
class QuantizedConv1D(_QuantizedKernelMixin, Conv1D):
    """Conv1D with an int8 kernel: im2col patches (quantized per patch) × int8 filters.

    Weights: ``kernel_q`` (filters, kernel_size·channels) int8,
    ``kernel_scale`` (filters,), ``bias`` (filters,), ``input_scale`` (1,).
    """

    def __init__(self, filters, kernel_size, per_channel=True, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        self.per_channel = bool(per_channel)
        self.kernel_q = self.kernel_scale = self.input_scale = None

    def build(self, input_shape):
        if not self.built:
            self._build_kernel(self.filters, self.kernel_size * int(tuple(input_shape)[-1]))

    @classmethod
    def from_float(cls, layer, per_channel=True):
        q = cls._from_float_layer(layer, per_channel, (None, None, layer.kernel.shape[1]))
        q._set_int8_kernel("kernel", layer.kernel.data)
        q._packed("kernel", q.kernel_q.data)  # pack now rather than on the first call
        return q

    def call(self, x, training=False):
        x = as_input(self, x)
        check_rank(self, x, 3, "(batch, steps, channels)")
        channels = self.kernel_q.shape[1] // self.kernel_size
        check_last_dim(self, x, channels, what="channels")
        self._check_length(x.shape)
        packed = self._packed("kernel", self.kernel_q.data)
        if packed is not None and getattr(self, "_calibration", None) is None:
            return self._out(self._fused_call(x.data, packed))
        cols = conv1d_patches(x.data, self.kernel_size, self.strides, self.dilation_rate,
                              self.padding)
        b, steps, kc = cols.shape
        return self._out(self._project(cols.reshape(b * steps, kc)).reshape(b, steps, -1))

    def reads_lookup(self, embedding, training=False):
        """Whether :meth:`call_on_lookup` may replace ``self(embedding(ids))``
        (:func:`~tinynlp.layers.lookup.looks_up` asks): a plain :class:`QuantizedEmbedding`
        before it, inference with nothing needing a gradient, not calibrating (that
        observes the patches)."""
        return (type(embedding).call is QuantizedEmbedding.call and not training
                and not is_grad_enabled() and getattr(self, "_calibration", None) is None)

    def call_on_lookup(self, embedding, ids, training=False, mask=None):
        """``self(embedding(ids))`` without making the embedding's output, as
        :func:`F.conv1d_lookup <tinynlp.functional.conv1d_lookup>` does for float layers,
        in int8: for the distinct ids u, P[j, k] = rows_j · w[k] is one int8 product of
        their (dequantized) rows with the kernel's taps ((K·F, C) int8, packed once),
        then each output step adds up its K rows of P and the bias.

        Each row is quantized on its own (the per-patch path quantizes each window of K
        rows with one scale): a quantized table's rows come back as their own codes, so
        with dynamic scales the products are the exact products of the int8 values;
        with a calibrated static scale every value is quantized as the per-patch path
        quantizes it.  Ids that repeat too little
        (:func:`~tinynlp.functional.lookup.shared_rows`): the usual path."""
        self._warn_dropped_mask(mask)              # as Layer.__call__ does
        ids = embedding._ids(ids)                  # the quantized Embedding's own check
        shared = None if ids.ndim != 2 else shared_rows(ids, embedding.input_dim)
        if shared is None:
            return self(embedding(ids))
        u, inv = shared
        k, nf = self.kernel_size, self.filters
        x_shape = np.broadcast_to(np.float32(0), (*ids.shape, embedding.output_dim))
        check_last_dim(self, x_shape, self.kernel_q.shape[1] // k, what="channels")
        self._check_length(x_shape.shape)
        rows = gather_dequantize(embedding.embeddings_q.data, embedding.embeddings_scale.data, u)
        taps = np.ascontiguousarray(                  # (F, K·C) → (K·F, C): tap-major rows
            self.kernel_q.data.reshape(nf, k, -1).transpose(1, 0, 2).reshape(k * nf, -1))
        P = self._qlinear(rows, taps, np.tile(self.kernel_scale.data, k), None, "input_scale",
                          self._packed("taps", taps))
        return self._out(conv1d_sum_rows(P.reshape(len(u), k, nf), inv, self._bias_array(),
                                         self.strides, self.padding, self.dilation_rate,
                                         self.activation).data)

    def _fused_call(self, x, packed):
        """The VNNI path: the windows quantized straight from ``x`` (no float im2col),
        the packed product, the rescaling with the relu fused — the same numbers as
        im2col followed by :meth:`_project`."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        pad_left, _, steps = conv1d_padding(x.shape[1], self.kernel_size, self.strides,
                                            self.padding, self.dilation_rate)
        u, s = quantize_patches_u8(x, self.kernel_size, self.strides, self.dilation_rate,
                                   pad_left, steps, packed.k_pad,
                                   static_scale(self._static_scale("input_scale")))
        relu = Act.of(self.activation) == Act.RELU
        y = rescale_codes(u, s, packed, self.kernel_scale.data, self._bias_array(), relu)
        y = y if relu else activate_(y, self.activation)
        return y.reshape(x.shape[0], steps, -1)
