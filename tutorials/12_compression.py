# %% [markdown]
# # 12 — Compression: pruning, int8, distillation, model splitting
#
# A trained model is a pile of float32 numbers.  Most of them are not needed
# at full precision, many are not needed at all, and not all of them need
# to be in memory at once.  `tinynlp.compress` (`tn.compress`) has four
# tools for that, and this tutorial tries each on a real sentiment model:
#
# 1. **magnitude pruning**: set the smallest weights to zero, fine-tune
#    with the zeros held in place, store only the non-zeros;
# 2. **int8 quantization**: keep 8-bit integer codes and one float scale per
#    channel instead of 32-bit floats, and multiply in integers;
# 3. **knowledge distillation**: train a model a quarter of the size to copy
#    the big model's *softened* predictions;
# 4. **model splitting**: cut the checkpoint into shards, memory-map them,
#    and run the model one layer at a time.
#
# Every number below is computed when you run the file.  Set
# `TINYNLP_QUICK=1` for a run of a few seconds on a slice of the data
# (the test suite does); the full run takes a few minutes on 2 cores.

# %%
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

import tinynlp as tn
from tinynlp import compress as C
from tinynlp.integrity import seal

QUICK = os.environ.get("TINYNLP_QUICK") == "1"
# Figures (and any file a tutorial writes) go to one git-ignored folder,
# tutorials/output/ (or $TINYNLP_TUTORIAL_OUT), never the current directory; opened
# as a notebook, the figures also show under their cells.
OUT = Path(os.environ.get("TINYNLP_TUTORIAL_OUT")
           or (Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd())
           / "output")
tn.random.seed(0)
WORK = tempfile.mkdtemp(prefix="tn-tutorial12-")    # checkpoints go here


def kb(n):
    return f"{n / 1e3:,.1f} kB"


# %% [markdown]
# ## The model to compress
#
# Rotten Tomatoes critic snippets, fresh (1) or rotten (0), as word ids
# padded to a fixed length.  The model is the text CNN of tutorial 05:
# `Embedding → Conv1D(relu) → GlobalMaxPooling1D → Dense(sigmoid)`.
# Almost all of its parameters sit in the embedding table, one row per
# vocabulary word.

# %%
(x_train_text, y_train), (x_test_text, y_test) = tn.datasets.load_rotten_tomatoes()
if QUICK:
    x_train_text, y_train = x_train_text[:1200], y_train[:1200]
    x_test_text, y_test = x_test_text[:400], y_test[:400]
VOCAB, MAXLEN = (2000, 30) if QUICK else (10000, 40)
DIM, FILTERS = (32, 32) if QUICK else (64, 128)
EPOCHS = 2 if QUICK else 3
tok = tn.text.Tokenizer(num_words=VOCAB, oov_token="<unk>")
tok.fit_on_texts(x_train_text)
x_train = tn.text.pad_sequences(tok.texts_to_sequences(x_train_text), maxlen=MAXLEN)
x_test = tn.text.pad_sequences(tok.texts_to_sequences(x_test_text), maxlen=MAXLEN)
y_train = np.asarray(y_train, np.float32)
y_test = np.asarray(y_test, np.float32)
print("train", x_train.shape, "test", x_test.shape)


def sentiment_model(dim=DIM, filters=FILTERS, name=None):
    return tn.Sequential([
        tn.layers.Embedding(VOCAB, dim),
        tn.layers.Conv1D(filters, 5, activation="relu"),
        tn.layers.GlobalMaxPooling1D(),
        tn.layers.Dense(1, activation="sigmoid"),
    ], name=name)


def compiled(model, lr=1e-3):
    model.compile(optimizer=tn.optimizers.Adam(learning_rate=lr), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def clone(model):
    """A new model of the same shape with a copy of ``model``'s weights."""
    copy = sentiment_model(dim=model.layers[0].output_dim, filters=model.layers[1].filters)
    copy(x_train[:2])                                  # build
    copy.set_weights(model.get_weights())
    return copy


def accuracy(model, x=x_test, y=y_test):
    return float(np.mean((model.predict(x, batch_size=256).reshape(-1) > 0.5) == (y > 0.5)))


base = compiled(sentiment_model(name="base"))
base.fit(x_train, y_train, epochs=EPOCHS, batch_size=64, verbose=0)
base_acc = accuracy(base)
dense_path = os.path.join(WORK, "base.tnz")
base.save(dense_path, include_optimizer=False)
dense_bytes = os.path.getsize(dense_path)
for w in base.weights:
    print(f"  {w.name:<28} {w.shape!s:>14}  {w.size:>9,} parameters")
print(f"float32 model: {base.count_params():,} parameters, test accuracy {base_acc:.4f}, "
      f"checkpoint {kb(dense_bytes)}")

# %% [markdown]
# ## 1. Magnitude pruning
#
# The simplest guess at which weights matter: the large ones.  Pruning a
# fraction `amount` of the weights sets the `amount · n` smallest `|w|` to
# zero.  Two ways to draw the line:
#
# * **per layer** (`scope="layer"`): every weight matrix loses the same
#   fraction;
# * **global** (`scope="global"`): one threshold over all selected weights,
#   so a matrix whose weights are small (compared with the others) loses
#   more of them, and one with large weights keeps more.
#
# By default only kernels are pruned; here we also include the embedding
# table, since that is where the parameters are.  Biases are left alone
# (they are few).

# %%
INCLUDE = ["kernel", "embeddings"]
by_scope = {}
for scope in ("layer", "global"):
    m = clone(base)
    C.prune_magnitude(m, amount=0.8, scope=scope, include=INCLUDE)
    by_scope[scope] = m

print(f"{'weight':<28} {'mean |w|':>9}  {'per-layer':>9}  {'global':>9}")
stats = {s: C.sparsity_stats(m) for s, m in by_scope.items()}   # one row per weight, in order
for w, r_layer, r_global in zip(base.weights, stats["layer"], stats["global"]):
    print(f"{w.name:<28} {np.abs(w.data).mean():9.4f}  "
          f"{r_layer['sparsity']:9.1%}  {r_global['sparsity']:9.1%}")
for scope, m in by_scope.items():
    print(f"{scope:>6}: sparsity of the pruned weights "
          f"{C.sparsity(m, include=INCLUDE):.1%}, test accuracy {accuracy(m):.4f} "
          f"(float32: {base_acc:.4f})")

# %% [markdown]
# Both reach the same overall sparsity; the global threshold spreads it by
# magnitude instead of evenly.  `sparsity_report` is the per-weight table
# (the `masked` column says which weights carry a pruning mask):

# %%
C.sparsity_report(by_scope["global"], print_fn=print)

# %% [markdown]
# ### Fine-tuning with the masks enforced
#
# Pruning costs accuracy; a little more training lets the surviving weights
# take over.  But plain training would bring the zeros back to life, since
# their gradients are not zero.  `prune_magnitude` therefore gives every
# pruned parameter a `PruningMask` as its `constraint` (applied after every
# optimizer step: `w ← w ⊙ m`) and registers a gradient hook that zeroes
# the pruned weights' gradients before the step (so they also stay out of
# Adam's moment estimates).
#
# We prune 50 %, 80 % and 90 % (per layer, and global), measure accuracy,
# fine-tune for one epoch at a lower learning rate, and measure again.

# %%
AMOUNTS = (0.5, 0.8, 0.9)
FT_EPOCHS = 1
results = {}          # (scope, amount) -> (accuracy before, accuracy after, model)
for scope in ("layer", "global"):
    for amount in AMOUNTS:
        m = compiled(clone(base), lr=5e-4)
        C.prune_magnitude(m, amount=amount, scope=scope, include=INCLUDE)
        before = accuracy(m)
        masks = {p.name: p.constraint.mask.copy() for p in m.weights
                 if isinstance(p.constraint, C.PruningMask)}
        kept_before = {p.name: p.data.copy() for p in m.weights}
        m.fit(x_train, y_train, epochs=FT_EPOCHS, batch_size=64, verbose=0)
        after = accuracy(m)
        # the check: every pruned weight is still exactly zero, the others moved
        revived = sum(int(np.count_nonzero(p.data[~masks[p.name]])) for p in m.weights
                      if p.name in masks)
        moved = sum(int(np.count_nonzero(p.data[masks[p.name]] != kept_before[p.name][masks[
            p.name]])) for p in m.weights if p.name in masks)
        n_pruned = sum(int((~mk).sum()) for mk in masks.values())
        assert revived == 0
        results[scope, amount] = (before, after, m)
        print(f"{scope:>6} {amount:4.0%}: accuracy {before:.4f} → {after:.4f} after fine-tuning;"
              f"  {n_pruned:,} pruned weights, {revived} of them non-zero after fit "
              f"({moved:,} kept weights changed)")

# %% [markdown]
# Look at which weights each scope takes (the table above): the per-layer
# rule removes the same fraction of the 128 weights of the output layer —
# each one the link from a filter to the decision — as of the embedding
# table, while the global threshold sees that those weights are large and
# keeps (nearly) all of them, taking more from the embedding rows of rare
# words instead.  Compare the two scopes' accuracies before fine-tuning with
# that in mind.
#
# ### Smaller on disk
#
# A pruned matrix is still a dense array in memory, zeros included.  On
# disk, `save_pruned` stores each mostly-zero weight in **CSR** form: for
# each row the start of its entries (`indptr`), each non-zero's column
# (`uint16` when the rows are short) and its value — 6 bytes per non-zero
# instead of 4 bytes per weight — inside a compressed `.npz`.
# `load_pruned` rebuilds the model (and its masks, so fine-tuning can go on).

# %%
print(f"dense float32 checkpoint (model.save): {kb(dense_bytes)}")
sizes = {}
for amount in AMOUNTS:
    m = results["layer", amount][2]
    path = os.path.join(WORK, f"pruned{int(amount * 100)}.npz")
    sizes[amount] = C.save_pruned(m, path)
    nnz = sum(int(np.count_nonzero(p.data)) for p in m.weights)
    print(f"pruned {amount:4.0%} (per layer, fine-tuned): {nnz:>9,} non-zero of "
          f"{m.count_params():,};  save_pruned {kb(sizes[amount]):>10}  "
          f"= {sizes[amount] / dense_bytes:.2f}× the dense file")
assert sizes[0.9] <= dense_bytes / 4          # a 90 %-sparse checkpoint: at most a quarter

restored = C.load_pruned(os.path.join(WORK, "pruned90.npz"))
same = np.array_equal(restored.predict(x_test[:256]), results["layer", 0.9][2].predict(
    x_test[:256]))
print("load_pruned gives back the same predictions:", same)
assert same

# %%
import matplotlib.pyplot as plt  # noqa: E402

fig, ax = plt.subplots(figsize=(6, 4))
for scope, style in (("layer", "-"), ("global", "--")):
    ax.plot([100 * a for a in AMOUNTS], [results[scope, a][0] for a in AMOUNTS], "o" + style,
            color="tab:red", label=f"{scope}, pruned only")
    ax.plot([100 * a for a in AMOUNTS], [results[scope, a][1] for a in AMOUNTS], "s" + style,
            color="tab:green", label=f"{scope}, + {FT_EPOCHS} epoch fine-tuning")
ax.axhline(base_acc, color="gray", lw=1, label="float32, unpruned")
ax.set_xlabel("sparsity of embedding + kernels (%)")
ax.set_ylabel("test accuracy")
ax.set_title("Magnitude pruning on Rotten Tomatoes")
ax.legend(fontsize=8)
fig.tight_layout()
print("saved", tn.plot.save(fig, OUT / "12_pruning.png"))

# %% [markdown]
# Two more pruning tools, not used here: `structured=True` removes whole
# filters / units (ranked by the L2 norm of their weights), which makes the
# matrices *smaller* rather than sparser; and the
# `PolynomialDecaySparsity` callback prunes gradually during `fit`
# (Zhu & Gupta's schedule `s_t = s_f + (s_i − s_f)(1 − t/n)³`), which
# usually loses less accuracy than pruning all at once.
#
# ## 2. int8 quantization
#
# Symmetric linear quantization stores a float tensor `w` as int8 codes `q`
# and a float scale `s`:
#
# $$s = \frac{\max|w|}{127},\qquad q = \mathrm{clip}(\mathrm{round}(w/s), -127, 127),
#   \qquad w \approx s\,q .$$
#
# Rounding moves each value by at most half a step, so the round trip is
# off by at most `s/2` per element.  With `per_channel=True` each output
# channel (each filter of the convolution) gets its own scale: a filter with
# small weights is then not forced onto the coarse grid of the largest one.
# Here is the convolution kernel, `(kernel_size, in_channels, filters)`,
# quantized per tensor and per filter:

# %%
w = base.layers[1].kernel.data
print("conv kernel", w.shape, w.dtype, f"{w.nbytes:,} bytes")
for per_channel in (False, True):
    q, s = C.quantize_tensor(w, per_channel=per_channel, axis=-1)
    w_hat = C.dequantize(q, s, axis=-1)
    err = np.abs(w.astype(np.float64) - w_hat.astype(np.float64))
    bound = np.broadcast_to(np.asarray(s, np.float64) / 2, w.shape)   # s/2, per filter
    assert q.dtype == np.int8 and np.all(err <= bound * (1 + 1e-5))  # |w − s·q| ≤ s/2
    label = "per filter" if per_channel else "per tensor"
    print(f"{label:>10}: {np.size(s):>3} scale(s) in [{np.min(s):.2e}, {np.max(s):.2e}];  "
          f"max |w − s·q| = {err.max():.2e} ≤ max s/2 = {bound.max():.2e};  "
          f"mean error {err.mean():.2e};  worst error/bound {np.max(err / bound):.3f};  "
          f"{q.nbytes + np.asarray(s).nbytes:,} bytes")

# %% [markdown]
# ### A quantized model
#
# `quantize_dynamic(model)` returns a new model whose Embedding, Conv1D
# and Dense layers hold int8 weights (one scale per filter / unit / table
# row).  At inference time each input row is quantized on the fly with its
# own scale (*dynamic*), the product `int8 × int8` is summed exactly in
# int32 (a Numba kernel, `tinynlp.kernels.int8`; on a CPU with AVX-512
# VNNI, `tinynlp.kernels.int8_gemm` on weights packed once), and one multiplication
# by `s_row · s_channel` turns it back into float32.  Biases and activations
# stay float32.  The original model is untouched.

# %%
qmodel = C.quantize_dynamic(base)
print([type(layer).__name__ for layer in qmodel.layers])
n8, nf = C.int8_parameters(qmodel)
print(f"int8 values: {n8:,}   float32 values (scales, biases): {nf:,}")
q_acc = accuracy(qmodel)
p_float = base.predict(x_test, batch_size=256).reshape(-1)
p_int8 = qmodel.predict(x_test, batch_size=256).reshape(-1)
q_path = os.path.join(WORK, "int8.tnz")
qmodel.save(q_path, include_optimizer=False)
q_bytes = os.path.getsize(q_path)
print(f"test accuracy: float32 {base_acc:.4f}, int8 {q_acc:.4f}  (Δ {q_acc - base_acc:+.4f})")
print(f"max |p_float − p_int8| = {np.abs(p_float - p_int8).max():.4f};  "
      f"same predicted label for {np.mean((p_float > 0.5) == (p_int8 > 0.5)):.2%} of the test set")
print(f"checkpoint: float32 {kb(dense_bytes)}, int8 {kb(q_bytes)} "
      f"= {q_bytes / dense_bytes:.2f}× the float32 file")
reloaded = tn.models.load_model(q_path)
assert np.array_equal(reloaded.predict(x_test[:64]), qmodel.predict(x_test[:64]))
print("the int8 model saves and loads (same predictions after load_model)")

# %% [markdown]
# Not quite 4× smaller: the scales and biases stay float32, and the file
# holds the architecture.  `calibrate(qmodel, x_sample)` fixes the activation
# scales from sample data instead of measuring every row (*static*
# quantization), and `prepare_qat` / `strip_qat` fine-tune with the
# weights rounded in the forward pass (quantization-aware training, with a
# straight-through gradient).  Quantization and pruning combine:
# `quantize_dynamic` of a pruned model, saved with `save_pruned`, stores
# the int8 codes as CSR.
#
# Whether int8 is also *faster* depends on the kernel.  On a CPU with
# AVX-512 VNNI, tinynlp's int8 product runs `vpdpbusd` (64 byte products per
# instruction, against 16 float multiply-adds) on weights packed when the
# model is quantized, and the int8 model is faster than the float32 one;
# elsewhere it is a portable Numba loop and slower.  The report at the end
# measures latencies against PyTorch's `quantize_dynamic`.
#
# ## 3. Knowledge distillation
#
# A small model trained on the labels learns from one bit per sentence.  A
# trained teacher says more: *how* positive a sentence looks, and which
# wrong answers are plausible.  Hinton, Vinyals & Dean (2015) train the
# student on the teacher's probabilities, **softened** by a temperature
# `T`.  With teacher logits `t` and student logits `z`:
#
# $$p_T = \mathrm{softmax}(t/T), \qquad q_T = \mathrm{softmax}(z/T),$$
#
# $$L = \alpha\,\mathrm{CE}(y, \mathrm{softmax}(z)) + (1-\alpha)\,T^2\,
#   \mathrm{KL}(p_T \,\|\, q_T), \qquad
#   \mathrm{KL}(p\|q) = \sum_c p_c(\log p_c - \log q_c).$$
#
# * `T > 1` flattens the distributions, so the soft term also carries the
#   information in the small probabilities;
# * the gradient of the soft term with respect to a student logit is
#   `T·(q_T − p_T)` per sample — dividing the logits by `T` shrinks the
#   gradient by `1/T²` overall, and the factor `T²` undoes that, so `alpha`
#   keeps meaning the same thing whatever `T` is;
# * `alpha` mixes in the ordinary loss on the true labels.
#
# A sentiment model has one sigmoid output `p = σ(z)`; it is the two-class
# softmax of the logits `[0, z]`.  First the softening, on the teacher's
# outputs for five test sentences:

# %%
teacher_p = base.predict(x_test[:5]).reshape(-1)
print("teacher p(fresh):        ", np.round(teacher_p, 3))
for T in (1.0, 2.0, 4.0):
    soft = C.soft_targets(teacher_p, temperature=T)       # (5, 2): [1 − p_T, p_T]
    print(f"softened p_T(fresh), T={T:g}:", np.round(soft[:, 1], 3))

# %% [markdown]
# Now the loss by hand in NumPy, against `tn.compress.distillation_loss`,
# and the gradient `T·(q_T − p_T)/N` against backward (with `alpha = 0`,
# only the soft term):

# %%
rng = np.random.default_rng(0)
N, T, alpha = 8, 3.0, 0.4
t_logit = rng.normal(0, 2, N)                               # teacher logits
z_logit = rng.normal(0, 2, N)                               # student logits
y = (rng.random(N) > 0.5).astype(np.float64)


def two_class_softmax(logit, T):
    """softmax([0, z] / T) → columns [1 − p, p]."""
    p1 = 1.0 / (1.0 + np.exp(-logit / T))
    return np.stack([1 - p1, p1], axis=-1)


p_T, q_T = two_class_softmax(t_logit, T), two_class_softmax(z_logit, T)
kl = np.sum(p_T * (np.log(p_T) - np.log(q_T)), axis=-1).mean()
q1 = two_class_softmax(z_logit, 1.0)[:, 1]
ce = -np.mean(y * np.log(q1) + (1 - y) * np.log(1 - q1))
by_hand = alpha * ce + (1 - alpha) * T * T * kl
z = tn.tensor(z_logit[:, None], requires_grad=True)
lib = C.distillation_loss(y[:, None], z, t_logit[:, None], temperature=T, alpha=alpha,
                          from_logits=True)
print(f"by hand {by_hand:.10f}   distillation_loss {float(lib.data):.10f}")
assert abs(by_hand - float(lib.data)) < 1e-10

z = tn.tensor(z_logit[:, None], requires_grad=True)
C.distillation_loss(y[:, None], z, t_logit[:, None], temperature=T, alpha=0.0,
                    from_logits=True).backward()
expected = T * (q_T[:, 1] - p_T[:, 1]) / N
print("gradient of the soft term, max |backward − T(q_T − p_T)/N| =",
      f"{np.abs(z.grad[:, 0] - expected).max():.2e}")
assert np.allclose(z.grad[:, 0], expected, atol=1e-12)

# %% [markdown]
# ### A quarter-size student
#
# The student has the teacher's shape with a quarter of the embedding
# width and a quarter of the filters.  We train it twice from the *same*
# initial weights: once with `distill` (the teacher runs once over the
# training set; its outputs are constants), once on the labels alone.

# %%
S_DIM, S_FILTERS = DIM // 4, FILTERS // 4
tn.random.seed(1)
student = sentiment_model(S_DIM, S_FILTERS, name="student")
student(x_train[:2])
init = student.get_weights()
scratch = compiled(sentiment_model(S_DIM, S_FILTERS, name="scratch"))
scratch(x_train[:2])
scratch.set_weights(init)
print(f"teacher {base.count_params():,} parameters, student {student.count_params():,} "
      f"({student.count_params() / base.count_params():.2f}×)")

tn.random.seed(2)
hist = C.distill(base, student, x_train, y_train, temperature=2.0, alpha=0.5, epochs=EPOCHS,
                 batch_size=64, optimizer=tn.optimizers.Adam(learning_rate=1e-3), verbose=0)
tn.random.seed(2)
scratch.fit(x_train, y_train, epochs=EPOCHS, batch_size=64, verbose=0)
distilled_acc, scratch_acc = accuracy(student), accuracy(scratch)
print("distillation loss per epoch:", [round(v, 4) for v in hist.history["loss"]])
print(f"test accuracy: teacher {base_acc:.4f}   distilled student {distilled_acc:.4f}   "
      f"same student, no teacher {scratch_acc:.4f}")
agree_d = np.mean((student.predict(x_test, batch_size=256).reshape(-1) > 0.5) == (p_float > 0.5))
agree_s = np.mean((scratch.predict(x_test, batch_size=256).reshape(-1) > 0.5) == (p_float > 0.5))
print(f"agreement with the teacher's labels on the test set: distilled {agree_d:.2%}, "
      f"no teacher {agree_s:.2%}")

# %% [markdown]
# On a binary task the teacher has little "dark knowledge" to pass on (one
# number per sentence), so do not expect a large gap; on a test set of a
# couple of thousand sentences, differences of a few tenths of a percent are
# within the noise of the random seed.  `DistillationLoss` is the same loss
# as a `compile(loss=...)` object, for when you would rather call `fit`.
#
# ## 4. Model splitting
#
# A model that does not fit in memory (or that you only need part of) can
# be **sharded**: `save_sharded` packs the weights, in order, into `.npy`
# files of at most `max_shard_size` bytes (a weight larger than that gets a
# shard of its own) and writes `index.json` — the architecture, and for
# every weight its shard, byte offset, dtype and shape.

# %%
shard_dir = os.path.join(WORK, "sharded")
max_shard = "100kB" if QUICK else "1MB"
index_path = C.save_sharded(base, shard_dir, max_shard_size=max_shard)
print(f"max_shard_size={max_shard}:")
for f in sorted(os.listdir(shard_dir)):
    print(f"  {f:<28} {kb(os.path.getsize(os.path.join(shard_dir, f))):>10}")
with open(index_path, encoding="utf-8") as fh:
    index = json.load(fh)
print("index.json keys:", sorted(index))
for entry in index["weights"]:
    print("  ", entry)

# %% [markdown]
# `load_sharded(folder, lazy=True)` reads only the index.  It memory-maps
# the shards (copy-on-write, so the files are never modified), and a layer
# takes its weights when it first runs; the operating system reads the
# pages the computation touches.  `model.sharded_checkpoint.loaded` lists
# the weights handed out so far:

# %%
lazy = C.load_sharded(shard_dir, lazy=True)
print("weights read after load_sharded:", lazy.sharded_checkpoint.loaded)
x_batch = x_test[:32]
with tn.no_grad():
    y_lazy = lazy(x_batch, training=False).data
print("weights read after one forward pass:", lazy.sharded_checkpoint.loaded)
print("embedding table backed by a memory map:",
      isinstance(lazy.layers[0].embeddings.data.base, np.memmap)
      or isinstance(lazy.layers[0].embeddings.data, np.memmap))
# The lazy model's first pass ran its layers one by one, each taking its weights as
# it ran; `predict` on the built model runs the Embedding and the Conv1D as one op
# (`F.conv1d_lookup`: the same products, summed in another order), so the two agree
# to float32 rounding rather than bit for bit.
assert np.allclose(y_lazy, base.predict(x_batch), atol=1e-6)

# %% [markdown]
# For a `Sequential` model, `layer_by_layer_predict(folder, x)` goes
# further: it creates one layer, reads its weights, runs it on the whole
# input, and drops it before creating the next, so only one layer's
# weights (plus the activations) are ever in memory.
#
# `peak_memory(fn)` runs `fn` under `tracemalloc` and returns the peak of
# NumPy and Python allocations (memory-mapped pages are not allocations:
# they belong to the page cache and can be dropped at any time).  Loading
# the checkpoint and predicting one batch, four ways:

# %%
y_lbl = C.layer_by_layer_predict(shard_dir, x_batch)
assert np.allclose(y_lbl, y_lazy, atol=1e-6)


def load_and_run(loader):
    def run():
        model = loader()
        with tn.no_grad():
            return model(x_batch, training=False).data
    return run


ways = {
    "load_model (.tnz)": load_and_run(lambda: tn.models.load_model(dense_path)),
    "load_sharded(lazy=False)": load_and_run(lambda: C.load_sharded(shard_dir, lazy=False)),
    "load_sharded(lazy=True)": load_and_run(lambda: C.load_sharded(shard_dir, lazy=True)),
    "layer_by_layer_predict": lambda: C.layer_by_layer_predict(shard_dir, x_batch),
}
peaks = {}
for name, fn in ways.items():
    out, peaks[name] = C.peak_memory(fn)
    assert np.allclose(np.asarray(out).reshape(-1), y_lazy.reshape(-1), atol=1e-6)
largest = max(w.data.nbytes for w in base.weights)
total = sum(w.data.nbytes for w in base.weights)
print(f"all weights: {kb(total)};  the largest single weight: {kb(largest)}")
for name, peak in peaks.items():
    print(f"  {name:<26} peak {kb(peak):>10}  ({peak / peaks['load_model (.tnz)']:.2f}× load_model)")

fig, ax = plt.subplots(figsize=(6, 3))
ax.barh(list(peaks)[::-1], [v / 1e3 for v in list(peaks.values())[::-1]], color="tab:blue")
ax.axvline(total / 1e3, color="gray", ls="--", lw=1, label="all weights")
ax.set_xlabel("peak allocated memory (kB), load + one batch of 32")
ax.legend(fontsize=8)
fig.tight_layout()
print("saved", tn.plot.save(fig, OUT / "12_peak_memory.png"))

# %% [markdown]
# What the peaks count: `load_model` reads the compressed checkpoint into
# memory and builds the model from it (buffers and weights, briefly side by
# side); `lazy=False` copies each weight out of the shards once; with
# `lazy=True` the weights stay in the page cache and only the activations
# (and small temporaries) are allocations.  `layer_by_layer_predict` copies
# one layer's weights at a time into memory, so its peak is bounded below
# by the largest layer — here the embedding table, which holds nearly all
# the parameters.  Layer by layer pays off when the layers are of similar
# size and the whole model would not fit; memory-mapping pays off whenever
# the operating system may keep the file pages out of your process's count.
#
# The index is checked before anything is read.  It carries a CRC-32 of
# itself and of every shard, so a damaged file is an error rather than a
# different model.  A checksum detects damage, not tampering (anyone can
# recompute it), so every field is checked as well: a shard named outside
# the folder, a missing shard or a shard of the wrong size fails with a
# `ShardError` that names the weight and the file.  For example, an index
# edited to point one weight at `../elsewhere.npy`, first by hand, then with
# its checksum recomputed (`tinynlp.integrity.seal`), as an attacker would:

# %%
bad_dir = os.path.join(WORK, "tampered")
shutil.copytree(shard_dir, bad_dir)
with open(os.path.join(bad_dir, "index.json"), encoding="utf-8") as fh:
    bad = json.load(fh)
bad["weights"][0]["shard"] = "../elsewhere.npy"
for document in (bad, seal(bad)):
    with open(os.path.join(bad_dir, "index.json"), "w", encoding="utf-8") as fh:
        json.dump(document, fh)
    try:
        C.load_sharded(bad_dir)
        raise AssertionError("a shard outside the folder was accepted")
    except C.ShardError as e:
        print("ShardError:", e)

# %% [markdown]
# ## The whole picture: `benchmarks/compression_report.py`
#
# The report script trains the same kind of model on the full data and
# measures every variant side by side — parameters, bytes on disk, test
# accuracy, latency per batch and peak memory — for float32, pruned
# 50 / 80 / 90 % with and without fine-tuning, int8 dynamic and static,
# int8 + pruned, and a distilled student, plus int8 speed against PyTorch:
#
#     python benchmarks/compression_report.py
#
# It writes `benchmarks/compression_results.md`; here is that file as it
# stands in the repository (re-run the script to refresh it on your machine):


# %%
def find_repo_file(relative):
    roots = []
    if "__file__" in globals():
        roots.append(Path(__file__).resolve().parents[1])
    roots += [Path(tn.__file__).resolve().parents[1], Path.cwd(), *Path.cwd().parents]
    for root in roots:
        if (root / relative).is_file():
            return root / relative
    return None


results_md = find_repo_file("benchmarks/compression_results.md")
if results_md is None:
    print("benchmarks/compression_results.md not found: run "
          "`python benchmarks/compression_report.py` from the repository to create it")
else:
    print(results_md.read_text(encoding="utf-8"))

shutil.rmtree(WORK, ignore_errors=True)
