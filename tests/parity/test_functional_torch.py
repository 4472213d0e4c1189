"""tinynlp.functional against torch.nn.functional: forward values and every gradient (float64)."""

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")
TF = torch.nn.functional

import tinynlp as tn  # noqa: E402
from tinynlp import functional as F  # noqa: E402

TOL = dict(rtol=1e-10, atol=1e-10)


def _pair(a):
    """The same float64 data as a tinynlp leaf and a torch leaf."""
    return (tn.tensor(np.array(a, dtype=np.float64), requires_grad=True),
            torch.tensor(np.array(a, dtype=np.float64), requires_grad=True))


def _run(ours, theirs, cotangent):
    ours.backward(cotangent)
    theirs.backward(torch.tensor(cotangent))
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), **TOL)


def _grads_equal(pairs):
    for a, t in pairs:
        if t.grad is None:
            assert a.grad is None or not np.any(a.grad)
            continue
        got = a.grad.to_dense() if hasattr(a.grad, "to_dense") else a.grad
        want = t.grad.to_dense() if t.grad.is_sparse else t.grad
        np.testing.assert_allclose(got, want.numpy(), **TOL)


# ------------------------------------------------------------------ conv1d


@pytest.mark.parametrize("padding,strides,dilation",
                         list(itertools.product(["valid", "same", "causal"], [1, 2, 3], [1, 2])))
def test_conv1d(padding, strides, dilation):
    rng = np.random.default_rng(0)
    B, L, C, K, Fo = 3, 11, 4, 3, 5
    x, xt = _pair(rng.standard_normal((B, L, C)))
    w, wt = _pair(rng.standard_normal((K, C, Fo)))
    b, bt = _pair(rng.standard_normal(Fo))
    z = F.conv1d(x, w, b, strides=strides, padding=padding, dilation_rate=dilation)
    pl, pr, _ = F.conv1d_padding(L, K, strides, padding, dilation)
    # torch: (B, C, L) inputs and (F, C, K) weights; Keras' asymmetric / causal padding by hand
    zt = TF.conv1d(TF.pad(xt.permute(0, 2, 1), (pl, pr)), wt.permute(2, 1, 0), bt,
                   stride=strides, dilation=dilation).permute(0, 2, 1)
    _run(z, zt, rng.standard_normal(z.shape))
    _grads_equal([(x, xt), (w, wt), (b, bt)])


def test_conv1d_same_matches_torch_same_padding_for_odd_kernels():
    rng = np.random.default_rng(1)
    x, xt = _pair(rng.standard_normal((2, 9, 3)))
    w, wt = _pair(rng.standard_normal((5, 3, 2)))
    z = F.conv1d(x, w, padding="same")
    zt = TF.conv1d(xt.permute(0, 2, 1), wt.permute(2, 1, 0), padding="same").permute(0, 2, 1)
    _run(z, zt, rng.standard_normal(z.shape))
    _grads_equal([(x, xt), (w, wt)])


# ------------------------------------------------------------------ embedding


@pytest.mark.parametrize("sparse", [False, True])
def test_embedding_with_repeated_ids(sparse):
    rng = np.random.default_rng(2)
    ids = np.array([[1, 4, 4, 0], [4, 2, 1, 4]])
    table, _ = _pair(rng.standard_normal((6, 3)))
    emb = torch.nn.Embedding(6, 3, sparse=sparse).double()
    with torch.no_grad():
        emb.weight.copy_(torch.tensor(table.data))
    out = F.embedding(ids, table, sparse=sparse)
    _run(out, emb(torch.tensor(ids)), rng.standard_normal(out.shape))
    _grads_equal([(table, emb.weight)])


# ------------------------------------------------------------------ dense, activations


def test_dense():
    rng = np.random.default_rng(3)
    x, xt = _pair(rng.standard_normal((2, 4, 3)))
    W, Wt = _pair(rng.standard_normal((3, 5)))
    b, bt = _pair(rng.standard_normal(5))
    z = F.dense(x, W, b, activation="tanh")
    _run(z, torch.tanh(TF.linear(xt, Wt.T, bt)), rng.standard_normal(z.shape))
    _grads_equal([(x, xt), (W, Wt), (b, bt)])


@pytest.mark.parametrize("ours,theirs", [
    (F.gelu, TF.gelu),
    (lambda x: F.gelu(x, approximate=True), lambda x: TF.gelu(x, approximate="tanh")),
    (F.elu, TF.elu),
    (F.selu, TF.selu),
    (lambda x: F.leaky_relu(x, 0.01), lambda x: TF.leaky_relu(x, 0.01)),
    (F.softplus, TF.softplus),
    (F.softsign, TF.softsign),
    (F.silu, TF.silu),
])
def test_activations(ours, theirs):
    rng = np.random.default_rng(4)
    x, xt = _pair(rng.standard_normal((4, 6)) * 3)
    y = ours(x)
    _run(y, theirs(xt), rng.standard_normal(y.shape))


@pytest.mark.parametrize("approximate", [False, True])
def test_gelu_float32_matches_torch_to_float32_tolerance(approximate):
    """The float32 kernels (a rational erf, a range-reduced exp) against PyTorch's float32
    gelu, forward and gradient, over the range a network sees and beyond."""
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.standard_normal(20_000) * 3, np.linspace(-12, 12, 4001)])
    x = x.astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    ours = tn.tensor(x, requires_grad=True)
    y = F.gelu(ours, approximate=approximate)
    y.backward(g)
    xt = torch.tensor(x, requires_grad=True)
    yt = TF.gelu(xt, approximate="tanh" if approximate else "none")
    yt.backward(torch.tensor(g))
    assert y.dtype == ours.grad.dtype == np.float32
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(ours.grad, xt.grad.numpy(), rtol=1e-5, atol=2e-6)
