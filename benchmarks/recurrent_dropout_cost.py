"""What ``recurrent_dropout`` costs: one training step of an RNN layer on the fused op
(no recurrent dropout) against the per-step path it takes with ``recurrent_dropout``.

    python benchmarks/recurrent_dropout_cost.py                 # batch 32, 40 steps, 64 units
    python benchmarks/recurrent_dropout_cost.py --batch 64 --steps 100 --units 128
    python benchmarks/recurrent_dropout_cost.py --quick         # a few repetitions (tests)

A step is forward (training=True), a sum of the outputs, backward.  The layers
have the same weights; each timing is the fastest of ``--repeats`` steps after one
warm-up step (as ``timeit`` reports: on a shared machine the slower steps measure the
other jobs), and the line printed first records the machine's load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tinynlp as tn  # noqa: E402


def step_seconds(layer, x, repeats):
    """The fastest wall time of forward + backward of ``layer`` on ``x`` (training)."""
    times = []
    for i in range(repeats + 1):
        for w in layer.trainable_weights:
            w.grad = None
        start = time.perf_counter()
        layer(x, training=True).sum().backward()
        if i:                                   # the first step warms up (compiles kernels)
            times.append(time.perf_counter() - start)
    return min(times)


def measure(batch, steps, features, units, repeats, cells=("SimpleRNN", "LSTM", "GRU")):
    """Rows ``(cell, fused ms, per-step ms, ratio)``."""
    x = np.random.default_rng(0).standard_normal((batch, steps, features)).astype(np.float32)
    rows = []
    for name in cells:
        cls = getattr(tn.layers, name)
        fused, stepwise = cls(units), cls(units, recurrent_dropout=0.2)
        fused(x)
        stepwise(x)
        stepwise.set_weights(fused.get_weights())
        a = step_seconds(fused, x, repeats)
        b = step_seconds(stepwise, x, repeats)
        rows.append((name, 1e3 * a, 1e3 * b, b / a))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--features", type=int, default=32)
    p.add_argument("--units", type=int, default=64)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--quick", action="store_true", help="tiny sizes, 2 repetitions")
    args = p.parse_args(argv)
    if args.quick:
        args.batch, args.steps, args.features, args.units, args.repeats = 4, 5, 3, 4, 2
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"batch {args.batch}, {args.steps} steps, {args.features} features, {args.units} "
          f"units; fastest of {args.repeats} training steps; load average "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print("| cell | fused op (ms / step) | recurrent_dropout, per-step path (ms / step) | "
          "slower by |")
    print("|---|---:|---:|---:|")
    rows = measure(args.batch, args.steps, args.features, args.units, args.repeats)
    for name, a, b, r in rows:
        print(f"| {name} | {a:.2f} | {b:.2f} | {r:.1f}x |")
    return rows


if __name__ == "__main__":
    main()
