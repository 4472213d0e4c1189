"""int8 kernels for quantized inference: int8 × int8 → int32 matrix products.

Symmetric int8 quantization maps a real number ``x`` to an integer
``q = clip(round(x / s), −127, 127)`` with a scale ``s = max|x| / 127``, so
``x ≈ s · q``.  A product of two quantized matrices is then an *integer*
product rescaled once:

    Σ_k x_mk · w_kn  ≈  s_m · t_n · Σ_k q_mk · p_kn        (q = x / s_m, p = w / t_n)

where ``s_m`` is the scale of activation row ``m`` (dynamic: computed from the
row itself at run time) and ``t_n`` the scale of weight column ``n``
(per-channel) or one scale for the whole tensor.  The integer sum is exact in
int32 as long as ``K · 127² < 2³¹`` (K < 133,000), which every layer here
satisfies; the kernels check it.

Each kernel has a NumPy twin ``<name>_reference``; the integer kernels are
*exactly* equal to their twins (integer arithmetic has no rounding), and the
row quantizer divides in float64 in both versions so they agree bit for bit.

Layout: the weight operand is stored transposed, ``w_t`` of shape ``(N, K)``,
so the innermost loop runs over contiguous ``K`` in both operands — LLVM turns
it into packed multiply-adds (``vpmaddwd``).  Large products spread their
output columns over threads (``prange``); small ones run on one thread.  This
is the portable kernel; on a CPU with AVX-512 VNNI the layers use
:mod:`tinynlp.kernels.int8_gemm` (same codes, same exact products, weights
packed once), fed by the shifted-code quantizers here (``*_u8``).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from .conv import im2col_1d_reference

QMAX = 127
#: the largest inner dimension for which an int32 accumulator cannot overflow
MAX_K = (2**31 - 1) // (QMAX * QMAX)


# --------------------------------------------------------------------------
# quantizing activations row by row (dynamic scales)
# --------------------------------------------------------------------------

def quantize_rows_reference(x):
    """NumPy twin: per-row symmetric int8 quantization of a 2-D float array.

    ``s_m = max_k |x_mk| / 127`` (1.0 for an all-zero row, whose codes are all
    zero anyway) and ``q_mk = clip(rint(x_mk / s_m), −127, 127)``; the division
    is done in float64.  Returns ``(q int8 (M, K), s float32 (M,))``.
    """
    amax = np.abs(x).max(axis=1).astype(np.float64) if x.shape[1] else np.zeros(x.shape[0])
    scale = (amax / QMAX).astype(np.float32)
    scale[amax == 0] = 1.0
    q = np.rint(x.astype(np.float64) / scale.astype(np.float64)[:, None])
    return np.clip(q, -QMAX, QMAX).astype(np.int8), scale


@njit(cache=True, nogil=True, inline="always")
def _code(v, s64):
    """The int8 code of one value: ``clip(rint(v / s), −127, 127)`` (in float64)."""
    r = np.rint(np.float64(v) / s64)
    if r > QMAX:
        r = QMAX
    elif r < -QMAX:
        r = -QMAX
    return np.int8(r)


@njit(cache=True, nogil=True)
def quantize_rows(x):
    """Fast path of :func:`quantize_rows_reference` (same result, bit for bit)."""
    m_rows, k_cols = x.shape
    q = np.empty((m_rows, k_cols), np.int8)
    scale = np.empty(m_rows, np.float32)
    for m in range(m_rows):
        amax = 0.0
        for k in range(k_cols):
            v = abs(np.float64(x[m, k]))
            if v > amax:
                amax = v
        s = np.float32(amax / QMAX) if amax > 0.0 else np.float32(1.0)
        scale[m] = s
        s64 = np.float64(s)
        for k in range(k_cols):
            q[m, k] = _code(x[m, k], s64)
    return q, scale


def quantize_static_reference(x, scale):
    """NumPy twin: ``clip(rint(x / s), −127, 127)`` with one fixed (calibrated) scale ``s``."""
    q = np.rint(x.astype(np.float64) / np.float64(scale))
    return np.clip(q, -QMAX, QMAX).astype(np.int8)


@njit(cache=True, nogil=True)
def quantize_static(x, scale):
    """Fast path of :func:`quantize_static_reference` for a 2-D ``x``."""
    m_rows, k_cols = x.shape
    q = np.empty((m_rows, k_cols), np.int8)
    s64 = np.float64(scale)
    for m in range(m_rows):
        for k in range(k_cols):
            q[m, k] = _code(x[m, k], s64)
    return q


def quantize_rows_u8_reference(x, k_pad, static_scale=0.0):
    """NumPy twin: the codes of :func:`quantize_rows_reference` (or, for a calibrated
    ``static_scale > 0``, of :func:`quantize_static_reference`) shifted to uint8,
    ``u = q + 128`` in an (M, ``k_pad``) array whose columns past K hold 128 (code 0).

    This is the operand of the VNNI GEMM (:mod:`tinynlp.kernels.int8_gemm`), whose
    instruction multiplies *unsigned* bytes; returns ``(u, row scales (M,))``.
    """
    if static_scale > 0:  # the scale is a float32, as in the fast path
        q = quantize_static_reference(x, np.float32(static_scale))
        scale = np.full(x.shape[0], np.float32(static_scale), np.float32)
    else:
        q, scale = quantize_rows_reference(x)
    u = np.full((x.shape[0], k_pad), 128, np.uint8)
    u[:, :x.shape[1]] = (q.astype(np.int16) + 128).astype(np.uint8)
    return u, scale


@njit(cache=True, nogil=True)
def _abs_max_f32(row):
    """``max |row|`` of a float32 row, NaNs ignored: the maximum of the bit patterns with
    the sign cleared (for non-negative floats the bit order is the numeric order), an
    integer reduction LLVM vectorizes."""
    bits = row.view(np.int32)
    best = np.int32(0)
    for k in range(bits.size):
        b = bits[k] & np.int32(0x7FFFFFFF)
        best = max(best, b if b <= np.int32(0x7F800000) else np.int32(0))
    return np.array([best], np.int32).view(np.float32)[0]


@njit(cache=True, nogil=True)
def _shifted_codes(row, s64, out):
    """``out[k] = clip(rint(row[k] / s), ±127) + 128`` for a float32 row, by multiplying
    with ``1 / s`` in float32 (16 lanes per instruction, no division); returns True
    when some product came within 4e-5 of a half-integer, where it could round the
    other way than the float64 division (the caller then redoes the row by division).

    Why that is exact elsewhere: ``fl32(1/s)`` and the product each carry a relative
    error ≤ 2⁻²⁴, so for ``|t| ≤ 128`` (beyond, both clip) the product is within
    128 · 2⁻²³ ≈ 1.5e-5 of ``x / s``; a product 4e-5 or more from a half-integer has the
    exact quotient on the same side, and rounds alike.  (The float64 division itself
    rounds like the exact quotient: x and s are float32, so a quotient that is not a
    half-integer stays ≥ 2⁻²⁵ · |x/s| away from one, far above float64's error.)
    An extreme scale (``1/s`` outside [1e-30, 1e30], e.g. a subnormal ``s``) also
    returns True, for the division to handle.
    """
    inv64 = 1.0 / s64
    if not 1e-30 < inv64 < 1e30:
        return True
    inv = np.float32(inv64)
    near_tie = False
    lo, hi, half, eps = np.float32(-127.0), np.float32(127.0), np.float32(0.5), np.float32(4e-5)
    for k in range(row.size):
        t = row[k] * inv
        r = np.rint(t)
        near_tie |= abs(abs(t - r) - half) < eps
        out[k] = np.uint8(np.int32(min(max(r, lo), hi)) + 128)
    return near_tie


@njit(cache=True, nogil=True)
def quantize_rows_u8(x, k_pad, static_scale):
    """Fast path of :func:`quantize_rows_u8_reference` for a C-contiguous float32 ``x``
    (same result, bit for bit)."""
    m_rows, k_cols = x.shape
    u = np.empty((m_rows, k_pad), np.uint8)
    scale = np.empty(m_rows, np.float32)
    for m in range(m_rows):
        if static_scale > 0:
            s = np.float32(static_scale)
        else:
            amax = np.float64(_abs_max_f32(x[m]))
            s = np.float32(amax / QMAX) if amax > 0.0 else np.float32(1.0)
        scale[m] = s
        s64 = np.float64(s)
        if _shifted_codes(x[m], s64, u[m, :k_cols]):
            for k in range(k_cols):
                u[m, k] = np.uint8(np.int32(_code(x[m, k], s64)) + 128)
        for k in range(k_cols, k_pad):
            u[m, k] = 128
    return u, scale


def quantize_patches_u8_reference(x, kernel_size, stride, dilation, pad_left, out_len, k_pad,
                                  static_scale=0.0):
    """NumPy twin: :func:`quantize_rows_u8_reference` of the im2col rows of ``x`` (B, L, C)
    (:func:`tinynlp.kernels.conv.im2col_1d_reference`): one scale per window."""
    cols = im2col_1d_reference(x, kernel_size, stride, dilation, pad_left, out_len)
    return quantize_rows_u8_reference(cols.reshape(-1, kernel_size * x.shape[2]), k_pad,
                                      static_scale)


@njit(cache=True, nogil=True)
def quantize_patches_u8(x, kernel_size, stride, dilation, pad_left, out_len, k_pad, static_scale):
    """Fast path of :func:`quantize_patches_u8_reference` for a C-contiguous float32 ``x``,
    without the float im2col: a window's max |x| is the max of its steps' maxima
    (computed once per step), and its codes are written straight from ``x``."""
    nb, length, nc = x.shape
    u = np.empty((nb * out_len, k_pad), np.uint8)
    scale = np.empty(nb * out_len, np.float32)
    step_max = np.zeros(length, np.float32)
    for b in range(nb):
        if static_scale <= 0:
            for t in range(length):
                step_max[t] = _abs_max_f32(x[b, t])
        for i in range(out_len):
            row = b * out_len + i
            amax = np.float32(0.0)
            for k in range(kernel_size):
                t = i * stride + k * dilation - pad_left
                if 0 <= t < length:
                    amax = max(amax, step_max[t])
            if static_scale > 0:
                s = np.float32(static_scale)
            else:
                s = np.float32(np.float64(amax) / QMAX) if amax > 0 else np.float32(1.0)
            scale[row] = s
            s64 = np.float64(s)
            near_tie = False
            for k in range(kernel_size):
                t = i * stride + k * dilation - pad_left
                if 0 <= t < length:
                    near_tie |= _shifted_codes(x[b, t], s64, u[row, k * nc:(k + 1) * nc])
                else:
                    u[row, k * nc:(k + 1) * nc] = 128
            for k in range(kernel_size):
                t = i * stride + k * dilation - pad_left
                if near_tie and 0 <= t < length:  # redo by division (see _shifted_codes)
                    for c in range(nc):
                        u[row, k * nc + c] = np.uint8(np.int32(_code(x[b, t, c], s64)) + 128)
            u[row, kernel_size * nc:] = 128
    return u, scale


def gather_dequantize_reference(table, scale, ids):
    """NumPy twin: the rows ``table[ids] · scale[ids]`` of an int8 table with one float32
    scale per row, in float32, shape ``ids.shape + (D,)``."""
    return table[ids].astype(np.float32) * scale[ids][..., None]


@njit(cache=True, nogil=True)
def gather_dequantize(table, scale, ids):
    """Fast path of :func:`gather_dequantize_reference` for 1-D ``ids`` (in range): one pass."""
    d = table.shape[1]
    out = np.empty((ids.size, d), np.float32)
    for i in range(ids.size):
        r = ids[i]
        s = np.float32(scale[r])
        for j in range(d):
            out[i, j] = np.float32(table[r, j]) * s
    return out


# --------------------------------------------------------------------------
# int8 × int8 → int32 GEMM
# --------------------------------------------------------------------------

def int8_matmul_reference(a, w_t):
    """NumPy twin: ``C = A · Wᵀ`` in int32, ``a`` (M, K) int8, ``w_t`` (N, K) int8."""
    return a.astype(np.int32) @ w_t.astype(np.int32).T


@njit(cache=True, nogil=True)
def int8_matmul(a, w_t):
    """``C_mn = Σ_k a_mk · w_t[n, k]``, int8 inputs, exact int32 result (M, N).

    One thread: the products of a layer at batch 32 (and every step of a
    recurrence) are too small to pay for waking a second thread, and on a
    busy machine a parallel loop waits for its slowest thread.
    """
    m_rows, k_cols = a.shape
    n_cols = w_t.shape[0]
    out = np.empty((m_rows, n_cols), np.int32)
    for n in range(n_cols):
        for m in range(m_rows):
            acc = np.int32(0)
            for k in range(k_cols):
                acc += np.int32(a[m, k]) * np.int32(w_t[n, k])
            out[m, n] = acc
    return out


@njit(cache=True, nogil=True, parallel=True)
def int8_matmul_parallel(a, w_t):
    """:func:`int8_matmul` with the output columns spread over Numba's threads (``prange``);
    used for products of at least :data:`PARALLEL_MIN_MACS` multiply-adds."""
    m_rows, k_cols = a.shape
    n_cols = w_t.shape[0]
    out = np.empty((m_rows, n_cols), np.int32)
    for n in prange(n_cols):
        for m in range(m_rows):
            acc = np.int32(0)
            for k in range(k_cols):
                acc += np.int32(a[m, k]) * np.int32(w_t[n, k])
            out[m, n] = acc
    return out


#: products with fewer multiply-adds than this run on one thread
PARALLEL_MIN_MACS = 2**25


# --------------------------------------------------------------------------
# rescaling the int32 accumulator back to floats
# --------------------------------------------------------------------------

def rescale_reference(acc, row_scale, col_scale, bias, relu=False):
    """NumPy twin: ``y_mn = acc_mn · (s_m · t_n) + b_n`` in float32 (then ``max(y, 0)``
    when ``relu``; NaN stays NaN).

    ``row_scale`` (M,), ``col_scale`` (N,), ``bias`` (N,) (zeros for none).
    The scale product is formed first, as in the fast path, so both round alike.
    """
    s = row_scale.astype(np.float32)[:, None] * col_scale.astype(np.float32)[None, :]
    y = acc.astype(np.float32) * s + bias.astype(np.float32)[None, :]
    return np.where(y < 0, np.float32(0), y) if relu else y


@njit(cache=True, nogil=True)
def rescale(acc, row_scale, col_scale, bias, relu=False):
    """Fast path of :func:`rescale_reference` (the relu fused into the same pass)."""
    m_rows, n_cols = acc.shape
    out = np.empty((m_rows, n_cols), np.float32)
    zero = np.float32(0.0)
    for m in range(m_rows):
        rs = np.float32(row_scale[m])
        for n in range(n_cols):
            s = np.float32(rs * np.float32(col_scale[n]))
            y = np.float32(np.float32(acc[m, n]) * s) + np.float32(bias[n])
            out[m, n] = zero if relu and y < zero else y
    return out


# --------------------------------------------------------------------------
# convenience: a whole quantized linear map on float input
# --------------------------------------------------------------------------

def check_int8_operands(a, w_t):
    """Raise a clear error unless ``a`` (M, K) and ``w_t`` (N, K) are int8 and fit int32."""
    for name, arr in (("a", a), ("w_t", w_t)):
        if not isinstance(arr, np.ndarray) or arr.dtype != np.int8 or arr.ndim != 2:
            raise TypeError(
                f"int8_matmul: {name} must be a 2-D int8 ndarray, got "
                f"{getattr(arr, 'dtype', type(arr))} with shape {np.shape(arr)}"
            )
    if a.shape[1] != w_t.shape[1]:
        raise ValueError(
            f"int8_matmul: inner dimensions differ: a is {a.shape}, w_t is {w_t.shape} "
            "(expected a (M, K) and w_t (N, K))"
        )
    if a.shape[1] > MAX_K:
        raise ValueError(f"int8_matmul: K={a.shape[1]} > {MAX_K} could overflow int32")


def quantized_linear(x, w_t, w_scale, bias=None, x_scale=None, relu=False):
    """``y ≈ x · W + b`` with int8 weights ``w_t = round(Wᵀ / t)`` and int8 activations.

    ``x`` (M, K) float; ``w_t`` (N, K) int8; ``w_scale`` (N,) or scalar float32;
    ``x_scale`` None for dynamic per-row scales, or a calibrated scalar; ``relu``
    applies ``max(y, 0)`` in the rescaling pass.  Returns float32 (M, N).
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x_scale is None or float(x_scale) <= 0.0:
        q, s = quantize_rows(x)
    else:
        q = quantize_static(x, np.float32(x_scale))
        s = np.full(x.shape[0], np.float32(x_scale), dtype=np.float32)
    check_int8_operands(q, w_t)
    macs = q.shape[0] * q.shape[1] * w_t.shape[0]
    parallel = macs >= PARALLEL_MIN_MACS and numba.get_num_threads() > 1
    acc = (int8_matmul_parallel if parallel else int8_matmul)(q, w_t)
    n = w_t.shape[0]
    col = np.broadcast_to(np.asarray(w_scale, dtype=np.float32), (n,))
    col = np.ascontiguousarray(col)
    b = np.zeros(n, np.float32) if bias is None else np.ascontiguousarray(bias, dtype=np.float32)
    return rescale(acc, s, col, b, relu)
