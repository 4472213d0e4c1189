"""Wrappers: Bidirectional (an RNN read both ways) and TimeDistributed.

Bidirectional
-------------
A forward copy reads x_1 … x_T; a backward copy (``go_backwards=True``) reads
x_T … x_1.  For ``return_sequences`` the backward outputs are flipped back so
that position t holds both views of token t, then merged (``concat``, ``sum``,
``mul``, ``ave`` or ``None`` for the pair).  With a padding mask each copy
skips the padded steps, so the backward copy starts at each sequence's last
*real* token — for post-padded (left-aligned) and pre-padded batches alike —
and the merged outputs at padded positions are zeros (the recurrent ops output
zeros at padded steps; Keras does the same inside Bidirectional).
"""

from __future__ import annotations

from .. import functional as F
from ._utils import (
    as_input,
    check_choice,
    check_rank,
    default_name,
    layer_desc,
    reverse_time,
    rows_independent,
)
from .base import Layer
from .registry import deserialize, register_layer, serialize

__all__ = ["Bidirectional", "TimeDistributed"]

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


@register_layer
class Bidirectional(Layer):
    """Runs ``layer`` (SimpleRNN / LSTM / GRU) forwards and a copy backwards.

    Weights: the forward layer's then the backward layer's (Keras order).
    ``return_state=True`` returns ``[output, *forward_states, *backward_states]``;
    ``initial_state`` takes the same list of states (forward first).
    """

    supports_masking = True

    @property
    def rows_independent_at_inference(self):
        """As the two recurrent layers are (not stateful, no ``return_state``)."""
        return (not self.return_state and rows_independent(self.forward_layer)
                and rows_independent(self.backward_layer))

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        if not isinstance(layer, Layer) or not hasattr(layer, "go_backwards") \
                or not hasattr(layer, "return_sequences"):
            raise TypeError(f"Bidirectional: expected a recurrent layer (SimpleRNN, LSTM, GRU), "
                            f"got {layer!r}")
        if kwargs.get("input_shape") is None and layer.input_shape is not None:
            kwargs["input_shape"] = layer.input_shape
        kwargs.setdefault("dtype", layer.dtype.name)
        super().__init__(**default_name(type(self), kwargs))
        self.merge_mode = check_choice(merge_mode, _MERGE_MODES, "merge_mode", "Bidirectional")
        self.forward_layer = layer
        if backward_layer is None:
            config = layer.get_config()
            config["go_backwards"] = not layer.go_backwards
            config["name"] = f"backward_{layer.name}"
            config.pop("input_shape", None)
            backward_layer = type(layer).from_config(config)
        else:
            if isinstance(backward_layer, dict):
                backward_layer = deserialize(backward_layer)
            if backward_layer.go_backwards == layer.go_backwards:
                raise ValueError("Bidirectional: backward_layer must read in the opposite "
                                 "direction (go_backwards differs from the forward layer's)")
            for attr in ("return_sequences", "return_state", "units"):
                if getattr(backward_layer, attr) != getattr(layer, attr):
                    raise ValueError(f"Bidirectional: forward and backward layers must have the "
                                     f"same {attr}")
        self.backward_layer = backward_layer
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.units = layer.units

    @property
    def n_states(self):
        return self.forward_layer.n_states

    def build(self, input_shape):
        if self.built:
            return
        self.forward_layer.build(input_shape)
        self.forward_layer.built = True
        self.backward_layer.build(input_shape)
        self.backward_layer.built = True
        self.built = True

    def call(self, x, training=False, mask=None, initial_state=None):
        x = as_input(self, x)
        check_rank(self, x, 3, "(batch, time, features)")
        fw_init = bw_init = None
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) \
                else [initial_state]
            if len(states) != 2 * self.n_states:
                raise ValueError(f"{layer_desc(self)}: initial_state must hold "
                                 f"{2 * self.n_states} tensors (forward states then backward "
                                 f"states), got {len(states)}")
            fw_init, bw_init = states[:self.n_states], states[self.n_states:]
        fw = self.forward_layer(x, training=training, mask=mask, initial_state=fw_init)
        bw = self.backward_layer(x, training=training, mask=mask, initial_state=bw_init)
        return self._join(fw, bw)

    def call_on_lookup(self, embedding, ids, training=False, mask=None):
        """``self(embedding(ids), training, mask)`` with each direction's LSTM reading the
        table's rows itself (:meth:`~tinynlp.layers.LSTM.call_on_lookup`); ``Sequential``
        calls it where :func:`~tinynlp.layers.lookup.looks_up` allows."""
        fw = self.forward_layer.call_on_lookup(embedding, ids, training=training, mask=mask)
        bw = self.backward_layer.call_on_lookup(embedding, ids, training=training, mask=mask)
        return self._join(fw, bw)

    def _join(self, fw, bw):
        """The two directions' results as the layer returns them: the backward outputs
        back in input order, merged, then the states if asked for."""
        fw_states = bw_states = []
        if self.return_state:
            fw, fw_states = fw[0], fw[1:]
            bw, bw_states = bw[0], bw[1:]
        if self.return_sequences:
            bw = reverse_time(bw)  # back into input order (padded steps are zeros in both)
        output = self._merge(fw, bw)
        if self.return_state:
            out = output if isinstance(output, list) else [output]
            return out + list(fw_states) + list(bw_states)
        return output

    def _merge(self, fw, bw):
        mode = self.merge_mode
        if mode == "concat":
            return F.concat([fw, bw], axis=-1)
        if mode == "sum":
            return fw + bw
        if mode == "mul":
            return fw * bw
        if mode == "ave":
            return (fw + bw) * 0.5
        return [fw, bw]

    def compute_mask(self, x, mask=None):
        return mask if self.return_sequences and mask is not None else None

    def compute_output_shape(self, input_shape):
        shape = self.forward_layer.compute_output_shape(input_shape)
        out = shape[0] if self.return_state else shape
        states = list(shape[1:]) if self.return_state else []
        if self.merge_mode == "concat":
            merged = (*out[:-1], 2 * out[-1])
        elif self.merge_mode is None:
            merged = [tuple(out), tuple(out)]
        else:
            merged = tuple(out)
        if self.return_state:
            return (merged if isinstance(merged, list) else [merged]) + states + states
        return merged

    def get_config(self):
        config = super().get_config()
        config.update(layer=serialize(self.forward_layer), merge_mode=self.merge_mode,
                      backward_layer=serialize(self.backward_layer))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        layer = deserialize(config.pop("layer"))
        backward = config.pop("backward_layer", None)
        return cls(layer, backward_layer=None if backward is None else deserialize(backward),
                   **config)


@register_layer
class TimeDistributed(Layer):
    """Applies ``layer`` to every time step: (batch, time, ...) → (batch, time, ...').

    The batch and time axes are folded into one, the layer runs once on
    (batch·time, ...), and the result is unfolded.  The padding mask passes
    through unchanged.
    """

    supports_masking = True

    @property
    def rows_independent_at_inference(self):
        """As the wrapped layer is (it sees the batch's rows times its steps as rows)."""
        return rows_independent(self.layer)

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise TypeError(f"TimeDistributed: expected a Layer, got {layer!r}")
        kwargs.setdefault("dtype", layer.dtype.name)
        super().__init__(**default_name(type(self), kwargs))
        self.layer = layer

    def build(self, input_shape):
        if self.built:
            return
        input_shape = tuple(input_shape)
        check_rank(self, input_shape, 3, "(batch, time, ...)", at_least=True)
        inner = (None, *input_shape[2:])
        if not self.layer.built:
            self.layer.build(inner)
            self.layer.built = True
        self.built = True

    def call(self, x, training=False, mask=None):
        x = as_input(self, x)
        check_rank(self, x, 3, "(batch, time, ...)", at_least=True)
        b, t = x.shape[:2]
        y = self.layer(x.reshape((b * t, *x.shape[2:])), training=training)
        return y.reshape((b, t, *y.shape[1:]))

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        b, t = input_shape[:2]
        bt = None if b is None or t is None else b * t
        inner = self.layer.compute_output_shape((bt, *input_shape[2:]))
        return (b, t, *tuple(inner)[1:])

    def get_config(self):
        config = super().get_config()
        config["layer"] = serialize(self.layer)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(deserialize(config.pop("layer")), **config)
