# %% [markdown]
# # 02 — The dense layer `σ(Wx + b)` and checking gradients
#
# The dense (fully connected) layer is the workhorse of every network in this
# course: an embedding lookup is one, the output of an RNN goes through one, and
# the classifier at the end of a CNN is one. We go from the formula, to
# NumPy, to tinynlp's `F.dense`, check its gradient numerically, and finally
# train a tiny classifier with it.
#
# Set `TINYNLP_QUICK=1` for a fast run (the test suite does).

# %%
import os
from pathlib import Path

import numpy as np

import tinynlp as tn
from tinynlp import functional as F
from tinynlp.autograd.tensor import Function

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
# ## The formula
#
# For one input column vector `x` (n features), a weight matrix `W` (m × n) and
# a bias `b` (m), the layer computes `h = σ(W x + b)` where σ is applied
# element by element (sigmoid, tanh, relu, ...).
#
# In code we process a **batch** of inputs at once, stored as the *rows* of a
# matrix `X` (batch × n). Transposing the formula gives the row form
# `H = σ(X Wᵀ + b)`. Keras (and tinynlp) store the weight already transposed,
# shape `(in, out)`, so the code reads `σ(X @ W + b)`. Same layer, different
# bookkeeping.

# %%
def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


x = rng.standard_normal(3)            # one example, 3 features
W_math = rng.standard_normal((2, 3))  # the textbook (out, in) matrix
b = rng.standard_normal(2)
h_column = sigmoid(W_math @ x + b)    # σ(Wx + b)

X = np.stack([x, rng.standard_normal(3)])   # a batch of 2 rows
W = W_math.T                                # Keras layout (in, out)
H = sigmoid(X @ W + b)                      # σ(XW + b), row form
print("column form, first example:", h_column)
print("row form, first row:       ", H[0])
assert np.allclose(h_column, H[0])

# %% [markdown]
# ## tinynlp's `F.dense`
#
# `F.dense(x, W, b, activation)` is that one line, with a hand-written backward.
# Given the gradient `G = ∂L/∂H` of a loss with respect to the output, the
# chain rule gives, with `Z = XW + b` and `H = σ(Z)`:
#
# * `∂L/∂Z = G ⊙ σ'(Z)` (for the sigmoid `σ' = H (1 − H)`),
# * `∂L/∂W = Xᵀ (∂L/∂Z)`,
# * `∂L/∂b = Σ_rows ∂L/∂Z` (b was broadcast over the rows),
# * `∂L/∂X = (∂L/∂Z) Wᵀ`.

# %%
Xt = tn.tensor(X, requires_grad=True)       # float64 in, float64 out
Wt = tn.tensor(W, requires_grad=True)
bt = tn.tensor(b, requires_grad=True)
Ht = F.dense(Xt, Wt, bt, activation="sigmoid")
assert np.allclose(Ht.data, H)

G = rng.standard_normal(H.shape)            # pretend this came from a loss
Ht.backward(tn.tensor(G))
dZ = G * H * (1 - H)
checks = {"W": (Wt.grad, X.T @ dZ), "b": (bt.grad, dZ.sum(axis=0)), "X": (Xt.grad, dZ @ W.T)}
for name, (autograd, by_hand) in checks.items():
    print(f"dL/d{name}: max |autograd - by hand| = {np.abs(autograd - by_hand).max():.2e}")
    assert np.allclose(autograd, by_hand)

# %% [markdown]
# ## Checking gradients numerically
#
# Deriving by hand is error-prone, so every op in tinynlp is tested against
# **central finite differences**: nudge one input element by ±ε, see how the
# output moves,
#
# `∂f/∂θ_i ≈ (f(θ + ε e_i) − f(θ − ε e_i)) / 2ε`,
#
# and compare with the backward. The error of this estimate is O(ε²), so in
# float64 with ε = 1e-6 we expect agreement to about 1e-8 relative — a wrong
# derivative is off by O(1). Let us write the check ourselves first, on a
# scalar loss `L = Σ v ⊙ dense(X, W, b)` with a fixed random `v`.

# %%
v = rng.standard_normal(H.shape)


def loss_numpy(W_):
    return float((v * sigmoid(X @ W_ + b)).sum())


eps = 1e-6
numeric = np.zeros_like(W)
for i in np.ndindex(W.shape):
    Wp, Wm = W.copy(), W.copy()
    Wp[i] += eps
    Wm[i] -= eps
    numeric[i] = (loss_numpy(Wp) - loss_numpy(Wm)) / (2 * eps)

Wt.zero_grad()
(F.dense(tn.tensor(X), Wt, tn.tensor(b), activation="sigmoid") * tn.tensor(v)).sum().backward()
rel = np.abs(numeric - Wt.grad).max() / np.abs(Wt.grad).max()
print(f"our finite differences vs backward: max relative error {rel:.2e}")
assert rel < 1e-6

# %% [markdown]
# Why weight by a random `v` rather than just `.sum()` the output? Because a
# sum can hide a wrong backward: for `softmax`, the outputs always sum to 1,
# so the gradient of the sum is zero *whatever the backward returns*.
#
# `tn.gradcheck` does all of this for every input and every element (or a
# random projection for large inputs), and reports the worst element. It works
# only in float64 — in float32 the rounding error of `f(θ ± ε)` swamps the
# difference.

# %%
for act in ["linear", "sigmoid", "tanh", "relu", "softmax"]:
    ok = tn.gradcheck(lambda X_, W_, b_: F.dense(X_, W_, b_, activation=act),
                      [Xt, Wt, bt], eps=1e-6)
    print(f"gradcheck dense + {act:8s} passed: {ok}")
    assert ok

# %% [markdown]
# A gradcheck must be able to fail. Here is a deliberately wrong op — a
# sigmoid whose backward forgets the `(1 − h)` factor — and the check catches it.

# %%
class BadSigmoid(Function):
    """h = σ(z); the backward *should* be g · h (1 − h) — here it is wrong on purpose."""

    @staticmethod
    def forward(ctx, z):
        h = 1.0 / (1.0 + np.exp(-z))
        ctx.save_for_backward(h)
        return h

    @staticmethod
    def backward(ctx, g):
        (h,) = ctx.saved
        return g * h                    # bug: missing (1 - h)


z = tn.tensor(rng.standard_normal((3, 4)), requires_grad=True)
try:
    tn.gradcheck(lambda z_: BadSigmoid.apply(z_), [z])
    caught = False
except tn.GradcheckError as err:    # raised with the worst element
    caught = True
    print("gradcheck caught the bug:", str(err).splitlines()[0][:160])
assert caught

# %% [markdown]
# ## A tiny classifier
#
# Two dense layers, `p = σ(relu(X W₁ + b₁) W₂ + b₂)`, trained by plain gradient
# descent on the binary cross-entropy, written out so every line is visible.
# The data: two interleaved half-moons, which no single straight line separates
# — the hidden relu layer is what bends the boundary.

# %%
def moons(n, noise=0.15):
    t = rng.uniform(0, np.pi, n)
    upper = np.stack([np.cos(t), np.sin(t)], 1)
    lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1)
    Xm = np.concatenate([upper, lower]) + noise * rng.standard_normal((2 * n, 2))
    ym = np.concatenate([np.zeros(n), np.ones(n)])
    return Xm.astype(np.float32), ym.astype(np.float32)


X_train, y_train = moons(200)
X_test, y_test = moons(200)

hidden = 16
W1 = tn.tensor(rng.standard_normal((2, hidden)).astype(np.float32) * 0.5, requires_grad=True)
b1 = tn.tensor(np.zeros(hidden, np.float32), requires_grad=True)
W2 = tn.tensor(rng.standard_normal((hidden, 1)).astype(np.float32) * 0.5, requires_grad=True)
b2 = tn.tensor(np.zeros(1, np.float32), requires_grad=True)
params = [W1, b1, W2, b2]


def forward(X_):
    return F.dense(F.dense(tn.tensor(X_), W1, b1, activation="relu"), W2, b2,
                   activation="sigmoid")[:, 0]


def accuracy(X_, y_):
    with tn.no_grad():
        return float(((forward(X_).data > 0.5) == y_).mean())


steps = 300 if QUICK else 2000
lr = 0.5
losses = []
for step in range(steps):
    for p in params:
        p.zero_grad()
    loss = F.binary_crossentropy(tn.tensor(y_train), forward(X_train))
    loss.backward()
    for p in params:
        p.data -= lr * p.grad           # gradient descent: θ ← θ − η ∂L/∂θ
    losses.append(float(loss.data))

train_acc, test_acc = accuracy(X_train, y_train), accuracy(X_test, y_test)
print(f"after {steps} steps: loss {losses[0]:.3f} -> {losses[-1]:.3f}, "
      f"train accuracy {train_acc:.3f}, test accuracy {test_acc:.3f}")
assert losses[-1] < losses[0]
assert test_acc > 0.8

# %% [markdown]
# For comparison: a single dense layer (logistic regression, a straight-line
# boundary) on the same data.

# %%
Wl = tn.tensor(np.zeros((2, 1), np.float32), requires_grad=True)
bl = tn.tensor(np.zeros(1, np.float32), requires_grad=True)
for step in range(steps):
    Wl.zero_grad(), bl.zero_grad()
    loss = F.binary_crossentropy(tn.tensor(y_train),
                                 F.dense(tn.tensor(X_train), Wl, bl, activation="sigmoid")[:, 0])
    loss.backward()
    Wl.data -= lr * Wl.grad
    bl.data -= lr * bl.grad
with tn.no_grad():
    lin_acc = float(((F.dense(tn.tensor(X_test), Wl, bl, "sigmoid").data[:, 0] > 0.5)
                     == y_test).mean())
print(f"logistic regression test accuracy {lin_acc:.3f}  vs  one hidden layer {test_acc:.3f}")

# %% [markdown]
# ## The decision boundary
#
# Saved to `02_moons.png`.

# %%
import matplotlib.pyplot as plt  # noqa: E402

gx, gy = np.meshgrid(np.linspace(-1.5, 2.5, 200), np.linspace(-1.0, 1.5, 200))
grid = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)
with tn.no_grad():
    prob = forward(grid).data.reshape(gx.shape)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
ax1.contourf(gx, gy, prob, levels=20, cmap="RdBu_r", alpha=0.6)
ax1.scatter(X_test[:, 0], X_test[:, 1], c=y_test, cmap="RdBu_r", s=8, edgecolors="k",
            linewidths=0.3)
ax1.set_title(f"p(class 1), test accuracy {test_acc:.2f}")
ax2.plot(losses)
ax2.set_xlabel("step")
ax2.set_ylabel("binary cross-entropy")
ax2.set_title("training loss")
fig.tight_layout()
print("saved", tn.plot.save(fig, OUT / "02_moons.png"))

# %% [markdown]
# In practice you would write the same network as
# `tn.Sequential([tn.layers.Dense(16, "relu"), tn.layers.Dense(1, "sigmoid")])`
# and call `fit` — tutorial 06 does. Next: word embeddings, which are a dense
# layer applied to one-hot vectors.
