"""Train steps under load: one competing CPU-bound process, started and stopped here.

On the 2-core machine a second CPU-bound job (``yes > /dev/null``, a laptop's
browser) leaves one core.  For each model, in fresh workers:

- tinynlp with its default threads (``tinynlp.threads``: chosen at start from
  the idle cores, as ``fit`` and the command line do), quiet and loaded;
- tinynlp pinned to 1 thread, and to 2 threads (what it did before the
  run-time choice), loaded;
- PyTorch with its default threads (``torch.get_num_threads()``: the
  physical cores), quiet and loaded.

The competitor is ``python -c "while True: pass"``, started before each
loaded worker (so a run-time choice sees it) and killed when it ends.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time

import numpy as np

from .specs import get_spec

#: (label, framework, threads, loaded)
CONFIGS = (
    ("tiny_quiet", "tinynlp", "auto", False),
    ("tiny_loaded", "tinynlp", "auto", True),
    ("tiny1_loaded", "tinynlp", 1, True),
    ("tiny2_loaded", "tinynlp", 2, True),
    ("torch_quiet", "torch", "auto", False),
    ("torch_loaded", "torch", "auto", True),
)

#: the competing process: one core, busy until killed
COMPETITOR = [sys.executable, "-c", "while True: pass"]


@contextlib.contextmanager
def competing_process(active=True, settle_s=1.0):
    """Run ``COMPETITOR`` for the duration of the block (nothing when not ``active``)."""
    if not active:
        yield None
        return
    proc = subprocess.Popen(COMPETITOR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(settle_s)          # running (and counted in /proc/stat) before the worker
        yield proc
    finally:
        proc.kill()
        proc.wait()


def run_contention(args, bundles, workdir, log, run_worker):
    """One entry per model: the results of :data:`CONFIGS` at ``--contention-batch`` (the
    GPT: its batch size); ``run_worker`` is :func:`benchmarks.harness.run_worker`."""
    out = []
    for m in args.models:
        spec = get_spec(m)
        b = spec.batch_sizes[0] if spec.batch_sizes and not args.quick else \
            args.contention_batch
        entry = {"model": m, "batch": b}
        for label, fw, threads, loaded in CONFIGS:
            if fw not in args.frameworks or fw not in spec.frameworks:
                continue
            with competing_process(loaded, 0.2 if args.quick else 1.0):
                r = run_worker(fw, m, bundles[m], b, workdir, quick=args.quick, epochs=0,
                               threads=threads, budget=args.budget, max_reps=args.max_reps,
                               min_reps=args.min_reps, tag=f"-{label}")
            entry[label] = r
            if "error" in r:
                log(f"  load {m:9s} b={b:<4d} {label:13s} ERROR "
                    f"{r['error'].strip().splitlines()[-1] if r['error'].strip() else ''}")
            else:
                log(f"  load {m:9s} b={b:<4d} {label:13s} train {np.median(r['train_ms']):8.2f} "
                    f"ms  ({r.get('threads_used', '?')} threads)  load "
                    f"{r['load_before'][0]:.1f}")
        out.append(entry)
    return out


def slowdown(entry, quiet, loaded):
    """Median train step loaded / quiet, or None."""
    a, b = entry.get(quiet), entry.get(loaded)
    if not a or not b or "error" in a or "error" in b:
        return None
    return float(np.median(b["train_ms"]) / np.median(a["train_ms"]))


def train_ms(entry, label):
    r = entry.get(label)
    return None if not r or "error" in r else float(np.median(r["train_ms"]))


def loaded_ratio(entry):
    """tinynlp (default threads) / PyTorch (default threads), both under load."""
    a, b = train_ms(entry, "tiny_loaded"), train_ms(entry, "torch_loaded")
    return None if a is None or b is None else a / b


def _cell(entry, label, quiet=None):
    r = entry.get(label)
    if not r or "error" in r:
        return "–"
    text = f"{np.median(r['train_ms']):.2f} ({r.get('threads_used', '?')}t)"
    x = slowdown(entry, quiet, label) if quiet else None
    return text + (f" **×{x:.2f}**" if x is not None else "")


def contention_lines(data) -> list:
    """The report's "Under load" section (empty without contention measurements)."""
    entries = data.get("contention", [])
    if not entries:
        return []
    L = ["## Under load (one competing CPU-bound process)", "",
         "Median train step (ms) with the number of threads each run used (`t`); ×: slower "
         "than the same configuration on the quiet machine.  Default threads: tinynlp's "
         "run-time choice (`tinynlp.threads`: the idle cores when the run starts, as `fit` and "
         "the command line do), PyTorch's `torch.get_num_threads()` default (the physical "
         "cores).  The competitor is `python -c \"while True: pass\"`, started 1 s before each "
         "loaded worker and killed after it.  Goal (issue 19): the default run at most 1.5× "
         "slower under load, and never slower than the same run pinned to 1 thread.", "",
         "| model | batch | tinynlp default, quiet | loaded | 1 thread, loaded | 2 threads, "
         "loaded | PyTorch default, quiet | loaded | tinynlp / PyTorch, loaded | load |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for e in entries:
        ratio = loaded_ratio(e)
        loads = [e[k]["load_before"][0] for k in ("tiny_quiet", "tiny_loaded")
                 if e.get(k) and "load_before" in e[k]]
        L.append(f"| {e['model']} | {e['batch']} | {_cell(e, 'tiny_quiet')} | "
                 f"{_cell(e, 'tiny_loaded', 'tiny_quiet')} | "
                 f"{_cell(e, 'tiny1_loaded', 'tiny_quiet')} | "
                 f"{_cell(e, 'tiny2_loaded', 'tiny_quiet')} | {_cell(e, 'torch_quiet')} | "
                 f"{_cell(e, 'torch_loaded', 'torch_quiet')} | "
                 f"{'–' if ratio is None else f'{ratio:.2f}'} | "
                 f"{'/'.join(f'{x:.1f}' for x in loads) or '–'} |")
    L.append("")
    return L
