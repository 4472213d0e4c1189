"""Model splitting: sharded checkpoints, lazily memory-mapped weights, and
layer-by-layer inference that holds one layer in memory at a time.

Layout of a sharded checkpoint folder::

    index.json                      architecture + where every weight lives
    shard-00001-of-00003-5e1f09ab.npy   a flat uint8 buffer: several weights back to back
    shard-00002-of-00003-5e1f09ab.npy
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

**Saving over an existing checkpoint is atomic.**  ``index.json`` is the single
commit point: a save writes its shards under new names (the ``-5e1f09ab`` part
is fresh for every save), each atomically, then replaces ``index.json``
atomically, and only then removes the shards the old index named (and any a
killed save left behind).  Killed at any moment, the folder loads as exactly
the old model or exactly the new one.  Writers of one folder take turns
(:func:`tinynlp.atomic.folder_lock`).  A lazily loaded model keeps the shards it
has opened; one whose folder is overwritten before it has read all its layers
gets a :class:`ShardError` for the shards that are gone.

Every path, field and array is checked before it is used: an index naming a
shard outside its folder (``../x.npy``, an absolute path, a symlink leading
out, a NUL byte), a field of the wrong type, a missing shard, or a shard too
small or of the wrong dtype for the weights it should hold fails with a
:class:`ShardError` naming the weight and the file.  The architecture is
rebuilt under a :class:`~tinynlp.layers.weight_guard.WeightGuard`: a layer
config asking for weights the shards do not hold is refused before anything
is allocated.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import secrets
import tracemalloc
import zlib

import numpy as np

from ..atomic import atomic_write, folder_lock, sweep_stale_temps, write_json_atomic
from ..autograd import Tensor, no_grad
from ..integrity import check_seal, seal
from ..layers.registry import deserialize
from ..layers.weight_guard import REBUILD_ERRORS, WeightGuard, guarded_build
from ..models.checkpoint_config import check_dtype
from ..npyio import MAX_JSON_BYTES, npy_file_header, parse_json
from ._utils import (
    attach_weight_source, build_now, detach_weight_source, fill_built_weights, iter_layers,
    model_architecture, parse_size, rebuild_model,
)

__all__ = ["save_sharded", "load_sharded", "layer_by_layer_predict", "ShardedCheckpoint",
           "ShardError", "peak_memory"]

FORMAT = "tinynlp-sharded"
#: 2: the index carries a checksum of itself and of every shard (1: neither; still read)
VERSION = 2
INDEX = "index.json"
ALIGN = 64
#: the names save_sharded gives shards (the hex part is fresh for every save)
SHARD_NAME = re.compile(r"shard-\d{5}-of-\d{5}(-[0-9a-f]{8})?\.npy")


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
    ``"1GiB"``.  Overwriting an existing checkpoint is atomic (see the module
    doc): new shards under new names, then ``index.json``, then the old shards
    go.  Returns the path of the index.
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
    with folder_lock(folder):
        token = _fresh_token(folder)
        total = len(plan)
        weights, shards = [], {}
        for k, members in enumerate(plan):
            fname = f"shard-{k + 1:05d}-of-{total:05d}-{token}.npy"
            size = max((off + arrays[i].nbytes for i, off in members), default=0)
            buf = np.zeros(size, dtype=np.uint8)
            for i, off in members:
                a = arrays[i]
                buf[off:off + a.nbytes] = a.reshape(-1).view(np.uint8)
                weights.append({"name": names[i], "shard": fname, "offset": off,
                                "dtype": a.dtype.str, "shape": list(a.shape)})
            _write_npy(os.path.join(folder, fname), buf)
            shards[fname] = {"nbytes": int(size), "crc32": zlib.crc32(buf)}
        weights.sort(key=lambda e: names.index(e["name"]))
        index = {"format": FORMAT, "version": VERSION, "max_shard_size": max_bytes,
                 "architecture": _architecture(model), "weights": weights, "shards": shards}
        path = os.path.join(folder, INDEX)
        write_json_atomic(path, seal(index))    # the commit point
        _remove_unlisted_shards(folder, set(shards))
    return path


def _fresh_token(folder):
    """8 hex digits no shard in ``folder`` carries yet."""
    taken = set(os.listdir(folder))
    while True:
        token = secrets.token_hex(4)
        if not any(token in name for name in taken):
            return token


def _remove_unlisted_shards(folder, keep):
    """Remove the shard files (by :data:`SHARD_NAME`) that the index does not name: the
    previous checkpoint's, and any a killed save left behind."""
    for name in os.listdir(folder):
        if SHARD_NAME.fullmatch(name) and name not in keep:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))
    sweep_stale_temps(folder, SHARD_NAME.pattern)


def _write_npy(path, arr):
    atomic_write(path, lambda f: np.save(f, arr, allow_pickle=False))


def _is_count(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _crc32(buf, chunk=1 << 24):
    """CRC-32 of a (memory-mapped) byte array, a chunk at a time."""
    crc = 0
    for lo in range(0, len(buf), chunk):
        crc = zlib.crc32(buf[lo:lo + chunk], crc)
    return crc


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
        try:
            self.folder = os.path.abspath(os.fspath(folder))
        except (TypeError, ValueError) as e:
            raise ShardError(f"load_sharded: bad folder {folder!r:.200} ({e})") from None
        path = os.path.join(self.folder, INDEX)
        if not os.path.isdir(self.folder):
            raise ShardError(f"load_sharded: {folder!r} is not a folder")
        if not os.path.isfile(path):
            raise ShardError(f"load_sharded: no {INDEX} in {folder!r}")
        index = self._read_index(path)
        self.index = index
        self.architecture = index.get("architecture")
        if not isinstance(self.architecture, dict):
            raise ShardError(f"load_sharded: {path!r} has no architecture object")
        shards = index.get("shards", {})
        if not isinstance(shards, dict) or not all(
                isinstance(v, dict) and _is_count(v.get("nbytes", 0))
                and _is_count(v.get("crc32", 0)) for v in shards.values()):
            raise ShardError(f"load_sharded: {path!r}: 'shards' must map each shard file to "
                             "{'nbytes': ..., 'crc32': ...} (non-negative integers)")
        self.shard_sizes = {k: v.get("nbytes") for k, v in shards.items()}
        self.shard_crcs = {k: v.get("crc32") for k, v in shards.items()}
        weights = index.get("weights", [])
        if not isinstance(weights, list):
            raise ShardError(f"load_sharded: {path!r}: 'weights' must be a list")
        self.entries = {}
        self.order = []
        for entry in weights:
            self._check_entry(entry)
            if entry["name"] in self.entries:
                raise ShardError(f"load_sharded: {path!r} lists weight {entry['name']!r} twice")
            self.entries[entry["name"]] = entry
            self.order.append(entry["name"])
        self._maps = {}
        self.loaded = []

    @staticmethod
    def _read_index(path):
        try:
            size = os.path.getsize(path)
            if size > MAX_JSON_BYTES:
                raise ShardError(f"load_sharded: {path!r} has {size} bytes, more than the "
                                 f"{MAX_JSON_BYTES} an index may have")
            with open(path, "rb") as fh:
                index = parse_json(fh.read(), ShardError, f"load_sharded: {path!r}")
        except OSError as e:
            raise ShardError(f"load_sharded: cannot read {path!r}: {e}") from None
        if not isinstance(index, dict) or index.get("format") != FORMAT:
            found = index.get("format") if isinstance(index, dict) else None
            raise ShardError(f"load_sharded: {path!r} is not a {FORMAT} index "
                             f"(format={found!r:.80})")
        version = index.get("version")
        if version not in (1, VERSION) or isinstance(version, bool):
            raise ShardError(f"load_sharded: {path!r} has version {version!r:.40}; this "
                             f"tinynlp reads versions 1 to {VERSION}")
        return check_seal(index, ShardError, f"load_sharded: {path!r}",
                          required=version >= 2)

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
        dt = check_dtype(entry["dtype"], f"load_sharded: weight {name!r}", ShardError)
        shape = entry["shape"]
        if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
            raise ShardError(f"load_sharded: weight {name!r} has an invalid shape {shape!r:.200}")
        offset = entry["offset"]
        if not _is_count(offset):
            raise ShardError(f"load_sharded: weight {name!r} has an invalid offset "
                             f"{offset!r:.80}")
        end = offset + math.prod(shape) * dt.itemsize
        declared = self.shard_sizes.get(shard)
        if declared is not None and end > declared:
            raise ShardError(
                f"load_sharded: weight {name!r} needs bytes [{offset}, {end}) of shard "
                f"{shard!r}, which has only {declared} bytes (says the index)")

    def guard(self):
        """A :class:`~tinynlp.layers.weight_guard.WeightGuard` for rebuilding the
        architecture: every weight checked against the index, the total against the
        sizes of the shard files the index names."""
        total = 0
        for shard in {e["shard"] for e in self.entries.values()}:
            path = self.shard_path("(index)", shard)
            total += os.path.getsize(path) if os.path.isfile(path) else 0
        entries = [(n, e["shape"], e["dtype"]) for n, e in self.entries.items()]
        return WeightGuard(entries, f"load_sharded: {os.path.join(self.folder, INDEX)!r}",
                           ShardError, budget=total)

    def shard_path(self, name, shard):
        """The absolute path of ``shard``; it must be a file name inside the folder."""
        if not isinstance(shard, str) or not shard or "\0" in shard:
            raise ShardError(f"load_sharded: weight {name!r} names an invalid shard "
                             f"{shard!r:.200}")
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
        header = npy_file_header(path, ShardError, label=f"shard file {shard!r} of weight "
                                                          f"{name!r}")
        if header.dtype != np.uint8 or len(header.shape) != 1:
            raise ShardError(
                f"load_sharded: weight {name!r}: shard file {shard!r} holds an array of dtype "
                f"{header.dtype} and shape {header.shape}, expected a 1-D uint8 byte buffer")
        try:
            mm = np.load(path, mmap_mode="c", allow_pickle=False)
        except (OSError, ValueError) as e:
            raise ShardError(f"load_sharded: weight {name!r}: shard file {shard!r} is not a "
                             f"readable .npy file: {e}") from None
        expected = self.shard_sizes.get(shard)
        if expected is not None and mm.shape[0] != expected:
            raise ShardError(
                f"load_sharded: weight {name!r}: shard file {shard!r} has {mm.shape[0]} bytes, "
                f"the index says {expected}")
        crc = self.shard_crcs.get(shard)
        if crc is not None and _crc32(mm) != crc:
            raise ShardError(f"load_sharded: weight {name!r}: shard file {shard!r} does not "
                             "match the checksum in the index; it was damaged or replaced")
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
        n = math.prod(shape) * dt.itemsize
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
        arch = self.architecture
        config = arch.get("config", {})
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
        with guarded_build(ckpt.guard()):
            model = rebuild_model(ckpt.architecture,
                                  before_build=lambda layer: _attach(layer, ckpt, copy=not lazy))
            _fill_built(model, ckpt, copy=not lazy)
            if not lazy:
                build_now(model, ckpt.architecture)
    except ShardError:
        raise
    except REBUILD_ERRORS as e:
        raise ShardError(f"load_sharded: cannot rebuild the architecture in "
                         f"{os.path.join(ckpt.folder, INDEX)!r} ({type(e).__name__}: {e})") \
            from None
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
                try:
                    layer = deserialize(spec)
                except REBUILD_ERRORS as e:
                    raise ShardError(f"layer_by_layer_predict: bad layer config in "
                                     f"{os.path.join(ckpt.folder, INDEX)!r} "
                                     f"({type(e).__name__}: {e})") from None
                y, mask = _run_one_layer(layer, ckpt, y, mask, batch_size)
                ckpt.close()  # the layer and its weights are freed by now
        return y
    finally:
        ckpt.close()


def _run_one_layer(layer, ckpt, x, mask, batch_size):
    """Take ``layer``'s weights from ``ckpt``, run it on ``x``."""
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
