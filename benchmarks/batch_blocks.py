"""A model's inference, or its train step, whole or in blocks of the batch
(benchmarks/NOTES.md, sections 18 and 19).

    python benchmarks/batch_blocks.py                 # the benchmark models, 2 threads
    python benchmarks/batch_blocks.py --models gpt:12,emb_cnn:256
    python benchmarks/batch_blocks.py --train         # the GPT's train step (section 19)
    python benchmarks/batch_blocks.py --quick         # tiny sizes, a few repetitions (tests)

For each model and batch size, the same inference forward (``model(x)`` under
``tn.no_grad()``) two ways, forced with ``tinynlp.workers.BlockChoice(force=...)``:

- **whole**: the batch in one piece, OpenBLAS and Numba on their threads;
- **blocks**: one block of the batch per thread, each with one OpenBLAS and one
  Numba thread (``tinynlp.workers.run_batch_blocks``);

and what ``BlockChoice`` itself keeps after its trials (the default).  ``--train``
times ``model.train_on_batch`` instead (the harness's optimizer and loss; only the
models that may train in blocks: ``tinynlp.models.train_blocks``), forced with
``model._train_in_blocks``, and reports the way its fixed rule takes.  The models
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
from tinynlp.models.train_blocks import blocks_for
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
    p.add_argument("--train", action="store_true",
                   help="time the train step (default models: gpt:12)")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    tn.set_num_threads(args.threads)
    if args.train and args.models == DEFAULT:
        args.models = "gpt:12"
    pairs = [(m, int(b)) for m, b in (item.split(":") for item in args.models.split(","))]
    if args.quick:
        pairs = [("gpt", 4)] if args.train else [("emb_cnn", 6), ("gpt", 4)]
    if args.train and any(name != "gpt" for name, _ in pairs):
        p.error("--train: of the benchmark models only gpt trains in blocks")
    rounds, reps = (args.rounds, 7) if not args.quick else (1, 2)
    what = "train step" if args.train else "inference"
    print(f"{what}; load average {os.getloadavg()}; {args.threads} thread(s); median of "
          f"{rounds} round(s) of best-of-{reps}, ms")
    print()
    chooser = "the rule takes" if args.train else "BlockChoice keeps"
    print(f"| model | batch | whole | blocks | blocks / whole | {chooser} |")
    print("|---|---:|---:|---:|---:|---|")
    rows = []
    for name, batch in pairs:
        model, x = make(name, batch, args.quick)
        if args.train:
            tm.TinyModel(None, model=model)                 # compiled as in the harness
            y = np.roll(x, -1, axis=1)

            def run(model=model, x=x, y=y):
                return model.train_on_batch(x, y)

            def force(way, model=model):
                model._train_in_blocks = way == "blocks"
        else:
            def run(model=model, x=x):
                with tn.no_grad():
                    return model(x).data

            def force(way, model=model):
                model._block_choice = BlockChoice(force=way == "blocks")

        times = {"whole": [], "blocks": []}
        outs = {}
        for _ in range(rounds):
            for way, seconds in times.items():
                force(way)
                outs[way] = run()
                seconds.append(best_seconds(run, reps))
        if args.train:                       # the fixed rule (train_blocks.blocks_for)
            del model._train_in_blocks
            kept = "blocks" if blocks_for(model, x.shape) else "whole"
        else:                                # what the model's own choice keeps, as in use
            np.testing.assert_allclose(outs["blocks"], outs["whole"], rtol=1e-5, atol=1e-6)
            model.__dict__.pop("_block_choice")
            run()
            choice = model.__dict__["_block_choice"]
            for _ in range(2 * choice.TRIALS):
                run()
            kept = {True: "blocks", False: "whole", None: "whole (one block: not measured)"}[
                choice.chosen(x.shape, tn.get_num_threads())]
        whole, blocks = (float(np.median(times[w])) * 1e3 for w in ("whole", "blocks"))
        rows.append((name, batch, whole, blocks, kept))
        print(f"| {name} | {batch} | {whole:.2f} | {blocks:.2f} | {blocks / whole:.2f} | "
              f"{kept} |")
    return rows


if __name__ == "__main__":
    main()
