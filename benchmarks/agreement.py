"""Step-by-step loss agreement: the same computation in tinynlp and PyTorch.

From identical initial weights and identical batches, the per-step training
losses of the two frameworks should agree to float32 rounding.  Used by
``tests/benchmarks/test_loss_agreement.py`` and by the harness (the first
steps of every model are compared and the largest difference is reported).
"""

from __future__ import annotations

import numpy as np

from .prepare import initial_weights, make_data, torch_layout
from .specs import ModelSpec


def batches(x, y, batch: int, steps: int, seed: int = 0):
    """``steps`` batches drawn from one fixed permutation (wrapping around)."""
    order = np.random.default_rng(seed).permutation(len(x))
    out = []
    for i in range(steps):
        idx = order[(i * batch) % len(x):][:batch]
        if len(idx) < batch:
            idx = np.concatenate([idx, order[:batch - len(idx)]])
        out.append((np.ascontiguousarray(x[idx]), np.ascontiguousarray(y[idx])))
    return out


def loss_curves(spec: ModelSpec, steps: int = 10, batch: int = 16, quick: bool = True,
                sparse: bool = False):
    """``(tinynlp_losses, torch_losses)`` over the first ``steps`` training steps."""
    import torch

    from . import tinynlp_models, torch_models

    (xtr, ytr), _ = make_data(spec, quick=quick)
    weights = initial_weights(spec)
    tw = torch_layout(spec, weights)
    tiny = tinynlp_models.build(spec, weights, sparse=sparse)
    ref = torch_models.build(spec, tw, sparse=sparse)
    a, b = [], []
    for x, y in batches(xtr, ytr, batch, steps):
        a.append(tiny.train_step(x, y))
        b.append(ref.train_step(ref.convert_x(x), ref.convert_y(y)))
    del torch
    return np.array(a), np.array(b)
