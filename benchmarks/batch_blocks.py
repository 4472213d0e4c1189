"""A model's inference whole or in blocks of the batch (benchmarks/NOTES.md, section 18).

    python benchmarks/batch_blocks.py                 # the benchmark models, 2 threads
    python benchmarks/batch_blocks.py --models gpt,emb_cnn --batches 32,256
    python benchmarks/batch_blocks.py --quick         # tiny sizes, a few repetitions (tests)

For each model and batch size, the same inference forward (``model(x)`` under
``tn.no_grad()``) two ways, forced with ``tinynlp.workers.BlockChoice(force=...)``:

- **whole**: the batch in one piece, OpenBLAS and Numba on their threads;
- **blocks**: one block of the batch per thread, each with one OpenBLAS and one
  Numba thread (``tinynlp.workers.run_batch_blocks``);

and what ``BlockChoice`` itself keeps after its trials (the default).  The models
are the harness's (``benchmarks/specs.py``: the tinynlp side, random inputs; the
GPT at batch b runs b sequences of its context).  Each cell is the median of
``--rounds`` rounds; in each round the two ways run one after the other, each
timed as the best of a few calls, so both see the same states of the machine.
The first line printed gives the load average.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.threads_env import fix_pools, threads_from_argv

fix_pools(threads_from_argv(sys.argv, default="2"))

import tinynlp as tn  # noqa: I001 - before NumPy, as the tinynlp command does

import numpy as np

from benchmarks import tinynlp_models as tm
from benchmarks.specs import get_spec
from benchmarks.timing import best_seconds
from tinynlp.workers import BlockChoice

DEFAULT = "seed_rnn:32,seed_cnn:32,seed_cnn:256,emb_rnn:32,emb_rnn:256,emb_cnn:32,emb_cnn:256," \
          "emb_lstm:32,emb_lstm:256,transformer_cls:32,transformer_cls:256,gpt:12"


def make(name, batch, quick=False, seed=0):
    """``(model, x)``: the harness's tinynlp model ``name``, built, and a batch of inputs."""
    spec = get_spec(name, quick=quick)
    rng = np.random.default_rng(seed)
    if spec.kind == "gpt":
        model = tm.build_gpt(spec)
        x = rng.integers(0, spec.sizes["vocab"], (batch, spec.sizes["context"]))
    else:
        model = tn.Sequential(tm.build_layers(spec))
        example = tm.input_example(spec, batch)
        x = (rng.integers(1, spec.sizes["vocab"], example.shape) if example.dtype.kind == "i"
             else rng.standard_normal(example.shape).astype(np.float32))
    with tn.no_grad():
        model(x[:2])                                   # built
    return model, x


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--models", default=DEFAULT,
                   help="comma-separated model:batch pairs (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    tn.set_num_threads(args.threads)
    pairs = [(m, int(b)) for m, b in (item.split(":") for item in args.models.split(","))]
    if args.quick:
        pairs = [("emb_cnn", 6), ("gpt", 4)]
    rounds, reps = (args.rounds, 7) if not args.quick else (1, 2)
    print(f"load average {os.getloadavg()}; {args.threads} thread(s); median of {rounds} "
          f"round(s) of best-of-{reps}, ms")
    print()
    print("| model | batch | whole | blocks | blocks / whole | BlockChoice keeps |")
    print("|---|---:|---:|---:|---:|---|")
    rows = []
    for name, batch in pairs:
        model, x = make(name, batch, args.quick)

        def infer(model=model, x=x):
            with tn.no_grad():
                return model(x).data

        times = {"whole": [], "blocks": []}
        outs = {}
        for _ in range(rounds):
            for way, seconds in times.items():
                model._block_choice = BlockChoice(force=way == "blocks")
                outs[way] = infer()
                seconds.append(best_seconds(infer, reps))
        np.testing.assert_allclose(outs["blocks"], outs["whole"], rtol=1e-5, atol=1e-6)
        model._block_choice = choice = BlockChoice()
        for _ in range(1 + 2 * BlockChoice.TRIALS):
            infer()
        kept = {True: "blocks", False: "whole", None: "whole (one block: not measured)"}[
            choice.chosen(x.shape, tn.get_num_threads())]
        whole, blocks = (float(np.median(times[w])) * 1e3 for w in ("whole", "blocks"))
        rows.append((name, batch, whole, blocks, kept))
        print(f"| {name} | {batch} | {whole:.2f} | {blocks:.2f} | {blocks / whole:.2f} | "
              f"{kept} |")
    return rows


if __name__ == "__main__":
    main()
