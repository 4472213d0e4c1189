"""Weight initializers with Keras' names and formulas.

Each takes ``(shape, dtype)`` and draws from ``tn.random.get_rng()``, so
``tn.random.seed(n)`` fixes them.  For a kernel of shape ``(..., fan_in,
fan_out)`` (Keras' layout: conv kernels ``(k, in, out)`` have receptive field
``k``), fan_in = k·in and fan_out = k·out.
"""

from __future__ import annotations

import numpy as np

from .. import random as tn_random


def _fans(shape):
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def zeros(shape, dtype=np.float32):
    return np.zeros(shape, dtype=dtype)


def ones(shape, dtype=np.float32):
    return np.ones(shape, dtype=dtype)


def glorot_uniform(shape, dtype=np.float32):
    """U(−a, a) with a = √(6 / (fan_in + fan_out))  (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return tn_random.get_rng().uniform(-limit, limit, size=shape).astype(dtype)


def he_uniform(shape, dtype=np.float32):
    """U(−a, a) with a = √(6 / fan_in)  (He et al., 2015), for ReLU layers."""
    fan_in, _ = _fans(shape)
    limit = np.sqrt(6.0 / fan_in)
    return tn_random.get_rng().uniform(-limit, limit, size=shape).astype(dtype)


def orthogonal(shape, dtype=np.float32, gain=1.0):
    """A (semi-)orthogonal matrix: the QR factor of a Gaussian matrix (Saxe et al.).

    Keras' default for recurrent kernels.  Matrices with several gates,
    shape ``(units, k·units)``, are orthogonal in their rows.
    """
    rows = int(np.prod(shape[:-1]))
    cols = shape[-1]
    a = tn_random.get_rng().standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # make the distribution uniform
    if rows < cols:
        q = q.T
    return np.ascontiguousarray((gain * q[:rows, :cols]).reshape(shape), dtype=dtype)


def uniform(shape, dtype=np.float32, minval=-0.05, maxval=0.05):
    """U(−0.05, 0.05): Keras' ``RandomUniform`` default, used for embeddings."""
    return tn_random.get_rng().uniform(minval, maxval, size=shape).astype(dtype)


def normal(shape, dtype=np.float32, stddev=0.05):
    return (stddev * tn_random.get_rng().standard_normal(shape)).astype(dtype)


_BY_NAME = {
    "zeros": zeros, "ones": ones, "glorot_uniform": glorot_uniform, "he_uniform": he_uniform,
    "orthogonal": orthogonal, "uniform": uniform, "random_uniform": uniform,
    "normal": normal, "random_normal": normal,
}


def get(name_or_fn):
    """An initializer by name (``"glorot_uniform"``...) or a callable ``(shape, dtype)``."""
    if callable(name_or_fn):
        return name_or_fn
    try:
        return _BY_NAME[name_or_fn]
    except KeyError:
        raise ValueError(
            f"unknown initializer {name_or_fn!r}; expected one of {sorted(_BY_NAME)} or a callable"
        ) from None


def name_of(fn):
    """The name of a built-in initializer function (its first name), or None."""
    return next((name for name, f in _BY_NAME.items() if f is fn), None)


def names():
    """The built-in initializers' names."""
    return sorted(_BY_NAME)
