"""int8 quantization: weights and activations as 8-bit integers with float scales.

Symmetric linear quantization
-----------------------------
A float tensor ``w`` is stored as int8 codes ``q`` and a float32 scale ``s``::

    s = max|w| / 127          q = clip(round(w / s), −127, 127)          w ≈ s · q

so every element is off by at most half a step, ``|w − s·q| ≤ s/2``.  With
``per_channel=True`` each slice along ``axis`` (each output unit of a Dense
kernel, each filter of a convolution, each row of an embedding table) gets
its own scale, which keeps a channel with small weights from being crushed
by one with large weights.

Dynamic quantization
--------------------
:func:`quantize_dynamic` returns a new model in which ``Dense``, ``Conv1D``,
``SimpleRNN``/``LSTM``/``GRU`` hold int8 kernels (per output channel) and run
int8 × int8 → int32 products (:mod:`tinynlp.kernels.int8`): each row of the
input is quantized on the fly with its own scale (*dynamic*), the integer
product is exact, and one multiplication by ``s_row · s_channel`` brings it
back to float32.  ``Embedding`` keeps an int8 table with one scale per row (a
lookup needs no product).  Biases, gate non-linearities and the recurrent
cell state stay float32.

:func:`calibrate` replaces the dynamic activation scales with *static* ones
measured on sample data (``max|x| / 127`` over the sample), which saves the
per-row max at inference time at the price of clipping inputs larger than
anything seen in calibration.

Quantization-aware training
---------------------------
:func:`prepare_qat` makes the float layers compute with *fake-quantized*
weights — rounded to the int8 grid and back in the forward pass
(:class:`FakeQuantize`), while the backward pass treats the rounding as the
identity inside the clipping range (the straight-through estimator).  A few
epochs of fine-tuning this way let the weights settle where rounding hurts
least; :func:`strip_qat` removes the wrappers, then :func:`quantize_dynamic`
converts.

The quantized layers are inference-only (no gradients flow through int8
weights); they are registered layer classes, so a quantized model saves and
loads like any other (its int8 weights are stored as int8).
"""

from __future__ import annotations

import copy

import numpy as np

from .. import functional as F
from ..autograd import Tensor, no_grad
from ..autograd.tensor import Function
from ..kernels.int8 import QMAX, quantized_linear
from ..layers.convolutional import Conv1D
from ..layers.core import Dense, Embedding
from ..layers.recurrent import GRU, LSTM, SimpleRNN
from ..layers.registry import register_layer
from ._utils import iter_layers

__all__ = [
    "quantize_tensor", "dequantize", "quantization_error",
    "quantize_dynamic", "calibrate", "is_quantized",
    "FakeQuantize", "fake_quantize", "prepare_qat", "strip_qat",
    "QuantizedDense", "QuantizedEmbedding", "QuantizedConv1D",
    "QuantizedSimpleRNN", "QuantizedLSTM", "QuantizedGRU", "int8_parameters", "im2col_1d",
]


# --------------------------------------------------------------------------
# tensors
# --------------------------------------------------------------------------

def _as_float_array(w, arg="w"):
    w = w.data if isinstance(w, Tensor) else np.asarray(w)
    if w.dtype.kind != "f":
        raise TypeError(f"{arg} must be a floating-point array, got dtype {w.dtype}")
    return w


def _norm_axis(axis, ndim, fn):
    if not -ndim <= axis < ndim:
        raise ValueError(f"{fn}: axis={axis} is out of range for an array of rank {ndim}")
    return axis % ndim


def _channel_shape(ndim, axis, n):
    shape = [1] * ndim
    shape[axis] = n
    return tuple(shape)


def quantize_tensor(w, per_channel=False, axis=-1):
    """Symmetric int8 quantization: ``s = max|w| / 127``, ``q = clip(round(w / s), ±127)``.

    ``per_channel=False``: one scale (a 0-d float32 array).  ``per_channel=True``:
    one scale per index along ``axis`` (shape ``(w.shape[axis],)``), the max taken
    over all other axes.  An all-zero tensor or channel gets scale 1 (its codes
    are 0).  Returns ``(q int8 of w's shape, scale float32)``; the round trip
    :func:`dequantize` is within ``scale / 2`` of ``w`` element by element.
    """
    w = _as_float_array(w)
    if per_channel:
        if w.ndim == 0:
            raise ValueError("quantize_tensor: per_channel=True needs an array of rank >= 1")
        axis = _norm_axis(axis, w.ndim, "quantize_tensor")
        others = tuple(i for i in range(w.ndim) if i != axis)
        amax = np.abs(w).max(axis=others) if w.size else np.zeros(w.shape[axis])
        scale = (np.asarray(amax, dtype=np.float64) / QMAX).astype(np.float32)
        scale[scale == 0] = 1.0
        s = scale.astype(np.float64).reshape(_channel_shape(w.ndim, axis, w.shape[axis]))
    else:
        amax = float(np.abs(w).max()) if w.size else 0.0
        scale = np.asarray(amax / QMAX if amax > 0 else 1.0, dtype=np.float32)
        s = np.float64(scale)
    q = np.clip(np.rint(w.astype(np.float64) / s), -QMAX, QMAX).astype(np.int8)
    return q, scale


def dequantize(q, scale, axis=-1, dtype=np.float32):
    """``w ≈ scale · q`` (scale a scalar, or one per index along ``axis``)."""
    q = np.asarray(q)
    if q.dtype != np.int8:
        raise TypeError(f"dequantize: q must be int8, got dtype {q.dtype}")
    scale = np.asarray(scale, dtype=np.float32)
    if scale.ndim == 0:
        return (q.astype(np.float32) * scale).astype(dtype, copy=False)
    axis = _norm_axis(axis, q.ndim, "dequantize")
    if scale.shape != (q.shape[axis],):
        raise ValueError(
            f"dequantize: scale must be a scalar or have shape ({q.shape[axis]},) to match "
            f"q.shape[{axis}], got {scale.shape}"
        )
    s = scale.reshape(_channel_shape(q.ndim, axis, q.shape[axis]))
    return (q.astype(np.float32) * s).astype(dtype, copy=False)


def quantization_error(w, per_channel=False, axis=-1):
    """``max |w − dequantize(quantize_tensor(w))|`` and the largest scale (for reports)."""
    w = _as_float_array(w)
    q, s = quantize_tensor(w, per_channel, axis)
    return float(np.abs(dequantize(q, s, axis).astype(np.float64) - w).max()), float(np.max(s))


# --------------------------------------------------------------------------
# fake quantization (quantization-aware training)
# --------------------------------------------------------------------------

class FakeQuantize(Function):
    """y = s · clip(round(x / s), −127, 127)   (x rounded to the int8 grid and back);

    dL/dx = dL/dy · 1[−127 ≤ round(x / s) ≤ 127]   — the straight-through estimator: the
    rounding is treated as the identity (its true derivative is 0 almost
    everywhere, which would stop all learning), and values clipped away get no
    gradient.  ``scale`` is a constant (no gradient), broadcastable against x.
    """

    differentiable = (0,)

    @staticmethod
    def forward(ctx, x, scale):
        s = np.asarray(scale, dtype=np.float64)
        r = np.rint(x.astype(np.float64) / s)
        inside = np.abs(r) <= QMAX
        ctx.save_for_backward(inside)
        return (np.clip(r, -QMAX, QMAX) * s).astype(x.dtype)

    @staticmethod
    def backward(ctx, g):
        (inside,) = ctx.saved
        return g * inside, None


def fake_quantize(x, per_channel=False, axis=-1, scale=None):
    """Round ``x`` (a Tensor) to its int8 grid and back, with a straight-through gradient.

    The scale is ``max|x| / 127`` (per channel along ``axis`` if asked), computed
    from the current values and treated as a constant; or pass ``scale``.
    """
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x), _copy=False)
    if scale is None:
        _, scale = quantize_tensor(x.data, per_channel, axis)
        if per_channel:
            axis = _norm_axis(axis, x.ndim, "fake_quantize")
            scale = scale.reshape(_channel_shape(x.ndim, axis, x.shape[axis]))
    return FakeQuantize.apply(x, np.asarray(scale, dtype=np.float32))


# weights that get fake-quantized, and the axis of their channels
_QAT_WEIGHTS = {
    "Dense": (("kernel", -1),),
    "Conv1D": (("kernel", -1),),
    "Embedding": (("embeddings", 0),),
    "SimpleRNN": (("kernel", -1), ("recurrent_kernel", -1)),
    "LSTM": (("kernel", -1), ("recurrent_kernel", -1)),
    "GRU": (("kernel", -1), ("recurrent_kernel", -1)),
}


def _float_class_name(layer):
    for cls in type(layer).__mro__:
        if cls.__name__ in _QAT_WEIGHTS:
            return cls.__name__
    return None


def prepare_qat(model, per_channel=True):
    """Quantization-aware training: make every Dense / Conv1D / Embedding / recurrent
    layer of ``model`` compute with fake-quantized weights (in place; returns ``model``).

    The parameters stay float32 and keep learning (straight-through gradients);
    only the forward pass sees the int8 grid.  Train as usual, then
    :func:`strip_qat` and :func:`quantize_dynamic`.
    """
    for layer in iter_layers(model):
        name = _float_class_name(layer)
        if name is None or isinstance(layer, _QuantizedMixin) or "call" in vars(layer):
            continue
        layer.call = _qat_call(layer, _QAT_WEIGHTS[name], per_channel)
        layer._qat = True
    return model


def _qat_call(layer, weights, per_channel):
    original = type(layer).call

    def call(*args, **kwargs):
        saved = {}
        try:
            for attr, axis in weights:
                p = getattr(layer, attr, None)
                if isinstance(p, Tensor):
                    saved[attr] = p
                    setattr(layer, attr, fake_quantize(p, per_channel, axis))
            return original(layer, *args, **kwargs)
        finally:
            for attr, p in saved.items():
                setattr(layer, attr, p)

    return call


def strip_qat(model):
    """Undo :func:`prepare_qat` (in place; returns ``model``)."""
    for layer in iter_layers(model):
        if getattr(layer, "_qat", False):
            vars(layer).pop("call", None)
            layer._qat = False
    return model


# --------------------------------------------------------------------------
# quantized layers
# --------------------------------------------------------------------------

def _np_activation(name):
    """A NumPy function for an activation name (via the Tensor op for rarer ones)."""
    if name in (None, "linear"):
        return lambda z: z
    if name == "tanh":
        return np.tanh
    if name == "relu":
        return lambda z: np.maximum(z, 0)
    if name == "sigmoid":
        return _sigmoid
    act = F.get_activation(name)

    def apply(z):
        with no_grad():
            return act(Tensor(z, _copy=False)).data
    return apply


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # stable for any z


class _QuantizedMixin:
    """Weights as int8 Parameters, activation scales (dynamic or calibrated), calibration."""

    quantized = True

    def _int8_weight(self, name, shape):
        p = self.add_weight(name, shape, "zeros", trainable=False, dtype="float32")
        if p.data.dtype != np.int8:  # (a checkpoint loader may already have put codes there)
            p.data = np.zeros(shape, np.int8)  # int8 storage: get_weights/set_weights keep it
        return p

    def _scale_weight(self, name, shape=(1,)):
        return self.add_weight(name, shape, "zeros", trainable=False, dtype="float32")

    def _float_weight(self, name, shape):
        return self.add_weight(name, shape, "zeros", trainable=False)

    # ---- activation scales ---------------------------------------------------
    def _qlinear(self, x2, w_q, w_scale, bias, scale_name):
        """int8 product of the rows of ``x2`` with the int8 weight ``w_q`` (N, K)."""
        x2 = np.ascontiguousarray(x2, dtype=np.float32)
        observed = getattr(self, "_calibration", None)
        static = None
        if observed is not None:
            if x2.size:
                observed[scale_name] = max(observed.get(scale_name, 0.0),
                                           float(np.abs(x2).max()))
        else:
            s = float(getattr(self, scale_name).data[0])
            static = s if s > 0 else None
        b = None if bias is None else np.asarray(bias, dtype=np.float32)
        return quantized_linear(x2, w_q.data, w_scale.data, b, x_scale=static)

    def _start_calibration(self):
        self._calibration = {}

    def _finish_calibration(self):
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

    def get_config(self):
        config = super().get_config()
        config["per_channel"] = self.per_channel
        config["trainable"] = False
        return config


def _fill_scale(param, scale):
    param.data[...] = np.broadcast_to(np.asarray(scale, np.float32), param.shape)


def _require_built(layer):
    if not layer.built:
        raise ValueError(
            f"quantize_dynamic: layer {layer.name!r} is not built yet; run the model once "
            "(e.g. model.predict on a small batch) before quantizing it"
        )


@register_layer
class QuantizedDense(_QuantizedMixin, Dense):
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
        if self.built:
            return
        d = int(tuple(input_shape)[-1])
        self.kernel_q = self._int8_weight("kernel_q", (self.units, d))
        self.kernel_scale = self._scale_weight("kernel_scale", (self.units,))
        if self.use_bias:
            self.bias = self._float_weight("bias", (self.units,))
        self.input_scale = self._scale_weight("input_scale")
        self.built = True

    @classmethod
    def from_float(cls, layer, per_channel=True):
        _require_built(layer)
        q = cls.from_config({**layer.get_config(), "per_channel": per_channel})
        q.build((None, layer.kernel.shape[0]))
        codes, scale = quantize_tensor(layer.kernel.data, per_channel, axis=-1)
        q.kernel_q.data[...] = codes.T
        _fill_scale(q.kernel_scale, scale)
        if layer.use_bias:
            q.bias.data[...] = layer.bias.data
        return q

    def call(self, x, training=False, mask=None):
        from ..layers._utils import as_input, check_last_dim, check_rank
        x = as_input(self, x)
        check_rank(self, x, 2, "(batch, ..., features)", at_least=True)
        check_last_dim(self, x, self.kernel_q.shape[1])
        xa = x.data
        y = self._qlinear(xa.reshape(-1, xa.shape[-1]), self.kernel_q, self.kernel_scale,
                          None if self.bias is None else self.bias.data, "input_scale")
        y = _np_activation(self.activation)(y.reshape(*xa.shape[:-1], self.units))
        return self._out(y)


@register_layer
class QuantizedEmbedding(_QuantizedMixin, Embedding):
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
        _require_built(layer)
        q = cls.from_config({**layer.get_config(), "per_channel": per_channel})
        q.build()
        codes, scale = quantize_tensor(layer.embeddings.data, per_channel, axis=0)
        q.embeddings_q.data[...] = codes
        _fill_scale(q.embeddings_scale, scale)
        return q

    def _ids(self, x):
        ids = x.data if isinstance(x, Tensor) else np.asarray(x)
        if ids.dtype.kind == "f":
            if np.any(ids != np.round(ids)):
                raise TypeError(f"QuantizedEmbedding {self.name!r}: expected integer token "
                                f"ids, got non-integer {ids.dtype} values")
            ids = ids.astype(np.int64)
        elif ids.dtype.kind not in "iu":
            raise TypeError(f"QuantizedEmbedding {self.name!r}: expected integer token ids, "
                            f"got dtype {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.input_dim):
            bad = ids.min() if ids.min() < 0 else ids.max()
            raise ValueError(f"QuantizedEmbedding {self.name!r}: token id {int(bad)} is out of "
                             f"range [0, input_dim={self.input_dim})")
        return ids

    def call(self, x, training=False):
        ids = self._ids(x)
        rows = self.embeddings_q.data[ids].astype(np.float32)
        return self._out(rows * self.embeddings_scale.data[ids][..., None])

    def compute_mask(self, x, mask=None):
        if not self.mask_zero:
            return None
        return self._ids(x) != 0


def _conv_padding(length, k, stride, dilation, padding):
    """(left, right) zero padding of a 1-D convolution (Keras/TF conventions)."""
    span = (k - 1) * dilation + 1
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return span - 1, 0
    out = -(-length // stride)
    total = max((out - 1) * stride + span - length, 0)
    return total // 2, total - total // 2


def im2col_1d(x, k, stride=1, dilation=1, padding="valid"):
    """Patches of a (B, L, C) sequence: (B, L_out, k·C), patch i = x[i·s + j·d] for j < k."""
    b, length, c = x.shape
    left, right = _conv_padding(length, k, stride, dilation, padding)
    if left or right:
        x = np.pad(x, ((0, 0), (left, right), (0, 0)))
    span = (k - 1) * dilation + 1
    out = (x.shape[1] - span) // stride + 1
    idx = (np.arange(out) * stride)[:, None] + np.arange(k)[None, :] * dilation
    return x[:, idx, :].reshape(b, out, k * c)


@register_layer
class QuantizedConv1D(_QuantizedMixin, Conv1D):
    """Conv1D with an int8 kernel: im2col patches (quantized per patch) × int8 filters.

    Weights: ``kernel_q`` (filters, kernel_size·channels) int8,
    ``kernel_scale`` (filters,), ``bias`` (filters,), ``input_scale`` (1,).
    """

    def __init__(self, filters, kernel_size, per_channel=True, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        self.per_channel = bool(per_channel)
        self.kernel_q = self.kernel_scale = self.input_scale = None

    def build(self, input_shape):
        if self.built:
            return
        c = int(tuple(input_shape)[-1])
        self.kernel_q = self._int8_weight("kernel_q", (self.filters, self.kernel_size * c))
        self.kernel_scale = self._scale_weight("kernel_scale", (self.filters,))
        if self.use_bias:
            self.bias = self._float_weight("bias", (self.filters,))
        self.input_scale = self._scale_weight("input_scale")
        self.built = True

    @classmethod
    def from_float(cls, layer, per_channel=True):
        _require_built(layer)
        q = cls.from_config({**layer.get_config(), "per_channel": per_channel})
        k, c, f = layer.kernel.shape
        q.build((None, None, c))
        codes, scale = quantize_tensor(layer.kernel.data, per_channel, axis=-1)
        q.kernel_q.data[...] = codes.reshape(k * c, f).T
        _fill_scale(q.kernel_scale, scale)
        if layer.use_bias:
            q.bias.data[...] = layer.bias.data
        return q

    def call(self, x, training=False):
        from ..layers._utils import as_input, check_last_dim, check_rank
        x = as_input(self, x)
        check_rank(self, x, 3, "(batch, steps, channels)")
        channels = self.kernel_q.shape[1] // self.kernel_size
        check_last_dim(self, x, channels, what="channels")
        self._check_length(x.shape)
        cols = im2col_1d(x.data, self.kernel_size, self.strides, self.dilation_rate, self.padding)
        b, steps, kc = cols.shape
        y = self._qlinear(cols.reshape(b * steps, kc), self.kernel_q, self.kernel_scale,
                          None if self.bias is None else self.bias.data, "input_scale")
        y = _np_activation(self.activation)(y.reshape(b, steps, self.filters))
        return self._out(y)


class _QuantizedRNNMixin(_QuantizedMixin):
    """int8 input and recurrent GEMMs; the cell's non-linearities in float32.

    Weights: ``kernel_q`` (g·units, features), ``kernel_scale`` (g·units,),
    ``recurrent_kernel_q`` (g·units, units), ``recurrent_kernel_scale``,
    ``bias`` (float), ``input_scale`` (1,) and ``state_scale`` (1,) (0 = dynamic).
    """

    def __init__(self, units, per_channel=True, **kwargs):
        super().__init__(units, **kwargs)
        self.per_channel = bool(per_channel)

    def build(self, input_shape):
        if self.built:
            return
        d, h, g = int(tuple(input_shape)[-1]), self.units, self.n_gates
        self.kernel_q = self._int8_weight("kernel_q", (g * h, d))
        self.kernel_scale = self._scale_weight("kernel_scale", (g * h,))
        self.recurrent_kernel_q = self._int8_weight("recurrent_kernel_q", (g * h, h))
        self.recurrent_kernel_scale = self._scale_weight("recurrent_kernel_scale", (g * h,))
        if self.use_bias:
            self.bias = self._float_weight("bias", self._bias_shape())
        self.input_scale = self._scale_weight("input_scale")
        self.state_scale = self._scale_weight("state_scale")
        self.built = True

    @classmethod
    def from_float(cls, layer, per_channel=True):
        _require_built(layer)
        q = cls.from_config({**layer.get_config(), "per_channel": per_channel})
        q.build((None, None, layer.kernel.shape[0]))
        for name in ("kernel", "recurrent_kernel"):
            codes, scale = quantize_tensor(getattr(layer, name).data, per_channel, axis=-1)
            getattr(q, name + "_q").data[...] = codes.T
            _fill_scale(getattr(q, name + "_scale"), scale)
        if layer.use_bias:
            q.bias.data[...] = layer.bias.data
        return q

    def _input_features(self):
        # RNNBase.call validates the input against this, then runs self._run
        return self.kernel_q.shape[1]

    def _biases(self):
        """(input-side bias, recurrent-side bias) as float32 arrays or None."""
        if self.bias is None:
            return None, None
        b = self.bias.data.astype(np.float32)
        if b.ndim == 2:  # GRU: [input bias; recurrent bias]
            return b[0], b[1]
        return b, None

    def _run(self, x, states, mask):
        xa = np.asarray(x.data, dtype=np.float32)
        b, t, d = xa.shape
        h_units = self.units
        b_in, b_rec = self._biases()
        xp = self._qlinear(xa.reshape(b * t, d), self.kernel_q, self.kernel_scale, b_in,
                           "input_scale").reshape(b, t, -1)
        st = [np.zeros((b, h_units), np.float32) if s is None
              else np.asarray(s.data, dtype=np.float32) for s in states]
        hs = np.zeros((b, t, h_units), np.float32)
        for step in range(t):
            hp = self._qlinear(st[0], self.recurrent_kernel_q, self.recurrent_kernel_scale,
                               b_rec, "state_scale")
            new = self._cell(xp[:, step], hp, st)
            if mask is None:
                st = new
                hs[:, step] = new[0]
            else:
                m = mask[:, step][:, None]
                st = [np.where(m, n, s) for n, s in zip(new, st)]
                hs[:, step] = np.where(m, new[0], 0.0)
        return (self._out(hs), *[self._out(s) for s in st])


@register_layer
class QuantizedSimpleRNN(_QuantizedRNNMixin, SimpleRNN):
    """SimpleRNN with int8 kernels: h_t = σ(x_t W + h_{t−1} U + b), both products in int8."""

    def _cell(self, xp, hp, st):
        return [_np_activation(self.activation)(xp + hp)]


@register_layer
class QuantizedLSTM(_QuantizedRNNMixin, LSTM):
    """LSTM (gates i, f, c, o) with int8 input and recurrent kernels; cell state in float32."""

    def _cell(self, xp, hp, st):
        c_prev = st[1]
        z = xp + hp
        n = self.units
        i = _sigmoid(z[:, :n])
        f = _sigmoid(z[:, n:2 * n])
        g = np.tanh(z[:, 2 * n:3 * n])
        o = _sigmoid(z[:, 3 * n:])
        c = f * c_prev + i * g
        return [o * np.tanh(c), c]


@register_layer
class QuantizedGRU(_QuantizedRNNMixin, GRU):
    """GRU (gates z, r, h; reset_after) with int8 input and recurrent kernels."""

    def _cell(self, xp, hp, st):
        h_prev = st[0]
        n = self.units
        z = _sigmoid(xp[:, :n] + hp[:, :n])
        r = _sigmoid(xp[:, n:2 * n] + hp[:, n:2 * n])
        hh = np.tanh(xp[:, 2 * n:] + r * hp[:, 2 * n:])
        return [z * h_prev + (1.0 - z) * hh]


_CONVERTERS = {
    Dense: QuantizedDense,
    Embedding: QuantizedEmbedding,
    Conv1D: QuantizedConv1D,
    SimpleRNN: QuantizedSimpleRNN,
    LSTM: QuantizedLSTM,
    GRU: QuantizedGRU,
}


def _converter(layer, types):
    if isinstance(layer, _QuantizedMixin) or not layer.built:
        return None
    for float_cls, q_cls in _CONVERTERS.items():
        if type(layer) is float_cls and (types is None or float_cls.__name__ in types):
            return q_cls
    return None


def is_quantized(model) -> bool:
    """True if any layer of ``model`` holds int8 weights."""
    return any(isinstance(layer, _QuantizedMixin) for layer in iter_layers(model))


def quantize_dynamic(model, per_channel=True, layers=None):
    """A copy of ``model`` whose Dense, Embedding, Conv1D and recurrent layers hold int8
    weights and run int8 × int8 → int32 kernels with dynamic activation scales.

    ``per_channel``: one weight scale per output unit / filter / embedding row
    (default) or one per tensor.  ``layers``: restrict to these class names
    (e.g. ``["Dense", "LSTM"]``).  The model must be built (run it once).
    Other layers (pooling, dropout, ...) are copied unchanged; the original
    model is not modified.
    """
    if isinstance(layers, str):
        layers = [layers]
    types = None if layers is None else set(layers)
    if types is not None:
        unknown = types - {c.__name__ for c in _CONVERTERS}
        if unknown:
            known = [c.__name__ for c in _CONVERTERS]
            raise ValueError(f"quantize_dynamic: layers may name {known}, got unknown "
                             f"{sorted(unknown)}")
    memo = {}
    converted = 0
    for layer in iter_layers(model):
        q_cls = _converter(layer, types)
        if q_cls is not None:
            memo[id(layer)] = q_cls.from_float(layer, per_channel=per_channel)
            converted += 1
    if not converted:
        unbuilt = [layer.name for layer in iter_layers(model) if not layer.built]
        hint = (f" (layers {unbuilt} are not built yet: run the model once first)"
                if unbuilt else "")
        raise ValueError(f"quantize_dynamic: no quantizable layer in {model!r}{hint}")
    if id(model) in memo:  # a single layer
        return memo[id(model)]
    return copy.deepcopy(model, memo)


def calibrate(model, x_sample, batch_size=64):
    """Static activation scales from sample data: ``s = max|x| / 127`` per quantized input.

    ``model``: a quantized model (from :func:`quantize_dynamic`), modified in
    place; a float model is quantized first.  Runs ``x_sample`` through it
    (dynamic scales meanwhile), records the largest input magnitude each int8
    product sees, and fixes those scales.  Returns the calibrated model.
    """
    if not is_quantized(model):
        model = quantize_dynamic(model)
    qlayers = [layer for layer in iter_layers(model) if isinstance(layer, _QuantizedMixin)]
    for layer in qlayers:
        layer._start_calibration()
    try:
        from ._utils import run_model
        run_model(model, x_sample, batch_size=batch_size)
    finally:
        for layer in qlayers:
            layer._finish_calibration()
    return model


def int8_parameters(model):
    """(number of int8 values, number of float values) held by ``model``."""
    n8 = nf = 0
    for p in model.weights:
        if p.data.dtype == np.int8:
            n8 += p.size
        else:
            nf += p.size
    return n8, nf

