"""Model splitting: sharded checkpoints, lazily memory-mapped weights, and
layer-by-layer inference that holds one layer in memory at a time.

Layout of a sharded checkpoint folder::

    index.json                      architecture + where every weight lives
    shard-00001-of-00003.npy        a flat uint8 buffer: several weights back to back
    shard-00002-of-00003.npy
    ...

Each shard is an ordinary ``.npy`` file holding a 1-D ``uint8`` array — the
raw bytes of the weights assigned to it, each starting at a 64-byte-aligned
``offset``.  Weights are packed in the model's weight order into shards of at
most ``max_shard_size`` bytes (a single weight larger than that gets a shard
of its own).  ``index.json`` maps each weight name to its shard file, offset,
dtype and shape, and stores the architecture (the layer configs).

Loading with ``lazy=True`` memory-maps the shards (``np.load(mmap_mode="c")``:
copy-on-write, so even training a lazily loaded model never writes to the
files).  A layer's weights are looked up only when that layer builds — on its
first call — and the operating system reads their pages only when the
computation touches them.  :func:`layer_by_layer_predict` goes further for a
``Sequential`` architecture: it creates one layer, reads its weights into
memory, runs it on the whole input, and drops it before the next.

Every path and array is checked: an index naming a shard outside its folder
(``../x.npy``, an absolute path, a symlink leading out), a missing shard, or a
shard too small or of the wrong dtype for the weights it should hold fails
with an error naming the weight and the file.
"""

from __future__ import annotations

import json
import os
import tracemalloc

import numpy as np

from ..atomic import atomic_write, write_json_atomic
from ..autograd import Tensor, no_grad
from ..layers.registry import deserialize
from ._utils import (
    attach_weight_source, build_now, detach_weight_source, fill_built_weights, iter_layers,
    model_architecture, parse_size, rebuild_model,
)

__all__ = ["save_sharded", "load_sharded", "layer_by_layer_predict", "ShardedCheckpoint",
           "ShardError", "peak_memory"]

FORMAT = "tinynlp-sharded"
INDEX = "index.json"
ALIGN = 64


class ShardError(ValueError):
    """A sharded checkpoint is malformed (bad index, missing or mismatched shard)."""


# --------------------------------------------------------------------------
# architecture (delegated to the layer registry: models register themselves)
# --------------------------------------------------------------------------

def _architecture(model):
    return model_architecture(model)


# --------------------------------------------------------------------------
# saving
# --------------------------------------------------------------------------

def _align(n):
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _plan_shards(sizes, max_bytes):
    """Greedy packing in order: list of shards, each a list of (weight index, offset)."""
    shards, current, used = [], [], 0
    for i, n in enumerate(sizes):
        start = _align(used)
        if current and start + n > max_bytes:
            shards.append(current)
            current, start = [], 0
        current.append((i, start))
        used = start + n
    if current or not shards:
        shards.append(current)
    return shards


def save_sharded(model, folder, max_shard_size="2MB"):
    """Write ``model``'s weights to ``folder`` as shards of at most ``max_shard_size``.

    ``max_shard_size``: bytes (int) or a string such as ``"500kB"``, ``"2MB"``,
    ``"1GiB"``.  Files are written atomically (temporary file, then rename);
    ``index.json`` last, so a folder with an index is complete.  Returns the
    path of the index.
    """
    max_bytes = parse_size(max_shard_size)
    params = model.weights
    names = [p.name for p in params]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"save_sharded: weight names must be unique, {dupes} occur more than "
                         "once (give the layers distinct names)")
    arrays = [np.ascontiguousarray(p.data) for p in params]
    plan = _plan_shards([a.nbytes for a in arrays], max_bytes)
    os.makedirs(folder, exist_ok=True)
    total = len(plan)
    weights, shards = [], {}
    for k, members in enumerate(plan):
        fname = f"shard-{k + 1:05d}-of-{total:05d}.npy"
        size = max((off + arrays[i].nbytes for i, off in members), default=0)
        buf = np.zeros(size, dtype=np.uint8)
        for i, off in members:
            a = arrays[i]
            buf[off:off + a.nbytes] = a.reshape(-1).view(np.uint8)
            weights.append({"name": names[i], "shard": fname, "offset": off,
                            "dtype": a.dtype.str, "shape": list(a.shape)})
        _write_npy(os.path.join(folder, fname), buf)
        shards[fname] = {"nbytes": int(size)}
    weights.sort(key=lambda e: names.index(e["name"]))
    index = {"format": FORMAT, "version": 1, "max_shard_size": max_bytes,
             "architecture": _architecture(model), "weights": weights, "shards": shards}
    path = os.path.join(folder, INDEX)
    write_json_atomic(path, index)
    return path


def _write_npy(path, arr):
    atomic_write(path, lambda f: np.save(f, arr, allow_pickle=False))


# --------------------------------------------------------------------------
# reading: the checkpoint and its checks
# --------------------------------------------------------------------------

class ShardedCheckpoint:
    """An opened sharded folder: the validated index, and weights on demand.

    ``get(name, copy=False)`` returns a weight as a (copy-on-write) memory-mapped
    view, or an in-memory copy.  Shards are opened on first use; ``loaded``
    records which weights have been handed out.
    """

    def __init__(self, folder):
        self.folder = os.path.abspath(os.fspath(folder))
        path = os.path.join(self.folder, INDEX)
        if not os.path.isdir(self.folder):
            raise ShardError(f"load_sharded: {folder!r} is not a folder")
        if not os.path.isfile(path):
            raise ShardError(f"load_sharded: no {INDEX} in {folder!r}")
        try:
            with open(path, encoding="utf-8") as fh:
                index = json.load(fh)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ShardError(f"load_sharded: {path!r} is not valid JSON: {e}") from None
        if not isinstance(index, dict) or index.get("format") != FORMAT:
            found = index.get("format") if isinstance(index, dict) else None
            raise ShardError(f"load_sharded: {path!r} is not a {FORMAT} index "
                             f"(format={found!r})")
        self.index = index
        self.architecture = index.get("architecture")
        self.entries = {}
        self.order = []
        for entry in index.get("weights", []):
            self._check_entry(entry)
            self.entries[entry["name"]] = entry
            self.order.append(entry["name"])
        self._maps = {}
        self.loaded = []

    # ---- validation ------------------------------------------------------------
    def _check_entry(self, entry):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            raise ShardError(f"load_sharded: malformed weight entry in {INDEX}: {entry!r:.200}")
        for key in ("shard", "offset", "dtype", "shape"):
            if key not in entry:
                raise ShardError(f"load_sharded: weight {name!r} in {INDEX} has no {key!r}")
        shard = entry["shard"]
        self.shard_path(name, shard)  # path checks
        try:
            dt = np.dtype(entry["dtype"])
        except TypeError:
            raise ShardError(f"load_sharded: weight {name!r} has an invalid dtype "
                             f"{entry['dtype']!r}") from None
        if dt.hasobject or dt.kind not in "fiub":
            raise ShardError(f"load_sharded: weight {name!r} has unsupported dtype {dt}")
        shape = entry["shape"]
        if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise ShardError(f"load_sharded: weight {name!r} has an invalid shape {shape!r}")
        if not isinstance(entry["offset"], int) or entry["offset"] < 0:
            raise ShardError(f"load_sharded: weight {name!r} has an invalid offset "
                             f"{entry['offset']!r}")

    def shard_path(self, name, shard):
        """The absolute path of ``shard``; it must be a file name inside the folder."""
        if not isinstance(shard, str) or not shard:
            raise ShardError(f"load_sharded: weight {name!r} names an invalid shard {shard!r}")
        if (os.path.isabs(shard) or "/" in shard or "\\" in shard or shard in (".", "..")
                or os.path.splitdrive(shard)[0]):
            raise ShardError(
                f"load_sharded: weight {name!r} names shard {shard!r}, which is outside the "
                f"checkpoint folder {self.folder!r}; shards must be plain file names in it")
        path = os.path.join(self.folder, shard)
        real = os.path.realpath(path)
        if os.path.dirname(real) != os.path.realpath(self.folder):
            raise ShardError(
                f"load_sharded: weight {name!r} names shard {shard!r}, which resolves to "
                f"{real!r}, outside the checkpoint folder {self.folder!r}")
        return path

    def _open(self, name, shard):
        if shard in self._maps:
            return self._maps[shard]
        path = self.shard_path(name, shard)
        if not os.path.isfile(path):
            raise ShardError(f"load_sharded: weight {name!r}: shard file {shard!r} is missing "
                             f"from {self.folder!r}")
        try:
            mm = np.load(path, mmap_mode="c", allow_pickle=False)
        except (OSError, ValueError) as e:
            raise ShardError(f"load_sharded: weight {name!r}: shard file {shard!r} is not a "
                             f"readable .npy file: {e}") from None
        if mm.dtype != np.uint8 or mm.ndim != 1:
            raise ShardError(
                f"load_sharded: weight {name!r}: shard file {shard!r} holds an array of dtype "
                f"{mm.dtype} and shape {mm.shape}, expected a 1-D uint8 byte buffer")
        expected = self.index.get("shards", {}).get(shard, {}).get("nbytes")
        if expected is not None and mm.shape[0] != expected:
            raise ShardError(
                f"load_sharded: weight {name!r}: shard file {shard!r} has {mm.shape[0]} bytes, "
                f"the index says {expected}")
        self._maps[shard] = mm
        return mm

    # ---- access ------------------------------------------------------------------
    def __contains__(self, name):
        return name in self.entries

    def entry(self, name):
        try:
            return self.entries[name]
        except KeyError:
            raise ShardError(f"load_sharded: the model has a weight {name!r} that the index of "
                             f"{self.folder!r} does not list (it lists {self.order[:8]}"
                             f"{' ...' if len(self.order) > 8 else ''})") from None

    def get(self, name, copy=False, expect_shape=None):
        e = self.entry(name)
        dt, shape = np.dtype(e["dtype"]), tuple(e["shape"])
        if expect_shape is not None and tuple(expect_shape) != shape:
            raise ShardError(f"load_sharded: weight {name!r} in shard {e['shard']!r} has shape "
                             f"{shape}, the model expects {tuple(expect_shape)}")
        mm = self._open(name, e["shard"])
        n = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        lo = e["offset"]
        if lo + n > mm.shape[0]:
            raise ShardError(
                f"load_sharded: weight {name!r} needs bytes [{lo}, {lo + n}) of shard "
                f"{e['shard']!r}, which has only {mm.shape[0]} bytes (shape {shape} dtype {dt})")
        view = mm[lo:lo + n].view(dt).reshape(shape)
        self.loaded.append(name)
        return np.array(view) if copy else view

    def close(self):
        self._maps.clear()

    @property
    def layer_specs(self):
        """The layer configs of a Sequential architecture (else a ShardError)."""
        arch = self.architecture or {}
        config = arch.get("config", {}) if isinstance(arch, dict) else {}
        layers = config.get("layers") if isinstance(config, dict) else None
        if not isinstance(layers, list):
            raise ShardError("layer_by_layer_predict: needs a Sequential architecture (a list "
                             f"of layers), the index holds {arch.get('class_name')!r}")
        return layers


# --------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------

def _attach(layer, ckpt, copy):
    attach_weight_source(layer, ckpt, copy)


def _fill_built(model, ckpt, copy):
    fill_built_weights(model, ckpt, copy)


def load_sharded(folder, lazy=True):
    """Rebuild the model saved by :func:`save_sharded`.

    ``lazy=True``: shards are memory-mapped and each layer's weights are looked
    up when the layer builds (its first call), so loading reads nothing but
    the index and running reads only the pages used.  ``lazy=False``: the same,
    but each weight is copied into memory when its layer builds.  The model
    is returned unbuilt with ``lazy=True`` (each layer builds on its first
    call); with ``lazy=False`` it is built at once when the saved model knew its
    input shape.  ``model.sharded_checkpoint`` is the
    :class:`ShardedCheckpoint` (``.loaded`` lists the weights read so far).
    """
    ckpt = ShardedCheckpoint(folder)
    try:
        model = rebuild_model(ckpt.architecture,
                              before_build=lambda layer: _attach(layer, ckpt, copy=not lazy))
    except ShardError:
        raise
    except (ValueError, TypeError, KeyError) as e:
        raise ShardError(f"load_sharded: cannot rebuild the architecture in "
                         f"{os.path.join(ckpt.folder, INDEX)!r}: {e}") from None
    _fill_built(model, ckpt, copy=not lazy)
    if not lazy:
        build_now(model, ckpt.architecture)
    model.sharded_checkpoint = ckpt
    return model


def _as_output_array(y):
    if isinstance(y, (list, tuple)):
        y = y[0]
    return y.data if isinstance(y, Tensor) else np.asarray(y)


def layer_by_layer_predict(folder, x, batch_size=None):
    """Run a sharded Sequential model on ``x`` holding one layer's weights at a time.

    For each layer of the architecture in turn: create it, read its weights
    from the shards into memory, run it on all of ``x`` (in batches of
    ``batch_size`` if given), pass masks on as ``Sequential`` does, then drop
    the layer and its weights before the next.  Returns the output array.
    """
    ckpt = ShardedCheckpoint(folder)
    try:
        y, mask = x, None
        with no_grad():
            for spec in ckpt.layer_specs:
                y, mask = _run_one_layer(spec, ckpt, y, mask, batch_size)
                ckpt.close()  # the layer and its weights are freed by now
        return y
    finally:
        ckpt.close()


def _run_one_layer(spec, ckpt, x, mask, batch_size):
    """Create one layer from its config, take its weights from ``ckpt``, run it on ``x``."""
    layer = deserialize(spec)
    for sub in iter_layers(layer):
        _attach(sub, ckpt, copy=True)
    n = len(x)
    step = max(batch_size or n, 1)
    outs, masks = [], []
    for lo in range(0, n, step):
        xb = x[lo:lo + step]
        mb = None if mask is None else mask[lo:lo + step]
        out = layer(xb, training=False, mask=mb)
        new_mask = layer.compute_mask(xb, mb)
        outs.append(_as_output_array(out))
        if new_mask is not None:
            masks.append(np.asarray(getattr(new_mask, "data", new_mask)))
    for sub in iter_layers(layer):
        detach_weight_source(sub)  # no reference cycle: the layer dies on return
    y = np.concatenate(outs) if len(outs) > 1 else outs[0]
    new = (np.concatenate(masks) if len(masks) > 1 else masks[0]) if masks else None
    return y, new


def peak_memory(fn, *args, **kwargs):
    """``(result, peak bytes)``: the peak of memory allocated by Python and NumPy while
    ``fn`` runs (``tracemalloc``; memory-mapped file pages are not allocations)."""
    was = tracemalloc.is_tracing()
    if not was:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        result = fn(*args, **kwargs)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        if not was:
            tracemalloc.stop()
    return result, peak
