"""Starting an N-rank job: ``python -m tinynlp.distributed.launch -n 2 train.py``.

This is a thin, documented wrapper around the MPI launcher; you can always
call ``mpiexec`` yourself::

    pip install 'tinynlp[dist]'                   # mpi4py + the mpich wheel
    mpiexec -n 2 python train.py                  # MPICH's mpiexec is in the venv's bin/
    python -m tinynlp.distributed.launch -n 2 train.py --epochs 3     # the same, plus:

* it finds ``mpiexec`` next to the running Python first (the ``mpich``
  wheel installs it in the virtualenv's ``bin/``, which may not be on
  ``PATH``), then on ``PATH`` (``mpiexec``, then ``mpirun``); env
  ``TINYNLP_MPIEXEC`` overrides;
* it gives each rank ``cpu_count // n`` BLAS/Numba threads (env
  ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``,
  ``NUMBA_NUM_THREADS``) unless you set them, so N ranks do not fight over
  the cores;
* ``--collective-timeout S`` sets ``TINYNLP_DIST_TIMEOUT`` for the ranks (how
  long a collective may wait before the job is aborted; default 300 s);
* it sets ``OMPI_ALLOW_RUN_AS_ROOT(_CONFIRM)=1`` so Open MPI also runs in a
  root container (MPICH does not need it); it needs no other variables —
  MPICH's Hydra launcher starts local ranks with ``fork``.  For several hosts
  pass ``-f hostfile`` through ``--mpiexec-args``.

The exit code is ``mpiexec``'s: non-zero if any rank failed or aborted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys

__all__ = ["find_mpiexec", "launch", "main", "THREAD_VARS"]

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMBA_NUM_THREADS")


def find_mpiexec() -> str | None:
    """Path of the MPI launcher, or None when no MPI is installed (see module docs)."""
    override = os.environ.get("TINYNLP_MPIEXEC")
    if override:
        return override
    for name in ("mpiexec", "mpirun"):
        candidate = os.path.join(os.path.dirname(sys.executable), name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    for name in ("mpiexec", "mpirun"):
        found = shutil.which(name)
        if found:
            return found
    return None


def rank_environment(nprocs: int, threads_per_rank: int | None = None,
                     collective_timeout: float | None = None, env=None) -> dict:
    """The environment the ranks are started with (module docs)."""
    env = dict(os.environ if env is None else env)
    if threads_per_rank is None:
        threads_per_rank = max(1, (os.cpu_count() or 1) // max(1, nprocs))
    for var in THREAD_VARS:
        env.setdefault(var, str(int(threads_per_rank)))
    if collective_timeout is not None:
        env["TINYNLP_DIST_TIMEOUT"] = str(collective_timeout)
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    return env


def launch(target: str, nprocs: int = 2, args=(), module: bool = False,
           timeout: float | None = None, threads_per_rank: int | None = None,
           collective_timeout: float | None = None, mpiexec_args=(), env=None,
           capture_output: bool = False, python: str | None = None):
    """Run ``python target args...`` on ``nprocs`` ranks and wait for it.

    ``module=True`` runs ``python -m target``.  ``timeout`` bounds the whole
    job's wall time: when it passes, every process of the job is killed and
    ``subprocess.TimeoutExpired`` is raised.  Returns a
    ``subprocess.CompletedProcess`` (``returncode`` non-zero if a rank failed).
    """
    if not isinstance(nprocs, int) or nprocs < 1:
        raise ValueError(f"launch: nprocs must be a positive int, got {nprocs!r}")
    mpiexec = find_mpiexec()
    if mpiexec is None:
        raise RuntimeError("launch: no mpiexec/mpirun found; install the 'dist' extra: "
                           "pip install 'tinynlp[dist]' (mpi4py + the mpich wheel)")
    cmd = [mpiexec, *mpiexec_args, "-n", str(nprocs), python or sys.executable,
           *(["-m", target] if module else [target]), *map(str, args)]
    pipe = subprocess.PIPE if capture_output else None
    # own session, so a timeout can kill mpiexec *and* every rank it started
    proc = subprocess.Popen(cmd, env=rank_environment(nprocs, threads_per_rank,
                                                       collective_timeout, env),
                            stdout=pipe, stderr=pipe, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        raise subprocess.TimeoutExpired(cmd, timeout, output=out, stderr=err) from None
    except BaseException:
        _kill_group(proc)
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tinynlp.distributed.launch",
        description="Run a tinynlp training script on N MPI ranks (data parallel).")
    parser.add_argument("-n", "--nprocs", type=int, default=2, help="number of ranks")
    parser.add_argument("-m", dest="module", action="store_true",
                        help="TARGET is a module (python -m TARGET)")
    parser.add_argument("--threads-per-rank", type=int, default=None,
                        help="BLAS/Numba threads per rank (default cpu_count // n)")
    parser.add_argument("--collective-timeout", type=float, default=None,
                        help="seconds a collective may wait before the job aborts "
                             "(sets TINYNLP_DIST_TIMEOUT; default 300)")
    parser.add_argument("--mpiexec-args", default="",
                        help="extra arguments for mpiexec, e.g. '-f hosts'")
    parser.add_argument("target", help="script path (or module with -m)")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    ns = parser.parse_args(argv)
    try:
        result = launch(ns.target, ns.nprocs, ns.args, module=ns.module,
                        threads_per_rank=ns.threads_per_rank,
                        collective_timeout=ns.collective_timeout,
                        mpiexec_args=ns.mpiexec_args.split())
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if result.returncode != 0:
        print(f"[tinynlp.distributed.launch] the job failed: mpiexec exited with code "
              f"{result.returncode} (a rank raised, aborted, exited with an error or was "
              f"killed; see the messages above)", file=sys.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
