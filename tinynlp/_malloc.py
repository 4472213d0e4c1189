"""Keep large NumPy temporaries on the heap instead of fresh ``mmap`` pages.

glibc serves allocations above its mmap threshold (128 KiB at first, raised
dynamically) with ``mmap`` and returns them with ``munmap``. A training or
inference step allocates and frees many arrays of a few MB (activations,
im2col buffers, gradients); each fresh mapping costs page faults on first
touch. Measured on the seed CNN at batch 256 (inference): 8.6 ms per batch
with the defaults, 3.3 ms with the arrays kept on the heap — PyTorch avoids the
same cost with its caching allocator.

:func:`tune_malloc` raises glibc's mmap threshold to its maximum (32 MiB on
64-bit), once, when tinynlp is imported, and the trim threshold (free memory
at the top of the heap above which glibc hands it back with ``brk``) to 1 GiB.
A train step of the embedding CNN at batch 256 frees about 90 MB of
temporaries at its end; with a 64 MiB trim threshold glibc returned them every
step and the next step faulted ~70 MB back in (17,000 page faults, 73 → 48 ms
per step once gone). Memory freed by NumPy stays in the process for reuse
instead of going back to the OS (peak RSS is unchanged: the heap never holds
more than the peak it once reached). Set ``TINYNLP_MALLOC_TUNING=0`` to
leave malloc alone; on non-glibc platforms it does nothing.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit
TRIM_THRESHOLD = 1024 * 1024 * 1024  # 1 GiB: see the module docstring

_tuned = None


def tune_malloc() -> bool:
    """Apply the thresholds (once). True if glibc accepted them."""
    global _tuned
    if _tuned is not None:
        return _tuned
    _tuned = False
    if os.environ.get("TINYNLP_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return _tuned
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return _tuned
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    _tuned = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
        bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _tuned
