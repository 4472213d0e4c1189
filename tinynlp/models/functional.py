"""The functional API: ``tn.Model(inputs, outputs)`` over a graph of layers (Keras' ``Functional``).

    enc = tn.Input(shape=(None,), dtype="int32", name="enc_ids")
    dec = tn.Input(shape=(None,), dtype="int32", name="dec_ids")
    embed = tn.layers.Embedding(1000, 32, mask_zero=True)       # shared by both inputs
    h = tn.layers.LSTM(32)(embed(enc))
    d = tn.layers.LSTM(32)(embed(dec))
    out = tn.layers.Dense(1, activation="sigmoid")(tn.layers.Concatenate()([h, d]))
    model = tn.Model(inputs=[enc, dec], outputs=out)             # a Functional
    model.fit({"enc_ids": xe, "dec_ids": xd}, y)

Calling a layer on symbolic tensors records a node (:mod:`tinynlp.layers.symbolic`);
``Model(inputs, outputs)`` walks the nodes back from the outputs and keeps them
in an order where every node comes after the nodes it reads from.  Calling the
model runs the nodes in that order on the data, carrying each tensor's mask
along (Keras' rules; see the symbolic module).  A layer used twice is one
layer with two nodes: its weights are shared.  A model (Sequential or
functional) is a layer too, so it can be called inside another graph.

Several inputs take a list (in ``inputs`` order) or a dict keyed by Input
name; several outputs are returned as a list, and ``compile`` takes losses,
loss weights and metrics per output (:mod:`tinynlp.models.multi_output`).
The model's output mask masks the loss, as for Sequential.  A padding mask
given to the model (by a BatchLoader) goes to its input and, like
Sequential, is kept across a first layer that makes no mask of its own but
keeps the (batch, time) axes.

``get_config()`` lists the layers (class, config, and the inbound nodes of
each: the tensors each call read, as ``[layer name, node index, tensor
index]``) and the model's input and output tensors, the same layout as
Keras; ``from_config`` replays the calls.
"""

from __future__ import annotations

import inspect

import numpy as np

from ..autograd.tensor import Tensor
from ..layers.input_layer import InputLayer
from ..layers.registry import get_layer_class, register_layer, serialize
from ..layers.symbolic import SymbolicTensor, is_symbolic, map_structure, shape_str
from .functional_training import FunctionalTraining
from .model import Model
from .summary import totals_lines

__all__ = ["Functional"]

_TENSOR_TAG = "__keras_tensor__"


def _layer_desc(layer):
    return f"{type(layer).__name__} {layer.name!r}"


def _as_tensor_list(value, arg):
    if isinstance(value, SymbolicTensor):
        return [value], True
    if isinstance(value, dict):
        raise TypeError(f"Model: {arg} must be a symbolic tensor or a list of them; dict "
                        f"{arg} are not supported (pass a list; data may still be a dict "
                        "keyed by Input name)")
    if not is_symbolic(value):
        raise TypeError(f"Model: {arg} must be symbolic tensors (from tn.Input and the layers "
                        f"called on them), got {value!r:.200}")
    return list(value), False


def _topological_nodes(inputs, outputs, model_name):
    """The nodes between ``inputs`` and ``outputs``, each after the nodes it reads from
    (an iterative depth-first walk back from the outputs)."""
    input_ids = {id(t) for t in inputs}
    input_names = [t.layer.name for t in inputs]
    order, state = [], {}

    def missing(out_index, tensor, t):
        raise ValueError(
            f"Model {model_name!r}: outputs[{out_index}] ({tensor!r}) cannot be computed from "
            f"the given inputs {input_names}: it depends on Input {t.layer.name!r}, which is "
            f"not among them. Add it to inputs=[...]")

    for i, out in enumerate(outputs):
        if id(out) in input_ids:
            continue
        if isinstance(out.layer, InputLayer):
            missing(i, out, out)
        if state.get(id(out.node)) == 2:
            continue
        state[id(out.node)] = 1
        stack = [(out.node, iter(out.node.parents))]
        while stack:
            node, parents = stack[-1]
            for p in parents:
                if id(p) in input_ids:
                    continue
                if p.node is None or isinstance(p.layer, InputLayer):
                    missing(i, out, p)
                seen = state.get(id(p.node))
                if seen == 2:
                    continue
                if seen == 1:   # cannot happen for graphs built by calling layers
                    raise ValueError(f"Model {model_name!r}: the graph has a cycle through "
                                     f"layer {p.layer.name!r}")
                state[id(p.node)] = 1
                stack.append((p.node, iter(p.node.parents)))
                break
            else:
                stack.pop()
                state[id(node)] = 2
                order.append(node)
    return order


def _unique_names(names):
    out, counts = [], {}
    for n in names:
        k = counts.get(n, 0)
        counts[n] = k + 1
        out.append(n if k == 0 else f"{n}_{k}")
    return out


@register_layer
class Functional(FunctionalTraining, Model):
    """A model over a graph of layers; see the module docstring.

    ``inputs`` / ``outputs``: a symbolic tensor or a list of them.
    Attributes: ``inputs``, ``outputs`` (lists), ``input_names``,
    ``output_names``, ``layers`` (InputLayers first, then in call order).
    """

    supports_masking = True

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        super().__init__(name=name, **kwargs)
        self.inputs, self._single_input = _as_tensor_list(inputs, "inputs")
        self.outputs, self._single_output = _as_tensor_list(outputs, "outputs")
        for i, t in enumerate(self.inputs):
            if not isinstance(t.layer, InputLayer):
                raise TypeError(f"Model {self.name!r}: inputs[{i}] must come from tn.Input(...),"
                                 f" got the output of {_layer_desc(t.layer)}")
        if len({id(t) for t in self.inputs}) != len(self.inputs):
            raise ValueError(f"Model {self.name!r}: the same Input is listed twice in inputs")
        self._nodes = _topological_nodes(self.inputs, self.outputs, self.name)
        layers, seen = [], set()
        for layer in [t.layer for t in self.inputs] + [n.layer for n in self._nodes]:
            if id(layer) not in seen:
                seen.add(id(layer))
                layers.append(layer)
        names = [layer.name for layer in layers]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"Model {self.name!r}: layer names must be unique within a model; "
                             f"{dup} name different layers")
        self.layers = layers
        if self._dtype_given:   # the graph's layers are built already: refuse a mismatch
            other = [f"{layer.name!r} ({layer.dtype.name})" for layer in layers
                     if layer.weights and layer.dtype != self.dtype]
            if other:
                raise ValueError(f"Model {self.name!r}: dtype={self.dtype.name}, but its layers "
                                 f"{', '.join(other)} were built in another dtype; give each "
                                 "layer its dtype (Dense(..., dtype=...)) before calling it")
        self._node_index = {}
        per_layer = {}
        for t in self.inputs:
            self._node_index[id(t.node)] = 0
        for node in self._nodes:
            k = per_layer.get(id(node.layer), 0)
            per_layer[id(node.layer)] = k + 1
            self._node_index[id(node)] = k
        self.input_names = [t.layer.name for t in self.inputs]
        self.output_names = _unique_names([t.name for t in self.outputs])
        self._build_input_spec = [[list(t.shape[1:]), t.dtype.str] for t in self.inputs]
        self._output_masks = [None] * len(self.outputs)
        self._last_output_losses = []
        self.loss_weights = None
        self.built = True
        if not trainable:
            self.trainable = False

    # ---- Keras accessors -------------------------------------------------------------
    @property
    def input(self):
        return self.inputs[0] if self._single_input else list(self.inputs)

    @property
    def output(self):
        return self.outputs[0] if self._single_output else list(self.outputs)

    def get_layer(self, name=None, index=None):
        """A layer by name or by index in ``layers``."""
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"get_layer: index {index} is out of range for "
                                 f"{len(self.layers)} layers")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"get_layer: no layer named {name!r}; layers: "
                         f"{[layer.name for layer in self.layers]}")

    # ---- running the graph ---------------------------------------------------------------
    def _input_list(self, inputs, what):
        """One value per Input from a single array, a list / tuple or a dict of Input names."""
        n, names = len(self.inputs), self.input_names
        if isinstance(inputs, dict):
            unknown = [k for k in inputs if k not in names]
            if unknown:
                raise ValueError(f"{what}: unknown input name(s) {unknown}; the model "
                                 f"{self.name!r} has inputs {names}")
            missing = [k for k in names if k not in inputs]
            if missing:
                raise ValueError(f"{what}: no data for input(s) {missing} of model "
                                 f"{self.name!r} (inputs {names})")
            return [inputs[k] for k in names]
        if isinstance(inputs, (list, tuple)) and inputs and all(
                isinstance(v, (np.ndarray, Tensor)) for v in inputs):
            if len(inputs) != n:
                raise ValueError(f"{what}: model {self.name!r} has {n} input(s) {names} but got "
                                 f"a list of {len(inputs)} arrays")
            return list(inputs)
        if n != 1:
            raise ValueError(f"{what}: model {self.name!r} has {n} inputs {names}; pass a list "
                             f"of {n} arrays (in that order) or a dict keyed by input name, "
                             f"got {type(inputs).__name__}")
        return [inputs]

    def _check_input(self, t, value, what):
        shape = tuple(np.shape(value.data if isinstance(value, Tensor) else value))
        ok = len(shape) == len(t.shape) and all(
            d is None or d == s for d, s in zip(t.shape, shape))
        if not ok:
            raise ValueError(f"{what}: input {t.layer.name!r} of model {self.name!r} expects "
                             f"arrays of shape {shape_str(t.shape)}, got shape {shape}")

    def call(self, inputs, training=False, mask=None):
        what = f"{self.name}"
        xs = self._input_list(inputs, what)
        for t, x in zip(self.inputs, xs):
            self._check_input(t, x, what)
        if mask is None or not isinstance(mask, (list, tuple)):
            if mask is not None and len(xs) > 1:
                raise ValueError(f"{what}: give one mask per input ({len(xs)}) as a list, got "
                                 "a single mask")
            masks = [mask] + [None] * (len(xs) - 1)
        else:
            masks = list(mask)
        values, mask_values = {}, {}
        for t, x, m in zip(self.inputs, xs, masks):
            values[id(t)] = x
            mask_values[id(t)] = m
        input_ids = {id(t) for t in self.inputs}
        for node in self._nodes:
            outs, out_masks, given_mask, _ = node.run(lambda t: values[id(t)],
                                                      lambda t: mask_values.get(id(t)),
                                                      training)
            if given_mask is not None and out_masks[0] is None and \
                    not node.layer.supports_masking and node.parents and \
                    id(node.parents[0]) in input_ids:
                out_masks[0] = _carried_mask(given_mask, outs[0])
            for t, value, m in zip(node.outputs, outs, out_masks):
                values[id(t)] = value
                mask_values[id(t)] = m
        outs = [values[id(t)] for t in self.outputs]
        self._output_masks = [mask_values.get(id(t)) for t in self.outputs]
        self._output_mask = self._output_masks[0] if self._single_output else None
        return outs[0] if self._single_output else outs

    def compute_mask(self, x, mask=None):
        return self._output_masks[0] if self._single_output else list(self._output_masks)

    # ---- summary -----------------------------------------------------------------------------------
    def _layer_nodes(self, layer):
        if isinstance(layer, InputLayer):
            return [t.node for t in self.inputs if t.layer is layer]
        return [n for n in self._nodes if n.layer is layer]

    def _ref(self, t):
        return [t.layer.name, self._node_index[id(t.node)], t.index]

    def _summary_rows(self):
        rows = []
        for layer in self.layers:
            nodes = self._layer_nodes(layer)
            shapes = []
            for node in nodes:
                s = [t.shape for t in node.outputs]
                shapes.append(s[0] if node.single_output else s)
            shape = shape_str(shapes[0]) if shapes and all(s == shapes[0] for s in shapes) \
                else "multiple"
            links = [f"{p.layer.name}[{self._node_index[id(p.node)]}][{p.index}]"
                     for node in nodes for p in node.parents]
            rows.append((f"{layer.name} ({type(layer).__name__})", shape, layer.count_params(),
                         links or ["-"]))
        return rows

    def summary(self, line_length=None, print_fn=None):
        """Each layer's name (type), output shape, parameter count and the tensors it reads
        ("connected to", ``layer[node][tensor]`` as Keras prints them), then totals."""
        print_fn = print_fn or print
        rows = self._summary_rows()
        heads = ("Layer (type)", "Output Shape", "Param #", "Connected to")
        w1 = max([len(heads[0])] + [len(r[0]) for r in rows]) + 2
        w2 = max([len(heads[1])] + [len(r[1]) for r in rows]) + 2
        w3 = max([len(heads[2])] + [len(f"{r[2]:,}") for r in rows]) + 2
        w4 = max([len(heads[3])] + [len(x) for r in rows for x in r[3]])
        width = line_length or (w1 + w2 + w3 + w4)
        lines = [f'Model: "{self.name}"', "_" * width,
                 f"{heads[0]:<{w1}}{heads[1]:<{w2}}{heads[2]:>{w3 - 2}}  {heads[3]}",
                 "=" * width]
        for i, (name, shape, n, links) in enumerate(rows):
            lines.append(f"{name:<{w1}}{shape:<{w2}}{n:>{w3 - 2},}  {links[0]}")
            lines += [" " * (w1 + w2 + w3) + link for link in links[1:]]
            if i < len(rows) - 1:
                lines.append("_" * width)
        lines += totals_lines(self, width)
        for line in lines:
            print_fn(line)

    # ---- config ------------------------------------------------------------------------------------
    def _encode(self, value, layer):
        def one(v):
            if isinstance(v, SymbolicTensor):
                return {"class_name": _TENSOR_TAG,
                        "config": {"shape": list(v.shape), "dtype": v.dtype.name,
                                   "keras_history": self._ref(v)}}
            if v is None or isinstance(v, (bool, int, float, str)):
                return v
            if isinstance(v, np.generic):
                return v.item()
            raise TypeError(f"{self.name}.get_config: layer {layer.name!r} was called with "
                            f"{v!r:.80} ({type(v).__name__}), which cannot be saved in a "
                            "config; pass only tensors and numbers / strings / booleans")
        return _listify(map_structure(one, value))

    def get_config(self):
        layers = []
        for layer in self.layers:
            spec = serialize(layer)
            spec["name"] = layer.name
            spec["inbound_nodes"] = [] if isinstance(layer, InputLayer) else [
                {"args": self._encode(list(n.call_args), layer),
                 "kwargs": self._encode(n.call_kwargs, layer)} for n in self._layer_nodes(layer)]
            layers.append(spec)
        refs_in = [self._ref(t) for t in self.inputs]
        refs_out = [self._ref(t) for t in self.outputs]
        return {"name": self.name, "trainable": self._trainable, "layers": layers,
                "input_layers": refs_in[0] if self._single_input else refs_in,
                "output_layers": refs_out[0] if self._single_output else refs_out}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild the layers and replay their calls (weights are new; load them after)."""
        config = dict(config)
        custom_objects = dict(custom_objects or {})
        specs = config.get("layers")
        if not isinstance(specs, list):
            raise ValueError("Functional.from_config: the config has no 'layers' list")
        layers, pending, created = {}, {}, {}
        for spec in specs:
            if not isinstance(spec, dict) or "class_name" not in spec or "name" not in spec:
                raise ValueError(f"Functional.from_config: bad layer entry {spec!r:.200}")
            layer = _deserialize_layer(spec, custom_objects)
            layers[spec["name"]] = layer
            pending[spec["name"]] = list(spec.get("inbound_nodes", []))
            if isinstance(layer, InputLayer):
                created[(spec["name"], 0)] = [layer.output]

        def decode(value):
            if isinstance(value, dict) and value.get("class_name") == _TENSOR_TAG:
                name, node, index = value["config"]["keras_history"]
                return created[(name, node)][index]
            if isinstance(value, dict):
                return {k: decode(v) for k, v in value.items()}
            if isinstance(value, list):
                return [decode(v) for v in value]
            return value

        def ready(value):
            if isinstance(value, dict) and value.get("class_name") == _TENSOR_TAG:
                name, node, _ = value["config"]["keras_history"]
                return (name, node) in created
            if isinstance(value, dict):
                return all(ready(v) for v in value.values())
            if isinstance(value, list):
                return all(ready(v) for v in value)
            return True

        done = {name: 0 for name in layers}
        progress = True
        while progress and any(pending.values()):
            progress = False
            for name, layer in layers.items():
                while pending[name] and ready(pending[name][0]):
                    node = pending[name].pop(0)
                    out = layer(*decode(node.get("args", [])), **decode(node.get("kwargs", {})))
                    created[(name, done[name])] = list(out) if isinstance(out, (list, tuple)) \
                        else [out]
                    done[name] += 1
                    progress = True
        stuck = [name for name, nodes in pending.items() if nodes]
        if stuck:
            raise ValueError(f"Functional.from_config: cannot replay the calls of layer(s) "
                             f"{stuck}: they read tensors no other layer produces")

        def tensors(refs):
            if refs and not isinstance(refs[0], list):
                return decode({"class_name": _TENSOR_TAG, "config": {"keras_history": refs}})
            return [tensors(r) for r in refs]

        model = cls(tensors(config["input_layers"]), tensors(config["output_layers"]),
                    name=config.get("name"))
        if not config.get("trainable", True):
            model.trainable = False
        return model


def _listify(value):
    """Tuples as lists (JSON has no tuples)."""
    if isinstance(value, (list, tuple)):
        return [_listify(v) for v in value]
    if isinstance(value, dict):
        return {k: _listify(v) for k, v in value.items()}
    return value


def _deserialize_layer(spec, custom_objects):
    name = spec["class_name"]
    cls = custom_objects.get(name) or get_layer_class(name)
    config = dict(spec.get("config", {}))
    if "custom_objects" in inspect.signature(cls.from_config).parameters:
        return cls.from_config(config, custom_objects=custom_objects)   # nested models
    return cls.from_config(config)


def _carried_mask(mask, out):
    """A model input's padding mask kept across a first layer that made none (Sequential's
    rule): when the output keeps the mask's leading (batch, time) axes."""
    m = np.asarray(getattr(mask, "data", mask))
    shape = tuple(np.shape(out.data if isinstance(out, Tensor) else out))
    if len(shape) > m.ndim and shape[:m.ndim] == m.shape:
        return m
    return None

