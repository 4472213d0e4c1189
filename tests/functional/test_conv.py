import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinynlp as tn
from tinynlp import functional as F
from tests.helpers import check_grad, t64

COMBOS = list(itertools.product(["valid", "same", "causal"], [1, 2, 3], [1, 2]))


@pytest.mark.parametrize("padding,strides,dilation", COMBOS)
def test_gradcheck_every_padding_stride_dilation(padding, strides, dilation):
    rng = np.random.default_rng(0)
    x = t64(rng.standard_normal((2, 8, 2)))
    w = t64(rng.standard_normal((3, 2, 3)))
    b = t64(rng.standard_normal(3))
    check_grad("conv1d", lambda x, w, b: F.conv1d(x, w, b, strides, padding, dilation), [x, w, b])


def test_gradcheck_without_bias_and_reference():
    rng = np.random.default_rng(1)
    x, w = t64(rng.standard_normal((2, 5, 2))), t64(rng.standard_normal((2, 2, 2)))
    check_grad("conv1d", lambda x, w: F.conv1d(x, w, padding="same"), [x, w])
    check_grad("conv1d_reference", lambda x, w: F.conv1d_reference(x, w, padding="causal"),
               [x, w])
    check_grad("conv1d_flipped_reference", lambda x, w: F.conv1d_flipped_reference(x, w),
               [x, w])


def _direct_loop(x, w, b, s, padding, d):
    """The formula with plain Python loops over every index (an independent check)."""
    length, k = x.shape[1], w.shape[0]
    pl, pr, out_len = F.conv1d_padding(length, k, s, padding, d)
    xp = np.pad(x, ((0, 0), (pl, pr), (0, 0)))
    z = np.zeros((x.shape[0], out_len, w.shape[2]))
    for bb in range(x.shape[0]):
        for i in range(out_len):
            for f in range(w.shape[2]):
                z[bb, i, f] = b[f] + sum(xp[bb, i * s + kk * d, c] * w[kk, c, f]
                                         for kk in range(k) for c in range(w.shape[1]))
    return z


@given(b=st.integers(1, 2), length=st.integers(1, 9), c=st.integers(1, 3), k=st.integers(1, 4),
       f=st.integers(1, 3), s=st.integers(1, 3), d=st.integers(1, 3),
       padding=st.sampled_from(["valid", "same", "causal"]), seed=st.integers(0, 99))
def test_fused_equals_direct_loop_and_reference(b, length, c, k, f, s, d, padding, seed):
    if padding == "valid" and length < (k - 1) * d + 1:
        return
    rng = np.random.default_rng(seed)
    xs, ws, bs = (rng.standard_normal((b, length, c)), rng.standard_normal((k, c, f)),
                  rng.standard_normal(f))
    want = _direct_loop(xs, ws, bs, s, padding, d)
    results = []
    for fn in (F.conv1d, F.conv1d_reference):
        x, w, bias = t64(xs), t64(ws), t64(bs)
        z = fn(x, w, bias, strides=s, padding=padding, dilation_rate=d)
        np.testing.assert_allclose(z.data, want, rtol=1e-10, atol=1e-10)
        g = np.random.default_rng(seed + 1).standard_normal(z.shape)
        z.backward(g)
        results.append((x.grad, w.grad, bias.grad))
    for a, r in zip(*results):
        np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("length,k,s,d,padding,expected", [
    # (pad_left, pad_right, out_len) by TensorFlow's rule
    (10, 3, 1, 1, "same", (1, 1, 10)),
    (10, 4, 1, 1, "same", (1, 2, 10)),      # odd total: the extra zero goes on the right
    (10, 3, 3, 1, "same", (1, 1, 4)),
    (10, 2, 3, 1, "same", (0, 1, 4)),
    (10, 3, 1, 2, "same", (2, 2, 10)),
    (10, 3, 1, 2, "causal", (4, 0, 10)),
    (10, 3, 2, 1, "causal", (2, 0, 5)),
    (10, 3, 1, 1, "valid", (0, 0, 8)),
    (10, 3, 2, 2, "valid", (0, 0, 3)),
])
def test_padding_rules(length, k, s, d, padding, expected):
    assert F.conv1d_padding(length, k, s, padding, d) == expected


def test_causal_output_does_not_see_the_future():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 8, 2))
    w = rng.standard_normal((3, 2, 2))
    z1 = F.conv1d(x, w, padding="causal").data
    x2 = x.copy()
    x2[:, 5:] += 10.0                        # change the future only
    z2 = F.conv1d(x2, w, padding="causal").data
    np.testing.assert_allclose(z1[:, :5], z2[:, :5])
    assert not np.allclose(z1[:, 5:], z2[:, 5:])


@given(b=st.integers(1, 2), length=st.integers(1, 8), c=st.integers(1, 3), k=st.integers(1, 4),
       f=st.integers(1, 3), seed=st.integers(0, 99))
def test_textbook_convolution_equals_cross_correlation_with_reversed_kernel(b, length, c, k, f,
                                                                              seed):
    if length < k:
        return
    rng = np.random.default_rng(seed)
    x, w, bias = (rng.standard_normal((b, length, c)), rng.standard_normal((k, c, f)),
                  rng.standard_normal(f))
    flipped = F.conv1d_flipped_reference(x, w, bias)
    assert flipped.shape == (b, length - k + 1, f)
    np.testing.assert_allclose(flipped.data, F.conv1d(x, w[::-1], bias).data, rtol=1e-10,
                               atol=1e-10)


def test_textbook_formula_by_hand():
    # z_i = Σ_k x_{i−k+1} w_k:  x = 1 2 3 4, w = (w1, w2) = (10, 1)  →  z_2 = x2·w1 + x1·w2 = 21
    x = np.array([1.0, 2, 3, 4]).reshape(1, 4, 1)
    w = np.array([10.0, 1]).reshape(2, 1, 1)
    np.testing.assert_allclose(F.conv1d_flipped_reference(x, w).data.ravel(), [21, 32, 43])
    np.testing.assert_allclose(F.conv1d(x, w).data.ravel(), [12, 23, 34])  # cross-correlation


def test_float32_in_float32_out():
    rng = np.random.default_rng(4)
    x = tn.tensor(rng.standard_normal((2, 6, 3)).astype(np.float32), requires_grad=True)
    w = tn.tensor(rng.standard_normal((3, 3, 4)).astype(np.float32), requires_grad=True)
    b = tn.tensor(np.zeros(4, dtype=np.float32), requires_grad=True)
    z = F.conv1d(x, w, b, padding="same")
    assert z.dtype == np.float32
    z.sum().backward()
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32


def test_errors():
    x = np.zeros((2, 5, 3))
    w = np.zeros((3, 3, 4))
    with pytest.raises(ValueError, match=r"x must be 3-D.*\(5, 3\)"):
        F.conv1d(np.zeros((5, 3)), w)
    with pytest.raises(ValueError, match=r"w must be 3-D"):
        F.conv1d(x, np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"channel mismatch: x has 3 channels.*expects 2"):
        F.conv1d(x, np.zeros((3, 2, 4)))
    with pytest.raises(ValueError, match=r"kernel longer than the input.*L=5.*K=3, dilation_rate=3"):
        F.conv1d(x, w, dilation_rate=3)
    with pytest.raises(ValueError, match=r"L=2.*K=3"):
        F.conv1d(np.zeros((2, 2, 3)), w)
    with pytest.raises(ValueError, match=r"strides must be >= 1, got 0"):
        F.conv1d(x, w, strides=0)
    with pytest.raises(ValueError, match=r"dilation_rate must be >= 1"):
        F.conv1d(x, w, dilation_rate=0)
    with pytest.raises(ValueError, match=r"padding must be one of"):
        F.conv1d(x, w, padding="full")
    with pytest.raises(ValueError, match=r"b must have shape \(4,\)"):
        F.conv1d(x, w, np.zeros(3))
    with pytest.raises(ValueError, match="kernel longer"):
        F.conv1d_flipped_reference(np.zeros((1, 2, 3)), w)
    # a kernel longer than the input is fine when padded
    assert F.conv1d(np.zeros((2, 2, 3)), w, padding="same").shape == (2, 2, 4)
    assert F.conv1d(x, w, strides=(2,), padding="causal").shape == (2, 3, 4)
