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
    _grads_equal([(x, xt)])


# ------------------------------------------------------------------ layer norm


def test_layer_norm():
    rng = np.random.default_rng(5)
    x, xt = _pair(rng.standard_normal((3, 4, 6)))
    g, gt = _pair(rng.standard_normal(6))
    b, bt = _pair(rng.standard_normal(6))
    y = F.layer_norm(x, g, b, eps=1e-5)
    _run(y, TF.layer_norm(xt, (6,), gt, bt, eps=1e-5), rng.standard_normal(y.shape))
    _grads_equal([(x, xt), (g, gt), (b, bt)])


# ------------------------------------------------------------------ pooling


@pytest.mark.parametrize("pool,strides", [(2, None), (3, None), (3, 1), (2, 3), (4, 2)])
def test_windowed_pooling_valid(pool, strides):
    rng = np.random.default_rng(6)
    data = rng.standard_normal((2, 11, 3))
    for ours, theirs in ((F.max_pool1d, TF.max_pool1d), (F.avg_pool1d, TF.avg_pool1d)):
        x, xt = _pair(data)
        y = ours(x, pool, strides)
        yt = theirs(xt.permute(0, 2, 1), pool, stride=strides or pool).permute(0, 2, 1)
        _run(y, yt, rng.standard_normal(y.shape))
        _grads_equal([(x, xt)])


@pytest.mark.parametrize("pool,strides", [(2, None), (3, 2), (3, 1)])
def test_max_pooling_same(pool, strides):
    rng = np.random.default_rng(7)
    x, xt = _pair(rng.standard_normal((2, 10, 3)))
    y = F.max_pool1d(x, pool, strides, padding="same")
    pl, pr, _ = F.conv1d_padding(10, pool, strides or pool, "same")
    padded = TF.pad(xt.permute(0, 2, 1), (pl, pr), value=-np.inf)
    yt = TF.max_pool1d(padded, pool, stride=strides or pool).permute(0, 2, 1)
    _run(y, yt, rng.standard_normal(y.shape))
    _grads_equal([(x, xt)])


def test_global_pooling():
    rng = np.random.default_rng(8)
    x, xt = _pair(rng.standard_normal((3, 7, 4)))
    y = F.global_max_pool1d(x) + F.global_avg_pool1d(x)
    _run(y, xt.amax(dim=1) + xt.mean(dim=1), rng.standard_normal(y.shape))
    _grads_equal([(x, xt)])


# ------------------------------------------------------------------ losses


def test_binary_cross_entropy_from_probabilities():
    rng = np.random.default_rng(9)
    y = rng.integers(0, 2, (6, 2)).astype(np.float64)
    w = rng.uniform(0.5, 2, (6, 2))
    p, pt = _pair(rng.uniform(0.05, 0.95, (6, 2)))
    ours = F.binary_crossentropy(y, p, reduction="none") * 2    # mean over the last axis of 2
    theirs = TF.binary_cross_entropy(pt, torch.tensor(y), reduction="none").sum(-1)
    _run(ours, theirs, rng.standard_normal(ours.shape))
    _grads_equal([(p, pt)])
    # elementwise weights: Keras and torch both divide the weighted sum by the count
    p, pt = _pair(rng.uniform(0.05, 0.95, (6,)))
    _run(F.binary_crossentropy(y[:, 0], p, sample_weight=w[:, 0]),
         TF.binary_cross_entropy(pt, torch.tensor(y[:, 0]), weight=torch.tensor(w[:, 0])),
         np.array(1.0))
    _grads_equal([(p, pt)])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_with_logits(reduction):
    rng = np.random.default_rng(10)
    y = rng.integers(0, 2, (8,)).astype(np.float64)
    z, zt = _pair(rng.standard_normal((8, 1)) * 4)
    ours = F.binary_crossentropy(y, z, from_logits=True, reduction=reduction)
    theirs = TF.binary_cross_entropy_with_logits(zt[:, 0], torch.tensor(y), reduction=reduction)
    _run(ours, theirs, rng.standard_normal(ours.shape))
    _grads_equal([(z, zt)])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_with_ignore_index(reduction):
    rng = np.random.default_rng(11)
    B, T, C = 3, 5, 7
    labels = rng.integers(0, C, (B, T))
    labels[0, 2] = labels[2, 4] = -100
    z, zt = _pair(rng.standard_normal((B, T, C)))
    ours = F.sparse_categorical_crossentropy(labels, z, from_logits=True, ignore_index=-100,
                                             reduction=reduction)
    theirs = TF.cross_entropy(zt.reshape(-1, C), torch.tensor(labels.reshape(-1)),
                              ignore_index=-100, reduction=reduction)
    if reduction == "none":
        theirs = theirs.reshape(B, T)
    _run(ours, theirs, rng.standard_normal(ours.shape))
    _grads_equal([(z, zt)])


def test_sparse_from_probabilities_equals_nll_of_log():
    rng = np.random.default_rng(12)
    labels = rng.integers(0, 4, 6)
    p, pt = _pair(rng.dirichlet(np.ones(4), 6))
    ours = F.sparse_categorical_crossentropy(labels, p)
    theirs = TF.nll_loss(torch.log(pt / pt.sum(-1, keepdim=True)), torch.tensor(labels))
    _run(ours, theirs, np.array(1.0))
    _grads_equal([(p, pt)])


def test_categorical_cross_entropy_with_probability_targets():
    rng = np.random.default_rng(13)
    target = rng.dirichlet(np.ones(5), 6)
    z, zt = _pair(rng.standard_normal((6, 5)))
    _run(F.categorical_crossentropy(target, z, from_logits=True),
         TF.cross_entropy(zt, torch.tensor(target)), np.array(1.0))
    _grads_equal([(z, zt)])


def test_mse_loss():
    rng = np.random.default_rng(14)
    y = rng.standard_normal((5, 3))
    p, pt = _pair(rng.standard_normal((5, 3)))
    _run(F.mse(y, p), TF.mse_loss(pt, torch.tensor(y)), np.array(1.0))
    _grads_equal([(p, pt)])
