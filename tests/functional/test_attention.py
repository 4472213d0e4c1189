"""Scaled dot-product attention: gradients, the fused op against its readable twin, masks
(none, bool, additive float, causal, rows with every key masked) and bad input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinynlp as tn
from tests.helpers import check_grad, t64
from tinynlp import functional as F

SDPA = F.scaled_dot_product_attention
REF = F.scaled_dot_product_attention_reference


def qkv(B=2, H=3, Tq=4, Tk=5, d=3, dv=2, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype)
            for s in ((B, H, Tq, d), (B, H, Tk, d), (B, H, Tk, dv))]


def bool_mask(shape, seed=1, p=0.35, empty_row=True):
    m = np.random.default_rng(seed).random(shape) > p
    if empty_row:
        m[..., 1, :] = False          # a query with every key masked
    return m


MASKS = {
    "none": lambda: dict(),
    "bool": lambda: dict(mask=bool_mask((2, 1, 4, 5))),
    "float": lambda: dict(mask=np.random.default_rng(2).standard_normal((4, 5))),
    "causal": lambda: dict(is_causal=True),
    "bool+causal": lambda: dict(mask=bool_mask((2, 3, 4, 5), empty_row=False), is_causal=True),
    "float-inf rows": lambda: dict(mask=np.where(bool_mask((2, 1, 4, 5)), 0.0, -np.inf)),
}


@pytest.mark.parametrize("kind", list(MASKS))
def test_gradient_for_each_kind_of_mask(kind):
    q, k, v = (t64(a) for a in qkv())
    kw = MASKS[kind]()
    check_grad("scaled_dot_product_attention", lambda q, k, v: SDPA(q, k, v, **kw), [q, k, v])


def test_gradient_of_an_additive_float_mask():
    q, k, v = (t64(a) for a in qkv())
    m = t64(np.random.default_rng(3).standard_normal((1, 3, 4, 5)))
    check_grad("scaled_dot_product_attention", lambda q, k, v, m: SDPA(q, k, v, mask=m),
               [q, k, v, m])


def test_gradient_with_dropout_a_custom_scale_and_broadcast_batch_axes():
    q, k, v = (t64(a) for a in qkv(B=1, H=2))
    v = t64(np.random.default_rng(4).standard_normal((3, 1, 5, 2)))    # broadcasts to (3, 2)

    def fn(q, k, v):
        return SDPA(q, k, v, dropout=0.3, seed=7, scale=0.7, is_causal=True)
    check_grad("scaled_dot_product_attention", fn, [q, k, v])


def test_reference_twin_gradient():
    q, k, v = (t64(a) for a in qkv())
    kw = MASKS["bool+causal"]()
    check_grad("scaled_dot_product_attention_reference",
               lambda q, k, v: REF(q, k, v, **kw), [q, k, v])


@pytest.mark.parametrize("kind", list(MASKS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_equals_reference_in_value_and_gradient(kind, dtype):
    arrays = qkv(dtype=dtype)
    kw = MASKS[kind]()
    if "mask" in kw and kw["mask"].dtype.kind == "f":
        kw["mask"] = kw["mask"].astype(dtype)
    g = np.random.default_rng(5).standard_normal((2, 3, 4, 2)).astype(dtype)
    outs, grads = [], []
    for fn in (SDPA, REF):
        ts = [tn.tensor(a, requires_grad=True) for a in arrays]
        out = fn(*ts, **kw)
        out.backward(g)
        outs.append(out.data)
        grads.append([t.grad for t in ts])
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    assert outs[0].dtype == dtype
    np.testing.assert_allclose(outs[0], outs[1], **tol)
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, **tol)


def test_dropout_draws_the_same_mask_as_the_twin_and_is_off_outside_training():
    q, k, v = qkv()
    tn.random.seed(11)
    a = SDPA(q, k, v, dropout=0.5, is_causal=True).data
    tn.random.seed(11)
    b = REF(q, k, v, dropout=0.5, is_causal=True).data
    np.testing.assert_allclose(a, b, rtol=1e-12)
    assert not np.allclose(a, SDPA(q, k, v, is_causal=True).data)
    np.testing.assert_array_equal(SDPA(q, k, v, dropout=0.5, training=False).data,
                                  SDPA(q, k, v).data)


def test_rows_with_every_key_masked_give_zeros_and_zero_gradients():
    q, k, v = (t64(a) for a in qkv())
    mask = bool_mask((2, 3, 4, 5))
    mask[0, 2] = False
    for fn in (SDPA, REF):
        for t in (q, k, v):
            t.grad = None
        out = fn(q, k, v, mask=mask)
        assert np.isfinite(out.data).all()
        np.testing.assert_array_equal(out.data[:, :, 1], 0.0)
        np.testing.assert_array_equal(out.data[0, 2], 0.0)
        out.backward(np.ones(out.shape))
        np.testing.assert_array_equal(q.grad[:, :, 1], 0.0)
        assert all(np.isfinite(t.grad).all() for t in (q, k, v))
    # and a causal query block wider than the keys (rows past Tk see everything)
    out = SDPA(*qkv(Tq=6, Tk=3), is_causal=True)
    assert np.isfinite(out.data).all()


def test_matches_a_direct_numpy_computation():
    q, k, v = qkv(Tq=3, Tk=3)
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(3)
    s = np.where(np.tril(np.ones((3, 3), bool)), s, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    np.testing.assert_allclose(SDPA(q, k, v, is_causal=True).data, p @ v, rtol=1e-12)


def test_causal_mask_helper():
    np.testing.assert_array_equal(F.causal_mask(3), np.tril(np.ones((3, 3), bool)))
    # a block of 2 queries continuing 3 cached keys: bottom-right aligned
    np.testing.assert_array_equal(F.causal_mask(2, 5, offset=3),
                                  [[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]])
    m = F.attention_mask_from_padding(np.array([[1, 1, 0]], bool), np.array([[1, 0]], bool))
    np.testing.assert_array_equal(m, [[[1, 0], [1, 0], [0, 0]]])


@st.composite
def cases(draw):
    B = draw(st.integers(1, 2))
    H = draw(st.integers(1, 3))
    Tq = draw(st.integers(1, 6))
    Tk = draw(st.integers(1, 6))
    d = draw(st.integers(1, 4))
    dv = draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["none", "bool", "float", "causal", "bool+causal"]))
    seed = draw(st.integers(0, 10_000))
    return B, H, Tq, Tk, d, dv, kind, seed


@given(cases())
def test_fused_equals_twin_over_shapes_and_masks(case):
    B, H, Tq, Tk, d, dv, kind, seed = case
    rng = np.random.default_rng(seed)
    arrays = qkv(B, H, Tq, Tk, d, dv, seed=seed)
    kw = {}
    if kind in ("bool", "bool+causal"):
        kw["mask"] = rng.random((B, 1, Tq, Tk)) > 0.4       # empty rows happen by chance
    if kind == "float":
        kw["mask"] = rng.standard_normal((Tq, Tk))
    if "causal" in kind:
        kw["is_causal"] = True
    g = rng.standard_normal((B, H, Tq, dv))
    results = []
    for fn in (SDPA, REF):
        ts = [tn.tensor(a, requires_grad=True) for a in arrays]
        out = fn(*ts, **kw)
        out.backward(g)
        results.append([out.data] + [t.grad for t in ts])
    for a, b in zip(*results):
        assert np.isfinite(a).all()
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_clear_errors():
    q, k, v = qkv()
    with pytest.raises(ValueError, match="same head dim.*d=3.*d=4"):
        SDPA(q, np.zeros((2, 3, 5, 4)), v)
    with pytest.raises(ValueError, match="number of keys"):
        SDPA(q, k, np.zeros((2, 3, 6, 2)))
    with pytest.raises(ValueError, match=r"mask must broadcast.*\(2, 3, 4, 5\).*\(5, 4\)"):
        SDPA(q, k, v, mask=np.ones((5, 4), bool))
    with pytest.raises(TypeError, match="boolean.*or float.*int64"):
        SDPA(q, k, v, mask=np.ones((4, 5), np.int64))
    with pytest.raises(TypeError, match="one floating dtype"):
        SDPA(q.astype(np.float32), k, v)
    with pytest.raises(ValueError, match="dropout"):
        SDPA(q, k, v, dropout=1.0)
    with pytest.raises(ValueError, match=r"q must have shape \(\.\.\., time, dim\)"):
        SDPA(np.zeros(3), k, v)
