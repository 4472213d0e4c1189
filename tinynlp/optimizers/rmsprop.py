"""RMSprop (PyTorch's formula)."""

from __future__ import annotations

import numpy as np

from .base import Optimizer


class RMSprop(Optimizer):
    """RMSprop (Hinton, 2012), as ``torch.optim.RMSprop`` computes it (ρ = torch's alpha).

    With ``g = ∇w L + λ·w``::

        s ← ρ·s + (1 − ρ)·g²
        centered:  a ← ρ·a + (1 − ρ)·g;   d = √(s − a²) + ε
        otherwise: d = √s + ε
        momentum μ > 0:  b ← μ·b + g / d;   w ← w − η·b
        otherwise:       w ← w − η · g / d

    Keras puts ε inside the square root (``g / √(s + ε)``); with the tiny
    default ε the two agree closely.  Row-sparse gradients get a lazy update
    of the touched rows (untouched rows' averages are not decayed); pass
    ``lazy=False`` for the dense rule.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, weight_decay=0.0, **kwargs):
        if not 0.0 <= rho < 1.0:
            raise ValueError(f"RMSprop: rho must be in [0, 1), got {rho!r}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"RMSprop: momentum must be in [0, 1), got {momentum!r}")
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.rho, self.momentum = float(rho), float(momentum)
        self.epsilon, self.centered = float(epsilon), bool(centered)
        self._slot_names = (("s",) + (("a",) if self.centered else ())
                            + (("momentum",) if self.momentum > 0 else ()))

    def _update_dense(self, w, g, state, lr, t):
        g = self._l2_grad(w, g)
        rho = self.rho
        s = state["s"]
        d = self._buffer(w, 0)
        # s ← ρ s + (1 − ρ) g²
        s *= rho
        np.multiply(g, g, out=d)
        d *= 1.0 - rho
        s += d
        if self.centered:
            a = state["a"]
            a *= rho
            np.multiply(g, 1.0 - rho, out=d)
            a += d
            np.multiply(a, a, out=d)
            np.subtract(s, d, out=d)
            np.sqrt(d, out=d)
        else:
            np.sqrt(s, out=d)
        d += self.epsilon
        # d now holds the denominator; turn it into g / d
        np.divide(g, d, out=d)
        if self.momentum > 0:
            b = state["momentum"]
            b *= self.momentum
            b += d
            np.multiply(b, lr, out=d)
        else:
            d *= lr
        w -= d

    def _update_rows(self, w, rows, g, state, lr, t):
        if self.weight_decay:
            g = g + self.weight_decay * w[rows]
        rho = self.rho
        s_r = state["s"][rows] * rho + (1.0 - rho) * (g * g)
        state["s"][rows] = s_r
        if self.centered:
            a_r = state["a"][rows] * rho + (1.0 - rho) * g
            state["a"][rows] = a_r
            d = np.sqrt(s_r - a_r * a_r) + self.epsilon
        else:
            d = np.sqrt(s_r) + self.epsilon
        step = g / d
        if self.momentum > 0:
            step = state["momentum"][rows] * self.momentum + step
            state["momentum"][rows] = step
        w[rows] -= lr * step

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}
