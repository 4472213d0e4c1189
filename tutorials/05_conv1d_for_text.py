# %% [markdown]
# # 05 — 1-D convolution for text
#
# A 1-D convolution slides a small kernel along a sequence and computes, at
# every position, a weighted sum of the K inputs under it. For text, the
# sequence is a sentence of word vectors, and each filter becomes an
# *n-gram detector*. The textbook formula is
#
# `z_i = Σ_{k=1}^{K} x_{i−k+1} · w_k + b`,   `h_i = σ(z_i)`
#
# Look at the index: `x_{i−k+1}` — as k goes up, we step *backwards* through
# the input. That is a true **convolution** (the kernel is flipped). Deep-
# learning frameworks (PyTorch, Keras, and tinynlp) compute
# **cross-correlation** instead, `z_i = Σ_k x_{i+k−1} · w_k + b`, which steps
# forwards. Since the kernel is learned, the two are equally powerful — one is
# the other with the kernel reversed — but weights copied between a
# "convolution" and a "cross-correlation" implementation must be flipped.

# %%
import os
from pathlib import Path

import numpy as np

import tinynlp as tn
from tinynlp import functional as F

QUICK = os.environ.get("TINYNLP_QUICK") == "1"
# Figures (and any file a tutorial writes) go to one git-ignored folder,
# tutorials/output/ (or $TINYNLP_TUTORIAL_OUT), never the current directory; opened
# as a notebook, the figures also show under their cells.
OUT = Path(os.environ.get("TINYNLP_TUTORIAL_OUT")
           or (Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd())
           / "output")
tn.random.seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## The two formulas on a toy signal (1 channel, 1 filter)
#
# With 1-based indices, the true convolution is defined for `i = K … L`
# (so that every `x_{i−k+1}` exists): `L − K + 1` outputs, the "valid" mode.

# %%
x = np.array([1.0, 2.0, 0.0, -1.0, 3.0, 1.0])
w = np.array([1.0, 0.0, -2.0])               # asymmetric, so the order matters
L, K = len(x), len(w)

# the seed's formula, literally (shift to 0-based only when indexing)
conv = np.array([sum(x[(i - k + 1) - 1] * w[k - 1] for k in range(1, K + 1))
                 for i in range(K, L + 1)])
# cross-correlation: the window starting at i, read forwards
xcorr = np.array([sum(x[i + k] * w[k] for k in range(K)) for i in range(L - K + 1)])
print("true convolution     :", conv, "  (np.convolve:", np.convolve(x, w, "valid"), ")")
print("cross-correlation    :", xcorr, "  (np.correlate:", np.correlate(x, w, "valid"), ")")
xcorr_flipped = np.array([sum(x[i + k] * w[::-1][k] for k in range(K))
                          for i in range(L - K + 1)])
print("xcorr, kernel flipped:", xcorr_flipped)
assert np.allclose(conv, np.convolve(x, w, "valid"))
assert not np.allclose(conv, xcorr)
assert np.allclose(conv, xcorr_flipped)

# %% [markdown]
# ## The same in tinynlp, with channels
#
# tinynlp's tensors are channels-last: `x` is `(batch, length, channels)`,
# the kernel `w` is `(K, channels, filters)`, and each `x_j · w_k` is a
# vector–matrix product (channels → filters).
# `F.conv1d_flipped_reference` is the seed formula as a loop;
# `F.conv1d` is the fast cross-correlation (im2col + one matrix product).

# %%
B, L, C, Fn, K = 2, 9, 4, 3, 3
xb = rng.standard_normal((B, L, C))
wb = rng.standard_normal((K, C, Fn))
bb = rng.standard_normal(Fn)
z_flipped = F.conv1d_flipped_reference(tn.tensor(xb), tn.tensor(wb), tn.tensor(bb))
z_xcorr = F.conv1d(tn.tensor(xb), tn.tensor(wb), tn.tensor(bb))
z_xcorr_rev = F.conv1d(tn.tensor(xb), tn.tensor(wb[::-1].copy()), tn.tensor(bb))
print("output shape", z_flipped.shape)
print("max |flipped formula - conv1d(w)|       =", np.abs(z_flipped.data - z_xcorr.data).max())
print("max |flipped formula - conv1d(w[::-1])| =",
      np.abs(z_flipped.data - z_xcorr_rev.data).max())
assert np.allclose(z_flipped.data, z_xcorr_rev.data)

# %% [markdown]
# ## Convolution is a dense layer applied to every window
#
# Cut the input into overlapping windows of K steps, flatten each to a
# vector of `K·C` numbers, and multiply by the kernel reshaped to
# `(K·C, filters)`: that is the whole computation (the "im2col" trick, and
# why conv1d is fast: one big matrix product).

# %%
windows = np.stack([xb[:, i:i + K].reshape(B, K * C) for i in range(L - K + 1)], axis=1)
z_dense = windows @ wb.reshape(K * C, Fn) + bb
print("max |im2col @ W - conv1d| =", np.abs(z_dense - z_xcorr.data).max())
assert np.allclose(z_dense, z_xcorr.data)

# %% [markdown]
# The gradient of cross-correlation is, fittingly, a convolution: each input
# step receives the output gradients of every window that covered it,
# weighted by the kernel read backwards. `F.conv1d` has that backward written
# by hand; gradcheck confirms it.

# %%
params = [tn.tensor(a, requires_grad=True) for a in (xb, wb, bb)]
ok = tn.gradcheck(lambda a, b_, c_: F.conv1d(a, b_, c_, padding="same"), params)
print("gradcheck conv1d (same padding):", ok)
assert ok

# %% [markdown]
# ## Padding modes
#
# * `"valid"`: only windows fully inside the sequence, `L − K + 1` outputs.
# * `"same"`: zeros added on both sides so there are `L` outputs (with
#   stride 1); output i is centred on input i.
# * `"causal"`: `K − 1` zeros on the *left* only, so output i sees inputs
#   `≤ i` — what a language model needs (no peeking at the future).
#
# We check "causal" with autograd: the gradient of output 4 with respect to
# the input is non-zero only at steps 2, 3, 4.

# %%
for mode in ["valid", "same", "causal"]:
    out = F.conv1d(tn.tensor(xb), tn.tensor(wb), padding=mode)
    print(f"{mode:6s}: length {L} -> {out.shape[1]}")

xin = tn.tensor(xb, requires_grad=True)
F.conv1d(xin, tn.tensor(wb), padding="causal")[:, 4].sum().backward()
touched = np.nonzero(np.abs(xin.grad).sum(axis=(0, 2)))[0]
print("causal output 4 depends on input steps", touched.tolist())
assert touched.tolist() == [2, 3, 4]
xin.zero_grad()
F.conv1d(xin, tn.tensor(wb), padding="same")[:, 4].sum().backward()
touched_same = np.nonzero(np.abs(xin.grad).sum(axis=(0, 2)))[0]
print("same   output 4 depends on input steps", touched_same.tolist())

# %% [markdown]
# ## A small text CNN on movie reviews
#
# Rotten Tomatoes critic snippets, fresh (1) or rotten (0). Words → ids with
# the Keras-style `Tokenizer`, padded to a fixed length; an `Embedding`, a
# `Conv1D` with 64 filters of width 3 (trigram detectors), **max-over-time
# pooling** (each filter keeps its strongest match anywhere in the
# sentence), and a sigmoid unit.

# %%
(x_train_text, y_train), (x_test_text, y_test) = tn.datasets.load_rotten_tomatoes()
if QUICK:
    x_train_text, y_train = x_train_text[:2000], y_train[:2000]
    x_test_text, y_test = x_test_text[:500], y_test[:500]
vocab_size, maxlen = 10000, 40
tok = tn.text.Tokenizer(num_words=vocab_size, oov_token="<unk>")
tok.fit_on_texts(x_train_text)
x_train = tn.text.pad_sequences(tok.texts_to_sequences(x_train_text), maxlen=maxlen)
x_test = tn.text.pad_sequences(tok.texts_to_sequences(x_test_text), maxlen=maxlen)
print("train", x_train.shape, "test", x_test.shape)

model = tn.Sequential([
    tn.layers.Embedding(vocab_size, 64),
    tn.layers.Conv1D(64, 3, activation="relu"),
    tn.layers.GlobalMaxPooling1D(),
    tn.layers.Dropout(0.5),
    tn.layers.Dense(1, activation="sigmoid"),
])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(x_train, y_train, epochs=2 if QUICK else 4, batch_size=64,
                    validation_split=0.1, verbose=0)
loss, acc = model.evaluate(x_test, y_test, verbose=0)
majority = max(y_test.mean(), 1 - y_test.mean())
print(f"text CNN test accuracy {acc:.3f}   (majority class: {majority:.3f})")
if not QUICK:
    assert acc > majority + 0.05

# %% [markdown]
# ## What does a filter detect?
#
# For one filter, find the test trigrams that excite it most (the position
# where its max-pool picks the value).

# %%
emb_layer, conv_layer = model.layers[0], model.layers[1]
with tn.no_grad():
    feats = conv_layer(emb_layer(x_test)).data           # (N, L-2, 64)
out_w = model.layers[-1].get_weights()[0][:, 0]
for f in [int(np.argmax(out_w)), int(np.argmin(out_w))]:
    best = np.argsort(feats[:, :, f].max(axis=1))[-5:][::-1]
    grams = []
    for n in best:
        pos = int(feats[n, :, f].argmax())
        grams.append(" ".join(tok.index_word.get(int(i), "_") for i in x_test[n, pos:pos + 3]))
    sign = "fresh" if out_w[f] > 0 else "rotten"
    print(f"filter {f} (pushes towards {sign}):", " | ".join(grams))

tn.plot.history(history, path=OUT / "05_text_cnn_history.png")
print("saved", OUT / "05_text_cnn_history.png")
