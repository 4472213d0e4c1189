import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinynlp as tn
from tinynlp import functional as F
from tests.helpers import check_grad, t64

RNG = np.random.default_rng(0)
B, T, C = 4, 3, 5
Y01 = np.array([1, 0, 1, 1])
P01 = RNG.uniform(0.05, 0.95, (B, 1))
Z01 = RNG.standard_normal((B, 1)) * 2
LABELS = RNG.integers(0, C, (B, T))
ONEHOT = np.eye(C)[LABELS]
PROBS = RNG.dirichlet(np.ones(C), (B, T))
LOGITS = RNG.standard_normal((B, T, C))
SEQ_MASK = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=bool)


def _bce(y, p):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


# ------------------------------------------------------------------ binary


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_gradcheck(from_logits, reduction):
    pred = Z01 if from_logits else P01
    w = np.array([1.0, 2.0, 0.5, 1.0])
    m = np.array([1, 1, 0, 1], dtype=bool)
    check_grad("binary_crossentropy", lambda p: F.binary_crossentropy(
        Y01, p, from_logits, sample_weight=w, reduction=reduction, mask=m), [t64(pred)])


def test_binary_values_and_keras_shapes():
    want = _bce(Y01, P01[:, 0])
    # y_true (B,) against y_pred (B, 1): the trailing 1 is handled, one loss per sample
    np.testing.assert_allclose(F.binary_crossentropy(Y01, P01, reduction="none").data, want)
    np.testing.assert_allclose(F.binary_crossentropy(Y01[:, None], P01).data, want.mean())
    np.testing.assert_allclose(F.binary_crossentropy(Y01, P01[:, 0]).data, want.mean())
    # from logits equals from sigmoid probabilities
    sig = 1 / (1 + np.exp(-Z01))
    np.testing.assert_allclose(F.binary_crossentropy(Y01, Z01, from_logits=True).data,
                               _bce(Y01, sig[:, 0]).mean(), rtol=1e-10)
    # multi-label (B, K): averaged over the last axis first (Keras)
    y2, p2 = RNG.integers(0, 2, (B, 3)), RNG.uniform(0.1, 0.9, (B, 3))
    np.testing.assert_allclose(F.binary_crossentropy(y2, p2, reduction="none").data,
                               _bce(y2, p2).mean(axis=-1))


def test_binary_is_stable():
    z = np.array([[-1000.0], [1000.0]], dtype=np.float32)
    out = F.binary_crossentropy(np.array([1, 0]), z, from_logits=True, reduction="none").data
    np.testing.assert_allclose(out, [1000.0, 1000.0])
    p = np.array([[0.0], [1.0]])
    out = F.binary_crossentropy(np.array([1, 0]), p, reduction="none").data
    np.testing.assert_allclose(out, [-np.log(1e-7)] * 2, rtol=1e-6)     # clipped like Keras
    pt = t64(p)
    F.binary_crossentropy(np.array([1, 0]), pt).backward()
    assert np.all(np.isfinite(pt.grad))


def test_binary_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match=r"y_true has shape \(4, 3\) but y_pred has shape \(4, 1\)"):
        F.binary_crossentropy(np.zeros((4, 3)), P01)
    with pytest.raises(ValueError, match=r"y_true has shape \(3,\)"):
        F.binary_crossentropy(np.zeros(3), P01)
    with pytest.raises(TypeError, match="y_pred must be floating point"):
        F.binary_crossentropy(Y01, Y01)


# ------------------------------------------------------------------ categorical


@pytest.mark.parametrize("from_logits", [False, True])
def test_categorical_gradcheck(from_logits):
    pred = LOGITS if from_logits else PROBS
    check_grad("categorical_crossentropy", lambda p: F.categorical_crossentropy(
        ONEHOT, p, from_logits, mask=SEQ_MASK), [t64(pred)])
    soft = RNG.dirichlet(np.ones(C), (B, T))          # probability targets too
    check_grad("categorical_crossentropy", lambda p: F.categorical_crossentropy(
        soft, p, from_logits, reduction="none"), [t64(pred)])


def test_categorical_values():
    want = -np.log(np.take_along_axis(PROBS, LABELS[..., None], -1)[..., 0])
    np.testing.assert_allclose(F.categorical_crossentropy(ONEHOT, PROBS, reduction="none").data,
                               want, rtol=1e-10)
    logp = LOGITS - np.log(np.exp(LOGITS).sum(-1, keepdims=True))
    np.testing.assert_allclose(
        F.categorical_crossentropy(ONEHOT, LOGITS, from_logits=True, reduction="sum").data,
        -(ONEHOT * logp).sum(), rtol=1e-10)
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        F.categorical_crossentropy(LABELS, PROBS)


# ------------------------------------------------------------------ sparse


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_sparse_gradcheck(from_logits, reduction):
    pred = LOGITS if from_logits else PROBS
    labels = LABELS.copy()
    labels[0, 1] = -100
    check_grad("sparse_categorical_crossentropy", lambda p: F.sparse_categorical_crossentropy(
        labels, p, from_logits, mask=SEQ_MASK, ignore_index=-100, reduction=reduction,
        sample_weight=np.arange(1.0, B + 1)), [t64(pred)])


def test_sparse_values_equal_categorical_with_one_hot():
    for fl, pred in [(False, PROBS), (True, LOGITS)]:
        np.testing.assert_allclose(
            F.sparse_categorical_crossentropy(LABELS, pred, fl, reduction="none").data,
            F.categorical_crossentropy(ONEHOT, pred, fl, reduction="none").data, rtol=1e-10)


def test_masked_and_ignored_positions_count_for_nothing():
    labels = LABELS.copy()
    labels[~SEQ_MASK] = -1                                   # garbage where padded
    per = F.sparse_categorical_crossentropy(LABELS, LOGITS, True, reduction="none").data
    want = per[SEQ_MASK].mean()
    via_mask = F.sparse_categorical_crossentropy(np.where(SEQ_MASK, LABELS, 0), LOGITS, True,
                                                 mask=SEQ_MASK)
    via_ignore = F.sparse_categorical_crossentropy(labels, LOGITS, True, ignore_index=-1)
    np.testing.assert_allclose(via_mask.data, want, rtol=1e-12)
    np.testing.assert_allclose(via_ignore.data, want, rtol=1e-12)
    z = t64(LOGITS)
    F.sparse_categorical_crossentropy(labels, z, True, ignore_index=-1).backward()
    assert np.all(z.grad[~SEQ_MASK] == 0)
    none = F.sparse_categorical_crossentropy(labels, LOGITS, True, ignore_index=-1,
                                             reduction="none").data
    assert np.all(none[~SEQ_MASK] == 0)
    # everything masked: mean is 0, not NaN
    all_off = F.sparse_categorical_crossentropy(LABELS, LOGITS, True, mask=np.zeros((B, T), bool))
    assert float(all_off.data) == 0.0


def test_sample_weight_keras_semantics():
    per = F.sparse_categorical_crossentropy(LABELS, LOGITS, True, reduction="none").data
    w = np.array([1.0, 0.0, 2.0, 1.0])
    got = F.sparse_categorical_crossentropy(LABELS, LOGITS, True, sample_weight=w).data
    np.testing.assert_allclose(got, (per * w[:, None]).sum() / per.size, rtol=1e-12)
    with pytest.raises(ValueError, match="sample_weight of shape"):
        F.sparse_categorical_crossentropy(LABELS, LOGITS, True, sample_weight=np.ones(3))


@given(lead=st.lists(st.integers(1, 4), min_size=1, max_size=2), c=st.integers(2, 6),
       from_logits=st.booleans(), use_mask=st.booleans(), seed=st.integers(0, 99))
def test_fused_equals_reference(lead, c, from_logits, use_mask, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(lead)
    labels = rng.integers(0, c, shape)
    pred = rng.standard_normal(shape + (c,)) if from_logits else \
        rng.dirichlet(np.ones(c), shape) * rng.uniform(0.5, 2.0)   # unnormalised on purpose
    mask = rng.random(shape) < 0.7 if use_mask else None
    onehot = np.eye(c)[labels]
    cases = [
        (F.sparse_categorical_crossentropy, F.sparse_categorical_crossentropy_reference, labels),
        (F.categorical_crossentropy, F.categorical_crossentropy_reference, onehot),
    ]
    for fused, ref, target in cases:
        results = []
        for fn in (fused, ref):
            p = t64(pred)
            loss = fn(target, p, from_logits, mask=mask)
            loss.backward()
            results.append((loss.data, p.grad))
        np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-9, atol=1e-12)
    ybin = rng.integers(0, 2, shape + (1,))
    bpred = rng.standard_normal(shape + (1,)) if from_logits else rng.uniform(0, 1, shape + (1,))
    results = []
    for fn in (F.binary_crossentropy, F.binary_crossentropy_reference):
        p = t64(bpred)
        loss = fn(ybin, p, from_logits, mask=mask)
        loss.backward()
        results.append((loss.data, p.grad))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-9, atol=1e-12)


def test_sparse_errors_and_label_shapes():
    with pytest.raises(ValueError, match=r"class 5 at position \(1, 2\).*C=5"):
        bad = LABELS.copy()
        bad[1, 2] = 5
        F.sparse_categorical_crossentropy(bad, LOGITS, True)
    with pytest.raises(ValueError, match=r"class -1 at position"):
        F.sparse_categorical_crossentropy(np.full((B, T), -1), LOGITS, True)
    with pytest.raises(ValueError, match=r"must have shape \(4, 3\).*got \(4,\)"):
        F.sparse_categorical_crossentropy(LABELS[:, 0], LOGITS, True)
    with pytest.raises(TypeError, match="integer class ids"):
        F.sparse_categorical_crossentropy(LABELS + 0.5, LOGITS, True)
    with pytest.raises(ValueError, match=r"reduction must be"):
        F.sparse_categorical_crossentropy(LABELS, LOGITS, True, reduction="avg")
    with pytest.raises(ValueError, match=r"mask must have the per-sample loss shape"):
        F.sparse_categorical_crossentropy(LABELS, LOGITS, True, mask=np.ones(B, bool))
    # Keras also accepts y_true (..., 1) and whole-number floats
    a = F.sparse_categorical_crossentropy(LABELS[..., None], LOGITS, True).data
    b = F.sparse_categorical_crossentropy(LABELS.astype(np.float32), LOGITS, True).data
    np.testing.assert_allclose(a, b)


def test_y_true_is_never_differentiable_and_float32_kept():
    y = tn.tensor(ONEHOT.astype(np.float32), requires_grad=True)
    z = tn.tensor(LOGITS.astype(np.float32), requires_grad=True)
    loss = F.categorical_crossentropy(y, z, from_logits=True)
    assert loss.dtype == np.float32
    loss.backward()
    assert y.grad is None and z.grad.dtype == np.float32
    zs = tn.tensor(LOGITS.astype(np.float32), requires_grad=True)
    loss = F.sparse_categorical_crossentropy(tn.tensor(LABELS), zs, from_logits=True)
    assert loss.dtype == np.float32
    loss.backward()
    assert zs.grad.dtype == np.float32


# ------------------------------------------------------------------ mse


def test_mse():
    y, p = RNG.standard_normal((B, 2)), RNG.standard_normal((B, 2))
    np.testing.assert_allclose(F.mse(y, p).data, ((y - p) ** 2).mean())
    np.testing.assert_allclose(F.mse(y, p, reduction="none").data, ((y - p) ** 2).mean(-1))
    check_grad("mse", lambda p: F.mse(y, p, sample_weight=np.arange(B)), [t64(p)])
    np.testing.assert_allclose(F.mse(y[:, 0], p[:, :1]).data, ((y[:, 0] - p[:, 0]) ** 2).mean())
    with pytest.raises(ValueError, match="y_true has shape"):
        F.mse(y, p[:, :1])
