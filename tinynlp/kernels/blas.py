"""NumPy's own BLAS GEMM, called from Numba kernels (no GIL, no Python per call).

A recurrence makes one small product per step, h_{t−1} U of (B × H)·(H × 4H).
Called through ``np.matmul`` from a Python loop, each call holds the GIL for a
moment, so two threads stepping two halves of a batch queue for it at every
step (measured: slower than one thread).  :func:`gemm_tiles` is that product
from inside a ``nogil`` kernel, through the ``cblas_?gemm`` of the OpenBLAS that
NumPy itself ships (so the same kernels and the same numbers as ``np.matmul``;
tested equal).

It cuts the product into tiles of at most :data:`ONE_THREAD_PRODUCT`
multiply-adds.  OpenBLAS runs a product that small on the calling thread, with
its small-matrix kernels (no packing).  Measured on the 2-core AMD EPYC VM for
(32×128)·(128×512): 37–38 µs for the 16×128 tiles on one thread, against about
50 µs for the whole product on one thread, and 31 µs or 55 µs on two threads,
depending on how fast OpenBLAS's second thread wakes (the machine alternates
between the two).  So the threads that share a batch never meet OpenBLAS's own
thread pool.

:func:`numpy_gemm` returns the ``cblas_?gemm`` of NumPy's bundled OpenBLAS
(``scipy_cblas_sgemm64_`` in NumPy 2's wheels), or ``None`` for a NumPy built on
another BLAS (or when ``TINYNLP_NUMBA_GEMM=0``).  Callers then keep their NumPy path.
"""

from __future__ import annotations

import ctypes
import os

import numpy as np
from numba import njit
from threadpoolctl import ThreadpoolController

__all__ = ["ONE_THREAD_PRODUCT", "SHORT_SPIN_LOG2_CYCLES", "numpy_gemm", "gemm_tiles",
           "gemm_tiles_reference", "short_blas_spin", "blas_thread_setters"]

#: OpenBLAS computes a GEMM of at most this many multiply-adds (m·n·k) on the calling
#: thread (its SMP_THRESHOLD_MIN × GEMM_MULTITHREAD_THRESHOLD = 65536 × 4)
ONE_THREAD_PRODUCT = 1 << 18

#: the longest spin (log2 of cycles) of OpenBLAS's idle threads that leaves a core free soon
#: enough for tinynlp's own threads (tinynlp sets 20 when imported before NumPy)
SHORT_SPIN_LOG2_CYCLES = 20

ROW_MAJOR, NO_TRANS = 101, 111
#: (symbol, integer type) of cblas_sgemm in the OpenBLAS builds NumPy's wheels bundle
_SYMBOLS = (("scipy_cblas_{}gemm64_", ctypes.c_int64), ("cblas_{}gemm64_", ctypes.c_int64))
_found = {}


def _numpy_openblas():
    """The OpenBLAS library NumPy loaded from its own wheel (under numpy.libs or
    numpy/.dylibs), opened with ctypes once; None for a NumPy built on another BLAS."""
    if "lib" not in _found:
        _found["lib"] = None
        numpy_root = os.path.dirname(os.path.dirname(os.path.realpath(np.__file__)))
        for lib in ThreadpoolController().select(internal_api="openblas").lib_controllers:
            path = os.path.realpath(lib.filepath)
            if path.startswith(numpy_root) and "numpy" in os.path.relpath(path, numpy_root):
                _found["lib"] = ctypes.CDLL(path)
                break
    return _found["lib"]


def numpy_gemm(dtype):
    """``cblas_sgemm`` (float32) or ``cblas_dgemm`` (float64) of NumPy's OpenBLAS as a ctypes
    function that Numba kernels take as an argument, or None when there is none."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        return None
    if dtype not in _found:
        _found[dtype] = None
        lib = _numpy_openblas()
        if lib is not None and os.environ.get("TINYNLP_NUMBA_GEMM", "1") != "0":
            real = ctypes.c_float if dtype == np.float32 else ctypes.c_double
            for symbol, integer in _SYMBOLS:
                address = getattr(lib, symbol.format("s" if dtype == np.float32 else "d"), None)
                if address is not None:
                    p = ctypes.c_void_p
                    proto = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                             integer, integer, integer, real, p, integer, p,
                                             integer, real, p, integer)
                    _found[dtype] = proto(ctypes.cast(address, ctypes.c_void_p).value)
                    break
    return _found[dtype]


def blas_thread_setters():
    """``(get, set)`` of the thread count of NumPy's OpenBLAS (ctypes functions: ``get()``,
    ``set(n)``), or None for a NumPy on another BLAS.  A few microseconds a call
    (threadpoolctl's limits re-scan the loaded libraries: far slower)."""
    if "threads" not in _found:
        _found["threads"] = None
        lib = _numpy_openblas()
        if lib is not None:
            for prefix, suffix in (("scipy_openblas_", "64_"), ("openblas_", "64_"),
                                   ("openblas_", "")):
                get = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                set_ = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
                if get is not None and set_ is not None:
                    get.restype, get.argtypes = ctypes.c_int, []
                    set_.restype, set_.argtypes = None, [ctypes.c_int]
                    _found["threads"] = (get, set_)
                    break
    return _found["threads"]


def short_blas_spin() -> bool:
    """Whether NumPy's OpenBLAS leaves no thread spinning for long after a product: it runs
    on one thread, or its idle threads spin at most 2^:data:`SHORT_SPIN_LOG2_CYCLES` cycles
    (``OPENBLAS_THREAD_TIMEOUT``, read when NumPy loaded it; :mod:`tinynlp._blas_spin`).

    With OpenBLAS's default (2^28 cycles, about 0.1 s) a worker thread that finished
    a product holds its core while tinynlp's own threads want it (measured: the
    LSTM's blocks of rows on two threads then took 58 ms at batch 256 instead of 48
    ms on one).  Not OpenBLAS (no such threads): True.
    """
    lib = _numpy_openblas()
    setters = blas_thread_setters()
    if setters is not None and setters[0]() <= 1:
        return True
    timeout = None if lib is None else getattr(lib, "openblas_thread_timeout", None)
    if timeout is None:
        return setters is None
    value = timeout()                       # 0: not set, OpenBLAS's default of 28
    return 0 < value <= SHORT_SPIN_LOG2_CYCLES


def gemm_tiles_reference(a, b, out):
    """out ← a b (NumPy twin of :func:`gemm_tiles`)."""
    np.matmul(a, b, out=out)


@njit(cache=True, nogil=True)
def gemm_tiles(gemm, a, b, out):
    """out ← a b for C-contiguous 2-D a (m × k), b (k × n), out (m × n), as calls of ``gemm``
    (:func:`numpy_gemm`) on tiles of at most :data:`ONE_THREAD_PRODUCT` multiply-adds —
    16 rows, and as many columns (a multiple of 16) as fit, at least 16 (so past k = 1024
    a tile is larger, and OpenBLAS may thread it).  The three arrays must be C-contiguous
    and of ``gemm``'s dtype (BLAS reads them by address)."""
    if not (a.flags.c_contiguous and b.flags.c_contiguous and out.flags.c_contiguous):
        raise ValueError("gemm_tiles: a, b and out must be C-contiguous")
    m, k = a.shape
    n = b.shape[1]
    if m == 0 or n == 0:
        return
    rows = min(m, 16)
    cols = min(n, max(16, ONE_THREAD_PRODUCT // max(1, rows * k) // 16 * 16))
    if k == 0:                                  # (a BLAS rejects a leading dimension of 0)
        out[:] = 0
        return
    one = np.ones(1, dtype=out.dtype)[0]        # typed constants: float32 stays float32
    zero = np.zeros(1, dtype=out.dtype)[0]
    for r0 in range(0, m, rows):
        r = min(rows, m - r0)
        for c0 in range(0, n, cols):
            c = min(cols, n - c0)
            gemm(ROW_MAJOR, NO_TRANS, NO_TRANS, r, c, k, one, a[r0:].ctypes.data, k,
                 b[:, c0:].ctypes.data, n, zero, out[r0:, c0:].ctypes.data, n)
