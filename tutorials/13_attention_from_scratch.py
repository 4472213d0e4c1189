# %% [markdown]
# # 13 — Attention from scratch
#
# Every model so far read a text in order: an RNN one step after another, a
# CNN through a sliding window. **Attention** lets every position look at
# every other position directly and decide, from the data, which ones matter.
# It is the core of the Transformer, and so of every "large language model".
#
# We build it up from one query and three keys, by hand in NumPy, checking
# each step against the engine:
#
# 1. one query against a few keys: dot products, softmax, a weighted average;
# 2. masks — padding and causal — and what a row with nothing to attend to gives;
# 3. several heads are just a reshape;
# 4. attention alone ignores word order (shuffle the tokens and the outputs are
#    shuffled the same way), so positions must be added;
# 5. a Transformer block: attention + a feed-forward layer, residuals, LayerNorm;
# 6. a tiny GPT trained on Shakespeare's characters, and its samples;
# 7. a heat map of what one of its trained heads attends to.

# %%
import os
from pathlib import Path

import numpy as np

import tinynlp as tn
from tinynlp import functional as F
from tinynlp.tasks.language_model import WindowBatches, window_perplexity

QUICK = os.environ.get("TINYNLP_QUICK") == "1"
# Figures (and any file a tutorial writes) go to one git-ignored folder,
# tutorials/output/ (or $TINYNLP_TUTORIAL_OUT), never the current directory; opened
# as a notebook, the figures also show under their cells.
OUT = Path(os.environ.get("TINYNLP_TUTORIAL_OUT")
           or (Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd())
           / "output")
tn.random.seed(0)
rng = np.random.default_rng(0)
np.set_printoptions(precision=3, suppress=True)

# %% [markdown]
# ## 1. One query against a few keys
#
# A **query** vector `q` asks a question; every position offers a **key** `k_j`
# (what it is about) and a **value** `v_j` (what it will hand over). The match
# of `q` with each key is a dot product, scaled by `1/√d`; a softmax turns the
# scores into weights that are positive and sum to 1; the answer is the
# weighted average of the values:
#
#     s_j = q · k_j / √d,     a = softmax(s),     out = Σ_j a_j v_j

# %%
q = np.array([1.0, 0.0, 1.0, 0.0])
K = np.array([[1.0, 0.0, 1.0, 0.0],     # the same direction as q
              [0.0, 1.0, 0.0, 1.0],     # orthogonal to q
              [1.0, 0.0, 0.0, 0.0]])    # half-way
V = np.array([[10.0, 0.0],
              [0.0, 10.0],
              [5.0, 5.0]])
d = q.shape[0]
scores = K @ q / np.sqrt(d)
weights = np.exp(scores - scores.max())
weights /= weights.sum()
out = weights @ V
print("scores ", scores)
print("weights", weights, "sum", weights.sum())
print("output ", out)

# the engine's op: (..., T_query, d) queries against (..., T_key, d) keys
engine = F.scaled_dot_product_attention(tn.tensor(q[None]), tn.tensor(K), tn.tensor(V))
print("F.scaled_dot_product_attention:", engine.data[0])
assert np.allclose(engine.data[0], out)

# %% [markdown]
# Why divide by `√d`? With random unit-variance entries, `q · k` is a sum of `d`
# products: its variance grows like `d`. Unscaled, long vectors give huge scores
# and the softmax collapses onto one key (and its gradient vanishes); scaled,
# the scores keep a variance near 1 whatever `d` is.

# %%
for dim in (4, 64, 512):
    qs, ks = rng.standard_normal((2000, dim)), rng.standard_normal((2000, dim))
    dots = (qs * ks).sum(axis=1)
    scaled = dots / np.sqrt(dim)
    print(f"d = {dim:3d}: std of q·k {dots.std():6.2f},   of q·k/√d {scaled.std():.2f}")

# %% [markdown]
# ## 2. Softmax and masks
#
# In **self-attention** the queries, keys and values all come from the same
# tokens: every token asks every token. Two masks say who may look at whom
# (`True` = may attend, PyTorch's convention):
#
# * a **padding mask** hides the `<pad>` positions that fill a short sentence
#   up to the batch length — no real token should take information from them;
# * a **causal mask** lets token `t` see only tokens `≤ t` — a language model
#   predicting the next token must not peek at it.
#
# A masked score becomes `−∞` before the softmax, so its weight is exactly 0.

# %%
tokens = ["the", "cat", "sat", "<pad>", "<pad>"]
T, d = len(tokens), 8
x = rng.standard_normal((T, d))
real = np.array([t != "<pad>" for t in tokens])
padding = np.broadcast_to(real[None, :], (T, T))        # keys that are real
causal = np.tril(np.ones((T, T), dtype=bool))           # key position ≤ query position
both = padding & causal


def attention_weights(q, k, allowed):
    s = q @ k.T / np.sqrt(q.shape[-1])
    s = np.where(allowed, s, -np.inf)
    w = np.exp(s - s.max(axis=-1, keepdims=True))
    return w / w.sum(axis=-1, keepdims=True)


W = attention_weights(x, x, both)
print("padding + causal weights (rows: queries, columns: keys)\n", W)
out = F.scaled_dot_product_attention(tn.tensor(x), tn.tensor(x), tn.tensor(x), mask=both)
assert np.allclose(out.data, W @ x)
fig = tn.plot.attention_heatmap(W, tokens, tokens, path=OUT / "13_masks.png",
                                title="self-attention with a padding and a causal mask")

# %% [markdown]
# The padded *queries* (the last two rows) still get an answer — it is ignored
# later (the loss skips padded positions). But what if a query may attend to
# *nothing* — say a padded query under a mask that also hides it from itself?
# Done naively, the softmax of a row of `−∞` is `0/0 = NaN`, and one NaN spreads
# through the whole batch at the next step. tinynlp defines that row's output
# as zeros (what a padded position should carry) and its gradient as zero.

# %%
nothing = both.copy()
nothing[4, :] = False                                   # query 4 may attend to no key
with np.errstate(invalid="ignore"):
    print("naive softmax of an all-masked row:", attention_weights(x, x, nothing)[4])
safe = F.scaled_dot_product_attention(tn.tensor(x), tn.tensor(x), tn.tensor(x), mask=nothing)
print("F.scaled_dot_product_attention, that row:", safe.data[4])
assert np.all(safe.data[4] == 0.0) and np.isfinite(safe.data).all()

# %% [markdown]
# ## 3. Several heads are a reshape
#
# One attention computes one kind of match. **Multi-head attention** runs `h`
# of them side by side, each on its own `d/h`-dimensional projection, and
# concatenates the results. Nothing is looped over: the projection `x W_q`
# of shape `(B, T, d)` is reshaped to `(B, T, h, d/h)` and transposed to
# `(B, h, T, d/h)`, so that the heads become a batch axis of the same
# `F.scaled_dot_product_attention`; the answer goes back the same way and
# through an output projection `W_o`.
#
# Keras stores exactly that reshape in its weights: the query kernel of
# `MultiHeadAttention` has shape `(d, heads, key_dim)`, the output kernel
# `(heads, key_dim, d)`.

# %%
B, T, d, h = 2, 5, 8, 2
dh = d // h
x = rng.standard_normal((B, T, d))
Wq, Wk, Wv = (rng.standard_normal((d, d)) / np.sqrt(d) for _ in range(3))
Wo = rng.standard_normal((d, d)) / np.sqrt(d)


def split_heads(a):                       # (B, T, h·dh) → (B, h, T, dh)
    return a.reshape(a.shape[0], a.shape[1], h, dh).transpose(0, 2, 1, 3)


def merge_heads(a):                       # (B, h, T, dh) → (B, T, h·dh)
    return a.transpose(0, 2, 1, 3).reshape(a.shape[0], a.shape[2], h * dh)


Q, Kh, Vh = split_heads(x @ Wq), split_heads(x @ Wk), split_heads(x @ Wv)
heads = F.scaled_dot_product_attention(tn.tensor(Q), tn.tensor(Kh), tn.tensor(Vh)).data
by_hand = merge_heads(heads) @ Wo
print("per-head output", heads.shape, "→ merged and projected", by_hand.shape)

mha = tn.layers.MultiHeadAttention(num_heads=h, key_dim=dh, dtype="float64")
mha(x, x)                                 # build the weights
zeros = np.zeros((h, dh))
mha.set_weights([Wq.reshape(d, h, dh), zeros, Wk.reshape(d, h, dh), zeros,
                 Wv.reshape(d, h, dh), zeros, Wo.reshape(h, dh, d), np.zeros(d)])
print("tn.layers.MultiHeadAttention weights:", [w.shape for w in mha.get_weights()])
assert np.allclose(mha(x, x).data, by_hand)

# %% [markdown]
# ## 4. Attention does not know the order of the words
#
# Nothing in `softmax(QKᵀ/√d) V` refers to positions: shuffle the input tokens
# and every query finds the same keys with the same scores, just in other
# places. The outputs come out shuffled the same way — self-attention is
# *permutation-equivariant*. "dog bites man" and "man bites dog" would be the
# same bag of vectors.

# %%
perm = np.array([3, 0, 4, 1, 2])
out = mha(x, x).data
out_shuffled = mha(x[:, perm], x[:, perm]).data
print("max |attn(shuffled x) − shuffled attn(x)| =", np.abs(out_shuffled - out[:, perm]).max())
assert np.allclose(out_shuffled, out[:, perm])

# %% [markdown]
# The fix: add to each token's vector a vector that depends on its
# **position**. The 2017 paper used fixed sines and cosines of geometrically
# spaced wavelengths (`SinePositionEncoding`); GPT learns one vector per
# position (`PositionEmbedding`, capped at `sequence_length`):
#
#     θ_{t,i} = t · 10000^(−2⌊i/2⌋ / d),   PE_{t,i} = sin θ (i even), cos θ (i odd)
#
# With positions added, the shuffled sentence is a different input — the
# equivariance is gone, as it should be.

# %%
t = np.arange(T)[:, None]
i = np.arange(d)[None, :]
theta = t * 10000.0 ** (-2 * (i // 2) / d)
pe = np.where(i % 2 == 0, np.sin(theta), np.cos(theta))
engine_pe = tn.layers.SinePositionEncoding(dtype="float64")(x).data[0]
assert np.allclose(pe, engine_pe)
with_pos = mha(x + pe, x + pe).data
shuffled_with_pos = mha(x[:, perm] + pe, x[:, perm] + pe).data
gap = np.abs(shuffled_with_pos - with_pos[:, perm]).max()
print(f"with positions: max |attn(shuffled) − shuffled attn| = {gap:.3f}")
assert gap > 1e-3

# %% [markdown]
# ## 5. A Transformer block
#
# A block is attention followed by a small two-layer network applied to every
# position separately, each wrapped in a **residual** connection and a
# **LayerNorm**. GPT-2 normalises *before* each sub-layer (pre-LN,
# `normalize_first=True`), which trains stably without tricks:
#
#     x = x + MHA(LN₁(x))                    (causal in a decoder)
#     x = x + W₂ σ(W₁ LN₂(x) + b₁) + b₂
#
# We write it with the helpers above and the weights of a
# `tn.layers.TransformerDecoder`, which come as plain arrays in KerasHub's
# order: self-attention (8), its LayerNorm (2), the two Dense layers (2 + 2),
# the feed-forward LayerNorm (2).


# %%
def layer_norm(a, gamma, beta, eps=1e-5):
    mu, var = a.mean(axis=-1, keepdims=True), a.var(axis=-1, keepdims=True)
    return (a - mu) / np.sqrt(var + eps) * gamma + beta


def attention_by_hand(a, ws, causal):
    wq, bq, wk, bk, wv, bv, wo, bo = ws
    n_heads, key_dim = wq.shape[1:]
    q = np.einsum("btd,dhk->bhtk", a, wq) + bq[:, None]
    k = np.einsum("btd,dhk->bhtk", a, wk) + bk[:, None]
    v = np.einsum("btd,dhk->bhtk", a, wv) + bv[:, None]
    s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(key_dim)
    if causal:
        s = np.where(np.tril(np.ones(s.shape[-2:], bool)), s, -np.inf)
    w = np.exp(s - s.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    return np.einsum("bhtk,hkd->btd", w @ v, wo) + bo, w


def gelu(a):
    from math import erf
    return 0.5 * a * (1.0 + np.vectorize(erf)(a / np.sqrt(2.0)))


def decoder_block_by_hand(a, ws, act):
    attn, _ = attention_by_hand(layer_norm(a, *ws[8:10]), ws[:8], causal=True)
    a = a + attn
    w1, b1, w2, b2, g2, be2 = ws[10:16]
    return a + act(layer_norm(a, g2, be2) @ w1 + b1) @ w2 + b2


block = tn.layers.TransformerDecoder(intermediate_dim=32, num_heads=2, activation="gelu",
                                     normalize_first=True, dtype="float64")
y = block(x).data
ws = block.get_weights()
print("TransformerDecoder weights:", [w.shape for w in ws])
assert np.allclose(decoder_block_by_hand(x, ws, gelu), y)
print("the block by hand equals tn.layers.TransformerDecoder")

# %% [markdown]
# ## 6. A tiny GPT on Shakespeare
#
# Stack a few blocks between a token + position embedding and a projection
# back onto the vocabulary (tied to the embedding), and train it to predict
# the next character at every position of random windows of the text:
# that is `tn.models.GPT`. Training uses AdamW with a short linear warm-up and
# a cosine decay of the learning rate.

# %%
train_text, test_text = tn.datasets.load_shakespeare()
if QUICK:
    train_text, test_text = train_text[:20000], test_text[:2000]
vocab = tn.text.Vocab.build([list(train_text)])
train_ids = np.array(vocab.encode(list(train_text)))
test_ids = np.array(vocab.encode(list(test_text)))
n_val = len(train_ids) // 50
fit_ids, val_ids = train_ids[:-n_val], train_ids[-n_val:]

context, batch = (32, 16) if QUICK else (64, 32)
steps = 40 if QUICK else 1500
batches = WindowBatches(fit_ids, seq_len=context, batch_size=batch,
                        tokens_per_epoch=steps * context * batch)
gpt = tn.models.GPT(vocab_size=len(vocab), sequence_length=context, num_layers=2,
                    num_heads=4, hidden_dim=32 if QUICK else 64,
                    intermediate_dim=128 if QUICK else 256)
schedule = tn.optimizers.schedules.LinearWarmup(
    tn.optimizers.schedules.CosineDecay(3e-3, steps - steps // 20, alpha=0.1), steps // 20)
gpt.compile(optimizer=tn.optimizers.AdamW(schedule, weight_decay=0.01, clipnorm=1.0),
            loss=tn.losses.SparseCategoricalCrossentropy(from_logits=True))
val = val_ids[:(len(val_ids) - 1) // context * context + 1]
history = gpt.fit(batches, epochs=1, validation_data=(val[:-1].reshape(-1, context),
                                                      val[1:].reshape(-1, context)), verbose=0)
print(f"{gpt.count_params():,} parameters, {steps} steps of {batch}×{context} characters; "
      f"validation loss {history.history['val_loss'][-1]:.3f} nats per character")

# %% [markdown]
# The test perplexity — `exp` of the mean negative log-likelihood per
# character — beside a unigram model that ignores the context. A window that
# slides by half its length gives every prediction at least half a window of
# context (`window_perplexity`).

# %%
ppl, nll, n = window_perplexity(gpt, test_ids, streams=4 if QUICK else 16)
counts = np.bincount(train_ids, minlength=len(vocab)) + 1.0
unigram = np.exp(-np.log(counts / counts.sum())[test_ids[1:]].mean())
print(f"test perplexity {ppl:.2f} on {n} characters   (unigram: {unigram:.2f})")

# %% [markdown]
# Generating: the prompt is read once, then each new character costs one step
# over **cached** keys and values (a KV cache per block) instead of re-reading
# the whole prefix. Both give the same text; temperature and top-k set how
# adventurous the samples are.

# %%
prompt = vocab.encode(list("ROMEO:\n"))
greedy = gpt.generate(prompt, 40, top_k=1)
assert np.array_equal(greedy, gpt.generate(prompt, 40, top_k=1, use_cache=False))
for temperature in (0.5, 1.0):
    ids = gpt.generate(prompt, 150 if not QUICK else 40, temperature=temperature, top_k=20,
                       seed=1, suppress_tokens=[vocab.pad_id, vocab.unk_id])
    print(f"--- temperature {temperature}:\n" + "".join(vocab.decode(ids)) + "\n")

# %% [markdown]
# ## 7. What a trained head looks at
#
# The weights of the first block are plain arrays, so its attention can be
# recomputed for any text: embed the characters, apply the block's first
# LayerNorm and its attention by hand (checking the whole block against the
# model's own `gpt.blocks[0]`), and draw each head's weights. Rows are the
# characters asking, columns the earlier characters they look at; the causal
# mask leaves the upper triangle empty. Some heads look mostly at the previous
# character or two (what an n-gram model would do); others spread out, e.g.
# back to the start of a word or line.

# %%
text = "ROMEO:\nWhat, shall this speech be spoke"[:context]
ids = np.array([vocab.encode(list(text))])
xe = gpt.embedding(ids).data.astype(np.float64)
ws = [w.astype(np.float64) for w in gpt.blocks[0].get_weights()]
assert np.allclose(decoder_block_by_hand(xe, ws, gelu), gpt.blocks[0](xe.astype(np.float32)).data,
                   atol=1e-4)
_, head_weights = attention_by_hand(layer_norm(xe, *ws[8:10]), ws[:8], causal=True)
previous = [np.diagonal(head_weights[0, k], offset=-1).mean() for k in range(gpt.num_heads)]
print("mean weight on the previous character, per head:", np.round(previous, 2))
labels = [repr(c)[1:-1] for c in text]
fig = tn.plot.attention_heatmap(head_weights[0], labels, labels,
                                path=OUT / "13_gpt_attention.png",
                                title="block 0 of the tiny GPT: each head's attention")

# %% [markdown]
# ## What to take away
#
# * Attention is `softmax(QKᵀ/√d + mask) V`: a differentiable lookup in which
#   every position chooses, from the data, where to read.
# * Masks are additive `−∞` (or boolean) on the scores; a row with nothing to
#   attend to must be defined (tinynlp: zeros), not left to give NaN.
# * Heads are a reshape; positions must be added, because attention itself is
#   blind to order.
# * A Transformer block is attention + a position-wise MLP, each with a residual
#   and a LayerNorm; a GPT is a stack of causal blocks trained to predict the
#   next token, and a KV cache makes generating one token cost one step.
#
# Next: `tinynlp train lm --model gpt` trains a bigger one on all of
# Shakespeare, and `tinynlp train translate --model transformer` an
# encoder–decoder with cross-attention; their results sit beside the LSTMs' in
# the README's task table.
