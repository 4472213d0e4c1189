"""Symmetric int8 quantization of an array: ``w ≈ s · q`` (see the package docstring)."""

from __future__ import annotations

import numpy as np

from ...autograd.tensor import to_numpy
from ...kernels.int8 import QMAX

__all__ = ["quantize_tensor", "dequantize", "quantization_error", "as_float_array",
           "channel_axis", "channel_shape"]


def as_float_array(w, arg="w"):
    """The floating-point ndarray behind ``w`` (a Tensor or an array), or a TypeError."""
    w = to_numpy(w)
    if w.dtype.kind != "f":
        raise TypeError(f"{arg} must be a floating-point array, got dtype {w.dtype}")
    return w


def channel_axis(axis, ndim, fn):
    """``axis`` as a non-negative index for an array of rank ``ndim``, or a ValueError."""
    if not -ndim <= axis < ndim:
        raise ValueError(f"{fn}: axis={axis} is out of range for an array of rank {ndim}")
    return axis % ndim


def channel_shape(ndim, axis, n):
    """The shape that broadcasts ``n`` per-channel values along ``axis``."""
    shape = [1] * ndim
    shape[axis] = n
    return tuple(shape)


def scale_for(amax):
    """The float32 scale(s) ``max|w| / 127`` for maxima ``amax``; 1 for an all-zero max.

    For subnormal weights the quotient underflows to 0 or rounds far below its
    exact value; there the scale is raised by one float32 step (to at least the
    smallest positive float32) so that ``|w| / s ≤ 127.5`` and the round trip
    stays within ``s / 2``.  Normal maxima keep exactly ``float32(max|w| / 127)``.
    """
    amax = np.asarray(amax, dtype=np.float64)
    scale = np.asarray(amax / QMAX).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):   # 0 / 0 where amax = 0
        low = (amax > 0) & (amax / scale.astype(np.float64) > QMAX + 0.5)
    scale = np.where(low, np.nextafter(scale, np.float32(np.inf)), scale)
    return np.where(amax > 0, scale, np.float32(1.0)).astype(np.float32)


def quantize_tensor(w, per_channel=False, axis=-1):
    """Symmetric int8 quantization: ``s = max|w| / 127``, ``q = clip(round(w / s), ±127)``.

    ``per_channel=False``: one scale (a 0-d float32 array).  ``per_channel=True``:
    one scale per index along ``axis`` (shape ``(w.shape[axis],)``), the max taken
    over all other axes.  An all-zero tensor or channel gets scale 1 (its codes
    are 0).  Returns ``(q int8 of w's shape, scale float32)``; the round trip
    :func:`dequantize` is within ``scale / 2`` of ``w`` element by element.
    """
    w = as_float_array(w)
    if per_channel:
        if w.ndim == 0:
            raise ValueError("quantize_tensor: per_channel=True needs an array of rank >= 1")
        axis = channel_axis(axis, w.ndim, "quantize_tensor")
        others = tuple(i for i in range(w.ndim) if i != axis)
        amax = np.abs(w).max(axis=others) if w.size else np.zeros(w.shape[axis])
        scale = scale_for(amax)
        s = scale.astype(np.float64).reshape(channel_shape(w.ndim, axis, w.shape[axis]))
    else:
        scale = scale_for(np.abs(w).max() if w.size else 0.0)
        s = np.float64(scale)
    q = np.clip(np.rint(w.astype(np.float64) / s), -QMAX, QMAX).astype(np.int8)
    return q, scale


def dequantize(q, scale, axis=-1, dtype=np.float32):
    """``w ≈ scale · q`` (scale a scalar, or one per index along ``axis``)."""
    q = np.asarray(q)
    if q.dtype != np.int8:
        raise TypeError(f"dequantize: q must be int8, got dtype {q.dtype}")
    scale = np.asarray(scale, dtype=np.float32)
    if scale.ndim == 0:
        return (q.astype(np.float32) * scale).astype(dtype, copy=False)
    axis = channel_axis(axis, q.ndim, "dequantize")
    if scale.shape != (q.shape[axis],):
        raise ValueError(
            f"dequantize: scale must be a scalar or have shape ({q.shape[axis]},) to match "
            f"q.shape[{axis}], got {scale.shape}"
        )
    s = scale.reshape(channel_shape(q.ndim, axis, q.shape[axis]))
    return (q.astype(np.float32) * s).astype(dtype, copy=False)


def quantization_error(w, per_channel=False, axis=-1):
    """``max |w − dequantize(quantize_tensor(w))|`` and the largest scale (for reports)."""
    w = as_float_array(w)
    q, s = quantize_tensor(w, per_channel, axis)
    return float(np.abs(dequantize(q, s, axis).astype(np.float64) - w).max()), float(np.max(s))
