"""Recurrent ops: Elman RNN, LSTM and GRU over a whole sequence.

Each cell comes twice:

* ``elman_rnn`` / ``lstm`` / ``gru`` — the fast path.  All time steps are one
  fused :class:`Function` with hand-written backpropagation through time
  (BPTT).  The input projection ``x_t W + b`` of *every* step is one GEMM
  before the loop; only the recurrence ``h_{t-1} U`` is sequential; the weight
  gradients are one GEMM each after the backward loop
  (``dW = Xᵀ·dZ``, ``dU = H_prevᵀ·dZ`` over all steps at once).  Internally the
  sequence is time-major (``(T, B, ·)``) so every step reads and writes a
  contiguous slab of preallocated buffers; nothing is allocated per step.
  The elementwise gate math of one LSTM / GRU step is a one-pass Numba kernel
  (:mod:`tinynlp.kernels.rnn`); ``tanh`` stays NumPy's vectorised ufunc, and
  sigmoids are computed as σ(z) = ½ + ½·tanh(z/2) (halving is exact).
* ``elman_rnn_reference`` / ``lstm_reference`` / ``gru_reference`` — the
  readable twin: a plain Python loop over time of primitive autograd ops, the
  code a student reads.  The tests assert the two agree in value and in every
  gradient.

Shapes (Keras layout, weights stored ``(in, out)``)::

    x  (B, T, D)   batch, time, features        h0, c0  (B, H) or None (zeros)
    W  (D, G·H)    input kernel                 U       (H, G·H) recurrent kernel
    b  (G·H,)      bias  — GRU: (2, 3H) = [input bias; recurrent bias]
    G = 1 (Elman), 4 (LSTM: gates i, f, c, o), 3 (GRU: gates z, r, h)

Masks.  ``mask`` is a ``(B, T)`` boolean array (True = a real token, False =
padding; see :func:`lengths_to_mask`).  At a padded step the state is carried
over unchanged (``h_t = h_{t−1}``, and ``c_t = c_{t−1}`` for the LSTM), so the
step receives no gradient and the final state is the state after the last
real token — whether the padding is at the end ('post') or at the start
('pre', Keras' ``pad_sequences`` default).  **The output at a padded step is
zero** (as PyTorch's packed sequences give), for all three cells.  (Keras
instead repeats the carried state at masked steps; masked steps should be
ignored downstream either way.)  A sequence with no real token at all
(length 0) gives all-zero outputs and returns ``h0`` (and ``c0``) as its
final state; the gradient passes straight through to them.  The fused ops
never read padded inputs at all (NaN there changes nothing); the reference
twins compute and then discard them.

The ``hs`` output of a fused op may be a view of a buffer its backward pass
reads: do not modify it in place (as with any autograd output).
"""

from __future__ import annotations

import threading

import numpy as np

from ..autograd import ops
from ..autograd.tensor import Function, Tensor, as_array, is_grad_enabled
from ..kernels.rnn import (
    gru_backward_step, gru_forward_candidate, gru_forward_state, lstm_backward_step,
    lstm_forward_step,
)

__all__ = [
    "elman_rnn", "elman_rnn_reference",
    "lstm", "lstm_reference",
    "gru", "gru_reference",
    "lengths_to_mask",
    "rnn_weights_to_torch", "rnn_weights_from_torch",
    "lstm_weights_to_torch", "lstm_weights_from_torch",
    "gru_weights_to_torch", "gru_weights_from_torch",
]

RNN_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")


# --------------------------------------------------------------------------
# input checking (shared by the fused ops and their reference twins)
# --------------------------------------------------------------------------

def _arr(v):
    return v.data if isinstance(v, Tensor) else as_array(v)


def _t(v):
    return v if isinstance(v, Tensor) else Tensor(as_array(v), _copy=False)


def _check_float(op, name, a):
    if a.dtype.kind != "f":
        raise TypeError(f"{op}: {name} must be a floating-point array, got dtype {a.dtype}")


def lengths_to_mask(lengths, maxlen=None) -> np.ndarray:
    """``(B, maxlen)`` bool mask, True at steps ``t < lengths[b]`` (post-padding).

    ``maxlen`` defaults to ``max(lengths)``.
    """
    lengths = np.asarray(_arr(lengths) if isinstance(lengths, Tensor) else lengths)
    if lengths.ndim != 1 or lengths.dtype.kind not in "iu":
        raise ValueError(
            f"lengths_to_mask: lengths must be a 1-D integer array, got shape {lengths.shape} "
            f"dtype {lengths.dtype}")
    if (lengths < 0).any():
        raise ValueError(f"lengths_to_mask: lengths must be >= 0, got {lengths.min()}")
    if maxlen is None:
        maxlen = int(lengths.max()) if lengths.size else 0
    return np.arange(maxlen)[None, :] < lengths[:, None]


def _check_mask(op, mask, B, T):
    """Validate ``mask`` → ``(B, T)`` bool ndarray, or None when there is nothing masked."""
    if mask is None:
        return None
    m = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if m.shape != (B, T):
        raise ValueError(f"{op}: mask must have shape (B, T) = {(B, T)}, got {m.shape}")
    if m.dtype != bool:
        if m.dtype.kind not in "iuf" or not np.isin(m, (0, 1)).all():
            raise TypeError(
                f"{op}: mask must be boolean (True = real step, False = padding) or hold only "
                f"0/1, got dtype {m.dtype}")
        m = m != 0
    return None if m.all() else m


def _check_inputs(op, x, states, W, U, b, mask, n_gates, gru_bias=False,
                  numba_kernels=False):
    """Check shapes and dtypes; return ``(B, T, D, H, mask_or_None)``.

    ``states`` maps an argument name (``"h0"``, ``"c0"``) to its value or None.
    ``numba_kernels``: the op runs Numba step kernels, compiled for float32 and
    float64 only (NumPy-only ops accept any float dtype).
    """
    xa = _arr(x)
    if xa.ndim != 3 or xa.dtype.kind != "f":
        raise ValueError(
            f"{op}: x must be a 3-D (batch, time, features) floating-point array, "
            f"got shape {xa.shape} dtype {xa.dtype}")
    B, T, D = xa.shape
    if T == 0:
        raise ValueError(f"{op}: x must have at least one time step, got shape {xa.shape}")
    Ua = _arr(U)
    _check_float(op, "U", Ua)
    if Ua.ndim != 2 or Ua.shape[1] != n_gates * Ua.shape[0]:
        want = "(H, H)" if n_gates == 1 else f"(H, {n_gates}H)"
        raise ValueError(f"{op}: U must have shape {want} (H = units), got {Ua.shape}")
    H = Ua.shape[0]
    Wa = _arr(W)
    _check_float(op, "W", Wa)
    if Wa.shape != (D, n_gates * H):
        raise ValueError(
            f"{op}: W must have shape (D, {'' if n_gates == 1 else n_gates}H) = "
            f"{(D, n_gates * H)} (rows = x's feature size D={D}, units H={H} from U), "
            f"got {Wa.shape}")
    ba = _arr(b)
    _check_float(op, "b", ba)
    want_b = (2, n_gates * H) if gru_bias else (n_gates * H,)
    if ba.shape != want_b:
        what = "[input bias; recurrent bias]" if gru_bias else "one bias per unit and gate"
        raise ValueError(f"{op}: b must have shape {want_b} ({what}), got {ba.shape}")
    dtypes = [xa.dtype, Wa.dtype, Ua.dtype, ba.dtype]
    for name, s in states.items():
        if s is None:
            continue
        sa = _arr(s)
        _check_float(op, name, sa)
        if sa.shape != (B, H):
            raise ValueError(f"{op}: {name} must have shape (B, H) = {(B, H)}, got {sa.shape}")
        dtypes.append(sa.dtype)
    dt = np.result_type(*dtypes)
    if numba_kernels and dt not in (np.float32, np.float64):
        raise TypeError(
            f"{op}: the fused kernels compute in float32 or float64, got {dt} "
            f"(cast the inputs, or use {op}_reference)")
    return B, T, D, H, _check_mask(op, mask, B, T)


def _check_activation(op, activation):
    if activation is None:
        activation = "linear"
    if activation not in RNN_ACTIVATIONS:
        raise ValueError(
            f"{op}: activation must be one of {RNN_ACTIVATIONS}, got {activation!r}")
    return activation


def _common_dtype(*arrays):
    """The float dtype all operands are promoted to (never a downcast)."""
    return np.result_type(*[a for a in arrays if a is not None])


class _Workspace:
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


_WORKSPACE = _Workspace()


class _GiveBack:
    """Held by an op's context: returns its scratch buffers when the context dies."""

    __slots__ = ("arrays",)

    def __init__(self, *arrays):
        self.arrays = arrays

    def __del__(self):
        try:
            _WORKSPACE.give(*self.arrays)
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


def _time_major(x, dt, info=None):
    """(B, T, D) → contiguous (T, B, D) in dtype ``dt``, zero at padded steps
    (so that whatever sits there never reaches the weight gradients)."""
    B, T, D = x.shape
    xt = _WORKSPACE.take((T, B, D), dt)         # always a copy: we may write into it
    np.copyto(xt, x.transpose(1, 0, 2))
    if info is not None:
        np.copyto(xt, 0, where=info.pad)
    return xt


class _MaskInfo:
    """Per-step views of a (B, T) mask for the fused loops (time-major)."""

    def __init__(self, mask, dt):
        m = np.ascontiguousarray(mask.T)                  # (T, B) bool
        self.m = m
        self.pad = ~m[:, :, None]                          # (T, B, 1): True at padding
        self.keep = self.pad.astype(dt)                    # (T, B, 1): 1 at padding, 0 real
        self.any_pad = ~m.all(axis=1)                      # (T,)
        self.none_real = ~m.any(axis=1)                    # (T,)


# --------------------------------------------------------------------------
# in-place activations and their derivatives (written from the output h)
# --------------------------------------------------------------------------

def _sigmoid_(a):
    """a ← σ(a) in place, as σ(z) = ½ + ½·tanh(z/2) (no overflow, no temporaries)."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5


def _activate_(name, a):
    if name == "tanh":
        np.tanh(a, out=a)
    elif name == "relu":
        np.maximum(a, 0, out=a)
    elif name == "sigmoid":
        _sigmoid_(a)


def _activation_deriv(name, h, out):
    """out ← σ'(z) written in terms of h = σ(z):
    tanh 1 − h²;  relu [h > 0];  sigmoid h(1 − h);  linear 1."""
    if name == "tanh":
        np.multiply(h, h, out=out)
        np.subtract(1, out, out=out)
    elif name == "relu":
        np.greater(h, 0, out=out)
    elif name == "sigmoid":
        np.subtract(1, h, out=out)
        out *= h
    else:
        out.fill(1)


def _grad_needed(ctx):
    """True when a backward pass may follow: grad mode on and some input requires grad.

    Otherwise the fused ops take their inference path (nothing saved for BPTT)."""
    return is_grad_enabled() and any(ctx.needs_input_grad)


def _sum_rows(a):
    """Σ over the rows of a 2-D array, as one GEMV (faster than a strided reduction)."""
    return np.ones(a.shape[0], dtype=a.dtype) @ a


def _steps_per_chunk(B, width, dtype, budget=4 * 2**20, min_rows=2048):
    """Time steps whose input projection x_t W is computed in one GEMM.

    About ``budget`` bytes of (B, width) slabs: a chunk is still in cache when
    the per-step kernels read it, where one GEMM over all T steps writes a
    (T, B, 4H) array (52 MB at B=256) that comes back from memory step by step.
    At least ``min_rows`` rows per GEMM, below which BLAS loses efficiency.
    """
    rows = max(budget // (width * np.dtype(dtype).itemsize), min_rows)
    return max(1, rows // B)


def _grad_out_time_major(g_hs, info):
    """Gradient of the output sequence, time-major; zero at padded steps (their output is 0)."""
    if g_hs is None:
        return None
    G = g_hs.transpose(1, 0, 2)
    return G if info is None else np.where(info.pad, 0, G)


# --------------------------------------------------------------------------
# Elman RNN
# --------------------------------------------------------------------------

def _elman_inference(x, h0, W, U, b, mask, activation, dt):
    """Forward of :class:`ElmanRNN` when no gradient will be asked for.

    The same sums as the training forward, with nothing kept for BPTT: the
    input projection of all steps is one GEMM written straight into the
    (time-major) output, and each step adds h_{t−1} U in place (skipped at the
    first step when there is no initial state: h_0 = 0).  Time-major so that
    every step's slab is contiguous: on x's own (B, T) order the per-step
    passes over strided slabs made a 100-step forward 15 % slower.
    Padded steps keep the state and output zero.
    """
    B, T, D = x.shape
    H = U.shape[0]
    xt = np.ascontiguousarray(x.transpose(1, 0, 2), dtype=dt)   # (T, B, D); a view when T = 1
    out = np.matmul(xt.reshape(T * B, D), W).reshape(T, B, H)
    out += b
    h = None if h0 is None else h0.astype(dt, copy=True)      # the state h_{t−1}
    rec = np.empty((B, H), dtype=dt)
    mask_t = None if mask is None else np.ascontiguousarray(mask.T)   # (T, B)
    for t in range(T):
        z = out[t]
        if mask_t is not None and not mask_t[t].any():
            z[...] = 0
            continue
        if h is not None:
            np.matmul(h, U, out=rec)
            z += rec
        _activate_(activation, z)
        if mask_t is None:
            h = z
        else:
            real = mask_t[t][:, None]
            if h is None:
                h = np.zeros((B, H), dtype=dt)
            np.copyto(h, z, where=real)                        # padded rows keep h_{t−1}
            np.copyto(z, 0, where=~real)                       # ... and output zero
    h_last = np.zeros((B, H), dtype=dt) if h is None else h.copy()
    return out.transpose(1, 0, 2), h_last


class ElmanRNN(Function):
    """h_t = σ(z_t),  z_t = x_t W + h_{t−1} U + b   (t = 1..T), all steps fused.

    BPTT, with δ_t = dL/dz_t and dL/dh_t = g_t + δ_{t+1} Uᵀ (g_t the output grad):
        δ_t = dL/dh_t ⊙ σ'(z_t)
        dL/dx_t = δ_t Wᵀ,  dL/dh0 = δ_1 Uᵀ
        dL/dW = Σ_t x_tᵀ δ_t,  dL/dU = Σ_t h_{t−1}ᵀ δ_t,  dL/db = Σ_t Σ_batch δ_t
    At a padded step h_t = h_{t−1}: δ_t = 0 and dL/dh_{t−1} = dL/dh_t.
    """

    differentiable = (0, 1, 2, 3, 4)

    @staticmethod
    def forward(ctx, x, h0, W, U, b, mask, activation="tanh"):
        dt = _common_dtype(x, h0, W, U, b)
        W, U, b = (a.astype(dt, copy=False) for a in (W, U, b))
        if not _grad_needed(ctx):
            return _elman_inference(x, h0, W, U, b, mask, activation, dt)
        B, T, D = x.shape
        H = U.shape[0]
        info = None if mask is None else _MaskInfo(mask, dt)
        xt = _time_major(x, dt, info)                             # (T, B, D)
        Hs = np.empty((T + 1, B, H), dtype=dt)                    # Hs[t+1] = h_t
        Hs[0] = 0 if h0 is None else h0
        # input projection of every step at once, written where h_t will live
        np.matmul(xt.reshape(T * B, D), W, out=Hs[1:].reshape(T * B, H))
        Hs[1:] += b
        rec = np.empty((B, H), dtype=dt)
        for t in range(T):
            h_prev, h = Hs[t], Hs[t + 1]
            if info is not None and info.none_real[t]:
                h[...] = h_prev
                continue
            np.matmul(h_prev, U, out=rec)
            h += rec
            _activate_(activation, h)
            if info is not None and info.any_pad[t]:
                np.copyto(h, h_prev, where=info.pad[t])
        ctx.save_for_backward(xt, W, U, Hs)
        ctx.info, ctx.activation = info, activation
        ctx.scratch = _GiveBack(xt)
        out = Hs[1:] if info is None else np.where(info.pad, 0, Hs[1:])
        return out.transpose(1, 0, 2), Hs[T].copy()

    @staticmethod
    def backward(ctx, g_hs, g_last):
        xt, W, U, Hs = ctx.saved
        info = ctx.info
        T, B, D = xt.shape
        H = U.shape[0]
        dt = Hs.dtype
        dZ = _WORKSPACE.take((T, B, H), dt)
        _activation_deriv(ctx.activation, Hs[1:], dZ)              # σ'(z_t), all steps
        if info is not None:
            np.copyto(dZ, 0, where=info.pad)
        G = _grad_out_time_major(g_hs, info)
        dh = np.zeros((B, H), dt) if g_last is None else g_last.astype(dt, copy=True)
        UT = np.ascontiguousarray(U.T)
        rec = np.empty((B, H), dtype=dt)
        for t in range(T - 1, -1, -1):
            if G is not None:
                dh += G[t]
            if info is not None and info.none_real[t]:
                continue                                           # δ_t = 0, dh passes
            dz = dZ[t]
            dz *= dh                                               # δ_t
            if info is not None and info.any_pad[t]:
                np.matmul(dz, UT, out=rec)
                dh *= info.keep[t]
                dh += rec
            else:
                np.matmul(dz, UT, out=dh)                          # dL/dh_{t−1}
        needs = ctx.needs_input_grad
        dZ2 = dZ.reshape(T * B, H)
        dx = (dZ2 @ W.T).reshape(T, B, D).transpose(1, 0, 2) if needs[0] else None
        dW = xt.reshape(T * B, D).T @ dZ2 if needs[2] else None
        dU = Hs[:-1].reshape(T * B, H).T @ dZ2 if needs[3] else None
        db = _sum_rows(dZ2) if needs[4] else None
        _WORKSPACE.give(dZ)
        return dx, (dh if needs[1] else None), dW, dU, db, None


def elman_rnn(x, h0, W, U, b, activation="tanh", mask=None):
    """Elman RNN over a whole sequence (fused, hand-written BPTT).

        h_t = σ(x_t W + h_{t−1} U + b),   t = 1..T,   h_0 = h0 (zeros if None)

    x (B, T, D), h0 (B, H) or None, W (D, H), U (H, H), b (H,);
    ``activation`` σ ∈ {"tanh", "relu", "sigmoid", "linear"}; ``mask`` (B, T) bool:
    padded steps keep the state and output zeros (see the module docstring).

    Returns ``(hs, h_last)``: hs (B, T, H) the state after every step, h_last
    (B, H) the final state.  Derivative: see :class:`ElmanRNN`.
    Same maths as :func:`elman_rnn_reference`.
    """
    activation = _check_activation("elman_rnn", activation)
    *_, m = _check_inputs("elman_rnn", x, {"h0": h0}, W, U, b, mask, 1)
    return ElmanRNN.apply(_t(x), None if h0 is None else _t(h0), _t(W), _t(U), _t(b), m,
                          activation=activation)


_REFERENCE_ACTIVATIONS = {
    "tanh": ops.tanh, "relu": ops.relu, "sigmoid": ops.sigmoid, "linear": lambda z: z,
}


def _zeros_state(x, B, H, *params):
    dt = _common_dtype(_arr(x), *[_arr(p) for p in params])
    return Tensor(np.zeros((B, H), dtype=dt), _copy=False)


def elman_rnn_reference(x, h0, W, U, b, activation="tanh", mask=None):
    """Readable twin of :func:`elman_rnn`: one line of maths per time step.

    Each step is ``h = σ(x[:, t] @ W + h @ U + b)`` built from primitive ops,
    so autograd derives BPTT by itself.  Masked steps keep ``h`` and output 0.
    """
    activation = _check_activation("elman_rnn_reference", activation)
    B, T, D, H, m = _check_inputs("elman_rnn_reference", x, {"h0": h0}, W, U, b, mask, 1)
    x, W, U, b = _t(x), _t(W), _t(U), _t(b)
    act = _REFERENCE_ACTIVATIONS[activation]
    h = _zeros_state(x, B, H, W, U, b) if h0 is None else _t(h0)
    outputs = []
    for t in range(T):
        h_new = act(x[:, t] @ W + h @ U + b)
        if m is None:
            h = h_new
            outputs.append(h_new)
        else:
            real = m[:, t:t + 1]                       # (B, 1): True = real token
            h = ops.where(real, h_new, h)              # padding: carry the state over
            outputs.append(ops.where(real, h_new, 0.0))  # padding: output zero
    return ops.stack(outputs, axis=1), h


# --------------------------------------------------------------------------
# LSTM
# --------------------------------------------------------------------------

def _lstm_to_internal(a, dt):
    """Keras gate blocks (i, f, c, o) → internal order (o, i, f, c) along the last axis.

    Internally the three sigmoid gates (o, i, f) are contiguous, and so are
    the three blocks multiplied by dL/dc in the backward pass (i, f, c).
    """
    H = a.shape[-1] // 4
    return np.concatenate([a[..., 3 * H:], a[..., :3 * H]], axis=-1).astype(dt, copy=False)


def _lstm_from_internal(a):
    """Internal gate order (o, i, f, c) → Keras' (i, f, c, o) along the last axis."""
    H = a.shape[-1] // 4
    return np.concatenate([a[..., H:], a[..., :H]], axis=-1)


def _lstm_inference(x, h0, c0, Ws, Us, bs, mask, dt):
    """Forward of :class:`LSTM` when no gradient will be asked for.

    The same arithmetic, in the same order, as the training forward (so the
    outputs agree bit for bit), but nothing is kept for backpropagation: only
    the (B, H) state h, c and tanh(c) scratch and the output are written per
    step, instead of the (T+1, B, H) cells and tanh(c) of every step.  Like the
    training forward it works time-major, so that every slab the per-step
    kernel touches is contiguous (a strided slab keeps LLVM from vectorising
    it: measured 2× slower for the whole forward).
    ``Ws, Us, bs`` are the internal-order weights with halved sigmoid columns.
    """
    B, T, D = x.shape
    H = Us.shape[0]
    xt = _time_major(x, dt)
    S = _steps_per_chunk(B, 4 * H, dt)
    A = _WORKSPACE.take((S, B, 4 * H), dt)                 # x_t W of S steps at a time
    out = np.empty((T, B, H), dtype=dt)
    # two buffers each for h and c, swapped every step: the kernel's vectorised
    # loop falls back to scalar code when an output overlaps an input
    hs = np.empty((2, B, H), dtype=dt)
    cs = np.empty((2, B, H), dtype=dt)
    hs[0] = 0 if h0 is None else h0
    cs[0] = 0 if c0 is None else c0
    rec = np.empty((B, 4 * H), dtype=dt)
    tc = np.empty((B, H), dtype=dt)
    real = np.ones(B, dtype=bool)
    cur = 0                                     # hs[cur], cs[cur]: the current state
    h_prev = hs[0]                              # without a mask h_t lives in out[t]
    mask_t = None if mask is None else np.ascontiguousarray(mask.T)   # (T, B)
    for t in range(T):
        if t % S == 0:
            t1 = min(t + S, T)
            np.matmul(xt[t:t1].reshape(-1, D), Ws, out=A[:t1 - t].reshape(-1, 4 * H))
        if mask_t is not None:
            real = mask_t[t]
            if not real.any():
                out[t] = 0
                continue
        np.matmul(h_prev, Us, out=rec)
        nxt = 1 - cur
        h_new = out[t] if mask is None else hs[nxt]
        # gates, c_t, tanh(c_t), h_t = o tanh(c_t) in one pass (padded rows keep h, c)
        lstm_forward_step(A[t % S], rec, bs, cs[cur], h_prev, real, cs[nxt], tc, h_new)
        if mask is not None:
            np.multiply(h_new, real[:, None], out=out[t])   # padded steps output zero
        h_prev, cur = h_new, nxt
    _WORKSPACE.give(xt, A)
    h_last, c = h_prev.copy(), cs[cur].copy()
    return out.transpose(1, 0, 2), h_last, c


class LSTM(Function):
    """LSTM over all steps (Keras gate order i, f, c, o; fused, hand-written BPTT).

        [a_i a_f a_c a_o] = x_t W + h_{t−1} U + b
        i = σ(a_i),  f = σ(a_f),  g = tanh(a_c),  o = σ(a_o)
        c_t = f ⊙ c_{t−1} + i ⊙ g,     h_t = o ⊙ tanh(c_t)

    BPTT (dh = dL/dh_t incl. the output grad, dc = dL/dc_t incl. the path from h_t):
        dc += dh ⊙ o ⊙ (1 − tanh² c_t)
        da_o = dh ⊙ tanh c_t ⊙ o(1 − o)      da_i = dc ⊙ g ⊙ i(1 − i)
        da_f = dc ⊙ c_{t−1} ⊙ f(1 − f)       da_c = dc ⊙ i ⊙ (1 − g²)
        dL/dc_{t−1} = dc ⊙ f,   dL/dh_{t−1} = da Uᵀ,   dW = Σ x_tᵀ da, dU = Σ h_{t−1}ᵀ da
    Each backward step is one pass of :func:`~tinynlp.kernels.rnn.lstm_backward_step`
    (the lines above) and one GEMM; gates are stored internally in the order
    o, i, f, c so that the three sigmoid gates are contiguous.
    """

    differentiable = (0, 1, 2, 3, 4, 5)

    @staticmethod
    def forward(ctx, x, h0, c0, W, U, b, mask):
        dt = _common_dtype(x, h0, c0, W, U, b)
        B, T, D = x.shape
        H = U.shape[0]
        H3 = 3 * H
        Wp, Up, bp = (_lstm_to_internal(a, dt) for a in (W, U, b))
        # σ(z) = ½ + ½ tanh(z/2): halve the sigmoid gates' columns so that one tanh
        # over all four blocks does the work (halving is exact in floating point)
        Ws, Us, bs = Wp.copy(), Up.copy(), bp.copy()
        for a in (Ws, Us, bs):
            a[..., :H3] *= 0.5
        if not _grad_needed(ctx):
            return _lstm_inference(x, h0, c0, Ws, Us, bs, mask, dt)
        info = None if mask is None else _MaskInfo(mask, dt)
        xt = _time_major(x, dt, info)
        A = _WORKSPACE.take((T, B, 4 * H), dt)       # x_t W → gate values (o, i, f, g)
        S = _steps_per_chunk(B, 4 * H, dt)
        Hs = np.empty((T + 1, B, H), dtype=dt)
        C = _WORKSPACE.take((T + 1, B, H), dt)
        TC = _WORKSPACE.take((T, B, H), dt)          # tanh(c_t)
        Hs[0] = 0 if h0 is None else h0
        C[0] = 0 if c0 is None else c0
        rec = np.empty((B, 4 * H), dtype=dt)
        all_real = np.ones(B, dtype=bool)
        for t in range(T):
            if t % S == 0:                               # x_t W for the next S steps
                t1 = min(t + S, T)
                np.matmul(xt[t:t1].reshape(-1, D), Ws, out=A[t:t1].reshape(-1, 4 * H))
            if info is not None and info.none_real[t]:
                Hs[t + 1] = Hs[t]
                C[t + 1] = C[t]
                continue
            real = all_real if info is None else info.m[t]
            np.matmul(Hs[t], Us, out=rec)
            # one pass: gates A[t] ← σ/tanh(A[t] + rec + b), c_t = f c_{t−1} + i g,
            # TC[t] = tanh(c_t), h_t = o tanh(c_t)  (padded rows keep h and c)
            lstm_forward_step(A[t], rec, bs, C[t], Hs[t], real, C[t + 1], TC[t], Hs[t + 1])
        ctx.save_for_backward(xt, Wp, Up, A, Hs, C, TC)
        ctx.info = info
        ctx.scratch = _GiveBack(xt, A, C, TC)
        out = Hs[1:] if info is None else np.where(info.pad, 0, Hs[1:])
        return out.transpose(1, 0, 2), Hs[T].copy(), C[T].copy()

    @staticmethod
    def backward(ctx, g_hs, g_h, g_c):
        xt, Wp, Up, A, Hs, C, TC = ctx.saved
        info = ctx.info
        T, B, D = xt.shape
        H = Up.shape[0]
        dt = A.dtype
        dA = _WORKSPACE.take((T, B, 4 * H), dt)     # dL/da for every step (order o, i, f, g)
        G = _grad_out_time_major(g_hs, info)
        dh = np.zeros((B, H), dt) if g_h is None else g_h.astype(dt, copy=True)
        dc = np.zeros((B, H), dt) if g_c is None else g_c.astype(dt, copy=True)
        UT = np.ascontiguousarray(Up.T)
        tmp = np.empty((B, H), dtype=dt)
        all_real = np.ones(B, dtype=bool)
        for t in range(T - 1, -1, -1):
            if G is not None:
                dh += G[t]                                      # dL/dh_t
            if info is not None and info.none_real[t]:
                dA[t] = 0                                       # dh, dc pass unchanged
                continue
            real = all_real if info is None else info.m[t]
            lstm_backward_step(A[t], TC[t], C[t], real, dh, dc, dA[t])   # da_t; dc ← dL/dc_{t−1}
            if info is not None and info.any_pad[t]:
                np.matmul(dA[t], UT, out=tmp)
                dh *= info.keep[t]
                dh += tmp
            else:
                np.matmul(dA[t], UT, out=dh)                    # dL/dh_{t−1} = da_t Uᵀ
        needs = ctx.needs_input_grad
        dA2 = dA.reshape(T * B, 4 * H)
        dx = dW = dU = db = None
        if needs[0]:
            dx = (dA2 @ Wp.T).reshape(T, B, D).transpose(1, 0, 2)
        if needs[3]:
            dW = _lstm_from_internal(xt.reshape(T * B, D).T @ dA2)
        if needs[4]:
            dU = _lstm_from_internal(Hs[:-1].reshape(T * B, H).T @ dA2)
        if needs[5]:
            db = _lstm_from_internal(_sum_rows(dA2))
        _WORKSPACE.give(dA)
        return (dx, dh if needs[1] else None, dc if needs[2] else None, dW, dU, db, None)


def lstm(x, h0, c0, W, U, b, mask=None):
    """LSTM over a whole sequence (fused, hand-written BPTT).

    Keras layout and gate order **i, f, c, o** (input, forget, cell candidate,
    output) along the columns of W (D, 4H), U (H, 4H) and b (4H,) — the same
    order as PyTorch's i, f, g, o rows (see :func:`lstm_weights_to_torch`)::

        i = σ(x_t W_i + h U_i + b_i)    f = σ(x_t W_f + h U_f + b_f)
        g = tanh(x_t W_c + h U_c + b_c) o = σ(x_t W_o + h U_o + b_o)
        c_t = f ⊙ c_{t−1} + i ⊙ g       h_t = o ⊙ tanh(c_t)

    h0, c0 (B, H) or None (zeros); ``mask`` (B, T) bool: padded steps keep h and c
    and output zeros.  Returns ``(hs (B, T, H), h_last (B, H), c_last (B, H))``.
    Derivative: see :class:`LSTM`.  Same maths as :func:`lstm_reference`.
    """
    *_, m = _check_inputs("lstm", x, {"h0": h0, "c0": c0}, W, U, b, mask, 4,
                          numba_kernels=True)
    return LSTM.apply(_t(x), None if h0 is None else _t(h0), None if c0 is None else _t(c0),
                      _t(W), _t(U), _t(b), m)


def lstm_reference(x, h0, c0, W, U, b, mask=None):
    """Readable twin of :func:`lstm`: the cell equations, one step at a time."""
    B, T, D, H, m = _check_inputs("lstm_reference", x, {"h0": h0, "c0": c0}, W, U, b, mask, 4)
    x, W, U, b = _t(x), _t(W), _t(U), _t(b)
    h = _zeros_state(x, B, H, W, U, b) if h0 is None else _t(h0)
    c = _zeros_state(x, B, H, W, U, b) if c0 is None else _t(c0)
    outputs = []
    for t in range(T):
        z = x[:, t] @ W + h @ U + b
        i = ops.sigmoid(z[:, 0 * H:1 * H])      # input gate
        f = ops.sigmoid(z[:, 1 * H:2 * H])      # forget gate
        g = ops.tanh(z[:, 2 * H:3 * H])         # cell candidate
        o = ops.sigmoid(z[:, 3 * H:4 * H])      # output gate
        c_new = f * c + i * g
        h_new = o * ops.tanh(c_new)
        if m is None:
            h, c = h_new, c_new
            outputs.append(h_new)
        else:
            real = m[:, t:t + 1]
            h = ops.where(real, h_new, h)
            c = ops.where(real, c_new, c)
            outputs.append(ops.where(real, h_new, 0.0))
    return ops.stack(outputs, axis=1), h, c


# --------------------------------------------------------------------------
# GRU
# --------------------------------------------------------------------------

class GRU(Function):
    """GRU over all steps, Keras gate order z, r, h with reset_after=True (fused BPTT).

        [x_z x_r x_h] = x_t W + b_in,     [u_z u_r u_h] = h_{t−1} U + b_rec
        z = σ(x_z + u_z),  r = σ(x_r + u_r),  n = tanh(x_h + r ⊙ u_h)
        h_t = z ⊙ h_{t−1} + (1 − z) ⊙ n

    BPTT (dh = dL/dh_t incl. the output grad):
        da_z = dh ⊙ (h_{t−1} − n) ⊙ z(1 − z)     da_n = dh ⊙ (1 − z) ⊙ (1 − n²)
        da_r = da_n ⊙ u_h ⊙ r(1 − r)             du_h = da_n ⊙ r
        dL/dh_{t−1} = dh ⊙ z + [da_z, da_r, du_h] Uᵀ
        dW = Σ x_tᵀ [da_z, da_r, da_n],  db_in = Σ [da_z, da_r, da_n]
        dU = Σ h_{t−1}ᵀ [da_z, da_r, du_h],  db_rec = Σ [da_z, da_r, du_h]
    """

    differentiable = (0, 1, 2, 3, 4)

    @staticmethod
    def forward(ctx, x, h0, W, U, b, mask):
        dt = _common_dtype(x, h0, W, U, b)
        B, T, D = x.shape
        H = U.shape[0]
        H2 = 2 * H
        info = None if mask is None else _MaskInfo(mask, dt)
        W, U, b = (a.astype(dt, copy=False) for a in (W, U, b))
        # the recurrent bias of z and r simply adds to the input bias; only b_rec_h
        # stays inside r ⊙ (h U_h + b_rec_h).  Halve the z, r columns: σ(z) = ½ + ½ tanh(z/2).
        bias_x = b[0].copy()
        bias_x[:H2] += b[1, :H2]
        b_rec_h = b[1, H2:]
        Ws, Us = W.copy(), U.copy()
        for a in (Ws, Us, bias_x):
            a[..., :H2] *= 0.5
        xt = _time_major(x, dt, info)
        A = _WORKSPACE.take((T, B, 3 * H), dt)         # pre-activations → (z, r, n)
        np.matmul(xt.reshape(T * B, D), Ws, out=A.reshape(T * B, 3 * H))
        A += bias_x
        Hs = np.empty((T + 1, B, H), dtype=dt)
        Hs[0] = 0 if h0 is None else h0
        UH = _WORKSPACE.take((T, B, H), dt)            # u_h = h_{t−1} U_h + b_rec_h
        rec = np.empty((B, 3 * H), dtype=dt)
        all_real = np.ones(B, dtype=bool)
        for t in range(T):
            h_prev, h = Hs[t], Hs[t + 1]
            if info is not None and info.none_real[t]:
                h[...] = h_prev
                continue
            a = A[t]
            np.matmul(h_prev, Us, out=rec)
            zr = a[:, :H2]
            zr += rec[:, :H2]
            np.tanh(zr, out=zr)                                  # tanh(a/2) for z, r
            gru_forward_candidate(a, rec, b_rec_h, UH[t])        # z, r; u_h; x_h + r u_h
            n = a[:, H2:]
            np.tanh(n, out=n)                                    # candidate n
            gru_forward_state(a, h_prev, all_real if info is None else info.m[t], h)
        ctx.save_for_backward(xt, W, U, A, Hs, UH)
        ctx.info = info
        ctx.scratch = _GiveBack(xt, A, UH)
        out = Hs[1:] if info is None else np.where(info.pad, 0, Hs[1:])
        return out.transpose(1, 0, 2), Hs[T].copy()

    @staticmethod
    def backward(ctx, g_hs, g_last):
        xt, W, U, A, Hs, UH = ctx.saved
        info = ctx.info
        T, B, D = xt.shape
        H = U.shape[0]
        H2 = 2 * H
        dt = A.dtype
        dR = _WORKSPACE.take((T, B, 3 * H), dt)  # [da_z, da_r, du_h]: grads of h U + b_rec
        dN = _WORKSPACE.take((T, B, H), dt)      # da_n: grad of the candidate's input part
        G = _grad_out_time_major(g_hs, info)
        dh = np.zeros((B, H), dt) if g_last is None else g_last.astype(dt, copy=True)
        UT = np.ascontiguousarray(U.T)
        tmp = np.empty((B, H), dtype=dt)
        all_real = np.ones(B, dtype=bool)
        for t in range(T - 1, -1, -1):
            if G is not None:
                dh += G[t]                                      # dL/dh_t
            if info is not None and info.none_real[t]:
                dR[t] = 0                                       # no gradient from this step
                dN[t] = 0
                continue
            real = all_real if info is None else info.m[t]
            gru_backward_step(A[t], UH[t], Hs[t], real, dh, dR[t], dN[t])  # dh ← dh ⊙ z
            np.matmul(dR[t], UT, out=tmp)
            dh += tmp                                           # dL/dh_{t−1}
        needs = ctx.needs_input_grad
        dR2 = dR.reshape(T * B, 3 * H)
        dN2 = dN.reshape(T * B, H)
        x2 = xt.reshape(T * B, D)
        dx = dW = dU = db = None
        if needs[0]:
            dx = dR2[:, :H2] @ W[:, :H2].T
            dx += dN2 @ W[:, H2:].T
            dx = dx.reshape(T, B, D).transpose(1, 0, 2)
        if needs[2]:
            dW = np.empty((D, 3 * H), dtype=dt)
            dW[:, :H2] = x2.T @ dR2[:, :H2]
            dW[:, H2:] = x2.T @ dN2
        if needs[3]:
            dU = Hs[:-1].reshape(T * B, H).T @ dR2
        if needs[4]:
            db = np.empty((2, 3 * H), dtype=dt)
            db[1] = _sum_rows(dR2)
            db[0, :H2] = db[1, :H2]
            db[0, H2:] = _sum_rows(dN2)
        _WORKSPACE.give(dR, dN)
        return dx, (dh if needs[1] else None), dW, dU, db, None


def gru(x, h0, W, U, b, mask=None):
    """GRU over a whole sequence (fused, hand-written BPTT).

    Keras layout, gate order **z, r, h** (update, reset, candidate) along the
    columns of W (D, 3H) and U (H, 3H), ``reset_after=True``; b (2, 3H) =
    [input bias; recurrent bias]::

        z = σ(x_t W_z + b_iz + h U_z + b_hz)     r = σ(x_t W_r + b_ir + h U_r + b_hr)
        ĥ = tanh(x_t W_h + b_ih + r ⊙ (h U_h + b_hh))
        h_t = z ⊙ h_{t−1} + (1 − z) ⊙ ĥ

    This is PyTorch's nn.GRU too (h' = (1 − z) ⊙ n + z ⊙ h), but PyTorch stores the
    gates in the order r, z, n — use :func:`gru_weights_to_torch`.
    h0 (B, H) or None; ``mask`` (B, T) bool.  Returns ``(hs (B, T, H), h_last (B, H))``.
    Derivative: see :class:`GRU`.  Same maths as :func:`gru_reference`.
    """
    *_, m = _check_inputs("gru", x, {"h0": h0}, W, U, b, mask, 3, gru_bias=True,
                          numba_kernels=True)
    return GRU.apply(_t(x), None if h0 is None else _t(h0), _t(W), _t(U), _t(b), m)


def gru_reference(x, h0, W, U, b, mask=None):
    """Readable twin of :func:`gru`: the cell equations, one step at a time."""
    B, T, D, H, m = _check_inputs("gru_reference", x, {"h0": h0}, W, U, b, mask, 3,
                                  gru_bias=True)
    x, W, U, b = _t(x), _t(W), _t(U), _t(b)
    h = _zeros_state(x, B, H, W, U, b) if h0 is None else _t(h0)
    outputs = []
    for t in range(T):
        xs = x[:, t] @ W + b[0]                  # input part of all three gates
        us = h @ U + b[1]                        # recurrent part of all three gates
        z = ops.sigmoid(xs[:, :H] + us[:, :H])                     # update gate
        r = ops.sigmoid(xs[:, H:2 * H] + us[:, H:2 * H])           # reset gate
        n = ops.tanh(xs[:, 2 * H:] + r * us[:, 2 * H:])            # candidate
        h_new = z * h + (1.0 - z) * n
        if m is None:
            h = h_new
            outputs.append(h_new)
        else:
            real = m[:, t:t + 1]
            h = ops.where(real, h_new, h)
            outputs.append(ops.where(real, h_new, 0.0))
    return ops.stack(outputs, axis=1), h


# --------------------------------------------------------------------------
# converters to / from PyTorch's layouts
# --------------------------------------------------------------------------

def _np(v):
    """An ndarray from a tinynlp Tensor, an ndarray or a torch tensor (no torch import)."""
    if isinstance(v, Tensor):
        return v.data
    if hasattr(v, "detach") and hasattr(v, "cpu"):
        v = v.detach().cpu().numpy()
    return np.asarray(v)


def _bias_or_zeros(bias, n, dtype):
    return np.zeros(n, dtype=dtype) if bias is None else _np(bias)


def _check_converter(op, name, a, shape):
    if a.shape != shape:
        raise ValueError(f"{op}: {name} must have shape {shape}, got {a.shape}")


def rnn_weights_to_torch(W, U, b):
    """tinynlp/Keras Elman weights → ``torch.nn.RNN``'s
    ``(weight_ih_l0 (H, D), weight_hh_l0 (H, H), bias_ih_l0 (H,), bias_hh_l0 (H,))``.

    PyTorch stores (out, in) and has two biases; we put all of ``b`` into
    ``bias_ih`` and zeros into ``bias_hh`` (only their sum matters).
    """
    W, U, b = _np(W), _np(U), _np(b)
    return (np.ascontiguousarray(W.T), np.ascontiguousarray(U.T), b.copy(), np.zeros_like(b))


def rnn_weights_from_torch(w_ih, w_hh, b_ih=None, b_hh=None):
    """``torch.nn.RNN`` weights (H, D), (H, H), (H,), (H,) → ``(W (D, H), U (H, H), b (H,))``
    with ``b = b_ih + b_hh``.  Biases may be None (``bias=False``)."""
    w_ih, w_hh = _np(w_ih), _np(w_hh)
    H = w_hh.shape[0]
    _check_converter("rnn_weights_from_torch", "w_hh", w_hh, (H, H))
    if w_ih.ndim != 2 or w_ih.shape[0] != H:
        raise ValueError(f"rnn_weights_from_torch: w_ih must have shape (H, D) with H={H}, "
                         f"got {w_ih.shape}")
    b = _bias_or_zeros(b_ih, H, w_ih.dtype) + _bias_or_zeros(b_hh, H, w_ih.dtype)
    return np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T), b


def lstm_weights_to_torch(W, U, b):
    """tinynlp/Keras LSTM weights → ``torch.nn.LSTM``'s
    ``(weight_ih (4H, D), weight_hh (4H, H), bias_ih (4H,), bias_hh (4H,))``.

    Gate order: Keras columns i, f, c, o; PyTorch rows i, f, g, o — the same
    blocks (c ≡ g, the cell candidate), so this is a transpose; ``bias_hh`` = 0.
    """
    W, U, b = _np(W), _np(U), _np(b)
    return (np.ascontiguousarray(W.T), np.ascontiguousarray(U.T), b.copy(), np.zeros_like(b))


def lstm_weights_from_torch(w_ih, w_hh, b_ih=None, b_hh=None):
    """``torch.nn.LSTM`` weights (rows i, f, g, o) → ``(W (D, 4H), U (H, 4H), b (4H,))``
    in Keras' column order i, f, c, o (the same order), ``b = b_ih + b_hh``."""
    w_ih, w_hh = _np(w_ih), _np(w_hh)
    H = w_hh.shape[1]
    _check_converter("lstm_weights_from_torch", "w_hh", w_hh, (4 * H, H))
    if w_ih.ndim != 2 or w_ih.shape[0] != 4 * H:
        raise ValueError(f"lstm_weights_from_torch: w_ih must have shape (4H, D) with H={H}, "
                         f"got {w_ih.shape}")
    b = _bias_or_zeros(b_ih, 4 * H, w_ih.dtype) + _bias_or_zeros(b_hh, 4 * H, w_ih.dtype)
    return np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T), b


def _swap_first_two_blocks(a, H, axis):
    """Reorder gate blocks (A, B, C) → (B, A, C) along ``axis``: r,z,n ↔ z,r,h."""
    idx = np.concatenate([np.arange(H, 2 * H), np.arange(0, H), np.arange(2 * H, 3 * H)])
    return np.ascontiguousarray(np.take(a, idx, axis=axis))


def gru_weights_to_torch(W, U, b):
    """tinynlp/Keras GRU weights → ``torch.nn.GRU``'s
    ``(weight_ih (3H, D), weight_hh (3H, H), bias_ih (3H,), bias_hh (3H,))``.

    Gate order differs: Keras columns **z, r, h**; PyTorch rows **r, z, n** —
    the first two blocks are swapped.  ``b[0]`` (input bias) → ``bias_ih``,
    ``b[1]`` (recurrent bias) → ``bias_hh``; both formulations are
    reset_after (PyTorch: n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))).
    """
    W, U, b = _np(W), _np(U), _np(b)
    H = U.shape[0]
    return (_swap_first_two_blocks(W.T, H, 0), _swap_first_two_blocks(U.T, H, 0),
            _swap_first_two_blocks(b[0], H, 0), _swap_first_two_blocks(b[1], H, 0))


def gru_weights_from_torch(w_ih, w_hh, b_ih=None, b_hh=None):
    """``torch.nn.GRU`` weights (rows r, z, n) → ``(W (D, 3H), U (H, 3H), b (2, 3H))``
    in Keras' column order z, r, h; ``b = [b_ih; b_hh]`` (reordered the same way)."""
    w_ih, w_hh = _np(w_ih), _np(w_hh)
    H = w_hh.shape[1]
    _check_converter("gru_weights_from_torch", "w_hh", w_hh, (3 * H, H))
    if w_ih.ndim != 2 or w_ih.shape[0] != 3 * H:
        raise ValueError(f"gru_weights_from_torch: w_ih must have shape (3H, D) with H={H}, "
                         f"got {w_ih.shape}")
    b = np.stack([_bias_or_zeros(b_ih, 3 * H, w_ih.dtype),
                  _bias_or_zeros(b_hh, 3 * H, w_ih.dtype)])
    return (_swap_first_two_blocks(w_ih, H, 0).T.copy(),
            _swap_first_two_blocks(w_hh, H, 0).T.copy(),
            _swap_first_two_blocks(b, H, 1))
