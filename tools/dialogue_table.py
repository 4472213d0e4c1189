"""Train both dialogue models and write the dialogue section of ``docs/task_results.md``.

    python tools/dialogue_table.py                   # tinygpt and seq2seq, default epochs
    python tools/dialogue_table.py --only seq2seq --keep-others
    TINYNLP_QUICK=1 python tools/dialogue_table.py --out /tmp/t.md --runs /tmp/runs
    python tools/dialogue_table.py --from-results runs/dialogue_table/results.json

Each model is trained by ``tinynlp.tasks.dialogue.train`` with its defaults
(the fine-tuned pretrained GPT, the seq2seq LSTM from scratch; the same BPE
tokens); its results are appended to ``RUNS/results.json`` as soon as it
finishes.  The section (between ``<!-- dialogue:begin -->`` and
``<!-- dialogue:end -->``) holds the metrics table, the sample replies to the
first test lines, and how each number is defined; the rest of the file
(``tools/task_table.py``'s table) is left as it is, and that script keeps this
section when it rewrites the file.  Every number comes from the run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- dialogue:begin -->", "<!-- dialogue:end -->"
MODELS = ("tinygpt", "seq2seq")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default=None, help="tinygpt or seq2seq (default: both)")
    p.add_argument("--keep-others", action="store_true",
                   help="keep the other model's results from RUNS/results.json")
    p.add_argument("--epochs", type=int, default=None, help="default: each model's own")
    p.add_argument("--out", default=str(ROOT / "docs" / "task_results.md"))
    p.add_argument("--runs", default=str(ROOT / "runs" / "dialogue_table"))
    p.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--samples", type=int, default=8, help="sample replies in the table")
    p.add_argument("--from-results", default=None, metavar="RESULTS_JSON",
                   help="train nothing: write the section from a results.json")
    return p.parse_args(argv)


def _cell(text, limit=90):
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[:limit - 1] + "…"


def section(results, commands, threads) -> str:
    """The markdown section for ``results`` ({model: run record})."""
    rows = [r for m in MODELS for r in [results.get(m)] if r]
    lines = [BEGIN, "", "## Dialogue (chatterbot-corpus, English)", ""]
    quick = (" in QUICK MODE (TINYNLP_QUICK=1: tiny data, not real results)"
             if any(r["quick"] for r in rows) else "")
    machine = (f"{os.cpu_count()} CPU cores, {threads} BLAS thread(s), "
               f"Python {platform.python_version()}")
    dates = ", ".join(sorted({r["date"] for r in rows}))
    lines += ["Produced by " + " and ".join(f"`{c}`" for c in commands) + quick
              + f" on {dates}; {machine}.", ""]
    lines += [("| model | reply perplexity (per BPE token) | BLEU ×100 | distinct-1 | "
              "distinct-2 | words per reply | epochs | train time | load |"),
              "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        e = r["extra"]
        lines.append(f"| {r['model']} | {r['value']:.2f} | {e['bleu']:.2f} | "
                     f"{e['distinct_1']:.3f} | {e['distinct_2']:.3f} | {e['mean_words']:.1f} | "
                     f"{e['epochs']} | {r['seconds'] / 60:.1f} min | "
                     f"{r['load_1min']:.1f} → {r['load_1min_end']:.1f} |")
    if rows:
        r = rows[0]
        e = r["extra"]
        lines.append(f"| retrieval (reply of the most similar training line) | – | "
                     f"{e['retrieval_bleu']:.2f} | {e['retrieval_distinct_1']:.3f} | "
                     f"{e['retrieval_distinct_2']:.3f} | – | – | – | – |")
        lines.append(f"| {r['baseline_name']} | {r['baseline']:.2f} | – | – | – | – | – | – "
                     "| – |")
    if rows:
        e = rows[0]["extra"]
        lines += ["", (f"Test: {e['test_pairs']} (line, reply) pairs of the 100 test "
                       f"conversations ({e['test_tokens']} reply tokens); training: "
                       f"{e['train_pairs']} pairs, {e['validation_pairs']} more for early "
                       "stopping.")]
    lines += [""]
    lines += [("*Reply perplexity*: exp of the mean −log p of the reference reply's BPE tokens "
              "and its closing `<|endoftext|>`, each given the line and the reply's earlier "
              "tokens — the same tokens for both models (the GPT's BPE tokenizer), so the "
              "figures compare; *unigram*: every token at its frequency in the training "
              "replies (add-one smoothed). *BLEU ×100*: corpus BLEU of the greedy replies "
              "against the one reference reply, on lowercased word tokens "
              "(`tinynlp.metrics.bleu.corpus_bleu`); a line has many good answers, so BLEU "
              "is low for every model. *distinct-n*: distinct word n-grams / all n-grams of "
              "the greedy replies (Li et al., 2016). *Retrieval*: the reply of the training "
              "line with the most words in common (Jaccard), chatterbot's own approach. "
              "Perplexity: lower is better; the others: higher is better."), ""]
    samples = {m: r["extra"]["samples"] for m, r in results.items()}
    if samples:
        first = next(iter(samples.values()))
        heads = [m for m in MODELS if m in samples]
        lines += ["Sample replies (greedy) to the first test lines:", "",
                  "| line | reference | " + " | ".join(results[m]["model"] for m in heads)
                  + " | retrieval |", "|---" * (3 + len(heads)) + "|"]
        for i, s in enumerate(first):
            cells = [_cell(s["line"]), _cell(s["reference"])]
            cells += [_cell(samples[m][i]["reply"]) if i < len(samples[m]) else ""
                      for m in heads]
            cells.append(_cell(s["retrieval"]))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += [END, ""]
    return "\n".join(lines)


def write_section(path, text):
    """Put the section into ``path``: replace an earlier one, or append it."""
    path = Path(path)
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + text + old[old.index(END) + len(END):].lstrip("\n")
    else:
        new = old.rstrip("\n") + ("\n\n" if old else "") + text
    from tinynlp.atomic import atomic_write  # after main() has fixed the thread pools

    atomic_write(path, lambda f: f.write(new), mode="w")


def _command(args):
    return "python tools/dialogue_table.py" + (f" --only {args.only}" if args.only else "") + \
        (f" --epochs {args.epochs}" if args.epochs else "") + \
        (" --keep-others" if args.keep_others else "")


def main(argv=None):
    args = parse_args(argv)
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = \
        os.environ["MKL_NUM_THREADS"] = str(args.threads)
    sys.path.insert(0, str(ROOT))
    runs = Path(args.runs)
    saved_path = Path(args.from_results) if args.from_results else runs / "results.json"
    saved = {"commands": [], "threads": args.threads, "results": {}}
    if saved_path.is_file() and (args.from_results or args.keep_others):
        saved = json.loads(saved_path.read_text(encoding="utf-8"))
    if args.from_results:
        write_section(args.out, section(saved["results"], saved["commands"], saved["threads"]))
        print(f"wrote the dialogue section of {args.out}")
        return 0
    from tinynlp.tasks import dialogue

    models = [args.only] if args.only else list(MODELS)
    if any(m not in MODELS for m in models):
        raise SystemExit(f"--only: expected one of {MODELS}, got {args.only!r}")
    quick = os.environ.get("TINYNLP_QUICK", "") not in ("", "0", "false", "False")
    runs.mkdir(parents=True, exist_ok=True)
    saved["commands"] = [c for c in saved["commands"] if c != _command(args)] + [_command(args)]
    for model in models:
        print(f"== dialogue {model} ...", flush=True)
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        result = dialogue.train(model, epochs=args.epochs, seed=args.seed,
                                out=str(runs / model), verbose=0, samples=args.samples)
        seconds = time.perf_counter() - t0
        print(result, flush=True)
        saved["results"][model] = {**result.to_dict(), "seconds": seconds, "load_1min": load,
                                   "load_1min_end": os.getloadavg()[0], "quick": quick,
                                   "date": f"{datetime.date.today():%Y-%m-%d}"}
        (runs / "results.json").write_text(json.dumps(saved, indent=1, ensure_ascii=False),
                                           encoding="utf-8")
        write_section(args.out, section(saved["results"], saved["commands"], args.threads))
    print(f"wrote the dialogue section of {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
