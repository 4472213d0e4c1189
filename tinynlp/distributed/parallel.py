"""``DataParallel``: a model wrapper for hand-written data-parallel loops.

``fit(..., distributed=True)`` does all of this for you; the wrapper is for
people who write their own loop (and for reading: the whole algorithm is the
five numbered lines below)::

    import tinynlp as tn
    from tinynlp.distributed import DataParallel, distributed_batches

    model = build_model()                      # built: weights exist
    dp = DataParallel(model)                   # 1. rank 0's weights -> every rank
    for epoch in range(epochs):
        for idx in distributed_batches(dp.ctx, len(x), batch_size, epoch, seed=0):
            for p in model.trainable_weights:  #    (as usual)
                p.zero_grad()
            loss = loss_fn(y[idx], dp(x[idx], training=True))   # 2. local forward
            loss.backward()                                      # 3. local backward
            dp.allreduce_gradients()                             # 4. average gradients
            optimizer.step(model.trainable_weights)              # 5. identical update
"""

from __future__ import annotations

from .context import DistributedContext

__all__ = ["DataParallel", "distributed_batches"]


class DataParallel:
    """Wrap ``model`` for data-parallel training over the ranks of ``ctx``.

    On construction rank 0's weights are broadcast to every rank (the model
    must be built).  Calling the wrapper calls the model; attributes not
    defined here are the model's.  ``allreduce_gradients()`` averages the
    gradients of the model's trainable weights across ranks.
    """

    def __init__(self, model, ctx: DistributedContext | None = None, broadcast: bool = True):
        self.module = model
        self.ctx = ctx if ctx is not None else DistributedContext.from_environment()
        if broadcast:
            self.ctx.broadcast_weights(model)

    def __call__(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def broadcast_weights(self):
        self.ctx.broadcast_weights(self.module)

    def allreduce_gradients(self):
        self.ctx.allreduce_gradients(self.module.trainable_weights)

    def __getattr__(self, name):
        if name in ("module", "ctx"):  # not yet set (during unpickling etc.)
            raise AttributeError(name)
        return getattr(self.module, name)

    def __repr__(self):
        return f"DataParallel({self.module!r}, {self.ctx!r})"


def distributed_batches(ctx: DistributedContext, n_samples: int, batch_size: int,
                        epoch: int = 0, seed=0, shuffle: bool = True,
                        remainder: str = "drop"):
    """Yield this rank's index batches (int64 arrays of up to ``batch_size``) for an epoch.

    ``batch_size`` is per rank: the global batch is ``ctx.size · batch_size``.
    Shards have equal length, so every rank yields the same number of batches
    (the last may be smaller, but equally so on every rank), and batch k of
    all ranks together is batch k of a 1-process run with batch size
    ``ctx.size · batch_size`` over the same permutation.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"distributed_batches: batch_size must be a positive int, "
                         f"got {batch_size!r}")
    idx = ctx.shard_indices(n_samples, epoch=epoch, seed=seed, shuffle=shuffle,
                            remainder=remainder)
    for start in range(0, len(idx), batch_size):
        yield idx[start:start + batch_size]
