"""Conv1D and the pooling layers."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinynlp as tn
from tests.helpers import check_grad, t64
from tests.layers._util import config_round_trip, gradcheck_layer, rnd

L = tn.layers


@pytest.mark.parametrize("kw", [
    {},
    {"padding": "same", "activation": "relu"},
    {"padding": "causal", "dilation_rate": 2, "activation": "tanh"},
    {"strides": 2, "use_bias": False},
])
def test_conv1d_gradcheck(kw):
    layer = L.Conv1D(3, 3, dtype="float64", **kw)
    gradcheck_layer("layers.Conv1D", layer, rnd(2, 7, 2, seed=1))


def test_conv1d_matches_cross_correlation_formula():
    layer = L.Conv1D(4, 3, dtype="float64")
    x = rnd(2, 6, 3, seed=2)
    y = layer(x).data
    W, b = layer.get_weights()
    ref = np.stack([np.einsum("bkc,kcf->bf", x[:, i:i + 3], W) for i in range(4)], axis=1) + b
    np.testing.assert_allclose(y, ref, rtol=1e-12)


@given(length=st.integers(1, 12), k=st.integers(1, 4), s=st.integers(1, 3),
       padding=st.sampled_from(["valid", "same", "causal"]), filters=st.integers(1, 3))
def test_conv1d_output_shape(length, k, s, padding, filters):
    layer = L.Conv1D(filters, k, strides=s, padding=padding)
    if padding == "valid" and k > length:
        with pytest.raises(ValueError, match="spans"):
            layer(rnd(2, length, 2))
        return
    y = layer(rnd(2, length, 2))
    assert y.shape == layer.compute_output_shape((2, length, 2))
    expected = (length - k) // s + 1 if padding == "valid" else -(-length // s)
    assert y.shape == (2, expected, filters)
    assert layer.compute_output_shape((None, None, 2)) == (None, None, filters)


def test_conv1d_errors():
    layer = L.Conv1D(4, 5)
    with pytest.raises(ValueError, match=r"kernel spans 5 steps.*only 3 steps"):
        layer(np.zeros((1, 3, 2)))
    layer(np.zeros((1, 8, 2)))
    with pytest.raises(ValueError, match=r"2 channels.*\(1, 8, 3\)"):
        layer(np.zeros((1, 8, 3)))
    with pytest.raises(ValueError, match=r"rank 3 \(batch, steps, channels\), got shape \(8, 2\)"):
        layer(np.zeros((8, 2)))
    with pytest.raises(ValueError, match="padding"):
        L.Conv1D(4, 3, padding="full")
    with pytest.raises(ValueError, match="kernel_size"):
        L.Conv1D(4, 0)


def test_conv1d_weights_and_config():
    layer = L.Conv1D(64, 3, activation="relu", input_shape=(100, 1))
    layer.build((None, 100, 1))
    assert [w.shape for w in layer.get_weights()] == [(3, 1, 64), (64,)]
    assert layer.count_params() == 3 * 64 + 64
    clone = config_round_trip(layer)
    assert clone.kernel_size == 3 and clone.activation == "relu"


# ---------------------------------------------------------------- pooling
@pytest.mark.parametrize("cls", [L.MaxPooling1D, L.AveragePooling1D])
@pytest.mark.parametrize("kw", [{}, {"pool_size": 3, "strides": 1}, {"padding": "same"}])
def test_pooling_gradcheck(cls, kw):
    x = t64(rnd(2, 7, 3, seed=3))
    layer = cls(**kw)
    check_grad(f"layers.{cls.__name__}", lambda x: layer(x), [x])


@given(length=st.integers(1, 10), pool=st.integers(1, 4),
       strides=st.one_of(st.none(), st.integers(1, 3)), padding=st.sampled_from(["valid", "same"]))
def test_pooling_output_shape(length, pool, strides, padding):
    layer = L.MaxPooling1D(pool, strides=strides, padding=padding)
    if padding == "valid" and pool > length:
        with pytest.raises(ValueError, match="pool_size"):
            layer(rnd(1, length, 2))
        return
    y = layer(rnd(1, length, 2))
    assert y.shape == layer.compute_output_shape((1, length, 2))


def test_max_pooling_values():
    x = np.array([[[1.0], [3.0], [2.0], [0.0], [5.0]]])
    np.testing.assert_array_equal(L.MaxPooling1D(2)(x).data[0, :, 0], [3.0, 2.0])
    np.testing.assert_array_equal(L.AveragePooling1D(2)(x).data[0, :, 0], [2.0, 1.0])


@pytest.mark.parametrize("cls", [L.GlobalMaxPooling1D, L.GlobalAveragePooling1D])
def test_global_pooling_gradcheck_masked(cls):
    x = t64(rnd(3, 5, 2, seed=4))
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 1, 1, 0]], dtype=bool)
    layer = cls()
    check_grad(f"layers.{cls.__name__}", lambda x: layer(x, mask=mask), [x])
    check_grad(f"layers.{cls.__name__}", lambda x: layer(x), [x])


def test_global_pooling_ignores_padding():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 6, 3))
    mask = np.array([[1, 1, 1, 0, 0, 0], [1] * 6], dtype=bool)
    x[0, 3:] = 100.0   # padding with huge values must not leak into the max or the mean
    mx = L.GlobalMaxPooling1D()(x, mask=mask).data
    av = L.GlobalAveragePooling1D()(x, mask=mask).data
    np.testing.assert_allclose(mx[0], x[0, :3].max(axis=0).astype(np.float32))
    np.testing.assert_allclose(av[0], x[0, :3].mean(axis=0).astype(np.float32), rtol=1e-6)
    np.testing.assert_allclose(av[1], x[1].mean(axis=0).astype(np.float32), rtol=1e-6)
    assert L.GlobalMaxPooling1D().compute_mask(x, mask) is None
    assert L.GlobalMaxPooling1D(keepdims=True)(x).shape == (2, 1, 3)
    assert L.GlobalAveragePooling1D().compute_output_shape((None, 6, 3)) == (None, 3)


def test_pooling_aliases_and_config():
    assert L.get_layer_class("MaxPool1D") is L.MaxPooling1D
    assert L.get_layer_class("GlobalAvgPool1D") is L.GlobalAveragePooling1D
    clone = config_round_trip(L.MaxPooling1D(3, strides=2, padding="same"))
    assert (clone.pool_size, clone.strides, clone.padding) == (3, 2, "same")
    config_round_trip(L.GlobalMaxPooling1D(keepdims=True))
