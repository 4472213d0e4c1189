import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinynlp as tn
from tinynlp import functional as F
from tests.helpers import check_grad, t64

# ---------------------------------------------------------------- dropout


def test_identity_when_not_training_or_rate_zero():
    x = tn.tensor(np.ones((3, 4)), requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x


def test_inverted_scaling_and_gradient():
    x = t64(np.random.default_rng(0).standard_normal((50, 40)))
    y = F.dropout(x, 0.25, seed=7)
    kept = y.data != 0
    assert 0.65 < kept.mean() < 0.85
    np.testing.assert_allclose(y.data[kept], x.data[kept] / 0.75)
    g = np.random.default_rng(1).standard_normal(x.shape)
    y.backward(g)
    np.testing.assert_allclose(x.grad, g * kept / 0.75)


def test_expectation_is_preserved():
    x = tn.tensor(np.ones((200, 500), dtype=np.float32))
    y = F.dropout(x, 0.4)
    assert y.dtype == np.float32
    assert abs(float(y.data.mean()) - 1.0) < 0.02


def test_gradcheck_with_fixed_seed():
    x = t64(np.random.default_rng(2).standard_normal((4, 5)))
    check_grad("dropout", lambda x: F.dropout(x, 0.3, seed=11), [x])


def test_randomness_comes_from_tn_random():
    x = np.ones((8, 8), dtype=np.float32)
    tn.random.seed(5)
    a = F.dropout(x, 0.5).data
    b = F.dropout(x, 0.5).data
    tn.random.seed(5)
    assert np.array_equal(F.dropout(x, 0.5).data, a)
    assert not np.array_equal(a, b)                       # fresh mask each call
    assert np.array_equal(F.dropout(x, 0.5, seed=3).data, F.dropout(x, 0.5, seed=3).data)


def test_noise_shape_shares_the_mask():
    x = np.ones((4, 6, 3))
    y = F.dropout(x, 0.5, noise_shape=(None, 1, None), seed=0).data
    assert np.all(y == y[:, :1, :])                       # whole channels dropped
    with pytest.raises(ValueError, match="noise_shape"):
        F.dropout(x, 0.5, noise_shape=(4, 2, 3))


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, "0.5", None])
def test_rate_errors(rate):
    with pytest.raises(ValueError, match=r"rate must be a number in \[0, 1\)"):
        F.dropout(np.ones(3), rate)


# ---------------------------------------------------------------- layer norm


@pytest.mark.parametrize("shape,axis", [((3, 5), -1), ((2, 3, 4), -1), ((2, 3, 4), 1),
                                        ((2, 3, 4), (1, 2))])
def test_layer_norm_gradcheck(shape, axis):
    rng = np.random.default_rng(3)
    x = t64(rng.standard_normal(shape))
    axes = (axis,) if isinstance(axis, int) else axis
    pshape = tuple(shape[a] for a in axes)
    g, b = t64(rng.standard_normal(pshape)), t64(rng.standard_normal(pshape))
    check_grad("layer_norm", lambda x, g, b: F.layer_norm(x, g, b, axis=axis), [x, g, b])


def test_layer_norm_without_scale_or_shift():
    x = t64(np.random.default_rng(4).standard_normal((3, 4)))
    check_grad("layer_norm", lambda x: F.layer_norm(x, None, None), [x])
    y = F.layer_norm(x, None, None, eps=0.0).data
    np.testing.assert_allclose(y.mean(axis=-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=-1), 1, rtol=1e-10)


@given(lead=st.lists(st.integers(1, 4), min_size=1, max_size=2), d=st.integers(2, 6),
       eps=st.sampled_from([1e-3, 1e-5]), seed=st.integers(0, 99))
def test_layer_norm_fused_equals_reference(lead, d, eps, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(lead) + (d,)
    xs, gs, bs = rng.standard_normal(shape), rng.standard_normal(d), rng.standard_normal(d)
    cot = rng.standard_normal(shape)
    results = []
    for fn in (F.layer_norm, F.layer_norm_reference):
        x, g, b = t64(xs), t64(gs), t64(bs)
        y = fn(x, g, b, eps=eps)
        y.backward(cot)
        results.append((y.data, x.grad, g.grad, b.grad))
    for a, r in zip(*results):
        np.testing.assert_allclose(a, r, rtol=1e-9, atol=1e-10)


def test_layer_norm_float32_and_errors():
    x = tn.tensor(np.random.default_rng(5).standard_normal((2, 3)).astype(np.float32),
                  requires_grad=True)
    g = tn.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = F.layer_norm(x, g, np.zeros(3, dtype=np.float32))
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == g.grad.dtype == np.float32
    with pytest.raises(ValueError, match=r"gamma must have shape \(3,\).*got \(4,\)"):
        F.layer_norm(x, np.ones(4), None)
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        F.layer_norm(x, None, None, axis=2)
