"""Adagrad (PyTorch's formula, Keras' defaults)."""

from __future__ import annotations

import numpy as np

from .base import Optimizer


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), as ``torch.optim.Adagrad`` computes it::

        g = ∇w L + λ·w
        G ← G + g²                     (G starts at ``initial_accumulator_value``)
        w ← w − η · g / (√G + ε)

    Keras writes ``g / √(G + ε)``; PyTorch (and tinynlp) ``g / (√G + ε)``.

    Row-sparse gradients without weight decay: updating only the touched rows
    is *exact* — a zero-gradient row changes neither G nor w.  (With weight
    decay the row update is lazy: untouched rows are not decayed.)
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=0.0, **kwargs):
        if not initial_accumulator_value >= 0:
            raise ValueError("Adagrad: initial_accumulator_value must be >= 0, got "
                             f"{initial_accumulator_value!r}")
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)
        self._slot_names = ("accumulator",)

    def _init_slots(self, w):
        return {"accumulator": np.full_like(w, self.initial_accumulator_value)}

    def _update_dense(self, w, g, state, lr, t):
        g = self._l2_grad(w, g)
        acc = state["accumulator"]
        d = self._buffer(w, 0)
        np.multiply(g, g, out=d)
        acc += d
        np.sqrt(acc, out=d)
        d += self.epsilon
        np.divide(g, d, out=d)
        d *= lr
        w -= d

    def _update_rows(self, w, rows, g, state, lr, t):
        if self.weight_decay:
            g = g + self.weight_decay * w[rows]
        acc_r = state["accumulator"][rows] + g * g
        state["accumulator"][rows] = acc_r
        w[rows] -= lr * g / (np.sqrt(acc_r) + self.epsilon)

    def get_config(self):
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
