"""Word2Vec: tinynlp vs gensim, same corpus, hyper-parameters and threads.

    python benchmarks/word2vec_vs_gensim.py                       # Brown, 1 and 2 threads
    python benchmarks/word2vec_vs_gensim.py --corpus shakespeare --epochs 3
    python benchmarks/word2vec_vs_gensim.py --corpus my_text.txt   # one sentence per line
    python benchmarks/word2vec_vs_gensim.py --out benchmarks/word2vec_results.md

Both train skip-gram with negative sampling (negative 5, window 5, 100
dimensions, min_count 5, sample 1e-3, alpha 0.025 → 0.0001) for the same
epochs on the same token lists.  Reported per run:

* **words/s**: *effective* words (in-vocabulary words kept after frequent-word
  subsampling, the count gensim's ``train()`` returns) divided by the wall
  time of training alone (vocabulary building excluded for both; tinynlp's
  kernel is compiled or loaded from cache before its clock starts);
* **words per CPU-s**: the same effective words divided by the CPU time the
  process used while training (all threads); on a shared machine this is
  steadier than wall time;
* **analogy**: accuracy on the Mikolov questions whose words are all in the
  vocabulary (and how many that is), with tinynlp's evaluator for both models;
* **WordSim-353 / SimLex-999**: Spearman ρ (and pairs covered).

The two libraries run alternately (gensim, tinynlp, gensim, ...) so that
other load on the machine hits both alike; ``--repeats`` > 1 reports medians.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tinynlp as tn
from tinynlp.embeddings import KeyedVectors, evaluate_analogies, evaluate_similarity

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")


# ------------------------------------------------------------------- corpora
def load_brown():
    """All 57,340 Brown sentences (train + test split), lower-cased tokens."""
    try:
        from tinynlp.data.datasets import load_brown_text

        train, test = load_brown_text(lower=True)
        return train + test
    except ImportError:  # loader not there: read the bundled file directly
        path = os.path.join(ROOT, "tinynlp", "data", "files", "brown.jsonl.gz")
        out = []
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                for s in json.loads(line)["sentences"]:
                    out.append([item.rpartition("/")[0].lower() for item in s.split(" ")])
        return out


def load_shakespeare():
    """Shakespeare's works, one line = one sentence, lower-cased, split on
    non-letters (apostrophes kept)."""
    import re

    from tinynlp.data.datasets import load_shakespeare as load

    train, test = load()
    tok = re.compile(r"[a-z']+")
    return [t for t in (tok.findall(line.lower()) for line in (train + "\n" + test).splitlines())
            if t]


def load_text_file(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [line.split() for line in f if line.strip()]


CORPORA = {"brown": load_brown, "shakespeare": load_shakespeare}


# ------------------------------------------------------------------ training
def params(args):
    return {"vector_size": args.dim, "window": args.window, "min_count": args.min_count,
            "sg": 1, "negative": args.negative, "sample": 1e-3, "alpha": 0.025,
            "min_alpha": 0.0001, "epochs": args.epochs}


def run_gensim(sentences, threads, args, seed):
    from gensim.models import Word2Vec as GWord2Vec

    m = GWord2Vec(workers=threads, seed=seed, **params(args))
    m.build_vocab(sentences)
    c0, t0 = time.process_time(), time.perf_counter()
    effective, _raw = m.train(sentences, total_examples=m.corpus_count, epochs=args.epochs)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    kv = KeyedVectors(list(m.wv.index_to_key), np.asarray(m.wv.vectors))
    return kv, effective, seconds, cpu


def run_tinynlp(sentences, threads, args, seed):
    m = tn.embeddings.Word2Vec(workers=threads, seed=seed, **params(args))
    m.build_vocab(sentences)
    c0 = time.process_time()
    effective, _raw = m.train(sentences)
    cpu = time.process_time() - c0  # includes the (cached) kernel load, not in train_seconds
    return m.wv, effective, m.train_seconds, cpu


def evaluate(kv):
    a = evaluate_analogies(kv)
    ws = evaluate_similarity(kv, "wordsim353")
    sl = evaluate_similarity(kv, "simlex999")
    return {"analogy": a.accuracy, "analogy_n": a.answered, "wordsim": ws.spearman,
            "wordsim_n": ws.pairs, "simlex": sl.spearman, "simlex_n": sl.pairs}


def main(argv=None):
    ap = argparse.ArgumentParser(description="Word2Vec: tinynlp vs gensim")
    ap.add_argument("--corpus", default="brown",
                    help="brown | shakespeare | path to a text file (one sentence per line)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--negative", type=int, default=5)
    ap.add_argument("--min-count", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip-gensim", action="store_true")
    ap.add_argument("--out", help="also write the markdown table to this file")
    args = ap.parse_args(argv)

    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    loader = CORPORA.get(args.corpus)
    sentences = loader() if loader else load_text_file(args.corpus)
    n_tokens = sum(map(len, sentences))
    print(f"corpus {args.corpus}: {len(sentences):,} sentences, {n_tokens:,} tokens", flush=True)

    libs = [] if args.skip_gensim else [("gensim", run_gensim)]
    libs.append(("tinynlp", run_tinynlp))
    if not args.skip_gensim:
        try:
            import gensim
            gensim_version = gensim.__version__
        except ImportError:
            print("gensim not installed: tinynlp only", flush=True)
            libs = [lib for lib in libs if lib[0] != "gensim"]
            gensim_version = None
    rows = []
    for threads in args.threads:
        results = {name: [] for name, _ in libs}
        for rep in range(args.repeats):
            for name, fn in libs:
                kv, effective, seconds, cpu = fn(sentences, threads, args, args.seed + rep)
                r = {"wps": effective / seconds, "seconds": seconds, "effective": effective,
                     "cpu": cpu, "wpcpu": effective / cpu, "vocab": len(kv), **evaluate(kv)}
                results[name].append(r)
                print(f"  {name:8s} threads={threads} rep={rep}: {r['wps']:,.0f} words/s "
                      f"({seconds:.1f}s; {r['wpcpu']:,.0f} per CPU-s), analogy {r['analogy']:.4f} on {r['analogy_n']}, "
                      f"WordSim {r['wordsim']:.3f}, SimLex {r['simlex']:.3f}", flush=True)
        for name, _ in libs:
            rs = results[name]
            med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
            rows.append((name, threads, med))

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    lines = [
        (f"Word2Vec skip-gram, negative {args.negative}, window {args.window}, {args.dim} dims, "
         f"min_count {args.min_count}, sample 1e-3, {args.epochs} epochs; corpus `{args.corpus}` "
         f"({len(sentences):,} sentences, {n_tokens:,} tokens); "
         f"{'median of ' + str(args.repeats) + ' runs' if args.repeats > 1 else 'one run each'}."),
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, numpy {np.__version__}"
        + (f", gensim {gensim_version}" if not args.skip_gensim and gensim_version else "")
        + (f"; load average {load_start:.2f} at the start, {load[0]:.2f} at the end"
           if load else "") + ".",
        "",
        ("| library | threads | vocab | effective words/s | train s | words per CPU-s "
         "| analogy acc (answered) | WordSim-353 ρ (pairs) | SimLex-999 ρ (pairs) |"),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, threads, r in rows:
        lines.append(
            f"| {name} | {threads} | {int(r['vocab']):,} | {r['wps']:,.0f} | {r['seconds']:.1f} | "
            f"{r['wpcpu']:,.0f} | "
            f"{r['analogy']:.4f} ({int(r['analogy_n'])}) | {r['wordsim']:.3f} ({int(r['wordsim_n'])}) "
            f"| {r['simlex']:.3f} ({int(r['simlex_n'])}) |")
    by = {(n, t): r for n, t, r in rows}
    ratios = [f"{t} thread(s): {by[('tinynlp', t)]['wps'] / by[('gensim', t)]['wps']:.2f}×"
              for t in args.threads if ("gensim", t) in by]
    if ratios:
        lines += ["", "tinynlp / gensim words/s: " + ", ".join(ratios)]
    table = "\n".join(lines)
    print()
    print(table)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write("# Word2Vec: tinynlp vs gensim\n\n"
                    f"Command: `python benchmarks/word2vec_vs_gensim.py "
                    f"{' '.join(argv if argv is not None else sys.argv[1:])}`\n\n" + table + "\n")


if __name__ == "__main__":
    main()
