"""Run under mpiexec by tests/distributed/test_mpi.py: ``worker.py MODE OUTDIR [ARGS]``.

Each mode asserts its own invariants on every rank and writes results to
OUTDIR/rank<k>.npz for the test to compare.  Modes:

* ``train B SPARSE BUCKET_KB VOCAB``: tiny model, data-parallel SGD, per-rank batch B
* ``fit B SHUFFLE EPOCHS``: ``Sequential.fit(distributed=True)`` with per-rank batch B
* ``collectives``: broadcast, bucketed/sparse all-reduce, metric reduction
* ``mismatch weights|data``: ranks disagree on model shapes or dataset size
* ``die K`` / ``raise K`` / ``hang K``: rank 1 fails at step K of ``train``
"""

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import tinynlp as tn  # noqa: E402
from tests.distributed.tiny import TinyNet, make_data, train  # noqa: E402
from tinynlp.autograd.tensor import RowSparseGrad  # noqa: E402
from tinynlp.distributed import DistributedContext  # noqa: E402


def save(outdir, ctx, **arrays):
    np.savez(os.path.join(outdir, f"rank{ctx.rank}.npz"), **arrays)


def mode_train(ctx, outdir, batch, sparse, bucket_kb, vocab):
    tn.random.seed(100 + ctx.rank)  # different init per rank: broadcast must fix it
    ctx.bucket_bytes = int(float(bucket_kb) * 1024)
    model = TinyNet(vocab=int(vocab), sparse=bool(int(sparse)))
    ids, y = make_data(vocab=int(vocab))
    train(model, ids, y, ctx, batch_size=int(batch))
    weights = {f"w{i}": w for i, w in enumerate(model.get_weights())}
    save(outdir, ctx, calls=ctx.stats.calls, steps=ctx.stats.steps, **weights)


def mode_collectives(ctx, outdir):
    r, n = ctx.rank, ctx.size
    # broadcast: rank-dependent values -> rank 0's, two dtypes, several buckets
    rng = np.random.default_rng(r)
    params = [tn.Tensor(rng.normal(size=s).astype(dt), requires_grad=True)
              for s, dt in [((3, 4), np.float32), ((5,), np.float64), ((2, 2, 2), np.float32)]]
    ctx.bucket_bytes = 40  # forces one bucket per tensor
    ctx.broadcast_weights(params)
    ref = np.random.default_rng(0)
    for p, (s, dt) in zip(params, [((3, 4), np.float32), ((5,), np.float64),
                                   ((2, 2, 2), np.float32)]):
        assert np.array_equal(p.data, ref.normal(size=s).astype(dt)), "broadcast"
    # dense gradients: rank r contributes (r+1)*base -> mean = base*(n+1)/2
    for i, p in enumerate(params):
        p.grad = np.full(p.shape, (r + 1) * (i + 1), dtype=p.dtype)
    params[1].grad = None if r == 0 else params[1].grad  # None counts as zeros
    ctx.allreduce_gradients(params)
    for i, p in enumerate(params):
        expect = (i + 1) * (n + 1) / 2 if i != 1 else (i + 1) * (sum(range(2, n + 1)) / n)
        assert p.grad.dtype == p.dtype and np.allclose(p.grad, expect), (i, p.grad, expect)
    calls_dense = ctx.stats.calls
    assert calls_dense == 3, calls_dense
    # sparse gradients, gathered and densified routes give the same dense result.
    # Two tables of different dtypes and row widths travel in one gather (rank 0 touches
    # an odd number of float32 rows, so later ids sit at unaligned byte offsets); rank 1
    # has no gradient at all for the second table.
    shapes = [((6, 2), np.float64), ((5, 3), np.float32)]

    def local_grad(k, q):
        if k == 0:   # repeated row q, shared row 5
            return np.array([q, q, 5]), np.arange(6.0).reshape(3, 2) + 10 * q
        if q == 1:
            return None
        rows = np.arange(q % 5, q % 5 + 1 + (q == 0) * 2) % 5   # 3 rows on rank 0
        return rows, np.full((len(rows), 3), q + 0.5)

    results = {}
    for mode in ("gather", "dense"):
        ctx.sparse = mode
        tables = [tn.layers.base.Parameter(np.zeros(s, dt), name=f"emb{k}", sparse=True)
                  for k, (s, dt) in enumerate(shapes)]
        for k, t in enumerate(tables):
            lg = local_grad(k, r)
            t.grad = None if lg is None else RowSparseGrad(lg[0], lg[1].astype(t.dtype),
                                                           t.shape)
        ctx.allreduce_gradients(tables)
        for k, t in enumerate(tables):
            g = t.grad
            if mode == "gather":
                assert isinstance(g, RowSparseGrad), type(g)
                g = g.to_dense()
            else:
                assert isinstance(g, np.ndarray)
            assert g.dtype == t.dtype, (mode, k, g.dtype)
            results[f"{mode}{k}"] = g
    for k, (shape, dt) in enumerate(shapes):
        expect = np.zeros(shape)
        for q in range(n):
            lg = local_grad(k, q)
            if lg is not None:
                np.add.at(expect, lg[0], lg[1])
        expect /= n
        for mode in ("gather", "dense"):
            g = results[f"{mode}{k}"]
            assert np.allclose(g, expect, atol=1e-6), (mode, k, g, expect)
    # metrics weighted by count: rank r has count r+1 and value r
    m = ctx.allreduce_mean({"loss": float(r), "acc": 1.0}, count=r + 1)
    w = np.arange(1, n + 1)
    assert np.isclose(m["loss"], (w * np.arange(n)).sum() / w.sum()) and m["acc"] == 1.0, m
    s = ctx.allreduce_sum(np.array([[r, 1]]))
    assert s.tolist() == [[n * (n - 1) // 2, n]], s
    ctx.barrier()
    save(outdir, ctx, **results)


def mode_fit(ctx, outdir, batch, shuffle, epochs):
    """``Sequential.fit(distributed=True)``: the models package's glue over this context."""
    tn.random.seed(100 + ctx.rank)  # a different initialisation on every rank
    model = tn.Sequential([
        tn.layers.Dense(8, activation="tanh", input_shape=(5,), dtype="float64"),
        tn.layers.Dense(1, dtype="float64"),
    ])
    model.compile(optimizer=tn.optimizers.SGD(0.1), loss="mse")
    rng = np.random.default_rng(11)
    x = rng.normal(size=(64, 5))
    y = np.sin(x.sum(axis=1, keepdims=True))
    tn.random.seed(7)
    history = model.fit(x, y, batch_size=int(batch), epochs=int(epochs),
                        shuffle=bool(int(shuffle)), verbose=0, distributed=True)
    weights = {f"w{i}": w for i, w in enumerate(model.get_weights())}
    save(outdir, ctx, loss=np.array(history.history["loss"]), **weights)


def mode_mismatch(ctx, outdir, what):
    """Ranks disagree (model shapes, or dataset sizes): the job must abort, not hang."""
    if what == "weights":
        ctx.broadcast_weights(TinyNet(hidden=7 + ctx.rank))
    else:
        ctx.shard_indices(100 + ctx.rank, epoch=0, seed=0)
    save(outdir, ctx, done=1)


def mode_fail(ctx, outdir, how, k):
    k = int(k)

    def on_step(step):
        if ctx.rank == 1 and step == k:
            if how == "die":
                os._exit(3)
            if how == "raise":
                raise RuntimeError(f"simulated failure at step {step}")
            if how == "hang":
                time.sleep(600)

    tn.random.seed(5)
    model = TinyNet()
    ids, y = make_data()
    train(model, ids, y, ctx, batch_size=4, epochs=50, on_step=on_step)
    save(outdir, ctx, done=1)


if __name__ == "__main__":
    mode, outdir, *args = sys.argv[1:]
    ctx = DistributedContext.from_environment()
    if mode == "train":
        mode_train(ctx, outdir, *args)
    elif mode == "collectives":
        mode_collectives(ctx, outdir)
    elif mode == "fit":
        mode_fit(ctx, outdir, *args)
    elif mode == "mismatch":
        mode_mismatch(ctx, outdir, *args)
    elif mode in ("die", "raise", "hang"):
        mode_fail(ctx, outdir, mode, *args)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    print(f"rank {ctx.rank}/{ctx.size} OK", flush=True)
