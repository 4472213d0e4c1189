"""Checkpoints: one ``.tnz`` file = a zip of ``.npy`` arrays + ``config.json``.

Layout (readable with ``zipfile``; ``np.load`` also opens it)::

    config.json                 format, version, architecture, weight manifest,
                                compile settings, optimizer scalars, RNG state, epoch
    weights/00000.npy ...       one array per weight, in ``model.weights`` order
    optimizer/00000/m.npy ...   optimizer slots (moments, accumulators) per weight

The architecture is JSON (each layer's class name + ``get_config()``),
rebuilt (by :mod:`tinynlp.models.loading`) by looking class names up in the layer registry
(:func:`tinynlp.layers.get_layer_class`) — loading never unpickles and never
executes code from the file: arrays are read with ``allow_pickle=False``,
and only registered classes (or those you pass in ``custom_objects``) are
instantiated.

Writing is atomic (:mod:`tinynlp.atomic`): the zip is written to a temporary
file in the same folder, flushed and fsync'ed, then renamed over the target
with ``os.replace`` — a crash mid-save leaves the old checkpoint intact.

Reading validates everything, and checks sizes before allocating them: the
archive's members (:mod:`tinynlp.npyio`), every field of ``config.json``
(:mod:`tinynlp.models.checkpoint_config`), the manifest against each member's
``.npy`` header, and — while the architecture is rebuilt — every weight a
layer asks for against the manifest (:mod:`tinynlp.layers.weight_guard`), so a
small file cannot make the loader allocate more than the file declares.  A
truncated or corrupt file, a missing array, a wrong shape or dtype raise
:class:`CheckpointError` naming the file and the problem.

A full save stores the optimizer state and ``tn.random``'s generator state;
``load_model`` restores both (``restore_rng=True``), so::

    model = tn.models.load_model("ckpt-03.tnz")
    model.fit(x, y, epochs=10, initial_epoch=3)

continues exactly as the uninterrupted run would have (same weights, bit for
bit), provided the same data is passed.  (A ``Dropout(seed=...)`` layer's own
generator and callbacks' internal counters are not saved.)
"""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from .. import __version__
from .. import losses as losses_mod
from .. import optimizers as optimizers_mod
from .. import random as tn_random
from ..atomic import atomic_write
from ..npyio import open_archive, read_header, read_json_member, read_member
from .checkpoint_config import (
    FORMAT_MODEL, FORMAT_VERSION, FORMAT_WEIGHTS, CheckpointError, check_config,
)

__all__ = ["CheckpointError", "CheckpointReader", "save_model", "save_weights", "load_weights",
           "read_weights", "ensure_built", "FORMAT_MODEL", "FORMAT_WEIGHTS", "FORMAT_VERSION"]


# ---- writing -----------------------------------------------------------------------------

def _write_zip(path, config, arrays, overwrite=True):
    """The checkpoint zip (config.json + one .npy per array), written atomically."""
    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"save: {path} exists and overwrite=False")

    def write(f):
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            zf.writestr("config.json", json.dumps(config, indent=1, allow_nan=False))
            for name, arr in arrays.items():
                arr = np.ascontiguousarray(arr).reshape(np.shape(arr))  # keeps 0-d shape
                with zf.open(name + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, arr, allow_pickle=False)

    atomic_write(path, write)


def _weights_manifest(model):
    return [{"name": p.name, "shape": list(p.shape), "dtype": p.dtype.str,
             "trainable": bool(p.trainable)} for p in model.weights]


def ensure_built(model, what):
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
    ensure_built(model, "save")
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
    _write_zip(filepath, config, arrays, overwrite)


def save_weights(model, filepath, overwrite=True):
    """Save only the weights (+ a manifest of names, shapes and dtypes)."""
    ensure_built(model, "save_weights")
    arrays = {f"weights/{i:05d}": p.data for i, p in enumerate(model.weights)}
    config = {"format": FORMAT_WEIGHTS, "format_version": FORMAT_VERSION,
              "tinynlp_version": __version__, "weights": _weights_manifest(model)}
    _write_zip(filepath, config, arrays, overwrite)


# ---- reading -----------------------------------------------------------------------------

class CheckpointReader:
    """Validating access to a checkpoint zip; every failure names the file.

    Opening checks the archive (:func:`tinynlp.npyio.open_archive`) and the
    structure of ``config.json`` (each field's type); :meth:`check_manifest`
    compares the weight manifest with every weight member's ``.npy`` header —
    all before anything the file declares is allocated.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise FileNotFoundError(f"load: no such checkpoint file: {self.path}")
        if os.path.isdir(self.path):
            raise CheckpointError(f"{self.path}: is a folder, not a .tnz checkpoint file "
                                  "(sharded checkpoints load with tn.compress.load_sharded)")
        self.zf = open_archive(self.path, CheckpointError, kind="tinynlp checkpoint")
        try:
            self.names = set(self.zf.namelist())
            if "config.json" not in self.names:
                raise CheckpointError(f"{self.path}: not a tinynlp checkpoint (no config.json "
                                      "entry in the zip)")
            self.config = read_json_member(self.zf, "config.json", CheckpointError, self.path)
            check_config(self.config, self.path)
        except BaseException:
            self.close()
            raise

    def array(self, key, expect_shape=None, expect_dtype=None, what=None):
        """The array of member ``key + ".npy"`` (header checked before the data is read)."""
        name = key + ".npy"
        what = what or key
        if name not in self.names:
            raise CheckpointError(f"{self.path}: the array for {what} ({name}) is missing")
        return read_member(self.zf, name, CheckpointError, self.path, label=what,
                           expect_shape=expect_shape, expect_dtype=expect_dtype)

    def check_manifest(self):
        """Compare each manifest entry with its member's ``.npy`` header (nothing else is
        read).  Returns ``(entries, total)``: ``[(name, shape, dtype), ...]`` and the bytes
        all weight members declare, for a :class:`~tinynlp.layers.weight_guard.WeightGuard`."""
        entries = []
        for i, entry in enumerate(self.config["weights"]):
            name = f"weights/{i:05d}.npy"
            what = f"weight {i} ({entry['name']!r})"
            if name not in self.names:
                raise CheckpointError(f"{self.path}: the array for {what} ({name}) is missing")
            header = read_header(self.zf, name, CheckpointError, self.path, label=what)
            shape, dtype = tuple(entry["shape"]), np.dtype(entry["dtype"])
            if header.shape != shape:
                raise CheckpointError(f"{self.path}: {what} has shape {header.shape} in the "
                                      f"file, expected {shape} (config.json's manifest)")
            if header.dtype != dtype:
                raise CheckpointError(f"{self.path}: {what} has dtype {header.dtype} in the "
                                      f"file, expected {dtype} (config.json's manifest)")
            entries.append((entry["name"], shape, dtype))
        total = sum(info.file_size for info in self.zf.infolist()
                    if info.filename.startswith("weights/"))
        return entries, total

    def close(self):
        self.zf.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_weights(reader, params):
    manifest = reader.config["weights"]
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
    with CheckpointReader(filepath) as reader:
        ensure_built(model, "load_weights")
        params = model.weights
        values = read_weights(reader, params)
    for p, v in zip(params, values):
        p.data[...] = v.astype(p.dtype, copy=False)
