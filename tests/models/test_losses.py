"""tn.losses: names, Keras-style classes, callables, weighting and masking."""

import numpy as np
import pytest

import tinynlp as tn
from tinynlp import functional as F


def test_names_and_classes_resolve():
    L = tn.losses
    assert type(L.get("binary_crossentropy")) is L.BinaryCrossentropy
    assert type(L.get("categorical_crossentropy")) is L.CategoricalCrossentropy
    assert type(L.get("sparse_categorical_crossentropy")) is L.SparseCategoricalCrossentropy
    assert type(L.get("mse")) is L.MeanSquaredError
    obj = L.BinaryCrossentropy(from_logits=True)
    assert L.get(obj) is obj
    assert L.get(L.serialize(obj)).from_logits is True
    with pytest.raises(ValueError, match="unknown loss 'binary_crossentropi'"):
        L.get("binary_crossentropy"[:-1] + "i")


def test_loss_objects_match_the_functional_losses():
    rng = np.random.default_rng(0)
    z = tn.tensor(rng.standard_normal((6, 1)))
    y = rng.integers(0, 2, (6, 1)).astype(np.float64)
    w = rng.uniform(0.5, 2, 6)
    got = tn.losses.BinaryCrossentropy(from_logits=True)(y, z, sample_weight=w)
    want = F.binary_crossentropy(y, z, from_logits=True, sample_weight=w)
    assert float(got.data) == pytest.approx(float(want.data))
    # Keras: sample weights scale terms, the mean is over the batch size
    per = F.binary_crossentropy(y, z, from_logits=True, reduction="none").data
    assert float(got.data) == pytest.approx(float((per * w).mean()))


def test_callable_loss_per_sample_and_scalar():
    y = np.array([[1.0], [0.0], [2.0]])
    p = tn.tensor(np.array([[0.5], [0.5], [1.0]]), requires_grad=True)

    def per_sample(y_true, y_pred):
        return ((y_pred - y_true) ** 2).sum(axis=-1)

    loss = tn.losses.get(per_sample)
    value = loss(y, p, sample_weight=np.array([1.0, 0.0, 1.0]))
    assert float(value.data) == pytest.approx((0.25 + 1.0) / 3)
    value.backward()
    assert p.grad is not None and p.grad[1, 0] == 0.0

    scalar = tn.losses.get(lambda yt, yp: ((yp - yt) ** 2).mean())
    assert float(scalar(y, p).data) == pytest.approx((0.25 + 0.25 + 1.0) / 3)
    with pytest.raises(ValueError, match="returns a scalar"):
        scalar(y, p, sample_weight=np.ones(3))
    with pytest.raises(TypeError, match="must return a Tensor"):
        tn.losses.get(lambda yt, yp: 0.0)(y, p)


def test_custom_callable_loss_trains_a_model():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 3)).astype(np.float32)
    y = (x @ np.array([1.0, 2.0, -1.0]))[:, None].astype(np.float32)

    def mae(y_true, y_pred):
        return (y_pred - y_true).abs().mean(axis=-1)

    model = tn.Sequential([tn.layers.Dense(1, input_shape=(3,))])
    model.compile(optimizer=tn.optimizers.Adam(0.1), loss=mae, metrics=["mae"])
    hist = model.fit(x, y, epochs=30, verbose=0)
    assert hist.history["loss"][-1] < 0.2 * hist.history["loss"][0]
    assert hist.history["mae"][-1] == pytest.approx(hist.history["loss"][-1], rel=0.3)


def test_keras_style_loss_subclass():
    class Absolute(tn.losses.Loss):
        def call(self, y_true, y_pred):
            return (y_pred - y_true).abs().mean(axis=-1)

    y = np.array([[1.0], [0.0]])
    p = tn.tensor(np.array([[0.5], [0.5]]))
    loss = Absolute()
    assert loss.name == "absolute"
    assert float(loss(y, p).data) == pytest.approx(0.5)
    assert float(loss(y, p, sample_weight=np.array([2.0, 0.0])).data) == pytest.approx(0.5)
    per = tn.losses.BinaryCrossentropy().call(y, p)
    assert per.shape == (2,)



def test_sum_and_count_give_the_loss_and_add_up_over_blocks_of_rows():
    """loss = S / max(n, 1); blocks of the rows add up to the batch's (S, n), with weights,
    a mask and ignored targets (what a train step in blocks relies on)."""
    rng = np.random.default_rng(0)
    logits = tn.tensor(rng.standard_normal((5, 4, 6)))
    y = rng.integers(0, 6, (5, 4))
    y[1, :3] = 0
    mask = rng.random((5, 4)) > 0.3
    sw = rng.random(5)
    loss = tn.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_index=0)
    whole = loss(y, logits, sample_weight=sw, mask=mask)
    S, n = loss.sum_and_count(y, logits, sample_weight=sw, mask=mask)
    assert n == int((mask & (y != 0)).sum())
    np.testing.assert_allclose(S.data / n, whole.data, rtol=1e-14)
    parts = [loss.sum_and_count(y[a:b], tn.tensor(logits.data[a:b]), sample_weight=sw[a:b],
                                mask=mask[a:b]) for a, b in ((0, 2), (2, 3), (3, 5))]
    np.testing.assert_allclose(sum(float(s.data) for s, _ in parts), float(S.data), rtol=1e-14)
    assert sum(c for _, c in parts) == n
    mse = tn.losses.MeanSquaredError()
    a, b = rng.standard_normal((3, 2)), tn.tensor(rng.standard_normal((3, 2)))
    S, n = mse.sum_and_count(a, b)
    assert n == 3
    np.testing.assert_allclose(S.data / n, mse(a, b).data, rtol=1e-14)


def test_which_losses_split_over_rows():
    L = tn.losses
    for name in ("binary_crossentropy", "categorical_crossentropy",
                 "sparse_categorical_crossentropy", "mse"):
        assert L.splits_over_rows(L.get(name))

    class Changed(L.MeanSquaredError):
        def call(self, y_true, y_pred):
            return super().call(y_true, y_pred).mean()     # one scalar

    class Named(L.MeanSquaredError):                       # only a new name: still splits
        pass

    assert not L.splits_over_rows(Changed())
    assert L.splits_over_rows(Named())
    assert not L.splits_over_rows(L.get(lambda yt, yp: (yp - yt).mean()))
