"""What the fused recurrent ops share: scratch buffers, the time-major layout and the mask.

* :data:`WORKSPACE` recycles the big scratch buffers from one call to the next.
* :func:`time_major` lays a (B, T, D) input out as contiguous (T, B, D) slabs, so
  every step reads and writes contiguous memory, with padded steps zeroed.
* :class:`MaskInfo` is the one representation of a (B, T) mask inside the loops
  (training forwards, backwards and inference paths alike).
"""

from __future__ import annotations

import threading

import numpy as np

from ...autograd.tensor import is_grad_enabled

__all__ = ["Workspace", "WORKSPACE", "GiveBack", "MaskInfo", "time_major", "time_major_view",
           "outputs", "grad_out_time_major", "bptt_start", "bptt_steps", "grad_needed",
           "sum_rows", "steps_per_chunk"]


class Workspace:
    """Recycles the fused ops' big scratch buffers from one call to the next.

    A (T, B, 4H) float32 buffer at B=256, T=100, H=128 is 52 MB; a fresh one
    costs page faults and zero-filling on first touch (≈ 5–10 % of an LSTM
    step).  Buffers that only the op itself ever sees (never an output) are
    taken from here and given back once the backward pass is done with them
    (or as soon as the forward's context is dropped, e.g. under ``no_grad``).
    At most ``max_bytes`` are kept; the oldest shapes are evicted first.
    """

    def __init__(self, max_bytes=256 * 2**20, per_shape=4):
        self.max_bytes, self.per_shape = max_bytes, per_shape
        self._free = {}          # (shape, dtype) -> [arrays]
        self._bytes = 0
        self._lock = threading.Lock()

    def take(self, shape, dtype):
        key = (tuple(shape), np.dtype(dtype).str)
        with self._lock:
            free = self._free.get(key)
            if free:
                a = free.pop()
                self._bytes -= a.nbytes
                return a
        return np.empty(shape, dtype=dtype)

    def give(self, *arrays):
        with self._lock:
            for a in arrays:
                if a.nbytes > self.max_bytes:
                    continue
                key = (a.shape, a.dtype.str)
                free = self._free.pop(key, [])       # re-inserted last: most recent
                if len(free) < self.per_shape:
                    free.append(a)
                    self._bytes += a.nbytes
                self._free[key] = free
                while self._bytes > self.max_bytes:  # evict the oldest shapes
                    old = next(iter(self._free))
                    self._bytes -= sum(b.nbytes for b in self._free.pop(old))

    def clear(self):
        with self._lock:
            self._free.clear()
            self._bytes = 0


WORKSPACE = Workspace()


class GiveBack:
    """Held by an op's context: returns its scratch buffers when the context dies."""

    __slots__ = ("arrays",)

    def __init__(self, *arrays):
        self.arrays = arrays

    def __del__(self):
        try:
            WORKSPACE.give(*self.arrays)
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


class MaskInfo:
    """Per-step views of a (B, T) mask for the fused loops (time-major)."""

    def __init__(self, mask, dt):
        m = np.ascontiguousarray(mask.T)                  # (T, B) bool
        self.m = m
        self.pad = ~m[:, :, None]                          # (T, B, 1): True at padding
        self.keep = self.pad.astype(dt)                    # (T, B, 1): 1 at padding, 0 real
        self.any_pad = ~m.all(axis=1)                      # (T,)
        self.none_real = ~m.any(axis=1)                    # (T,)

    @classmethod
    def of(cls, mask, dt):
        """A MaskInfo for a (B, T) bool mask, or None when there is no mask."""
        return None if mask is None else cls(mask, dt)


def time_major(x, dt, info=None):
    """(B, T, D) → contiguous (T, B, D) in dtype ``dt``, zero at padded steps, so that
    whatever sits in a padded input (even NaN) never reaches an output or a gradient.

    The array is a :data:`WORKSPACE` buffer (always a copy: the caller may write into
    it); give it back when done with it.
    """
    B, T, D = x.shape
    xt = WORKSPACE.take((T, B, D), dt)
    np.copyto(xt, x.transpose(1, 0, 2))
    if info is not None:
        np.copyto(xt, 0, where=info.pad)
    return xt


def time_major_view(x, dt, info=None):
    """``(xt, owned)``: x time-major for a forward that only reads it (no backward will).

    Without padding to zero, no copy is made where none is needed (a (B, 1, D)
    input is already time-major: the one-step seed model pays nothing); else the
    :func:`time_major` workspace copy, ``owned`` = True: give it back when done.
    """
    if info is None:
        return np.ascontiguousarray(x.transpose(1, 0, 2), dtype=dt), False
    return time_major(x, dt, info), True


def outputs(Hs, info):
    """The op's output sequence (B, T, H) from the states ``Hs`` (T+1, B, H):
    h_t at real steps, zero at padded ones (their state is carried, their output is 0)."""
    out = Hs[1:] if info is None else np.where(info.pad, 0, Hs[1:])
    return out.transpose(1, 0, 2)


def grad_out_time_major(g_hs, info):
    """Gradient of the output sequence, time-major; zero at padded steps (their output is 0)."""
    if g_hs is None:
        return None
    G = g_hs.transpose(1, 0, 2)
    return G if info is None else np.where(info.pad, 0, G)


def bptt_start(g_hs, g_state, info, U, B, dt):
    """What a BPTT loop starts from: ``(G, dh, UT, scratch)`` — the output gradient
    time-major (zero at padded steps; None if there is none), dL/dh_T as a fresh
    (B, H) array, Uᵀ contiguous, and a (B, H) scratch array."""
    H = U.shape[0]
    dh = np.zeros((B, H), dt) if g_state is None else g_state.astype(dt, copy=True)
    return (grad_out_time_major(g_hs, info), dh, np.ascontiguousarray(U.T),
            np.empty((B, H), dtype=dt))


def bptt_steps(T, G, dh, info):
    """The steps of a BPTT loop, last to first: yields ``(t, real)`` (``real`` (B,) bool,
    the rows of step t that are real tokens) after adding the output gradient ``G[t]``
    into ``dh``.  A step with no real row at all is passed over: it carried the state,
    so dL/dh goes straight through it (the caller leaves its gradients zero)."""
    all_real = np.ones(dh.shape[0], dtype=bool)
    for t in range(T - 1, -1, -1):
        if G is not None:
            dh += G[t]                                      # dL/dh_t
        if info is None:
            yield t, all_real
        elif not info.none_real[t]:
            yield t, info.m[t]


def grad_needed(ctx):
    """True when a backward pass may follow: grad mode on and some input requires grad.

    Otherwise the fused ops take their inference path (nothing saved for BPTT)."""
    return is_grad_enabled() and any(ctx.needs_input_grad)


def sum_rows(a):
    """Σ over the rows of a 2-D array, as one GEMV (faster than a strided reduction)."""
    return np.ones(a.shape[0], dtype=a.dtype) @ a


def steps_per_chunk(B, width, dtype, budget=4 * 2**20, min_rows=2048):
    """Time steps whose input projection x_t W is computed in one GEMM.

    About ``budget`` bytes of (B, width) slabs: a chunk is still in cache when
    the per-step kernels read it, where one GEMM over all T steps writes a
    (T, B, 4H) array (52 MB at B=256) that comes back from memory step by step.
    At least ``min_rows`` rows per GEMM, below which BLAS loses efficiency.
    """
    rows = max(budget // max(1, width * np.dtype(dtype).itemsize), min_rows)
    return max(1, rows // max(1, B))
