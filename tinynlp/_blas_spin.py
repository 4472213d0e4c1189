"""Let OpenBLAS's idle threads go to sleep soon after a product instead of spinning.

After each multi-threaded GEMM, OpenBLAS's worker threads busy-wait for the
next one for 2^28 CPU cycles (about 0.1 s) before they sleep; on AMD CPUs the
wait is a loop of ``nop``\\ s, so the waiting thread holds its core.  Anything
else that wants that core in the meantime — tinynlp's attention chunks on a
second thread, a Numba ``parallel=True`` kernel, another process — gets half
of it.  Measured on the 2-core machine (inference of the benchmark's
Transformer classifier at batch 256, 2 threads): 129 ms per batch with the
default, 98 ms with the spin cut to 2^20 cycles (a third of a millisecond:
still longer than the gap between the recurrent GEMMs of an RNN step, so those
keep their threads awake).

OpenBLAS reads the limit from ``OPENBLAS_THREAD_TIMEOUT`` (the log2 of the
cycles, 4–30) once, when it is loaded — that is, when NumPy is first
imported.  :func:`shorten_blas_spin` sets it when tinynlp is imported before
NumPy (the ``tinynlp`` command, a script that starts with ``import
tinynlp``); it never overrides a value already set, and
``TINYNLP_BLAS_SPIN_TUNING=0`` leaves it alone.  A script that imports NumPy
first can export the variable itself.  It imports nothing but ``os`` and
``sys``, so it runs before NumPy does.
"""

from __future__ import annotations

import os
import sys

#: log2 of the cycles an idle OpenBLAS thread spins before sleeping (OpenBLAS' default: 28)
SPIN_LOG2_CYCLES = 20


def shorten_blas_spin() -> bool:
    """Set ``OPENBLAS_THREAD_TIMEOUT`` if NumPy is not loaded yet and nobody set it; True if
    it was set here."""
    if os.environ.get("TINYNLP_BLAS_SPIN_TUNING", "1") == "0":
        return False
    if "OPENBLAS_THREAD_TIMEOUT" in os.environ or "numpy" in sys.modules:
        return False
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = str(SPIN_LOG2_CYCLES)
    return True
