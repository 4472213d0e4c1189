"""GEMM speed by backend at the shapes tinynlp's models run: NumPy's OpenBLAS against
Intel oneMKL (the PyPI ``mkl`` runtime, called through ctypes) and MKL's packed GEMM.

Shapes (float32, row-major, ``C = A · B``):

* the recurrent step of an LSTM, ``h (B, H) · U (H, 4H)`` — H = 128 (the benchmark's
  emb_lstm) and H = 256, at batch 32 and 256; MKL's *packed* GEMM packs ``U`` once
  (``cblas_sgemm_pack``) and reuses it (``cblas_sgemm_compute``), as a recurrence would
  for all its steps;
* the text-CNN's convolution as im2col + GEMM, (25088 × 300) · (300 × 128);
* the seed CNN's flattened Dense, (32 × 3136) · (3136 × 128);
* attention scores for one head, (128 × 32) · (32 × 128);
* Dense 1024 → 1024 at batch 32.

Also the int8 product of that Dense, ``(32 × 1024) · (1024 × 1024)``: tinynlp's VNNI
kernel (:mod:`tinynlp.kernels.int8_gemm`) against MKL's ``cblas_gemm_s8u8s32``.

    python benchmarks/gemm_backends.py              # 1 thread per library
    python benchmarks/gemm_backends.py --threads 2
    python benchmarks/gemm_backends.py --quick      # a smoke test

Every backend runs in the same process, one after the other on the same operands;
times are the best of up to ``--reps`` runs (µs) and ratios are within this run.
Without the ``mkl`` package the MKL columns say so.  Prints a Markdown table and the
load average.
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.threads_env import fix_pools, threads_from_argv  # noqa: E402 (no NumPy)

THREADS = threads_from_argv(sys.argv[1:])
if __name__ == "__main__":  # run as a script: fix the pools before NumPy starts them
    # (imported, e.g. by the tests, it leaves the process's environment alone)
    fix_pools(THREADS)

import numpy as np  # noqa: E402

from benchmarks.timing import best_seconds  # noqa: E402

ROW_MAJOR, NO_TRANS, B_MATRIX, PACKED = 101, 111, 162, 151
OFFSET_FIX = 173  # CblasFixOffset
SHAPES = [  # (label, M, K, N, packed-B row?)
    ("LSTM(128) step, batch 32", 32, 128, 512, True),
    ("LSTM(128) step, batch 256", 256, 128, 512, True),
    ("LSTM(256) step, batch 32", 32, 256, 1024, True),
    ("LSTM(256) step, batch 256", 256, 256, 1024, True),
    ("text-CNN conv (im2col)", 25088, 300, 128, False),
    ("seed-CNN Dense 3136→128, batch 32", 32, 3136, 128, False),
    ("attention scores, T 128, d 32", 128, 32, 128, False),
    ("Dense 1024→1024, batch 32", 32, 1024, 1024, True),
]


def find_mkl():
    """ctypes handle on ``libmkl_rt`` from the ``mkl`` package (its installed files), or None."""
    from importlib import metadata
    try:
        dist = metadata.distribution("mkl")
    except metadata.PackageNotFoundError:
        return None
    paths = [dist.locate_file(f) for f in (dist.files or []) if "libmkl_rt.so" in f.name]
    paths += glob.glob(os.path.join(sys.prefix, "lib", "libmkl_rt.so*"))
    for path in paths:
        try:
            return ctypes.CDLL(str(path))
        except OSError:
            continue
    return None


def mkl_functions(lib):
    """The MKL entry points used here, with their ctypes signatures."""
    i32, f32, ptr, sz = ctypes.c_int, ctypes.c_float, ctypes.c_void_p, ctypes.c_size_t
    sgemm = lib.cblas_sgemm
    sgemm.argtypes = [i32, i32, i32, i32, i32, i32, f32, ptr, i32, ptr, i32, f32, ptr, i32]
    sgemm.restype = None
    get_size = lib.cblas_sgemm_pack_get_size
    get_size.argtypes = [i32, i32, i32, i32]
    get_size.restype = sz
    pack = lib.cblas_sgemm_pack
    pack.argtypes = [i32, i32, i32, i32, i32, i32, f32, ptr, i32, ptr]
    pack.restype = None
    compute = lib.cblas_sgemm_compute
    compute.argtypes = [i32, i32, i32, i32, i32, i32, ptr, i32, ptr, i32, f32, ptr, i32]
    compute.restype = None
    s8u8 = lib.cblas_gemm_s8u8s32
    s8u8.argtypes = [i32, i32, i32, i32, i32, i32, i32, f32, ptr, i32, ctypes.c_int8, ptr, i32,
                     ctypes.c_int8, f32, ptr, i32, ptr]
    s8u8.restype = None
    lib.MKL_Set_Num_Threads.argtypes = [i32]
    lib.MKL_Set_Num_Threads(int(THREADS))
    lib.mkl_get_version_string.argtypes = [ctypes.c_char_p, i32]
    buf = ctypes.create_string_buffer(256)
    lib.mkl_get_version_string(buf, 256)
    return {"sgemm": sgemm, "get_size": get_size, "pack": pack, "compute": compute,
            "s8u8": s8u8, "version": buf.value.decode(errors="replace").strip()}


def best_us(fn, reps, budget=3.0):
    """Best of up to ``reps`` calls (:func:`benchmarks.timing.best_seconds`), in µs."""
    return 1e6 * best_seconds(fn, reps, budget)


def p(a):
    return a.ctypes.data


def float_row(mk, label, m, k, n, packed_b, reps):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    c = np.empty((m, n), np.float32)
    ref = a @ b
    row = {"shape": label, "dims": f"({m}×{k})·({k}×{n})",
           "numpy": best_us(lambda: np.matmul(a, b, out=c), reps)}
    if mk is None:
        return row

    def mkl():
        mk["sgemm"](ROW_MAJOR, NO_TRANS, NO_TRANS, m, n, k, 1.0, p(a), k, p(b), n, 0.0, p(c), n)
    mkl()
    assert np.allclose(c, ref, rtol=1e-4, atol=1e-3 * np.abs(ref).max()), label
    row["mkl"] = best_us(mkl, reps)
    if packed_b:
        buf = np.empty(mk["get_size"](B_MATRIX, m, n, k) // 4 + 16, np.float32)
        mk["pack"](ROW_MAJOR, B_MATRIX, NO_TRANS, m, n, k, 1.0, p(b), n, p(buf))

        def mkl_packed():
            mk["compute"](ROW_MAJOR, NO_TRANS, PACKED, m, n, k, p(a), k, p(buf), n, 0.0, p(c), n)
        mkl_packed()
        assert np.allclose(c, ref, rtol=1e-4, atol=1e-3 * np.abs(ref).max()), label
        row["mkl_packed"] = best_us(mkl_packed, reps)
    return row


def int8_row(mk, reps):
    """The int8 Dense 1024² at batch 32: tinynlp's VNNI kernel vs MKL's s8u8s32."""
    from tinynlp.kernels import int8_gemm as G
    m, k, n = 32, 1024, 1024
    rng = np.random.default_rng(0)
    w_t = rng.integers(-127, 128, (n, k)).astype(np.int8)
    u = rng.integers(1, 256, (m, k)).astype(np.uint8)
    row = {"shape": "int8 Dense 1024→1024, batch 32", "dims": f"({m}×{k})·({k}×{n})"}
    ref = G.int8_gemm_reference(u, G.pack_int8(w_t))
    if G.vnni_available():
        packed = G.pack_int8(w_t)
        np.testing.assert_array_equal(G.packed_int8_gemm(u, packed), ref)
        row["tinynlp_vnni"] = best_us(lambda: G.packed_int8_gemm(u, packed), reps)
    if mk is not None:
        # MKL: C = (A + ao)(B + bo) with A (M × K) uint8 and B (K × N) int8; B = w_tᵀ
        # (w_t given with the transpose flag), ao = -128 takes the shift out of u
        c = np.empty((m, n), np.int32)
        co = np.zeros(1, np.int32)

        def mkl():
            mk["s8u8"](ROW_MAJOR, NO_TRANS, 112, OFFSET_FIX, m, n, k, 1.0, p(u), k, -128,
                       p(w_t), k, 0, 0.0, p(c), n, p(co))
        mkl()
        np.testing.assert_array_equal(c, ref)
        row["mkl_s8u8s32"] = best_us(mkl, reps)
    return row


def markdown(rows, mk, load, threads, mkl_state):
    version = mk["version"] if mk else mkl_state
    blas = "OpenBLAS" if _uses_openblas() else "its BLAS"
    lines = [(f"Threads per library: {threads}.  NumPy {np.__version__} ({blas}); "
              f"MKL: {version}.  Load average: {load} (1, 5, 15 min).  Best-of-N µs."), "",
             "| GEMM | shape | NumPy | MKL sgemm | MKL packed | NumPy / MKL | NumPy / packed |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "numpy" not in r:
            continue
        mkl, pk, npy = r.get("mkl"), r.get("mkl_packed"), r["numpy"]
        cells = [f"{npy:.1f}", _fmt(mkl, "{:.1f}"), _fmt(pk, "{:.1f}"),
                 _fmt(mkl and npy / mkl, "{:.2f}×"), _fmt(pk and npy / pk, "{:.2f}×")]
        lines.append(f"| {r['shape']} | {r['dims']} | " + " | ".join(cells) + " |")
    for r in rows:
        if "numpy" in r:
            continue
        lines += ["", "| int8 GEMM | shape | tinynlp VNNI | MKL s8u8s32 |", "|---|---|---:|---:|",
                  (f"| {r['shape']} | {r['dims']} | "
                   f"{_fmt(r.get('tinynlp_vnni'), '{:.1f}')} | "
                   f"{_fmt(r.get('mkl_s8u8s32'), '{:.1f}')} |")]
    return "\n".join(lines)


def _fmt(value, spec):
    return "–" if value is None else spec.format(value)


def _uses_openblas():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return False
    return any(i.get("internal_api") == "openblas" for i in threadpool_info())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", default="1", help="threads per library (set before import)")
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--quick", action="store_true", help="small shapes, few reps (a smoke test)")
    ap.add_argument("--no-mkl", action="store_true", help="measure NumPy only")
    args = ap.parse_args(argv)
    lib = None if args.no_mkl else find_mkl()
    mk = mkl_functions(lib) if lib is not None else None
    shapes = [(lbl, min(m, 64), k, n, pk) for lbl, m, k, n, pk in SHAPES[:3]] if args.quick \
        else SHAPES
    reps = 3 if args.quick else args.reps
    rows = [float_row(mk, *s, reps) for s in shapes]
    rows.append(int8_row(mk, reps))
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    state = "not measured (--no-mkl)" if args.no_mkl else "not installed (pip install mkl)"
    threads = THREADS if __name__ == "__main__" else "as this process set them"
    print(markdown(rows, mk, load, threads, state))
    return rows


if __name__ == "__main__":
    main()
