"""The baby GPT in tinynlp and in its PyTorch twin: time to a validation loss, and tokens/s.

    python benchmarks/gpt_shakespeare.py train     [--iters 2000] [--threads 2] [--quick]
    python benchmarks/gpt_shakespeare.py generate  [--threads 2] [--quick]

``train``: nanoGPT's CPU "baby GPT" (4 layers, 4 heads, width 128, context
64, batch 12, dropout 0; AdamW lr 1e-3, betas (0.9, 0.99), weight decay 0.1
on every weight, constant learning rate) on the bundled Shakespeare
characters, from the same initial weights with the same batches in both
frameworks; the validation loss (20 fixed batches of the held-out text,
the same NumPy cross-entropy on each framework's logits) every
``--eval-every`` iterations; wall time of the whole run and of the training
steps alone.

``generate``: greedy decoding of 56 new tokens after an 8-character prompt,
batch 1 and 8, with tinynlp's ``GPT.generate`` (its KV cache; and without it,
for reference) and the twin's ``generate`` (its own preallocated KV cache);
tokens/s = batch × new tokens / wall time, median over repeats.

Each framework runs in its own process (threads fixed before import, as in
the harness).  Writes ``benchmarks/gpt_results.md`` / ``.json`` (``--quick``:
tiny model, a few iterations, nothing written unless ``--out`` is given).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.specs import get_spec  # noqa: E402
from benchmarks.worker import set_thread_env  # noqa: E402

EVAL_BATCHES = 20
PROMPT = 8


def new_tokens(spec):
    """Tokens generated after the prompt: up to the context (56 for the baby GPT)."""
    return spec.sizes["context"] - PROMPT


# --------------------------------------------------------------------------
# shared by both frameworks (NumPy only)
# --------------------------------------------------------------------------

def text_ids(quick):
    import tinynlp as tn

    from benchmarks.transformer_layout import encode_chars

    train, test = tn.datasets.load_shakespeare()
    if quick:
        train, test = train[:200_000], test[:50_000]
    return encode_chars(train), encode_chars(test)


def windows(ids, starts, context):
    import numpy as np

    idx = starts[..., None] + np.arange(context)
    return np.ascontiguousarray(ids[idx]), np.ascontiguousarray(ids[idx + 1])


def cross_entropy(logits, y) -> float:
    """Mean next-token cross-entropy in float64 (the same function for both frameworks)."""
    import numpy as np

    z = np.asarray(logits, np.float64).reshape(-1, logits.shape[-1])
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(z)), y.reshape(-1)].mean())


def models(framework, spec):
    """``(train/predict wrapper, raw model)`` of ``framework`` from the shared initial weights."""
    from benchmarks.prepare import initial_weights, torch_layout

    weights = initial_weights(spec)
    if framework == "tinynlp":
        from benchmarks import tinynlp_models
        m = tinynlp_models.build(spec, weights)
        return m, m.model
    import torch

    from benchmarks import torch_models
    torch.manual_seed(0)
    m = torch_models.build(spec, torch_layout(spec, weights))
    return m, m.module


# --------------------------------------------------------------------------
# the per-framework runs
# --------------------------------------------------------------------------

def run_train(framework, spec, args) -> dict:
    import numpy as np

    train_ids, val_ids = text_ids(args.quick)
    ctx, B = spec.sizes["context"], args.batch
    rng = np.random.default_rng(0)
    starts = rng.integers(0, len(train_ids) - ctx - 1, size=(args.iters, B))
    val_starts = np.random.default_rng(1).integers(0, len(val_ids) - ctx - 1,
                                                   size=(EVAL_BATCHES, B))
    val = [windows(val_ids, s, ctx) for s in val_starts]
    model, _ = models(framework, spec)

    def val_loss():
        return float(np.mean([cross_entropy(model.predict(model.convert_x(x)), y)
                              for x, y in val]))

    curve, losses, train_s = [], [], 0.0
    t_start = time.perf_counter()
    for it in range(args.iters):
        if it % args.eval_every == 0:
            curve.append((it, val_loss(), time.perf_counter() - t_start))
        x, y = windows(train_ids, starts[it], ctx)
        t0 = time.perf_counter()
        losses.append(model.train_step(model.convert_x(x), model.convert_y(y)))
        train_s += time.perf_counter() - t0
    curve.append((args.iters, val_loss(), time.perf_counter() - t_start))
    return {"framework": framework, "iters": args.iters, "batch": B,
            "wall_s": time.perf_counter() - t_start, "train_steps_s": train_s,
            "first_losses": losses[:10], "final_train_loss": float(np.mean(losses[-20:])),
            "val_curve": curve, "final_val_loss": curve[-1][1]}


def run_generate(framework, spec, args) -> dict:
    import numpy as np

    _, val_ids = text_ids(args.quick)
    _, raw = models(framework, spec)
    n_new = new_tokens(spec)
    out = {"framework": framework, "rows": [], "new_tokens": n_new}
    variants = [("cache", True), ("no cache", False)] if framework == "tinynlp" else \
        [("cache", True)]
    for batch in (1, 8):
        starts = np.random.default_rng(2).integers(0, len(val_ids) - PROMPT, size=batch)
        prompt = np.ascontiguousarray(val_ids[starts[:, None] + np.arange(PROMPT)])
        for label, cache in variants:
            if framework == "tinynlp":
                def gen():
                    return raw.generate(prompt, n_new, temperature=0, use_cache=cache)
            else:
                import torch
                tp = torch.from_numpy(prompt)

                def gen():
                    return raw.generate(tp, n_new).numpy()
            tokens = gen()                        # warm-up (and the tokens, compared)
            times = []
            for _ in range(args.reps):
                t0 = time.perf_counter()
                gen()
                times.append(time.perf_counter() - t0)
            out["rows"].append({"batch": batch, "variant": label,
                                "tokens_per_s": batch * n_new / float(np.median(times)),
                                "ms_per_token": float(np.median(times)) / n_new * 1e3,
                                "tokens": np.asarray(tokens)[:, PROMPT:].tolist()})
    return out


# --------------------------------------------------------------------------
# the driver
# --------------------------------------------------------------------------

def worker_main(args):
    set_thread_env(args.threads)
    if args.framework == "tinynlp":
        import tinynlp  # noqa: F401 - before NumPy, as the harness and the command line do
        # (its limit on OpenBLAS's idle-thread spin applies only then: NOTES 16.4, 19.3)
    if args.threads == "auto":
        from tinynlp import threads
        threads.apply()
    spec = get_spec("gpt", quick=args.quick)
    if args.framework == "torch":
        import torch
        if args.threads != "auto":
            torch.set_num_threads(int(args.threads))
    else:
        from threadpoolctl import threadpool_limits
        if args.threads != "auto":
            threadpool_limits(int(args.threads))
    result = (run_train if args.command == "train" else run_generate)(args.framework, spec, args)
    Path(args.result).write_text(json.dumps(result))


def loadavg():
    return tuple(round(x, 2) for x in os.getloadavg())


def run_both(args) -> dict:
    data = {"command": args.command, "date": datetime.datetime.now().astimezone().isoformat(
        timespec="seconds"), "threads": args.threads, "quick": args.quick,
        "load_start": loadavg(), "results": []}
    for fw in ("tinynlp", "torch"):
        result = Path(f"/tmp/gpt-{args.command}-{fw}-{os.getpid()}.json")
        cmd = [sys.executable, str(Path(__file__).resolve()), args.command, "--worker", fw,
               "--result", str(result), "--threads", str(args.threads), "--iters",
               str(args.iters), "--eval-every", str(args.eval_every), "--batch",
               str(args.batch), "--reps", str(args.reps)] + (["--quick"] if args.quick else [])
        load = loadavg()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{fw} worker failed:\n{proc.stderr[-3000:]}")
        r = json.loads(result.read_text())
        result.unlink()
        r["load_before"] = load
        data["results"].append(r)
        print(f"  {fw}: done (load {load[0]:.1f})", flush=True)
    data["load_end"] = loadavg()
    return data


def machine_was_shared(data) -> bool:
    """Whether other processes ran beside the measurement: a 1-minute load above 0.5 at
    the start, or at the end above the run's own threads + 0.5 (each framework's process
    keeps ``threads`` cores busy, so a quiet 1-thread run ends near a load of 1)."""
    threads = data["threads"]
    own = int(threads) if str(threads).isdigit() else (os.cpu_count() or 1)
    return data["load_start"][0] > 0.5 or data["load_end"][0] > own + 0.5


def markdown(data) -> str:
    """The results as a short markdown report (the load and, when the machine was shared
    (:func:`machine_was_shared`), "provisional")."""
    tiny, ref = data["results"]
    busy = machine_was_shared(data)
    L = [f"# Baby GPT: tinynlp vs PyTorch ({data['command']})", "",
         "_Generated by `python benchmarks/gpt_shakespeare.py "
         f"{data['command']}`; do not edit by hand._", "",
         f"- date {data['date']}; threads {data['threads']} in both; load average at start "
         f"{data['load_start']}, at end {data['load_end']}"
         + (" — **provisional**: other processes shared the machine" if busy else ""),
         f"- model: {get_spec('gpt', quick=data['quick']).title}"
         + (" (quick sizes)" if data["quick"] else ""), ""]
    if data["command"] == "train":
        L += [f"{tiny['iters']} iterations at batch {tiny['batch']} on the bundled Shakespeare "
              "characters (train text), the same batches and initial weights in both; "
              f"validation loss: mean cross-entropy over {EVAL_BATCHES} fixed batches of the "
              "held-out text.", "",
              "| | wall time (s) | of which train steps (s) | ms / iteration | final val loss "
              "| final train loss (last 20) |", "|---|---:|---:|---:|---:|---:|"]
        for name, r in (("tinynlp", tiny), ("PyTorch", ref)):
            L.append(f"| {name} | {r['wall_s']:.1f} | {r['train_steps_s']:.1f} | "
                     f"{r['train_steps_s'] / r['iters'] * 1e3:.1f} | {r['final_val_loss']:.4f} | "
                     f"{r['final_train_loss']:.4f} |")
        L += ["", f"Ratio tinynlp / PyTorch: wall {tiny['wall_s'] / ref['wall_s']:.2f}, train "
              f"steps {tiny['train_steps_s'] / ref['train_steps_s']:.2f}.  First 10 training "
              "losses, largest difference: "
              f"{max(abs(a - b) for a, b in zip(tiny['first_losses'], ref['first_losses'])):.1e}.",
              "", "| iteration | tinynlp val loss | PyTorch val loss | tinynlp s | PyTorch s |",
              "|---:|---:|---:|---:|---:|"]
        for (it, a, ta), (_, b, tb) in zip(tiny["val_curve"], ref["val_curve"]):
            L.append(f"| {it} | {a:.4f} | {b:.4f} | {ta:.1f} | {tb:.1f} |")
    else:
        n_new = tiny["new_tokens"]
        L += [f"Greedy decoding, {n_new} new tokens after a {PROMPT}-character prompt; "
              "tokens/s = batch × new tokens / wall time (median of repeats).", "",
              "| batch | tinynlp (KV cache) tokens/s | PyTorch (KV cache) tokens/s | ratio "
              "(tinynlp / PyTorch speed) | tinynlp without cache | same tokens |",
              "|---:|---:|---:|---:|---:|---:|"]
        for batch in (1, 8):
            row = {(r["batch"], r["variant"]): r for r in tiny["rows"]}
            t = row[(batch, "cache")]
            nc = row.get((batch, "no cache"))
            p = next(r for r in ref["rows"] if r["batch"] == batch)
            same = sum(a == b for ra, rb in zip(t["tokens"], p["tokens"])
                       for a, b in zip(ra, rb)) / (batch * n_new)
            L.append(f"| {batch} | {t['tokens_per_s']:.0f} | {p['tokens_per_s']:.0f} | "
                     f"{t['tokens_per_s'] / p['tokens_per_s']:.2f} | "
                     f"{nc['tokens_per_s'] if nc else float('nan'):.0f} | {same:.0%} |")
    return "\n".join(L) + "\n"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=("train", "generate"))
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", default="2", help="a count, or auto")
    p.add_argument("--iters", type=int, default=None, help="default 2000 (quick 20)")
    p.add_argument("--eval-every", type=int, default=None, help="default 250 (quick 10)")
    p.add_argument("--batch", type=int, default=12)
    p.add_argument("--reps", type=int, default=None, help="generation repeats (default 5)")
    p.add_argument("--out", help="markdown path (default benchmarks/gpt_<command>_results.md; "
                                 "quick: nothing written unless given)")
    p.add_argument("--report-only", metavar="JSON",
                   help="do not measure: rewrite the markdown from a results .json of an "
                        "earlier run (to --out, default next to the json)")
    p.add_argument("--worker", dest="framework", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.threads != "auto":
        args.threads = str(int(args.threads))
    args.iters = args.iters or (20 if args.quick else 2000)
    args.eval_every = args.eval_every or (10 if args.quick else 250)
    args.reps = args.reps or (2 if args.quick else 5)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.framework:
        worker_main(args)
        return 0
    if args.report_only:
        data = json.loads(Path(args.report_only).read_text())
        for key in ("load_start", "load_end"):          # tuples, as a live run prints them
            data[key] = tuple(data[key])
        out = args.out or str(Path(args.report_only).with_suffix(".md"))
        Path(out).write_text(markdown(data))
        print(f"wrote {out}")
        return 0
    data = run_both(args)
    out = args.out or (None if args.quick else str(HERE / f"gpt_{args.command}_results.md"))
    text = markdown(data)
    print(text)
    if out:
        Path(out).write_text(text)
        Path(out).with_suffix(".json").write_text(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
