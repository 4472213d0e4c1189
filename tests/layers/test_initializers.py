"""tn.initializers: Keras' names and formulas (distributions checked by their moments and
support; the same against Keras in test_keras_pieces_parity.py), configs, and errors."""

import json

import numpy as np
import pytest

import tinynlp as tn

inits = tn.initializers


@pytest.mark.parametrize("name, variance, support", [
    ("glorot_uniform", 2 / (400 + 300), np.sqrt(3)),
    ("glorot_normal", 2 / (400 + 300), 2 / inits.TRUNCATED_STD),
    ("he_uniform", 2 / 400, np.sqrt(3)),
    ("he_normal", 2 / 400, 2 / inits.TRUNCATED_STD),
    ("lecun_uniform", 1 / 400, np.sqrt(3)),
    ("lecun_normal", 1 / 400, 2 / inits.TRUNCATED_STD),
])
def test_variance_scaling_family(name, variance, support):
    w = inits.get(name)((400, 300), np.float64)
    std = np.sqrt(variance)
    assert abs(w.std() / std - 1) < 0.015 and abs(w.mean()) < 3 * std / np.sqrt(w.size) * 3
    assert np.abs(w).max() <= support * std * (1 + 1e-12)
    assert np.abs(w).max() > 0.98 * support * std
    conv = inits.get(name)((3, 40, 30), np.float32)      # receptive field 3: fans 120, 90
    assert conv.dtype == np.float32 and conv.shape == (3, 40, 30)


def test_truncated_normal_constant_and_configs():
    tn.random.seed(1)
    t = inits.TruncatedNormal(mean=0.5, stddev=0.1)((500, 100))
    assert np.abs(t - 0.5).max() <= 0.2 + 1e-6 and abs(t.std() - 0.1 * inits.TRUNCATED_STD) < 0.002
    np.testing.assert_array_equal(inits.Constant(2)((2, 3)), np.full((2, 3), 2.0, np.float32))
    for init in (inits.TruncatedNormal(stddev=0.02), inits.Constant(0.5), inits.VarianceScaling(
            2.0, "fan_out", "uniform"), inits.RandomNormal(0.1, 0.2), inits.Orthogonal(gain=2.0)):
        spec = json.loads(json.dumps(inits.serialize(init)))
        again = inits.deserialize(spec)
        assert type(again) is type(init) and again.get_config() == init.get_config()
    assert inits.serialize(inits.he_normal) == "he_normal"
    assert inits.serialize(lambda s, d: 0) is None
    tn.random.seed(2)
    a = inits.GlorotNormal()((5, 4))
    tn.random.seed(2)
    np.testing.assert_array_equal(a, inits.get("glorot_normal")((5, 4)))   # seeded
    layer = tn.layers.Dense(3, kernel_initializer=inits.Constant(0.25))
    np.testing.assert_array_equal(layer(np.ones((1, 2))).data, [[0.5] * 3])
    clone = tn.layers.Dense.from_config(json.loads(json.dumps(layer.get_config())))
    np.testing.assert_array_equal(clone(np.ones((1, 2))).data, [[0.5] * 3])


def test_initializer_errors():
    with pytest.raises(ValueError, match="unknown initializer 'glorot'"):
        inits.get("glorot")
    with pytest.raises(ValueError, match="Constant: value must be a finite number"):
        inits.Constant(float("nan"))
    with pytest.raises(ValueError, match="mode must be one of"):
        inits.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="unknown initializer"):
        inits.deserialize({"class_name": "Nope"})
    with pytest.raises(ValueError, match="cannot save the custom initializer"):
        tn.layers.Dense(2, kernel_initializer=lambda s, d: np.zeros(s, d)).get_config()
