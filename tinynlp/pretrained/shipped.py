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

import json
import os

import numpy as np

from ..atomic import atomic_write, write_json_atomic
from ..autograd import no_grad
from ..models import GPT
from ..text import BPETokenizer

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "SHIPPED_DIR",
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


def _fail(folder, what):
    raise ValueError(f"{folder}: {what}")


def load_pretrained(folder) -> GPT:
    """The model in a folder written by :func:`save_pretrained` (float32 weights), with
    ``model.tokenizer`` and ``model.pretrained_info`` (the ``info`` it was saved with)."""
    folder = os.fspath(folder)
    for f in _FILES:
        if not os.path.isfile(os.path.join(folder, f)):
            raise FileNotFoundError(f"{folder}: not a pretrained model folder (no {f})")
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    if config.get("format") != FORMAT or config.get("format_version") != FORMAT_VERSION:
        _fail(folder, f"config.json is format {config.get('format')!r} version "
                      f"{config.get('format_version')!r}; expected {FORMAT!r} {FORMAT_VERSION}")
    arch = config.get("architecture") or {}
    cls = _ARCHITECTURES.get(arch.get("class_name"))
    if cls is None:
        _fail(folder, f"unknown architecture {arch.get('class_name')!r}")
    model = cls.from_config(dict(arch.get("config") or {}))
    _build(model)
    manifest = config.get("weights") or []
    weights = model.weights
    if len(manifest) != len(weights):
        _fail(folder, f"weights.npz lists {len(manifest)} weights, the model has {len(weights)}")
    with np.load(os.path.join(folder, "weights.npz"), allow_pickle=False) as npz:
        for i, (p, spec) in enumerate(zip(weights, manifest)):
            key = f"w{i:05d}"
            if key not in npz.files:
                _fail(folder, f"weights.npz has no array {key} ({spec.get('name')})")
            a = npz[key]
            if a.shape != p.data.shape or list(a.shape) != spec.get("shape"):
                _fail(folder, f"weight {i} ({spec.get('name')}) has shape {a.shape}, the model "
                              f"expects {p.data.shape}")
            if a.dtype.name not in _DTYPES:
                _fail(folder, f"weight {i} is {a.dtype}, expected one of {_DTYPES}")
            p.data[...] = a.astype(p.data.dtype)
    tok = BPETokenizer.load(os.path.join(folder, "tokenizer.json"))
    if tok.vocab_size != model.vocab_size:
        _fail(folder, f"tokenizer.json has {tok.vocab_size} ids, the model expects "
                      f"{model.vocab_size}")
    model.tokenizer = tok
    model.pretrained_info = config.get("info") or {}
    return model
