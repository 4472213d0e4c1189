"""elman_rnn / lstm / gru agree with torch.nn.RNN / LSTM / GRU (float64).

Weights go through the converters (``F.*_weights_to_torch``); forward outputs
and every gradient (x, h0, c0, each weight) are compared.  Masked batches are
compared with torch run on each sequence truncated to its length.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinynlp as tn
from tinynlp import functional as F

torch = pytest.importorskip("torch")

N_GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}
TOL = dict(rtol=1e-9, atol=1e-11)


def make(cell, B, T, D, H, seed):
    rng = np.random.default_rng(seed)
    g = N_GATES[cell]
    x = rng.standard_normal((B, T, D))
    states = [rng.standard_normal((B, H)) * 0.5 for _ in range(2 if cell == "lstm" else 1)]
    W = rng.standard_normal((D, g * H)) / np.sqrt(D)
    U = rng.standard_normal((H, g * H)) / np.sqrt(H)
    b = rng.standard_normal((2, 3 * H) if cell == "gru" else (g * H,)) * 0.3
    return x, states, W, U, b


def torch_module(cell, D, H, W, U, b):
    if cell.startswith("rnn"):
        mod = torch.nn.RNN(D, H, batch_first=True, nonlinearity=cell[4:])
        tensors = F.rnn_weights_to_torch(W, U, b)
    elif cell == "lstm":
        mod = torch.nn.LSTM(D, H, batch_first=True)
        tensors = F.lstm_weights_to_torch(W, U, b)
    else:
        mod = torch.nn.GRU(D, H, batch_first=True)
        tensors = F.gru_weights_to_torch(W, U, b)
    mod = mod.double()
    with torch.no_grad():
        for p, v in zip((mod.weight_ih_l0, mod.weight_hh_l0, mod.bias_ih_l0, mod.bias_hh_l0),
                        tensors):
            assert p.shape == v.shape
            p.copy_(torch.from_numpy(v))
    return mod


def torch_weight_grads(cell, mod):
    """Torch's parameter gradients in tinynlp's layout (W, U, b)."""
    gi, gh = mod.weight_ih_l0.grad.numpy(), mod.weight_hh_l0.grad.numpy()
    bi, bh = mod.bias_ih_l0.grad.numpy(), mod.bias_hh_l0.grad.numpy()
    if cell == "gru":
        return F.gru_weights_from_torch(gi, gh, bi, bh)
    # b = b_ih + b_hh, so dL/db = dL/db_ih = dL/db_hh
    np.testing.assert_allclose(bi, bh, **TOL)
    conv = F.lstm_weights_from_torch if cell == "lstm" else F.rnn_weights_from_torch
    return conv(gi, gh, bi, None)


def run_tinynlp(cell, x, states, W, U, b, v_out, v_states, mask=None, fused=True):
    ins = [tn.tensor(a, requires_grad=True) for a in (x, *states, W, U, b)]
    if cell.startswith("rnn"):
        fn = F.elman_rnn if fused else F.elman_rnn_reference
        outs = fn(*ins, activation=cell[4:], mask=mask)
    elif cell == "lstm":
        outs = (F.lstm if fused else F.lstm_reference)(*ins, mask=mask)
    else:
        outs = (F.gru if fused else F.gru_reference)(*ins, mask=mask)
    loss = (outs[0] * tn.tensor(v_out)).sum()
    for o, v in zip(outs[1:], v_states):
        loss = loss + (o * tn.tensor(v)).sum()
    loss.backward()
    return [o.data for o in outs], [t.grad for t in ins]


def run_torch(cell, mod, x, states, v_out, v_states):
    xt = torch.tensor(x, requires_grad=True)
    st_t = [torch.tensor(s[None], requires_grad=True) for s in states]   # (1, B, H)
    out, fin = mod(xt, tuple(st_t) if cell == "lstm" else st_t[0])
    fins = list(fin) if cell == "lstm" else [fin]
    loss = (out * torch.from_numpy(v_out)).sum()
    for f, v in zip(fins, v_states):
        loss = loss + (f[0] * torch.from_numpy(v)).sum()
    loss.backward()
    outs = [out.detach().numpy()] + [f[0].detach().numpy() for f in fins]
    return outs, [xt.grad.numpy()] + [s.grad[0].numpy() for s in st_t]


@settings(max_examples=12)
@given(cell=st.sampled_from(list(N_GATES)), B=st.integers(1, 4), T=st.integers(1, 7),
       D=st.integers(1, 5), H=st.integers(1, 6), seed=st.integers(0, 2**31 - 1),
       fused=st.booleans())
def test_matches_torch(cell, B, T, D, H, seed, fused):
    x, states, W, U, b = make(cell, B, T, D, H, seed)
    rng = np.random.default_rng(seed + 1)
    v_out = rng.standard_normal((B, T, H))
    v_states = [rng.standard_normal((B, H)) for _ in states]
    mod = torch_module(cell, D, H, W, U, b)
    t_outs, t_grads = run_torch(cell, mod, x, states, v_out, v_states)
    t_wgrads = torch_weight_grads(cell, mod)
    outs, grads = run_tinynlp(cell, x, states, W, U, b, v_out, v_states, fused=fused)
    for a, r in zip(outs, t_outs):
        np.testing.assert_allclose(a, r, **TOL)
    for a, r in zip(grads, list(t_grads) + list(t_wgrads)):
        np.testing.assert_allclose(a, r, **TOL)


@pytest.mark.parametrize("padding", ["post", "pre"])
@pytest.mark.parametrize("cell", list(N_GATES))
def test_masked_matches_torch_on_truncated_sequences(cell, padding):
    B, T, D, H = 4, 6, 3, 5
    x, states, W, U, b = make(cell, B, T, D, H, seed=7)
    lengths = np.array([6, 4, 1, 3])
    steps = np.arange(T)[None, :]
    mask = steps < lengths[:, None] if padding == "post" else steps >= (T - lengths)[:, None]
    rng = np.random.default_rng(8)
    v_out = rng.standard_normal((B, T, H))
    v_states = [rng.standard_normal((B, H)) for _ in states]
    outs, grads = run_tinynlp(cell, x, states, W, U, b, v_out, v_states, mask=mask)

    mod = torch_module(cell, D, H, W, U, b)
    want_hs = np.zeros((B, T, H))
    want_dx = np.zeros_like(x)
    for i, L in enumerate(lengths):
        span = slice(0, L) if padding == "post" else slice(T - L, T)
        row_states = [s[i:i + 1] for s in states]
        o, g = run_torch(cell, mod, x[i:i + 1, span], row_states, v_out[i:i + 1, span],
                         [v[i:i + 1] for v in v_states])
        want_hs[i, span] = o[0][0]
        want_dx[i, span] = g[0][0]
        for k in range(len(states)):
            np.testing.assert_allclose(outs[1 + k][i], o[1 + k][0], **TOL)
            np.testing.assert_allclose(grads[1 + k][i], g[1 + k][0], **TOL)
    np.testing.assert_allclose(outs[0], want_hs, **TOL)
    np.testing.assert_allclose(grads[0], want_dx, **TOL)
    # torch accumulated the weight gradients over all sequences
    for a, r in zip(grads[1 + len(states):], torch_weight_grads(cell, mod)):
        np.testing.assert_allclose(a, r, **TOL)


@pytest.mark.parametrize("cell", ["rnn_tanh", "lstm", "gru"])
def test_weights_from_torch_reproduce_torch_forward(cell):
    """Start from torch's own initialisation and convert the other way."""
    torch.manual_seed(0)
    D, H, B, T = 4, 3, 2, 5
    mod = {"rnn_tanh": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        D, H, batch_first=True).double()
    conv = {"rnn_tanh": F.rnn_weights_from_torch, "lstm": F.lstm_weights_from_torch,
            "gru": F.gru_weights_from_torch}[cell]
    W, U, b = conv(mod.weight_ih_l0, mod.weight_hh_l0, mod.bias_ih_l0, mod.bias_hh_l0)
    x = np.random.default_rng(0).standard_normal((B, T, D))
    with torch.no_grad():
        want, _ = mod(torch.from_numpy(x))
    if cell == "rnn_tanh":
        got, _ = F.elman_rnn(x, None, W, U, b)
    elif cell == "lstm":
        got, _, _ = F.lstm(x, None, None, W, U, b)
    else:
        got, _ = F.gru(x, None, W, U, b)
    np.testing.assert_allclose(got.data, want.numpy(), **TOL)
