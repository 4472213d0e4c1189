"""Run loaders on crafted files in a child process whose address space is limited.

    python -m tests.hardening.memlimit CASES.json

CASES.json: ``{"limit_mb": 256, "warmup": [[loader, path], ...], "cases": [[name, loader,
path], ...]}``.  After the warm-up loads (which compile any kernel the loaders run), the
address space is limited to what the process uses plus ``limit_mb`` (``RLIMIT_AS``), then
each case runs.  Prints one JSON line: ``{name: {"error": class name, "module": its
module, "message": ..., "seconds": ...}}`` (``"error": null`` when the file loaded).
"""

from __future__ import annotations

import json
import resource
import sys
import time

from tinynlp import compress as C
from tinynlp.embeddings import KeyedVectors
from tinynlp.models import load_model
from tinynlp.text import BPETokenizer, Tokenizer


def _vm_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def _predict_sharded(path):
    model = C.load_sharded(path, lazy=False)
    return model


LOADERS = {
    "load_model": load_model,
    "load_sharded": lambda p: C.load_sharded(p, lazy=True),
    "load_sharded_eager": _predict_sharded,
    "load_pruned": C.load_pruned,
    "word2vec_binary": lambda p: KeyedVectors.load_word2vec_format(p, binary=True),
    "word2vec_text": lambda p: KeyedVectors.load_word2vec_format(p, binary=False),
    "glove": KeyedVectors.load_glove,
    "tokenizer": lambda p: Tokenizer.load(p),
    "bpe": BPETokenizer.load,
}


def main(argv):
    with open(argv[0]) as f:
        spec = json.load(f)
    for loader, path in spec.get("warmup", []):
        LOADERS[loader](path)
    limit = _vm_bytes() + int(spec["limit_mb"]) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    out = {}
    for name, loader, path in spec["cases"]:
        t0 = time.perf_counter()
        try:
            LOADERS[loader](path)
            err = None
        except BaseException as e:  # noqa: BLE001 - every outcome is reported
            err = e
        out[name] = {"error": None if err is None else type(err).__name__,
                     "module": None if err is None else type(err).__module__,
                     "message": None if err is None else str(err)[:500],
                     "seconds": round(time.perf_counter() - t0, 3)}
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
