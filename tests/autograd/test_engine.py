"""The backward engine: accumulation, shared subgraphs, long chains,
retain_graph, no_grad, dtypes and errors."""

import numpy as np
import pytest

import tinynlp as tn
from tinynlp.autograd import Function


def test_reused_node_accumulates():
    x = tn.tensor(np.array([2.0]), requires_grad=True)
    y = x * x          # used twice below
    z = y + y * 3.0    # dz/dx = 4 * 2x
    z.sum().backward()
    np.testing.assert_allclose(x.grad, [16.0])


def test_shared_subgraph_diamond():
    x = tn.tensor(np.array([0.3, -0.7]), requires_grad=True)
    h = x.tanh()
    out = (h * 2.0 + h.exp() + h * h).sum()
    out.backward()
    t = np.tanh(x.data)
    expected = (2.0 + np.exp(t) + 2 * t) * (1 - t * t)
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)


def test_gradients_accumulate_until_zero_grad():
    x = tn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * 3.0).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, [6.0, 6.0])
    x.zero_grad()
    assert x.grad is None
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 3.0])


def test_two_thousand_step_chain_does_not_recurse():
    x = tn.tensor(np.array([0.5]), requires_grad=True)
    h = x
    for _ in range(2000):
        h = (h * 0.999).tanh() + 0.001
    h.sum().backward()
    assert np.isfinite(x.grad).all() and x.grad[0] != 0.0


def test_second_backward_through_freed_graph_raises():
    x = tn.tensor(np.array([1.0]), requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = tn.tensor(np.array([1.5]), requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, [6.0])


def test_non_scalar_backward_needs_gradient():
    x = tn.tensor(np.arange(3.0), requires_grad=True)
    y = x * 2.0
    with pytest.raises(ValueError, match="non-scalar"):
        y.backward()
    y.backward(np.array([1.0, 0.0, -1.0]))
    np.testing.assert_allclose(x.grad, [2.0, 0.0, -2.0])


def test_backward_gradient_shape_checked():
    x = tn.tensor(np.arange(3.0), requires_grad=True)
    with pytest.raises(ValueError, match=r"\(3,\)"):
        (x * 2.0).backward(np.ones(4))


def test_no_grad_builds_no_graph_and_detach_cuts():
    x = tn.tensor(np.ones(2), requires_grad=True)
    with tn.no_grad():
        y = x * 2.0
        with tn.enable_grad():
            z = x * 3.0
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad
    d = (x * 2.0).detach()
    assert not d.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_retain_grad_on_intermediate():
    x = tn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = (x * 2.0).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * h.data)


def test_dtypes_float32_default_float64_kept():
    assert tn.tensor([1.0, 2.0]).dtype == np.float32
    assert tn.tensor(1.5).dtype == np.float32
    assert tn.tensor(np.zeros(2)).dtype == np.float64
    assert tn.tensor([1, 2]).dtype == np.int64
    x32 = tn.tensor(np.ones(2, np.float32), requires_grad=True)
    assert (x32 * 2.5 + 1).dtype == np.float32        # scalars never upcast
    x64 = tn.tensor(np.ones(2), requires_grad=True)
    y = x32 * x64                                     # promotes, never downcasts
    assert y.dtype == np.float64
    y.sum().backward()
    assert x32.grad.dtype == np.float32 and x64.grad.dtype == np.float64


def test_integer_tensors_are_not_differentiable():
    with pytest.raises(TypeError, match="floating-point"):
        tn.tensor([1, 2, 3], requires_grad=True)
    ids = tn.tensor(np.array([1, 2, 3]))
    with pytest.raises(TypeError, match="int64"):
        ids.exp()


def test_matmul_shape_mismatch_names_shapes():
    a = tn.tensor(np.ones((2, 3)), requires_grad=True)
    b = tn.tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\).*\(3\).*\(4\)"):
        a @ b


def test_reshape_error_names_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)"):
        tn.tensor(np.ones((2, 3))).reshape(4)


def test_multi_output_function_with_one_output_unused():
    class SplitHalf(Function):
        """(a, b) = (x[:n], 2·x[n:]);  dL/dx = [g_a, 2·g_b]"""

        @staticmethod
        def forward(ctx, x):
            n = len(x) // 2
            ctx.n = n
            return x[:n].copy(), 2.0 * x[n:]

        @staticmethod
        def backward(ctx, ga, gb):
            return np.concatenate([ga, 2.0 * gb])

    x = tn.tensor(np.arange(4.0), requires_grad=True)
    a, b = SplitHalf.apply(x)
    b.sum().backward()
    np.testing.assert_allclose(x.grad, [0.0, 0.0, 2.0, 2.0])


def test_ndarray_on_the_left_defers_to_tensor():
    x = tn.tensor(np.ones(3), requires_grad=True)
    y = np.full(3, 2.0) * x
    assert isinstance(y, tn.Tensor)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 2.0)


def test_leaf_grads_collects_apart_from_grad():
    """backward(leaf_grads=d) puts each leaf's gradient in d (as Σ over its uses, the same
    numbers .grad gets), leaves .grad alone, and never hands out an array it shares."""
    W = tn.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    b = tn.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    x = np.array([[1.0, -2.0], [0.5, 3.0]])

    def loss():
        h = tn.tensor(x) @ W + b
        return (h * h).sum() + (W * 2.0).sum()     # W used twice

    loss().backward()
    want = {"W": W.grad.copy(), "b": b.grad.copy()}
    W.grad = b.grad = None
    got = {}
    loss().backward(leaf_grads=got)
    assert W.grad is None and b.grad is None
    assert set(got) == {id(W), id(b)}
    np.testing.assert_allclose(got[id(W)][1], want["W"], rtol=1e-15)
    np.testing.assert_allclose(got[id(b)][1], want["b"], rtol=1e-15)
    assert got[id(W)][0] is W
    # a leaf that is the root: its gradient is a copy of the seed
    seed = np.ones(3)
    b.backward(seed, leaf_grads=got)
    np.testing.assert_allclose(got[id(b)][1], want["b"] + 1.0)
    assert not np.shares_memory(got[id(b)][1], seed)
    # a view handed back by an op (reshape's backward) is copied
    v = tn.tensor(np.ones(4), requires_grad=True)
    g = np.arange(4.0).reshape(2, 2)
    views = {}
    v.reshape((2, 2)).backward(g, leaf_grads=views)
    assert not np.shares_memory(views[id(v)][1], g)
