# %% [markdown]
# # 04 — The Elman RNN and backpropagation through time
#
# A recurrent network reads a sequence one step at a time and carries a
# *state* `h` from step to step (Elman, 1990):
#
# `h_t = σ(W x_t + U h_{t−1} + b)`,  `y_t = V h_t + c`
#
# The same `W, U, b` are used at every step. In row form (a batch of
# sequences, Keras' `(in, out)` weight layout) the step reads
# `h_t = σ(x_t W + h_{t−1} U + b)`. We:
#
# 1. write the loop in NumPy;
# 2. compare it with tinynlp's readable `F.elman_rnn_reference` (a Python loop
#    of primitive ops, differentiated by autograd) and the fused
#    `F.elman_rnn` (a hand-written backward through time), in value *and*
#    gradient;
# 3. derive BPTT and show why gradients vanish: ‖∂h_T/∂h_t‖ against t.

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
# ## The loop, in NumPy

# %%
B, T, D, H, O = 2, 6, 3, 4, 2          # batch, time, input size, state size, output size
x = rng.standard_normal((B, T, D))
W = rng.standard_normal((D, H)) * 0.5
U = rng.standard_normal((H, H)) * 0.5
b = np.zeros(H)
V = rng.standard_normal((H, O))
c = np.zeros(O)

h = np.zeros((B, H))                   # h_0 = 0
states = []
for t in range(T):
    h = np.tanh(x[:, t] @ W + h @ U + b)
    states.append(h)
hs_numpy = np.stack(states, axis=1)    # (B, T, H)
ys_numpy = hs_numpy @ V + c            # y_t = V h_t + c, all steps at once
print("hs:", hs_numpy.shape, " ys:", ys_numpy.shape)

# %% [markdown]
# ## The readable loop and the fused op agree, in value and in gradient
#
# `F.elman_rnn(x, h0, W, U, b)` returns `(hs, h_last)`. The output layer
# `y_t = V h_t + c` is just a dense layer applied at every step.

# %%
def run(rnn_fn):
    params = [tn.tensor(a, requires_grad=True) for a in (x, W, U, b, V, c)]
    xt, Wt, Ut, bt, Vt, ct = params
    hs, h_last = rnn_fn(xt, None, Wt, Ut, bt, activation="tanh")
    ys = F.dense(hs, Vt, ct)
    loss = (ys * tn.tensor(g)).sum()   # a fixed random cotangent, as gradcheck does
    loss.backward()
    return hs.data, ys.data, [p.grad for p in params]


g = rng.standard_normal((B, T, O))
hs_ref, ys_ref, grads_ref = run(F.elman_rnn_reference)
hs_fused, ys_fused, grads_fused = run(F.elman_rnn)
print("max |numpy - reference| =", np.abs(hs_numpy - hs_ref).max())
print("max |reference - fused| =", np.abs(hs_ref - hs_fused).max())
assert np.allclose(hs_numpy, hs_ref) and np.allclose(hs_ref, hs_fused)
assert np.allclose(ys_numpy, ys_fused)
for name, gr, gf in zip(["x", "W", "U", "b", "V", "c"], grads_ref, grads_fused):
    print(f"dL/d{name}: max |reference - fused| = {np.abs(gr - gf).max():.2e}")
    assert np.allclose(gr, gf)

# %% [markdown]
# Both are also checked against finite differences:

# %%
params = [tn.tensor(a, requires_grad=True) for a in (x, W, U, b)]
for fn in (F.elman_rnn_reference, F.elman_rnn):
    ok = tn.gradcheck(lambda *p: fn(p[0], None, *p[1:], activation="tanh")[0], params)
    print(f"gradcheck {fn.__name__}: {ok}")
    assert ok

# %% [markdown]
# ## Backpropagation through time
#
# Unroll the loop and it is just a deep network whose layers share weights,
# so the chain rule applies as usual. Write `z_k = x_k W + h_{k−1} U + b` and
# `h_k = σ(z_k)`. One step back costs the Jacobian
#
# `∂h_k/∂h_{k−1} = diag(σ'(z_k)) Uᵀ`   (for tanh, `σ'(z_k) = 1 − h_k²`),
#
# and the gradient reaching `h_t` from the last state is the product
#
# `∂h_T/∂h_t = Π_{k=T}^{t+1} diag(σ'(z_k)) Uᵀ`.
#
# The fused backward runs exactly this recursion in a loop from `t = T` down
# to 1: `δ_{t−1} = (δ_t ⊙ σ'(z_t)) Uᵀ` plus whatever the loss adds at step
# `t−1`, while accumulating `∂L/∂U += h_{t−1}ᵀ (δ_t ⊙ σ'(z_t))`,
# `∂L/∂W += x_tᵀ (δ_t ⊙ σ'(z_t))`.
#
# A product of T − t matrices behaves like a power: if their norms are below 1
# it shrinks geometrically (**vanishing gradient**: early words cannot
# influence learning), above 1 it can grow geometrically (**exploding
# gradient**: fixed by clipping). Since `|tanh'| ≤ 1`, a small `U` guarantees
# vanishing.
#
# First, check the product formula against autograd: `∂h_T/∂h_t` is the
# derivative of the final state with respect to the *initial* state of an RNN
# started at step t.

# %%
def jacobian_chain(hs_seq, U_):
    """[∂h_T/∂h_t for t = T, T-1, ..., 0] for one sequence (hs_seq: (T, H), tanh)."""
    Hn = U_.shape[0]
    J = np.eye(Hn)
    out = [J]
    for k in range(hs_seq.shape[0] - 1, -1, -1):      # step k maps h_{k-1} -> h_k
        J = J @ (np.diag(1 - hs_seq[k] ** 2) @ U_.T)   # J = ∂h_T/∂h_{k-1}
        out.append(J)
    return out[::-1]                                   # index t: ∂h_T/∂h_t


t0 = 2
hs_one = hs_numpy[0]
J_formula = jacobian_chain(hs_one[t0:], U)[0]          # ∂h_T/∂h_{t0}, h_{t0} = hs_one[t0-1]
h_start = tn.tensor(hs_one[t0 - 1][None], requires_grad=True)
J_autograd = np.zeros((H, H))
for i in range(H):                                     # one backward per output unit
    h_start.zero_grad()
    _, h_last = F.elman_rnn(tn.tensor(x[:1, t0:]), h_start, tn.tensor(W), tn.tensor(U),
                            tn.tensor(b))
    h_last[0, i].backward()
    J_autograd[i] = h_start.grad[0]
print("max |product formula - autograd| =", np.abs(J_formula - J_autograd).max())
assert np.allclose(J_formula, J_autograd)

# %% [markdown]
# ## Vanishing gradients, measured
#
# A longer sequence (T = 100 steps, 32 units) with `U` a random orthogonal
# matrix scaled to spectral norm `r`, inputs of a realistic size, and the
# norm ‖∂h_T/∂h_t‖ (spectral) for every t. Saved to `04_vanishing.png`.

# %%
T_long, H_long, D_long = (50, 16, 8) if QUICK else (100, 32, 16)
x_long = rng.standard_normal((1, T_long, D_long))
W_long = rng.standard_normal((D_long, H_long)) / np.sqrt(D_long)
Q, _ = np.linalg.qr(rng.standard_normal((H_long, H_long)))
curves = {}
for r in [0.5, 0.9, 1.5, 3.0]:
    U_r = r * Q
    hs_r, _ = F.elman_rnn(tn.tensor(x_long), None, tn.tensor(W_long), tn.tensor(U_r),
                          tn.tensor(np.zeros(H_long)))
    Js = jacobian_chain(hs_r.data[0], U_r)
    curves[r] = np.array([np.linalg.norm(J, 2) for J in Js[1:]])   # t = 1..T
    print(f"‖U‖ = {r}: ‖∂h_T/∂h_t‖ at t = T-1: {curves[r][-2]:.2e}, t = T-10: "
          f"{curves[r][-11]:.2e}, t = 1: {curves[r][0]:.2e}")

assert curves[0.5][0] < 1e-10          # 0.5^(T-1) and tanh' <= 1: vanished
assert curves[0.5][0] < curves[0.9][0]

import matplotlib.pyplot as plt  # noqa: E402

fig, ax = plt.subplots(figsize=(7, 4))
for r, curve in curves.items():
    ax.semilogy(np.arange(1, T_long + 1), curve, label=f"‖U‖₂ = {r}")
ax.set_xlabel("t")
ax.set_ylabel("‖∂h_T / ∂h_t‖₂")
ax.set_title(f"How much h_t can still change h_T (T = {T_long}, tanh)")
ax.legend()
fig.tight_layout()
print("saved", tn.plot.save(fig, OUT / "04_vanishing.png"))

# %% [markdown]
# With ‖U‖ < 1 the influence of a step decays geometrically with its distance
# from the end. A larger ‖U‖ keeps it alive longer, but past a point the
# product *grows* geometrically instead (exploding gradients), and in
# between the tanh units start to saturate (`1 − h² ≈ 0`). A plain tanh RNN
# has no setting that reliably passes gradient over long distances.
#
# The LSTM's additive cell state `c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t` changes
# that: along the cell the step Jacobian is (ignoring the gates' own
# dependence on c) `diag(f_t)`, so the gradient decays like the product of the
# forget gates — which the network can *learn* to hold near 1. We measure
# ‖∂c_T/∂c_t‖ through `F.lstm` and autograd with the forget-gate bias at 1
# (Keras' `unit_forget_bias=True`, so f ≈ σ(1) ≈ 0.73 at the start) and at 3
# (f ≈ 0.95):

# %%
H4 = H_long
W4 = rng.standard_normal((D_long, 4 * H4)) / np.sqrt(D_long)
U4 = rng.standard_normal((H4, 4 * H4)) * 0.5 / np.sqrt(H4)
lstm_curves = {}
for forget_bias in (1.0, 3.0):
    b4 = np.zeros(4 * H4)
    b4[H4:2 * H4] = forget_bias                         # gate order i, f, c, o
    points = []
    for t0 in range(1, T_long, max(1, T_long // 8)):
        c_start = tn.tensor(np.zeros((1, H4)), requires_grad=True)
        _, _, c_last = F.lstm(tn.tensor(x_long[:, t0:]), None, c_start, tn.tensor(W4),
                              tn.tensor(U4), tn.tensor(b4))
        J = np.zeros((H4, H4))
        for i in range(H4):
            c_start.zero_grad()
            c_last[0, i].backward(retain_graph=True)
            J[i] = c_start.grad[0]
        points.append((t0, np.linalg.norm(J, 2)))
    lstm_curves[forget_bias] = points
    print(f"LSTM, forget bias {forget_bias}: ‖∂c_T/∂c_t‖ at t = {points[0][0]}: "
          f"{points[0][1]:.2e}, at t = {points[-1][0]}: {points[-1][1]:.2e}")
print(f"plain RNN (‖U‖ = 0.9) at t = 1: {curves[0.9][0]:.2e}")
assert lstm_curves[3.0][0][1] > lstm_curves[1.0][0][1]

fig, ax = plt.subplots(figsize=(7, 4))
for r in (0.5, 0.9):
    ax.semilogy(np.arange(1, T_long + 1), curves[r], label=f"RNN ‖∂h_T/∂h_t‖, ‖U‖₂ = {r}")
for fb, pts in lstm_curves.items():
    ax.semilogy(*zip(*pts), "o-", label=f"LSTM ‖∂c_T/∂c_t‖, forget bias {fb}")
ax.set_xlabel("t")
ax.legend(fontsize=8)
fig.tight_layout()
print("saved", tn.plot.save(fig, OUT / "04_lstm_vs_rnn.png"))

# %% [markdown]
# With the forget gate near 1 the cell carries gradient across the whole
# sequence, where the plain RNN's has vanished. Tutorial 09 trains LSTMs on
# real text.
