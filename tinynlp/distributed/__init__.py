"""Data-parallel training over MPI (``mpi4py``): every rank holds the whole
model, trains on its own shard of each batch, and the gradients are averaged
with ``Allreduce`` before every (identical) optimizer step.

Install and launch
------------------
::

    pip install 'tinynlp[dist]'          # mpi4py + the mpich wheel (MPI from PyPI)
    mpiexec -n 2 python train.py         # or: python -m tinynlp.distributed.launch -n 2 train.py
    tinynlp train ... --distributed      # the CLI, run under mpiexec the same way

Everything else in tinynlp works without the extra; without ``mpiexec`` (or
without mpi4py) a :class:`DistributedContext` is a single process of size 1.
The ``mpich`` wheel puts ``mpiexec`` in the virtualenv's ``bin/``; it needs no
environment variables on one machine (``launch`` sets the few Open MPI wants
as root).  See :mod:`tinynlp.distributed.launch`.

In a script
-----------
``model.fit(x, y, ..., distributed=True)`` does everything below.  By hand::

    from tinynlp.distributed import DistributedContext
    ctx = DistributedContext.from_environment()   # rank, size from MPI.COMM_WORLD
    ctx.broadcast_weights(model)                  # rank 0's initial weights everywhere
    for epoch in range(epochs):
        idx = ctx.shard_indices(len(x), epoch, seed=0)   # same permutation, every size-th
        for batch in (idx[i:i + B] for i in range(0, len(idx), B)):
            ...forward, loss (mean over the batch), backward...
            ctx.allreduce_gradients(model.trainable_weights)    # average over ranks
            optimizer.step()
        logs = ctx.allreduce_mean({"loss": loss_sum / n, "accuracy": acc}, count=n)
        if ctx.is_root:                           # only rank 0 prints / checkpoints
            print(epoch, logs); model.save("ckpt.tnz")
    ctx.barrier()

``batch_size`` is per rank; the global batch is ``size × batch_size``, and N
ranks with batch B follow the same trajectory as one process with batch N·B
(up to float rounding) — see ``tutorials/11_data_parallel.py``.

Failures
--------
A rank that dies or hangs never leaves the others waiting forever: each
collective waits at most ``TINYNLP_DIST_TIMEOUT`` seconds (default 300) and
then aborts the job with a message naming the rank, epoch and step; an
uncaught exception on any rank aborts the job at once
(:mod:`tinynlp.distributed.context` lists what MPICH itself does).

Public names: :class:`DistributedContext`, :class:`DataParallel`,
:func:`distributed_batches`, :func:`shard_indices`, :func:`epoch_permutation`,
:func:`plan_buckets`, :func:`is_available`; :mod:`tinynlp.distributed.launch`
(``launch(script, nprocs)``, ``find_mpiexec()``, and the ``-m`` entry point).
"""

from __future__ import annotations

from .buckets import DEFAULT_BUCKET_BYTES, Bucket, plan_buckets
from .context import (
    DEFAULT_TIMEOUT,
    ENV_TIMEOUT,
    CommStats,
    DistributedContext,
    launched_by_mpi,
    timeout_from_env,
)
from .parallel import DataParallel, distributed_batches
from .sampler import epoch_permutation, shard_indices

__all__ = [
    "DistributedContext", "DataParallel", "distributed_batches", "CommStats",
    "shard_indices", "epoch_permutation", "plan_buckets", "Bucket", "DEFAULT_BUCKET_BYTES",
    "launch", "is_available", "launched_by_mpi", "timeout_from_env",
    "ENV_TIMEOUT", "DEFAULT_TIMEOUT",
]


def is_available() -> bool:
    """True when mpi4py imports and an ``mpiexec`` is found (N-rank jobs can run)."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    from .launch import find_mpiexec
    return find_mpiexec() is not None


def __getattr__(name):
    # ``launch`` is a submodule (``python -m tinynlp.distributed.launch``); it is imported
    # on first use only, so that running it with -m does not import it twice
    if name == "launch":
        import importlib
        return importlib.import_module(".launch", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
