"""The activations' one home (kernels.activations), the fused-GEMM epilogue, and gelu
wherever an activation is named (F.dense, F.conv1d, Dense, Conv1D, Activation)."""

import warnings

import numpy as np
import pytest

import tinynlp as tn
from tests.helpers import check_grad, t64
from tinynlp import functional as F
from tinynlp import layers as L
from tinynlp.functional._checks import MaskError
from tinynlp.functional.epilogue import activate_, split_activation
from tinynlp.kernels.activations import (
    Act,
    activation_derivative,
    apply_activation_,
    sigmoid,
)


def test_act_names_and_lookup():
    assert Act.names() == ("linear", "relu", "sigmoid", "tanh")
    assert Act.of(None) is Act.LINEAR and Act.of("ReLU") is Act.RELU
    assert Act.of(Act.TANH) is Act.TANH
    assert Act.of("gelu") is None and Act.of(F.relu) is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_exact_and_never_overflows(dtype):
    x = np.array([-1000.0, -40.0, -3.0, 0.0, 2.5, 40.0, 1000.0], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # no overflow in exp
        y = sigmoid(x)
    assert y.dtype == dtype
    want = np.array([1 / (1 + np.exp(-float(v))) if v > -700 else 0.0 for v in x])
    np.testing.assert_allclose(y, want, rtol=1e-6 if dtype == np.float32 else 1e-15, atol=0)
    z = x.copy()
    assert sigmoid(z, out=z) is z
    np.testing.assert_array_equal(z, y)                  # in place: the same numbers


@pytest.mark.parametrize("act", list(Act))
def test_apply_and_derivative_from_the_output_match_autograd(act):
    rng = np.random.default_rng(int(act))
    z = rng.standard_normal((4, 5)) * 2
    h = apply_activation_(z.copy(), act)
    x = tn.tensor(z, requires_grad=True)
    y = F.get_activation(act.name.lower())(x)
    np.testing.assert_allclose(h, y.data, rtol=1e-15, atol=0)
    y.backward(np.ones_like(z))
    np.testing.assert_allclose(activation_derivative(h, act), x.grad, rtol=1e-12, atol=1e-15)


def test_split_activation_fuses_act_members_and_applies_the_rest_after():
    assert split_activation("tanh") == (Act.TANH, None)
    assert split_activation(None) == (Act.LINEAR, None)
    assert split_activation("gelu") == (Act.LINEAR, F.gelu)
    assert split_activation(F.silu) == (Act.LINEAR, F.silu)
    with pytest.raises(ValueError, match="unknown activation 'nope'"):
        split_activation("nope")
    z = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(activate_(z.copy(), "gelu"), F.gelu(tn.tensor(z)).data)


def test_gelu_by_name_in_dense_and_conv1d():
    rng = np.random.default_rng(0)
    x, W, b = t64(rng.standard_normal((3, 4))), t64(rng.standard_normal((4, 5))), t64(
        rng.standard_normal(5))
    got = F.dense(x, W, b, activation="gelu").data
    np.testing.assert_allclose(got, F.gelu(x @ W + b).data, rtol=1e-14)
    check_grad("dense", lambda x, W, b: F.dense(x, W, b, activation="gelu"), [x, W, b])
    xs, w = t64(rng.standard_normal((2, 6, 3))), t64(rng.standard_normal((3, 3, 4)))
    got = F.conv1d(xs, w, activation="gelu").data
    np.testing.assert_allclose(got, F.gelu(F.conv1d(xs, w)).data, rtol=1e-14)
    approx = F.gelu(tn.tensor(np.array([1.0])), approximate=True).data
    assert abs(approx[0] - F.gelu(tn.tensor(np.array([1.0]))).data[0]) < 1e-3   # Keras' flag


@pytest.mark.parametrize("make", [lambda: L.Dense(3, activation="gelu"),
                                  lambda: L.Conv1D(3, 2, activation="gelu"),
                                  lambda: L.Activation("gelu")])
def test_gelu_layers_compute_gelu_and_save_it_by_name(make):
    layer = make()
    x = np.random.default_rng(1).standard_normal((2, 5, 4)).astype(np.float32)
    y = layer(x)
    assert layer.get_config()["activation"] == "gelu"
    clone = type(layer).from_config(layer.get_config())
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x).data, y.data)
    linear = type(layer).from_config({**layer.get_config(), "activation": "linear"})
    linear(x)
    linear.set_weights(layer.get_weights())
    np.testing.assert_allclose(y.data, F.gelu(linear(x)).data, rtol=1e-6)


def test_one_mask_check_everywhere():
    """Layers, pooling, losses and the RNN ops reject a mask that is neither bool nor 0/1
    (the layers used to cast it silently) and accept 0/1 integers."""
    x = np.zeros((2, 3, 4), np.float32)
    half = np.full((2, 3), 0.5)
    for call in (lambda m: L.LSTM(2)(x, mask=m), lambda m: L.GlobalMaxPooling1D()(x, mask=m),
                 lambda m: F.global_avg_pool1d(x, m),
                 lambda m: F.mse(np.zeros((2, 3, 1)), np.zeros((2, 3, 1)), mask=m)):
        with pytest.raises(MaskError, match="mask must be boolean"):
            call(half)
        call(np.array([[1, 1, 0], [1, 0, 0]]))
    assert issubclass(MaskError, TypeError) and issubclass(MaskError, ValueError)
