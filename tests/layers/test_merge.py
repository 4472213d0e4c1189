"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Dot.

Values and masks as Keras 3 defines them (parity tests at the end run where Keras is
installed, with the torch backend), float64 gradchecks, shapes, errors and configs.
"""

import os

import numpy as np
import pytest

import tinynlp as tn
from tests.helpers import check_grad, t64

L = tn.layers
ELEMENTWISE = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def T(*arrays):
    """float64 Tensors (a NumPy array given to a layer is cast to its float32 dtype)."""
    return [tn.tensor(a) for a in arrays]


def padded_pair(seed=0):
    """Two (2, 4, 3) float32 batches with some all-zero (masked) time steps, and masks."""
    a, b = rand(2, 4, 3, seed=seed).astype("float32"), rand(2, 4, 3, seed=seed + 1).astype(
        "float32")
    a[0, 1] = 0
    a[1, 3] = 0
    b[0, 1] = 0
    b[1, 2] = 0
    return a, b, np.any(a != 0, -1), np.any(b != 0, -1)


# ---- values ---------------------------------------------------------------------------------

def test_elementwise_values():
    a, b, c = rand(3, 4), rand(3, 4, seed=1), rand(3, 4, seed=2)
    abc = T(a, b, c)
    np.testing.assert_allclose(L.Add()(abc).data, a + b + c)
    np.testing.assert_allclose(L.Subtract()(abc[:2]).data, a - b)
    np.testing.assert_allclose(L.Multiply()(abc).data, a * b * c)
    np.testing.assert_allclose(L.Average()(abc).data, (a + b + c) / 3)
    np.testing.assert_allclose(L.Maximum()(abc).data, np.maximum(np.maximum(a, b), c))
    np.testing.assert_allclose(L.Minimum()(abc).data, np.minimum(np.minimum(a, b), c))
    assert L.Add()([a.astype("float32"), b.astype("float32")]).dtype == np.float32


def test_lower_rank_input_gets_size_one_axes_after_the_batch():
    a, b, c = rand(2, 5), rand(2, 3, 5, seed=1), rand(2, 3, 1, seed=2)
    np.testing.assert_allclose(L.Add()(T(a, b)).data, a[:, None, :] + b)
    np.testing.assert_allclose(L.Multiply()(T(b, c)).data, b * c)
    assert L.Add().compute_output_shape([(None, 5), (None, 3, 5)]) == (None, 3, 5)


def test_masked_values_follow_keras_rules():
    a, b, ma, mb = padded_pair()
    def spread(m):
        return m[..., None]

    # Add ignores masks in the values; output mask is the OR
    np.testing.assert_array_equal(L.Add()([a, b], mask=[ma, mb]).data, a + b)
    np.testing.assert_array_equal(L.Add().compute_mask([a, b], [ma, mb]), ma | mb)
    assert L.Add().compute_mask([a, b], [ma, None]) is None
    # Multiply: masked entries count as 1, positions masked everywhere are 0
    want = np.where(spread(ma), a, 1) * np.where(spread(mb), b, 1) * spread(ma | mb)
    np.testing.assert_allclose(L.Multiply()([a, b], mask=[ma, mb]).data, want)
    np.testing.assert_allclose(L.Multiply()([a, b], mask=[ma, None]).data,
                               np.where(spread(ma), a, 1) * b)
    # Maximum: a masked entry does not take part; masked in both -> the first input's value
    got = L.Maximum()([a, b], mask=[ma, mb]).data
    want = np.where(spread(ma & mb), np.maximum(a, b), np.where(spread(ma), a, b))
    np.testing.assert_allclose(got, want)
    got = L.Minimum()([a, b], mask=[ma, mb]).data
    want = np.where(spread(ma & mb), np.minimum(a, b), np.where(spread(ma), a, b))
    np.testing.assert_allclose(got, want)
    assert L.Dot(axes=2).compute_mask([a, b], [ma, mb]) is None


@pytest.mark.parametrize("shapes, axes, expect", [
    (((2, 3, 5), (2, 10, 3)), (1, 2), (2, 5, 10)),
    (((2, 4), (2, 4)), 1, (2, 1)),
    (((2, 6, 4), (2, 4)), (2, 1), (2, 6)),
    (((2, 4), (2, 6, 4)), (1, 2), (2, 6)),
    (((2, 3, 4), (2, 5, 4)), -1, (2, 3, 5)),
    (((2, 3, 4, 2), (2, 4, 5)), (2, 1), (2, 3, 2, 5)),
])
def test_dot_shapes_and_values(shapes, axes, expect):
    x, y = rand(*shapes[0]), rand(*shapes[1], seed=1)
    out = L.Dot(axes=axes)(T(x, y)).data
    assert out.shape == expect
    a0, a1 = (axes, axes) if isinstance(axes, int) else axes
    want = np.stack([np.tensordot(x[i], y[i], axes=(a0 % x.ndim - 1, a1 % y.ndim - 1))
                     for i in range(2)])
    np.testing.assert_allclose(out, want.reshape(expect), rtol=1e-12)
    assert L.Dot(axes=axes).compute_output_shape([shapes[0], shapes[1]]) == expect


def test_dot_normalize_is_cosine_similarity():
    x, y = rand(3, 6), rand(3, 6, seed=1)
    cos = (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
    np.testing.assert_allclose(L.Dot(axes=1, normalize=True)(T(x, y)).data[:, 0], cos)
    zero = L.Dot(axes=1, normalize=True)([np.zeros((1, 6)), y[:1]]).data
    assert np.all(np.isfinite(zero)) and np.all(zero == 0)


# ---- gradients -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_gradcheck(name):
    a, b = t64(rand(2, 3, 4)), t64(rand(2, 3, 4, seed=1))
    check_grad(f"layers.{name}", lambda a, b: getattr(L, name)()([a, b]), [a, b])


@pytest.mark.parametrize("name", ("Multiply", "Maximum", "Minimum", "Add"))
def test_masked_gradcheck(name):
    a, b, ma, mb = padded_pair()
    a, b = t64(a + 0.1 * rand(2, 4, 3, seed=5)), t64(b)   # no ties at the masked zeros
    check_grad(f"layers.{name}", lambda a, b: getattr(L, name)()([a, b], mask=[ma, mb]), [a, b])


def test_three_inputs_and_broadcast_gradcheck():
    a, b, c = t64(rand(2, 4)), t64(rand(2, 3, 4, seed=1)), t64(rand(2, 3, 1, seed=2))
    check_grad("layers.Average", lambda a, b, c: L.Average()([a, b, c]), [a, b, c])
    check_grad("layers.Multiply", lambda a, b, c: L.Multiply()([a, b, c]), [a, b, c])


@pytest.mark.parametrize("shapes, axes, normalize", [
    (((2, 3, 5), (2, 4, 3)), (1, 2), False),
    (((2, 4), (2, 4)), 1, True),
    (((2, 3, 4), (2, 5, 4)), 2, True),
    (((2, 6, 4), (2, 4)), (2, 1), False),
])
def test_dot_gradcheck(shapes, axes, normalize):
    x, y = t64(rand(*shapes[0])), t64(rand(*shapes[1], seed=1))
    check_grad("layers.Dot", lambda x, y: L.Dot(axes=axes, normalize=normalize)([x, y]), [x, y])


# ---- errors, configs, symbolic use ------------------------------------------------------------------

def test_errors_name_the_problem():
    a = rand(2, 3)
    with pytest.raises(ValueError, match="list of tensors"):
        L.Add()(a)
    with pytest.raises(ValueError, match="exactly 2"):
        L.Subtract()([a, a, a])
    with pytest.raises(ValueError, match=r"incompatible shapes .*\(2, 3\).*\(2, 4\)"):
        L.Add()([a, rand(2, 4)])
    with pytest.raises(ValueError, match="different batch sizes"):
        L.Maximum()([a, rand(3, 3)])
    with pytest.raises(ValueError, match="batch axis 0"):
        L.Dot(axes=0)([a, a])
    with pytest.raises(ValueError, match=r"axis 1 of input 0 \(size 3\).*axis 1 of input 1 "
                                         r"\(size 4\)"):
        L.Dot(axes=1)([a, rand(2, 4)])
    with pytest.raises(ValueError, match="axes must be an int or a pair"):
        L.Dot(axes=(1, 2, 3))
    with pytest.raises(ValueError, match="mask of input 1"):
        L.Add()([rand(2, 3, 4), rand(2, 3, 4)], mask=[None, np.ones((2, 4), bool)])


def test_config_round_trip():
    for layer in (L.Add(name="a"), L.Subtract(), L.Multiply(), L.Average(), L.Maximum(),
                  L.Minimum(), L.Dot(axes=(1, 2), normalize=True)):
        again = L.deserialize(L.serialize(layer))
        assert type(again) is type(layer) and again.get_config() == layer.get_config()


def test_masks_flow_through_a_merge_in_a_functional_model():
    ids = tn.Input(shape=(None,), dtype="int32")
    e = L.Embedding(10, 4, mask_zero=True)(ids)
    s = L.Add()([L.LSTM(3, return_sequences=True)(e), L.GRU(3, return_sequences=True)(e)])
    d = L.Dot(axes=2)([s, s])
    assert s.shape == (None, None, 3) and s.mask_shape == (None, None)
    assert d.shape == (None, None, None) and d.mask_shape is None
    model = tn.Model(ids, s)
    x = np.array([[3, 4, 0, 0], [5, 0, 0, 0]])
    model(x)
    np.testing.assert_array_equal(model.compute_mask(x), x != 0)


# ---- Keras 3 parity ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":  # pragma: no cover - another backend was chosen
        pytest.skip("Keras parity tests use the torch backend")
    return keras


@pytest.mark.slow
def test_keras_parity_values_and_masks(keras):
    K = keras.layers
    np_ = keras.ops.convert_to_numpy
    a, b, ma, mb = padded_pair()
    c = rand(2, 4, 3, seed=7).astype("float32")
    ka, kb = K.Masking()(a), K.Masking()(b)   # masks from the all-zero steps, as ma, mb
    for name in ELEMENTWISE:
        for k_in, ours_in, masks in (([ka, kb], [a, b], [ma, mb]),
                                     ([c, ka, kb], [c, a, b], [None, ma, mb]),
                                     ([ka, c], [a, c], [ma, None])):
            if name == "Subtract" and len(k_in) != 2:
                continue
            theirs = getattr(K, name)()(k_in)
            ours = getattr(L, name)()(ours_in, mask=masks)
            np.testing.assert_allclose(ours.data, np_(theirs), rtol=1e-6, atol=1e-7,
                                       err_msg=f"{name} with masks {[m is not None for m in masks]}")
            k_mask = getattr(K, name)().compute_mask(k_in, [getattr(t, "_keras_mask", None)
                                                            for t in k_in])
            o_mask = getattr(L, name)().compute_mask(ours_in, masks)
            assert (k_mask is None) == (o_mask is None)
            if o_mask is not None:
                np.testing.assert_array_equal(o_mask, np_(k_mask))
    x2, x3 = rand(2, 5).astype("float32"), rand(2, 3, 5, seed=1).astype("float32")
    np.testing.assert_allclose(L.Add()([x2, x3]).data, np_(K.Add()([x2, x3])), rtol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("shapes, axes, normalize", [
    (((2, 3, 5), (2, 10, 3)), (1, 2), False),
    (((2, 4), (2, 4)), 1, False),
    (((2, 4), (2, 4)), 1, True),
    (((2, 6, 4), (2, 4)), (2, 1), False),
    (((2, 4), (2, 6, 4)), (1, 2), True),
    (((2, 3, 4), (2, 5, 4)), -1, True),
    (((2, 3, 4, 2), (2, 4, 5)), (2, 1), False),
])
def test_keras_parity_dot(keras, shapes, axes, normalize):
    x, y = rand(*shapes[0]).astype("float32"), rand(*shapes[1], seed=1).astype("float32")
    theirs = keras.ops.convert_to_numpy(keras.layers.Dot(axes=axes, normalize=normalize)([x, y]))
    ours = L.Dot(axes=axes, normalize=normalize)([x, y]).data
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
