"""Helpers shared by the compression tools: walking layers, running a model, files."""

from __future__ import annotations

import json
import os
import re
import tempfile

import numpy as np

from ..autograd import Tensor, no_grad
from ..layers.base import Layer


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


def atomic_write(path, write_fn, suffix=""):
    """Call ``write_fn(tmp_path)`` then rename the temporary file onto ``path``."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        write_fn(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json(path, obj):
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=1)
    atomic_write(path, write, suffix=".json")
