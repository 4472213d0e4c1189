"""Checkpoints: one ``.tnz`` file = a zip of ``.npy`` arrays + ``config.json``.

Layout (readable with ``zipfile``; ``np.load`` also opens it)::

    config.json                 format, version, architecture, weight manifest,
                                compile settings, optimizer scalars, RNG state, epoch
    weights/00000.npy ...       one array per weight, in ``model.weights`` order
    optimizer/00000/m.npy ...   optimizer slots (moments, accumulators) per weight

The architecture is JSON (each layer's class name + ``get_config()``),
rebuilt by looking class names up in the layer registry
(:func:`tinynlp.layers.get_layer_class`) — loading never unpickles and never
executes code from the file: arrays are read with ``allow_pickle=False``,
and only registered classes (or those you pass in ``custom_objects``) are
instantiated.

Writing is atomic: the zip is written to a temporary file in the same
folder, flushed and fsync'ed, then renamed over the target with
``os.replace`` — a crash mid-save leaves the old checkpoint intact.

Reading validates everything: a truncated or corrupt file, a missing array,
a wrong shape or dtype raise :class:`CheckpointError` naming the file and
the problem.

A full save stores the optimizer state and ``tn.random``'s generator state;
``load_model`` restores both (``restore_rng=True``), so::

    model = tn.models.load_model("ckpt-03.tnz")
    model.fit(x, y, epochs=10, initial_epoch=3)

continues exactly as the uninterrupted run would have (same weights, bit for
bit), provided the same data is passed.  (A ``Dropout(seed=...)`` layer's own
generator and callbacks' internal counters are not saved.)
"""

from __future__ import annotations

import inspect
import json
import os
import tempfile
import zipfile
import zlib

import numpy as np

from .. import __version__
from .. import random as tn_random

FORMAT_MODEL = "tinynlp.model"
FORMAT_WEIGHTS = "tinynlp.weights"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file cannot be read: corrupt, truncated, incomplete or mismatched."""


# ---- writing -----------------------------------------------------------------------------

def _atomic_write_zip(path, config, arrays, overwrite=True):
    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"save: {path} exists and overwrite=False")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
                zf.writestr("config.json", json.dumps(config, indent=1, allow_nan=False))
                for name, arr in arrays.items():
                    arr = np.ascontiguousarray(arr).reshape(np.shape(arr))  # keeps 0-d shape
                    with zf.open(name + ".npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, arr, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable (POSIX)
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def _weights_manifest(model):
    return [{"name": p.name, "shape": list(p.shape), "dtype": p.dtype.str,
             "trainable": bool(p.trainable)} for p in model.weights]


def _ensure_built(model, what):
    if not model.built:
        model._try_build()
    if not model.built:
        raise ValueError(f"{what}: the model {model.name!r} has not been built yet, so it has no "
                         "weights; call it on data (fit / predict) or give the first layer an "
                         "input_shape")


def _serialize_metrics(model):
    out = []
    for spec, metric in zip(model._metric_specs, model.compiled_metrics):
        if isinstance(spec, str):
            out.append(spec)
        else:
            out.append({"class_name": type(metric).__name__, "name": metric.name})
    return out


def save_model(model, filepath, overwrite=True, include_optimizer=True, epoch=None):
    """Save architecture + weights (+ optimizer and RNG state) to one file; see module doc."""
    from .. import losses as losses_mod
    from .. import optimizers as optimizers_mod
    _ensure_built(model, "save")
    params = model.weights
    arrays = {f"weights/{i:05d}": p.data for i, p in enumerate(params)}
    compile_cfg = None
    opt_state = None
    if model.optimizer is not None and include_optimizer:
        if hasattr(model, "get_compile_config"):   # functional models: losses per output
            compile_cfg = model.get_compile_config()
        else:
            try:
                loss_cfg = losses_mod.serialize(model.loss)
            except TypeError:
                loss_cfg = {"function": getattr(model.loss, "name", "loss")}
            compile_cfg = {"optimizer": optimizers_mod.serialize(model.optimizer),
                           "loss": loss_cfg, "metrics": _serialize_metrics(model)}
        state = model.optimizer.get_state(params)
        opt_state = {"iterations": state["iterations"],
                     "slots": [sorted(s) for s in state["slots"]]}
        for i, slots in enumerate(state["slots"]):
            for k, v in slots.items():
                arrays[f"optimizer/{i:05d}/{k}"] = v
    try:
        architecture = {"class_name": type(model).__name__, "config": model.get_config()}
        json.dumps(architecture)
    except TypeError as e:
        raise TypeError(f"save: the model's get_config() is not JSON-serialisable ({e}); "
                        "fix get_config or use save_weights") from None
    config = {
        "format": FORMAT_MODEL, "format_version": FORMAT_VERSION, "tinynlp_version": __version__,
        "architecture": architecture,
        "build_input_spec": model._build_input_spec,
        "weights": _weights_manifest(model),
        "compile": compile_cfg,
        "optimizer_state": opt_state,
        "rng_state": tn_random.get_state(),
        "epoch": epoch,
    }
    _atomic_write_zip(filepath, config, arrays, overwrite)


def save_weights(model, filepath, overwrite=True):
    """Save only the weights (+ a manifest of names, shapes and dtypes)."""
    _ensure_built(model, "save_weights")
    arrays = {f"weights/{i:05d}": p.data for i, p in enumerate(model.weights)}
    config = {"format": FORMAT_WEIGHTS, "format_version": FORMAT_VERSION,
              "tinynlp_version": __version__, "weights": _weights_manifest(model)}
    _atomic_write_zip(filepath, config, arrays, overwrite)


# ---- reading -----------------------------------------------------------------------------

class _Reader:
    """Validating access to a checkpoint zip; every failure names the file."""

    def __init__(self, path):
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise FileNotFoundError(f"load: no such checkpoint file: {self.path}")
        if os.path.isdir(self.path):
            raise CheckpointError(f"{self.path}: is a folder, not a .tnz checkpoint file "
                                  "(sharded checkpoints load with tn.compress.load_sharded)")
        try:
            self.zf = zipfile.ZipFile(self.path, "r")
        except zipfile.BadZipFile as e:
            size = os.path.getsize(self.path)
            raise CheckpointError(f"{self.path}: not a valid tinynlp checkpoint — the zip "
                                  f"structure is unreadable ({e}); the file ({size} bytes) is "
                                  "truncated or corrupt") from None
        self.names = set(self.zf.namelist())
        if "config.json" not in self.names:
            self.close()
            raise CheckpointError(f"{self.path}: not a tinynlp checkpoint (no config.json "
                                  "entry in the zip)")
        try:
            raw = self.zf.read("config.json")
            self.config = json.loads(raw.decode("utf-8"))
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as e:
            self.close()
            raise CheckpointError(f"{self.path}: config.json is corrupt ({e})") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            self.close()
            raise CheckpointError(f"{self.path}: config.json is not valid JSON ({e})") from None
        if not isinstance(self.config, dict) or self.config.get("format") not in (
                FORMAT_MODEL, FORMAT_WEIGHTS):
            self.close()
            raise CheckpointError(f"{self.path}: config.json does not describe a tinynlp "
                                  "model or weights file")
        version = self.config.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            self.close()
            raise CheckpointError(f"{self.path}: format version {version!r} is not supported "
                                  f"(this tinynlp reads up to {FORMAT_VERSION})")

    def array(self, key, expect_shape=None, expect_dtype=None, what=None):
        name = key + ".npy"
        what = what or key
        if name not in self.names:
            raise CheckpointError(f"{self.path}: the array for {what} ({name}) is missing")
        try:
            with self.zf.open(name) as f:
                arr = np.lib.format.read_array(f, allow_pickle=False)
        except ValueError as e:
            raise CheckpointError(f"{self.path}: cannot read {what} ({name}): {e}") from None
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as e:
            raise CheckpointError(f"{self.path}: {what} ({name}) is corrupt or truncated "
                                  f"({e})") from None
        if arr.dtype.kind not in "fiub":
            raise CheckpointError(f"{self.path}: {what} ({name}) has dtype {arr.dtype}, "
                                  "expected a numeric array")
        if expect_shape is not None and tuple(arr.shape) != tuple(expect_shape):
            raise CheckpointError(f"{self.path}: {what} has shape {tuple(arr.shape)} in the "
                                  f"file, expected {tuple(expect_shape)}")
        if expect_dtype is not None and arr.dtype != np.dtype(expect_dtype):
            raise CheckpointError(f"{self.path}: {what} has dtype {arr.dtype} in the file, "
                                  f"expected {np.dtype(expect_dtype)}")
        return arr

    def close(self):
        self.zf.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _read_weights(reader, params):
    manifest = reader.config.get("weights")
    if not isinstance(manifest, list):
        raise CheckpointError(f"{reader.path}: config.json has no weight manifest")
    if len(manifest) != len(params):
        raise CheckpointError(
            f"{reader.path}: the file holds {len(manifest)} weight arrays but the model has "
            f"{len(params)} ({[p.name for p in params][:8]}...)")
    values = []
    for i, (p, entry) in enumerate(zip(params, manifest)):
        values.append(reader.array(f"weights/{i:05d}", expect_shape=p.shape,
                                   what=f"weight {i} ({p.name!r}, file name "
                                        f"{entry.get('name')!r})"))
    return values


def load_weights(model, filepath):
    """Set ``model``'s weights from a weights or model file (count, shapes checked first)."""
    with _Reader(filepath) as reader:
        _ensure_built(model, "load_weights")
        params = model.weights
        values = _read_weights(reader, params)
    for p, v in zip(params, values):
        p.data[...] = v.astype(p.dtype, copy=False)


def _rebuild(reader, custom_objects):
    from ..layers import get_layer_class
    from .model import Model
    from .sequential import Sequential
    arch = reader.config.get("architecture")
    if not isinstance(arch, dict) or "class_name" not in arch:
        raise CheckpointError(f"{reader.path}: config.json has no architecture")
    name = arch["class_name"]
    custom_objects = dict(custom_objects or {})
    if name in custom_objects:
        cls = custom_objects[name]
    elif name == "Sequential":
        cls = Sequential
    else:
        try:
            cls = get_layer_class(name)
        except ValueError:
            raise CheckpointError(
                f"{reader.path}: the model class {name!r} is not registered; for a subclassed "
                f"model pass custom_objects={{{name!r}: {name}}} (and give it "
                "get_config/from_config), or rebuild it yourself and call load_weights"
            ) from None
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise CheckpointError(f"{reader.path}: {name!r} is not a Model class")
    try:
        if cls is Sequential or issubclass(cls, Sequential) or \
                "custom_objects" in inspect.signature(cls.from_config).parameters:
            model = cls.from_config(dict(arch.get("config", {})), custom_objects=custom_objects)
        else:
            model = cls.from_config(dict(arch.get("config", {})))
    except (TypeError, ValueError, KeyError) as e:
        raise CheckpointError(f"{reader.path}: cannot rebuild the architecture: {e}") from None
    spec = reader.config.get("build_input_spec")
    if spec and not model.weights:
        try:
            dummies = [np.zeros((1, *[1 if d is None else int(d) for d in shape]),
                                dtype=np.dtype(dtype)) for shape, dtype in spec]
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"{reader.path}: bad build_input_spec {spec!r}: {e}") from None
        if isinstance(model, Sequential):
            model._build_input_spec = spec
            model.built = False
            model._try_build()
        else:
            from ..autograd import no_grad
            with no_grad():
                model(dummies if len(dummies) > 1 else dummies[0], training=False)
            model._build_input_spec = spec
    return model


def load_model(filepath, custom_objects=None, compile=True, restore_rng=True):
    """Rebuild a model saved by ``model.save`` (architecture, weights, optimizer, RNG state).

    ``custom_objects``: ``{"ClassName": class}`` for your own layer / model
    classes and loss functions.  ``compile=False`` skips the optimizer.
    ``restore_rng=True`` puts ``tn.random`` back in the state it had at save
    time, so a resumed ``fit`` repeats the uninterrupted run exactly.
    """
    from .. import losses as losses_mod
    from .. import metrics as metrics_mod
    from .. import optimizers as optimizers_mod
    with _Reader(filepath) as reader:
        if reader.config.get("format") != FORMAT_MODEL:
            raise CheckpointError(f"{reader.path}: holds only weights; rebuild the model and "
                                  "call model.load_weights(path)")
        model = _rebuild(reader, custom_objects)
        params = model.weights
        values = _read_weights(reader, params)
        for p, v in zip(params, values):
            p.data[...] = v.astype(p.dtype, copy=False)
        cfg = reader.config.get("compile")
        if compile and cfg:
            try:
                optimizer = optimizers_mod.get(cfg["optimizer"])
            except (TypeError, ValueError, KeyError) as e:
                raise CheckpointError(f"{reader.path}: bad optimizer config: {e}") from None
            loss_cfg = cfg.get("loss") or {}
            loss = None
            if hasattr(model, "compile_from_config"):   # functional models: losses per output
                try:
                    model.compile_from_config(dict(cfg, optimizer=optimizer), custom_objects)
                except (TypeError, ValueError, KeyError) as e:
                    raise CheckpointError(f"{reader.path}: bad compile config: {e}") from None
                loss, optimizer = model.loss, model.optimizer
            elif "function" in loss_cfg:
                loss = (custom_objects or {}).get(loss_cfg["function"])
            else:
                try:
                    loss = losses_mod.get(loss_cfg)
                except (TypeError, ValueError) as e:
                    raise CheckpointError(f"{reader.path}: bad loss config: {e}") from None
            if loss is not None:
                metrics = []
                for m in cfg.get("metrics", []) if not hasattr(model, "compile_from_config") \
                        else []:
                    if isinstance(m, str):
                        metrics.append(m)
                    else:
                        cls = getattr(metrics_mod, str(m.get("class_name")), None)
                        if isinstance(cls, type) and issubclass(cls, metrics_mod.Metric):
                            try:
                                metrics.append(cls(name=m.get("name")))
                            except TypeError:
                                metrics.append(cls())
                if not hasattr(model, "compile_from_config"):
                    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
                st = reader.config.get("optimizer_state") or {}
                slot_names = st.get("slots", [])
                if len(slot_names) != len(params):
                    raise CheckpointError(f"{reader.path}: optimizer state covers "
                                          f"{len(slot_names)} weights, the model has "
                                          f"{len(params)}")
                slots = []
                for i, (p, names) in enumerate(zip(params, slot_names)):
                    slots.append({k: reader.array(f"optimizer/{i:05d}/{k}", p.shape,
                                                  what=f"optimizer slot {k!r} of {p.name!r}")
                                  for k in names})
                try:
                    optimizer.set_state({"iterations": int(st.get("iterations", 0)),
                                         "slots": slots}, params)
                except ValueError as e:
                    raise CheckpointError(f"{reader.path}: {e}") from None
        model.saved_epoch = reader.config.get("epoch")
        if restore_rng and reader.config.get("rng_state") is not None:
            try:
                tn_random.set_state(reader.config["rng_state"])
            except (TypeError, ValueError, KeyError) as e:
                raise CheckpointError(f"{reader.path}: bad random-generator state: {e}") \
                    from None
    return model
