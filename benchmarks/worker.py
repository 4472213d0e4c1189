"""One measurement: one framework × one model × one batch size, in a fresh process.

    python -m benchmarks.worker --framework tinynlp --bundle data.npz --model emb_rnn \
        --batch 32 --out result.json [--sparse] [--epochs 1] [--threads 2] [--mode timing|jit]

Thread counts are fixed *before* NumPy or torch is imported (environment
variables for OpenBLAS/OpenMP/MKL/Numba, then ``threadpoolctl`` and
``torch.set_num_threads``).  Peak memory is this process's own high-water mark
(``VmHWM``; see :func:`_maxrss_mb`): the harness reports it absolute and as the
growth over the value just before the first training step (imports, data and
model built).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from .threads_env import fix_pools


def set_thread_env(n) -> None:
    """Fix every pool to ``n`` threads before any import; ``"auto"`` leaves them alone (each
    framework's default: tinynlp's run-time choice, PyTorch's physical cores)."""
    if n != "auto":
        fix_pools(n)
    os.environ.setdefault("KERAS_BACKEND", "torch")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _threads_arg(text):
    return text if text == "auto" else int(text)


def _maxrss_mb() -> float:
    """This process's peak resident memory (MB): Linux's ``VmHWM``, the high-water mark
    of the process's own memory since its ``exec``.

    Not ``getrusage``'s ``ru_maxrss``: Linux carries the parent's size over the fork and
    exec that start a worker (measured: a 500 MB parent made a 14 MB child report
    514 MB), so a worker smaller than the harness reported the harness's peak.
    ``ru_maxrss`` remains where there is no ``/proc`` (kilobytes; bytes on macOS).
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024.0


def _import_framework(name: str):
    """Import the framework and its benchmark models; returns the models module."""
    if name == "tinynlp":
        import tinynlp as tn
        tn.layers, tn.optimizers, tn.functional  # noqa: B018 - the lazy sub-packages used
        from . import tinynlp_models as mod
    elif name == "torch":
        import torch  # noqa: F401
        from . import torch_models as mod
    elif name == "keras":
        import keras  # noqa: F401
        from . import keras_models as mod
    else:
        raise ValueError(f"unknown framework {name!r}")
    return mod


def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def _repeat(fn, items, min_reps, max_reps, budget_s):
    """Call ``fn(*items[i % len(items)])`` until ``max_reps`` calls or ``budget_s`` seconds
    (but at least ``min_reps``); returns the list of per-call seconds."""
    times = []
    start = time.perf_counter()
    i = 0
    while i < max_reps and (i < min_reps or time.perf_counter() - start < budget_s):
        t, _ = _timed(fn, *items[i % len(items)])
        times.append(t)
        i += 1
    return times


def run(args) -> dict:
    first_s = 0.0
    if args.framework == "tinynlp":    # first, as the CLI does: it sets OpenBLAS' idle-thread
        t0 = time.perf_counter()       # spin before NumPy loads OpenBLAS (tinynlp/_blas_spin.py)
        import tinynlp  # noqa: F401
        first_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    import numpy as np
    try:  # the `bench` extra installs it; without it the environment variables still apply
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        threadpool_info = None
    else:
        if args.threads != "auto":
            threadpool_limits(args.threads)
    import_numpy_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    mod = _import_framework(args.framework)
    import_s = time.perf_counter() - t0 + first_s
    rss_import = _maxrss_mb()
    if args.framework in ("torch", "keras"):
        import torch
        if args.threads != "auto":
            torch.set_num_threads(args.threads)
        torch.manual_seed(0)
        threads_used = torch.get_num_threads()
    elif args.threads == "auto":       # what fit and the command line do at start
        from tinynlp import threads
        threads_used = threads.apply().threads
    else:
        threads_used = args.threads

    from .agreement import batches
    from .prepare import read_bundle
    from .specs import get_spec

    spec = get_spec(args.model, quick=args.quick)
    data, keras_w, torch_w = read_bundle(args.bundle)
    weights = torch_w if args.framework == "torch" else keras_w

    t0 = time.perf_counter()
    model = mod.build(spec, weights, sparse=args.sparse)
    build_s = time.perf_counter() - t0

    conv = [(model.convert_x(x), model.convert_y(y))
            for x, y in batches(data["x_train"], data["y_train"], args.batch, args.n_batches)]
    result = {
        "framework": args.framework, "model": args.model, "batch": args.batch,
        "sparse": args.sparse, "threads": args.threads, "threads_used": threads_used,
        "mode": args.mode,
        "import_s": import_s, "import_numpy_s": import_numpy_s, "build_s": build_s,
        "rss_after_import_mb": rss_import,
    }
    rss_before = _maxrss_mb()
    result["rss_before_steps_mb"] = rss_before

    first_train_s, loss0 = _timed(model.train_step, *conv[0])
    first_infer_s, _ = _timed(model.predict, conv[0][0])
    result.update(first_train_s=first_train_s, first_infer_s=first_infer_s)
    if args.mode == "jit":
        result["second_train_s"], _ = _timed(model.train_step, *conv[1 % len(conv)])
        result["second_infer_s"], _ = _timed(model.predict, conv[0][0])
        result["rss_peak_mb"] = _maxrss_mb()
        return result

    losses = [loss0]
    for x, y in conv[1:args.agree_steps]:
        losses.append(model.train_step(x, y))
    result["first_losses"] = losses
    for i in range(args.warmup):
        model.train_step(*conv[i % len(conv)])
    c0 = time.process_time()
    train = _repeat(model.train_step, conv, args.min_reps, args.max_reps, args.budget)
    result["train_cpu_ms"] = (time.process_time() - c0) / len(train) * 1e3
    for _ in range(2):
        model.predict(conv[0][0])
    infer = _repeat(model.predict, [(x,) for x, _ in conv], args.min_reps,
                    args.max_reps * 2, args.budget / 2)
    result["train_ms"] = [t * 1e3 for t in train]
    result["infer_ms"] = [t * 1e3 for t in infer]
    result["rss_peak_mb"] = _maxrss_mb()

    if args.epochs > 0:
        del model, conv
        import gc
        gc.collect()
        model = mod.build(spec, weights, sparse=args.sparse)
        x_tr, y_tr = data["x_train"], data["y_train"]
        n = len(x_tr)
        t0 = time.perf_counter()
        for epoch in range(args.epochs):
            order = np.random.default_rng(1000 + epoch).permutation(n)
            for s in range(0, n, args.batch):
                idx = order[s:s + args.batch]
                model.train_step(model.convert_x(np.ascontiguousarray(x_tr[idx])),
                                 model.convert_y(np.ascontiguousarray(y_tr[idx])))
        result["fit_s"] = time.perf_counter() - t0
        x_te, y_te = data["x_test"], data["y_test"]
        preds = [model.predict(model.convert_x(np.ascontiguousarray(x_te[s:s + 512])))
                 for s in range(0, len(x_te), 512)]
        p = np.concatenate(preds).reshape(-1)
        result["accuracy"] = float(((p > 0.5) == (y_te.reshape(-1) > 0.5)).mean())
        result["epochs"] = args.epochs
        result["rss_peak_with_fit_mb"] = _maxrss_mb()

    result["blas"] = [{k: d.get(k) for k in ("internal_api", "version", "num_threads",
                                              "threading_layer", "filepath")}
                      for d in (threadpool_info() if threadpool_info else [])]
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--framework", required=True, choices=("tinynlp", "torch", "keras"))
    p.add_argument("--model", required=True)
    p.add_argument("--bundle", required=True)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--out", required=True)
    p.add_argument("--sparse", action="store_true")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--mode", default="timing", choices=("timing", "jit"))
    p.add_argument("--threads", type=_threads_arg, default=2, help="a count, or auto")
    p.add_argument("--epochs", type=int, default=0)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--min-reps", type=int, default=10)
    p.add_argument("--max-reps", type=int, default=60)
    p.add_argument("--budget", type=float, default=4.0, help="seconds per timing loop")
    p.add_argument("--n-batches", type=int, default=10)
    p.add_argument("--agree-steps", type=int, default=10)
    args = p.parse_args(argv)
    set_thread_env(args.threads)
    result = run(args)
    with open(args.out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    sys.exit(main())
