"""Kill a save at chosen points and check what is left on disk.

    python -m tests.hardening.killer {tnz|shards} FOLDER SEED KILLS

Two models of one architecture (``a`` and ``b``, different weights) take turns
being saved over the same target (a ``.tnz`` file or a sharded folder).  Each
trial forks a child that saves the other model and is killed with SIGKILL:

* at a traced point: the child counts the lines executed in tinynlp's code and the
  ``zipfile`` module, and kills itself at line ``k``: trial ``i`` of ``n`` draws ``k``
  (with the seed) in the ``i``-th ``n``-th of the lines a whole save executes, so the
  kills spread over every step of a save, deterministically (the last stratum kills
  just after the commit point instead, where the new model must be complete);
* or after a random delay (a real asynchronous kill), for a few trials.

After every kill the target must load as exactly ``a`` or exactly ``b`` (and loading
must not fail).  At the end one save runs to completion, after which no temporary
file and no unlisted shard may remain.  Prints a JSON summary.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
import zipfile

import numpy as np

import tinynlp as tn
from tinynlp import compress as C
from tinynlp.models import load_model

TRACED = (os.path.dirname(tn.__file__), zipfile.__file__)


def _model(seed):
    tn.random.seed(seed)
    model = tn.Sequential([tn.layers.Embedding(3000, 32, input_shape=(6,), name="emb"),
                           tn.layers.LSTM(16, name="lstm"),
                           tn.layers.Dense(4, activation="softmax", name="out")])
    return model


def _save(kind, model, target):
    if kind == "tnz":
        model.save(target)
    else:
        C.save_sharded(model, target, max_shard_size="40kB")


def _load(kind, target):
    if kind == "tnz":
        return {p.name: p.data for p in load_model(target, compile=False).weights}
    model = C.load_sharded(target, lazy=False)
    return {p.name: np.array(p.data) for p in model.weights}


def _same(weights, model):
    return set(weights) == {p.name for p in model.weights} and all(
        np.array_equal(weights[p.name], p.data) for p in model.weights)


def _count_lines(kind, model, target, scratch):
    """How many traced lines a whole save executes (measured in a child on a copy)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        count = [0]

        def tracer(frame, event, arg):
            if frame.f_code.co_filename.startswith(TRACED):
                def local(frame, event, arg):
                    if event == "line":
                        count[0] += 1
                    return local
                return local
            return None
        import shutil
        if kind == "tnz":
            shutil.copyfile(target, scratch)
        else:
            shutil.copytree(target, scratch)
        sys.settrace(tracer)
        _save(kind, model, scratch)
        sys.settrace(None)
        os.write(w, str(count[0]).encode())
        os._exit(0)
    os.close(w)
    data = os.read(r, 64)
    os.waitpid(pid, 0)
    os.close(r)
    return int(data)


#: where a save is past its commit point (the target renamed into place): killing in
#: there must leave the new model
AFTER_COMMIT = {"tnz": "_fsync_folder", "shards": "_remove_unlisted_shards"}


def _child_save(kind, model, target, kill_at_line=None, kill_in=None):
    pid = os.fork()
    if pid == 0:
        if kill_at_line is not None or kill_in is not None:
            count = [0]

            def tracer(frame, event, arg):
                if frame.f_code.co_name == kill_in:
                    os.kill(os.getpid(), signal.SIGKILL)
                if frame.f_code.co_filename.startswith(TRACED):
                    def local(frame, event, arg):
                        if event == "line":
                            count[0] += 1
                            if kill_at_line is not None and count[0] >= kill_at_line:
                                os.kill(os.getpid(), signal.SIGKILL)
                        return local
                    return local
                return None
            sys.settrace(tracer)
        _save(kind, model, target)
        os._exit(0)
    return pid


def _leftovers(kind, target):
    folder = os.path.dirname(target) if kind == "tnz" else target
    names = sorted(os.listdir(folder))
    if kind == "tnz":
        return [n for n in names if n != os.path.basename(target)]
    with open(os.path.join(folder, "index.json")) as f:
        listed = set(json.load(f)["shards"]) | {"index.json"}
    return [n for n in names if n not in listed]


def main(argv):
    kind, folder, seed, kills = argv[0], argv[1], int(argv[2]), int(argv[3])
    rng = random.Random(seed)
    models = {"a": _model(1), "b": _model(2)}
    os.makedirs(os.path.join(folder, "target"))
    target = os.path.join(folder, "target", "m.tnz" if kind == "tnz" else "ckpt")
    _save(kind, models["a"], target)
    current = "a"
    total = _count_lines(kind, models["b"], target, os.path.join(folder, "scratch"))
    timed = max(2, kills // 5)
    traced = kills - timed
    strata = list(range(traced))
    rng.shuffle(strata)
    outcome = {"kind": kind, "lines_per_save": total, "trials": 0, "kept_old": 0,
               "took_new": 0, "killed_before_end": 0, "failures": []}
    for trial in range(kills):
        other = "b" if current == "a" else "a"
        if trial < traced:
            k = 1 + int(total * (strata[trial] + rng.random()) / traced)
            if strata[trial] == traced - 1:   # just after the commit, while cleaning up
                pid = _child_save(kind, models[other], target, kill_in=AFTER_COMMIT[kind])
            else:
                pid = _child_save(kind, models[other], target, kill_at_line=min(k, total))
        else:   # an asynchronous kill after a random delay
            pid = _child_save(kind, models[other], target)
            time.sleep(rng.uniform(0.0, 0.03))
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        outcome["killed_before_end"] += os.WIFSIGNALED(status)
        outcome["trials"] += 1
        try:
            weights = _load(kind, target)
        except Exception as e:  # noqa: BLE001 - any failure to load is a finding
            outcome["failures"].append(f"trial {trial}: {type(e).__name__}: {e}")
            continue
        if _same(weights, models[current]):
            outcome["kept_old"] += 1
        elif _same(weights, models[other]):
            outcome["took_new"] += 1
            current = other
        else:
            outcome["failures"].append(f"trial {trial}: a mix of the two models")
    _save(kind, models["b"], target)
    outcome["leftovers_after_a_full_save"] = _leftovers(kind, target)
    print(json.dumps(outcome))


if __name__ == "__main__":
    main(sys.argv[1:])
