"""A tiny hand-written model and a manual SGD loop, shared by the MPI worker and tests.

Kept free of tinynlp.models on purpose: it tests the distributed machinery
with nothing but autograd ops, a Layer and Parameters.
"""

from __future__ import annotations

import numpy as np

from tinynlp.autograd import no_grad
from tinynlp.functional import embedding
from tinynlp.layers.base import Layer


class TinyNet(Layer):
    """mean-pooled embedding (sparse or dense grad) -> tanh dense -> linear; float64."""

    def __init__(self, vocab=30, dim=5, hidden=7, sparse=False, dtype="float64", **kw):
        super().__init__(dtype=dtype, **kw)
        self.vocab, self.dim, self.hidden, self.sparse = vocab, dim, hidden, sparse
        self.table = self.add_weight("table", (vocab, dim), "random_normal", sparse=sparse)
        self.W = self.add_weight("W", (dim, hidden), "glorot_uniform")
        self.b = self.add_weight("b", (hidden,), "random_normal")
        self.v = self.add_weight("v", (hidden, 1), "glorot_uniform")
        self.built = True

    def call(self, ids, training=False):
        h = embedding(ids, self.table, sparse=self.sparse).mean(axis=1)
        return (h @ self.W + self.b).tanh() @ self.v


def make_data(n=48, length=6, vocab=30, seed=7):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocab, size=(n, length))
    y = rng.normal(size=(n, 1))
    return ids, y


def mse_loss(model, ids, y):
    diff = model(ids) - y
    return (diff * diff).mean()


def sgd_step(params, lr):
    with no_grad():
        for p in params:
            g = p.grad
            if g is None:
                continue
            if not isinstance(g, np.ndarray):
                g = g.to_dense()
            p.data -= lr * g
            p.grad = None


def train(model, ids, y, ctx, batch_size, epochs=2, lr=0.1, seed=3, on_step=None):
    """Data-parallel SGD with ``ctx`` (size 1: plain SGD with batch ``batch_size``)."""
    from tinynlp.distributed import distributed_batches

    ctx.broadcast_weights(model)
    params = model.trainable_weights
    step = 0
    for epoch in range(epochs):
        for idx in distributed_batches(ctx, len(ids), batch_size, epoch, seed=seed):
            if on_step is not None:
                on_step(step)
            loss = mse_loss(model, ids[idx], y[idx])
            loss.backward()
            ctx.allreduce_gradients(params)
            sgd_step(params, lr)
            step += 1
    return model
