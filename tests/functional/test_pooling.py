import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinynlp as tn
from tinynlp import functional as F
from tests.helpers import check_grad, t64


def _windows(length, pool, stride, padding):
    """Index lists of each window inside the input (padding dropped), by Keras' rule."""
    pl, _, out_len = F.conv1d_padding(length, pool, stride, padding)
    return [[t for t in range(i * stride - pl, i * stride - pl + pool) if 0 <= t < length]
            for i in range(out_len)]


def _loop_pool(x, pool, stride, padding, reduce):
    wins = _windows(x.shape[1], pool, stride, padding)
    return np.stack([reduce(x[:, w, :], axis=1) for w in wins], axis=1)


GEOMS = list(itertools.product([1, 2, 3], [None, 1, 2, 3], ["valid", "same"]))


@pytest.mark.parametrize("pool,strides,padding", GEOMS)
def test_gradcheck_windowed(pool, strides, padding):
    rng = np.random.default_rng(0)
    x = t64(rng.standard_normal((2, 7, 2)))
    check_grad("max_pool1d", lambda x: F.max_pool1d(x, pool, strides, padding), [x])
    check_grad("avg_pool1d", lambda x: F.avg_pool1d(x, pool, strides, padding), [x])


@given(b=st.integers(1, 2), length=st.integers(1, 9), c=st.integers(1, 3),
       pool=st.integers(1, 4), strides=st.one_of(st.none(), st.integers(1, 4)),
       padding=st.sampled_from(["valid", "same"]), seed=st.integers(0, 99))
def test_matches_loop_over_windows(b, length, c, pool, strides, padding, seed):
    if padding == "valid" and length < pool:
        return
    x = np.random.default_rng(seed).standard_normal((b, length, c))
    s = pool if strides is None else strides
    np.testing.assert_allclose(F.max_pool1d(x, pool, strides, padding).data,
                               _loop_pool(x, pool, s, padding, np.max))
    np.testing.assert_allclose(F.avg_pool1d(x, pool, strides, padding).data,
                               _loop_pool(x, pool, s, padding, np.mean), rtol=1e-12)


def test_keras_defaults_and_shapes():
    x = np.arange(10.0).reshape(1, 10, 1)
    assert F.max_pool1d(x).shape == (1, 5, 1)                          # strides = pool_size
    assert F.max_pool1d(x, 3).shape == (1, 3, 1)                       # tail dropped
    assert F.max_pool1d(x, 3, padding="same").shape == (1, 4, 1)
    np.testing.assert_array_equal(F.avg_pool1d(x, 3, padding="same").data.ravel(),
                                  [0.5, 3, 6, 8.5])  # one zero padded each side, not counted


def test_max_ties_send_gradient_to_the_first_maximum():
    x = t64(np.array([[[1.0], [3.0], [3.0], [0.0]]]))
    F.max_pool1d(x, 4).sum().backward()
    np.testing.assert_array_equal(x.grad.ravel(), [0, 1, 0, 0])
    x = t64(np.array([[[2.0, 5.0], [2.0, 5.0]]]))
    F.global_max_pool1d(x).sum().backward()
    np.testing.assert_array_equal(x.grad[0], [[1, 1], [0, 0]])


def test_overlapping_max_windows_accumulate():
    x = t64(np.array([[[0.0], [5.0], [1.0], [2.0]]]))
    F.max_pool1d(x, 2, strides=1).sum().backward()     # windows [0,5] [5,1] [1,2]
    np.testing.assert_array_equal(x.grad.ravel(), [0, 2, 0, 1])


MASK = np.array([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], dtype=bool)


@pytest.mark.parametrize("mask", [None, MASK])
def test_gradcheck_global(mask):
    x = t64(np.random.default_rng(1).standard_normal((3, 5, 2)))
    check_grad("global_max_pool1d", lambda x: F.global_max_pool1d(x, mask), [x])
    check_grad("global_avg_pool1d", lambda x: F.global_avg_pool1d(x, mask), [x])


def test_global_pooling_ignores_padded_steps():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 5, 2))
    x[~MASK] = 100.0                                    # padded steps hold junk
    gmax = F.global_max_pool1d(x, MASK).data
    gavg = F.global_avg_pool1d(x, MASK).data
    np.testing.assert_allclose(gmax[0], x[0, :3].max(axis=0))
    np.testing.assert_allclose(gmax[1], x[1, 0])
    np.testing.assert_allclose(gavg[0], x[0, :3].mean(axis=0))
    np.testing.assert_allclose(gavg[1], x[1, 0])
    np.testing.assert_array_equal(gmax[2], 0.0)         # nothing valid: 0
    np.testing.assert_array_equal(gavg[2], 0.0)
    xt = t64(x)
    (F.global_max_pool1d(xt, MASK).sum() + F.global_avg_pool1d(xt, MASK).sum()).backward()
    assert np.all(xt.grad[~MASK] == 0)


def test_global_without_mask():
    x = np.random.default_rng(3).standard_normal((2, 4, 3))
    np.testing.assert_allclose(F.global_max_pool1d(x).data, x.max(axis=1))
    np.testing.assert_allclose(F.global_avg_pool1d(x).data, x.mean(axis=1))
    x32 = tn.tensor(x.astype(np.float32), requires_grad=True)
    for fn in (F.global_max_pool1d, F.global_avg_pool1d, F.max_pool1d, F.avg_pool1d):
        y = fn(x32)
        assert y.dtype == np.float32
        y.sum().backward()
        assert x32.grad.dtype == np.float32


def test_errors():
    with pytest.raises(ValueError, match=r"x must be 3-D.*\(4, 3\)"):
        F.max_pool1d(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"x must be 3-D"):
        F.global_avg_pool1d(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"max_pool1d: pool window longer than the input.*L=2"):
        F.max_pool1d(np.zeros((1, 2, 1)), 3)
    with pytest.raises(ValueError, match="pool_size must be >= 1"):
        F.avg_pool1d(np.zeros((1, 2, 1)), 0)
    with pytest.raises(ValueError, match="'valid' or 'same'"):
        F.max_pool1d(np.zeros((1, 4, 1)), padding="causal")
    with pytest.raises(ValueError, match=r"mask must have shape \(batch, steps\) = \(3, 5\)"):
        F.global_max_pool1d(np.zeros((3, 5, 2)), np.ones((3, 4), bool))
    with pytest.raises(ValueError, match="mask must be boolean"):
        F.global_avg_pool1d(np.zeros((1, 2, 1)), np.array([[0.5, 1.0]]))
