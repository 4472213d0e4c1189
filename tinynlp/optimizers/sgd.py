"""Stochastic gradient descent, with (Nesterov) momentum."""

from __future__ import annotations

import numpy as np

from .base import Optimizer


class SGD(Optimizer):
    """SGD, optionally with momentum μ and Nesterov momentum (PyTorch's formulation).

    With ``g = ∇w L + λ·w`` (λ = ``weight_decay``, L2 folded into the gradient):

    - plain:     w ← w − η·g
    - momentum:  b ← μ·b + g   (b starts at 0, so b₁ = g₁ as in PyTorch)
                 w ← w − η·b
    - Nesterov:  b ← μ·b + g;   w ← w − η·(g + μ·b)

    Keras writes momentum as ``v ← μ·v − η·g; w ← w + v``: the same numbers
    while η is constant (v = −η·b); they differ when η changes during training.

    Row-sparse gradients: plain SGD without weight decay updates only the
    touched rows, exactly as the dense update would.  With momentum (or weight
    decay) the row update is *lazy*: untouched rows keep their momentum buffer
    undecayed and are not moved by it, unlike the dense rule; pass
    ``lazy=False`` for the dense rule.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=0.0,
                 **kwargs):
        if not 0.0 <= momentum < 1.0 or isinstance(momentum, bool):
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum!r}")
        if nesterov and momentum == 0.0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self._slot_names = ("momentum",) if self.momentum > 0 else ()

    def _update_dense(self, w, g, state, lr, t):
        g = self._l2_grad(w, g)
        step = self._buffer(w, 0)
        if self.momentum > 0:
            b = state["momentum"]
            b *= self.momentum
            b += g
            if self.nesterov:
                np.multiply(b, self.momentum, out=step)
                step += g
                step *= lr
            else:
                np.multiply(b, lr, out=step)
        else:
            np.multiply(g, lr, out=step)
        w -= step

    def _update_rows(self, w, rows, g, state, lr, t):
        if self.weight_decay:
            g = g + self.weight_decay * w[rows]
        if self.momentum > 0:
            b_rows = state["momentum"][rows] * self.momentum + g
            state["momentum"][rows] = b_rows
            g = g + self.momentum * b_rows if self.nesterov else b_rows
        w[rows] -= lr * g

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
