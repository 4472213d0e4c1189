"""Count word 8-grams shared between the pretraining corpus and every task's test split.

    python tools/check_pretrain_overlap.py            # all sources, n = 8
    python tools/check_pretrain_overlap.py --n 13

For each registered test split (``tinynlp.data.corpus.task_test_texts``) it
reports how many of its distinct word n-grams (lower case, words = runs of
letters and digits, see ``tinynlp.data.corpus.ngrams``) occur anywhere in the
pretraining corpus (train and validation), which sources they occur in, and,
as a yardstick, how many occur in that task's *own training split*: a model
trained on the task sees those anyway, so overlap through the corpus only
matters where it exceeds that.  The table goes into DATA.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from tinynlp.data import datasets as ds  # noqa: E402
from tinynlp.data.corpus import (  # noqa: E402
    PRETRAIN_SOURCES,
    detokenize,
    load_pretraining_corpus,
    ngrams,
    task_test_texts,
)


def own_training_texts(task: str) -> list[str] | None:
    """The task's training texts (the yardstick), or None for an unknown task."""
    if task == "rotten_tomatoes":
        return ds.load_rotten_tomatoes()[0][0]
    if task == "spam_assassin":
        return ds.load_spam_assassin()[0][0]
    if task == "brown":
        return [detokenize(s) for s in ds.load_brown_text(lower=False)[0]]
    if task == "shakespeare":
        return [ds.load_shakespeare()[0]]
    if task == "translation_en":
        return ds.load_translation_pairs(max_tokens=None)[0][1]
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=8, help="n-gram length (default 8)")
    args = ap.parse_args()
    n = args.n
    t0 = time.perf_counter()
    tests = task_test_texts()
    owner: dict[tuple, set] = defaultdict(set)
    for task, texts in tests.items():
        for t in texts:
            for g in ngrams(t, n):
                owner[g].add(task)
    distinct = {task: len({g for t in texts for g in ngrams(t, n)})
                for task, texts in tests.items()}
    shared = defaultdict(set)                       # (task, source) -> n-grams
    docs = (load_pretraining_corpus("train", return_sources=True)
            + load_pretraining_corpus("validation", return_sources=True))
    for source, text in docs:
        for g in ngrams(text, n):
            for task in owner.get(g, ()):
                shared[task, source].add(g)
    print(f"{n}-gram overlap between each task's test split and the pretraining corpus "
          f"({len(docs):,} documents)\n")
    print(f"| test split | test texts | distinct {n}-grams | in the corpus | "
          f"in the task's own train split | corpus overlap by source |")
    print("|---|---:|---:|---:|---:|---|")
    for task in tests:
        total = distinct[task]
        in_corpus = set().union(*[shared[task, s] for s in PRETRAIN_SOURCES])
        own = own_training_texts(task)
        if own is not None:
            test_grams = {g for t in tests[task] for g in ngrams(t, n)}
            own_grams = {g for t in own for g in ngrams(t, n) if g in test_grams}
            own_s = f"{len(own_grams):,} ({100 * len(own_grams) / max(total, 1):.2f} %)"
        else:
            own_s = "n/a"
        by_src = ", ".join(f"{s} {len(shared[task, s]):,}" for s in PRETRAIN_SOURCES
                           if shared[task, s])
        print(f"| {task} | {len(tests[task]):,} | {total:,} | {len(in_corpus):,} "
              f"({100 * len(in_corpus) / max(total, 1):.2f} %) | {own_s} | {by_src or '-'} |")
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
