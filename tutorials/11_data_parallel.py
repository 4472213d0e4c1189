# %% [markdown]
# # 11 — Data parallelism: N copies of a model, one averaged gradient
#
# When one process is too slow, the simplest way to use more of them is
# **data parallelism**: every process (a *rank*) holds a full copy of the
# model, computes the gradient on its own slice of each batch, and the ranks
# **average their gradients** before each optimizer step.  Since they start
# from the same weights and apply the same averaged gradient, the copies stay
# identical — and, as we show below, they follow exactly the trajectory of one
# process training on the whole (N times larger) batch.
#
# This tutorial
#
# 1. derives why the average of the N shard gradients *is* the gradient of
#    the global batch, and checks it numerically on a sentiment model;
# 2. shows how tinynlp splits the data so the N per-rank batches form exactly
#    the global batch;
# 3. counts what it costs: a ring all-reduce sends `2·(N−1)/N · S` bytes per
#    rank and step for `S` bytes of gradients;
# 4. maps every piece onto Horovod and PyTorch DDP.
#
# Everything here runs in one process (a "job" of size 1, plus N simulated
# ranks).  The last cell launches a real 2-rank job when MPI is installed
# (`pip install 'tinynlp[dist]'`).  Set `TINYNLP_QUICK=1` for a fast run.

# %%
import os
import tempfile
import textwrap

import numpy as np

import tinynlp as tn
from tinynlp import functional as F
from tinynlp.distributed import DistributedContext, epoch_permutation, plan_buckets

QUICK = os.environ.get("TINYNLP_QUICK") == "1"
tn.random.seed(0)

# %% [markdown]
# ## A model and real data
#
# Rotten Tomatoes snippets (fresh / rotten), tokenized and padded; the model
# averages word embeddings (padding masked out), then a small MLP gives one
# logit.  float64 throughout, so that "equal" below means equal to ~1e-15.

# %%
(x_text, y_all), _ = tn.datasets.load_rotten_tomatoes()
n_use = 1024 if QUICK else len(x_text)
tok = tn.text.Tokenizer(num_words=5000, oov_token="<OOV>")
tok.fit_on_texts(x_text[:n_use])
X = tn.text.pad_sequences(tok.texts_to_sequences(x_text[:n_use]), maxlen=32).astype(np.int64)
Y = y_all[:n_use].astype(np.float64)[:, None]
print("data:", X.shape, "labels:", Y.shape, "fresh share: %.2f" % Y.mean())

L = tn.layers


class SentimentNet(L.Layer):
    """ids → mean of word vectors (masked) → Dense(relu) → Dense(1) logit."""

    def __init__(self, vocab=5000, dim=32, hidden=16, dtype="float64"):
        super().__init__(dtype=dtype)
        self.emb = L.Embedding(vocab, dim, mask_zero=True, dtype=dtype)
        self.pool = L.GlobalAveragePooling1D(dtype=dtype)
        self.hidden = L.Dense(hidden, activation="relu", dtype=dtype)
        self.out = L.Dense(1, dtype=dtype)

    def call(self, ids, training=False):
        h = self.pool(self.emb(ids), mask=self.emb.compute_mask(ids))
        return self.out(self.hidden(h))


def loss_fn(model, ids, y):
    """Mean binary cross-entropy over the batch (the mean is what matters below)."""
    return F.binary_crossentropy(y, model(ids), from_logits=True)


def gradients(model, ids, y):
    for p in model.trainable_weights:
        p.zero_grad()
    loss_fn(model, ids, y).backward()
    return [p.grad.copy() for p in model.trainable_weights]


model = SentimentNet()
model(X[:2])  # build the weights
print("parameters:", model.count_params(), "=", [w.shape for w in model.weights])

# %% [markdown]
# ## Why the averaged gradient is the global-batch gradient
#
# Take a global batch of `N·B` samples with per-sample losses `ℓ_i(θ)`, and
# cut it into N shards `S_1 … S_N` of `B` samples each — one per rank.  The
# training loss is the **mean** over the batch:
#
# $$L(θ) = \frac{1}{NB}\sum_{i=1}^{NB} ℓ_i(θ)
#        = \frac{1}{N}\sum_{r=1}^{N} \underbrace{\frac{1}{B}\sum_{i∈S_r} ℓ_i(θ)}_{L_r(θ)\text{, rank } r\text{'s loss}}$$
#
# Differentiation is linear, so
#
# $$∇L(θ) = \frac{1}{N}\sum_{r=1}^{N} ∇L_r(θ).$$
#
# Each rank computes `∇L_r` on its own shard (forward + backward, no
# communication); one **all-reduce** (sum over ranks, then ÷N) gives every
# rank `∇L`.  Three conditions hide in the derivation:
#
# * **equal shard sizes** — with sizes `B_r` the right weights are
#   `B_r / Σ B_r`, not `1/N` (below: the plain average of unequal shards is
#   wrong); tinynlp gives every rank the same number of samples;
# * **the same θ on every rank** — so weights are broadcast from rank 0 once
#   at the start, and every rank then applies the same update;
# * **losses that decompose over samples** — true for cross-entropy, MSE and
#   weight penalties (each rank adds the same penalty, and the average of N
#   equal terms is that term); false for batch statistics (batch
#   normalization), and for token-level means over padded sequences, where
#   the shard means must be weighted by their token counts.
#
# Dropout masks differ between ranks, which is fine: they are random anyway.
#
# ### The numeric check
#
# One global batch of 64, cut into N = 4 shards of 16:

# %%
N, B = 4, 16
ids, y = X[: N * B], Y[: N * B]
g_global = gradients(model, ids, y)
g_shards = [gradients(model, ids[r * B:(r + 1) * B], y[r * B:(r + 1) * B]) for r in range(N)]
g_avg = [sum(g[k] for g in g_shards) / N for k in range(len(g_global))]

err = max(np.abs(a - b).max() for a, b in zip(g_avg, g_global))
scale = max(np.abs(g).max() for g in g_global)
print(f"max |mean of shard gradients − global gradient| = {err:.2e}   (gradients up to {scale:.2e})")
assert err < 1e-12 * max(scale, 1.0)

# Unequal shards: the plain mean of the shard gradients is NOT the global gradient,
# the count-weighted mean is.
sizes = [8, 8, 16, 32]
edges = np.cumsum([0, *sizes])
g_uneq = [gradients(model, ids[a:b], y[a:b]) for a, b in zip(edges[:-1], edges[1:])]
plain = [sum(g[k] for g in g_uneq) / N for k in range(len(g_global))]
weighted = [sum(s * g[k] for s, g in zip(sizes, g_uneq)) / sum(sizes)
            for k in range(len(g_global))]
print("unequal shards, plain mean:    max error %.2e" %
      max(np.abs(a - b).max() for a, b in zip(plain, g_global)))
print("unequal shards, weighted mean: max error %.2e" %
      max(np.abs(a - b).max() for a, b in zip(weighted, g_global)))

# %% [markdown]
# ## Which samples each rank gets
#
# `ctx.shard_indices(n, epoch, seed)` draws one permutation per epoch from
# `(seed, epoch)` — the same on every rank — and rank `r` takes
# `perm[r::N]`.  The `n mod N` left-over samples are dropped for that epoch
# (a different few each epoch), so every rank runs the same number of steps.
# Striding has a nice consequence: batch `k` of all ranks together is
# `perm[k·N·B : (k+1)·N·B]`, batch `k` of a single process with batch `N·B`.

# %%
n, N, B = 20, 2, 3
perm = epoch_permutation(n, epoch=0, seed=42)
shards = [tn.distributed.shard_indices(n, rank=r, size=N, epoch=0, seed=42) for r in range(N)]
print("shared permutation:", perm.tolist())
for r, s in enumerate(shards):
    print(f"rank {r} shard:      ", s.tolist())
for k in range(2):
    together = sorted(np.concatenate([s[k * B:(k + 1) * B] for s in shards]).tolist())
    print(f"step {k}: ranks' batches together {together} == global batch "
          f"{sorted(perm[k * N * B:(k + 1) * N * B].tolist())}")

# %% [markdown]
# ## N ranks, simulated: the same trajectory as one big batch
#
# Now whole training runs: N replicas of the model (started from the same
# weights — the broadcast), each taking its shard of every step, gradients
# averaged (the all-reduce, here a NumPy mean), plain SGD on every replica.
# Against it, one model trained with batch `N·B` on the same permutation.

# %%
N, B, lr = 4, 16, 0.5
steps = 5 if QUICK else 40
tn.random.seed(1)
single = SentimentNet()
single(X[:2])
replicas = [SentimentNet() for _ in range(N)]
for m in replicas:
    m(X[:2])
    m.set_weights(single.get_weights())           # the broadcast
opt_single = tn.optimizers.SGD(lr)
opts = [tn.optimizers.SGD(lr) for _ in range(N)]

perm = epoch_permutation(len(X), epoch=0, seed=7)
for step in range(steps):
    batch = perm[step * N * B:(step + 1) * N * B]
    # one process, global batch
    gradients(single, X[batch], Y[batch])
    opt_single.step(single.trainable_weights)
    # N ranks: rank r takes every N-th sample of the global batch (perm[r::N])
    local = [gradients(m, X[batch[r::N]], Y[batch[r::N]]) for r, m in enumerate(replicas)]
    averaged = [sum(g[k] for g in local) / N for k in range(len(local[0]))]   # all-reduce
    for m, opt in zip(replicas, opts):
        for p, g in zip(m.trainable_weights, averaged):
            p.grad = g.copy()
        opt.step(m.trainable_weights)

drift = max(np.abs(a - b).max() for m in replicas
            for a, b in zip(m.get_weights(), single.get_weights()))
spread = max(np.abs(a - b).max() for m in replicas[1:]
             for a, b in zip(m.get_weights(), replicas[0].get_weights()))
print(f"after {steps} steps: replicas differ from each other by {spread:.1e}, "
      f"from the single global-batch model by {drift:.1e}")
assert spread == 0.0 and drift < 1e-10

# %% [markdown]
# The replicas are *bit-identical* to one another (same inputs to the same
# update), and equal to the single-process model up to float rounding (the
# order of the additions differs).  `tests/distributed/test_mpi.py` checks
# the same thing with real MPI processes.
#
# In a real job this loop is a few calls on a `DistributedContext`.  Outside
# `mpiexec` it is a job of size 1, whose collectives do nothing — the same
# script runs on a laptop and on N ranks:

# %%
ctx = DistributedContext.from_environment()
print(ctx, "is_root:", ctx.is_root)
ctx.broadcast_weights(single)                       # no-op at size 1
idx = ctx.shard_indices(len(X), epoch=0, seed=7)    # the whole permutation at size 1
gradients(single, X[idx[:B]], Y[idx[:B]])
ctx.allreduce_gradients(single.trainable_weights)   # identity at size 1
print(ctx.allreduce_mean({"loss": 0.69, "accuracy": 0.5}, count=B))

# %% [markdown]
# ## What it costs: the ring all-reduce
#
# Every step each rank must end up with the sum of N buffers of `S` bytes.
# The **ring** algorithm (Patarasuk & Yuan 2009; Baidu brought it to deep
# learning, Horovod and NCCL use it for large buffers) does it with N ranks
# in a ring, the buffer cut into N chunks:
#
# 1. **reduce-scatter**, N−1 steps: each rank sends one chunk to its right
#    neighbour, which adds it to its own; after N−1 steps rank `r` holds the
#    complete sum of one chunk;
# 2. **all-gather**, N−1 steps: the complete chunks travel once around the
#    ring, each rank copying what it receives.
#
# Each rank sends `2·(N−1)` chunks of `S/N` bytes:
#
# $$\text{bytes sent per rank per step} = 2\,\frac{N-1}{N}\,S \;<\; 2S,$$
#
# almost independent of N — that is why data parallelism scales to many
# ranks when the network is fast.  A simulation that counts the bytes:


# %%
def ring_allreduce(buffers):
    """Sum ``buffers`` (one per rank) with the ring algorithm; returns results, bytes sent."""
    n = len(buffers)
    chunks = [np.array_split(b.astype(np.float64), n) for b in buffers]
    sent = [0] * n
    for s in range(n - 1):                        # reduce-scatter
        msgs = [(r, (r - s) % n, chunks[r][(r - s) % n].copy()) for r in range(n)]
        for r, c, data in msgs:
            chunks[(r + 1) % n][c] += data
            sent[r] += data.nbytes
    for s in range(n - 1):                        # all-gather
        msgs = [(r, (r + 1 - s) % n, chunks[r][(r + 1 - s) % n].copy()) for r in range(n)]
        for r, c, data in msgs:
            chunks[(r + 1) % n][c] = data
            sent[r] += data.nbytes
    return [np.concatenate(c) for c in chunks], sent


rng = np.random.default_rng(0)
S_elems = 1200
for n_ranks in (2, 3, 4, 8):
    bufs = [rng.normal(size=S_elems) for _ in range(n_ranks)]
    out, sent = ring_allreduce(bufs)
    assert all(np.allclose(o, sum(bufs)) for o in out)
    S = bufs[0].nbytes
    print(f"N={n_ranks}: each rank sent {sent[0]:>6} bytes;  2(N-1)/N*S = "
          f"{2 * (n_ranks - 1) / n_ranks * S:>8.0f}   (S = {S} bytes)")

# %% [markdown]
# For our model (float64 gradients here; float32 in real training halves it):

# %%
S = sum(p.data.nbytes for p in model.trainable_weights)
print(f"gradient bytes S = {S / 2**20:.2f} MB")
for n_ranks in (2, 4, 8, 64):
    print(f"  N={n_ranks:>2}: {2 * (n_ranks - 1) / n_ranks * S / 2**20:6.2f} MB sent per rank "
          f"per step")

# %% [markdown]
# Bytes are half the story.  A collective call also has a fixed **latency**
# `α` (microseconds in shared memory, tens of microseconds across a network),
# so the time of one all-reduce is roughly `α·(steps) + β·bytes`.  Reducing
# each of a model's parameters separately pays `α` once per parameter;
# packing them into a few big flat buffers — **buckets** — pays it a few
# times.  tinynlp packs gradients of one dtype into buckets of up to 25 MB:

# %%
buckets = plan_buckets([(p.shape, p.dtype) for p in model.trainable_weights])
print(len(model.trainable_weights), "gradients →", buckets)
small = plan_buckets([(p.shape, p.dtype) for p in model.trainable_weights], bucket_bytes=100_000)
print("with 100 kB buckets:", small)

# %% [markdown]
# An embedding table's gradient is *row-sparse*: a batch touches only the
# rows of the words it contains.  For parameters created with `sparse=True`,
# tinynlp all-gathers the touched rows (indices + values) instead of
# all-reducing the whole table, unless the ranks together touch as many rows
# as the table has — then the dense all-reduce is cheaper.
#
# On one machine the "network" is shared memory and the real cost is often
# elsewhere: the ranks compete for the same cores and memory bandwidth.
# `benchmarks/distributed_scaling.py` measures 1 vs 2 ranks on this 2-core
# machine (time per epoch, share of the step spent communicating) and
# writes `benchmarks/distributed_results.md`.
#
# ## The same ideas in Horovod and PyTorch DDP
#
# | step | tinynlp | Horovod | PyTorch DDP |
# |---|---|---|---|
# | start N processes | `mpiexec -n N python train.py` | `horovodrun -np N python train.py` | `torchrun --nproc_per_node N train.py` |
# | who am I | `ctx = DistributedContext.from_environment()`; `ctx.rank`, `ctx.size` | `hvd.init()`; `hvd.rank()`, `hvd.size()` | `dist.init_process_group(...)`; `dist.get_rank()`, `dist.get_world_size()` |
# | same initial weights | `ctx.broadcast_weights(model)` | `hvd.broadcast_parameters(model.state_dict(), root_rank=0)` | done by `DistributedDataParallel(model)` |
# | shard the data | `ctx.shard_indices(n, epoch, seed)` | usually PyTorch's `DistributedSampler` | `DistributedSampler(ds, shuffle=True, seed=s)` + `sampler.set_epoch(epoch)` |
# | average gradients | `ctx.allreduce_gradients(params)` after `backward()` | `hvd.DistributedOptimizer(opt)` | automatic, inside `backward()` |
# | fuse small gradients | buckets, 25 MB | Tensor Fusion, 64 MB (`HOROVOD_FUSION_THRESHOLD`) | buckets, `bucket_cap_mb=25` |
# | overlap with backward | no: one all-reduce pass after `backward()` | yes: gradients are reduced as they become ready | yes: a bucket is reduced as soon as all its gradients exist |
# | reduce metrics | `ctx.allreduce_mean(values, count)` | `hvd.allreduce(t, op=hvd.Average)` | `dist.all_reduce(t)` then divide |
# | one writer | `if ctx.is_root:` print / checkpoint | `if hvd.rank() == 0:` | `if dist.get_rank() == 0:` |
# | dead rank | watchdog timeout (`TINYNLP_DIST_TIMEOUT`) → `MPI_Abort` | stall check, then shutdown | `timeout=` of `init_process_group` |
#
# The one design difference is overlap: Horovod and DDP hook into autograd
# and start reducing the last layers' gradients while backward is still
# computing the first layers'.  tinynlp keeps the training loop readable and
# all-reduces after backward; the benchmark shows how much that costs.
#
# Because the global batch is `N·B`, the usual advice carries over: scale
# the learning rate with N (the "linear scaling rule", Goyal et al. 2017),
# with a warm-up, or keep the global batch fixed by dividing `B` by N.
#
# ## A real 2-rank job
#
# The script below is all a data-parallel training loop needs.  Run it with
# `mpiexec -n 2 python train.py` (or
# `python -m tinynlp.distributed.launch -n 2 train.py`); `fit(...,
# distributed=True)` and `tinynlp train ... --distributed` do the same for
# you.  When MPI is installed, the next cell runs it.

# %%
SCRIPT = textwrap.dedent('''
    import numpy as np
    import tinynlp as tn
    from tinynlp import functional as F
    from tinynlp.distributed import DistributedContext, distributed_batches

    ctx = DistributedContext.from_environment()
    tn.random.seed(ctx.rank)                       # different init per rank ...
    L = tn.layers
    emb, pool, out = L.Embedding(500, 16, mask_zero=True), L.GlobalAveragePooling1D(), L.Dense(1)
    rng = np.random.default_rng(0)                 # the same toy data on every rank
    X = rng.integers(1, 500, size=(512, 12)); Y = ((X < 250).mean(1, keepdims=True) > 0.5) * 1.0
    model = lambda ids: out(pool(emb(ids), mask=emb.compute_mask(ids)))
    model(X[:2])
    params = emb.weights + out.weights
    ctx.broadcast_weights(params)                  # ... until rank 0's weights are broadcast
    opt = tn.optimizers.Adam(0.02)
    for epoch in range(3):
        total, count = 0.0, 0
        for idx in distributed_batches(ctx, len(X), batch_size=32, epoch=epoch, seed=0):
            loss = F.binary_crossentropy(Y[idx], model(X[idx]), from_logits=True)
            loss.backward()
            ctx.allreduce_gradients(params)        # average over ranks
            opt.step(params); opt.zero_grad(params)
            total += loss.item() * len(idx); count += len(idx)
        logs = ctx.allreduce_mean({"loss": total / count}, count)
        ctx.print(f"epoch {epoch}: loss {logs['loss']:.4f} over {ctx.size} ranks")
    digest = float(sum(np.abs(p.data).sum() for p in params))
    same = ctx.allreduce_mean({"d": digest}, 1)["d"] == digest
    ctx.print("weights identical on every rank:", same)
''')

if tn.distributed.is_available():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "train.py")
        with open(path, "w") as f:
            f.write(SCRIPT)
        result = tn.distributed.launch.launch(path, nprocs=2, timeout=300, capture_output=True)
        print(result.stdout)
        if result.returncode != 0:
            print(result.stderr)
        assert result.returncode == 0
else:
    print("mpi4py/mpiexec not installed: pip install 'tinynlp[dist]' to run the 2-rank job")
