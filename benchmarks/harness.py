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

from .report import (  # noqa: F401 - the report's names, as the harness offers them
    find, max_loss_diff, plot_ratios, ratio_rows, stats, write_markdown,
)
from .contention import run_contention
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
               max_reps=60, min_reps=10, tag=""):
    """One worker process; ``threads`` an int or "auto" (tinynlp: its run-time choice,
    PyTorch: its default); ``tag`` keeps the result files of repeated runs apart."""
    out = Path(workdir) / (f"{framework}-{model}-{batch}-{'sparse' if sparse else 'dense'}-"
                           f"{mode}{tag}.json")
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
    """(framework, sparse) pairs measured for ``model`` (the frameworks that have its twin)."""
    frameworks = [fw for fw in frameworks if fw in get_spec(model).frameworks]
    out = [(fw, False) for fw in frameworks]
    if sparse_variants and get_spec(model).uses_embedding:
        out += [(fw, True) for fw in ("tinynlp", "torch") if fw in frameworks]
    return out


def model_batch_sizes(model, args):
    """The batch sizes ``model`` is measured at: its spec's (the GPT: 12) or --batch-sizes."""
    spec = get_spec(model)
    return list(spec.batch_sizes) if spec.batch_sizes and not args.quick else args.batch_sizes


def _measure(args, m, b, fw, sparse, bundle, workdir, first=True):
    """One worker: ``fw``'s ``m`` at batch ``b`` (the accuracy epochs only in the first round)."""
    waited = wait_for_idle(args.wait_idle, args.max_wait) if args.wait_idle else 0.0
    epochs = args.epochs if (args.quick or b in args.accuracy_batches) and first else 0
    if not get_spec(m).binary_output:
        epochs = 0                 # the accuracy column is for the classifiers
    r = run_worker(fw, m, bundle, b, workdir, sparse=sparse, quick=args.quick,
                   epochs=epochs, threads=args.threads, budget=args.budget,
                   max_reps=args.max_reps, min_reps=args.min_reps)
    r["waited_s"] = waited
    return r


def _log_row(log, m, b, fw, sparse, r, rnd):
    tag = f"{m:9s} b={b:<4d} {fw:8s}{' sparse' if sparse else '':7s}"
    tag += f" round {rnd + 1}" if rnd is not None else ""
    if "error" in r:
        log(f"  {tag} ERROR "
            f"{r['error'].strip().splitlines()[-1] if r['error'].strip() else ''}")
    else:
        log(f"  {tag} train {np.median(r['train_ms']):8.2f} ms  infer "
            f"{np.median(r['infer_ms']):8.2f} ms  peak {r['rss_peak_mb']:6.0f} MB"
            + (f"  acc {r['accuracy']:.3f}" if "accuracy" in r else "")
            + f"  load {r['load_before'][0]:.1f}")


def pool_rounds(rounds: list) -> dict:
    """One result from a variant's rounds (fresh workers, the frameworks interleaved):
    the step times of all rounds together, each round's medians kept
    (``round_train_ms``, ``round_infer_ms``), the round with the largest peak memory for
    the memory columns, the rest (accuracy, first losses, load) from the first round.  A round that failed makes the result fail."""
    first = dict(rounds[0])
    if len(rounds) == 1 or any("error" in r for r in rounds):
        return next((r for r in rounds if "error" in r), first)
    for key in ("train_ms", "infer_ms"):
        first[key] = [t for r in rounds for t in r[key]]
        first[f"round_{key}"] = [float(np.median(r[key])) for r in rounds]
    first["train_cpu_ms"] = float(np.mean([r["train_cpu_ms"] for r in rounds]))
    worst = max(rounds, key=lambda r: r["rss_peak_mb"])
    first["rss_peak_mb"], first["rss_before_steps_mb"] = (worst["rss_peak_mb"],
                                                         worst["rss_before_steps_mb"])
    first["rounds"] = len(rounds)
    return first


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
        "rounds": args.rounds,
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

    for m in args.models if not args.contention_only else ():
        for b in model_batch_sizes(m, args):
            rounds = {}
            for rnd in range(args.rounds):
                for fw, sparse in variants(m, args.frameworks, not args.no_sparse):
                    r = _measure(args, m, b, fw, sparse, bundles[m], workdir, first=rnd == 0)
                    rounds.setdefault((fw, sparse), []).append(r)
                    _log_row(log, m, b, fw, sparse, r, rnd if args.rounds > 1 else None)
            results += [pool_rounds(rs) for rs in rounds.values()]
    contention = run_contention(args, bundles, workdir, log, run_worker) if args.contention else []
    jit = []
    if not args.quick and "tinynlp" in args.frameworks and not args.no_jit and \
            not args.contention_only:
        # compile time: a fresh Numba cache dir (cold: compiles every kernel the model
        # uses), then the same dir again (cached: loads the compiled kernels)
        for m in args.models:
            cache = Path(tempfile.mkdtemp(prefix="numba-cache-", dir=workdir))
            pair = {}
            for label in ("cold", "cached"):
                r = run_worker("tinynlp", m, bundles[m], model_batch_sizes(m, args)[0],
                               workdir, mode="jit",
                               threads=args.threads, env_extra={"NUMBA_CACHE_DIR": str(cache)})
                pair[label] = r
            jit.append({"model": m, **pair})
            log(f"  jit {m:9s} first train step: cold cache "
                f"{pair['cold'].get('first_train_s', float('nan')):.2f} s, cached "
                f"{pair['cached'].get('first_train_s', float('nan')):.2f} s")
    info["load_end"] = loadavg()
    info["total_s"] = time.perf_counter() - t_start
    return {"info": info, "results": results, "jit": jit, "contention": contention}


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
    p.add_argument("--contention", action="store_true",
                   help="also time the train step with one competing CPU-bound process "
                        "(started and stopped here): tinynlp's default threads, 1 and 2 "
                        "threads, PyTorch's default; quiet and loaded")
    p.add_argument("--contention-only", action="store_true",
                   help="only the --contention measurements")
    p.add_argument("--contention-batch", type=int, default=32)
    p.add_argument("--merge", action="store_true",
                   help="keep the rows of the existing report's .json that this run does not "
                        "measure again (e.g. --models gpt --merge adds the GPT rows)")
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
    p.add_argument("--rounds", type=int, default=1,
                   help="measure every model and batch size this many times, the frameworks "
                        "interleaved (fresh workers tinynlp, PyTorch, Keras, tinynlp, ...), and "
                        "pool the step times: both sides see the same machine states")
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
    if args.contention_only:
        args.contention = True
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


def _result_key(r):
    return (r.get("framework"), r.get("model"), r.get("batch"), bool(r.get("sparse")),
            r.get("mode", "timing"))


def merge_results(old: dict, new: dict) -> dict:
    """``old`` with ``new``'s measurements in place of the same (framework, model, batch,
    variant) ones — the rows not measured again are kept, each with its own date and load;
    ``info`` stays the first run's, and lists each merged run under ``merged``.  A row
    measured again keeps its place in the report; rows new to it come last."""
    fresh = {_result_key(r): r for r in new["results"]}
    results = [fresh.pop(_result_key(r), r) for r in old["results"]] + list(fresh.values())
    by_model = lambda entries: {e["model"]: e for e in entries}      # noqa: E731
    jit = {**by_model(old.get("jit", [])), **by_model(new.get("jit", []))}
    contention = {**by_model(old.get("contention", [])), **by_model(new.get("contention", []))}
    info = dict(old["info"])
    ni = new["info"]
    info["merged"] = [*info.get("merged", []), {
        "date": ni["date"], "commit": ni.get("commit"), "load_start": ni["load_start"],
        "load_end": ni["load_end"], "timing": sorted({r["model"] for r in new["results"]}),
        "contention": sorted(by_model(new.get("contention", []))), "note": ni.get("note"),
        "total_s": ni.get("total_s")}]
    return {"info": info, "results": results, "jit": list(jit.values()),
            "contention": list(contention.values())}


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
        previous = out.with_name(out.stem + ".json")
        if args.merge and previous.exists():
            data = merge_results(json.loads(previous.read_text()), data)
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
