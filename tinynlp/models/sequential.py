"""``Sequential``: a stack of layers, each feeding the next (Keras' ``Sequential``)."""

from __future__ import annotations

import numpy as np

from ..autograd import as_array, is_grad_enabled, no_grad
from ..autograd.tensor import Tensor
from ..layers._utils import rows_independent
from ..layers.base import Layer
from ..layers.lookup import looks_up
from ..layers.registry import get_layer_class, register_layer, serialize
from ..layers.weight_guard import check_build_input
from .blocks import block_choice, join_blocks
from .model import Model


def _layer_dtype_for_input(layer, default):
    """The dtype of a dummy input for ``layer``: ids for embeddings, floats otherwise."""
    if type(layer).__name__ == "Embedding" or getattr(layer, "input_is_ids", False):
        return np.dtype(np.int64)
    return np.dtype(default)


class _Lookup:
    """An Embedding's output that is not made: the layer after it reads the table's rows
    for ``ids`` itself (:meth:`Sequential._run_layers`).  Has the output's shape."""

    def __init__(self, embedding, ids):
        self.embedding, self.ids = embedding, ids
        self.shape = (*np.shape(as_array(ids)), embedding.output_dim)
        self.ndim = len(self.shape)


@register_layer
class Sequential(Model):
    """``Sequential([layer, layer, ...])`` or ``Sequential()`` + ``.add(layer)``.

    The input shape comes from the first layer's ``input_shape`` (then the
    model is built at once, as in Keras, so ``summary()`` and
    ``count_params()`` work immediately) or from the first batch it sees.

    Masks: each layer's ``compute_mask`` gives the mask passed to the next
    layer (``Embedding(mask_zero=True)`` starts one; RNNs consume it).  A
    padding mask given to the model (e.g. by a ``BatchLoader``) is passed to
    the first layer, and kept across a first layer that does not produce
    one but preserves the (batch, time) axes (an ``Embedding`` without
    ``mask_zero``).  The model's output mask (if any) masks the loss, as in
    Keras: padded time steps of a tagging model do not count.
    """

    supports_masking = True

    def __init__(self, layers=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.layers = []
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        """Append a layer (builds the model if the input shape is known)."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a tinynlp layer, got "
                            f"{type(layer).__name__}")
        if any(layer is other for other in self.layers):
            raise ValueError(f"Sequential.add: layer {layer.name!r} is already in the model")
        self.layers.append(layer)
        if self._dtype_given:
            self.apply_dtype()
        elif len(self.layers) == 1:
            self.dtype = layer.dtype
        if self._build_input_spec is not None or self.layers[0].input_shape is not None:
            self.built = False
            self._try_build()

    def pop(self):
        """Remove and return the last layer."""
        if not self.layers:
            raise IndexError("Sequential.pop: the model has no layers")
        return self.layers.pop()

    def _input_float_dtype(self):
        return np.dtype(self.layers[0].dtype) if self.layers else np.dtype(self.dtype)

    def _try_build(self):
        """Build by running a dummy batch of one sample through the layers (no gradients)."""
        if self.built or not self.layers:
            return
        if self._build_input_spec is not None:
            shape, dtype = self._build_input_spec[0]
        elif self.layers[0].input_shape is not None:
            shape = list(self.layers[0].input_shape)
            dtype = _layer_dtype_for_input(self.layers[0], self.layers[0].dtype).str
        else:
            return
        check_build_input(shape, f"building Sequential {self.name!r}")
        unknown = any(d is None for d in shape)
        shapes = []
        for fill in ((8, 9) if unknown else (None,)):
            dims = [fill if d is None else int(d) for d in shape]
            self._dry_run(np.zeros((1, *dims), dtype=np.dtype(dtype)))
            shapes.append([getattr(layer, "_tn_output_shape", None) for layer in self.layers])
        if unknown:  # output dims that changed with the unknown input dims are unknown too
            for layer, a, b in zip(self.layers, *shapes):
                if a is not None and b is not None and len(a) == len(b):
                    layer._tn_output_shape = tuple(None if u != v else u for u, v in zip(a, b))
        self._build_input_spec = [[list(shape), np.dtype(dtype).str]]

    def build(self, input_shape):
        """Create the layers' weights for inputs of ``input_shape`` (batch axis included,
        e.g. ``(None, 20)``), as Keras does; ids for a first ``Embedding``, floats else."""
        if self._building:
            return
        input_shape = tuple(input_shape)
        if not input_shape:
            raise ValueError(f"{self.name}.build: input_shape needs the batch axis, e.g. "
                             "(None, 20)")
        if not self.layers:
            raise ValueError(f"{self.name}.build: the Sequential model has no layers; add some "
                             "first")
        self.apply_dtype()
        dtype = _layer_dtype_for_input(self.layers[0], self.layers[0].dtype)
        self._build_input_spec = [[list(input_shape[1:]), dtype.str]]
        self.built = False
        self._try_build()

    def _build_on_first_call(self, shape):
        """The layers build as the first call reaches them."""

    def call(self, x, training=False, mask=None):
        if not self.layers:
            raise ValueError(f"{self.name}: the Sequential model has no layers; add some first")
        rows = x.data if isinstance(x, Tensor) else x
        if self._may_run_in_blocks(rows, training, mask):
            out, self._output_mask = block_choice(self).run(
                rows.shape, lambda: self._run_layers(x, training, mask),
                lambda lo, hi: self._run_rows(rows[lo:hi]), join_blocks)
            return out
        out, self._output_mask = self._run_layers(x, training, mask)
        return out

    def _may_run_in_blocks(self, rows, training, mask):
        """Inference on one array ``rows``, no mask given, every layer built and computing
        each row from that row alone (:func:`~tinynlp.layers._utils.rows_independent`):
        then the forward may run in blocks of the batch over threads (:class:`BlockChoice`)."""
        if (training or mask is not None or is_grad_enabled() or not isinstance(rows, np.ndarray)
                or rows.ndim < 1 or len(rows) <= 1):
            return False
        layers = tuple(self.layers)
        key = tuple(map(type, layers))      # a copy (quantize_dynamic) may change a layer's class
        known = self.__dict__.get("_rows_independent")       # (layers, classes, answer)
        if known is None or known[0] != layers or known[1] != key:
            known = self.__dict__["_rows_independent"] = (
                layers, key, all(rows_independent(layer) for layer in layers))
        return known[2] and all(layer.built for layer in layers)

    def _run_rows(self, rows):
        """One block of rows (on a worker thread): the output and output mask as arrays."""
        with no_grad():                                # grad mode is per thread
            out, mask = self._run_layers(rows, False, None)
        return as_array(out), None if mask is None else np.asarray(as_array(mask))

    def _run_layers(self, x, training, mask):
        """The layers in order: ``(output, output mask)``.

        An Embedding followed by an LSTM (or a Conv1D, at inference) runs as one
        (:func:`~tinynlp.layers.lookup.looks_up`): the Embedding's output is not made,
        and the next layer multiplies each distinct id's row of the table by its
        kernel once (its ``call_on_lookup``)."""
        layers = self.layers
        for i, layer in enumerate(layers):
            next_mask = layer.compute_mask(x, mask)
            if isinstance(x, _Lookup):
                out = layer.call_on_lookup(x.embedding, x.ids, training=training, mask=mask)
            elif i + 1 < len(layers) and looks_up(layer, layers[i + 1], training):
                out = _Lookup(layer, x)
            else:
                out = layer(x, training=training, mask=mask)
            if next_mask is None and mask is not None and i == 0 and not layer.supports_masking:
                m = np.asarray(getattr(mask, "data", mask))
                if out.ndim > m.ndim and tuple(out.shape[:m.ndim]) == m.shape:
                    next_mask = m  # e.g. a loader's padding mask across an Embedding
            layer._tn_output_shape = (None, *out.shape[1:]) if hasattr(out, "shape") else None
            x, mask = out, next_mask
        return x, mask

    def compute_mask(self, x, mask=None):
        return self._output_mask

    # ---- summary / config --------------------------------------------------------------
    def _summary_layers(self):
        return self.layers

    def get_config(self):
        config = {"name": self.name, "trainable": self._trainable,
                  "layers": [serialize(layer) for layer in self.layers]}
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        specs = config.pop("layers", [])
        layers = []
        for spec in specs:
            if not isinstance(spec, dict) or "class_name" not in spec:
                raise ValueError(f"Sequential.from_config: bad layer entry {spec!r:.200}")
            name = spec["class_name"]
            klass = (custom_objects or {}).get(name) or get_layer_class(name)
            layers.append(klass.from_config(dict(spec.get("config", {}))))
        trainable = config.pop("trainable", True)
        model = cls(layers=layers, name=config.get("name"))
        if not trainable:
            model.trainable = False
        return model
