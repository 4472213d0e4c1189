"""``F.conv1d_lookup``: a convolution over ``table[ids]`` as sums of rows of
P[j, k] = table[u_j] · w[k] — against ``F.conv1d(F.embedding(ids, table), ...)`` for every
padding, stride, dilation and activation; the two ops where a gradient may be asked for or
ids repeat little."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinynlp as tn
from tinynlp import functional as F
from tinynlp.functional import conv, lookup


@pytest.fixture
def always_share(monkeypatch):
    monkeypatch.setattr(lookup, "MAX_DISTINCT_FRACTION", 1.0)


def _count_lookups(monkeypatch):
    """How many calls took the lookup path (its kernel)."""
    calls = []
    real = conv.conv1d_rows
    monkeypatch.setattr(conv, "conv1d_rows", lambda *a: calls.append(1) or real(*a))
    return calls


@settings(max_examples=40, deadline=None)
@given(B=st.integers(1, 3), L=st.integers(3, 10), V=st.integers(1, 8), C=st.integers(1, 4),
       K=st.integers(1, 3), Fn=st.integers(1, 5), padding=st.sampled_from(["valid", "same",
                                                                          "causal"]),
       sd=st.sampled_from([(1, 1), (2, 1), (3, 1), (1, 2)]),
       activation=st.sampled_from([None, "relu", "tanh", "sigmoid", "gelu"]),
       bias=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**16))
def test_lookup_equals_the_convolution_of_the_looked_up_rows(
        B, L, V, C, K, Fn, padding, sd, activation, bias, dtype, seed):
    strides, dilation = sd
    if padding == "valid" and (K - 1) * dilation + 1 > L:
        return
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, V, (B, L))
    table = rng.standard_normal((V, C)).astype(dtype)
    w = rng.standard_normal((K, C, Fn)).astype(dtype)
    b = rng.standard_normal(Fn).astype(dtype) if bias else None
    args = dict(strides=strides, padding=padding, dilation_rate=dilation, activation=activation)
    with pytest.MonkeyPatch.context() as mp, tn.no_grad():
        mp.setattr(lookup, "MAX_DISTINCT_FRACTION", 1.0)
        calls = _count_lookups(mp)
        got = F.conv1d_lookup(ids, table, w, b, **args).data
        want = F.conv1d(F.embedding(ids, table), w, b, **args).data
    assert calls == [1]
    assert got.shape == want.shape and got.dtype == want.dtype == dtype
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got, want, **tol)


def _case(seed=0, V=30):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 6, (4, 8))           # 6 distinct ids of 32 positions
    return ids, rng.standard_normal((V, 5)), rng.standard_normal((3, 5, 4)), \
        rng.standard_normal(4)


def test_a_gradient_takes_the_two_ops(monkeypatch):
    """With grad mode on and a table or kernel that requires a gradient, the result has
    the two ops' graph: the gradients are conv1d(embedding(...))'s."""
    ids, table, w, b = _case()
    calls = _count_lookups(monkeypatch)
    grads = []
    for fn in (lambda t, k: F.conv1d_lookup(ids, t, k, b, activation="relu"),
               lambda t, k: F.conv1d(F.embedding(ids, t), k, b, activation="relu")):
        t, k = tn.Tensor(table, requires_grad=True), tn.Tensor(w, requires_grad=True)
        (fn(t, k) * 1.5).sum().backward()
        grads.append((t.grad, k.grad))
    assert calls == []
    for g, want in zip(*grads):
        np.testing.assert_allclose(g, want, rtol=1e-12)
    with tn.no_grad():
        F.conv1d_lookup(ids, tn.Tensor(table, requires_grad=True), w, b)
    assert calls == [1]


@pytest.mark.parametrize("distinct, shared", [(16, True), (17, False)])
def test_few_repeats_take_the_two_ops(monkeypatch, distinct, shared):
    """More than MAX_DISTINCT_FRACTION (0.5) of the 32 positions distinct: the two ops."""
    ids = np.resize(np.arange(distinct), 32).reshape(4, 8)
    _, table, w, b = _case()
    calls = _count_lookups(monkeypatch)
    with tn.no_grad():
        got = F.conv1d_lookup(ids, table, w, b).data
        want = F.conv1d(F.embedding(ids, table), w, b).data
    assert bool(calls) == shared
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("change, message", [
    (lambda a: {**a, "ids": np.array([[0, 30, 1]])}, "30"),
    (lambda a: {**a, "ids": np.array([0, 1, 2])}, r"2-D \(batch, steps\)"),
    (lambda a: {**a, "table": np.zeros((30, 5), np.int64)}, "floating-point"),
    (lambda a: {**a, "w": np.zeros((3, 6, 4))}, "channel mismatch"),
    (lambda a: {**a, "b": np.zeros(5)}, "b must have shape"),
    (lambda a: {**a, "padding": "full"}, "padding"),
])
def test_bad_inputs_are_named(change, message, always_share):
    ids, table, w, b = _case()
    a = change(dict(ids=ids, table=table, w=w, b=b, padding="valid"))
    with pytest.raises((ValueError, TypeError), match=message):
        F.conv1d_lookup(a["ids"], a["table"], a["w"], a["b"], padding=a["padding"])
