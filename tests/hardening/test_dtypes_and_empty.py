"""float16 and zero-size dimensions: every fused op and a layer's ``dtype=`` either works
(forward and backward, the right shape and dtype) or raises a clear error up front that
names the op — never a failure deep inside Numba or a ZeroDivisionError."""

from __future__ import annotations

import traceback

import numpy as np
import pytest

import tinynlp as tn
from tinynlp import functional as F

H = np.float16


def t(shape, dtype=np.float32):
    return tn.tensor(np.random.default_rng(0).random(shape).astype(dtype), requires_grad=True)


def _rnn(cell, B, T, D, U, dtype=np.float32):
    gates = {"elman_rnn": 1, "lstm": 4, "gru": 3}[cell]
    b = t((2, 3 * U), dtype) if cell == "gru" else t((gates * U,), dtype)
    W, R = t((D, gates * U), dtype), t((U, gates * U), dtype)
    if cell == "lstm":
        return lambda: F.lstm(t((B, T, D), dtype), None, None, W, R, b)
    return lambda: getattr(F, cell)(t((B, T, D), dtype), None, W, R, b)


def _sdpa(qs, ks, vs, dtype=np.float32):
    return lambda: F.scaled_dot_product_attention(t(qs, dtype), t(ks, dtype), t(vs, dtype),
                                                  is_causal=qs[-2] == ks[-2])


#: case -> (call, expected output shape(s), or (error type, message pattern))
CASES = {
    "dense float16": (lambda: F.dense(t((2, 3), H), t((3, 4), H), t((4,), H), "relu"),
                      (TypeError, "dense: the fused kernels compute in float32 or float64, "
                                  "got float16 .*dense_reference")),
    "dense no rows": (lambda: F.dense(t((0, 3)), t((3, 4)), t((4,)), "relu"), [(0, 4)]),
    "dense no features": (lambda: F.dense(t((2, 0)), t((0, 4)), t((4,)), "tanh"), [(2, 4)]),
    "dense no units": (lambda: F.dense(t((2, 3)), t((3, 0)), t((0,))), [(2, 0)]),
    "dense no steps": (lambda: F.dense(t((2, 0, 3)), t((3, 4)), None), [(2, 0, 4)]),
    "conv1d float16": (lambda: F.conv1d(t((2, 5, 3), H), t((2, 3, 4), H), t((4,), H)),
                       (TypeError, "conv1d: the fused kernels .* got float16")),
    "conv1d no batch": (lambda: F.conv1d(t((0, 5, 3)), t((2, 3, 4)), t((4,)),
                                         activation="relu"), [(0, 4, 4)]),
    "conv1d no filters": (lambda: F.conv1d(t((2, 5, 3)), t((2, 3, 0)), t((0,))), [(2, 4, 0)]),
    "conv1d no steps": (lambda: F.conv1d(t((2, 0, 3)), t((2, 3, 4)), None),
                        (ValueError, "conv1d: the input must have at least one step")),
    "conv1d no channels": (lambda: F.conv1d(t((2, 5, 0)), t((2, 0, 4)), None),
                           (ValueError, "conv1d: w must have a kernel size and input channels")),
    "conv1d empty kernel": (lambda: F.conv1d(t((2, 5, 3)), t((0, 3, 4)), None),
                            (ValueError, "conv1d: w must have a kernel size")),
    "embedding float16": (lambda: F.embedding(np.array([[0, 1], [1, 1]]), t((3, 4), H)),
                          [(2, 2, 4)]),
    "embedding no ids": (lambda: F.embedding(np.zeros((0, 2), int), t((3, 4))), [(0, 2, 4)]),
    "embedding no dims": (lambda: F.embedding(np.array([[0, 1]]), t((3, 0))), [(1, 2, 0)]),
    "embedding empty table": (lambda: F.embedding(np.array([[0]]), t((0, 4))),
                              (ValueError, "embedding: ids contains id 0")),
    "sdpa float16": (_sdpa((2, 3, 4), (2, 3, 4), (2, 3, 4), H), [(2, 3, 4)]),
    "sdpa no queries": (_sdpa((2, 0, 4), (2, 3, 4), (2, 3, 4)), [(2, 0, 4)]),
    "sdpa no batch": (_sdpa((0, 3, 4), (0, 3, 4), (0, 3, 4)), [(0, 3, 4)]),
    "sdpa no value dims": (_sdpa((2, 3, 4), (2, 3, 4), (2, 3, 0)), [(2, 3, 0)]),
    "sdpa no keys": (_sdpa((2, 3, 4), (2, 0, 4), (2, 0, 4)),
                     (ValueError, "scaled_dot_product_attention: needs at least one key")),
    "sdpa no head dim": (_sdpa((2, 3, 0), (2, 3, 0), (2, 3, 4)),
                         (ValueError, "scaled_dot_product_attention: .* head dim >= 1")),
}
for _cell in ("elman_rnn", "lstm", "gru"):
    _n = 3 if _cell == "lstm" else 2                       # outputs: (hs, h[, c])
    CASES[f"{_cell} no batch"] = (_rnn(_cell, 0, 3, 4, 5), [(0, 3, 5)] + [(0, 5)] * (_n - 1))
    CASES[f"{_cell} no features"] = (_rnn(_cell, 2, 3, 0, 5),
                                     [(2, 3, 5)] + [(2, 5)] * (_n - 1))
    CASES[f"{_cell} no units"] = (_rnn(_cell, 2, 3, 4, 0), [(2, 3, 0)] + [(2, 0)] * (_n - 1))
    CASES[f"{_cell} no steps"] = (_rnn(_cell, 2, 0, 4, 5),
                                  (ValueError, f"{_cell}: x must have at least one time step"))
CASES["elman_rnn float16"] = (_rnn("elman_rnn", 2, 3, 4, 5, H), [(2, 3, 5), (2, 5)])
for _cell in ("lstm", "gru"):
    CASES[f"{_cell} float16"] = (_rnn(_cell, 2, 3, 4, 5, H),
                                 (TypeError, f"{_cell}: the fused kernels .* got float16"))


@pytest.mark.parametrize("case", sorted(CASES))
def test_op_works_or_fails_clearly_up_front(case):
    call, expected = CASES[case]
    if isinstance(expected, tuple):
        kind, pattern = expected
        with pytest.raises(kind, match=pattern) as err:
            call()
        assert len(traceback.extract_tb(err.value.__traceback__)) <= 8, "raised too deep"
        return
    out = call()
    outs = list(out) if isinstance(out, tuple) else [out]
    assert [o.shape for o in outs] == expected
    total = None
    for o in outs:
        term = (o * o).sum()
        total = term if total is None else total + term
    total.backward()                                       # the backward works too


#: layers whose ops have no Numba kernel, or fall back to a NumPy twin, in float16
FLOAT16_LAYERS = {
    "Embedding": (lambda: tn.layers.Embedding(10, 3, dtype="float16"), np.ones((2, 4), int)),
    "SimpleRNN": (lambda: tn.layers.SimpleRNN(3, dtype="float16"), np.ones((2, 4, 3), H)),
    "LayerNormalization": (lambda: tn.layers.LayerNormalization(dtype="float16"),
                           np.ones((2, 4, 3), H)),
    "MaxPooling1D": (lambda: tn.layers.MaxPooling1D(dtype="float16"), np.ones((2, 4, 3), H)),
    "GlobalMaxPooling1D": (lambda: tn.layers.GlobalMaxPooling1D(dtype="float16"),
                           np.ones((2, 4, 3), H)),
    "TokenAndPositionEmbedding": (lambda: tn.layers.TokenAndPositionEmbedding(
        10, 8, 4, dtype="float16"), np.ones((2, 4), int)),
}


@pytest.mark.parametrize("name", sorted(FLOAT16_LAYERS))
def test_layers_that_support_float16_run_it_forward_and_backward(name):
    make, x = FLOAT16_LAYERS[name]
    layer = make()
    xt = tn.tensor(x, requires_grad=True) if x.dtype.kind == "f" else x
    out = layer(xt, training=True)
    assert out.dtype == np.float16
    (out * out).sum().backward()
    assert all(p.grad is not None and p.grad.dtype == np.float16 for p in layer.weights)


@pytest.mark.parametrize("make", [
    lambda d: tn.layers.Dense(3, dtype=d), lambda d: tn.layers.Conv1D(3, 2, dtype=d),
    lambda d: tn.layers.LSTM(3, dtype=d), lambda d: tn.layers.GRU(3, dtype=d),
    lambda d: tn.layers.MultiHeadAttention(2, 4, dtype=d),
    lambda d: tn.layers.TransformerEncoder(8, 2, dtype=d),
    lambda d: tn.layers.TransformerDecoder(8, 2, dtype=d)],
    ids=["Dense", "Conv1D", "LSTM", "GRU", "MultiHeadAttention", "TransformerEncoder",
         "TransformerDecoder"])
def test_layers_with_numba_kernels_refuse_float16_when_created(make):
    with pytest.raises(TypeError, match=r"computes in float32 or float64 .* got "
                                        r"dtype='float16'"):
        make("float16")
    make("float64")


@pytest.mark.parametrize("dtype, pattern", [
    ("int32", "dtype is the dtype of the layer's weights and must be a floating-point"),
    ("floatx", "dtype must be a NumPy dtype name"),
    (object, "dtype is the dtype of the layer's weights and must be a floating-point")])
def test_a_bad_layer_dtype_is_refused_when_the_layer_is_created(dtype, pattern):
    with pytest.raises(TypeError, match=f"Dense: {pattern}"):
        tn.layers.Dense(3, dtype=dtype)


def test_layers_without_weights_keep_any_numeric_dtype():
    tn.layers.Flatten(dtype="int32")
    tn.Input(shape=(4,), dtype="int32")
