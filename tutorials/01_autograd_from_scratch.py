# %% [markdown]
# # 01 — Autograd from scratch
#
# Every deep-learning engine rests on one idea: **reverse-mode automatic
# differentiation**. We build a scalar version in a few lines, check it by hand,
# then see how tinynlp's `Tensor` is the same idea grown to arrays.
#
# Run this file top to bottom (`python tutorials/01_autograd_from_scratch.py`)
# or open it as a notebook (VS Code, or Jupyter with jupytext): each `# %%` is a cell.

# %%
import math

import numpy as np

import tinynlp as tn

# %% [markdown]
# ## A scalar that remembers where it came from
#
# A `Value` holds a number, the values it was computed from (its *parents*),
# and a small function that, given the gradient of the final result with
# respect to this value, pushes gradient to the parents — the **chain rule**,
# one step at a time.


# %%
class Value:
    def __init__(self, data, parents=(), backward=lambda: None):
        self.data = data
        self.grad = 0.0
        self.parents = parents
        self._backward = backward

    def __add__(self, other):
        out = Value(self.data + other.data, (self, other))

        def backward():  # d(a+b)/da = 1, d(a+b)/db = 1
            self.grad += out.grad
            other.grad += out.grad

        out._backward = backward
        return out

    def __mul__(self, other):
        out = Value(self.data * other.data, (self, other))

        def backward():  # d(ab)/da = b, d(ab)/db = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,))

        def backward():  # d tanh(x)/dx = 1 - tanh(x)^2
            self.grad += (1 - t * t) * out.grad

        out._backward = backward
        return out

    def backward(self):
        # order the graph so every node comes after its parents
        # (iteratively: a recursive walk would overflow on long chains)
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node.parents)
        self.grad = 1.0
        for node in reversed(order):
            node._backward()


# %% [markdown]
# Note the `+=`: a value used twice receives gradient from both uses. Forgetting
# to accumulate is the most common bug in hand-written engines.
#
# ## One neuron, by hand and by autograd
#
# `h = tanh(w·x + b)` with `x = 0.5, w = -1.5, b = 0.8`.
# By hand: `dh/dw = (1 − h²)·x`, `dh/db = 1 − h²`.

# %%
x, w, b = Value(0.5), Value(-1.5), Value(0.8)
h = (w * x + b).tanh()
h.backward()
by_hand = 1 - h.data**2
print(f"h = {h.data:.6f}")
print(f"dh/dw: autograd {w.grad:.6f}   by hand {by_hand * 0.5:.6f}")
print(f"dh/db: autograd {b.grad:.6f}   by hand {by_hand:.6f}")
assert abs(w.grad - by_hand * 0.5) < 1e-12 and abs(b.grad - by_hand) < 1e-12

# %% [markdown]
# ## From scalars to arrays: tinynlp's `Tensor`
#
# tinynlp's `Tensor` is the same idea with NumPy arrays inside. Each op is a
# `Function` whose `forward` computes on arrays and whose `backward` maps the
# output gradient to input gradients — for `tanh`, exactly the line above:
#
# ```python
# class Tanh(Function):
#     """h = tanh(x);   dh/dx = 1 − h²"""
#     def forward(ctx, x):  h = np.tanh(x); ctx.save_for_backward(h); return h
#     def backward(ctx, g): (h,) = ctx.saved; return g * (1.0 - h * h)
# ```
#
# The same neuron, now for a batch of 4 inputs with 3 features and 2 outputs:

# %%
rng = np.random.default_rng(0)
X = tn.tensor(rng.standard_normal((4, 3)))                  # float64 stays float64
W = tn.tensor(rng.standard_normal((3, 2)), requires_grad=True)
bias = tn.tensor(np.zeros(2), requires_grad=True)

H = (X @ W + bias).tanh()
loss = H.sum()
loss.backward()
print("dL/dW =\n", W.grad)
print("dL/db =", bias.grad)

# by hand: dL/dW = Xᵀ (1 − H²), dL/db = Σ_rows (1 − H²)
np.testing.assert_allclose(W.grad, X.data.T @ (1 - H.data**2))
np.testing.assert_allclose(bias.grad, (1 - H.data**2).sum(axis=0))

# %% [markdown]
# `bias` has shape `(2,)` but was added to a `(4, 2)` matrix: NumPy
# *broadcast* it over the 4 rows. Its gradient is therefore the **sum over
# those rows** — tinynlp undoes broadcasting in one helper, `unbroadcast`, used
# by every op that can broadcast.
#
# ## Checking gradients numerically
#
# How do we know a backward is right? Compare it with central finite
# differences, `(L(x+ε) − L(x−ε)) / 2ε`, in float64. `tn.gradcheck` does it —
# and weights the output with a *random* vector rather than summing it, since a
# plain sum can hide errors (the gradient of `softmax(x).sum()` is zero whatever
# the backward says).

# %%
print(tn.gradcheck(lambda W, bias: (X @ W + bias).softmax(axis=-1), [W, bias]))

# %% [markdown]
# ## Long chains
#
# An RNN unrolled over 2,000 steps is a chain of thousands of ops. tinynlp's
# `backward()` sorts the graph iteratively, so depth is no problem:

# %%
z = tn.tensor(np.array([0.5]), requires_grad=True)
state = z
for _ in range(2000):
    state = (state * 0.999).tanh() + 0.001
state.sum().backward()
print("gradient through 2,000 steps:", z.grad)

# %% [markdown]
# Gradients **accumulate** until you reset them (`zero_grad()`), and a graph is
# freed after `backward()` — going through it again raises a clear error unless
# you asked for `retain_graph=True`. Next: the dense layer `σ(Wx + b)`.
