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


# ---------------------------------------------------------------- frozen rows
FROZEN = np.array([False, True, False, True, False])   # rows 1 and 3 of a 5-row table


def test_frozen_rows_get_zero_gradient_and_the_others_the_full_one():
    rng = np.random.default_rng(2)
    data = rng.standard_normal((5, 3))
    g = rng.standard_normal((2, 4, 3))
    full, part = t64(data), t64(data)
    F.embedding(IDS, full).backward(g)
    y = F.embedding(IDS, part, frozen_rows=FROZEN)
    np.testing.assert_array_equal(y.data, data[IDS])          # the forward is unchanged
    y.backward(g)
    np.testing.assert_array_equal(part.grad[FROZEN], 0.0)
    np.testing.assert_allclose(part.grad[~FROZEN], full.grad[~FROZEN], rtol=1e-12)


def test_frozen_rows_are_left_out_of_the_sparse_gradient():
    rng = np.random.default_rng(3)
    data = rng.standard_normal((5, 3))
    g = rng.standard_normal((2, 4, 3))
    dense_t, sparse_t = t64(data), t64(data)
    F.embedding(IDS, dense_t, frozen_rows=FROZEN).backward(g)
    F.embedding(IDS, sparse_t, sparse=True, frozen_rows=FROZEN).backward(g)
    grad = sparse_t.grad
    assert isinstance(grad, RowSparseGrad)
    assert not np.isin(grad.indices, np.flatnonzero(FROZEN)).any()
    assert len(grad.indices) == int((~FROZEN[IDS]).sum())    # only the trainable positions
    np.testing.assert_allclose(grad.to_dense(), dense_t.grad, rtol=1e-12)


def test_gradcheck_of_the_trainable_rows():
    # the table = P @ T + C: the trainable rows T (a variable) placed by a 0/1 matrix P
    # among constant frozen rows C; finite differences in T see what the op must give T
    rng = np.random.default_rng(4)
    trainable = np.flatnonzero(~FROZEN)
    P = np.zeros((5, len(trainable)))
    P[trainable, np.arange(len(trainable))] = 1.0
    C = rng.standard_normal((5, 3)) * FROZEN[:, None]
    T = t64(rng.standard_normal((len(trainable), 3)))

    def fn(t):
        table = tn.tensor(P) @ t + tn.tensor(C)
        return F.embedding(IDS, table, frozen_rows=FROZEN)

    check_grad("embedding (frozen rows)", fn, [T])


@given(v=st.integers(1, 6), d=st.integers(1, 4),
       shape=st.lists(st.integers(1, 4), min_size=0, max_size=3), seed=st.integers(0, 99),
       sparse=st.booleans())
def test_frozen_rows_fused_equals_reference(v, d, shape, seed, sparse):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, v, tuple(shape))
    frozen = rng.random(v) < 0.5
    data = rng.standard_normal((v, d))
    g = rng.standard_normal(tuple(shape) + (d,))
    fused, ref = t64(data), t64(data)
    y = F.embedding(ids, fused, sparse=sparse, frozen_rows=frozen)
    y.backward(g)
    r = F.embedding_reference(ids, ref, frozen_rows=frozen)
    r.backward(g)
    np.testing.assert_allclose(y.data, r.data, rtol=1e-12)
    got = fused.grad.to_dense() if isinstance(fused.grad, RowSparseGrad) else fused.grad
    if got is None:                    # sparse, every looked-up row frozen
        got = np.zeros_like(data)
    np.testing.assert_allclose(got, ref.grad, rtol=1e-12, atol=1e-12)


def test_frozen_rows_as_indices_and_all_rows_frozen():
    rng = np.random.default_rng(5)
    data = rng.standard_normal((5, 3))
    g = rng.standard_normal((2, 4, 3))
    a, b = t64(data), t64(data)
    F.embedding(IDS, a, frozen_rows=FROZEN).backward(g)
    F.embedding(IDS, b, frozen_rows=[1, 3]).backward(g)
    np.testing.assert_array_equal(a.grad, b.grad)
    c = t64(data)
    F.embedding(IDS, c, sparse=True, frozen_rows=np.ones(5, bool)).backward(g)
    assert c.grad is None              # nothing to update: an optimizer skips the table
    d = t64(data)
    F.embedding(IDS, d, frozen_rows=np.ones(5, bool)).backward(g)
    np.testing.assert_array_equal(d.grad, 0.0)


def test_frozen_rows_errors_name_the_argument():
    table = np.zeros((5, 2))
    with pytest.raises(ValueError, match=r"frozen_rows as a boolean mask must have shape \(5,\).*\(4,\)"):
        F.embedding(np.array([1]), table, frozen_rows=np.zeros(4, bool))
    with pytest.raises(ValueError, match=r"frozen_rows contains id 5 .*V=5"):
        F.embedding(np.array([1]), table, frozen_rows=[0, 5])
    with pytest.raises(TypeError, match="frozen_rows must be a boolean mask"):
        F.embedding(np.array([1]), table, frozen_rows=[0.5])
