"""gelu and the GPT train step: tinynlp against PyTorch, in-process.

    python -m benchmarks.gpt_step [--threads 2] [--reps 30] [--hidden 128 --layers 4
        --heads 4 --context 64 --batch 12 --vocab 4096] [--quick]

Prints two tables (milliseconds: the minimum and the median wall time over
``--reps`` calls after warm-up, and for the train step the median CPU time of
all threads, the steadiest number on a loaded machine), and the 1-minute load
average before and after (the machine may be shared; say it beside any
number you quote).  ``--step-only`` skips the gelu table (e.g. to time a
checkout from before the gelu kernels):

* **gelu** on the GPT's feed-forward activation, (batch·context, 4·hidden)
  float32 — forward, and forward + backward (the gradient from the saved
  input), exact (erf) and tanh forms: ``F.gelu`` (the Numba kernels),
  the NumPy twins (``gelu_reference`` / ``gelu_backward_reference``, the
  SciPy-erf path ``F.gelu`` used before the kernels) and ``torch.nn.functional.gelu``;
* **train step** of the same small GPT (pre-LN, gelu MLP, tied embeddings,
  AdamW, next-token cross-entropy on random ids) in tinynlp
  (``model.train_on_batch``) and in a PyTorch twin built from
  ``nn.TransformerEncoderLayer(norm_first=True, activation="gelu")`` with a
  causal mask — the same arithmetic, not the same weights.

``--quick`` (a tiny model, 3 reps) is what the test suite runs.
"""

from __future__ import annotations

import argparse
import os
import time


def _time(fn, reps, warmup=3):
    """(min wall ms, median wall ms, median CPU ms of all threads) over ``reps`` calls."""
    import numpy as np

    for _ in range(warmup):
        fn()
    ts, cpu = [], []
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        fn()
        ts.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    ts, cpu = np.array(ts) * 1e3, np.array(cpu) * 1e3
    return float(ts.min()), float(np.median(ts)), float(np.median(cpu))


def gelu_rows(rows, width, reps):
    """{(name, form, pass): (min ms, median ms, CPU ms)} for a (rows, width) float32 array."""
    import numpy as np
    import torch

    import tinynlp as tn
    from tinynlp import functional as F
    from tinynlp.kernels.activations import gelu_backward_reference, gelu_reference

    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, width)).astype(np.float32)
    g = rng.standard_normal((rows, width)).astype(np.float32)
    tx, tg = torch.from_numpy(x), torch.from_numpy(g)
    out = {}
    for approximate in (False, True):
        form = "tanh" if approximate else "exact"

        def tn_fwd(a=approximate):
            with tn.no_grad():
                F.gelu(tn.tensor(x), approximate=a)

        def tn_both(a=approximate):
            xt = tn.tensor(x, requires_grad=True)
            F.gelu(xt, approximate=a).backward(g)

        def ref_fwd(a=approximate):
            gelu_reference(x, a)

        def ref_both(a=approximate):
            gelu_reference(x, a)
            gelu_backward_reference(g, x, a)

        def th_fwd(mode="tanh" if approximate else "none"):
            with torch.no_grad():
                torch.nn.functional.gelu(tx, approximate=mode)

        def th_both(mode="tanh" if approximate else "none"):
            xt = tx.clone().requires_grad_()
            torch.nn.functional.gelu(xt, approximate=mode).backward(tg)

        for name, f, b in (("tinynlp", tn_fwd, tn_both), ("numpy twin", ref_fwd, ref_both),
                           ("pytorch", th_fwd, th_both)):
            out[(name, form, "forward")] = _time(f, reps)
            out[(name, form, "forward+backward")] = _time(b, reps)
    return out


class _TorchGPT:
    """Built lazily so that importing this module does not import torch."""

    @staticmethod
    def make(vocab, context, layers, heads, hidden):
        import torch
        from torch import nn

        class TorchGPT(nn.Module):
            def __init__(self):
                super().__init__()
                self.tok = nn.Embedding(vocab, hidden)
                self.pos = nn.Embedding(context, hidden)
                self.blocks = nn.ModuleList([
                    nn.TransformerEncoderLayer(hidden, heads, 4 * hidden, dropout=0.0,
                                               activation="gelu", batch_first=True,
                                               norm_first=True)
                    for _ in range(layers)])
                self.norm = nn.LayerNorm(hidden)

            def forward(self, ids):
                T = ids.shape[1]
                x = self.tok(ids) + self.pos(torch.arange(T))
                mask = nn.Transformer.generate_square_subsequent_mask(T)
                for block in self.blocks:
                    x = block(x, src_mask=mask, is_causal=True)
                return self.norm(x) @ self.tok.weight.T

        return TorchGPT()


def train_steps(vocab, context, layers, heads, hidden, batch, reps):
    """{framework: (min wall ms, median wall ms, median CPU ms)} of one AdamW train step."""
    import numpy as np
    import torch

    import tinynlp as tn

    rng = np.random.default_rng(0)
    data = [rng.integers(0, vocab, (batch, context + 1)) for _ in range(8)]
    tn.random.seed(0)
    model = tn.models.GPT(vocab, context, layers, heads, hidden, 4 * hidden)
    model.compile(optimizer=tn.optimizers.AdamW(1e-3, weight_decay=0.1),
                  loss=tn.losses.SparseCategoricalCrossentropy(from_logits=True))
    i = [0]

    def tn_step():
        d = data[i[0] % len(data)]
        i[0] += 1
        model.train_on_batch(d[:, :-1], d[:, 1:])

    torch.manual_seed(0)
    tmodel = _TorchGPT.make(vocab, context, layers, heads, hidden)
    opt = torch.optim.AdamW(tmodel.parameters(), 1e-3, weight_decay=0.1)
    tdata = [torch.from_numpy(d) for d in data]

    def th_step():
        d = tdata[i[0] % len(tdata)]
        i[0] += 1
        logits = tmodel(d[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), d[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()

    return {"tinynlp": _time(tn_step, reps), "pytorch": _time(th_step, reps)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=30)
    p.add_argument("--vocab", type=int, default=4096)
    p.add_argument("--context", type=int, default=64)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--batch", type=int, default=12)
    p.add_argument("--step-only", action="store_true", help="only the train step")
    p.add_argument("--quick", action="store_true", help="a tiny model, 3 reps (for tests)")
    args = p.parse_args(argv)
    if args.quick:
        args.reps, args.vocab, args.context, args.layers = 3, 64, 8, 1
        args.heads, args.hidden, args.batch = 2, 16, 2
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    load0 = os.getloadavg()[0]
    rows, width = args.batch * args.context, 4 * args.hidden
    ops = {}
    if not args.step_only:
        ops = gelu_rows(rows, width, args.reps)
        print(f"gelu on a ({rows}, {width}) float32 array, ms (min / median of {args.reps}), "
              f"{args.threads} thread(s)")
        print(f"{'':12s} {'form':6s} {'forward':>17s} {'forward+backward':>19s}")
        for name in ("tinynlp", "numpy twin", "pytorch"):
            for form in ("exact", "tanh"):
                f, b = ops[(name, form, "forward")], ops[(name, form, "forward+backward")]
                print(f"{name:12s} {form:6s} {f[0]:8.3f} / {f[1]:6.3f} "
                      f"{b[0]:10.3f} / {b[1]:6.3f}")
    steps = train_steps(args.vocab, args.context, args.layers, args.heads, args.hidden,
                        args.batch, args.reps)
    print(f"\nGPT train step (vocab {args.vocab}, context {args.context}, {args.layers} layers, "
          f"{args.heads} heads, width {args.hidden}, batch {args.batch}), {args.threads} "
          f"thread(s), ms: wall min / median, CPU median")
    for name, (lo, med, cpu) in steps.items():
        print(f"{name:12s} {lo:8.2f} / {med:8.2f}   {cpu:8.2f}")
    print(f"ratio tinynlp / pytorch: {steps['tinynlp'][0] / steps['pytorch'][0]:.2f} (wall min), "
          f"{steps['tinynlp'][2] / steps['pytorch'][2]:.2f} (CPU median)")
    print(f"1-minute load average: {load0:.2f} before, {os.getloadavg()[0]:.2f} after")
    return ops, steps


if __name__ == "__main__":
    main()
