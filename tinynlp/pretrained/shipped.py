"""Pretrained models as folders of plain files, and the ones shipped inside tinynlp.

A pretrained model folder holds three files (nothing is pickled or executed
on load)::

    config.json      {"format": "tinynlp.pretrained", "format_version": 1,
                      "architecture": {"class_name": "GPT", "config": {...}},
                      "weights": [{"name", "shape"}, ...], "dtype": "float16",
                      "info": {... how it was trained ...}}
    weights.npz      one array per weight, ``w00000`` … in ``model.weights`` order,
                     stored as float16 (half the bytes of float32; the loaded model
                     computes in float32)
    tokenizer.json   the model's :class:`~tinynlp.text.BPETokenizer`

:func:`load` (``tn.pretrained.load("tinygpt")``) reads one of the folders
shipped in the package (:func:`available`), offline; :func:`load_pretrained`
reads any folder written by :func:`save_pretrained`.
"""

from __future__ import annotations

import os

import numpy as np

from ..atomic import atomic_write, write_json_atomic
from ..autograd import no_grad
from ..layers.weight_guard import REBUILD_ERRORS, WeightGuard, guarded_build
from ..models import GPT
from ..npyio import MAX_JSON_BYTES, open_archive, parse_json, read_header, read_member
from ..text import BPETokenizer

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "SHIPPED_DIR",
    "PretrainedFormatError",
    "available",
    "load",
    "load_pretrained",
    "save_pretrained",
]

FORMAT = "tinynlp.pretrained"
FORMAT_VERSION = 1
#: the folder holding the shipped models, one sub-folder each
SHIPPED_DIR = os.path.dirname(os.path.abspath(__file__))
_FILES = ("config.json", "weights.npz", "tokenizer.json")
_ARCHITECTURES = {"GPT": GPT}
_DTYPES = ("float16", "float32")


class PretrainedFormatError(ValueError):
    """A pretrained model folder whose files are malformed or do not agree (the message
    names the file and what is wrong)."""


def available() -> list[str]:
    """The names :func:`load` accepts: the shipped model folders (e.g. ``["tinygpt"]``)."""
    return sorted(name for name in os.listdir(SHIPPED_DIR)
                  if all(os.path.isfile(os.path.join(SHIPPED_DIR, name, f)) for f in _FILES))


def load(name: str = "tinygpt") -> GPT:
    """A model shipped with tinynlp, by name, with float32 weights and its tokenizer
    attached as ``model.tokenizer``; read from the package, no network.

    >>> gpt = tn.pretrained.load("tinygpt")
    >>> ids = gpt.tokenizer.encode("The king said")
    >>> gpt.tokenizer.decode(gpt.generate(ids, 20, temperature=0.8, top_k=40, seed=0))
    """
    names = available()
    if not isinstance(name, str) or name not in names:
        raise ValueError(f"tn.pretrained.load: unknown model {name!r}; available: {names}")
    return load_pretrained(os.path.join(SHIPPED_DIR, name))


def save_pretrained(model, tokenizer, folder, dtype="float16", info=None) -> str:
    """Write ``model`` (a built GPT) and ``tokenizer`` as a pretrained folder (module docstring).

    ``dtype``: how the weights are stored, "float16" (default) or "float32".
    ``info``: JSON-ready facts about the model (how it was trained, its scores).
    Every file is written atomically.  Returns ``folder``.
    """
    if dtype not in _DTYPES:
        raise ValueError(f"save_pretrained: dtype must be one of {_DTYPES}, got {dtype!r}")
    if type(model).__name__ not in _ARCHITECTURES:
        raise TypeError(f"save_pretrained: expected one of {sorted(_ARCHITECTURES)}, got "
                        f"{type(model).__name__}")
    if not isinstance(tokenizer, BPETokenizer):
        raise TypeError(f"save_pretrained: tokenizer must be a BPETokenizer, got "
                        f"{type(tokenizer).__name__}")
    if tokenizer.vocab_size != model.vocab_size:
        raise ValueError(f"save_pretrained: the tokenizer has {tokenizer.vocab_size} ids, the "
                         f"model's vocab_size is {model.vocab_size}")
    _build(model)
    weights = model.weights
    arrays = {}
    for i, p in enumerate(weights):
        a = p.data.astype(dtype)
        if not np.isfinite(a).all():
            raise ValueError(f"save_pretrained: weight {p.name!r} is not finite in {dtype}")
        arrays[f"w{i:05d}"] = a
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    atomic_write(os.path.join(folder, "weights.npz"),
                 lambda f: np.savez_compressed(f, **arrays))
    tokenizer.save(os.path.join(folder, "tokenizer.json"))
    config = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "architecture": {"class_name": type(model).__name__, "config": model.get_config()},
        "weights": [{"name": p.name, "shape": list(p.data.shape)} for p in weights],
        "dtype": dtype, "info": info or {},
    }
    write_json_atomic(os.path.join(folder, "config.json"), config)
    return folder


def _build(model):
    """Create the weights of a model that has not run yet (one token through it)."""
    if not model.weights:
        with no_grad():
            model(np.zeros((1, 1), dtype=np.int64))


def _fail(where, what):
    raise PretrainedFormatError(f"{where}: {what}")


def _read_config(path) -> dict:
    """config.json, checked field by field (size first)."""
    if os.path.getsize(path) > MAX_JSON_BYTES:
        _fail(path, f"larger than the {MAX_JSON_BYTES} bytes a config.json may have")
    with open(path, "rb") as f:
        config = parse_json(f.read(), PretrainedFormatError, path)
    if not isinstance(config, dict):
        _fail(path, f"expected a JSON object, got {type(config).__name__}")
    if config.get("format") != FORMAT or config.get("format_version") != FORMAT_VERSION:
        _fail(path, f"format {config.get('format')!r} version {config.get('format_version')!r};"
                    f" expected {FORMAT!r} {FORMAT_VERSION}")
    arch = config.get("architecture")
    if not isinstance(arch, dict) or arch.get("class_name") not in _ARCHITECTURES \
            or not isinstance(arch.get("config"), dict):
        name = arch.get("class_name") if isinstance(arch, dict) else arch
        _fail(path, f"architecture must name one of {sorted(_ARCHITECTURES)} with its config, "
                    f"got {name!r}")
    if config.get("dtype") not in _DTYPES:
        _fail(path, f"dtype must be one of {_DTYPES}, got {config.get('dtype')!r}")
    manifest = config.get("weights")
    if not isinstance(manifest, list) or not all(
            isinstance(e, dict) and isinstance(e.get("name"), str)
            and isinstance(e.get("shape"), list) for e in manifest):
        _fail(path, "weights must be a list of {\"name\": ..., \"shape\": [...]} entries")
    if not isinstance(config.get("info", {}), dict):
        _fail(path, "info must be a JSON object")
    return config


def load_pretrained(folder) -> GPT:
    """The model in a folder written by :func:`save_pretrained` (float32 weights), with
    ``model.tokenizer`` and ``model.pretrained_info`` (the ``info`` it was saved with).

    Nothing is trusted: config.json is checked field by field, each array's ``.npy``
    header is compared with the manifest before any data is read, and the architecture
    is built under a :class:`~tinynlp.layers.weight_guard.WeightGuard` (no weight larger
    than the file holds is allocated).  A malformed folder raises
    :class:`PretrainedFormatError` (a ValueError) naming the file; a missing file,
    FileNotFoundError.
    """
    folder = os.fspath(folder)
    for f in _FILES:
        if not os.path.isfile(os.path.join(folder, f)):
            raise FileNotFoundError(f"{folder}: not a pretrained model folder (no {f})")
    config_path = os.path.join(folder, "config.json")
    config = _read_config(config_path)
    manifest, dtype = config["weights"], np.dtype(config["dtype"])
    path = os.path.join(folder, "weights.npz")
    with open_archive(path, PretrainedFormatError, "weights archive (.npz)") as zf:
        names = set(zf.namelist())
        entries = []
        for i, spec in enumerate(manifest):
            member, label = f"w{i:05d}.npy", f"weight {i} ({spec['name']!r})"
            if member not in names:
                _fail(path, f"{label} ({member}) is missing")
            header = read_header(zf, member, PretrainedFormatError, path, label=label)
            if list(header.shape) != spec["shape"]:
                _fail(path, f"{label} has shape {header.shape} in the file, config.json's "
                            f"manifest says {tuple(spec['shape'])}")
            entries.append((spec["name"], header.shape, dtype))
        guard = WeightGuard(entries, path, PretrainedFormatError,
                            budget=sum(info.file_size for info in zf.infolist()))
        try:
            with guarded_build(guard):
                model = _ARCHITECTURES[config["architecture"]["class_name"]].from_config(
                    dict(config["architecture"]["config"]))
                _build(model)
        except PretrainedFormatError:
            raise
        except REBUILD_ERRORS as e:
            _fail(config_path, f"cannot build the architecture ({type(e).__name__}: {e})")
        weights = model.weights
        if len(manifest) != len(weights):
            _fail(path, f"holds {len(manifest)} weights, the model has {len(weights)}")
        for i, p in enumerate(weights):
            a = read_member(zf, f"w{i:05d}.npy", PretrainedFormatError, path,
                            label=f"weight {i} ({p.name!r})", expect_shape=p.data.shape,
                            expect_dtype=dtype, kinds="f")
            p.data[...] = a.astype(p.data.dtype)
    tok = BPETokenizer.load(os.path.join(folder, "tokenizer.json"))
    if tok.vocab_size != model.vocab_size:
        _fail(os.path.join(folder, "tokenizer.json"),
              f"{tok.vocab_size} ids, the model expects {model.vocab_size}")
    model.tokenizer = tok
    model.pretrained_info = config.get("info") or {}
    return model
