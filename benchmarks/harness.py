"""Run every model in every framework, each measurement in its own process; report.

``python -m benchmarks`` (see ``--help``) prepares the data and initial weights
once, then for each model and batch size runs :mod:`benchmarks.worker` for
tinynlp, PyTorch and Keras back to back (and, for the embedding models, the
row-sparse variants of tinynlp and PyTorch), then writes ``RESULTS.md``,
``results.json`` and ``ratios.png``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from .specs import MODELS, get_spec

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FRAMEWORKS = ("tinynlp", "torch", "keras")


# --------------------------------------------------------------------------
# machine and versions
# --------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("numpy", "numba", "torch", "keras", "threadpoolctl"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def numpy_blas() -> str:
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # noqa: BLE001 - informative only
        return "unknown"


def git_commit() -> str:
    """HEAD's short hash, with "+dirty" when tracked files under tinynlp/ or benchmarks/
    differ from it (other developers edit the tree concurrently)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--short", "--untracked-files=no", "tinynlp",
                                "benchmarks"], cwd=ROOT, capture_output=True,
                               text=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def loadavg():
    try:
        return tuple(round(x, 2) for x in os.getloadavg())
    except OSError:
        return (float("nan"),) * 3


def wait_for_idle(max_load: float, max_wait: float) -> float:
    """Sleep until the 1-minute load average is below ``max_load`` (at most ``max_wait`` s)."""
    start = time.time()
    while os.getloadavg()[0] > max_load and time.time() - start < max_wait:
        time.sleep(5)
    return time.time() - start


# --------------------------------------------------------------------------
# running workers
# --------------------------------------------------------------------------

def run_worker(framework, model, bundle, batch, workdir, *, sparse=False, quick=False,
               epochs=0, threads=2, budget=4.0, mode="timing", env_extra=None,
               max_reps=60, min_reps=10):
    out = Path(workdir) / f"{framework}-{model}-{batch}-{'sparse' if sparse else 'dense'}-{mode}.json"
    cmd = [sys.executable, "-m", "benchmarks.worker", "--framework", framework, "--model", model,
           "--bundle", str(bundle), "--batch", str(batch), "--out", str(out),
           "--threads", str(threads), "--epochs", str(epochs), "--budget", str(budget),
           "--mode", mode, "--max-reps", str(max_reps), "--min-reps", str(min_reps)]
    if sparse:
        cmd.append("--sparse")
    if quick:
        cmd += ["--quick", "--warmup", "1", "--n-batches", "3", "--agree-steps", "3"]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(env_extra or {})
    load_before = loadavg()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"framework": framework, "model": model, "batch": batch, "sparse": sparse,
                "mode": mode, "error": (proc.stderr or proc.stdout)[-2000:]}
    result = json.loads(out.read_text())
    result["load_before"] = load_before
    result["load_after"] = loadavg()
    result["process_wall_s"] = wall
    return result


def variants(model, frameworks, sparse_variants=True):
    """(framework, sparse) pairs measured for ``model``."""
    out = [(fw, False) for fw in frameworks]
    if sparse_variants and get_spec(model).uses_embedding:
        out += [(fw, True) for fw in ("tinynlp", "torch") if fw in frameworks]
    return out


def run_all(args) -> dict:
    from .prepare import write_bundle

    workdir = Path(tempfile.mkdtemp(prefix="tinynlp-bench-"))
    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform(),
        "versions": versions(), "numpy_blas": numpy_blas(), "threads": args.threads,
        "quick": args.quick, "epochs": args.epochs, "batch_sizes": args.batch_sizes,
        "load_start": loadavg(), "budget_s": args.budget,
        "accuracy_batches": args.accuracy_batches, "commit": git_commit(), "note": args.note,
    }
    t_start = time.perf_counter()
    bundles = {}
    for m in args.models:
        bundles[m] = workdir / f"{m}.npz"
        write_bundle(bundles[m], get_spec(m, quick=args.quick), quick=args.quick)
    results = []

    def log(msg):
        if not args.silent:
            print(msg, flush=True)

    for m in args.models:
        for b in args.batch_sizes:
            for fw, sparse in variants(m, args.frameworks, not args.no_sparse):
                if args.wait_idle:
                    waited = wait_for_idle(args.wait_idle, args.max_wait)
                else:
                    waited = 0.0
                epochs = args.epochs if (args.quick or b in args.accuracy_batches) else 0
                r = run_worker(fw, m, bundles[m], b, workdir, sparse=sparse, quick=args.quick,
                               epochs=epochs, threads=args.threads, budget=args.budget,
                               max_reps=args.max_reps, min_reps=args.min_reps)
                r["waited_s"] = waited
                results.append(r)
                if "error" in r:
                    log(f"  {m:9s} b={b:<4d} {fw:8s}{' sparse' if sparse else '':7s} ERROR "
                        f"{r['error'].strip().splitlines()[-1] if r['error'].strip() else ''}")
                else:
                    log(f"  {m:9s} b={b:<4d} {fw:8s}{' sparse' if sparse else '':7s} "
                        f"train {np.median(r['train_ms']):8.2f} ms  infer "
                        f"{np.median(r['infer_ms']):8.2f} ms  peak {r['rss_peak_mb']:6.0f} MB"
                        + (f"  acc {r['accuracy']:.3f}" if "accuracy" in r else "")
                        + f"  load {r['load_before'][0]:.1f}")
    jit = []
    if not args.quick and "tinynlp" in args.frameworks and not args.no_jit:
        # compile time: a fresh Numba cache dir (cold: compiles every kernel the model
        # uses), then the same dir again (cached: loads the compiled kernels)
        for m in args.models:
            cache = Path(tempfile.mkdtemp(prefix="numba-cache-", dir=workdir))
            pair = {}
            for label in ("cold", "cached"):
                r = run_worker("tinynlp", m, bundles[m], 32, workdir, mode="jit",
                               threads=args.threads, env_extra={"NUMBA_CACHE_DIR": str(cache)})
                pair[label] = r
            jit.append({"model": m, **pair})
            log(f"  jit {m:9s} first train step: cold cache "
                f"{pair['cold'].get('first_train_s', float('nan')):.2f} s, cached "
                f"{pair['cached'].get('first_train_s', float('nan')):.2f} s")
    info["load_end"] = loadavg()
    info["total_s"] = time.perf_counter() - t_start
    return {"info": info, "results": results, "jit": jit}


# --------------------------------------------------------------------------
# summarising
# --------------------------------------------------------------------------

def stats(ms):
    a = np.asarray(ms, dtype=float)
    return {"median": float(np.median(a)), "p25": float(np.percentile(a, 25)),
            "p75": float(np.percentile(a, 75)), "min": float(a.min()), "n": int(a.size)}


def find(results, fw, model, batch, sparse=False):
    for r in results:
        if (r.get("framework") == fw and r.get("model") == model and r.get("batch") == batch
                and bool(r.get("sparse")) == sparse and r.get("mode", "timing") == "timing"
                and "error" not in r):
            return r
    return None


def ratio_rows(data):
    """One row per (model, batch, variant): medians and tinynlp / other ratios."""
    rows = []
    res = data["results"]
    models = list(dict.fromkeys(r["model"] for r in res))
    batches = list(dict.fromkeys(r["batch"] for r in res))
    for m in models:
        for b in batches:
            for sparse in (False, True):
                tiny = find(res, "tinynlp", m, b, sparse)
                if tiny is None:
                    continue
                row = {"model": m, "batch": b, "sparse": sparse, "tiny": tiny,
                       "torch": find(res, "torch", m, b, sparse),
                       "keras": None if sparse else find(res, "keras", m, b, False)}
                for other in ("torch", "keras"):
                    o = row[other]
                    for what in ("train", "infer"):
                        key = f"{what}_vs_{other}"
                        row[key] = (np.median(tiny[f"{what}_ms"]) / np.median(o[f"{what}_ms"])
                                    if o else None)
                    row[f"mem_vs_{other}"] = (tiny["rss_peak_mb"] / o["rss_peak_mb"] if o else None)
                rows.append(row)
    return rows


def _fmt_stats(ms):
    s = stats(ms)
    return f"{s['median']:.2f} [{s['p25']:.2f}–{s['p75']:.2f}] (min {s['min']:.2f})"


def _fmt_ratio(x):
    if x is None:
        return "–"
    mark = " ✓" if x <= 1.0 else ""
    return f"{x:.2f}{mark}"


def max_loss_diff(a, b):
    if not a or not b:
        return None
    n = min(len(a["first_losses"]), len(b["first_losses"]))
    return float(np.max(np.abs(np.array(a["first_losses"][:n]) - np.array(b["first_losses"][:n]))))


def write_markdown(data, path, plot_name="ratios.png"):
    info = data["info"]
    v = info["versions"]
    rows = ratio_rows(data)
    blas = next((r.get("blas") for r in data["results"]
                 if r.get("framework") == "tinynlp" and r.get("blas")), None)
    L = []
    L.append("# Benchmarks: tinynlp vs PyTorch vs Keras 3 (torch backend)")
    L.append("")
    L.append("_Generated by `python -m benchmarks`; do not edit by hand._")
    L.append("")
    L.append("## Setup")
    L.append("")
    L.append(f"- date: {info['date']}; total harness time {info['total_s'] / 60:.1f} min; "
             f"code: commit {info.get('commit', '?')}")
    L.append(f"- machine: {info['cpu']}, {info['cores']} cores; {info['platform']}")
    L.append(f"- load average (1, 5, 15 min) at start {info['load_start']}, at end "
             f"{info['load_end']} — other processes shared the machine when it was above "
             f"~0.5; each row below also lists the 1-min load when its measurement began")
    L.append(f"- versions: python {v['python']}, numpy {v['numpy']}, numba {v['numba']}, "
             f"torch {v['torch']}, keras {v['keras']} (backend torch)")
    L.append(f"- NumPy BLAS: {info['numpy_blas']}" + (
        "; at run time: " + "; ".join(
            f"{b['internal_api']} {b['version']} ({b['threading_layer']}, {b['num_threads']} "
            f"threads)" for b in blas) if blas else ""))
    L.append(f"- threads: {info['threads']} everywhere — `torch.set_num_threads({info['threads']})` "
             f"(PyTorch and Keras), OpenBLAS/OpenMP/Numba threads via environment variables set "
             f"before import plus `threadpoolctl`")
    if info.get("note"):
        L.append(f"- **note**: {info['note']}")
    L.append("- each framework × model × batch size runs in its own fresh process, the three "
             "frameworks back to back")
    L.append("- same architecture, same initial weights (made by tinynlp with Keras' "
             "initialisers, converted to PyTorch's layout), same batches, Adam(lr=1e-3, "
             "epsilon=1e-7), binary cross-entropy on sigmoid outputs")
    L.append("")
    L.append("## What is measured")
    L.append("")
    L.append("- **train step**: forward + BCE loss + backward + Adam update (+ clearing the "
             "gradients), one batch, wall clock; tinynlp: `tn.Sequential(...).train_on_batch` "
             "(layers, `binary_crossentropy`, `backward()`, `optimizers.Adam`); PyTorch: "
             "`nn.Module` + "
             "`F.binary_cross_entropy` + `backward` + `optim.Adam.step`; Keras: "
             "`model.train_on_batch`.")
    L.append("- **inference**: forward of one batch without gradients (`model(x)` under "
             "`tn.no_grad()` / `torch.no_grad()` + `eval()` / `predict_on_batch`).")
    n_min = min((len(r["train_ms"]) for r in data["results"] if "train_ms" in r), default=0)
    L.append(f"- times: median [25th–75th percentile] (min) in ms over repeated steps after 3 "
             f"warm-up steps (at least {n_min} steps, more while under {info['budget_s']:g} s "
             "per loop), cycling through 10 fixed real batches.")
    L.append("- **ratio** = tinynlp median / other median from the same run (< 1: tinynlp "
             "faster, marked ✓).")
    L.append("- **peak memory**: `ru_maxrss` of the worker process after the timing loops "
             "(whole process: interpreter, framework, data, model, optimizer state); "
             "Δ = growth over the value just before the first training step.")
    L.append("- **sparse** rows: `Embedding(sparse=True)` — tinynlp's row-sparse gradient "
             "with lazy Adam (touched rows only) vs PyTorch `nn.Embedding(sparse=True)` + "
             "`optim.SparseAdam` for the table (Adam for the rest). Both are *lazy* Adam: a "
             "different optimizer from the dense rows, which update all 2M table entries "
             "every step as `torch.optim.Adam` does.")
    L.append("")
    L.append("## Ratios (tinynlp / other; ≤ 1.0 is the goal)")
    L.append("")
    L.append(f"![ratios]({plot_name})")
    L.append("")
    L.append("| model | batch | train / torch | infer / torch | peak mem / torch | "
             "train / keras | infer / keras | peak mem / keras |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        name = r["model"] + (" (sparse)" if r["sparse"] else "")
        L.append(f"| {name} | {r['batch']} | {_fmt_ratio(r['train_vs_torch'])} | "
                 f"{_fmt_ratio(r['infer_vs_torch'])} | {_fmt_ratio(r['mem_vs_torch'])} | "
                 f"{_fmt_ratio(r['train_vs_keras'])} | {_fmt_ratio(r['infer_vs_keras'])} | "
                 f"{_fmt_ratio(r['mem_vs_keras'])} |")
    L.append("")
    L.append("## Times (ms) and memory (MB)")
    L.append("")
    L.append("CPU = process CPU time per train step (all threads, mean over the timing "
             "loop); CPU well above wall time means threads busy in parallel, wall well above "
             "CPU means the process waited (for a core, or for a thread of its parallel "
             "region that was descheduled — on a loaded machine this hits 2-thread OpenMP "
             "and OpenBLAS regions hardest).")
    L.append("")
    L.append("| model | batch | framework | train step | train CPU | inference | peak RSS (Δ) | "
             "load |")
    L.append("|---|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        name = r["model"] + (" (sparse)" if r["sparse"] else "")
        for fw in ("tiny", "torch", "keras"):
            x = r[fw]
            if x is None:
                continue
            label = {"tiny": "tinynlp", "torch": "PyTorch", "keras": "Keras"}[fw]
            delta = x["rss_peak_mb"] - x["rss_before_steps_mb"]
            cpu = f"{x['train_cpu_ms']:.2f}" if "train_cpu_ms" in x else "–"
            L.append(f"| {name} | {r['batch']} | {label} | {_fmt_stats(x['train_ms'])} | "
                     f"{cpu} | {_fmt_stats(x['infer_ms'])} | {x['rss_peak_mb']:.0f} ({delta:+.0f}) | "
                     f"{x['load_before'][0]:.1f} |")
    L.append("")
    L.append("## Model titles")
    L.append("")
    for m in dict.fromkeys(r["model"] for r in rows):
        spec = get_spec(m, quick=info["quick"])
        data_desc = ("real Rotten Tomatoes (10,253 train / 2,499 test snippets; "
                     f"Tokenizer(num_words={spec.sizes['vocab']}), pad_sequences(maxlen="
                     f"{spec.sizes['maxlen']}))" if spec.data == "rotten_tomatoes" else
                     "synthetic (see `benchmarks/prepare.py`: 10,000 train / 2,000 test)")
        L.append(f"- `{m}`: {spec.title}; data: {data_desc}; sizes {spec.sizes}")
    L.append("")
    L.append("## Accuracy and step-by-step agreement")
    L.append("")
    L.append(f"Accuracy on the test set after **{info['epochs']} epoch(s)** of training "
             f"(measured in the batch-size {info.get('accuracy_batches')} runs) from "
             "the same initial weights with the same shuffled batches in every framework "
             "(a fresh model, after the timing loops). Loss agreement: largest absolute "
             "difference between tinynlp's and PyTorch's training losses over the first 10 "
             "steps from identical weights and batches (the same computation, so float32 "
             "rounding only).")
    L.append("")
    L.append("| model | batch | tinynlp acc | PyTorch acc | Keras acc | max loss diff vs "
             "torch (10 steps) | vs Keras | epoch time tinynlp / torch / keras (s) |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        name = r["model"] + (" (sparse)" if r["sparse"] else "")

        def acc(x):
            return f"{x['accuracy']:.3f}" if x and "accuracy" in x else "–"

        def fit(x):
            return f"{x['fit_s'] / max(x['epochs'], 1):.1f}" if x and "fit_s" in x else "–"

        d1, d2 = max_loss_diff(r["tiny"], r["torch"]), max_loss_diff(r["tiny"], r["keras"])
        L.append(f"| {name} | {r['batch']} | {acc(r['tiny'])} | {acc(r['torch'])} | "
                 f"{acc(r['keras'])} | {'–' if d1 is None else f'{d1:.1e}'} | "
                 f"{'–' if d2 is None else f'{d2:.1e}'} | {fit(r['tiny'])} / {fit(r['torch'])} "
                 f"/ {fit(r['keras'])} |")
    L.append("")
    base = []
    for m in dict.fromkeys(r["model"] for r in rows):
        from .prepare import make_data
        _, (_, y_te) = make_data(get_spec(m, quick=info["quick"]), quick=info["quick"])
        frac = float(np.mean(y_te > 0.5))
        base.append(f"{m} {max(frac, 1 - frac):.3f}")
    L.append("Majority-class accuracy of each test set, for reference: " + ", ".join(base)
             + ". (An accuracy equal to it means the model still predicts one class after "
             "this much training.)")
    L.append("")
    L.append("Keras' Adam adds epsilon to √v rather than to √v̂ (PyTorch and tinynlp), so its "
             "losses drift slightly from the others after the first step; the sparse rows "
             "use lazy Adam and are compared with PyTorch's SparseAdam.")
    L.append("")
    L.append("## Import and first-call (compile) time")
    L.append("")
    imp = {}
    for r in data["results"]:
        if "import_s" in r:
            imp.setdefault(r["framework"], []).append(r["import_s"])
    L.append("Import: median over all worker processes of the wall time of importing the "
             "framework (and the benchmark's model module) in a fresh interpreter; NumPy "
             "is imported before and not counted.")
    L.append("")
    L.append("| framework | import (s) | process RSS after import (MB) |")
    L.append("|---|---:|---:|")
    for fw in FRAMEWORKS:
        if fw in imp:
            rss = [r["rss_after_import_mb"] for r in data["results"]
                   if r.get("framework") == fw and "rss_after_import_mb" in r]
            L.append(f"| {fw} | {np.median(imp[fw]):.2f} | {np.median(rss):.0f} |")
    L.append("")
    L.append("First train step vs steady state (batch 32): the first call pays lazy "
             "initialisation, and for tinynlp loading (or compiling) its Numba kernels.")
    L.append("")
    L.append("| model | tinynlp first step: cold Numba cache (compile) | cached | steady "
             "state (ms) | PyTorch first step | steady | Keras first step | steady |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    jit = {j["model"]: j for j in data.get("jit", [])}
    for m in dict.fromkeys(r["model"] for r in rows):
        b = 32 if 32 in info["batch_sizes"] else info["batch_sizes"][0]
        t, p, k = (find(data["results"], fw, m, b) for fw in FRAMEWORKS)
        j = jit.get(m, {})

        def first(x):
            return f"{x['first_train_s']:.3f} s" if x else "–"

        def steady(x):
            return f"{np.median(x['train_ms']):.2f}" if x else "–"

        cold = j.get("cold", {}).get("first_train_s")
        cached = j.get("cached", {}).get("first_train_s")
        L.append(f"| {m} | {'–' if cold is None else f'{cold:.2f} s'} | "
                 f"{'–' if cached is None else f'{cached:.3f} s'} | {steady(t)} | {first(p)} | "
                 f"{steady(p)} | {first(k)} | {steady(k)} |")
    errors = [r for r in data["results"] if "error" in r]
    if errors:
        L.append("")
        L.append("## Errors")
        L.append("")
        for r in errors:
            L.append(f"- {r['framework']} {r['model']} batch {r['batch']}: "
                     f"`{r['error'].strip().splitlines()[-1] if r['error'].strip() else '?'}`")
    L.append("")
    Path(path).write_text("\n".join(L))


def plot_ratios(data, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = ratio_rows(data)
    labels = [f"{r['model']}{' sparse' if r['sparse'] else ''}\nb={r['batch']}" for r in rows]
    series = [("train / PyTorch", "train_vs_torch"), ("inference / PyTorch", "infer_vs_torch"),
              ("peak memory / PyTorch", "mem_vs_torch"), ("train / Keras", "train_vs_keras")]
    x = np.arange(len(rows))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(8, 0.9 * len(rows) + 2), 4.8))
    for i, (label, key) in enumerate(series):
        vals = [r[key] if r[key] is not None else np.nan for r in rows]
        ax.bar(x + (i - (len(series) - 1) / 2) * width, vals, width, label=label)
    ax.axhline(1.0, color="black", lw=1, ls="--")
    ax.set_yscale("log")
    ax.set_xticks(x)
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_ylabel("tinynlp / other (log scale; < 1 = tinynlp better)")
    ax.set_title(f"tinynlp vs PyTorch and Keras, {data['info']['threads']} threads "
                 f"({data['info']['date'][:10]})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="tinynlp vs PyTorch vs Keras 3 (torch backend): the same models, side by "
                    "side. Writes benchmarks/RESULTS.md, results.json and ratios.png.")
    p.add_argument("--quick", action="store_true",
                   help="CI check that the harness runs: tiny models, few repeats, writes "
                        "nothing unless --out is given")
    p.add_argument("--out", help="markdown report path (default benchmarks/RESULTS.md; "
                                 "with --quick nothing is written unless given)")
    p.add_argument("--models", default=None,
                   help=f"comma-separated subset of {','.join(MODELS)}")
    p.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    p.add_argument("--batch-sizes", default=None, help="default 32,256 (quick: 8)")
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs of training for the accuracy column (default 1; quick: 1)")
    p.add_argument("--accuracy-batches", default="256",
                   help="batch sizes whose runs also train --epochs epochs for the accuracy "
                        "column (default 256)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--budget", type=float, default=None,
                   help="seconds per timing loop (default 3; quick 0.2)")
    p.add_argument("--min-reps", type=int, default=None)
    p.add_argument("--max-reps", type=int, default=None)
    p.add_argument("--no-sparse", action="store_true", help="skip the row-sparse variants")
    p.add_argument("--no-jit", action="store_true", help="skip the cold/cached compile runs")
    p.add_argument("--wait-idle", type=float, default=0.0, metavar="LOAD",
                   help="before each measurement wait until the 1-min load average is below "
                        "LOAD (at most --max-wait seconds)")
    p.add_argument("--max-wait", type=float, default=60.0)
    p.add_argument("--all", action="store_true",
                   help="also run the other benchmark scripts (word2vec vs gensim, compression "
                        "report, distributed scaling)")
    p.add_argument("--silent", action="store_true")
    p.add_argument("--note", help="a sentence to print in the report's setup section "
                                  "(stored in the results json)")
    p.add_argument("--report-only", metavar="JSON",
                   help="do not measure: rewrite the report and plot from a results .json "
                        "written by an earlier run (to --out, default next to the json)")
    args = p.parse_args(argv)
    if args.models is None:
        args.models = "seed_rnn,emb_lstm" if args.quick else ",".join(MODELS)
    args.models = [m for m in args.models.split(",") if m]
    for m in args.models:
        if m not in MODELS:
            p.error(f"unknown model {m!r}; choose from {', '.join(MODELS)}")
    args.frameworks = [f for f in args.frameworks.split(",") if f]
    for f in args.frameworks:
        if f not in FRAMEWORKS:
            p.error(f"unknown framework {f!r}; choose from {', '.join(FRAMEWORKS)}")
    if args.batch_sizes is None:
        args.batch_sizes = "8" if args.quick else "32,256"
    args.batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b]
    args.accuracy_batches = [int(b) for b in str(args.accuracy_batches).split(",") if b]
    if args.epochs is None:
        args.epochs = 1
    if args.budget is None:
        args.budget = 0.2 if args.quick else 3.0
    if args.min_reps is None:
        args.min_reps = 3 if args.quick else 10
    if args.max_reps is None:
        args.max_reps = 10 if args.quick else 60
    return args


OTHER_SCRIPTS = ("word2vec_vs_gensim.py", "compression_report.py", "distributed_scaling.py")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.report_only:
        src = Path(args.report_only)
        data = json.loads(src.read_text())
        if args.note:
            data["info"]["note"] = args.note
            src.write_text(json.dumps(data, indent=1))
        out = Path(args.out) if args.out else src.with_suffix(".md")
        plot_name = "ratios.png" if out.stem == "RESULTS" else out.stem + "_ratios.png"
        plot_ratios(data, out.with_name(plot_name))
        write_markdown(data, out, plot_name=plot_name)
        return 0
    data = run_all(args)
    out = args.out
    if out is None and not args.quick:
        out = str(HERE / "RESULTS.md")
    if out:
        out = Path(out)
        plot_name = "ratios.png" if out.stem == "RESULTS" else out.stem + "_ratios.png"
        plot_path = out.with_name(plot_name)
        plot_ratios(data, plot_path)
        write_markdown(data, out, plot_name=plot_name)
        out.with_name(out.stem + ".json").write_text(json.dumps(data, indent=1))
        if not args.silent:
            print(f"wrote {out}, {plot_path} and {out.with_name(out.stem + '.json')}")
    errors = [r for r in data["results"] if "error" in r]
    status = 1 if errors else 0
    if args.all:
        for script in OTHER_SCRIPTS:
            path = HERE / script
            if path.exists():
                print(f"running {script}", flush=True)
                extra = ["--quick"] if args.quick else []
                rc = subprocess.run([sys.executable, str(path), *extra], cwd=ROOT).returncode
                status = status or rc
    return status
