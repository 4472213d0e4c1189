"""``Input`` and ``InputLayer``: where a functional model's graph starts (Keras names).

    ids = tn.Input(shape=(None,), dtype="int32", name="ids")   # a SymbolicTensor
    h = tn.layers.Embedding(1000, 32, mask_zero=True)(ids)
    model = tn.Model(ids, tn.layers.Dense(1, activation="sigmoid")(tn.layers.LSTM(16)(h)))

``shape`` excludes the batch axis; ``None`` marks an axis whose size varies
(sequence length).  The model is fed arrays of shape ``(batch, *shape)``.
"""

from __future__ import annotations

import numpy as np

from ._utils import default_name
from .base import Layer
from .registry import register_layer
from .symbolic import Node, SymbolicTensor

__all__ = ["Input", "InputLayer"]


def _check_dims(dims, arg):
    out = []
    for d in dims:
        if d is None:
            out.append(None)
        elif isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0:
            out.append(int(d))
        else:
            raise ValueError(f"Input: {arg} must hold non-negative integers or None, got "
                             f"{tuple(dims)!r}")
    return tuple(out)


@register_layer
class InputLayer(Layer):
    """The layer behind :func:`Input`: no weights; its ``output`` is the model input.

    ``batch_shape = (batch_size, *shape)``; give either ``shape`` (and
    optionally ``batch_size``) or ``batch_shape``.
    """

    rows_independent_at_inference = True

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None,
                 **kwargs):
        if shape is not None and batch_shape is not None:
            raise ValueError("Input: give shape or batch_shape, not both")
        if batch_shape is None:
            if shape is None:
                raise ValueError("Input: shape is required, e.g. tn.Input(shape=(None,), "
                                 "dtype='int32') for token ids of any length")
            if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
                shape = (int(shape),)
            if not isinstance(shape, (tuple, list)):
                raise TypeError(f"Input: shape must be a tuple such as (None, 8), got {shape!r}")
            batch_shape = (batch_size, *shape)
        elif not isinstance(batch_shape, (tuple, list)) or len(batch_shape) < 1:
            raise TypeError(f"Input: batch_shape must be a tuple (batch, ...), got "
                            f"{batch_shape!r}")
        batch_shape = _check_dims(batch_shape, "shape")
        try:
            dtype = np.dtype("float32" if dtype is None else dtype)
        except TypeError:
            raise TypeError(f"Input: dtype must be a NumPy dtype name such as 'float32' or "
                            f"'int32', got {dtype!r}") from None
        if dtype.kind not in "biuf":
            raise TypeError(f"Input: dtype must be numeric (float, int or bool), got {dtype}")
        super().__init__(**default_name(type(self), dict(kwargs, name=name, dtype=dtype)))
        self.batch_shape = batch_shape
        self.built = True
        node = Node(self)
        node.outputs = [SymbolicTensor(batch_shape, dtype, node=node, index=0, name=self.name)]
        self._output_node = node

    @property
    def output(self) -> SymbolicTensor:
        """The symbolic tensor this layer feeds into the graph."""
        return self._output_node.outputs[0]

    def call(self, x, training=False):
        return x

    def get_config(self):
        return {"name": self.name, "batch_shape": list(self.batch_shape),
                "dtype": self.dtype.name}


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None):
    """A symbolic model input (Keras' ``keras.Input``): shape without the batch axis.

    ``dtype`` defaults to ``"float32"``; token ids use an integer dtype
    (``"int32"``).  ``name`` is the key of this input when data is passed as a
    dict (``model.fit({"ids": x_ids, ...}, y)``).
    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape,
                      name=name).output
