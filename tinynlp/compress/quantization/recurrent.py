"""int8 recurrent layers: SimpleRNN, LSTM and GRU with int8 input and recurrent kernels.

Both products of every step — x_t W (all steps at once, one int8 GEMM) and
h_{t−1} U — are int8 × int8 → int32 (:meth:`QuantizedMixin._qlinear`; on a VNNI
CPU with weights packed once, each kept under its name and remade when the
codes change); biases, the gate
non-linearities and the LSTM's cell state stay float32.  The steps themselves
are the float ops' own loops (:func:`~tinynlp.functional.rnn.elman_cell.elman_recurrence`,
:func:`~tinynlp.functional.rnn.lstm_cell.lstm_inference`,
:func:`~tinynlp.functional.rnn.gru_cell.gru_recurrence`) given the int8 products,
with the same mask handling: padded steps carry the state and output zero.
"""

from __future__ import annotations

import numpy as np

from ...functional.rnn.common import sequence_mask
from ...functional.rnn.elman_cell import elman_recurrence
from ...functional.rnn.gru_cell import gru_gate_scale, gru_recurrence
from ...functional.rnn.lstm_cell import lstm_gate_scale, lstm_inference, lstm_to_internal
from ...functional.rnn.workspace import WORKSPACE, MaskInfo, outputs, time_major
from ...kernels.activations import Act
from ...layers._utils import layer_desc
from ...layers.recurrent import GRU, LSTM, SimpleRNN
from ...layers.registry import register_layer
from .layers import QuantizedMixin

__all__ = ["QuantizedSimpleRNN", "QuantizedLSTM", "QuantizedGRU"]

F32 = np.float32


class _QuantizedRNNMixin(QuantizedMixin):
    """int8 input and recurrent GEMMs; the cell's non-linearities in float32.

    Weights: ``kernel_q`` (g·units, features), ``kernel_scale`` (g·units,),
    ``recurrent_kernel_q`` (g·units, units), ``recurrent_kernel_scale``,
    ``bias`` (float), ``input_scale`` (1,) and ``state_scale`` (1,) (0 = dynamic).
    """

    #: a dynamic scale is the whole batch's (one per tensor), so rows are not independent:
    #: a model holding this layer never runs its inference in blocks of the batch
    rows_independent_at_inference = False

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
        q = cls._from_float_layer(layer, per_channel, (None, None, layer.kernel.shape[0]))
        q._set_int8_kernel("kernel", layer.kernel.data)
        q._set_int8_kernel("recurrent_kernel", layer.recurrent_kernel.data)
        return q

    def _input_features(self):
        # RNNBase.call validates the input against this, then runs self._run
        return self.kernel_q.shape[1]

    def _biases(self):
        """(input-side bias, recurrent-side bias) as float32 arrays or None."""
        if self.bias is None:
            return None, None
        b = self.bias.data.astype(F32)
        if b.ndim == 2:  # GRU: [input bias; recurrent bias]
            return b[0], b[1]
        return b, None

    def _start(self, x, states, mask):
        """(x time-major with padded steps zeroed, mask info, initial states as arrays)."""
        xa = np.asarray(x.data, dtype=F32)
        b, t, _ = xa.shape
        info = MaskInfo.of(sequence_mask(mask, b, t, layer_desc(self)), F32)
        st = [None if s is None else np.asarray(s.data, dtype=F32) for s in states]
        return time_major(xa, F32, info), info, st

    def _input_rows(self, xt, w_q, scale, bias):
        """x_t W + b for every row of the time-major ``xt`` (T, B, D) → (T, B, N): one
        int8 GEMM for all steps."""
        T, B, D = xt.shape
        return self._qlinear(xt.reshape(T * B, D), w_q, scale, bias, "input_scale",
                             self._packed("kernel", w_q)).reshape(T, B, -1)

    def _recurrent(self, w_q, scale):
        """``recur(h, out)``: out ← h U, the int8 product with the recurrent kernel
        (packed once for all the steps of this call)."""
        packed = self._packed("recurrent_kernel", w_q)

        def recur(h, out):
            out[...] = self._qlinear(h, w_q, scale, None, "state_scale", packed)
        return recur

    def _states(self, Hs, info):
        """The outputs and final state from the states (T+1, B, H) of a recurrence."""
        return self._out(outputs(Hs, info)), self._out(Hs[-1].copy())


@register_layer
class QuantizedSimpleRNN(_QuantizedRNNMixin, SimpleRNN):
    """SimpleRNN with int8 kernels: h_t = σ(x_t W + h_{t−1} U + b), both products in int8."""

    def _run(self, x, states, mask):
        xt, info, (h0,) = self._start(x, states, mask)
        T, B, _ = xt.shape
        Hs = np.empty((T + 1, B, self.units), dtype=F32)
        Hs[0] = 0 if h0 is None else h0
        Hs[1:] = self._input_rows(xt, self.kernel_q.data, self.kernel_scale.data,
                                  self._biases()[0])
        WORKSPACE.give(xt)
        recur = self._recurrent(self.recurrent_kernel_q.data, self.recurrent_kernel_scale.data)
        elman_recurrence(Hs, recur, Act.of(self.activation), info, zero_start=h0 is None)
        return self._states(Hs, info)


@register_layer
class QuantizedLSTM(_QuantizedRNNMixin, LSTM):
    """LSTM (gates i, f, c, o) with int8 input and recurrent kernels; cell state in float32.

    The int8 weights keep Keras' gate order; each call takes their rows in the fused
    op's internal order (o, i, f, c) and folds the halving of the sigmoid gates into
    the per-channel scales (exact: a power of two), so the float op's step kernel runs.
    """

    def _run(self, x, states, mask):
        xt, info, (h0, c0) = self._start(x, states, mask)
        T, B, D = xt.shape
        H = self.units
        half = lstm_gate_scale(H, F32)
        b_in = self._biases()[0]
        w_q = lstm_to_internal(self.kernel_q.data, axis=0)
        w_s = lstm_to_internal(self.kernel_scale.data) * half
        u_q = lstm_to_internal(self.recurrent_kernel_q.data, axis=0)
        u_s = lstm_to_internal(self.recurrent_kernel_scale.data) * half
        bs = np.zeros(4 * H, F32) if b_in is None else lstm_to_internal(b_in) * half

        def project(t0, t1, out):
            out[...] = self._input_rows(xt[t0:t1], w_q, w_s, None)

        out, h, c = lstm_inference(T, B, H, F32, project, self._recurrent(u_q, u_s), bs,
                                   h0, c0, info)
        WORKSPACE.give(xt)
        return self._out(out.transpose(1, 0, 2)), self._out(h), self._out(c)


@register_layer
class QuantizedGRU(_QuantizedRNNMixin, GRU):
    """GRU (gates z, r, h; reset_after) with int8 input and recurrent kernels.

    As for the LSTM, the halving of the sigmoid gates is folded into the scales and
    the float op's loop runs on the int8 products.
    """

    def _run(self, x, states, mask):
        xt, info, (h0,) = self._start(x, states, mask)
        T, B, _ = xt.shape
        H = self.units
        half = gru_gate_scale(H, F32)
        b_in, b_rec = self._biases()
        bias_x = np.zeros(3 * H, F32) if b_in is None else b_in.copy()
        if b_rec is not None:
            bias_x[:2 * H] += b_rec[:2 * H]       # z, r: the recurrent bias adds to the input's
        A = self._input_rows(xt, self.kernel_q.data, self.kernel_scale.data * half,
                             bias_x * half)
        WORKSPACE.give(xt)
        Hs = np.empty((T + 1, B, H), dtype=F32)
        Hs[0] = 0 if h0 is None else h0
        UH = np.empty((T, B, H), dtype=F32)
        b_rec_h = np.zeros(H, F32) if b_rec is None else b_rec[2 * H:]
        recur = self._recurrent(self.recurrent_kernel_q.data,
                                self.recurrent_kernel_scale.data * half)
        gru_recurrence(A, Hs, UH, recur, b_rec_h, info)
        return self._states(Hs, info)
