"""No silent traps when building by hand: build(input_shape) creates the weights (Keras
semantics) for Sequential, functional and subclassed models; a model's dtype applies to
its layers or is refused; a mask reaching a layer that drops it is warned about."""

import warnings

import numpy as np
import pytest

import tinynlp as tn

L = tn.layers


def test_sequential_build_creates_the_weights(tmp_path):
    model = tn.Sequential([L.Dense(8, activation="relu"), L.Dense(1)])
    model.build((None, 20))
    assert model.built and model.count_params() == 20 * 8 + 8 + 8 + 1
    assert [w.shape for w in model.get_weights()] == [(20, 8), (8,), (8, 1), (1,)]
    lines = []
    model.summary(print_fn=lines.append)
    assert any("Total params: 177" in ln for ln in lines)
    model.save(tmp_path / "m.tnz")
    again = tn.models.load_model(tmp_path / "m.tnz")
    x = np.random.default_rng(0).standard_normal((3, 20)).astype(np.float32)
    np.testing.assert_allclose(again.predict(x), model.predict(x), rtol=1e-6)
    text = tn.Sequential([L.Embedding(100, 4), L.LSTM(3)])      # ids for an Embedding first
    text.build((None, None))
    assert text.count_params() == 400 + (4 * 12 + 3 * 12 + 12)
    with pytest.raises(ValueError, match="has no layers"):
        tn.Sequential().build((None, 3))


class Subclassed(tn.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = L.Dense(6, activation="tanh")
        self.out = L.Dense(2)

    def call(self, x, training=False):
        return self.out(self.hidden(x))


class OwnBuild(tn.Model):
    """A Keras-style subclass whose build makes a weight and calls super().build."""

    def __init__(self):
        super().__init__()
        self.dense = L.Dense(3)
        self.builds = 0

    def build(self, input_shape):
        self.builds += 1
        self.scale = self.add_weight("scale", (input_shape[-1],), "ones")
        super().build(input_shape)

    def call(self, x, training=False):
        return self.dense(x * self.scale)


def test_subclassed_and_functional_build():
    model = Subclassed()
    model.build((None, 5))
    assert model.count_params() == 5 * 6 + 6 + 6 * 2 + 2
    two = Subclassed()
    two.build((4, 5))
    assert two.count_params() == model.count_params()
    own = OwnBuild()
    own.build((None, 4))
    assert own.builds == 1 and own.count_params() == 4 + 4 * 3 + 3
    lazy = OwnBuild()
    lazy(np.ones((2, 4), np.float32))           # the first call builds it once too
    assert lazy.builds == 1 and lazy.count_params() == own.count_params()
    inp = tn.Input(shape=(7,))
    functional = tn.Model(inp, L.Dense(2)(inp))
    before = functional.get_weights()
    functional.build((None, 7))                 # already built by the graph: unchanged
    assert [w.shape for w in functional.get_weights()] == [w.shape for w in before]

    class Ids(tn.Model):
        def __init__(self):
            super().__init__()
            self.embed = L.Embedding(10, 3)
            self.pool = L.GlobalAveragePooling1D()

        def call(self, x, training=False):
            return self.pool(self.embed(x))

    ids = Ids()
    ids.build((None, None))                     # refuses float zeros, so ids are used
    assert ids.count_params() == 30


def test_model_dtype_applies_to_its_layers_or_is_refused():
    model = tn.Sequential([L.Dense(4), L.Dense(2)], dtype="float64")
    model.build((None, 3))
    assert {w.dtype for w in model.weights} == {np.dtype(np.float64)}
    assert model.predict(np.ones((2, 3))).dtype == np.float64
    keep = tn.Sequential([L.Dense(4, dtype="float32"), L.Dense(2)], dtype="float64")
    keep.build((None, 3))
    assert [w.dtype for w in keep.weights] == [np.float32] * 2 + [np.float64] * 2
    sub = Subclassed(dtype="float64")
    sub(np.ones((1, 5)))
    assert {w.dtype for w in sub.weights} == {np.dtype(np.float64)}
    built = L.Dense(2)
    built(np.ones((1, 3), np.float32))
    with pytest.raises(ValueError, match="already built in float32"):
        tn.Sequential([built], dtype="float64")
    inp = tn.Input(shape=(3,))
    with pytest.raises(ValueError, match=r"dtype=float64, but its layers 'dense\w*' \(float32\)"):
        tn.Model(inp, L.Dense(2)(inp), dtype="float64")
    inp64 = tn.Input(shape=(3,), dtype="float64")
    ok = tn.Model(inp64, L.Dense(2, dtype="float64")(inp64), dtype="float64")
    assert ok.dtype == np.float64
    plain = tn.Sequential([L.Dense(2, dtype="float64")])       # no model dtype: the first
    assert plain.dtype == np.float64                             # layer's, as before


def test_a_mask_dropped_by_conv1d_is_warned_once_per_layer():
    ids = np.array([[3, 5, 2, 0, 0, 0], [4, 4, 1, 7, 2, 6]])
    model = tn.Sequential([L.Embedding(10, 4, mask_zero=True), L.Conv1D(3, 2),
                           L.GlobalMaxPooling1D(), L.Dense(1)])
    with pytest.warns(UserWarning, match=r"was passed an input with a mask, but it does not "
                                         r"support masking: the mask stops here"):
        model(ids)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # a layer that uses the mask is silent, and so is a model whose masks are consumed
        tn.Sequential([L.Embedding(10, 4, mask_zero=True), L.GlobalMaxPooling1D()])(ids)
        tn.Sequential([L.Embedding(10, 4, mask_zero=True), L.LSTM(2)])(ids)
        tn.Sequential([L.Embedding(10, 4), L.Conv1D(3, 2), L.GlobalMaxPooling1D()])(ids)
    # mask-aware pooling consumes the mask: padding never wins the max
    x = np.zeros((1, 4, 2), np.float32)
    x[0, :2] = -1.0
    mask = np.array([[True, True, False, False]])
    np.testing.assert_array_equal(L.GlobalMaxPooling1D()(x, mask=mask).data, [[-1.0, -1.0]])
