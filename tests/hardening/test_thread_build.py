"""A model built lazily (no input_shape) and called from 8 threads at once builds each
layer exactly once: the expected weights, and every thread's output equals later calls."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import tinynlp as tn


class Subclassed(tn.Model):
    def __init__(self):
        super().__init__(name="subclassed")
        self.embed = tn.layers.Embedding(50, 8)
        self.rnn = tn.layers.LSTM(6)
        self.out = tn.layers.Dense(1, activation="sigmoid")

    def call(self, x, training=False):
        return self.out(self.rnn(self.embed(x)))


def _sequential():
    return tn.Sequential([tn.layers.Embedding(50, 8), tn.layers.LSTM(6),
                          tn.layers.Dense(1, activation="sigmoid")])


def _run_together(fn, n=8):
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def worker(i):
        try:
            barrier.wait()
            results[i] = fn()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


@pytest.mark.parametrize("make", [_sequential, Subclassed], ids=["sequential", "subclassed"])
@pytest.mark.parametrize("trial", range(3))
def test_concurrent_first_calls_build_each_layer_once(make, trial):
    model = make()
    x = np.random.default_rng(trial).integers(1, 50, size=(4, 7))
    outs = _run_together(lambda: model.predict(x, verbose=0))
    assert len(model.weights) == 6               # embeddings, LSTM kernel/recurrent/bias, Dense 2
    later = model.predict(x, verbose=0)
    for out in outs:
        np.testing.assert_array_equal(out, later)


def test_concurrent_calls_of_one_unbuilt_layer():
    layer = tn.layers.Dense(5)
    x = np.ones((2, 3), np.float32)
    outs = _run_together(lambda: layer(x).data)
    assert len(layer.weights) == 2
    for out in outs:
        np.testing.assert_array_equal(out, layer(x).data)


def test_a_layer_whose_build_calls_itself_still_builds_once():
    class SelfCalling(tn.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight("w", (input_shape[-1],), initializer="ones")
            self.built = True
            self(np.zeros((1, input_shape[-1]), np.float32))   # re-entrant call

        def call(self, x, training=False):
            return x * self.w

    layer = SelfCalling()
    outs = _run_together(lambda: layer(np.ones((2, 4), np.float32)).data)
    assert len(layer.weights) == 1
    for out in outs:
        np.testing.assert_array_equal(out, np.ones((2, 4)))
