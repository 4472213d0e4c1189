"""``--threads N`` read from the command line before NumPy is imported, and the pools fixed.

A benchmark script must set the thread counts of OpenBLAS, OpenMP, MKL and
Numba in the environment before NumPy (or PyTorch) starts its pools, that is
before ``argparse`` has run.  This module imports nothing but ``os``, so a
script can use it at its very top.
"""

from __future__ import annotations

import os

POOL_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                  "NUMBA_NUM_THREADS")


def threads_from_argv(argv, default="1") -> str:
    """The value of ``--threads N`` / ``--threads=N`` in ``argv`` (``default`` without)."""
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return default


def fix_pools(threads) -> None:
    """Set every pool's thread-count variable to ``threads``."""
    for var in POOL_VARIABLES:
        os.environ[var] = str(threads)
