"""Byte-level BPE: tinynlp vs Hugging Face ``tokenizers``, same corpus and vocabulary size.

    python benchmarks/bpe_vs_tokenizers.py --out benchmarks/bpe_results.md
    python benchmarks/bpe_vs_tokenizers.py --vocab-size 8192 --repeats 3
    python benchmarks/bpe_vs_tokenizers.py --quick        # small corpus, for the tests

Both learn a byte-level BPE from the training split of
``tinynlp.datasets.load_pretraining_corpus`` with the same vocabulary size,
``min_frequency`` 2 and the same special token ``<|endoftext|>``; Hugging
Face's is set up as GPT-2's (``pre_tokenizers.ByteLevel(add_prefix_space=False)``,
the 256-byte initial alphabet, ``BpeTrainer``).  Reported:

* **training**: wall and CPU seconds of ``BPETokenizer.train`` (run as its
  two phases, ``count_chunks`` and ``learn_merges``, to time them apart) and
  ``train_from_iterator`` (tokenizers), the corpus already in memory;
* **encoding**: a freshly loaded tokenizer (empty caches) encodes the
  held-out validation split with ``encode_batch``: tokens/s and MB/s of
  UTF-8 input, wall time;
* **bytes per token** on the validation split (higher = fewer tokens for the
  same text), and whether every validation document decodes back exactly;
* how many of the learned tokens the two vocabularies share (both write
  tokens in GPT-2's printable byte alphabet, so the strings compare).

tinynlp runs on one thread.  ``tokenizers`` runs in parallel (Rayon) unless
``TOKENIZERS_PARALLELISM=false``; it is measured both ways, each configuration
in its own process (the setting is read once per process).  The
implementations alternate, and ``--repeats`` > 1 reports medians.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

SPECIALS = ["<|endoftext|>"]


def corpus(quick: bool):
    from tinynlp.data.corpus import load_pretraining_corpus

    sources = ["devils_dictionary", "rotten_tomatoes"] if quick else None
    return (load_pretraining_corpus("train", sources=sources, verbose=False),
            load_pretraining_corpus("validation", sources=sources, verbose=False))


# ------------------------------------------------------------------ workers
def run_tinynlp(train, val, vocab_size, folder):
    from tinynlp.text import BPETokenizer
    from tinynlp.text.bpe_train import count_chunks, learn_merges

    # BPETokenizer.train, in its two phases, timed apart
    t0, c0 = time.perf_counter(), time.process_time()
    table = count_chunks(train, SPECIALS)
    count_cpu = time.process_time() - c0
    merges = learn_merges(table, vocab_size - 256 - len(SPECIALS), min_frequency=2)
    tok = BPETokenizer(merges, SPECIALS)
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    path = os.path.join(folder, "tinynlp.json")
    tok.save(path)
    fresh = BPETokenizer.load(path)
    t0, c0 = time.perf_counter(), time.process_time()
    ids = fresh.encode_batch(val, allowed_special="none")
    enc_s, enc_cpu = time.perf_counter() - t0, time.process_time() - c0
    c0 = time.process_time()
    fresh.encode_batch(val, allowed_special="none")
    warm_cpu = time.process_time() - c0
    exact = all(fresh.decode(i, errors="strict") == t for i, t in zip(ids, val))
    learned = [tok.id_to_token(i) for i in range(256, 256 + len(tok.merges))]
    return {"train_s": train_s, "train_cpu": train_cpu, "encode_s": enc_s, "encode_cpu": enc_cpu,
            "tokens": sum(map(len, ids)), "vocab": tok.vocab_size, "exact": exact,
            "learned": learned, "count_cpu": count_cpu, "chunks": len(table),
            "warm_cpu": warm_cpu}


def run_hf(train, val, vocab_size, folder):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2,
                                  special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    t0, c0 = time.perf_counter(), time.process_time()
    tok.train_from_iterator(train, trainer)
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    path = os.path.join(folder, "hf.json")
    tok.save(path)
    fresh = Tokenizer.from_file(path)
    t0, c0 = time.perf_counter(), time.process_time()
    enc = fresh.encode_batch(val, add_special_tokens=False)
    enc_s, enc_cpu = time.perf_counter() - t0, time.process_time() - c0
    exact = all(fresh.decode(e.ids, skip_special_tokens=False) == t for e, t in zip(enc, val))
    vocab = tok.get_vocab()
    special_ids = {vocab[s] for s in SPECIALS}
    alphabet = set(pre_tokenizers.ByteLevel.alphabet())
    learned = [t for t, i in sorted(vocab.items(), key=lambda kv: kv[1])
               if i not in special_ids and t not in alphabet]
    return {"train_s": train_s, "train_cpu": train_cpu, "encode_s": enc_s, "encode_cpu": enc_cpu,
            "tokens": sum(len(e.ids) for e in enc), "vocab": tok.get_vocab_size(),
            "exact": exact, "learned": learned}


def worker(impl: str, vocab_size: int, quick: bool) -> None:
    train, val = corpus(quick)
    with tempfile.TemporaryDirectory() as folder:
        fn = run_tinynlp if impl == "tinynlp" else run_hf
        res = fn(train, val, vocab_size, folder)
    res["val_bytes"] = sum(len(t.encode("utf-8")) for t in val)
    res["train_bytes"] = sum(len(t.encode("utf-8")) for t in train)
    res["train_docs"], res["val_docs"] = len(train), len(val)
    print("RESULT " + json.dumps(res))


# --------------------------------------------------------------------- main
CONFIGS = [  # (label, implementation, threads, extra environment)
    ("tinynlp", "tinynlp", 1, {}),
    ("tokenizers", "hf", 1, {"TOKENIZERS_PARALLELISM": "false", "RAYON_NUM_THREADS": "1"}),
    ("tokenizers", "hf", 2, {"TOKENIZERS_PARALLELISM": "true", "RAYON_NUM_THREADS": "2"}),
]


def run_config(impl, env_extra, vocab_size, quick):
    env = dict(os.environ, **env_extra)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", impl,
           "--vocab-size", str(vocab_size)] + (["--quick"] if quick else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{impl} worker failed:\n{proc.stderr[-3000:]}")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def main(argv=None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vocab-size", type=int, default=4096)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--quick", action="store_true",
                    help="two small sources and the given vocabulary size (for tests)")
    ap.add_argument("--out", help="also write the markdown report to this file")
    ap.add_argument("--worker", choices=["tinynlp", "hf"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, args.vocab_size, args.quick)
        return ""
    try:
        import tokenizers
        configs = CONFIGS
        hf_version = tokenizers.__version__
    except ImportError:
        print("tokenizers is not installed (pip install tokenizers, or the 'compare' extra): "
              "measuring tinynlp alone", file=sys.stderr)
        configs, hf_version = CONFIGS[:1], None
    load_start = os.getloadavg()
    runs = {i: [] for i in range(len(configs))}
    for _ in range(args.repeats):
        for i, (label, impl, threads, env) in enumerate(configs):
            runs[i].append(run_config(impl, env, args.vocab_size, args.quick))
            print(f"  {label} ({threads} thread{'s' if threads > 1 else ''}): "
                  f"train {runs[i][-1]['train_s']:.1f} s, encode {runs[i][-1]['encode_s']:.2f} s",
                  file=sys.stderr)
    load_end = os.getloadavg()
    text = report(configs, runs, args, hf_version, load_start, load_end)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    return text


def report(configs, runs, args, hf_version, load_start, load_end) -> str:
    import numpy as np

    first = runs[0][0]
    med = {i: {k: statistics.median(r[k] for r in rs) for k in
               ("train_s", "train_cpu", "encode_s", "encode_cpu")} for i, rs in runs.items()}
    cmd = "python benchmarks/bpe_vs_tokenizers.py" + (" --quick" if args.quick else "") \
        + (f" --vocab-size {args.vocab_size}" if args.vocab_size != 4096 else "") \
        + (f" --repeats {args.repeats}" if args.repeats > 1 else "") \
        + (f" --out {args.out}" if args.out else "")
    lines = [
        "# Byte-level BPE: tinynlp vs Hugging Face tokenizers", "",
        f"Command: `{cmd}`", "",
        f"Corpus: the pretraining corpus{' (quick: two small sources)' if args.quick else ''}, "
        f"training split {first['train_docs']:,} documents, {first['train_bytes'] / 1e6:.1f} MB "
        f"of UTF-8; held-out validation split {first['val_docs']:,} documents, "
        f"{first['val_bytes'] / 1e6:.2f} MB.  Vocabulary {args.vocab_size} ids "
        f"(256 bytes + merges + `<|endoftext|>`), min_frequency 2"
        + (f"; median of {args.repeats} runs" if args.repeats > 1 else "") + ".", "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, python "
        f"{platform.python_version()}, numpy {np.__version__}"
        + (f", tokenizers {hf_version}" if hf_version else "")
        + f"; load average {load_start[0]:.2f} at the start, {load_end[0]:.2f} at the end.", "",
    ]
    half = 0.5 * (os.cpu_count() or 1)
    busy = load_start[0] > half or load_end[0] > half
    if busy:
        lines += ["**Provisional**: measured on a shared, busy machine (load average above "
                  "half the cores), so wall times are inflated and noisy; CPU seconds are the "
                  "steadier comparison. Re-run on a quiet machine for final numbers.", ""]
    lines += [
        "| library | threads | train s (wall) | train CPU s | encode MB/s | encode tokens/s | "
        "encode CPU s | bytes / token (held out) | exact round trip |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for i, (label, _impl, threads, _env) in enumerate(configs):
        r, m = runs[i][0], med[i]
        lines.append(
            f"| {label} | {threads} | {m['train_s']:.1f} | {m['train_cpu']:.1f} | "
            f"{r['val_bytes'] / 1e6 / m['encode_s']:.2f} | {r['tokens'] / m['encode_s']:,.0f} | "
            f"{m['encode_cpu']:.2f} | {r['val_bytes'] / r['tokens']:.3f} | "
            f"{'yes' if r['exact'] else 'NO'} |")
    if len(configs) > 1:
        a, b = set(runs[0][0]["learned"]), set(runs[1][0]["learned"])
        lines += ["", f"Learned tokens (merges): tinynlp {len(a):,}, tokenizers {len(b):,}; "
                      f"{len(a & b):,} are the same string in both "
                      f"({100 * len(a & b) / max(1, len(a)):.1f} % of tinynlp's)."]
        t1, h1 = med[0], med[1]
        lines += ["", f"tinynlp / tokenizers (1 thread): training takes "
                      f"{t1['train_s'] / h1['train_s']:.1f}× the wall time "
                      f"({t1['train_cpu'] / h1['train_cpu']:.1f}× the CPU time), encoding "
                      f"{t1['encode_s'] / h1['encode_s']:.1f}× "
                      f"({t1['encode_cpu'] / h1['encode_cpu']:.1f}× the CPU time)."]
    t = runs[0][0]
    lines += ["", f"Where tinynlp's time goes (CPU s): counting the {t['chunks']:,} distinct "
                  f"pre-split chunks {t['count_cpu']:.1f}, the merge loop "
                  f"{t['train_cpu'] - t['count_cpu']:.1f}; encoding the held-out split "
                  f"again with the chunk cache filled {t['warm_cpu']:.2f} "
                  f"(vs {t['encode_cpu']:.2f} cold).",
              "", "Encoding starts from a freshly loaded tokenizer (empty caches); CPU time "
                  "counts all threads of the process.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
