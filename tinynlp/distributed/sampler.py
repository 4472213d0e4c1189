"""Which samples each rank trains on: a distributed sampler.

Every rank draws the *same* permutation of ``range(n_samples)`` for an epoch
(seeded by ``(seed, epoch)``, never by the rank), then takes every ``size``-th
element starting at its rank::

    perm    = permutation(n_samples; seed, epoch)
    shard_r = perm[r :: size]            (after trimming perm to a multiple of size)

Striding, rather than cutting ``perm`` into ``size`` contiguous blocks, has a
useful property: when every rank then takes its batches of ``B`` in order,
batch ``k`` of all ranks together is exactly ``perm[k·N·B : (k+1)·N·B]`` —
the batch ``k`` that a single process with batch size ``N·B`` would draw from
the same permutation.  That is what makes N-rank training reproduce
single-process training with the global batch (see the tutorial).

All shards have the same length, so every rank runs the same number of steps
(a rank with one extra step would wait forever in the gradient all-reduce).
The ``n_samples mod size`` left-over samples are handled by ``remainder``:

* ``"drop"`` (default, for training): the last ``n_samples mod size`` entries
  of the permutation are skipped this epoch.  They are a different random set
  every epoch, and at most ``size − 1`` samples.
* ``"pad"``: the permutation is extended with its own first entries (as
  PyTorch's ``DistributedSampler``), so every sample is seen but up to
  ``size − 1`` are seen twice.
* ``"uneven"`` (for evaluation): nothing is dropped or repeated; the first
  ``n_samples mod size`` ranks get one more sample.  Fine whenever no
  collective call depends on the number of batches (metrics reduced once at
  the end with :meth:`DistributedContext.allreduce_mean`, weighted by count).
"""

from __future__ import annotations

import numpy as np

__all__ = ["epoch_permutation", "shard_indices", "REMAINDER_MODES"]

REMAINDER_MODES = ("drop", "pad", "uneven")


def epoch_permutation(n_samples: int, epoch: int = 0, seed: int = 0,
                      shuffle: bool = True) -> np.ndarray:
    """The permutation of ``range(n_samples)`` shared by all ranks in ``epoch``.

    Depends only on ``(seed, epoch)``: the same on every rank and for every
    number of ranks (so a 1-process run sees the same order).  ``shuffle=False``
    gives ``arange(n_samples)``.
    """
    n_samples = _check_nonneg_int(n_samples, "n_samples")
    epoch = _check_nonneg_int(epoch, "epoch")
    seed = _check_nonneg_int(seed, "seed")
    if not shuffle:
        return np.arange(n_samples, dtype=np.int64)
    rng = np.random.default_rng([seed, epoch])
    return rng.permutation(n_samples).astype(np.int64, copy=False)


def shard_indices(n_samples: int, rank: int = 0, size: int = 1, epoch: int = 0,
                  seed: int = 0, shuffle: bool = True, remainder: str = "drop") -> np.ndarray:
    """This rank's sample indices for ``epoch`` (int64, in training order).

    ``perm[rank :: size]`` of the shared :func:`epoch_permutation`, after
    dropping or padding the ``n_samples mod size`` left-over entries as
    ``remainder`` says (module docstring).  With ``remainder`` ``"drop"`` or
    ``"pad"`` every rank gets the same number of indices.
    """
    n_samples = _check_nonneg_int(n_samples, "n_samples")
    size = _check_nonneg_int(size, "size")
    rank = _check_nonneg_int(rank, "rank")
    if size < 1:
        raise ValueError(f"shard_indices: size must be >= 1, got {size}")
    if rank >= size:
        raise ValueError(f"shard_indices: rank must be in [0, {size}), got {rank}")
    if remainder not in REMAINDER_MODES:
        raise ValueError(
            f"shard_indices: remainder must be one of {REMAINDER_MODES}, got {remainder!r}")
    perm = epoch_permutation(n_samples, epoch, seed, shuffle)
    extra = n_samples % size
    if extra and remainder == "drop":
        perm = perm[: n_samples - extra]
    elif extra and remainder == "pad":
        missing = size - extra  # n_samples >= 1 here; wrap around (repeatedly if tiny)
        perm = np.concatenate([perm, np.tile(perm, -(-missing // n_samples))[:missing]])
    return perm[rank::size]


def _check_nonneg_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"shard_indices: {name} must be a non-negative integer, got {value!r}")
    return int(value)
