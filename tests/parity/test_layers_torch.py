"""Layer parity with PyTorch: SimpleRNN/LSTM/GRU/Bidirectional(LSTM) vs torch.nn.RNN/LSTM/GRU
(weights copied with the functional converters), Conv1D vs nn.Conv1d — outputs and gradients,
with and without padding masks (PyTorch side: packed sequences)."""

import numpy as np
import pytest

import tinynlp as tn
from tinynlp import functional as F

torch = pytest.importorskip("torch")
nn = torch.nn
L = tn.layers

TORCH_CLS = {L.SimpleRNN: nn.RNN, L.LSTM: nn.LSTM, L.GRU: nn.GRU}
TO_TORCH = {L.SimpleRNN: F.rnn_weights_to_torch, L.LSTM: F.lstm_weights_to_torch,
            L.GRU: F.gru_weights_to_torch}
FROM_TORCH = {L.SimpleRNN: F.rnn_weights_from_torch, L.LSTM: F.lstm_weights_from_torch,
              L.GRU: F.gru_weights_from_torch}


def tt(a, grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


def copy_direction(module, layer, suffix=""):
    """Copy a tinynlp RNN layer's weights into one direction of a torch module."""
    w_ih, w_hh, b_ih, b_hh = TO_TORCH[type(layer)](*layer.get_weights())
    with torch.no_grad():
        for name, value in (("weight_ih", w_ih), ("weight_hh", w_hh), ("bias_ih", b_ih),
                            ("bias_hh", b_hh)):
            getattr(module, f"{name}_l0{suffix}").copy_(tt(value))


def torch_grads_as_ours(module, layer, suffix=""):
    """Our layout's (dW, dU, db) from torch's parameter gradients (the converters are linear)."""
    g = {n: getattr(module, f"{n}_l0{suffix}").grad.numpy()
         for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    dW, dU, db = FROM_TORCH[type(layer)](g["weight_ih"], g["weight_hh"], g["bias_ih"],
                                          g["bias_hh"])
    if not isinstance(layer, L.GRU):
        # from_torch adds the two biases, whose gradients are both dL/db
        db = g["bias_ih"]
    return [dW, dU, db]


def make_batch(lengths, T, D, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((len(lengths), T, D))
    mask = np.arange(T)[None, :] < np.asarray(lengths)[:, None]
    x[~mask] = 7.0  # post-padding with garbage
    return x, mask


def run_torch(module, x, lengths, h0=None):
    xt = tt(x, grad=True)
    if lengths is None:
        out, state = module(xt, h0)
        return xt, out, state
    packed = nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=True,
                                               enforce_sorted=False)
    out, state = module(packed, h0)
    out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return xt, out, state


@pytest.mark.parametrize("cls,kw", [
    (L.SimpleRNN, {"activation": "tanh"}), (L.SimpleRNN, {"activation": "relu"}),
    (L.LSTM, {}), (L.GRU, {}),
])
@pytest.mark.parametrize("lengths", [None, [5, 3, 1, 4]])
def test_rnn_layer_matches_torch(cls, kw, lengths):
    B, T, D, H = 4, 5, 3, 6
    x, mask = make_batch(lengths or [T] * B, T, D, seed=1)
    layer = cls(H, return_sequences=True, return_state=True, dtype="float64", **kw)
    layer.build(x.shape)
    # non-trivial biases so that the bias layout is tested too
    ws = layer.get_weights()
    ws[2] = np.random.default_rng(2).standard_normal(ws[2].shape) * 0.3
    layer.set_weights(ws)
    tkw = {"nonlinearity": kw["activation"]} if cls is L.SimpleRNN else {}
    module = TORCH_CLS[cls](D, H, batch_first=True, dtype=torch.float64, **tkw)
    copy_direction(module, layer)

    xin = tn.tensor(x, requires_grad=True)
    out, h, *rest = layer(xin, mask=None if lengths is None else mask)
    xt, out_t, state_t = run_torch(module, x, lengths)
    h_t = state_t[0] if cls is L.LSTM else state_t
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h.data, h_t[0].detach().numpy(), rtol=1e-10, atol=1e-12)
    if cls is L.LSTM:
        np.testing.assert_allclose(rest[0].data, state_t[1][0].detach().numpy(), rtol=1e-10)

    # gradients of the same random cotangents on the outputs and the final state
    rng = np.random.default_rng(3)
    g_out = rng.standard_normal(out.shape) * mask[..., None]
    g_h = rng.standard_normal(h.shape)
    total = (out * tn.tensor(g_out)).sum() + (h * tn.tensor(g_h)).sum()
    total.backward()
    total_t = (out_t * tt(g_out)).sum() + (h_t[0] * tt(g_h)).sum()
    total_t.backward()
    np.testing.assert_allclose(xin.grad, xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    for ours, theirs in zip([p.grad for p in layer.weights], torch_grads_as_ours(module, layer)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("lengths", [None, [6, 2, 4]])
def test_bidirectional_lstm_matches_torch(lengths):
    B, T, D, H = 3, 6, 2, 4
    x, mask = make_batch(lengths or [T] * B, T, D, seed=4)
    layer = L.Bidirectional(L.LSTM(H, return_sequences=True, return_state=True,
                                   dtype="float64"))
    layer.build(x.shape)
    rng = np.random.default_rng(5)
    layer.set_weights([w + 0.1 * rng.standard_normal(w.shape) for w in layer.get_weights()])
    module = nn.LSTM(D, H, batch_first=True, bidirectional=True, dtype=torch.float64)
    copy_direction(module, layer.forward_layer)
    copy_direction(module, layer.backward_layer, "_reverse")

    xin = tn.tensor(x, requires_grad=True)
    out, fh, fc, bh, bc = layer(xin, mask=None if lengths is None else mask)
    xt, out_t, (h_t, c_t) = run_torch(module, x, lengths)
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    for ours, theirs in ((fh, h_t[0]), (bh, h_t[1]), (fc, c_t[0]), (bc, c_t[1])):
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)

    g_out = rng.standard_normal(out.shape) * mask[..., None]
    g_b = rng.standard_normal(bh.shape)
    ((out * tn.tensor(g_out)).sum() + (bh * tn.tensor(g_b)).sum()).backward()
    ((out_t * tt(g_out)).sum() + (h_t[1] * tt(g_b)).sum()).backward()
    np.testing.assert_allclose(xin.grad, xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    ours = [p.grad for p in layer.weights]
    theirs = (torch_grads_as_ours(module, layer.forward_layer)
              + torch_grads_as_ours(module, layer.backward_layer, "_reverse"))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("kw,torch_kw", [
    ({}, {"padding": 0}),
    ({"strides": 2}, {"stride": 2, "padding": 0}),
    ({"dilation_rate": 2, "padding": "same"}, {"dilation": 2, "padding": "same"}),
    ({"padding": "same"}, {"padding": "same"}),
])
def test_conv1d_layer_matches_torch(kw, torch_kw):
    B, Lx, C, Fo, K = 2, 9, 3, 4, 3
    rng = np.random.default_rng(6)
    x = rng.standard_normal((B, Lx, C))
    layer = L.Conv1D(Fo, K, activation="tanh", dtype="float64", **kw)
    layer.build(x.shape)
    kernel = layer.get_weights()[0]
    layer.set_weights([kernel, rng.standard_normal(Fo)])
    conv = nn.Conv1d(C, Fo, K, dtype=torch.float64, **torch_kw)
    with torch.no_grad():
        conv.weight.copy_(tt(layer.kernel.data.transpose(2, 1, 0)))   # (K,C,F) -> (F,C,K)
        conv.bias.copy_(tt(layer.bias.data))

    xin = tn.tensor(x, requires_grad=True)
    y = layer(xin)
    xt = tt(x.transpose(0, 2, 1), grad=True)                         # (B,L,C) -> (B,C,L)
    y_t = torch.tanh(conv(xt)).transpose(1, 2)
    np.testing.assert_allclose(y.data, y_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(y.shape)
    (y * tn.tensor(g)).sum().backward()
    (y_t * tt(g)).sum().backward()
    np.testing.assert_allclose(xin.grad, xt.grad.numpy().transpose(0, 2, 1), rtol=1e-9,
                               atol=1e-11)
    np.testing.assert_allclose(layer.kernel.grad, conv.weight.grad.numpy().transpose(2, 1, 0),
                               rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(layer.bias.grad, conv.bias.grad.numpy(), rtol=1e-9, atol=1e-11)
