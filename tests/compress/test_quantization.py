"""int8 quantization: error bounds, quantized layers against their float originals."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinynlp as tn
from tinynlp import compress as C
from tinynlp.functional.conv import conv1d_patches as im2col_1d
from tinynlp.layers.convolutional import Conv1D
from tinynlp.layers.core import Dense, Embedding
from tinynlp.layers.recurrent import GRU, LSTM, SimpleRNN

floats = st.floats(-1e3, 1e3, allow_nan=False, width=32)


@given(w=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
                    elements=floats),
       per_channel=st.booleans(), axis=st.sampled_from([0, -1]))
def test_round_trip_error_at_most_half_a_step(w, per_channel, axis):
    q, s = C.quantize_tensor(w, per_channel=per_channel, axis=axis)
    assert q.dtype == np.int8 and q.shape == w.shape and s.dtype == np.float32
    assert np.abs(q.astype(int)).max(initial=0) <= 127
    back = C.dequantize(q, s, axis=axis).astype(np.float64)
    if per_channel:
        assert s.shape == (w.shape[axis],)
        bound = np.expand_dims(s, tuple(i for i in range(w.ndim) if i != axis % w.ndim))
    else:
        assert s.shape == ()
        bound = s
    bound = bound.astype(np.float64) / 2 * (1 + 1e-5)
    assert np.all(np.abs(back - w) <= bound)


@pytest.mark.parametrize("per_channel", [False, True])
def test_subnormal_weights_get_a_positive_scale_and_round_trip(per_channel):
    # max|w| / 127 underflows to 0 (or rounds far down) in float32 for subnormal weights
    w = np.array([1e-45, 3e-43, -1e-44, 2.6e-43], np.float32)
    for v in (w[:1], w):
        q, s = C.quantize_tensor(v, per_channel=per_channel, axis=0)
        assert np.all(np.asarray(s) > 0)
        back = C.dequantize(q, s, axis=0).astype(np.float64)
        assert np.all(np.abs(back - v) <= np.asarray(s, np.float64) / 2)


def test_scale_is_max_abs_over_127_and_max_maps_to_127():
    w = np.array([[0.5, -2.54], [1.27, 0.0]], np.float32)
    q, s = C.quantize_tensor(w)
    assert s == np.float32(2.54 / 127)
    assert q[0, 1] == -127
    q, s = C.quantize_tensor(w, per_channel=True, axis=-1)
    np.testing.assert_allclose(s, [1.27 / 127, 2.54 / 127], rtol=1e-6)
    assert q[1, 0] == 127 and q[0, 1] == -127


def test_zero_tensor_and_zero_channel():
    q, s = C.quantize_tensor(np.zeros((2, 3), np.float32), per_channel=True)
    assert np.all(q == 0) and np.all(s == 1)
    q, s = C.quantize_tensor(np.zeros(4, np.float32))
    assert np.all(q == 0) and s == 1


def test_per_channel_beats_per_tensor_on_uneven_channels():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((64, 4)).astype(np.float32) * np.array([100, 1, 0.01, 1], np.float32)
    err_t, _ = C.quantization_error(w[:, 2:3] * 0 + w[:, 2:3], per_channel=False)
    q, s = C.quantize_tensor(w)
    per_tensor = np.abs(C.dequantize(q, s) - w)[:, 2].max()
    q, s = C.quantize_tensor(w, per_channel=True)
    per_channel = np.abs(C.dequantize(q, s) - w)[:, 2].max()
    assert per_channel < per_tensor / 100
    assert err_t <= s[2] / 2 * 1.0001


def test_bad_arguments():
    with pytest.raises(TypeError, match="floating"):
        C.quantize_tensor(np.arange(4))
    with pytest.raises(ValueError, match="axis"):
        C.quantize_tensor(np.zeros((2, 2), np.float32), per_channel=True, axis=2)
    with pytest.raises(ValueError, match="scale"):
        C.dequantize(np.zeros((2, 3), np.int8), np.ones(2, np.float32))
    with pytest.raises(TypeError, match="int8"):
        C.dequantize(np.zeros(3), 1.0)


# ---- quantized layers vs float layers ------------------------------------------------

def _rel_err(a, b):
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-6)


X = np.random.default_rng(1).standard_normal((3, 9, 5)).astype(np.float32)
MASK = np.ones((3, 9), bool)
MASK[1, 6:] = False
MASK[2, :3] = False


@pytest.mark.parametrize("make", [
    lambda: Dense(7, activation="relu"),
    lambda: Dense(7, use_bias=False),
    lambda: Conv1D(6, 3),
    lambda: Conv1D(6, 3, padding="same", activation="relu"),
    lambda: Conv1D(4, 2, padding="causal", dilation_rate=2),
    lambda: Conv1D(4, 3, strides=2, padding="same"),
    lambda: SimpleRNN(6, return_sequences=True),
    lambda: LSTM(6),
    lambda: LSTM(6, return_sequences=True, return_state=True, go_backwards=True),
    lambda: GRU(6, return_sequences=True),
    lambda: GRU(6, use_bias=False),
], ids=["dense-relu", "dense-nobias", "conv", "conv-same", "conv-causal-dil", "conv-stride",
        "rnn", "lstm", "lstm-back-state", "gru", "gru-nobias"])
def test_quantized_layer_close_to_float(make):
    layer = make()
    y = layer(X)
    q = C.quantize_dynamic(layer)
    assert type(q).__name__ == "Quantized" + type(layer).__name__
    assert any(p.dtype == np.int8 for p in q.weights)
    yq = q(X)
    ys, yqs = (y, yq) if isinstance(y, list) else ([y], [yq])
    for a, b in zip(ys, yqs):
        assert a.shape == b.shape and b.dtype == np.float32
        assert _rel_err(b.data, a.data) < 0.03
    if isinstance(layer, (SimpleRNN, LSTM, GRU)):
        y, yq = layer(X, mask=MASK), q(X, mask=MASK)
        ys, yqs = (y, yq) if isinstance(y, list) else ([y], [yq])
        for a, b in zip(ys, yqs):
            assert _rel_err(b.data, a.data) < 0.03
            if a.ndim == 3:  # padded steps output zeros in both
                np.testing.assert_array_equal(b.data[~MASK] == 0, a.data[~MASK] == 0)


def test_quantized_embedding_and_mask():
    emb = Embedding(40, 8, mask_zero=True)
    ids = np.random.default_rng(0).integers(0, 40, (4, 6))
    ids[0, 4:] = 0
    e = emb(ids)
    q = C.quantize_dynamic(emb)
    assert q.embeddings_q.dtype == np.int8 and q.embeddings_scale.shape == (40,)
    assert _rel_err(q(ids).data, e.data) < 0.01
    np.testing.assert_array_equal(q.compute_mask(ids), emb.compute_mask(ids))
    with pytest.raises(ValueError, match="out of range"):
        q(np.array([[40]]))


def test_quantized_dense_runs_int8_kernel_exactly():
    """The layer's output is exactly the int8 product rescaled: check against the twins."""
    from tinynlp.kernels import int8 as K
    layer = Dense(5)
    x = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
    layer(x)
    q = C.quantize_dynamic(layer)
    qx, sx = K.quantize_rows_reference(x)
    acc = K.int8_matmul_reference(qx, q.kernel_q.data)
    expected = K.rescale_reference(acc, sx, q.kernel_scale.data, q.bias.data)
    np.testing.assert_array_equal(q(x).data, expected)


def test_per_tensor_option():
    layer = Dense(5)
    layer(X[:, 0])
    q = C.quantize_dynamic(layer, per_channel=False)
    assert np.unique(q.kernel_scale.data).size == 1
    assert _rel_err(q(X[:, 0]).data, layer(X[:, 0]).data) < 0.03


def test_unbuilt_layer_is_refused():
    with pytest.raises(ValueError, match="not built"):
        C.quantize_dynamic(Dense(3))


def test_im2col_matches_float_conv_by_exact_gemm():
    rng = np.random.default_rng(0)
    for padding, stride, dil in [("valid", 1, 1), ("same", 2, 1), ("causal", 1, 3), ("same", 1, 2)]:
        conv = Conv1D(3, 3, strides=stride, padding=padding, dilation_rate=dil)
        x = rng.standard_normal((2, 11, 4)).astype(np.float32)
        y = conv(x).data
        cols = im2col_1d(x, 3, stride, dil, padding)
        z = cols @ conv.kernel.data.reshape(-1, 3) + conv.bias.data
        np.testing.assert_allclose(z, y, rtol=1e-5, atol=1e-5)


# ---- fake quantization ----------------------------------------------------------------

def test_fake_quantize_forward_is_on_grid_and_backward_is_straight_through():
    x = tn.tensor(np.array([-3.0, -0.26, 0.0, 0.31, 2.0, 5.0]), requires_grad=True)
    s = np.float32(2.0 / 127)
    y = C.FakeQuantize.apply(x, s)
    codes = y.data / np.float64(s)
    np.testing.assert_allclose(codes, np.rint(codes), atol=1e-6)
    assert y.data[0] == pytest.approx(-127 * float(s))
    assert y.data[-1] == pytest.approx(127 * float(s))
    g = np.arange(1.0, 7.0)
    y.backward(g)
    np.testing.assert_array_equal(x.grad, g * np.array([0, 1, 1, 1, 1, 0]))


def test_fake_quantize_equals_quantize_dequantize():
    w = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    for per_channel in (False, True):
        q, s = C.quantize_tensor(w, per_channel=per_channel)
        y = C.fake_quantize(tn.tensor(w), per_channel=per_channel)
        np.testing.assert_allclose(y.data, C.dequantize(q, s), rtol=1e-6, atol=1e-7)


def test_prepare_qat_uses_grid_weights_and_trains_the_float_ones():
    layer = Dense(3)
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    layer(x)
    before = layer.kernel.data.copy()
    C.prepare_qat(layer)
    y = layer(tn.tensor(x))
    q, s = C.quantize_tensor(before, per_channel=True)
    np.testing.assert_allclose(y.data, x @ C.dequantize(q, s) + layer.bias.data, rtol=1e-5,
                               atol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(layer.kernel.grad, x.T @ np.ones((5, 3)), rtol=1e-5)
    assert layer.kernel is not None and layer.kernel.data is not None
    C.strip_qat(layer)
    np.testing.assert_allclose(layer(x).data, x @ before + layer.bias.data, rtol=1e-5)


def test_calibrate_sets_static_scales():
    rng = np.random.default_rng(0)
    layer = LSTM(4)
    x = rng.standard_normal((8, 5, 3)).astype(np.float32)
    y = layer(x)
    q = C.quantize_dynamic(layer)
    assert not q.is_static
    C.calibrate(q, x, batch_size=4)
    assert q.is_static
    assert float(q.input_scale.data[0]) == pytest.approx(np.abs(x).max() / 127, rel=1e-6)
    assert 0 < float(q.state_scale.data[0]) <= 1 / 127 + 1e-7
    assert _rel_err(q(x).data, y.data) < 0.05
