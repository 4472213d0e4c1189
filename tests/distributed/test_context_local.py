"""A size-1 DistributedContext (no MPI needed): identities, checks and helpers."""

import numpy as np
import pytest

import tinynlp as tn
from tests.distributed.tiny import TinyNet, make_data, train
from tinynlp.distributed import (
    DataParallel,
    DistributedContext,
    distributed_batches,
    timeout_from_env,
)


@pytest.fixture
def ctx():
    return DistributedContext(None, timeout=None)


def test_single_process_context_is_rank_zero_of_one(ctx):
    assert (ctx.rank, ctx.size, ctx.is_root, ctx.is_distributed) == (0, 1, True, False)
    assert "rank=0, size=1" in repr(ctx)


def test_size_one_collectives_are_identities(ctx):
    model = TinyNet()
    before = model.get_weights()
    ctx.broadcast_weights(model)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    g = np.arange(6.0).reshape(3, 2)
    p = tn.Tensor(np.zeros((3, 2)), requires_grad=True)
    p.grad = g.copy()
    ctx.allreduce_gradients([p])
    np.testing.assert_array_equal(p.grad, g)
    assert ctx.step == 1 and ctx.stats.steps == 1 and ctx.stats.calls == 0
    np.testing.assert_array_equal(ctx.allreduce_sum(np.array([1, 2])), [1, 2])
    ctx.barrier()


def test_allreduce_mean_weights_by_count(ctx):
    assert ctx.allreduce_mean({"loss": 0.5, "acc": 0.25}, count=8) == {"loss": 0.5, "acc": 0.25}
    out = ctx.allreduce_mean({"loss": float("nan")}, count=0)
    assert np.isnan(out["loss"])
    with pytest.raises(ValueError, match="count must be >= 0"):
        ctx.allreduce_mean({"loss": 1.0}, count=-1)


def test_shard_indices_on_one_rank_is_the_epoch_permutation(ctx):
    idx = ctx.shard_indices(20, epoch=2, seed=5)
    np.testing.assert_array_equal(idx, tn.distributed.epoch_permutation(20, 2, 5))
    assert ctx.epoch == 2
    tn.random.seed(0)
    a = ctx.shard_indices(20, epoch=0, seed=None)   # seed drawn from tn.random
    tn.random.seed(0)
    np.testing.assert_array_equal(a, ctx.shard_indices(20, epoch=0, seed=None))


def test_distributed_batches_split_the_shard(ctx):
    batches = list(distributed_batches(ctx, 10, 4, epoch=0, seed=1))
    assert [len(b) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate(batches), ctx.shard_indices(10, 0, 1))
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        next(distributed_batches(ctx, 10, 0))


def test_broadcast_weights_needs_built_weights(ctx):
    class Empty(tn.layers.base.Layer):
        pass
    with pytest.raises(ValueError, match="no weights yet; build it first"):
        ctx.broadcast_weights(Empty())
    with pytest.raises(TypeError, match="item 0 is ndarray"):
        ctx.broadcast_weights([np.zeros(3)])


def test_abort_exits_with_a_message_naming_rank_and_step(ctx, capsys):
    ctx.step = 7
    with pytest.raises(SystemExit) as info:
        ctx.abort("something broke")
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "rank 0/1 (step 7): something broke" in err


def test_data_parallel_wrapper_delegates_to_the_model(ctx):
    model = TinyNet()
    dp = DataParallel(model, ctx=ctx)
    ids, _ = make_data(n=4)
    np.testing.assert_array_equal(dp(ids).data, model(ids).data)
    assert dp.trainable_weights == model.trainable_weights  # delegated attribute
    dp.allreduce_gradients()
    assert ctx.stats.steps == 1


def test_training_loop_with_a_size_one_context_is_plain_sgd(ctx):
    """The helper loop used by the MPI tests is ordinary minibatch SGD at size 1."""
    ids, y = make_data()
    tn.random.seed(1)
    a = train(TinyNet(), ids, y, ctx, batch_size=8, epochs=1, seed=3)
    tn.random.seed(1)
    b = TinyNet()
    perm = tn.distributed.epoch_permutation(len(ids), 0, 3)
    params = b.trainable_weights
    for k in range(0, len(ids), 8):
        idx = perm[k:k + 8]
        diff = b(ids[idx]) - y[idx]
        (diff * diff).mean().backward()
        for p in params:
            p.data -= 0.1 * p.grad
            p.grad = None
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=0, atol=1e-14)


def test_timeout_from_env(monkeypatch):
    monkeypatch.delenv("TINYNLP_DIST_TIMEOUT", raising=False)
    assert timeout_from_env() == 300.0
    for raw, want in [("12.5", 12.5), ("0", None), ("none", None)]:
        monkeypatch.setenv("TINYNLP_DIST_TIMEOUT", raw)
        assert timeout_from_env() == want
    monkeypatch.setenv("TINYNLP_DIST_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="TINYNLP_DIST_TIMEOUT must be a number"):
        timeout_from_env()
    with pytest.raises(ValueError, match="bucket_bytes must be a positive int"):
        DistributedContext(None, timeout=None, bucket_bytes=0)
    with pytest.raises(ValueError, match="sparse must be one of"):
        DistributedContext(None, timeout=None, sparse="maybe")
