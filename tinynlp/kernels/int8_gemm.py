"""The int8 GEMM on AVX-512 VNNI: uint8 activations × pre-packed int8 weights → int32.

The int8 layers quantize an activation row to ``q = clip(rint(x / s), ±127)`` and a
weight column to ``p`` (see :mod:`tinynlp.kernels.int8`); what they need is the
exact integer product ``C_mn = Σ_k q_mk p_nk``.  ``vpdpbusd`` multiplies an
*unsigned* byte by a signed one, so the activations go in shifted,
``u = q + 128 ∈ [1, 255]``, and a per-column correction takes the shift out again:

    Σ_k u_mk p_nk = Σ_k q_mk p_nk + 128 · Σ_k p_nk     ⇒    C_mn = Σ_k u_mk p_nk − c_n,

with ``c_n = 128 · Σ_k p_nk`` computed once when the weights are packed.  Every
sum is an int32 sum (wrapping, as the instruction does), so the result is exact
whenever ``C`` itself fits in int32 (``K ≤`` :data:`~tinynlp.kernels.int8.MAX_K`).

Packing (:func:`pack_int8`, once per weight): K is padded to a multiple of 4 and N
to a multiple of 64 with zero weights, and the codes are laid out as
``[n-group of 64][k-group of 4][4 vectors][16 lanes][4 k]``: one k-group of one
n-group is 256 contiguous bytes, the four 64-byte operands of four ``vpdpbusd``.
The kernel (:func:`int8_gemm_vnni`) holds a 4-row × 64-column tile of int32
accumulators in sixteen vector registers; each k-group costs four weight loads,
four broadcasts and sixteen ``vpdpbusd``.  Rows left over (M not a multiple of 4)
run one at a time.  Its NumPy twin is the int32 matrix product
(:func:`int8_gemm_reference`); the two are equal bit for bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .int8 import MAX_K, check_int8_operands, quantize_rows_u8, rescale
from .vnni import HAS_VNNI, LANES, vdot4, vstore_sub, vzero

__all__ = [
    "K_GROUP",
    "N_GROUP",
    "ROW_BLOCK",
    "PackedInt8",
    "int8_gemm_reference",
    "int8_gemm_vnni",
    "pack_int8",
    "packed_int8_gemm",
    "quantized_linear_packed",
    "rescale_codes",
    "static_scale",
    "vnni_available",
]

#: k values per vpdpbusd lane
K_GROUP = 4
#: output columns per tile (four vectors of sixteen lanes)
N_GROUP = 4 * LANES
#: rows per tile
ROW_BLOCK = 4
_GROUP_BYTES = K_GROUP * N_GROUP          # one k-group of one n-group


def vnni_available():
    """True when the packed VNNI path runs compiled on this CPU."""
    return HAS_VNNI


class PackedInt8:
    """An int8 weight ``w_t`` (N, K) packed for :func:`int8_gemm_vnni`.

    ``data`` the packed codes (flat int8), ``correction`` ``c_n = 128 · Σ_k w_t[n, k]``
    (int32, padded length), ``n``, ``k``, ``k_pad``; ``codes`` a copy of ``w_t`` so that
    :meth:`matches` can tell whether the weight it came from has been changed since.
    """

    __slots__ = ("codes", "correction", "data", "k", "k_pad", "n")

    def __init__(self, data, correction, codes, k_pad):
        self.data, self.correction, self.codes = data, correction, codes
        self.n, self.k = codes.shape
        self.k_pad = k_pad

    def matches(self, w_t):
        """True when ``w_t`` still holds exactly the codes this pack was made from."""
        if w_t.shape != self.codes.shape:
            return False
        a = np.ascontiguousarray(w_t).reshape(-1).view(np.uint8)
        b = self.codes.reshape(-1).view(np.uint8)
        n8 = a.size // 8 * 8
        return (_same_words(a[:n8].view(np.uint64), b[:n8].view(np.uint64))
                and bool(np.array_equal(a[n8:], b[n8:])))


@njit(cache=True, nogil=True)
def _same_words(a, b):
    """``a == b`` everywhere (1-D uint64 arrays of one length): the XORs OR-ed together,
    with no early exit, so that LLVM vectorizes the loop (memory speed)."""
    diff = np.uint64(0)
    for i in range(a.size):
        diff |= a[i] ^ b[i]
    return diff == 0


def pack_int8(w_t):
    """Pack the int8 weight ``w_t`` (N, K) — one row per output — for :func:`int8_gemm_vnni`."""
    check_int8_operands(np.zeros((1, np.shape(w_t)[-1]), np.int8), w_t)
    n, k = w_t.shape
    k_pad = -(-max(k, 1) // K_GROUP) * K_GROUP
    n_pad = -(-max(n, 1) // N_GROUP) * N_GROUP
    w = np.zeros((n_pad, k_pad), np.int8)
    w[:n, :k] = w_t
    # w[g·64 + v·16 + j, kg·4 + t] → data[g][kg][v][j][t]
    data = w.reshape(n_pad // N_GROUP, 4, LANES, k_pad // K_GROUP, K_GROUP)
    data = np.ascontiguousarray(data.transpose(0, 3, 1, 2, 4)).reshape(-1)
    correction = (128 * w.sum(axis=1, dtype=np.int64)).astype(np.int32)
    return PackedInt8(data, correction, np.array(w_t, np.int8, order="C"), k_pad)


def int8_gemm_reference(u, packed):
    """NumPy twin: ``C = (u − 128) · w_tᵀ`` in int32 over the first K columns of ``u``,
    i.e. ``Σ_k q_mk w_t[n, k]`` for the shifted codes ``u = q + 128`` — shape (M, N)."""
    q = u[:, :packed.k].astype(np.int32) - 128
    return q @ packed.codes.astype(np.int32).T


@njit(cache=True, nogil=True, inline="always")
def _row(c0, c1, c2, c3, u, iu, wp, iw):
    """One row's four accumulators after one k-group: ``c_v += u[iu:iu+4] · block v``."""
    return (vdot4(c0, u, iu, wp, iw), vdot4(c1, u, iu, wp, iw + 64),
            vdot4(c2, u, iu, wp, iw + 128), vdot4(c3, u, iu, wp, iw + 192))


@njit(cache=True, nogil=True, inline="always")
def _store_row(out, io, c0, c1, c2, c3, corr, ic):
    """``out[io : io+64] = (c0 | c1 | c2 | c3) − corr[ic : ic+64]``."""
    vstore_sub(out, io, c0, corr, ic)
    vstore_sub(out, io + 16, c1, corr, ic + 16)
    vstore_sub(out, io + 32, c2, corr, ic + 32)
    vstore_sub(out, io + 48, c3, corr, ic + 48)


@njit(cache=True, nogil=True)
def int8_gemm_vnni(u, m_rows, k_pad, wp, corr):
    """``C = u · Wᵀ − c`` (int32, (M, N_pad) flattened) for the flat shifted codes ``u``
    (M·k_pad uint8) and the packed weights ``wp`` / corrections ``corr`` of :func:`pack_int8`.

    Loops: n-groups of 64 outer (their packed weights, K·64 bytes, stay in cache
    while every row block passes), 4-row blocks, then the k-groups with the 4 × 4
    accumulator vectors in registers.
    """
    kg_count = k_pad // K_GROUP
    n_pad = corr.size
    out = np.empty(m_rows * n_pad, np.int32)
    for g in range(n_pad // N_GROUP):
        w0 = g * kg_count * _GROUP_BYTES
        m = 0
        while m + ROW_BLOCK <= m_rows:
            a0, a1, a2, a3 = vzero(), vzero(), vzero(), vzero()
            b0, b1, b2, b3 = vzero(), vzero(), vzero(), vzero()
            c0, c1, c2, c3 = vzero(), vzero(), vzero(), vzero()
            d0, d1, d2, d3 = vzero(), vzero(), vzero(), vzero()
            r = m * k_pad
            for kg in range(kg_count):
                iw = w0 + kg * _GROUP_BYTES
                ik = kg * K_GROUP
                a0, a1, a2, a3 = _row(a0, a1, a2, a3, u, r + ik, wp, iw)
                b0, b1, b2, b3 = _row(b0, b1, b2, b3, u, r + k_pad + ik, wp, iw)
                c0, c1, c2, c3 = _row(c0, c1, c2, c3, u, r + 2 * k_pad + ik, wp, iw)
                d0, d1, d2, d3 = _row(d0, d1, d2, d3, u, r + 3 * k_pad + ik, wp, iw)
            io = m * n_pad + g * N_GROUP
            _store_row(out, io, a0, a1, a2, a3, corr, g * N_GROUP)
            _store_row(out, io + n_pad, b0, b1, b2, b3, corr, g * N_GROUP)
            _store_row(out, io + 2 * n_pad, c0, c1, c2, c3, corr, g * N_GROUP)
            _store_row(out, io + 3 * n_pad, d0, d1, d2, d3, corr, g * N_GROUP)
            m += ROW_BLOCK
        while m < m_rows:  # the rows left over, one at a time
            a0, a1, a2, a3 = vzero(), vzero(), vzero(), vzero()
            for kg in range(kg_count):
                a0, a1, a2, a3 = _row(a0, a1, a2, a3, u, m * k_pad + kg * K_GROUP, wp,
                                      w0 + kg * _GROUP_BYTES)
            _store_row(out, m * n_pad + g * N_GROUP, a0, a1, a2, a3, corr, g * N_GROUP)
            m += 1
    return out


def packed_int8_gemm(u, packed):
    """``Σ_k q_mk w_t[n, k]`` (int32, (M, N)) for the shifted codes ``u`` (M, k_pad) uint8."""
    if not isinstance(u, np.ndarray) or u.dtype != np.uint8 or u.ndim != 2:
        raise TypeError(f"packed_int8_gemm: u must be a 2-D uint8 ndarray, got "
                        f"{getattr(u, 'dtype', type(u))} with shape {np.shape(u)}")
    if u.shape[1] != packed.k_pad:
        raise ValueError(f"packed_int8_gemm: u must have {packed.k_pad} columns (K={packed.k} "
                         f"padded to a multiple of {K_GROUP}), got shape {u.shape}")
    if packed.k > MAX_K:
        raise ValueError(f"packed_int8_gemm: K={packed.k} > {MAX_K} could overflow int32")
    m = u.shape[0]
    flat = int8_gemm_vnni(np.ascontiguousarray(u).reshape(-1), m, packed.k_pad, packed.data,
                          packed.correction)
    return flat.reshape(m, -1)[:, :packed.n]


def rescale_codes(u, row_scale, packed, w_scale, bias=None, relu=False):
    """``y = (Σ_k q_mk w_t[n, k]) · s_m t_n + b_n`` (then relu) for the shifted codes ``u``
    and their row scales: the packed product and :func:`~tinynlp.kernels.int8.rescale`."""
    acc = packed_int8_gemm(u, packed)
    n = packed.n
    col = np.ascontiguousarray(np.broadcast_to(np.asarray(w_scale, dtype=np.float32), (n,)))
    b = np.zeros(n, np.float32) if bias is None else np.ascontiguousarray(bias, dtype=np.float32)
    return rescale(acc, row_scale, col, b, relu)


def static_scale(x_scale):
    """The calibrated activation scale as the kernels take it: 0.0 for dynamic scales."""
    return 0.0 if x_scale is None or float(x_scale) <= 0.0 else float(np.float32(x_scale))


def quantized_linear_packed(x, packed, w_scale, bias=None, x_scale=None, relu=False):
    """:func:`tinynlp.kernels.int8.quantized_linear` on pre-packed weights (same codes,
    same exact int32 products, same rescaling): ``y ≈ x · W + b``, float32 (M, N)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != packed.k:
        raise ValueError(f"quantized_linear_packed: x must be (M, {packed.k}), got {x.shape}")
    u, s = quantize_rows_u8(x, packed.k_pad, static_scale(x_scale))
    return rescale_codes(u, s, packed, w_scale, bias, relu)
