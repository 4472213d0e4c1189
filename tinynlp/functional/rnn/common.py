"""What the recurrent ops share besides the fused loops' workspace: argument checks (for
the fused ops and their readable twins alike) and the masked step of the readable twins."""

from __future__ import annotations

import numpy as np

from ...autograd import ops
from ...autograd.tensor import Tensor, as_array
from ...kernels.activations import Act
from .._checks import check_float, check_kernel_dtype, check_mask

__all__ = ["lengths_to_mask", "check_inputs", "check_activation", "common_dtype",
           "zeros_state", "sequence_mask", "masked_step", "gate_product", "check_gate_masks"]


def lengths_to_mask(lengths, maxlen=None) -> np.ndarray:
    """``(B, maxlen)`` bool mask, True at steps ``t < lengths[b]`` (post-padding).

    ``maxlen`` defaults to ``max(lengths)``.
    """
    lengths = np.asarray(as_array(lengths) if isinstance(lengths, Tensor) else lengths)
    if lengths.ndim != 1 or lengths.dtype.kind not in "iu":
        raise ValueError(
            f"lengths_to_mask: lengths must be a 1-D integer array, got shape {lengths.shape} "
            f"dtype {lengths.dtype}")
    if (lengths < 0).any():
        raise ValueError(f"lengths_to_mask: lengths must be >= 0, got {lengths.min()}")
    if maxlen is None:
        maxlen = int(lengths.max()) if lengths.size else 0
    return np.arange(maxlen)[None, :] < lengths[:, None]


def sequence_mask(mask, B, T, op):
    """A (B, T) mask checked (:func:`~tinynlp.functional._checks.check_mask`) → a bool
    ndarray, or None when nothing is masked (every step real)."""
    m = check_mask(mask, (B, T), op, layout="shape (B, T) =")
    return None if m is None or m.all() else m


def check_inputs(op, x, states, W, U, b, mask, n_gates, gru_bias=False,
                 numba_kernels=False):
    """Check shapes and dtypes; return ``(B, T, D, H, mask_or_None)``.

    ``states`` maps an argument name (``"h0"``, ``"c0"``) to its value or None.
    ``numba_kernels``: the op runs Numba step kernels, compiled for float32 and
    float64 only (NumPy-only ops accept any float dtype).
    """
    xa = as_array(x)
    if xa.ndim != 3 or xa.dtype.kind != "f":
        raise ValueError(
            f"{op}: x must be a 3-D (batch, time, features) floating-point array, "
            f"got shape {xa.shape} dtype {xa.dtype}")
    B, T, D = xa.shape
    if T == 0:
        raise ValueError(f"{op}: x must have at least one time step, got shape {xa.shape}")
    Ua = as_array(U)
    check_float(op, "U", Ua)
    if Ua.ndim != 2 or Ua.shape[1] != n_gates * Ua.shape[0]:
        want = "(H, H)" if n_gates == 1 else f"(H, {n_gates}H)"
        raise ValueError(f"{op}: U must have shape {want} (H = units), got {Ua.shape}")
    H = Ua.shape[0]
    Wa = as_array(W)
    check_float(op, "W", Wa)
    if Wa.shape != (D, n_gates * H):
        raise ValueError(
            f"{op}: W must have shape (D, {'' if n_gates == 1 else n_gates}H) = "
            f"{(D, n_gates * H)} (rows = x's feature size D={D}, units H={H} from U), "
            f"got {Wa.shape}")
    ba = as_array(b)
    check_float(op, "b", ba)
    want_b = (2, n_gates * H) if gru_bias else (n_gates * H,)
    if ba.shape != want_b:
        what = "[input bias; recurrent bias]" if gru_bias else "one bias per unit and gate"
        raise ValueError(f"{op}: b must have shape {want_b} ({what}), got {ba.shape}")
    dtypes = [xa.dtype, Wa.dtype, Ua.dtype, ba.dtype]
    for name, s in states.items():
        if s is None:
            continue
        sa = as_array(s)
        check_float(op, name, sa)
        if sa.shape != (B, H):
            raise ValueError(f"{op}: {name} must have shape (B, H) = {(B, H)}, got {sa.shape}")
        dtypes.append(sa.dtype)
    if numba_kernels:
        check_kernel_dtype(op, *[np.empty(0, dt) for dt in dtypes])
    return B, T, D, H, sequence_mask(mask, B, T, op)


def check_activation(op, activation):
    """The :class:`~tinynlp.kernels.activations.Act` of an Elman RNN's activation name."""
    act = Act.of(activation)
    if act is None:
        raise ValueError(f"{op}: activation must be one of {Act.names()}, got {activation!r}")
    return act


def common_dtype(*arrays):
    """The float dtype all operands are promoted to (never a downcast)."""
    return np.result_type(*[a for a in arrays if a is not None])


def zeros_state(x, B, H, *params):
    """A zero initial state (B, H) in the dtype of the operands (for the readable twins)."""
    dt = common_dtype(as_array(x), *[as_array(p) for p in params])
    return Tensor(np.zeros((B, H), dtype=dt), _copy=False)


def masked_step(m, t, new, old):
    """``(state, output)`` of step ``t`` of a readable twin, for a state Tensor.

    Without a mask (``m`` None) both are ``new``.  With the (B, T) mask ``m``, a
    padded row keeps the ``old`` state (carried over) and outputs zero.
    """
    if m is None:
        return new, new
    real = m[:, t:t + 1]                         # (B, 1): True = a real token
    return ops.where(real, new, old), ops.where(real, new, 0.0)


def check_gate_masks(masks, gates, B, n, what, op):
    """``masks`` (dropout masks, one per gate, each (B, n); a single array for one gate)
    as a list of arrays, or None."""
    if masks is None:
        return None
    if gates == 1 and not isinstance(masks, (list, tuple)):
        masks = [masks]
    masks = [np.asarray(as_array(m) if isinstance(m, Tensor) else m) for m in masks]
    if len(masks) != gates or any(m.shape != (B, n) for m in masks):
        raise ValueError(f"{op}: {what} must be {gates} array(s) of shape {(B, n)} (one per "
                         f"gate), got {[m.shape for m in masks]}")
    return masks


def gate_product(v, M, masks):
    """``v @ M`` — or, with dropout ``masks`` (one (B, n) array per gate), each gate's
    block of columns of M multiplied by v ⊙ that gate's mask:

        [(v ⊙ m_1) M_1, (v ⊙ m_2) M_2, ...]

    (Keras' recurrent dropout: one mask per gate, the same at every step.)"""
    if masks is None:
        return v @ M
    width = M.shape[-1] // len(masks)
    return ops.concat([(v * m) @ M[:, g * width:(g + 1) * width]
                       for g, m in enumerate(masks)], axis=-1)
