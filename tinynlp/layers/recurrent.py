"""Recurrent layers: SimpleRNN (the seed's Elman RNN), LSTM, GRU.

Each layer owns Keras' three weights ``[kernel (features, g·units),
recurrent_kernel (units, g·units), bias]`` (g = 1, 4, 3 gates) and runs the
fused op over all time steps (:func:`F.elman_rnn`, :func:`F.lstm`,
:func:`F.gru`, which do back-propagation through time by hand).

Masks and padding
-----------------
A ``(batch, time)`` boolean mask (``Embedding(mask_zero=True)`` makes one)
marks the real steps: at a padded step the state is carried over unchanged,
nothing flows back through it and the output is zero (as with PyTorch's packed
sequences; Keras repeats the carried state there), so the final state is the
state after each sequence's last *real* token, whether the batch is post-padded
(left-aligned, ``pad_sequences(padding="post")``) or pre-padded.

``go_backwards=True`` reverses the time axis, as Keras does, and the mask with
it.  Because masked steps are skipped, the backward pass then sees exactly the
valid steps of each sequence in reverse order — the same as reversing only the
valid part — for either padding convention; ``return_sequences`` outputs are
in the reversed order (``output[:, t]`` belongs to input step ``T − 1 − t``)
and :meth:`compute_mask` reverses the mask to match.  :class:`Bidirectional`
flips them back into input order.

Dropout
-------
``dropout`` drops inputs with one mask per sequence, shared by all time steps
(and by the gates).  ``recurrent_dropout`` drops the state h in the recurrent
product ``h U`` — Keras' (Gal & Ghahramani's) variational dropout: one mask per
gate and per sequence, the same at every step.  When training with it the layer
runs the cell one step at a time on autograd's primitive ops (the readable twin
``F.lstm_reference`` etc., given the masks), since the fused op has no place for a
mask between steps; ``dropout`` is then drawn per gate too, as Keras does.  That
path is much slower than the fused op: a training step of batch 32, 40 steps, 64
units took 13× (SimpleRNN), 24× (LSTM) and 25× (GRU) the fused op's time
(``python benchmarks/recurrent_dropout_cost.py``, 2 cores, load average 4.2).
Inference, and training without ``recurrent_dropout``, use the fused op.

Stateful RNNs
-------------
``stateful=True``: the final states of a call are the initial states of the next
one (row i continues row i — feed consecutive chunks of the same sequences, with
``shuffle=False``), as Keras' stateful RNNs do; no gradient flows from one call
into the previous one (truncated BPTT).  ``reset_states()`` (on the layer, or on
the model, which resets every layer it holds) starts again from zeros.  The batch
size must stay the same until then.

Differences from Keras: the fused ops fix the gate activations (LSTM/GRU:
tanh and sigmoid; SimpleRNN: tanh, relu, sigmoid or linear), GRU supports
only ``reset_after=True``, and there is no ``unroll``.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import random as tn_random
from ..autograd import Tensor
from ..kernels.activations import Act
from . import initializers, regularizers
from ._utils import (
    as_ids, as_input, as_mask, check_initializer, check_known, check_last_dim, check_rank,
    check_rate, contiguous, default_name, layer_desc, reverse_time, serialize_activation,
    serialize_initializer,
)
from .base import Layer
from .registry import register_layer

__all__ = ["GRU", "LSTM", "SimpleRNN"]


class RNNBase(Layer):
    """Shared shape logic, masks, initial states, input dropout and config."""

    supports_masking = True
    n_gates = 1     # columns of the kernels are n_gates · units
    n_states = 1    # LSTM has two: h and c
    op_name = ""

    def __init__(self, units, use_bias=True, return_sequences=False, return_state=False,
                 go_backwards=False, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 dropout=0.0, recurrent_dropout=0.0, stateful=False, **kwargs):
        super().__init__(**default_name(type(self), kwargs))
        cls = type(self).__name__
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"{cls}: units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.use_bias = bool(use_bias)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.kernel_initializer = check_initializer(kernel_initializer,
                                                    f"{cls}.kernel_initializer")
        self.recurrent_initializer = check_initializer(recurrent_initializer,
                                                       f"{cls}.recurrent_initializer")
        self.bias_initializer = check_initializer(bias_initializer, f"{cls}.bias_initializer")
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.dropout = check_rate(dropout, "dropout", cls)
        self.recurrent_dropout = check_rate(recurrent_dropout, "recurrent_dropout", cls)
        self.stateful = bool(stateful)
        self.states = None       # stateful: the last call's final states (arrays), or None
        self.kernel = self.recurrent_kernel = self.bias = None

    # ---- weights ------------------------------------------------------------
    def _bias_shape(self):
        return (self.n_gates * self.units,)

    def _bias_init(self):
        return self.bias_initializer

    def build(self, input_shape):
        if self.built:
            return
        input_shape = tuple(input_shape)
        check_rank(self, input_shape, 3, "(batch, time, features)")
        d, h, g = check_known(self, input_shape, -1, "features"), self.units, self.n_gates
        self.kernel = self.add_weight("kernel", (d, g * h), contiguous(self.kernel_initializer),
                                      regularizer=self.kernel_regularizer)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (h, g * h),
                                                contiguous(self.recurrent_initializer),
                                                regularizer=self.recurrent_regularizer)
        if self.use_bias:
            self.bias = self.add_weight("bias", self._bias_shape(), contiguous(self._bias_init()),
                                        regularizer=self.bias_regularizer)
        self.built = True

    def _bias_or_zeros(self):
        if self.bias is not None:
            return self.bias
        return Tensor(np.zeros(self._bias_shape(), dtype=self.kernel.dtype), _copy=False)

    # ---- calling ------------------------------------------------------------
    def _initial_states(self, initial_state, batch, dtype):
        if initial_state is None:
            return [None] * self.n_states
        if isinstance(initial_state, (list, tuple)):
            states = list(initial_state)
        else:
            states = [initial_state]
        if len(states) != self.n_states:
            raise ValueError(
                f"{layer_desc(self)}: initial_state must hold {self.n_states} tensor(s) "
                f"of shape (batch, units), got {len(states)}"
            )
        out = []
        for s in states:
            s = as_input(self, s)
            if tuple(s.shape) != (batch, self.units):
                raise ValueError(
                    f"{layer_desc(self)}: each initial state must have shape (batch, units) = "
                    f"{(batch, self.units)}, got {tuple(s.shape)}"
                )
            out.append(s)
        return out

    def _drop_inputs(self, x):
        """Inverted dropout on the inputs, one mask per sequence shared by all time steps
        (as Keras' ``dropout=``)."""
        b, _, d = x.shape
        keep = tn_random.get_rng().random((b, 1, d)) >= self.dropout
        scale = (keep / (1.0 - self.dropout)).astype(x.dtype)
        return x * Tensor(scale, _copy=False)

    def _gate_masks(self, rate, batch, size, dtype):
        """Keras' per-gate dropout masks for the per-step path: ``n_gates`` arrays (batch,
        size) of 0 and 1 / (1 − rate), or None when ``rate`` is 0."""
        if not rate:
            return None
        rng = tn_random.get_rng()
        return [((rng.random((batch, size)) >= rate) / (1.0 - rate)).astype(dtype)
                for _ in range(self.n_gates)]

    def _input_features(self) -> int:
        """The feature size the built weights expect (overridden by quantized layers)."""
        return self.kernel.shape[0]

    def _stateful_states(self, initial_state, batch, dtype):
        """The initial states of a stateful layer's call: the last call's final states."""
        if initial_state is not None or self.states is None:
            return self._initial_states(initial_state, batch, dtype)
        if self.states[0].shape[0] != batch:
            raise ValueError(
                f"{layer_desc(self)} is stateful and carries the states of a batch of "
                f"{self.states[0].shape[0]} sequences, but got a batch of {batch}: feed "
                "batches of one size (row i continues row i), or call reset_states() first")
        return [Tensor(s.astype(dtype, copy=False), _copy=False) for s in self.states]

    def reset_states(self, states=None):
        """Stateful layers: start the next call from zeros (``states=None``) or from the
        given states (a list of (batch, units) arrays: ``[h]``, LSTM ``[h, c]``)."""
        if states is None:
            self.states = None
            return
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        arrays = [np.asarray(getattr(s, "data", s)) for s in states]
        if len(arrays) != self.n_states or any(a.ndim != 2 or a.shape[1] != self.units or
                                               a.shape[0] != arrays[0].shape[0]
                                               for a in arrays):
            raise ValueError(f"{layer_desc(self)}.reset_states: expected {self.n_states} "
                             f"array(s) of shape (batch, {self.units}), got "
                             f"{[a.shape for a in arrays]}")
        self.states = [a.copy() for a in arrays]

    @property
    def rows_independent_at_inference(self):
        """A stateful layer carries each row's state from batch to batch, and
        ``return_state`` gives several outputs: neither is split into blocks of rows."""
        return not (self.stateful or self.return_state)

    def call(self, x, training=False, mask=None, initial_state=None):
        x = as_input(self, x)
        check_rank(self, x, 3, "(batch, time, features)")
        check_last_dim(self, x, self._input_features())
        b, t = x.shape[:2]
        if t == 0:
            raise ValueError(f"{layer_desc(self)}: got an input with 0 time steps, "
                             f"shape {tuple(x.shape)}")
        mask = as_mask(self, mask, (b, t))
        if self.stateful:
            states = self._stateful_states(initial_state, b, x.dtype)
        else:
            states = self._initial_states(initial_state, b, x.dtype)
        stepwise = bool(training and self.recurrent_dropout > 0.0)
        if training and self.dropout > 0.0 and not stepwise:
            x = self._drop_inputs(x)
        if self.go_backwards:
            x, mask = reverse_time(x), reverse_time(mask)
        if stepwise:   # Keras' recurrent dropout: one step at a time (see the module doc)
            hs, *final = self._run_stepwise(
                x, states, mask, self._gate_masks(self.dropout, b, x.shape[2], x.dtype),
                self._gate_masks(self.recurrent_dropout, b, self.units, x.dtype))
        else:
            hs, *final = self._run(x, states, mask)
        return self._finish(hs, final)

    def _finish(self, hs, final):
        """The call's result from the op's outputs (a stateful layer keeps its final states)."""
        if self.stateful:
            self.states = [np.array(s.data, copy=True) for s in final]
        output = hs if self.return_sequences else final[0]
        if self.return_state:
            return [output, *final]
        return output

    def _run_stepwise(self, x, states, mask, input_masks, recurrent_masks):
        """The cell one step at a time on primitive ops (the op's readable twin,
        ``stepwise_op``), with dropout masks."""
        return type(self).stepwise_op(x, *states, self.kernel, self.recurrent_kernel,
                                      self._bias_or_zeros(), mask=mask, input_masks=input_masks,
                                      recurrent_masks=recurrent_masks, **self._op_options())

    def _op_options(self) -> dict:
        """Keyword arguments of the cell's ops besides the tensors (SimpleRNN: activation)."""
        return {}

    def _run(self, x, states, mask):  # pragma: no cover - abstract
        raise NotImplementedError

    def compute_mask(self, x, mask=None):
        """The output's mask: the input mask for ``return_sequences`` (reversed in time
        with ``go_backwards``, like the outputs), else None."""
        if mask is None or not self.return_sequences:
            return None
        m = mask.data if isinstance(mask, Tensor) else np.asarray(mask, dtype=bool)
        return m[:, ::-1] if self.go_backwards else m

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        check_rank(self, input_shape, 3, "(batch, time, features)")
        b, t = input_shape[:2]
        out = (b, t, self.units) if self.return_sequences else (b, self.units)
        if self.return_state:
            return [out] + [(b, self.units)] * self.n_states
        return out

    def get_config(self):
        config = super().get_config()
        cls = type(self).__name__
        config.update(
            units=self.units, use_bias=self.use_bias,
            return_sequences=self.return_sequences, return_state=self.return_state,
            go_backwards=self.go_backwards,
            kernel_initializer=serialize_initializer(self.kernel_initializer,
                                                     f"{cls}.kernel_initializer"),
            recurrent_initializer=serialize_initializer(self.recurrent_initializer,
                                                        f"{cls}.recurrent_initializer"),
            bias_initializer=serialize_initializer(self.bias_initializer,
                                                   f"{cls}.bias_initializer"),
            kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
            recurrent_regularizer=regularizers.serialize(self.recurrent_regularizer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer),
            dropout=self.dropout, recurrent_dropout=self.recurrent_dropout,
            stateful=self.stateful,
        )
        return config


def _fixed_activation(value, expected, arg, cls):
    if value != expected:
        raise ValueError(
            f"{cls}: {arg}={value!r} is not supported; the fused {cls} op uses "
            f"{arg}={expected!r} (Keras' default)"
        )
    return value


@register_layer
class SimpleRNN(RNNBase):
    """Elman RNN: h_t = activation(x_t @ kernel + h_{t−1} @ recurrent_kernel + bias).

    Weights: ``kernel`` (features, units), ``recurrent_kernel`` (units, units),
    ``bias`` (units,).
    """

    op_name = "elman_rnn"
    stepwise_op = staticmethod(F.elman_rnn_reference)

    def __init__(self, units, activation="tanh", **kwargs):
        super().__init__(units, **kwargs)
        if activation is None:
            activation = "linear"
        if not isinstance(activation, str) or Act.of(activation) is None:
            raise ValueError(f"SimpleRNN: activation must be one of {Act.names()} (the "
                             f"fused op's), got {activation!r}")
        self.activation = activation

    def _run(self, x, states, mask):
        return F.elman_rnn(x, states[0], self.kernel, self.recurrent_kernel,
                           self._bias_or_zeros(), activation=self.activation, mask=mask)

    def _op_options(self):
        return {"activation": self.activation}

    def get_config(self):
        config = super().get_config()
        config["activation"] = serialize_activation(self.activation, "SimpleRNN.activation")
        return config


@register_layer
class LSTM(RNNBase):
    """Long short-term memory, Keras' gate order i, f, c, o:

        i = σ(x W_i + h U_i + b_i)   f = σ(x W_f + h U_f + b_f)
        o = σ(x W_o + h U_o + b_o)   c̃ = tanh(x W_c + h U_c + b_c)
        c_t = f ⊙ c_{t−1} + i ⊙ c̃     h_t = o ⊙ tanh(c_t)

    Weights: ``kernel`` (features, 4·units), ``recurrent_kernel`` (units,
    4·units), ``bias`` (4·units,).  ``unit_forget_bias=True`` starts the forget
    gate's bias at 1 (Jozefowicz et al., 2015), as Keras does.
    ``return_state=True`` returns ``[output, h, c]``; ``initial_state=[h0, c0]``.
    """

    float_dtypes = ("float32", "float64")   # its ops run Numba kernels

    n_gates = 4
    n_states = 2
    op_name = "lstm"
    stepwise_op = staticmethod(F.lstm_reference)

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 unit_forget_bias=True, **kwargs):
        super().__init__(units, **kwargs)
        self.activation = _fixed_activation(activation, "tanh", "activation", "LSTM")
        self.recurrent_activation = _fixed_activation(recurrent_activation, "sigmoid",
                                                      "recurrent_activation", "LSTM")
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_init(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, h = initializers.get(self.bias_initializer), self.units

        def init(shape, dtype):
            return np.concatenate([base((h,), dtype), np.ones((h,), dtype=dtype),
                                   base((2 * h,), dtype)]).astype(dtype)

        return init

    def _run(self, x, states, mask):
        return F.lstm(x, states[0], states[1], self.kernel, self.recurrent_kernel,
                      self._bias_or_zeros(), mask=mask)

    def call_on_lookup(self, embedding, ids, training=False, mask=None):
        """``self(embedding(ids), training, mask)`` without making the embedding's output:
        :func:`F.lstm_lookup` multiplies each distinct id's row of the table by the kernel
        once, every step reads its rows of that product, and the backward groups its
        sums by id the same way.  ``Sequential`` calls it for an Embedding followed by
        this layer (:func:`~tinynlp.layers.lookup.looks_up`)."""
        table = embedding.embeddings
        ids = F.check_ids(as_ids(embedding, ids), table.shape[0])   # the Embedding's own check
        shape = (*ids.shape, table.shape[1])
        check_rank(self, shape, 3, "(batch, time, features)")
        check_last_dim(self, table, self._input_features())
        b, t = ids.shape
        if t == 0:
            raise ValueError(f"{layer_desc(self)}: got an input with 0 time steps, "
                             f"shape {shape}")
        if training and (self.dropout or self.recurrent_dropout):
            raise ValueError(f"{layer_desc(self)}: call_on_lookup trains without dropout; "
                             "with dropout call the layer on the embedding's output")
        mask = as_mask(self, mask, (b, t))
        states = (self._stateful_states(None, b, table.dtype) if self.stateful
                  else self._initial_states(None, b, table.dtype))
        if self.go_backwards:
            ids, mask = reverse_time(ids), reverse_time(mask)
        hs, *final = F.lstm_lookup(ids, table, *states, self.kernel, self.recurrent_kernel,
                                   self._bias_or_zeros(), mask=mask, sparse=embedding.sparse,
                                   frozen_rows=embedding.frozen_rows)
        return self._finish(hs, final)

    def get_config(self):
        config = super().get_config()
        config.update(activation=self.activation,
                      recurrent_activation=self.recurrent_activation,
                      unit_forget_bias=self.unit_forget_bias)
        return config


@register_layer
class GRU(RNNBase):
    """Gated recurrent unit, Keras' gate order z, r, h with ``reset_after=True``
    (the formulation PyTorch and cuDNN use):

        z = σ(x W_z + b_z + h U_z + b'_z)    r = σ(x W_r + b_r + h U_r + b'_r)
        h̃ = tanh(x W_h + b_h + r ⊙ (h U_h + b'_h))
        h_t = z ⊙ h_{t−1} + (1 − z) ⊙ h̃

    Weights: ``kernel`` (features, 3·units), ``recurrent_kernel`` (units,
    3·units), ``bias`` (2, 3·units) = [input bias; recurrent bias].
    """

    float_dtypes = ("float32", "float64")   # its ops run Numba kernels

    n_gates = 3
    op_name = "gru"
    stepwise_op = staticmethod(F.gru_reference)

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 reset_after=True, **kwargs):
        super().__init__(units, **kwargs)
        self.activation = _fixed_activation(activation, "tanh", "activation", "GRU")
        self.recurrent_activation = _fixed_activation(recurrent_activation, "sigmoid",
                                                      "recurrent_activation", "GRU")
        if not reset_after:
            raise ValueError(
                "GRU: reset_after=False (the original Cho et al. formulation, Keras 1 default) "
                "is not supported; the fused op implements reset_after=True, as Keras 2+, "
                "PyTorch and cuDNN do"
            )
        self.reset_after = True

    def _bias_shape(self):
        return (2, 3 * self.units)

    def _run(self, x, states, mask):
        return F.gru(x, states[0], self.kernel, self.recurrent_kernel, self._bias_or_zeros(),
                     mask=mask)


    def get_config(self):
        config = super().get_config()
        config.update(activation=self.activation,
                      recurrent_activation=self.recurrent_activation,
                      reset_after=self.reset_after)
        return config
