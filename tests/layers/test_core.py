"""Dense, Embedding, Activation, Flatten, Reshape, Concatenate."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinynlp as tn
from tests.helpers import check_grad, t64
from tests.layers._util import config_round_trip, gradcheck_layer, rnd
from tinynlp.autograd.tensor import RowSparseGrad

L = tn.layers


# ---------------------------------------------------------------- Dense
@pytest.mark.parametrize("activation", [None, "tanh", "sigmoid", "relu", "softmax"])
def test_dense_gradcheck(activation):
    layer = L.Dense(3, activation=activation, dtype="float64")
    gradcheck_layer("layers.Dense", layer, rnd(4, 5, seed=1))


def test_dense_gradcheck_3d_input_no_bias():
    layer = L.Dense(2, use_bias=False, dtype="float64")
    gradcheck_layer("layers.Dense", layer, rnd(2, 3, 4, seed=2))
    assert [w.shape for w in layer.weights] == [(4, 2)]


@given(lead=st.lists(st.integers(1, 3), min_size=1, max_size=3), d=st.integers(1, 5),
       units=st.integers(1, 4))
def test_dense_any_rank_shape(lead, d, units):
    layer = L.Dense(units)
    x = rnd(*lead, d)
    y = layer(x)
    assert y.shape == (*lead, units)
    assert layer.compute_output_shape((None, *lead[1:], d)) == (None, *lead[1:], units)
    np.testing.assert_allclose(y.data, x.astype(np.float32) @ layer.kernel.data, rtol=1e-5,
                               atol=1e-6)


def test_dense_weights_order_and_values():
    layer = L.Dense(3, activation="relu", input_shape=(4,))
    layer.build((None, 4))
    kernel, bias = layer.get_weights()
    assert kernel.shape == (4, 3) and bias.shape == (3,)
    assert layer.kernel.dtype == np.float32
    assert np.all(bias == 0)
    limit = np.sqrt(6 / 7)
    assert np.all(np.abs(kernel) <= limit)
    x = rnd(5, 4).astype(np.float32)
    np.testing.assert_allclose(layer(x).data, np.maximum(x @ kernel + bias, 0), rtol=1e-6)


def test_dense_input_dim_and_config():
    layer = L.Dense(3, input_dim=4, kernel_regularizer="l1")
    assert layer.input_shape == (4,)
    clone = config_round_trip(layer)
    assert clone.input_shape == (4,) and clone.kernel_regularizer == tn.regularizers.L1(0.01)


def test_dense_errors():
    layer = L.Dense(3)
    layer(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"4 features.*shape \(2, 5\)"):
        layer(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="rank 2 or more"):
        layer(np.zeros(4))
    with pytest.raises(ValueError, match="units"):
        L.Dense(0)
    with pytest.raises(ValueError, match="unknown activation"):
        L.Dense(3, activation="nope")
    with pytest.raises(ValueError, match="initializer"):
        L.Dense(3, kernel_initializer="nope")


def test_dense_keeps_float64():
    layer = L.Dense(2, dtype="float64")
    y = layer(rnd(3, 4))
    assert y.dtype == np.float64 and layer.kernel.dtype == np.float64


# ---------------------------------------------------------------- Embedding
def test_embedding_gradcheck_repeated_ids():
    layer = L.Embedding(6, 3, dtype="float64")
    ids = np.array([[1, 2, 1], [5, 1, 0]])
    gradcheck_layer("layers.Embedding", layer, ids, input_grad=False)


def test_embedding_lookup_and_shape():
    layer = L.Embedding(10, 4, input_length=3)
    ids = np.array([[1, 2, 3], [4, 0, 9]])
    out = layer(ids)
    assert out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out.data[1, 2], layer.embeddings.data[9])
    assert layer.compute_output_shape((None, 3)) == (None, 3, 4)
    assert layer.input_shape == (3,)
    assert np.all(np.abs(layer.embeddings.data) <= 0.05)


def test_embedding_accepts_whole_float_ids_and_int_tensors():
    layer = L.Embedding(5, 2)
    a = layer(np.array([[1.0, 4.0]]))
    b = layer(tn.tensor(np.array([[1, 4]])))
    np.testing.assert_array_equal(a.data, b.data)
    with pytest.raises(TypeError, match="integer token ids"):
        layer(np.array([[1.5, 2.0]]))


def test_embedding_mask_zero():
    layer = L.Embedding(5, 2, mask_zero=True)
    ids = np.array([[3, 1, 0, 0], [2, 0, 0, 0]])
    np.testing.assert_array_equal(layer.compute_mask(ids), ids != 0)
    assert L.Embedding(5, 2).compute_mask(ids) is None


@pytest.mark.parametrize("bad", [7, -1])
def test_embedding_out_of_range_ids_error_reaches_user(bad):
    layer = L.Embedding(7, 2)
    with pytest.raises(ValueError, match=rf"id {bad}\b.*V=7"):
        layer(np.array([[0, bad]]))


def test_embedding_pretrained_and_frozen():
    matrix = rnd(6, 3, seed=3)
    layer = L.Embedding(6, 3, weights=[matrix], trainable=False)
    out = layer(np.array([[2, 5]]))
    np.testing.assert_allclose(out.data[0, 1], matrix[5].astype(np.float32))
    assert layer.embeddings.dtype == np.float32
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 1
    # a frozen table receives no gradient, while the graph still reaches other leaves
    w = tn.tensor(np.ones((3,), dtype=np.float32), requires_grad=True)
    (layer(np.array([[1, 2]])) * w).sum().backward()
    assert layer.embeddings.grad is None
    assert w.grad is not None
    np.testing.assert_allclose(layer.get_weights()[0], matrix.astype(np.float32))


def test_embedding_pretrained_wrong_shape():
    with pytest.raises(ValueError, match=r"\(6, 3\), got \(6, 4\)"):
        L.Embedding(6, 3, weights=[np.zeros((6, 4))])
    with pytest.raises(ValueError, match="one"):
        L.Embedding(6, 3, weights=[np.zeros((6, 3)), np.zeros(3)])


def test_embedding_sparse_gradient():
    layer = L.Embedding(8, 2, sparse=True, dtype="float64")
    ids = np.array([[1, 3, 1]])
    assert layer(ids).shape == (1, 3, 2)
    assert layer.embeddings.sparse
    out = layer(ids)
    g = rnd(1, 3, 2, seed=4)
    out.backward(g)
    grad = layer.embeddings.grad
    assert isinstance(grad, RowSparseGrad)
    dense = np.zeros((8, 2))
    np.add.at(dense, ids.reshape(-1), g.reshape(-1, 2))
    np.testing.assert_allclose(grad.to_dense(), dense)


def test_embedding_config_keeps_input_dim():
    layer = L.Embedding(100, 8, mask_zero=True, input_length=20, sparse=True)
    clone = config_round_trip(layer)
    assert clone.input_dim == 100 and clone.mask_zero and clone.input_shape == (20,)


# ---------------------------------------------------------------- small layers
def test_activation_flatten_reshape_concatenate():
    x = rnd(2, 3, 4)
    y = L.Activation("relu")(x)
    np.testing.assert_allclose(y.data, np.maximum(x, 0).astype(np.float32))
    f = L.Flatten()
    assert f(x).shape == (2, 12)
    assert f.compute_output_shape((None, 3, 4)) == (None, 12)
    assert f.compute_output_shape((None, None, 4)) == (None, None)
    r = L.Reshape((4, -1))
    assert r(x).shape == (2, 4, 3)
    assert r.compute_output_shape((None, 3, 4)) == (None, 4, 3)
    with pytest.raises(ValueError, match="cannot reshape 12"):
        L.Reshape((5,))(x)
    c = L.Concatenate()
    out = c([t64(x), t64(x[..., :2])])
    assert out.shape == (2, 3, 6)
    assert c.compute_output_shape([(None, 3, 4), (None, 3, 2)]) == (None, 3, 6)


def test_small_layers_gradcheck():
    x = t64(rnd(2, 3, 2))
    check_grad("layers.Flatten", lambda x: L.Flatten()(x), [x])
    check_grad("layers.Reshape", lambda x: L.Reshape((6,))(x), [x])
    check_grad("layers.Activation", lambda x: L.Activation("tanh", dtype="float64")(x), [x])
    y = t64(rnd(2, 3, 1, seed=1))
    check_grad("layers.Concatenate", lambda a, b: L.Concatenate(axis=-1)([a, b]), [x, y])
