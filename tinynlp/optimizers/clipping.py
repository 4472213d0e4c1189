"""Gradient clipping: by value, by each tensor's norm, by the global norm.

Each function takes a list of gradients (ndarrays, or coalesced
:class:`~tinynlp.autograd.tensor.RowSparseGrad`) and rescales them **in place**
(as ``torch.nn.utils.clip_grad_norm_`` does), so a training step allocates
nothing for clipping.

- value:        g ← clip(g, −c, c)                                  elementwise
- norm:         g ← g · c / max(‖g‖₂, c)                             each tensor on its own
- global norm:  g_i ← g_i · c / max(‖(g_1, …, g_n)‖₂, c)             all tensors together

The norm formulas leave a gradient whose norm is below ``c`` untouched and
scale a larger one down to norm exactly ``c``.  (PyTorch divides by
``norm + 1e-6`` instead of ``norm``; the results agree to about 1e-6
relative.)  A row-sparse gradient's norm is the norm of its (coalesced) rows:
the untouched rows are zero.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.tensor import RowSparseGrad


def _values(g):
    return g.values if isinstance(g, RowSparseGrad) else g


def sum_of_squares(g) -> float:
    """Σ g²  (no temporary array: a dot product of the flat view with itself)."""
    v = _values(g)
    flat = v.reshape(-1)
    return float(np.dot(flat, flat))


def global_norm(grads) -> float:
    """‖(g_1, …, g_n)‖₂ = √(Σ_i Σ g_i²)."""
    return math.sqrt(sum(sum_of_squares(g) for g in grads))


def clip_by_value(grads, clipvalue: float) -> None:
    """g ← clip(g, −c, c), in place."""
    c = float(clipvalue)
    for g in grads:
        v = _values(g)
        np.clip(v, -c, c, out=v)


def clip_by_norm(grads, clipnorm: float) -> None:
    """g ← g · c / max(‖g‖₂, c) for each gradient on its own, in place."""
    c = float(clipnorm)
    for g in grads:
        norm = math.sqrt(sum_of_squares(g))
        if norm > c:
            v = _values(g)
            v *= c / norm


def clip_by_global_norm(grads, clipnorm: float) -> float:
    """g_i ← g_i · c / max(global_norm, c), in place; returns the norm before clipping."""
    c = float(clipnorm)
    norm = global_norm(grads)
    if norm > c:
        scale = c / norm
        for g in grads:
            v = _values(g)
            v *= scale
    return norm
