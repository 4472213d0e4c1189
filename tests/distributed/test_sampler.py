"""The distributed sampler: equal shards, one shared permutation, global batches."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinynlp.distributed import epoch_permutation, shard_indices

sizes = st.integers(1, 6)
ns = st.integers(0, 80)


@given(n=ns, size=sizes, epoch=st.integers(0, 3), seed=st.integers(0, 9))
def test_drop_gives_disjoint_equal_shards_of_the_shared_permutation(n, size, epoch, seed):
    shards = [shard_indices(n, r, size, epoch, seed) for r in range(size)]
    assert {len(s) for s in shards} == {n // size}
    union = np.concatenate(shards)
    assert len(np.unique(union)) == len(union) == n - n % size
    perm = epoch_permutation(n, epoch, seed)
    # rank r takes perm[r::size] of the trimmed permutation
    for r, s in enumerate(shards):
        np.testing.assert_array_equal(s, perm[: n - n % size][r::size])


@given(n=st.integers(1, 80), size=sizes)
def test_pad_covers_every_sample_with_equal_shards(n, size):
    shards = [shard_indices(n, r, size, 1, 2, remainder="pad") for r in range(size)]
    assert {len(s) for s in shards} == {-(-n // size)}
    union = np.concatenate(shards)
    assert set(union.tolist()) == set(range(n))
    assert len(union) - n == (-n) % size  # only the padding repeats


@given(n=ns, size=sizes)
def test_uneven_covers_every_sample_exactly_once(n, size):
    shards = [shard_indices(n, r, size, 0, 0, remainder="uneven") for r in range(size)]
    union = np.sort(np.concatenate(shards))
    np.testing.assert_array_equal(union, np.arange(n))
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


@given(n=st.integers(1, 80), size=sizes, batch=st.integers(1, 7), seed=st.integers(0, 5))
def test_rank_batches_together_are_the_single_process_global_batch(n, size, batch, seed):
    """Batch k of all ranks = batch k of one process with batch size·B (same permutation)."""
    shards = [shard_indices(n, r, size, 0, seed) for r in range(size)]
    single = epoch_permutation(n, 0, seed)[: n - n % size]
    n_batches = -(-len(shards[0]) // batch)
    for k in range(n_batches):
        together = np.concatenate([s[k * batch:(k + 1) * batch] for s in shards])
        expect = single[k * size * batch:(k + 1) * size * batch]
        np.testing.assert_array_equal(np.sort(together), np.sort(expect))


def test_permutation_depends_on_seed_and_epoch_only():
    a = epoch_permutation(50, epoch=1, seed=3)
    np.testing.assert_array_equal(a, epoch_permutation(50, epoch=1, seed=3))
    assert not np.array_equal(a, epoch_permutation(50, epoch=2, seed=3))
    assert not np.array_equal(a, epoch_permutation(50, epoch=1, seed=4))
    np.testing.assert_array_equal(np.sort(a), np.arange(50))
    np.testing.assert_array_equal(epoch_permutation(7, shuffle=False), np.arange(7))
    # size 1 takes the whole permutation: a 1-process run sees the same order
    np.testing.assert_array_equal(shard_indices(50, 0, 1, 1, 3), a)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_samples=10, rank=2, size=2), "rank must be in"),
    (dict(n_samples=10, rank=0, size=0), "size must be >= 1"),
    (dict(n_samples=-1), "n_samples must be a non-negative integer"),
    (dict(n_samples=10, epoch=1.5), "epoch must be"),
    (dict(n_samples=10, remainder="keep"), "remainder must be one of"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        shard_indices(**kwargs)
