"""Leaves take ownership of gradients that an op marks as freshly allocated
(``Function.fresh_grads``) instead of copying them; everything else is copied."""

import numpy as np

import tinynlp as tn
from tinynlp import functional as F


def test_fresh_dense_weight_grad_is_owned_and_correct():
    x = tn.tensor(np.random.randn(4, 3))
    W = tn.tensor(np.random.randn(3, 2), requires_grad=True)
    b = tn.tensor(np.zeros(2), requires_grad=True)
    F.dense(x, W, b).sum().backward()
    np.testing.assert_allclose(W.grad, x.data.T @ np.ones((4, 2)))
    np.testing.assert_allclose(b.grad, [4.0, 4.0])
    # using W twice accumulates into a new array: the first grad is not mutated
    first = W.grad
    snapshot = first.copy()
    F.dense(x, W, b).sum().backward()
    np.testing.assert_allclose(W.grad, 2 * snapshot)
    np.testing.assert_array_equal(first, snapshot)


def test_shared_gradient_is_copied_for_each_leaf():
    """Add passes the same array to both inputs: each leaf must get its own copy."""
    a = tn.tensor(np.ones(3), requires_grad=True)
    b = tn.tensor(np.ones(3), requires_grad=True)
    (a + b).backward(np.array([1.0, 2.0, 3.0]))
    assert a.grad is not b.grad
    a.grad *= 10          # an in-place change (e.g. clipping) must not leak into b
    np.testing.assert_array_equal(b.grad, [1.0, 2.0, 3.0])


def test_embedding_table_grad_with_repeated_ids():
    table = tn.tensor(np.random.randn(5, 2), requires_grad=True)
    ids = np.array([[1, 1, 3]])
    F.embedding(ids, table).sum().backward()
    expected = np.zeros((5, 2))
    expected[1] = 2
    expected[3] = 1
    np.testing.assert_array_equal(table.grad, expected)
