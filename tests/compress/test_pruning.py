"""Magnitude pruning: amounts, scopes, structured units, masks, schedule, report, CSR."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinynlp import compress as C
from tinynlp.compress.pruning import magnitude_mask
from tinynlp.layers.base import Layer
from tinynlp.layers.convolutional import Conv1D
from tinynlp.layers.core import Dense, Embedding
from tinynlp.layers.recurrent import GRU, LSTM, SimpleRNN


class Stack(Layer):
    """A minimal container of layers (stands in for a model in these unit tests)."""

    def __init__(self, layers, **kw):
        super().__init__(**kw)
        self.layers = list(layers)

    def call(self, x, training=False):
        for layer in self.layers:
            x = layer(x)
        return x


def _built_stack():
    model = Stack([Embedding(30, 8), LSTM(6, return_sequences=True), Conv1D(5, 3),
                   Dense(4, activation="relu"), Dense(1)])
    model(np.random.default_rng(0).integers(0, 30, (2, 7)))
    return model


def _kernels(model):
    return [p for p in model.weights if p.name.split("/")[-1] in ("kernel", "recurrent_kernel")]


@pytest.mark.parametrize("amount", [0.0, 0.3, 0.5, 0.9])
def test_layer_scope_prunes_each_kernel_to_the_amount(amount):
    model = _built_stack()
    C.prune_magnitude(model, amount=amount, scope="layer")
    for p in _kernels(model):
        assert np.count_nonzero(p.data == 0) == round(amount * p.size)
    # biases and embeddings are untouched by default
    emb = model.layers[0].embeddings.data
    assert np.count_nonzero(emb == 0) == 0
    assert model.layers[0].embeddings.constraint is None


def test_pruned_weights_are_the_smallest():
    model = _built_stack()
    before = {p.name: p.data.copy() for p in _kernels(model)}
    C.prune_magnitude(model, amount=0.6, scope="layer")
    for p in _kernels(model):
        w = before[p.name]
        pruned, kept = np.abs(w[p.data == 0]), np.abs(w[p.data != 0])
        assert pruned.max() <= kept.min()
        np.testing.assert_array_equal(p.data[p.data != 0], w[p.data != 0])


def test_global_scope_uses_one_threshold():
    model = _built_stack()
    before = {p.name: np.abs(p.data.copy()) for p in _kernels(model)}
    C.prune_magnitude(model, amount=0.7, scope="global")
    ks = _kernels(model)
    total = sum(p.size for p in ks)
    zeros = sum(np.count_nonzero(p.data == 0) for p in ks)
    assert zeros == round(0.7 * total)
    max_pruned = max(before[p.name][p.data == 0].max(initial=0) for p in ks)
    min_kept = min(before[p.name][p.data != 0].min(initial=np.inf) for p in ks)
    assert max_pruned <= min_kept
    # layers end up with different sparsities
    sp = [np.mean(p.data == 0) for p in ks]
    assert max(sp) - min(sp) > 0.01
    assert C.sparsity(model) == pytest.approx(0.7, abs=1e-3)


def test_amount_is_a_target_not_an_increment():
    model = _built_stack()
    C.prune_magnitude(model, amount=0.5, scope="layer")
    C.prune_magnitude(model, amount=0.8, scope="layer")
    for p in _kernels(model):
        assert np.count_nonzero(p.data == 0) == round(0.8 * p.size)


def test_include_embeddings_and_biases():
    model = _built_stack()
    C.prune_magnitude(model, amount=0.5, scope="layer", include=["embeddings", "bias"])
    assert np.mean(model.layers[0].embeddings.data == 0) == pytest.approx(0.5, abs=0.01)
    assert np.count_nonzero(model.layers[3].kernel.data == 0) == 0
    C.prune_magnitude(model, amount=0.5, scope="layer", include=["dense_kernel_only"]
                      if False else (lambda layer, p: p.name == model.layers[3].kernel.name))
    assert np.mean(model.layers[3].kernel.data == 0) == pytest.approx(0.5, abs=0.05)
    with pytest.raises(ValueError, match="no weight"):
        C.prune_magnitude(model, amount=0.5, include=["nope"])


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5])
def test_bad_amount(bad):
    with pytest.raises(ValueError, match="amount"):
        C.prune_magnitude(_built_stack(), amount=bad)
    with pytest.raises(ValueError, match="scope"):
        C.prune_magnitude(_built_stack(), amount=0.5, scope="everything")


def test_mask_constraint_restores_zeros_and_chains_an_existing_constraint():
    layer = Dense(4)
    layer(np.ones((2, 6), np.float32))
    layer.kernel.constraint = lambda w: np.clip(w, -0.1, 0.1)
    C.prune_magnitude(layer, amount=0.5)
    c = layer.kernel.constraint
    assert isinstance(c, C.PruningMask)
    w = np.full((6, 4), 5.0, np.float32)
    out = c(w)
    assert np.all(out[~c.mask] == 0) and np.all(out[c.mask] == np.float32(0.1))
    C.remove_pruning(layer)
    assert not isinstance(layer.kernel.constraint, C.PruningMask)


@given(n=st.integers(1, 200), amount=st.floats(0, 0.99), seed=st.integers(0, 1000))
def test_magnitude_mask_counts(n, amount, seed):
    w = np.random.default_rng(seed).standard_normal(n)
    m = magnitude_mask(w, amount)
    assert (~m).sum() == round(amount * n)


# ---- structured ------------------------------------------------------------------------

def test_structured_dense_prunes_whole_columns_with_bias():
    layer = Dense(8)
    x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    layer(x)
    layer.bias.data[...] = 1.0
    norms = np.linalg.norm(layer.kernel.data, axis=0)
    C.prune_magnitude(layer, amount=0.5, scope="layer", structured=True)
    dead = np.all(layer.kernel.data == 0, axis=0)
    assert dead.sum() == 4
    assert set(np.flatnonzero(dead)) == set(np.argsort(norms)[:4])
    assert np.all(layer.bias.data[dead] == 0) and np.all(layer.bias.data[~dead] == 1)
    assert np.all(layer(x).data[:, dead] == 0)


def test_structured_conv_prunes_filters():
    conv = Conv1D(6, 3)
    x = np.random.default_rng(0).standard_normal((2, 9, 4)).astype(np.float32)
    conv(x)
    C.prune_magnitude(conv, amount=0.5, scope="layer", structured=True)
    dead = np.all(conv.kernel.data == 0, axis=(0, 1))
    assert dead.sum() == 3
    assert np.all(conv(x).data[..., dead] == 0)


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_structured_rnn_unit_outputs_exactly_zero(cls):
    layer = cls(6, return_sequences=True)
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    layer(x)
    if layer.bias is not None:
        layer.bias.data[...] = 0.3
    C.prune_magnitude(layer, amount=0.5, scope="layer", structured=True)
    h = layer.units
    dead = np.all(layer.recurrent_kernel.data.reshape(h, -1, h) == 0, axis=(0, 1))
    assert dead.sum() == 3
    assert np.all(layer.recurrent_kernel.data[dead] == 0)
    y = layer(x).data
    assert np.all(y[..., dead] == 0) and np.all(y[..., ~dead] != 0)


def test_structured_global_scope():
    model = _built_stack()
    C.prune_magnitude(model, amount=0.5, scope="global", structured=True)
    units = 0
    dead = 0
    for layer in model.layers[1:]:
        k = layer.kernel.data
        cols = np.all(k.reshape(-1, k.shape[-1]) == 0, axis=0)
        g = k.shape[-1] // getattr(layer, "units", getattr(layer, "filters", k.shape[-1]))
        cols = cols.reshape(g, -1).all(axis=0)
        units += cols.size
        dead += cols.sum()
    assert dead == round(0.5 * units)


# ---- schedule -----------------------------------------------------------------------------

def test_polynomial_decay_schedule():
    f = C.polynomial_decay_sparsity
    assert f(0, 0.9, 0.0, 0, 100) == 0.0
    assert f(100, 0.9, 0.0, 0, 100) == pytest.approx(0.9)
    assert f(500, 0.9, 0.0, 0, 100) == pytest.approx(0.9)
    assert f(50, 0.9, 0.1, 0, 100) == pytest.approx(0.9 + (0.1 - 0.9) * 0.5 ** 3)
    assert f(-5, 0.9, 0.1, 0, 100) == pytest.approx(0.1)
    s = [f(t, 0.8, 0.0, 10, 60) for t in range(0, 80)]
    assert all(a <= b + 1e-12 for a, b in zip(s, s[1:]))
    with pytest.raises(ValueError, match="end_step"):
        f(0, 0.5, 0.0, 10, 10)


def test_polynomial_decay_callback_reaches_the_target():
    model = _built_stack()
    cb = C.PolynomialDecaySparsity(final_sparsity=0.8, end_step=20, frequency=5)
    cb.set_model(model)
    for t in range(25):
        cb.on_batch_end(t)
    assert [s for s, _ in cb.history] == [5, 10, 15, 20]
    assert cb.history[-1][1] == pytest.approx(0.8)
    for p in _kernels(model):
        assert np.count_nonzero(p.data == 0) == round(0.8 * p.size)


# ---- report and CSR -----------------------------------------------------------------------

def test_sparsity_report_lists_every_weight():
    model = _built_stack()
    C.prune_magnitude(model, amount=0.5, scope="layer")
    text = C.sparsity_report(model)
    for p in model.weights:
        assert p.name in text
    assert "total" in text and "50.0%" in text
    rows = C.sparsity_stats(model)
    assert sum(r["size"] for r in rows) == model.count_params()


@pytest.mark.parametrize("shape", [(7,), (5, 9), (3, 4, 6), (2, 70000)])
def test_csr_round_trip(shape):
    rng = np.random.default_rng(0)
    w = rng.standard_normal(shape).astype(np.float32)
    w[rng.random(shape) < 0.8] = 0
    indptr, idx, vals = C.to_csr(w)
    assert idx.dtype == (np.uint16 if shape[-1] <= 65536 else np.int32)
    np.testing.assert_array_equal(C.from_csr(indptr, idx, vals, shape), w)
