"""The seed's two Keras architectures, built by calling the layers in sequence."""

import numpy as np

import tinynlp as tn
from tinynlp import functional as F

L = tn.layers


def run(layers, x, training=False):
    for layer in layers:
        x = layer(x, training=training)
    return x


def shapes(layers, shape):
    out = []
    for layer in layers:
        shape = layer.compute_output_shape(shape)
        out.append(shape)
    return out


def test_seed_rnn_model():
    layers = [L.SimpleRNN(units=128, input_shape=(1, 10), activation="relu"),
              L.Dense(units=1, activation="sigmoid")]
    assert layers[0].input_shape == (1, 10)
    x = np.random.default_rng(0).standard_normal((32, 1, 10))
    y = run(layers, x)
    assert y.shape == (32, 1) and y.dtype == np.float32
    assert np.all((y.data > 0) & (y.data < 1))
    assert shapes(layers, (None, 1, 10)) == [(None, 128), (None, 1)]
    counts = [layer.count_params() for layer in layers]
    assert counts == [128 * 10 + 128 * 128 + 128, 128 + 1]
    assert sum(counts) == 17921


def test_seed_cnn_model():
    layers = [L.Conv1D(filters=64, kernel_size=3, activation="relu", input_shape=(100, 1)),
              L.MaxPooling1D(pool_size=2),
              L.Flatten(),
              L.Dense(128, activation="relu"),
              L.Dense(1, activation="sigmoid")]
    x = np.random.default_rng(1).standard_normal((8, 100, 1))
    y = run(layers, x)
    assert y.shape == (8, 1)
    assert shapes(layers, (None, 100, 1)) == [
        (None, 98, 64), (None, 49, 64), (None, 49 * 64), (None, 128), (None, 1)]
    counts = [layer.count_params() for layer in layers]
    assert counts == [3 * 1 * 64 + 64, 0, 0, 49 * 64 * 128 + 128, 129]
    assert sum(counts) == 401921


def test_seed_rnn_model_learns_a_toy_task():
    """A few plain gradient steps on a separable task lower the loss (the layers train)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 1, 10)).astype(np.float32)
    y = (x[:, 0, :3].sum(axis=1) > 0).astype(np.float32)[:, None]
    layers = [L.SimpleRNN(16, activation="relu"), L.Dense(1, activation="sigmoid")]
    losses = []
    for _ in range(30):
        loss = F.binary_crossentropy(y, run(layers, x, training=True))
        losses.append(float(loss.data))
        params = [p for layer in layers for p in layer.trainable_weights]
        for p in params:
            p.zero_grad()
        loss.backward()
        for p in params:
            p.data -= 0.5 * p.grad
    assert losses[-1] < 0.6 * losses[0]
