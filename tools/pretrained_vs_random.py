"""Sentiment accuracy with pretrained GloVe vectors vs random initialisation.

    python tools/pretrained_vs_random.py            # writes docs/pretrained_results.md

Same task (Rotten Tomatoes), same model (the Kim CNN with 50-dimensional
embeddings, the size of the bundled GloVe 6B 50d), same seeds and epochs;
only the embedding's start, and which of its rows train, differ:

* the former set-up: GloVe's 20,000 most frequent words
  (``load_glove_6b_50d(limit=20000)``), raw vectors, words GloVe lacks start
  as normal noise of GloVe's spread, the whole table frozen or fine-tuned;
* each fix on its own and together: the bundled subset that covers the tasks'
  words, the GloVe rows scaled by 0.1 or made unit length, the OOV rows
  starting like a fresh Embedding, only the GloVe rows frozen.

Each cell is the mean test accuracy over ``--seeds`` runs (min–max beside it);
the validation accuracy (the last 10 % of the training split, which
``fit(validation_split=0.1)`` holds out) after the first and the last epoch is
reported too — defaults are chosen on it, not on the test split.  Every run's
numbers go to ``--raw`` (JSON lines) as they finish, and runs already there
are not repeated, so an interrupted table resumes.  Train time is wall-clock
on a possibly shared machine: the 1-minute load average beside it says how
shared.  After the table the script measures coverage and scale (why the
former set-up lost); a hand-written section headed ``## What the numbers
say`` at the end of the file is kept when the file is regenerated.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinynlp.tasks import sentiment  # noqa: E402

#: the hand-written part of the output file starts with this heading and is kept
NOTES = "## What the numbers say"
OLD = dict(scale=None, oov_init="like_pretrained")
#: (key, label, vectors, options): vectors "top20k" = the first 20,000 words, "subset" = all
VARIANTS = [
    ("random", "random init (trainable)", None, {}),
    ("old_frozen", "GloVe top 20k, raw, all frozen (former set-up)", "top20k",
     dict(freeze="all", **OLD)),
    ("old_tuned", "GloVe top 20k, raw, fine-tuned (former set-up)", "top20k",
     dict(freeze="none", **OLD)),
    ("top_scaled_tuned", "GloVe top 20k, ×0.1, fine-tuned", "top20k",
     dict(freeze="none", scale=0.1, oov_init="init")),
    ("top_scaled_rows", "GloVe top 20k, ×0.1, GloVe rows frozen", "top20k",
     dict(freeze="pretrained", scale=0.1, oov_init="init")),
    ("sub_raw_frozen", "GloVe subset, raw, all frozen", "subset", dict(freeze="all", **OLD)),
    ("sub_raw_tuned", "GloVe subset, raw, fine-tuned", "subset", dict(freeze="none", **OLD)),
    ("sub_scaled_frozen", "GloVe subset, ×0.1, all frozen", "subset",
     dict(freeze="all", scale=0.1, oov_init="init")),
    ("sub_scaled_tuned", "GloVe subset, ×0.1, fine-tuned", "subset",
     dict(freeze="none", scale=0.1, oov_init="init")),
    ("sub_scaled_rows", "GloVe subset, ×0.1, GloVe rows frozen", "subset",
     dict(freeze="pretrained", scale=0.1, oov_init="init")),
    ("sub_unit_tuned", "GloVe subset, unit-length rows, fine-tuned", "subset",
     dict(freeze="none", normalize=True, scale=None, oov_init="init")),
    ("sub_init_tuned", "GloVe subset, std matched to a fresh Embedding, fine-tuned", "subset",
     dict(freeze="none", scale="init", oov_init="init")),
]


@functools.lru_cache(maxsize=None)
def load_vectors(which):
    """The bundled GloVe subset, or its first 20,000 words (= ``limit=20000``)."""
    from tinynlp.embeddings import KeyedVectors, load_glove_6b_50d

    kv = load_glove_6b_50d()
    if which == "top20k":
        return KeyedVectors(kv.index_to_key[:20000], kv.vectors[:20000])
    return kv


def read_raw(path):
    done = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    done[(r["model"], r["variant"], r["seed"], r["epochs"])] = r
    return done


def run_one(model, key, vectors, options, seed, epochs):
    kv = None if vectors is None else load_vectors(vectors)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    r = sentiment.train(model, epochs=epochs, embedding_dim=50, pretrained=kv, seed=seed,
                        out=f"/tmp/tinynlp_pretrained/{model}_{key}_{seed}", verbose=0,
                        plot=False, **options)
    seconds = time.perf_counter() - t0
    return {"model": model, "variant": key, "seed": seed, "epochs": epochs,
            "test_accuracy": r.value, "val_accuracy": r.extra.get("val_accuracy"),
            "baseline": r.baseline, "seconds": seconds,
            "load": (load0 + os.getloadavg()[0]) / 2, "pretrained": r.extra.get("pretrained")}


def diagnosis(polar_n=50, min_docs=10):
    """Markdown lines measuring why raw top-20k GloVe hurt: coverage of the Rotten
    Tomatoes training words, and the scale of the rows the CNN starts from."""
    from collections import Counter

    from tinynlp import datasets
    from tinynlp import random as tn_random
    from tinynlp.layers.embedding_init import lookup_rows, prepare_pretrained
    from tinynlp.text import Tokenizer, text_to_word_sequence

    (x, y), _ = datasets.load_rotten_tomatoes()
    tok = Tokenizer(num_words=20000, oov_token="<unk>")
    tok.fit_on_texts(x)
    counts = {w: n for w, n in tok.word_counts.items()}
    total = sum(counts.values())
    top, sub = load_vectors("top20k"), load_vectors("subset")

    def cover(kv):
        types = [w for w in counts if w in kv]
        return len(types) / len(counts), sum(counts[w] for w in types) / total

    # the most polar words: |log-odds ratio| of appearing in a fresh vs a rotten snippet
    pos, neg = Counter(), Counter()
    for text, label in zip(x, y):
        (pos if label == 1 else neg).update(set(text_to_word_sequence(text)))
    n_pos, n_neg = int(np.sum(y == 1)), int(np.sum(y == 0))
    scored = []
    for w in set(pos) | set(neg):
        p, n = pos[w], neg[w]
        if p + n >= min_docs:
            lo = np.log((p + 1) / (n_pos - p + 1)) - np.log((n + 1) / (n_neg - n + 1))
            scored.append((-abs(lo), w))
    polar = [w for _, w in sorted(scored)[:polar_n]]
    missing_top = [w for w in polar if w not in top]
    missing_sub = [w for w in polar if w not in sub]

    # scales: raw GloVe rows, the former OOV rows (normal noise of GloVe's std), U(±0.05)
    tn_random.seed(0)
    m, found = lookup_rows(top, tok)
    old = prepare_pretrained(m, found, oov_init="like_pretrained", pad_index=0,
                             dtype=np.float64)
    oov = ~found
    oov[0] = False
    init_sd = 0.1 / np.sqrt(12)
    glove_sd, oov_sd = old[found].std(), old[oov].std()
    unit_sd = prepare_pretrained(m, found, normalize=True, pad_index=0)[found].std()
    t_cov, s_cov = cover(top), cover(sub)
    return [
        "## Why the former set-up lost, measured",
        "",
        "Coverage of the Rotten Tomatoes training vocabulary (the task's tokenizer: "
        f"{len(counts):,} word types, {total:,} tokens; every type gets an embedding row):",
        "",
        "| GloVe vectors | words | training word types with a vector | training tokens "
        f"| of the {polar_n} most polar words |",
        "|---|---|---|---|---|",
        f"| top 20k (the former file) | {len(top):,} | {t_cov[0]:.1%} | {t_cov[1]:.1%} | "
        f"{polar_n - len(missing_top)} ({len(missing_top)} missing) |",
        f"| bundled subset (now) | {len(sub):,} | {s_cov[0]:.1%} | {s_cov[1]:.1%} | "
        f"{polar_n - len(missing_sub)} ({len(missing_sub)} missing) |",
        "",
        f"Most polar: the {polar_n} words with the largest |log-odds ratio| of occurring in a "
        f"fresh rather than a rotten training snippet (add-one smoothing), among words in at "
        f"least {min_docs} snippets. Missing from the top 20k: "
        + ", ".join(f"*{w}*" for w in missing_top) + ".",
        "",
        "Scale of the rows the embedding starts from (standard deviation of their entries):",
        "",
        "| rows | std | × a fresh Embedding's |",
        "|---|---|---|",
        f"| fresh Embedding, U(−0.05, 0.05) | {init_sd:.4f} | 1 |",
        f"| raw GloVe rows of the RT vocabulary | {glove_sd:.4f} | {glove_sd / init_sd:.1f} |",
        f"| former OOV rows (normal noise with GloVe's std) | {oov_sd:.4f} | "
        f"{oov_sd / init_sd:.1f} |",
        f"| GloVe rows × 0.1 | {0.1 * glove_sd:.4f} | {0.1 * glove_sd / init_sd:.1f} |",
        f"| GloVe rows made unit length | {unit_sd:.4f} | {unit_sd / init_sd:.1f} |",
        "",
    ]


def is_default(key):
    """True for the variant ``sentiment.train(pretrained="glove")`` runs by default."""
    _, _, vectors, options = next(v for v in VARIANTS if v[0] == key)
    full = {**sentiment.PRETRAINED_DEFAULTS, **options}
    return vectors == "subset" and full == sentiment.PRETRAINED_DEFAULTS


def table(rows_by_variant, args):
    lines = [
        "| model | embedding | test accuracy | min–max | val. acc. epoch 1 → "
        f"{args.epochs} | train time / run (s) | load (1-min avg) |",
        "|---|---|---|---|---|---|---|",
    ]
    for (model, key), runs in rows_by_variant.items():
        label = next(v[1] for v in VARIANTS if v[0] == key)
        if is_default(key):
            label += " — **the default**"
        acc = [r["test_accuracy"] for r in runs]
        v1 = np.mean([r["val_accuracy"][0] for r in runs])
        vn = np.mean([r["val_accuracy"][-1] for r in runs])
        lines.append(f"| {model} | {label} | {np.mean(acc):.4f} | {min(acc):.4f}–{max(acc):.4f} "
                     f"| {v1:.3f} → {vn:.3f} | {np.mean([r['seconds'] for r in runs]):.0f} | "
                     f"{np.mean([r['load'] for r in runs]):.1f} |")
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="cnn")
    ap.add_argument("--variants", default=",".join(v[0] for v in VARIANTS))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--raw", default="/tmp/tinynlp_pretrained/runs.jsonl",
                    help="JSON lines of every run (read first: finished runs are skipped)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "pretrained_results.md"))
    args = ap.parse_args(argv)

    chosen = [v for v in VARIANTS if v[0] in args.variants.split(",")]
    Path(args.raw).parent.mkdir(parents=True, exist_ok=True)
    done = read_raw(args.raw)
    rows = {}
    for model in args.models.split(","):
        for key, label, vectors, options in chosen:
            runs = []
            for seed in range(args.seeds):
                r = done.get((model, key, seed, args.epochs))
                if r is None:
                    r = run_one(model, key, vectors, options, seed, args.epochs)
                    with open(args.raw, "a", encoding="utf-8") as f:
                        f.write(json.dumps(r) + "\n")
                runs.append(r)
                print(f"{model:5s} {label:55s} seed {seed}: test {r['test_accuracy']:.4f} "
                      f"val {r['val_accuracy'][-1]:.4f} ({r['seconds']:.0f} s, load "
                      f"{r['load']:.1f})", flush=True)
            rows[(model, key)] = runs

    first = next(iter(rows.values()))[0]
    lines = [
        "# Sentiment: pretrained GloVe vs random embeddings",
        "",
        f"Generated by `python tools/pretrained_vs_random.py --models {args.models} "
        f"--epochs {args.epochs} --seeds {args.seeds}`. Rotten Tomatoes test split "
        f"(2,499 snippets), Kim CNN with 50-d embeddings, {args.epochs} epochs, Adam, "
        f"batch 64; mean over {args.seeds} seeds (min–max). Validation accuracy: the "
        "last 10 % of the training split, after the first and the last epoch.",
        "",
        *table(rows, args),
        "",
        f"Majority-class baseline: {first['baseline']:.4f}.",
        "",
        *diagnosis(),
    ]
    out = Path(args.out)
    if out.exists():  # keep the hand-written explanation that follows the generated part
        old_text = out.read_text(encoding="utf-8")
        if NOTES in old_text:
            lines += [old_text[old_text.index(NOTES):].rstrip("\n"), ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
