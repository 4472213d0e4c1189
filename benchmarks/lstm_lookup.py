"""An Embedding and the LSTM after it as one op (benchmarks/NOTES.md, section 20).

    python benchmarks/lstm_lookup.py                # batch 32 and 256, 2 threads
    python benchmarks/lstm_lookup.py --threads 1
    python benchmarks/lstm_lookup.py --quick        # tiny sizes, a few repetitions (tests)
    python benchmarks/lstm_lookup.py --distinct 0.13,0.26,0.48,0.64 --forced

``--distinct``: instead of the real batches, random ids drawn so that about that share
of a batch's positions hold distinct ids (one table per share); ``--forced`` makes
"one op" share the products whatever the share (``MAX_DISTINCT_FRACTION`` = 1), to
measure where that stops paying.

The benchmark's emb_lstm model — Embedding(20000, 100) → LSTM(128) over 100 steps →
Dense(1, sigmoid), float32 — on real Rotten Tomatoes batches (the harness's
tokenisation), two ways:

- **two layers**: the Embedding's output (B, T, 100) made, then the LSTM multiplies
  every step's x_t by its kernel W (and its backward makes dx = da Wᵀ and
  dW = Σ x_tᵀ da_t over all B·T positions);
- **one op**: ``Sequential``'s default since section 20: ``F.lstm_lookup`` makes
  P = table[u] W once for the batch's distinct ids u, each step reads its rows of P,
  and the backward groups its sums by id.

For the train step (``train_on_batch``: forward, loss, backward, Adam) with the dense
and the row-sparse table (lazy Adam), and for inference.  Each cell is the median of
``--rounds`` rounds; in each round the two ways run one after the other, each timed as
the best of a few calls, so both see the same states of the machine.  The first line
gives the load average and the distinct ids per batch.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.threads_env import fix_pools, threads_from_argv  # noqa: E402 (no NumPy)

fix_pools(threads_from_argv(sys.argv, default="2"))

import tinynlp as tn  # noqa: E402, I001 - before NumPy, as the tinynlp command does

import numpy as np  # noqa: E402

from benchmarks.timing import best_seconds, rounds_parser  # noqa: E402
from tinynlp.functional import lookup  # noqa: E402
from tinynlp.models import sequential  # noqa: E402

WAYS = ("two layers", "one op")


def data(quick):
    """``(ids, labels, vocab)``: the harness's Rotten Tomatoes training set, or (quick)
    random ids."""
    if quick:
        rng = np.random.default_rng(0)
        ids = rng.integers(0, 50, (64, 12))
        ids[:, :6] = 0
        return ids, (rng.random((64, 1)) < 0.5).astype(np.float32), 50
    from benchmarks.prepare import text_data
    from benchmarks.specs import MODELS
    (x, y), _ = text_data(MODELS["emb_lstm"])
    return x, y, MODELS["emb_lstm"].sizes["vocab"]


def with_distinct(share, batch, steps, vocab, seed=0):
    """Random (batch, steps) ids of which about ``share`` of the positions are distinct:
    drawn from a pool of ids a little larger than that."""
    rng = np.random.default_rng(seed)
    pool = rng.choice(vocab, min(vocab, max(1, int(1.3 * share * batch * steps))), replace=False)
    return rng.choice(pool, (batch, steps))


def make(vocab, dim, units, sparse):
    tn.random.seed(0)
    model = tn.Sequential([tn.layers.Embedding(vocab, dim, sparse=sparse),
                           tn.layers.LSTM(units), tn.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=tn.optimizers.Adam(1e-3, epsilon=1e-7), loss="binary_crossentropy")
    return model


def set_way(way, folds):
    sequential.looks_up = folds if way == "one op" else (lambda *a: False)


def main(argv=None):
    p = rounds_parser(__doc__.splitlines()[0])
    p.add_argument("--distinct", default=None, help="shares of distinct ids, e.g. 0.1,0.5")
    p.add_argument("--forced", action="store_true", help="share the products at any share")
    args = p.parse_args(argv)
    tn.set_num_threads(args.threads)
    x, y, vocab = data(args.quick)
    shares = [None] if args.distinct is None else [float(v) for v in args.distinct.split(",")]
    limit = lookup.MAX_DISTINCT_FRACTION
    dim, units = (100, 128) if not args.quick else (6, 5)
    batches = [int(b) for b in args.batches.split(",")] if not args.quick else [16]
    rounds, reps = (args.rounds, 5) if not args.quick else (1, 2)
    distinct = {b: int(np.median([len(np.unique(x[i * b:(i + 1) * b])) for i in range(10)]))
                for b in batches if len(x) >= 10 * b}
    print(f"load average {os.getloadavg()}; {args.threads} thread(s); Embedding({vocab}, {dim})"
          f" → LSTM({units}) over {x.shape[1]} steps; distinct ids per batch (median of 10): "
          f"{distinct}; median of {rounds} round(s) of best-of-{reps}, ms")
    print()
    print("| batch | distinct | table | what | " + " | ".join(WAYS) + " | ratio |")
    print("|---:|---:|---|---|" + "---:|" * (len(WAYS) + 1))
    folds = sequential.looks_up
    rows = []
    if args.forced:
        lookup.MAX_DISTINCT_FRACTION = 1.0
    try:
        for batch, share, sparse in [(b, s, sp) for b in batches for s in shares
                                     for sp in (False, True)]:
            xb, yb = x[:batch], y[:batch]
            if share is not None:
                xb = with_distinct(share, batch, x.shape[1], vocab)
            seen = len(np.unique(xb)) / xb.size
            models = {w: make(vocab, dim, units, sparse) for w in WAYS}
            for w, m in models.items():
                m.build((None, x.shape[1]))
                if w != WAYS[0]:
                    m.set_weights(models[WAYS[0]].get_weights())
            times = {(w, what): [] for w in WAYS for what in ("train step", "inference")}
            outs = {}
            for _ in range(rounds):
                for w, m in models.items():
                    set_way(w, folds)
                    with tn.no_grad():
                        outs[w] = m(xb).data
                    times[w, "inference"].append(best_seconds(
                        lambda m=m, xb=xb: _infer(m, xb), reps))
                    times[w, "train step"].append(best_seconds(
                        lambda m=m, xb=xb, yb=yb: m.train_on_batch(xb, yb), reps))
            np.testing.assert_allclose(outs["one op"], outs["two layers"], rtol=1e-4,
                                       atol=1e-5)
            for what in ("train step", "inference"):
                ms = [float(np.median(times[w, what])) * 1e3 for w in WAYS]
                rows.append((batch, sparse, what, *ms))
                print(f"| {batch} | {seen:.2f} | {'sparse' if sparse else 'dense'} | {what} | "
                      + " | ".join(f"{v:.2f}" for v in ms) + f" | {ms[1] / ms[0]:.2f} |")
    finally:
        sequential.looks_up = folds
        lookup.MAX_DISTINCT_FRACTION = limit
    return rows


def _infer(model, x):
    with tn.no_grad():
        return model(x)


if __name__ == "__main__":
    main()
