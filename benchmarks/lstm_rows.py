"""The LSTM's recurrences in blocks of batch rows (benchmarks/NOTES.md, section 17).

    python benchmarks/lstm_rows.py                  # batch 32 and 256, 2 threads
    python benchmarks/lstm_rows.py --threads 1
    python benchmarks/lstm_rows.py --quick          # tiny sizes, a few repetitions (tests)

``F.lstm`` — LSTM(128) over 100 steps of 100 features, float32, as in the
benchmark's emb_lstm model — three ways:

- **blocks**: the default: one block of batch rows per thread, each block's
  steps in one Numba call (products through NumPy's OpenBLAS in one-thread tiles);
- **one block, Numba**: the batch kept whole (``SPLIT_PRODUCT`` raised), the
  steps still in one Numba call;
- **NumPy loop**: the batch whole and ``TINYNLP_NUMBA_GEMM=0``: the Python step
  loop with ``np.matmul``, what the LSTM did before section 17.

One block on several threads normally takes the NumPy loop (``step_gemm``); here
it is forced, to show why.  tinynlp is imported before NumPy, as the ``tinynlp``
command does, so that OpenBLAS's idle threads spin only briefly
(``tinynlp._blas_spin``); ``--numpy-first`` imports NumPy first, and then the
LSTM keeps one block (``short_blas_spin``) and "blocks" measures that.  Each cell is the median of ``--rounds`` rounds.  In
each round the three ways run one after the other, each timed as the best of a
few calls, so all three see the same states of the machine.  The first line
printed gives the load average.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.threads_env import fix_pools, threads_from_argv  # noqa: E402 (no NumPy)

fix_pools(threads_from_argv(sys.argv, default="2"))
if "--numpy-first" in sys.argv:
    import numpy  # noqa: F401 - OpenBLAS starts with its default spin (see the docstring)

import tinynlp as tn  # noqa: E402, I001 - before NumPy, as the tinynlp command does

import numpy as np  # noqa: E402

from benchmarks.timing import best_seconds, rounds_parser  # noqa: E402
from tinynlp import functional as F  # noqa: E402
from tinynlp.functional.rnn import lstm_cell  # noqa: E402
from tinynlp.kernels import blas  # noqa: E402

MODES = ("blocks", "one block, Numba", "NumPy loop")


def set_mode(mode, monkey):
    """Switch the LSTM to ``mode``; ``monkey`` holds the defaults to restore."""
    lstm_cell.SPLIT_PRODUCT = monkey["split"] if mode == "blocks" else 1 << 62
    lstm_cell.step_gemm = (monkey["step_gemm"] if mode != "one block, Numba" else
                           lambda dt, parts, B, H: blas.numpy_gemm(dt))
    blas._found.clear()
    os.environ["TINYNLP_NUMBA_GEMM"] = "0" if mode == "NumPy loop" else "1"


def make(batch, steps, features, units, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, steps, features)).astype(np.float32)
    params = [tn.Tensor((rng.standard_normal(s) * 0.1).astype(np.float32), requires_grad=True)
              for s in ((features, 4 * units), (units, 4 * units), (4 * units,))]

    def infer():
        with tn.no_grad():
            return F.lstm(x, None, None, *params)[0].data

    def train():
        for p in params:
            p.grad = None
        hs, h, c = F.lstm(x, None, None, *params)
        (hs.sum() + h.sum()).backward()
        return [p.grad for p in params]
    return infer, train


def main(argv=None):
    p = rounds_parser(__doc__.splitlines()[0])
    p.add_argument("--numpy-first", action="store_true",
                   help="NumPy imported before tinynlp (OpenBLAS's default spin)")
    args = p.parse_args(argv)
    tn.set_num_threads(args.threads)
    sizes = (100, 100, 128) if not args.quick else (6, 5, 16)
    batches = [int(b) for b in args.batches.split(",")] if not args.quick else [8]
    rounds, reps = (args.rounds, 5) if not args.quick else (1, 2)
    monkey = {"split": lstm_cell.SPLIT_PRODUCT, "step_gemm": lstm_cell.step_gemm}
    print(f"load average {os.getloadavg()}; {args.threads} thread(s)"
          f"{'; NumPy imported first' if args.numpy_first else ''}; LSTM({sizes[2]}) over "
          f"{sizes[0]} steps of {sizes[1]} features, float32; median of {rounds} round(s) of "
          f"best-of-{reps}, ms")
    print()
    print("| batch | what | " + " | ".join(MODES) + " |")
    print("|---:|---|" + "---:|" * len(MODES))
    rows = []
    try:
        for batch in batches:
            infer, train = make(batch, *sizes)
            times = {(m, w): [] for m in MODES for w in ("inference", "train step")}
            outs = {}
            for _ in range(rounds):
                for mode in MODES:
                    set_mode(mode, monkey)
                    outs[mode] = infer()
                    times[mode, "inference"].append(best_seconds(infer, reps))
                    times[mode, "train step"].append(best_seconds(train, reps))
            for mode in MODES[1:]:                    # the three ways compute the same
                np.testing.assert_allclose(outs[mode], outs["blocks"], rtol=1e-5, atol=1e-6)
            for what in ("inference", "train step"):
                ms = [float(np.median(times[m, what])) * 1e3 for m in MODES]
                rows.append((batch, what, *ms))
                print(f"| {batch} | {what} | " + " | ".join(f"{v:.2f}" for v in ms) + " |")
    finally:
        set_mode("blocks", monkey)
    return rows


if __name__ == "__main__":
    main()
