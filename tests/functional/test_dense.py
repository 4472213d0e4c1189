import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinynlp as tn
from tinynlp import functional as F
from tests.helpers import check_grad, t64


@pytest.mark.parametrize("x_shape", [(4, 3), (2, 3, 3), (2, 1, 2, 3), (3,)])
@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck(x_shape, bias):
    rng = np.random.default_rng(0)
    x, W = t64(rng.standard_normal(x_shape)), t64(rng.standard_normal((3, 5)))
    b = t64(rng.standard_normal(5)) if bias else None
    inputs = [x, W] + ([b] if bias else [])
    check_grad("dense", lambda x, W, *b: F.dense(x, W, *b, activation="tanh"), inputs)


def test_formula():
    rng = np.random.default_rng(1)
    x, W, b = rng.standard_normal((2, 4, 3)), rng.standard_normal((3, 5)), rng.standard_normal(5)
    h = F.dense(tn.tensor(x), W, b, activation="sigmoid")
    assert h.shape == (2, 4, 5)
    np.testing.assert_allclose(h.data, 1 / (1 + np.exp(-(x @ W + b))), rtol=1e-12)


@given(lead=st.lists(st.integers(1, 4), min_size=1, max_size=3), n_in=st.integers(1, 5),
       n_out=st.integers(1, 5), bias=st.booleans(),
       act=st.sampled_from([None, "relu", "tanh", "softmax"]), seed=st.integers(0, 99))
def test_fused_equals_reference(lead, n_in, n_out, bias, act, seed):
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal(tuple(lead) + (n_in,))
    Ws = rng.standard_normal((n_in, n_out))
    bs = rng.standard_normal(n_out) if bias else None
    g = rng.standard_normal(tuple(lead) + (n_out,))
    results = []
    for fn in (F.dense, F.dense_reference):
        x, W = t64(xs), t64(Ws)
        b = t64(bs) if bias else None
        y = fn(x, W, b, activation=act)
        y.backward(g)
        results.append((y.data, x.grad, W.grad, None if b is None else b.grad))
    for a, r in zip(*results):
        if a is None:
            assert r is None
        else:
            np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-12)


def test_dtypes():
    rng = np.random.default_rng(2)
    x = tn.tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    W = tn.tensor(rng.standard_normal((3, 2)).astype(np.float32), requires_grad=True)
    b = tn.tensor(np.zeros(2, dtype=np.float32), requires_grad=True)
    y = F.dense(x, W, b)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == W.grad.dtype == b.grad.dtype == np.float32
    # a float64 bias is not silently cast down to float32
    y64 = F.dense(x, W, tn.tensor(np.full(2, 1e-12)))
    assert y64.dtype == np.float64


def test_errors():
    x = tn.tensor(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"x's last axis must equal W's first \(in_features=2\)"):
        F.dense(x, np.zeros((2, 5)))
    with pytest.raises(ValueError, match="W must be 2-D"):
        F.dense(x, np.zeros((3, 5, 1)))
    with pytest.raises(ValueError, match=r"b must have shape \(5,\)"):
        F.dense(x, np.zeros((3, 5)), np.zeros(4))
