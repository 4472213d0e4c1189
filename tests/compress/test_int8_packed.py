"""The int8 layers' VNNI path (packed weights) gives exactly the portable path's outputs,
and a pack never outlives the codes it was made from."""

import numpy as np
import pytest

from tinynlp import compress as C
from tinynlp.compress.quantization import layers as QL
from tinynlp.kernels import int8_gemm as G
from tinynlp.layers.convolutional import Conv1D
from tinynlp.layers.core import Dense
from tinynlp.layers.recurrent import GRU, LSTM, SimpleRNN

pytestmark = pytest.mark.skipif(not G.vnni_available(), reason="the packed path needs VNNI")

X = np.random.default_rng(3).standard_normal((5, 7, 6)).astype(np.float32)


def _portable(monkeypatch, q, x):
    """``q(x)`` with the packed path switched off."""
    with monkeypatch.context() as m:
        m.setattr(QL, "vnni_available", lambda: False)
        out = q(x)
    return out if isinstance(out, list) else [out]


@pytest.mark.parametrize("make", [
    lambda: Dense(9, activation="relu"),
    lambda: Conv1D(70, 3, padding="same"),
    lambda: SimpleRNN(5, return_sequences=True),
    lambda: LSTM(6, return_sequences=True),
    lambda: GRU(4),
], ids=["dense", "conv", "rnn", "lstm", "gru"])
@pytest.mark.parametrize("static", [False, True], ids=["dynamic", "calibrated"])
def test_packed_path_equals_portable_path_exactly(monkeypatch, make, static):
    layer = make()
    layer(X)
    q = C.quantize_dynamic(layer)
    if static:
        q = C.calibrate(q, X)
    fast = q(X)
    fast = fast if isinstance(fast, list) else [fast]
    assert q.__dict__.get("_int8_packs"), "the packed path did not run"
    for a, b in zip(fast, _portable(monkeypatch, q, X)):
        np.testing.assert_array_equal(a.data, b.data)


def test_changed_codes_are_repacked(monkeypatch):
    layer = Dense(20)
    x = X[:, 0]
    layer(x)
    q = C.quantize_dynamic(layer)
    before = q(x).data.copy()
    weights = q.get_weights()
    weights[0] = -weights[0]                   # kernel_q: through set_weights
    q.set_weights(weights)
    after = q(x).data
    np.testing.assert_array_equal(after, _portable(monkeypatch, q, x)[0].data)
    assert not np.array_equal(after, before)
    q.kernel_q.data[3, 1] = 77                 # an in-place write to one code
    np.testing.assert_array_equal(q(x).data, _portable(monkeypatch, q, x)[0].data)
