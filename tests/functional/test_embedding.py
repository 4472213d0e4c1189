import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinynlp as tn
from tinynlp import functional as F
from tinynlp.autograd.tensor import RowSparseGrad
from tests.helpers import check_grad, t64

IDS = np.array([[0, 3, 3, 1], [3, 2, 0, 3]])   # repeated ids on purpose


def test_forward_is_row_lookup():
    table = np.arange(15.0).reshape(5, 3)
    out = F.embedding(IDS, tn.tensor(table))
    assert out.shape == (2, 4, 3)
    np.testing.assert_array_equal(out.data, table[IDS])


def test_gradcheck_dense_with_repeated_ids():
    rng = np.random.default_rng(0)
    check_grad("embedding", lambda t: F.embedding(IDS, t), [t64(rng.standard_normal((5, 3)))])


def test_gradient_sums_repeated_ids():
    table = tn.tensor(np.zeros((5, 2)), requires_grad=True)
    F.embedding(np.array([3, 3, 3, 1]), table).sum().backward()
    np.testing.assert_array_equal(table.grad[:, 0], [0, 1, 0, 3, 0])


def test_sparse_grad_densifies_to_the_dense_grad():
    rng = np.random.default_rng(1)
    data = rng.standard_normal((5, 3))
    g = rng.standard_normal((2, 4, 3))
    dense_t = t64(data)
    F.embedding(IDS, dense_t).backward(g)
    sparse_t = t64(data)
    F.embedding(IDS, sparse_t, sparse=True).backward(g)
    assert isinstance(sparse_t.grad, RowSparseGrad)
    assert sparse_t.grad.shape == (5, 3)
    assert len(sparse_t.grad.indices) == IDS.size          # no dense V x D work done
    np.testing.assert_allclose(sparse_t.grad.to_dense(), dense_t.grad, rtol=1e-12)
    np.testing.assert_allclose(sparse_t.grad.coalesce().to_dense(), dense_t.grad, rtol=1e-12)


def test_sparse_on_a_non_leaf_table_falls_back_to_dense():
    base = t64(np.ones((4, 2)))
    out = F.embedding(np.array([1, 1]), base * 2.0, sparse=True)
    out.sum().backward()
    np.testing.assert_array_equal(base.grad[:, 0], [0, 4, 0, 0])


@given(v=st.integers(1, 6), d=st.integers(1, 4),
       shape=st.lists(st.integers(1, 4), min_size=0, max_size=3), seed=st.integers(0, 99))
def test_fused_equals_one_hot_reference(v, d, shape, seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, v, tuple(shape))
    data = rng.standard_normal((v, d))
    g = rng.standard_normal(tuple(shape) + (d,))
    grads, outs = [], []
    for fn in (F.embedding, F.embedding_reference):
        t = t64(data)
        y = fn(ids, t)
        y.backward(g)
        outs.append(y.data)
        grads.append(t.grad)
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-12)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12, atol=1e-12)


def test_ids_may_be_int_tensor_or_list_and_dtype_is_kept():
    table = tn.tensor(np.ones((4, 2), dtype=np.float32), requires_grad=True)
    y = F.embedding(tn.tensor(np.array([1, 2], dtype=np.int32)), table)
    assert y.dtype == np.float32
    y.sum().backward()
    assert table.grad.dtype == np.float32
    np.testing.assert_array_equal(F.embedding([[0, 3]], table).data.shape, (1, 2, 2))


def test_errors_name_the_offending_id_position_and_vocab_size():
    table = np.zeros((10, 2))
    with pytest.raises(ValueError, match=r"id 10 at position \(1, 0\).*V=10"):
        F.embedding(np.array([[1, 2], [10, 3]]), table)
    with pytest.raises(ValueError, match=r"id -1 at position \(2,\).*V=10"):
        F.embedding(np.array([0, 1, -1]), table)
    with pytest.raises(TypeError, match="ids must be integers.*float64.*astype"):
        F.embedding(np.array([1.0, 2.0]), table)
    with pytest.raises(ValueError, match=r"table must be 2-D.*\(10,\)"):
        F.embedding(np.array([1]), np.zeros(10))
    with pytest.raises(TypeError, match="table must be floating point"):
        F.embedding(np.array([1]), np.zeros((10, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="id 10"):
        F.embedding_reference(np.array([10]), table)
