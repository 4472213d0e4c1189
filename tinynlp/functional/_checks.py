"""Argument checks shared by the ops (and by the layers above them).

One home for what every op validates the same way, so that an error reads the
same wherever it is raised:

* :func:`check_mask` — THE mask check: a ``(batch, ...)`` boolean (or 0/1) mask;
* :func:`fit_sample_weight` — sample weights broadcast to per-sample values, Keras' way;
* :func:`as_int` — a size given as ``3`` or ``(3,)`` (Keras allows 1-tuples for 1-D);
* :func:`check_float` — a floating-point array;
* :func:`check_kernel_dtype` — operands a fused op's Numba kernels can compute in.

Converting arguments (Tensor / ndarray / list) is the autograd floor's job:
:func:`~tinynlp.autograd.tensor.as_tensor`, :func:`~tinynlp.autograd.tensor.as_array`,
:func:`~tinynlp.autograd.tensor.to_numpy`, :func:`~tinynlp.autograd.tensor.shape_of`.
"""

from __future__ import annotations

import numpy as np

from ..autograd.tensor import to_numpy

__all__ = ["MaskError", "check_mask", "fit_sample_weight", "as_int", "check_float",
           "check_kernel_dtype", "KERNEL_DTYPES"]

#: what the Numba kernels are compiled for
KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class MaskError(TypeError, ValueError):
    """A mask that is neither boolean nor 0/1 (a TypeError and a ValueError alike:
    the dtype is wrong or the values are)."""


def check_mask(mask, shape, op, layout="shape"):
    """``mask`` as a bool ndarray of ``shape``, or None for no mask.

    True marks a real position, False padding; an integer or float mask holding
    only 0 and 1 is accepted and converted.  Anything else raises, naming ``op``:
    a ValueError for a wrong shape (``layout`` describes it, e.g. ``"shape (B, T) ="``),
    a :class:`MaskError` for other values.
    """
    if mask is None:
        return None
    m = to_numpy(mask)
    if m.shape != tuple(shape):
        raise ValueError(f"{op}: mask must have {layout} {tuple(shape)}, got {m.shape}")
    if m.dtype != bool:
        if m.dtype.kind not in "biuf" or not np.isin(m, (0, 1)).all():
            raise MaskError(f"{op}: mask must be boolean (True = a real position, False = "
                            f"padding) or hold only 0/1, got dtype {m.dtype}")
        m = m != 0
    return m


def fit_sample_weight(w, shape, op):
    """Sample weights ``w`` broadcast to the per-sample ``shape`` the Keras way: trailing
    axes of size 1 dropped, missing trailing axes added; a ValueError naming ``op`` if
    they still do not fit (nothing is silently broadcast into a wrong answer)."""
    w = to_numpy(w)
    given = w.shape
    while w.ndim > len(shape) and w.shape[-1] == 1:
        w = w[..., 0]
    if w.ndim < len(shape):
        w = w.reshape(w.shape + (1,) * (len(shape) - w.ndim))
    try:
        return np.broadcast_to(w, shape)
    except ValueError:
        raise ValueError(f"{op}: sample_weight of shape {given} does not fit the per-sample "
                         f"shape {tuple(shape)}") from None


def as_int(value, name, op, minimum=None):
    """An int from ``3`` or ``(3,)``; ``minimum``: the smallest value allowed."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"{op}: {name} must be an int or a 1-tuple, got {value!r}")
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value}")
    return int(value)


def check_float(op, name, a):
    """Raise a TypeError unless the array ``a`` has a floating-point dtype."""
    if a.dtype.kind != "f":
        raise TypeError(f"{op}: {name} must be a floating-point array, got dtype {a.dtype}")


def check_kernel_dtype(op, *arrays):
    """The common dtype of ``arrays`` (None skipped), which a fused op's Numba kernels must
    support: a TypeError up front for anything else (float16 included), naming the op and
    its readable ``*_reference`` twin, instead of a failure deep inside Numba."""
    dt = np.result_type(*[a.dtype if hasattr(a, "dtype") else np.asarray(a).dtype
                          for a in arrays if a is not None])
    if dt not in KERNEL_DTYPES:
        raise TypeError(f"{op}: the fused kernels compute in float32 or float64, got {dt} "
                        f"(cast the inputs, or use {op}_reference)")
    return dt
