"""Sparse storage of pruned models: each mostly-zero weight as CSR in a compressed ``.npz``.

:func:`save_pruned` stores each mostly-zero weight as CSR — ``indptr``, column
``indices`` (uint16 when the rows are short enough, else int32) and the
non-zero ``values`` — in a compressed ``.npz`` beside the architecture JSON,
so a 90 %-sparse model takes well under a quarter of its dense size on disk.

:func:`load_pruned` trusts nothing in the file: the archive and every array
header are checked before any data is read (:mod:`tinynlp.npyio`), the index
field by field, each CSR triple for consistency (``indptr`` starts at 0, never
decreases and ends at the number of values; column indices in range), and the
dense size the index declares against the file's size: a CSR weight may be
sparse, but all weights together may take at most
:data:`~tinynlp.npyio.MAX_DEFLATE_RATIO` times the file's size in memory.  The
architecture is rebuilt under a :class:`~tinynlp.layers.weight_guard.WeightGuard`.
Anything wrong raises :class:`PrunedFormatError` naming the file.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

from ..atomic import atomic_write
from ..layers.weight_guard import REBUILD_ERRORS, WeightGuard, guarded_build
from ..models.checkpoint_config import check_dtype
from ..npyio import (
    MAX_DEFLATE_RATIO, MAX_JSON_BYTES, open_archive, parse_json, read_header, read_member,
)
from ._utils import (
    ArraySource, attach_weight_source, build_now, fill_built_weights, model_architecture,
    rebuild_model,
)
from .pruning import PruningMask, install_gradient_hook, install_mask

__all__ = ["PrunedFormatError", "to_csr", "from_csr", "save_pruned", "load_pruned", "FORMAT"]

FORMAT = "tinynlp-pruned"
#: memory a pruned checkpoint may declare beyond MAX_DEFLATE_RATIO × its size
_FLOOR = 1 << 20


class PrunedFormatError(ValueError):
    """A pruned (CSR) checkpoint is malformed: corrupt, truncated or inconsistent."""


def to_csr(w):
    """CSR form of ``w`` seen as a 2-D matrix ``(prod(shape[:-1]), shape[-1])``.

    Returns ``(indptr int32/int64 (rows+1,), indices uint16/int32 (nnz,), values (nnz,))``
    — the column index of each non-zero and, per row, where its entries start.
    """
    w = np.asarray(w)
    cols = w.shape[-1] if w.ndim else 1
    m = w.reshape(-1, cols)
    rows_idx, col_idx = np.nonzero(m)
    counts = np.bincount(rows_idx, minlength=m.shape[0])
    ptr_dtype = np.int32 if m.size < 2**31 else np.int64
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(ptr_dtype)
    idx_dtype = np.uint16 if cols <= 2**16 else np.int32
    return indptr, col_idx.astype(idx_dtype), m[rows_idx, col_idx]


def _csr_rows_cols(shape):
    cols = shape[-1] if shape else 1
    rows = math.prod(shape[:-1]) if len(shape) > 1 else 1
    return rows, cols


def from_csr(indptr, indices, values, shape):
    """Inverse of :func:`to_csr` (the three arrays checked for consistency first)."""
    shape = tuple(int(s) for s in shape)
    rows, cols = _csr_rows_cols(shape)
    indptr = np.asarray(indptr)
    values = np.asarray(values)
    if indptr.shape != (rows + 1,) or np.ndim(indices) != 1 or values.ndim != 1 \
            or len(indices) != len(values) or int(indptr[-1]) != len(values):
        raise ValueError(f"from_csr: inconsistent CSR arrays for shape {shape} "
                         f"(indptr {indptr.shape}, indices {np.shape(indices)}, "
                         f"values {values.shape})")
    indptr = indptr.astype(np.int64)
    steps = np.diff(indptr)
    if indptr[0] != 0 or (steps < 0).any():
        raise ValueError("from_csr: indptr must start at 0 and never decrease")
    col = np.asarray(indices).astype(np.int64)
    if col.size and (col.min() < 0 or col.max() >= cols):
        raise ValueError(f"from_csr: column index out of range [0, {cols})")
    dense = np.zeros((rows, cols), dtype=values.dtype)
    row_of = np.repeat(np.arange(rows), steps)
    dense[row_of, col] = values
    return dense.reshape(shape)


def _csr_is_smaller(w):
    nnz = int(np.count_nonzero(w))
    cols = w.shape[-1] if w.ndim else 1
    idx_bytes = 2 if cols <= 2**16 else 4
    rows = w.size // max(cols, 1)
    return nnz * (w.itemsize + idx_bytes) + 4 * (rows + 1) < w.nbytes


def save_pruned(model, path):
    """Write ``model`` with its sparse weights in CSR form to a compressed ``.npz``.

    Any weight (float, or the int8 codes of a quantized model) is stored as CSR
    when that is smaller than the dense array, else densely.

    The file holds ``__architecture__`` (JSON text), ``__index__`` (JSON: for
    each weight its name, shape, dtype and ``"dense"`` or ``"csr"``), and the
    arrays ``w{i}`` (dense) or ``w{i}.indptr`` / ``.indices`` / ``.values``.
    Written atomically; load with :func:`load_pruned`.  Returns the file size.
    """
    arrays, index = {}, []
    for i, p in enumerate(model.weights):
        w = np.asarray(p.data)
        entry = {"name": p.name, "shape": list(w.shape), "dtype": w.dtype.name}
        if w.ndim >= 1 and w.dtype.kind in "fi" and _csr_is_smaller(w):
            indptr, indices, values = to_csr(w)
            arrays[f"w{i}.indptr"], arrays[f"w{i}.indices"] = indptr, indices
            arrays[f"w{i}.values"] = values
            entry["format"] = "csr"
        else:
            arrays[f"w{i}"] = w
            entry["format"] = "dense"
        entry["masked"] = isinstance(p.constraint, PruningMask)
        index.append(entry)
    meta = {"format": FORMAT, "version": 1, "weights": index}
    arrays["__architecture__"] = np.array(json.dumps(model_architecture(model)))
    arrays["__index__"] = np.array(json.dumps(meta))
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"

    atomic_write(path, lambda f: np.savez_compressed(f, **arrays))
    return os.path.getsize(path)


# ---- loading ---------------------------------------------------------------------------------

class _PrunedFile:
    """An opened pruned checkpoint: the checked index, and its arrays on demand."""

    def __init__(self, path):
        self.path = path
        self.what = f"load_pruned({path!r})"
        self.zf = open_archive(path, PrunedFormatError, kind="pruned checkpoint (.npz)")
        try:
            names = set(self.zf.namelist())
            if "__index__.npy" not in names or "__architecture__.npy" not in names:
                raise PrunedFormatError(
                    f"load_pruned: {path!r} is not a pruned checkpoint written by save_pruned "
                    "(no __index__/__architecture__ entries)")
            meta = self.json("__index__")
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                found = meta.get("format") if isinstance(meta, dict) else None
                raise PrunedFormatError(f"load_pruned: {path!r} has format {found!r:.80}, "
                                        f"expected {FORMAT!r}")
            self.entries = self._check_index(meta.get("weights"))
            self.architecture = self.json("__architecture__")
        except BaseException:
            self.zf.close()
            raise

    def json(self, key):
        name = key + ".npy"
        header = read_header(self.zf, name, PrunedFormatError, self.what)
        if header.nbytes > 4 * MAX_JSON_BYTES:
            raise PrunedFormatError(f"{self.what}: {name} is too large for a JSON document")
        text = read_member(self.zf, name, PrunedFormatError, self.what, kinds="U")
        if text.shape != ():
            raise PrunedFormatError(f"{self.what}: {name} must hold one string")
        return parse_json(str(text), PrunedFormatError, f"{self.what}: {name}")

    def _check_index(self, weights):
        if not isinstance(weights, list):
            raise PrunedFormatError(f"{self.what}: the index has no 'weights' list")
        seen = set()
        for i, e in enumerate(weights):
            where = f"{self.what}: index entry {i}"
            if not isinstance(e, dict) or not isinstance(e.get("name"), str) \
                    or e.get("format") not in ("csr", "dense"):
                raise PrunedFormatError(f"{where} must have a string 'name' and a 'format' "
                                        f"of 'csr' or 'dense', got {e!r:.200}")
            if e["name"] in seen:
                raise PrunedFormatError(f"{where}: weight {e['name']!r} is listed twice")
            seen.add(e["name"])
            shape = e.get("shape")
            if not isinstance(shape, list) or not all(
                    isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
                raise PrunedFormatError(f"{where}: shape must be a list of non-negative "
                                        f"integers, got {shape!r:.120}")
            e["np_dtype"] = check_dtype(e.get("dtype"), where, PrunedFormatError)
            if not isinstance(e.get("masked", False), bool):
                raise PrunedFormatError(f"{where}: 'masked' must be true or false")
        declared = sum(math.prod(e["shape"]) * e["np_dtype"].itemsize for e in weights)
        limit = MAX_DEFLATE_RATIO * os.path.getsize(self.path) + _FLOOR
        if declared > limit:
            raise PrunedFormatError(
                f"{self.what}: the index declares {declared} bytes of weights, more than a "
                f"{os.path.getsize(self.path)}-byte pruned checkpoint may expand to "
                f"({MAX_DEFLATE_RATIO} times its size)")
        self.declared = declared
        return weights

    def weight(self, i, e):
        shape, dtype = tuple(e["shape"]), e["np_dtype"]
        label = f"weight {e['name']!r}"
        if e["format"] == "dense":
            return read_member(self.zf, f"w{i}.npy", PrunedFormatError, self.what, label,
                               expect_shape=shape, expect_dtype=dtype)
        rows, _ = _csr_rows_cols(shape)
        indptr = read_member(self.zf, f"w{i}.indptr.npy", PrunedFormatError, self.what, label,
                             expect_shape=(rows + 1,), kinds="iu")
        nnz = read_header(self.zf, f"w{i}.indices.npy", PrunedFormatError, self.what,
                          label).shape
        if len(nnz) != 1:
            raise PrunedFormatError(f"{self.what}: {label}: its CSR indices must be 1-D, got "
                                    f"shape {nnz}")
        indices = read_member(self.zf, f"w{i}.indices.npy", PrunedFormatError, self.what,
                              label, expect_shape=nnz, kinds="iu")
        values = read_member(self.zf, f"w{i}.values.npy", PrunedFormatError, self.what, label,
                             expect_shape=indices.shape, expect_dtype=dtype)
        try:
            return from_csr(indptr, indices, values, shape)
        except ValueError as err:
            raise PrunedFormatError(f"{self.what}: {label}: {err}") from None


def load_pruned(path, masks=True):
    """Rebuild a model written by :func:`save_pruned` (never unpickles anything).

    The model is built at once when the saved one knew its input shape (else
    each layer takes its weights when it first runs).  ``masks=True``
    re-installs pruning masks (zeros stay zero in further
    training) on the weights that had them when saved.  A malformed file
    raises :class:`PrunedFormatError` (a ValueError) naming it.
    """
    path = os.fspath(path)
    if not os.path.exists(path) and os.path.exists(path + ".npz"):
        path += ".npz"
    f = _PrunedFile(path)
    with f.zf:
        weights = {e["name"]: f.weight(i, e) for i, e in enumerate(f.entries)}
    entries = [(e["name"], e["shape"], e["np_dtype"]) for e in f.entries]
    source = ArraySource(weights, what=f.what)
    try:
        with guarded_build(WeightGuard(entries, f.what, PrunedFormatError, budget=f.declared)):
            model = rebuild_model(f.architecture, before_build=lambda layer:
                                  attach_weight_source(layer, source, False))
            fill_built_weights(model, source, copy=False)
            build_now(model, f.architecture)
    except PrunedFormatError:
        raise
    except REBUILD_ERRORS as e:
        raise PrunedFormatError(f"{f.what}: cannot rebuild the model "
                                f"({type(e).__name__}: {e})") from None
    if masks:
        masked = {e["name"] for e in f.entries if e.get("masked")}
        for p in model.weights:
            if p.name in masked:
                install_mask(p, p.data != 0)
        install_gradient_hook(model)
    return model
