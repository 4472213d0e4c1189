"""``DistributedContext``: one process's view of a data-parallel MPI job.

Every collective call here goes through :meth:`DistributedContext._wait`, a
watchdog: the call is posted non-blocking (``Iallreduce``, ``Ibcast``, ...)
and polled until it completes or ``timeout`` seconds pass
(env ``TINYNLP_DIST_TIMEOUT``, default 300; ``0`` or ``none`` waits forever).
On timeout the rank prints which call, epoch and step it was stuck in and
calls ``MPI_Abort``, which makes ``mpiexec`` kill every rank and exit non-zero.

What MPICH does by itself when a rank fails (measured with the ``mpich`` wheel,
see ``tests/distributed/test_failures.py``):

* a rank that exits with a non-zero code or is killed by a signal: ``mpiexec``
  notices at once, kills the others (SIGKILL, so they print nothing) and exits
  with that code (``python -m tinynlp.distributed.launch`` then prints a line
  saying the job failed);
* a rank that calls ``os._exit(0)`` mid-run: ``mpiexec`` kills the others and
  exits with code **0** — don't do that; leave through ``abort`` instead;
* a rank that raises an uncaught Python exception: the interpreter's normal
  shutdown runs ``MPI_Finalize``, which waits for the ranks still inside a
  collective — the job **hangs forever**.  :meth:`from_environment` therefore
  installs an exception hook that prints the traceback and calls
  ``MPI_Abort`` (as ``python -m mpi4py`` does);
* a rank that hangs (deadlock, a different number of steps, an infinite
  loop): only the watchdog ends the job.
"""

from __future__ import annotations

import os
import sys
import time
import zlib

import numpy as np

from .. import random as tn_random
from ..autograd.tensor import RowSparseGrad, Tensor
from .buckets import DEFAULT_BUCKET_BYTES, plan_buckets
from .sampler import shard_indices as _shard_indices

__all__ = ["DistributedContext", "CommStats", "launched_by_mpi", "timeout_from_env",
           "ENV_TIMEOUT", "DEFAULT_TIMEOUT"]

ENV_TIMEOUT = "TINYNLP_DIST_TIMEOUT"
#: seconds between printing an abort message and MPI_Abort (see :meth:`abort`)
ABORT_GRACE_SECONDS = 0.5
DEFAULT_TIMEOUT = 300.0
SPARSE_MODES = ("auto", "dense", "gather")

# environment variables set by MPI launchers (MPICH/Hydra, Open MPI, PMIx, Slurm's PMI)
_LAUNCHER_VARS = ("PMI_SIZE", "PMI_RANK", "HYDI_CONTROL_FD", "OMPI_COMM_WORLD_SIZE",
                  "PMIX_RANK", "MPI_LOCALNRANKS")

_hook_installed = False


def launched_by_mpi() -> bool:
    """True when this process was started by ``mpiexec`` / ``mpirun``."""
    return any(v in os.environ for v in _LAUNCHER_VARS)


def timeout_from_env() -> float | None:
    """Seconds from env ``TINYNLP_DIST_TIMEOUT`` (default 300); None = no limit."""
    raw = os.environ.get(ENV_TIMEOUT, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    if raw.lower() in ("0", "none", "off", "inf", "infinite"):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(
            f"{ENV_TIMEOUT} must be a number of seconds or 'none', got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{ENV_TIMEOUT} must be >= 0, got {raw!r}")
    return value or None


class CommStats:
    """Where the time of :meth:`DistributedContext.allreduce_gradients` went.

    ``seconds``: wall time inside ``allreduce_gradients`` (packing, the
    all-reduce itself, waiting for slower ranks, unpacking); ``wait_seconds``:
    the part spent in MPI calls; ``calls``: collective calls issued (buckets
    plus sparse gathers); ``bytes``: gradient bytes this rank contributed;
    ``steps``: ``allreduce_gradients`` calls.
    """

    __slots__ = ("steps", "calls", "bytes", "seconds", "wait_seconds")

    def __init__(self):
        self.reset()

    def reset(self):
        self.steps = 0
        self.calls = 0
        self.bytes = 0
        self.seconds = 0.0
        self.wait_seconds = 0.0

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}

    def __repr__(self):
        return (f"CommStats(steps={self.steps}, calls={self.calls}, "
                f"MB={self.bytes / 2**20:.2f}, seconds={self.seconds:.4f})")


def _as_params(model_or_params, trainable_only, what):
    if hasattr(model_or_params, "weights") and not isinstance(model_or_params, (list, tuple)):
        params = (model_or_params.trainable_weights if trainable_only
                  else model_or_params.weights)
    else:
        params = list(model_or_params)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{what}: expected a model or a list of Parameters/Tensors, "
                            f"item {i} is {type(p).__name__}")
    return list(params)


class DistributedContext:
    """Rank, size and the collective operations data-parallel training needs.

    Build it with :meth:`from_environment` (reads ``MPI.COMM_WORLD``; without
    ``mpiexec`` — or without mpi4py installed — it is a single process of
    size 1 whose collectives are identities).

    ``timeout``: seconds a collective may wait for the other ranks before the
    job is aborted (None: forever; default from env ``TINYNLP_DIST_TIMEOUT``).
    ``bucket_bytes``: the size of the flat gradient buffers (25 MB).
    ``sparse``: how row-sparse gradients (parameters with ``sparse=True``)
    are combined: ``"gather"`` all-gathers the touched rows,
    ``"dense"`` scatters them into a dense buffer that is all-reduced,
    ``"auto"`` (default) gathers unless the ranks touched, in total, at least
    as many rows as the table has.
    """

    def __init__(self, comm=None, timeout="env", bucket_bytes: int = DEFAULT_BUCKET_BYTES,
                 sparse: str = "auto"):
        self.comm = comm
        self.rank = 0 if comm is None else int(comm.Get_rank())
        self.size = 1 if comm is None else int(comm.Get_size())
        self.timeout = timeout_from_env() if timeout == "env" else (
            None if timeout is None or timeout <= 0 else float(timeout))
        if not isinstance(bucket_bytes, (int, np.integer)) or bucket_bytes <= 0:
            raise ValueError(
                f"DistributedContext: bucket_bytes must be a positive int, got {bucket_bytes!r}")
        self.bucket_bytes = int(bucket_bytes)
        if sparse not in SPARSE_MODES:
            raise ValueError(
                f"DistributedContext: sparse must be one of {SPARSE_MODES}, got {sparse!r}")
        self.sparse = sparse
        self.epoch = None  # set by shard_indices, shown in error messages
        self.step = 0      # allreduce_gradients calls so far
        self.stats = CommStats()
        self._plans = {}

    # ---- construction ----------------------------------------------------------
    @classmethod
    def from_environment(cls, timeout="env", bucket_bytes: int = DEFAULT_BUCKET_BYTES,
                         sparse: str = "auto", abort_on_exception: bool = True):
        """The context of this process, from ``MPI.COMM_WORLD``.

        Without mpi4py, or outside ``mpiexec``, this is a size-1 context (a
        plain single-process run).  Under ``mpiexec`` without mpi4py it raises
        an error saying how to install it, instead of silently running N
        independent copies.  With ``abort_on_exception`` (and size > 1) an
        uncaught exception on any rank aborts the whole job instead of
        leaving the other ranks waiting forever.
        """
        try:
            from mpi4py import MPI
        except ImportError:
            if launched_by_mpi() and int(os.environ.get("PMI_SIZE",
                                         os.environ.get("OMPI_COMM_WORLD_SIZE", "2"))) > 1:
                raise RuntimeError(
                    "tinynlp.distributed: started by mpiexec but mpi4py is not installed; "
                    "install the 'dist' extra: pip install 'tinynlp[dist]' "
                    "(mpi4py + the mpich wheel)") from None
            return cls(None, timeout=timeout, bucket_bytes=bucket_bytes, sparse=sparse)
        ctx = cls(MPI.COMM_WORLD, timeout=timeout, bucket_bytes=bucket_bytes, sparse=sparse)
        if abort_on_exception and ctx.size > 1:
            _install_excepthook(ctx)
        return ctx

    @property
    def is_root(self) -> bool:
        """True on rank 0: the rank that prints progress and writes checkpoints."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.size > 1

    def __repr__(self):
        t = "none" if self.timeout is None else f"{self.timeout:g}s"
        return f"DistributedContext(rank={self.rank}, size={self.size}, timeout={t})"

    def print(self, *args, **kwargs):
        """``print`` on rank 0 only (flushed)."""
        if self.is_root:
            kwargs.setdefault("flush", True)
            print(*args, **kwargs)

    # ---- failure handling --------------------------------------------------------
    def _where(self) -> str:
        epoch = "" if self.epoch is None else f"epoch {self.epoch}, "
        return f"rank {self.rank}/{self.size} ({epoch}step {self.step})"

    def abort(self, message: str, exit_code: int = 1):
        """Print ``message`` (naming this rank, epoch and step) and end the whole job.

        Under MPI this is ``MPI_Abort``: ``mpiexec`` kills every rank and exits
        non-zero.  In a size-1 run without MPI it raises ``SystemExit``.
        """
        sys.stdout.flush()
        sys.stderr.write(f"[tinynlp.distributed] {self._where()}: {message}\n")
        sys.stderr.flush()
        if self.comm is not None:
            # mpiexec forwards a rank's stderr through its proxy, which MPI_Abort tears
            # down: on a busy machine the message was lost (an empty stderr, seen once in
            # CI).  A moment for the proxy to read the pipe first.
            time.sleep(ABORT_GRACE_SECONDS)
            self.comm.Abort(int(exit_code))
        raise SystemExit(int(exit_code))

    def _wait(self, request, what: str):
        """Complete a non-blocking MPI request, or abort after ``self.timeout`` s.

        MPICH advances a non-blocking collective only while some call of this
        rank (``Test``) drives it, so for the first second the loop polls
        without sleeping (yielding the core between polls) — a blocking
        ``MPI_Wait`` spins the same way.  Only a wait longer than that (a rank
        busy writing a checkpoint, or gone) polls every millisecond.
        """
        t0 = time.perf_counter()
        if self.timeout is None:
            request.Wait()
        elif not request.Test():
            deadline = t0 + self.timeout
            spin_until = t0 + min(1.0, self.timeout)
            while not request.Test():
                now = time.perf_counter()
                if now < spin_until:
                    os.sched_yield()
                    continue
                if now > deadline:
                    self.abort(
                        f"timed out after {self.timeout:g} s waiting for the other ranks in "
                        f"{what}: a rank probably died, hangs, or runs a different number of "
                        f"steps. Aborting the job ({ENV_TIMEOUT} sets the limit).")
                time.sleep(1e-3)
        return time.perf_counter() - t0

    def _allreduce_inplace(self, buf: np.ndarray, what: str) -> float:
        from mpi4py import MPI
        return self._wait(self.comm.Iallreduce(MPI.IN_PLACE, buf, op=MPI.SUM), what)

    def _allgather(self, local: np.ndarray, what: str) -> np.ndarray:
        """(size, *local.shape) array of every rank's ``local`` (same shape on all)."""
        local = np.ascontiguousarray(local)
        out = np.empty((self.size,) + local.shape, dtype=local.dtype)
        self._wait(self.comm.Iallgather(local, out), what)
        return out

    # ---- the API used by fit(distributed=True) ----------------------------------------
    def barrier(self):
        """Wait until every rank gets here (with the watchdog's timeout)."""
        if self.size > 1:
            self._wait(self.comm.Ibarrier(), "barrier")

    def broadcast_weights(self, model, root: int = 0):
        """Copy rank ``root``'s weights into every rank's model, in place.

        ``model`` is a Layer/Model (all its ``weights``, trainable or not) or
        a list of Parameters.  The weights must already exist (build the model
        first) and have the same shapes and dtypes on every rank; a mismatch
        aborts the job with a message listing this rank's shapes.
        """
        params = _as_params(model, trainable_only=False, what="broadcast_weights")
        if not params:
            raise ValueError(
                "broadcast_weights: the model has no weights yet; build it first "
                "(give input_shape, or call it once on a batch) so every rank has weights")
        if self.size == 1:
            return
        signature = [(tuple(p.shape), p.dtype.str) for p in params]
        digest = np.array([zlib.crc32(repr(signature).encode())], dtype=np.int64)
        digests = self._allgather(digest, "broadcast_weights (shape check)")
        if np.any(digests != digests[root]):
            shown = ", ".join(f"{s}:{d}" for s, d in signature[:8])
            self.abort(f"broadcast_weights: the model's weights differ in shape/dtype between "
                       f"ranks (rank {root} disagrees with ranks "
                       f"{np.flatnonzero(digests[:, 0] != digests[root, 0]).tolist()}); this "
                       f"rank has {len(params)} weights: {shown}"
                       f"{' ...' if len(signature) > 8 else ''}")
        for bucket in plan_buckets([(p.shape, p.dtype) for p in params], self.bucket_bytes):
            if self.rank == root:
                bucket.pack([p.data for p in params])
            self._wait(self.comm.Ibcast(bucket.buffer, root=root), "broadcast_weights")
            if self.rank != root:
                for slot, offset, shape in bucket.entries:
                    params[slot].data[...] = bucket.view(offset, shape)

    def shard_indices(self, n_samples: int, epoch: int = 0, seed=0, shuffle: bool = True,
                      remainder: str = "drop") -> np.ndarray:
        """This rank's sample indices for ``epoch``: see :mod:`tinynlp.distributed.sampler`.

        Every rank permutes ``range(n_samples)`` with the same ``(seed, epoch)``
        and takes ``perm[rank::size]``; shards have equal length (the
        ``n_samples mod size`` left-over samples are dropped this epoch, or
        padded by wrap-around with ``remainder="pad"``).  Rank 0's ``seed`` is
        used on every rank (``None``: rank 0 draws one from ``tn.random``),
        and a different ``n_samples`` on some rank aborts the job.
        """
        if seed is None and (self.size == 1 or self.is_root):
            seed = tn_random.next_seed()
        if self.size > 1:
            mine = np.array([int(n_samples), -1 if seed is None else int(seed)], dtype=np.int64)
            every = self._allgather(mine, "shard_indices")
            if np.any(every[:, 0] != every[0, 0]):
                self.abort(f"shard_indices: ranks have different dataset sizes "
                           f"{every[:, 0].tolist()} (by rank); every rank must load the same "
                           f"data and shard it with shard_indices")
            seed = int(every[0, 1])
        self.epoch = epoch
        return _shard_indices(n_samples, self.rank, self.size, epoch, seed, shuffle, remainder)

    def allreduce_gradients(self, params):
        """Average every ``p.grad`` over the ranks, in place (the core of data parallelism).

        ``params``: a model (its trainable weights) or a list of Parameters;
        those without ``requires_grad`` are skipped.  After the call every
        rank holds ``(1/N) Σ_r grad_r`` — the gradient of the mean loss over
        the union of the N equal-size per-rank batches.  A parameter whose
        ``grad`` is None on a rank contributes zeros and receives the average.

        Dense gradients travel in flat buffers of up to ``bucket_bytes``, one
        per run of parameters of one dtype, one all-reduce per buffer.
        :class:`RowSparseGrad` gradients of ``sparse`` parameters are
        all-gathered (the touched rows and their values; result coalesced) or
        densified into the buffers (``sparse`` mode of the context); those of
        other parameters are densified.
        """
        params = [p for p in _as_params(params, trainable_only=True, what="allreduce_gradients")
                  if p.requires_grad]
        self.step += 1
        self.stats.steps += 1
        if self.size == 1 or not params:
            return
        t0 = time.perf_counter()
        wait = 0.0
        gathered = {}  # slot -> coalesced local RowSparseGrad, for sparse parameters
        routes = ()
        sparse_slots = [i for i, p in enumerate(params) if getattr(p, "sparse", False)]
        if sparse_slots:
            for i in sparse_slots:
                gathered[i] = _local_rows(params[i])
            counts = np.array([len(gathered[i].indices) for i in sparse_slots], dtype=np.int64)
            t = time.perf_counter()
            all_counts = self._allgather(counts, "allreduce_gradients (sparse row counts)")
            wait += time.perf_counter() - t
            self.stats.calls += 1
            routes = tuple(self._sparse_route(all_counts[:, k].sum(), params[i].shape[0])
                           for k, i in enumerate(sparse_slots))
        gather_slots = [i for i, r in zip(sparse_slots, routes) if r == "gather"]
        dense_slots = [i for i in range(len(params)) if i not in set(gather_slots)]

        # the plan depends only on shapes and dtypes (identical on every rank)
        key = (tuple((params[i].shape, params[i].dtype.str) for i in dense_slots),
               self.bucket_bytes)
        plan = self._plans.get(key)
        if plan is None:
            plan = plan_buckets([(params[i].shape, params[i].dtype) for i in dense_slots],
                                self.bucket_bytes)
            self._plans[key] = plan
        grads = [params[i].grad for i in dense_slots]
        for bucket in plan:
            buf = bucket.pack(grads)
            wait += self._allreduce_inplace(buf, f"allreduce_gradients (bucket of "
                                                 f"{len(bucket.entries)} gradients)")
            self.stats.calls += 1
            self.stats.bytes += buf.nbytes
            for (slot, _, _), g in zip(bucket.entries, bucket.unpack(grads, scale=self.size)):
                params[dense_slots[slot]].grad = g

        if gather_slots:
            cols = [sparse_slots.index(i) for i in gather_slots]
            wait += self._gather_rows([params[i] for i in gather_slots],
                                      [gathered[i] for i in gather_slots], all_counts[:, cols])
        self.stats.wait_seconds += wait
        self.stats.seconds += time.perf_counter() - t0

    def _gather_rows(self, params, local, counts) -> float:
        """All-gather the touched rows of several sparse gradients in one call.

        Rank r sends, for each parameter k, its ``counts[r, k]`` row ids (int64)
        then those rows' values, all as one byte string; every rank receives
        every rank's string (``Iallgatherv``), so all ranks build the same
        ``RowSparseGrad(all ids, all rows / N).coalesce()`` for each parameter.
        """
        row_bytes = np.array([8 + int(np.prod(p.shape[1:], dtype=np.int64)) * p.dtype.itemsize
                              for p in params], dtype=np.int64)
        payload = np.concatenate(
            [part for g, p in zip(local, params)
             for part in (g.indices.view(np.uint8),
                          np.ascontiguousarray(g.values, dtype=p.dtype).reshape(-1).view(np.uint8))]
            or [np.empty(0, np.uint8)])
        sizes = counts @ row_bytes                       # bytes sent by each rank
        displs = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        received = np.empty(int(sizes.sum()), dtype=np.uint8)
        what = f"allreduce_gradients (sparse rows of {len(params)} parameter(s))"
        seconds = self._wait(self.comm.Iallgatherv(payload, [received, (sizes, displs)]), what)
        self.stats.calls += 1
        self.stats.bytes += payload.nbytes
        ids = [[] for _ in params]
        vals = [[] for _ in params]
        offset = 0
        for r in range(self.size):
            for k, p in enumerate(params):
                n = int(counts[r, k])
                ids[k].append(received[offset:offset + 8 * n].view(np.int64))
                offset += 8 * n
                nbytes = n * (int(row_bytes[k]) - 8)
                vals[k].append(received[offset:offset + nbytes].view(p.dtype))
                offset += nbytes
        for k, p in enumerate(params):
            values = np.concatenate(vals[k]).reshape((-1,) + p.shape[1:]) / p.dtype.type(self.size)
            p.grad = RowSparseGrad(np.concatenate(ids[k]), values, p.shape).coalesce()
        return seconds

    def _sparse_route(self, total_rows, table_rows) -> str:
        if self.sparse == "auto":
            return "gather" if total_rows < table_rows else "dense"
        return self.sparse

    def allreduce_mean(self, values: dict, count) -> dict:
        """Metrics averaged over all ranks' samples: ``Σ_r count_r·v_r / Σ_r count_r``.

        ``values`` maps names to this rank's mean over its ``count`` samples
        (names must be the same on every rank — checked; a mismatch aborts).
        One all-reduce of a small float64 vector.  With a total count of 0
        every value is NaN.
        """
        keys = sorted(values)
        count = float(count)
        if count < 0:
            raise ValueError(f"allreduce_mean: count must be >= 0, got {count}")
        vec = np.array([float(values[k]) * count if count else 0.0 for k in keys]
                       + [count, float(zlib.crc32("\0".join(keys).encode()))], dtype=np.float64)
        if self.size > 1:
            digest = vec[-1]
            self._allreduce_inplace(vec, "allreduce_mean")
            if vec[-1] != digest * self.size:
                self.abort(f"allreduce_mean: the metric names differ between ranks "
                           f"(this rank has {keys})")
        total = vec[-2]
        return {k: (float(vec[i] / total) if total > 0 else float("nan"))
                for i, k in enumerate(keys)}

    def allreduce_sum(self, array) -> np.ndarray:
        """Element-wise sum of ``array`` over the ranks (e.g. confusion matrices)."""
        out = np.array(array, copy=True)
        if out.dtype.kind not in "fiub":
            raise TypeError(f"allreduce_sum: expected a numeric array, got dtype {out.dtype}")
        if out.dtype.kind == "b":
            out = out.astype(np.int64)
        if self.size > 1:
            out = np.ascontiguousarray(out)
            self._allreduce_inplace(out.reshape(-1), "allreduce_sum")
        return out


def _local_rows(p) -> RowSparseGrad:
    """This rank's gradient of a sparse parameter as a coalesced RowSparseGrad."""
    g = p.grad
    if g is None:
        return RowSparseGrad(np.empty(0, np.int64), np.empty((0,) + p.shape[1:], p.dtype),
                             p.shape)
    if isinstance(g, RowSparseGrad):
        return g.coalesce()
    g = np.asarray(g)
    return RowSparseGrad(np.arange(p.shape[0], dtype=np.int64), g, p.shape)


def _install_excepthook(ctx):
    """Make an uncaught exception on any rank abort the whole job (not hang it)."""
    global _hook_installed
    if _hook_installed:
        return
    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        try:
            previous(exc_type, exc, tb)
        finally:
            ctx.abort(f"uncaught {exc_type.__name__}: {exc} -- aborting all {ctx.size} ranks")

    sys.excepthook = hook
    _hook_installed = True

