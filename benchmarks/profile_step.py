"""Time (and optionally profile) tinynlp's train step in-process, for optimisation work.

    python -m benchmarks.profile_step emb_rnn emb_lstm --batch 32 [--sparse] [--profile]
        [--threads 1]

Prints, per model, the minimum and median wall time of the train step and of
inference over ``--reps`` calls, and the CPU time per train step
(``time.process_time``, all threads).  On a shared machine the minimum and the
CPU time are the most stable numbers; the before/after figures in NOTES.md come
from this script.
"""

from __future__ import annotations

import argparse
import sys
import time

from .threads_env import fix_pools


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("models", nargs="+")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--reps", type=int, default=30)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--sparse", action="store_true")
    p.add_argument("--profile", action="store_true")
    args = p.parse_args(argv)
    fix_pools(args.threads)
    import numpy as np

    from .agreement import batches
    from .prepare import initial_weights, make_data
    from .specs import get_spec
    from . import tinynlp_models as tm

    for name in args.models:
        spec = get_spec(name)
        (x, y), _ = make_data(spec)
        model = tm.build(spec, initial_weights(spec), sparse=args.sparse)
        bs = batches(x, y, args.batch, 10)
        for xb, yb in bs[:3]:
            model.train_step(xb, yb)
            model.predict(xb)

        def train(n):
            ts = []
            for i in range(n):
                t = time.perf_counter()
                model.train_step(*bs[i % 10])
                ts.append(time.perf_counter() - t)
            return np.array(ts) * 1e3

        def infer(n):
            ts = []
            for i in range(n):
                t = time.perf_counter()
                model.predict(bs[i % 10][0])
                ts.append(time.perf_counter() - t)
            return np.array(ts) * 1e3

        c0 = time.process_time()
        tr = train(args.reps)
        cpu = (time.process_time() - c0) / args.reps * 1e3
        inf = infer(args.reps)
        print(f"{name:9s} b={args.batch:<4d}{' sparse' if args.sparse else ''} train min "
              f"{tr.min():8.2f} med {np.median(tr):8.2f} cpu {cpu:8.2f} ms | infer min "
              f"{inf.min():7.2f} med {np.median(inf):7.2f} ms", flush=True)
        if args.profile:
            import cProfile
            import pstats
            prof = cProfile.Profile()
            prof.enable()
            train(args.reps)
            prof.disable()
            pstats.Stats(prof, stream=sys.stdout).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
