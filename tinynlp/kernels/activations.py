"""The backward of an activation, written from its output h, in one pass.

For h = σ(z) the derivative can be written with h alone::

    relu     σ'(z) = [h > 0]
    sigmoid  σ'(z) = h (1 − h)
    tanh     σ'(z) = 1 − h²
    linear   σ'(z) = 1

so a fused "GEMM + bias + activation" op (``F.dense``, ``F.conv1d`` with an
``activation``) keeps only h and computes ``dL/dz = dL/dh ⊙ σ'(z)`` here: one
pass and one new array, where NumPy needs a temporary per factor.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["ACTIVATION_KINDS", "activation_backward", "activation_backward_reference"]

#: activation name → the integer the kernel switches on
ACTIVATION_KINDS = {"linear": 0, "relu": 1, "sigmoid": 2, "tanh": 3}


def activation_backward_reference(g, h, kind):
    """NumPy twin: ``g ⊙ σ'(z)`` from the output ``h`` (same shapes)."""
    if kind == 1:
        return g * (h > 0)
    if kind == 2:
        return g * (h * (1 - h))
    if kind == 3:
        return g * (1 - h * h)
    return g.copy()


@njit(cache=True, error_model="numpy")
def activation_backward(g, h, kind):
    """Fast path: ``g``, ``h`` flat C-contiguous arrays of one dtype → a new array."""
    out = np.empty_like(g)
    one = np.ones(1, dtype=h.dtype)[0]
    zero = one - one
    n = g.shape[0]
    if kind == 1:
        for i in range(n):
            out[i] = g[i] if h[i] > zero else zero
    elif kind == 2:
        for i in range(n):
            out[i] = g[i] * (h[i] * (one - h[i]))
    elif kind == 3:
        for i in range(n):
            out[i] = g[i] * (one - h[i] * h[i])
    else:
        for i in range(n):
            out[i] = g[i]
    return out
