"""``load_model``: rebuild a model from a checkpoint written by ``model.save``.

The checkpoint format (and the writer) is :mod:`tinynlp.models.saving`; this
module rebuilds the architecture from its JSON (class names looked up in the
layer registry — never unpickled), sets the weights, and restores the compile
settings, the optimizer state and ``tn.random``'s state.

The architecture is rebuilt under a :class:`~tinynlp.layers.weight_guard.WeightGuard`
holding the file's (already checked) manifest: a layer config asking for a
weight the file does not hold is refused before the weight is allocated.  Any
error while rebuilding or restoring becomes a :class:`CheckpointError` naming
the file.
"""

from __future__ import annotations

import inspect
import json

import numpy as np

from .. import losses as losses_mod
from .. import metrics as metrics_mod
from .. import optimizers as optimizers_mod
from .. import random as tn_random
from ..autograd import no_grad
from ..layers.registry import get_layer_class
from ..layers.weight_guard import (
    REBUILD_ERRORS, WeightGuard, check_build_input, guarded_build,
)
from .model import Model
from .saving import FORMAT_MODEL, CheckpointError, CheckpointReader, read_weights
from .sequential import Sequential

__all__ = ["load_model", "model_from_config", "model_from_json"]


def model_from_config(architecture, custom_objects=None):
    """The model described by ``{"class_name": ..., "config": {...}}`` (what ``save`` and
    ``to_json`` write), not built: classes are looked up in the layer registry (or
    ``custom_objects``), never imported or executed from the data.  Raises ValueError."""
    if not isinstance(architecture, dict) or not isinstance(architecture.get("class_name"), str):
        raise ValueError(f"expected a model architecture {{'class_name': ..., 'config': "
                         f"{{...}}}}, got {architecture!r:.200}")
    name = architecture["class_name"]
    custom_objects = dict(custom_objects or {})
    if name in custom_objects:
        cls = custom_objects[name]
    elif name == "Sequential":
        cls = Sequential
    else:
        try:
            cls = get_layer_class(name)
        except ValueError:
            raise ValueError(
                f"the model class {name!r} is not registered; for a subclassed model pass "
                f"custom_objects={{{name!r}: {name}}} (and give it get_config/from_config), or "
                "rebuild it yourself and call load_weights") from None
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise ValueError(f"{name!r} is not a Model class")
    config = architecture.get("config", {})
    if not isinstance(config, dict):
        raise ValueError(f"the config of {name!r} must be a JSON object, got {config!r:.200}")
    try:
        if cls is Sequential or issubclass(cls, Sequential) or \
                "custom_objects" in inspect.signature(cls.from_config).parameters:
            model = cls.from_config(dict(config), custom_objects=custom_objects)
        else:
            model = cls.from_config(dict(config))
    except CheckpointError:
        raise                      # the weight guard's refusal, already naming the file
    except REBUILD_ERRORS as e:
        raise ValueError(f"cannot rebuild the architecture ({type(e).__name__}: {e})") from None
    if not isinstance(model, Model):
        raise ValueError(f"{cls.__name__}.from_config did not return a model")
    return model


def model_from_json(json_string, custom_objects=None):
    """The model saved by ``model.to_json()`` — its architecture, with fresh weights (Keras'
    ``model_from_json``; set weights with ``set_weights`` or ``load_weights``)."""
    try:
        architecture = json.loads(json_string)
    except (TypeError, json.JSONDecodeError) as e:
        raise ValueError(f"model_from_json: not a JSON string ({e})") from None
    try:
        return model_from_config(architecture, custom_objects)
    except ValueError as e:
        raise ValueError(f"model_from_json: {e}") from None


def _rebuild(reader, custom_objects):
    """The model described by the checkpoint's architecture, built (weights not set)."""
    arch = reader.config.get("architecture")
    if not isinstance(arch, dict) or "class_name" not in arch:
        raise CheckpointError(f"{reader.path}: config.json has no architecture")
    try:
        model = model_from_config(arch, custom_objects)
        _build_from_spec(model, reader)
    except CheckpointError:
        raise
    except REBUILD_ERRORS as e:
        raise CheckpointError(f"{reader.path}: {e}") from None
    return model


def _build_from_spec(model, reader):
    """Build a model whose layers learn their shapes on the first call (a dry run on zeros of
    the recorded input spec)."""
    spec = reader.config.get("build_input_spec")
    if spec and not model.weights:
        for shape, _ in spec:
            check_build_input(shape, "build_input_spec")
        dummies = [np.zeros((1, *[1 if d is None else int(d) for d in shape]),
                            dtype=np.dtype(dtype)) for shape, dtype in spec]
        if isinstance(model, Sequential):
            model._build_input_spec = spec
            model.built = False
            model._try_build()
        else:
            with no_grad():
                model(dummies if len(dummies) > 1 else dummies[0], training=False)
            model._build_input_spec = spec


def _metrics_from_config(specs):
    """Metric names and registered Metric objects from a saved compile config."""
    metrics = []
    for m in specs:
        if isinstance(m, str):
            metrics.append(m)
        else:
            cls = getattr(metrics_mod, str(m.get("class_name")), None)
            if isinstance(cls, type) and issubclass(cls, metrics_mod.Metric):
                try:
                    metrics.append(cls(name=m.get("name")))
                except TypeError:
                    metrics.append(cls())
    return metrics


def load_model(filepath, custom_objects=None, compile=True, restore_rng=True):
    """Rebuild a model saved by ``model.save`` (architecture, weights, optimizer, RNG state).

    ``custom_objects``: ``{"ClassName": class}`` for your own layer / model
    classes and loss functions.  ``compile=False`` skips the optimizer.
    ``restore_rng=True`` puts ``tn.random`` back in the state it had at save
    time, so a resumed ``fit`` repeats the uninterrupted run exactly.
    A malformed file raises :class:`CheckpointError` (a ValueError) naming it.
    """
    with CheckpointReader(filepath) as reader:
        if reader.config.get("format") != FORMAT_MODEL:
            raise CheckpointError(f"{reader.path}: holds only weights; rebuild the model and "
                                  "call model.load_weights(path)")
        entries, total = reader.check_manifest()
        guard = WeightGuard(entries, reader.path, CheckpointError, budget=total)
        with guarded_build(guard):
            model = _rebuild(reader, custom_objects)
        params = model.weights
        values = read_weights(reader, params)
        for p, v in zip(params, values):
            p.data[...] = v.astype(p.dtype, copy=False)
        cfg = reader.config.get("compile")
        if compile and cfg:
            try:
                _restore_compile(reader, model, cfg, custom_objects)
            except CheckpointError:
                raise
            except REBUILD_ERRORS as e:
                raise CheckpointError(f"{reader.path}: bad compile or optimizer state "
                                      f"({type(e).__name__}: {e})") from None
        model.saved_epoch = reader.config.get("epoch")
        if restore_rng and reader.config.get("rng_state") is not None:
            try:
                tn_random.set_state(reader.config["rng_state"])
            except REBUILD_ERRORS as e:
                raise CheckpointError(f"{reader.path}: bad random-generator state "
                                      f"({type(e).__name__}: {e})") from None
    return model


def _restore_compile(reader, model, cfg, custom_objects):
    """Compile ``model`` as saved and put the optimizer's state back."""
    params = model.weights
    optimizer = optimizers_mod.get(cfg["optimizer"])
    loss_cfg = cfg.get("loss") or {}
    loss = None
    if hasattr(model, "compile_from_config"):   # functional models: losses per output
        model.compile_from_config(dict(cfg, optimizer=optimizer), custom_objects)
        loss, optimizer = model.loss, model.optimizer
    elif isinstance(loss_cfg, dict) and "function" in loss_cfg:
        loss = (custom_objects or {}).get(loss_cfg["function"])
    else:
        loss = losses_mod.get(loss_cfg)
    if loss is None:
        return
    if not hasattr(model, "compile_from_config"):
        model.compile(optimizer=optimizer, loss=loss,
                      metrics=_metrics_from_config(cfg.get("metrics", [])))
    st = reader.config.get("optimizer_state") or {}
    slot_names = st.get("slots", [])
    if len(slot_names) != len(params):
        raise CheckpointError(f"{reader.path}: optimizer state covers {len(slot_names)} "
                              f"weights, the model has {len(params)}")
    slots = []
    for i, (p, names) in enumerate(zip(params, slot_names)):
        slots.append({k: reader.array(f"optimizer/{i:05d}/{k}", p.shape,
                                      what=f"optimizer slot {k!r} of {p.name!r}")
                      for k in names})
    optimizer.set_state({"iterations": int(st.get("iterations", 0)), "slots": slots}, params)
