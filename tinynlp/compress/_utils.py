"""Helpers shared by the compression tools: walking layers, running a model, files."""

from __future__ import annotations

import re

import numpy as np

from ..autograd import Tensor, no_grad
from ..layers.base import Layer, Parameter
from ..layers.registry import deserialize, get_layer_class
from ..layers.weight_guard import check_build_input
from ..models import Model, Sequential


def iter_layers(model):
    """Every layer reachable from ``model`` (itself first), depth first, each once."""
    seen, stack, out = set(), [model], []
    while stack:
        layer = stack.pop()
        if id(layer) in seen or not isinstance(layer, Layer):
            continue
        seen.add(id(layer))
        out.append(layer)
        stack.extend(reversed(layer._sublayers()))
    return out


def owned_parameters(model):
    """``[(layer, parameter)]`` for every parameter, paired with the layer that created it."""
    out, seen = [], set()
    for layer in iter_layers(model):
        for p in layer._params:
            if id(p) not in seen:
                seen.add(id(p))
                out.append((layer, p))
    return out


def short_name(param) -> str:
    """``"dense/kernel"`` → ``"kernel"``."""
    return (param.name or "").rsplit("/", 1)[-1]


def run_model(model, x, batch_size=64):
    """Inference on ``x`` in batches (no graph); returns the concatenated outputs."""
    n = len(x)
    outs = []
    with no_grad():
        for start in range(0, n, batch_size):
            y = model(x[start:start + batch_size], training=False)
            outs.append(y.data if isinstance(y, Tensor) else np.asarray(y))
    return np.concatenate(outs) if outs else np.zeros((0,))


def parse_size(size) -> int:
    """``"2MB"`` → 2,000,000 bytes (kB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024)."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        if size <= 0:
            raise ValueError(f"max_shard_size must be positive, got {size}")
        return int(size)
    if not isinstance(size, str):
        raise TypeError(f"max_shard_size must be an int (bytes) or a string like '2MB', "
                        f"got {size!r}")
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMgG]i?[bB]|[bB])?\s*", size)
    if not m:
        raise ValueError(f"max_shard_size: cannot parse {size!r}; expected e.g. '500kB', "
                         "'2MB', '1GiB' or a number of bytes")
    value, unit = float(m.group(1)), (m.group(2) or "B").upper()
    factor = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9,
              "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}[unit]
    n = int(value * factor)
    if n <= 0:
        raise ValueError(f"max_shard_size must be positive, got {size!r}")
    return n


# --------------------------------------------------------------------------
# architectures: what a checkpoint stores to rebuild the model
# --------------------------------------------------------------------------

def model_architecture(model) -> dict:
    """``{"class_name", "config", "build_input_spec"}`` — JSON, no weights.

    ``config`` comes from ``model.get_config()`` (a Sequential lists its layer
    configs); ``build_input_spec`` is the input shape/dtype the model was
    built with (``[[shape without batch, dtype str], ...]``) when known.
    """
    spec = {"class_name": type(model).__name__, "config": model.get_config()}
    build = getattr(model, "_build_input_spec", None)
    if build is None and getattr(model, "input_shape", None) is not None:
        build = [[list(model.input_shape), "<f4"]]
    spec["build_input_spec"] = build
    return spec


def _model_class(name):
    if name == "Sequential":
        return Sequential
    if name == "Model":
        return Model
    return get_layer_class(name)


def rebuild_model(spec, before_build=None):
    """An unbuilt model from :func:`model_architecture`'s output.

    ``before_build(layer)`` is called on every layer before anything is built
    (to attach a weight source); a Sequential's layers are created first and
    the model assembled from them.
    """
    if not isinstance(spec, dict) or "class_name" not in spec:
        raise ValueError(f"not a model architecture: {spec!r:.200}")
    name, config = spec["class_name"], dict(spec.get("config") or {})
    if name == "Sequential" and isinstance(config.get("layers"), list):
        layers = [deserialize(s) for s in config["layers"]]
        if before_build is not None:
            for layer in layers:
                for sub in iter_layers(layer):
                    before_build(sub)
        # assemble without the dummy build pass a known input shape triggers: a
        # lazily loaded model should read a layer's weights only when it runs
        first_shape = layers[0].input_shape if layers else None
        if layers:
            layers[0].input_shape = None
        model = Sequential(layers=layers, name=config.get("name"))
        if layers:
            layers[0].input_shape = first_shape
        if config.get("trainable") is False:
            model.trainable = False
    else:
        model = _model_class(name).from_config(config)
        if before_build is not None:
            for layer in iter_layers(model):
                if not layer.built:
                    before_build(layer)
    return model


def build_now(model, spec):
    """Build ``model`` by running a dummy batch of the recorded input shape (if known)."""
    if model.built and model.weights:
        return model
    inputs = (spec or {}).get("build_input_spec")
    if not inputs:
        return model
    arrays = []
    for shape, dtype in inputs:
        check_build_input(shape, "build_input_spec")
        dims = [8 if d is None else int(d) for d in shape]
        arrays.append(np.zeros((1, *dims), dtype=np.dtype(dtype)))
    with no_grad():
        model(arrays[0] if len(arrays) == 1 else arrays, training=False)
    return model


# --------------------------------------------------------------------------
# weight sources: layers that take their weights by name when they build
# --------------------------------------------------------------------------

class ArraySource:
    """Weights held in a dict ``{name: array}`` (the interface of ``ShardedCheckpoint``)."""

    def __init__(self, arrays, what="checkpoint"):
        self.arrays = dict(arrays)
        self.what = what
        self.loaded = []

    def get(self, name, copy=False, expect_shape=None):
        if name not in self.arrays:
            raise ValueError(f"{self.what}: the model has a weight {name!r} that the file does "
                             f"not hold (it holds {sorted(self.arrays)[:8]})")
        a = self.arrays[name]
        if expect_shape is not None and tuple(expect_shape) != a.shape:
            raise ValueError(f"{self.what}: weight {name!r} has shape {a.shape}, the model "
                             f"expects {tuple(expect_shape)}")
        self.loaded.append(name)
        return np.array(a) if copy else a


def attach_weight_source(layer, source, copy):
    """Make ``layer`` take each weight from ``source`` (by full name) when it builds,
    instead of initialising it: no random init, and with memory-mapped sources
    nothing is read until the layer runs."""

    def add_weight(name, shape, initializer="glorot_uniform", trainable=True,
                   regularizer=None, dtype=None, sparse=False):
        full = f"{layer.name}/{name}"
        data = source.get(full, copy=copy, expect_shape=tuple(shape))
        p = Parameter(np.zeros(0, np.float32), name=full,
                      trainable=trainable and layer._trainable, regularizer=regularizer,
                      sparse=sparse)
        p.data = data
        p.requires_grad = p.trainable and data.dtype.kind == "f"
        layer._params.append(p)
        return p

    layer.add_weight = add_weight


def detach_weight_source(layer):
    """Undo :func:`attach_weight_source` (breaks the layer ↔ closure reference cycle)."""
    layer.__dict__.pop("add_weight", None)


def fill_built_weights(model, source, copy):
    """Layers already built while the model was assembled: take their weights from ``source``."""
    for layer in iter_layers(model):
        for p in layer._params:
            if p.name not in source.loaded:
                p.data = source.get(p.name, copy=copy, expect_shape=p.shape)
