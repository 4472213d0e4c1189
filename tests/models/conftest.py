import numpy as np
import pytest

import tinynlp as tn
from tinynlp.autograd import ops
from tinynlp.layers.base import Layer


class TinyDense(Layer):
    """A minimal layer on primitive ops (what a user would write)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight("w", (input_shape[-1], self.units))
        self.b = self.add_weight("b", (self.units,), initializer="zeros")

    def call(self, x, training=False):
        return ops.add(ops.matmul(x, self.w), self.b)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class Recorder(Layer):
    """Identity layer recording the `training` flag and the first feature of each sample."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = []

    def call(self, x, training=False):
        data = x.data if isinstance(x, tn.Tensor) else np.asarray(x)
        self.calls.append((training, data[:, 0].copy()))
        return x


@pytest.fixture
def blobs():
    """A linearly separable binary task: x (200, 4) float32, y (200,) float32."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 1.0]) > 0).astype(np.float32)
    return x, y


def small_model(units=8, input_dim=4, dropout=None):
    layers = [tn.layers.Dense(units, activation="tanh", input_shape=(input_dim,))]
    if dropout:
        layers.append(tn.layers.Dropout(dropout))
    layers.append(tn.layers.Dense(1, activation="sigmoid"))
    return tn.Sequential(layers)


@pytest.fixture
def three_blocks(monkeypatch):
    """Cut every batch that a model runs in blocks (tinynlp.workers.BlockChoice) into three
    uneven blocks, rows [0, 2), [2, 3) and [3, n); the list returned records each n."""
    from tinynlp import workers

    asked = []

    def blocks(n):
        asked.append(n)
        return [(0, 2), (2, 3), (3, n)]

    monkeypatch.setattr(workers, "batch_blocks", blocks)
    return asked
