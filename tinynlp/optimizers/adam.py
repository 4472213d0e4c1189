"""Adam and AdamW (PyTorch's formulas)."""

from __future__ import annotations

import math

import numpy as np

from ..kernels.optim import adam_update, adam_update_rows
from .base import Optimizer


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), as PyTorch computes it.

    With ``g = ∇w L + λ·w`` (λ = ``weight_decay``: L2 folded into the
    gradient, as ``torch.optim.Adam`` does) and step t = 1, 2, …::

        m ← β₁·m + (1 − β₁)·g
        v ← β₂·v + (1 − β₂)·g²
        v_max ← max(v_max, v)                      (amsgrad only; then v := v_max)
        m̂ = m / (1 − β₁ᵗ),   v̂ = v / (1 − β₂ᵗ)
        w ← w − η · m̂ / (√v̂ + ε)

    Epsilon placement: this is PyTorch's formula.  Keras adds ε to √v (not
    √v̂) and folds the bias corrections into the step size ("epsilon hat":
    η·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε)), so the same ε gives slightly
    different steps early in training.  Both default to small ε and agree
    closely in practice; the parity tests check equality with ``torch.optim``.

    Row-sparse gradients (embedding tables) get a **lazy** update by default:
    only the touched rows' m, v and weights change; untouched rows' moments
    are *not* decayed (the dense rule would decay them and still move those
    weights by the decaying momentum).  This is what PyTorch's ``SparseAdam``
    and TF-Addons' ``LazyAdam`` do (bias corrections use the global step t);
    pass ``lazy=False`` for the exact dense update.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=0.0, **kwargs):
        for k, v in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0.0 <= v < 1.0:
                raise ValueError(f"{type(self).__name__}: {k} must be in [0, 1), got {v!r}")
        if not epsilon >= 0:
            raise ValueError(f"{type(self).__name__}: epsilon must be >= 0, got {epsilon!r}")
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)
        self.epsilon = float(epsilon)
        self.amsgrad = bool(amsgrad)
        self._slot_names = ("m", "v", "v_max") if self.amsgrad else ("m", "v")

    def _decay(self, w, lr, rows=None):
        """Decoupled weight decay of ``w`` (or of its ``rows``) before the step: AdamW's.
        Plain Adam decays through the gradient instead (:meth:`_grad`)."""

    def _grad(self, w, g, rows=None):
        """The gradient the step uses: g + λ·w (L2 folded in), for ``w`` or its ``rows``."""
        if rows is None:
            return self._l2_grad(w, g)
        return g + self.weight_decay * w[rows] if self.weight_decay else g

    def _scalars(self, dtype, lr, t):
        """(η, β₁, β₂, ε, 1 − β₁ᵗ, √(1 − β₂ᵗ)) in the parameter's dtype, for the kernels."""
        c = dtype.type
        b1, b2 = self.beta_1, self.beta_2
        return (c(lr), c(b1), c(b2), c(self.epsilon), c(1.0 - b1 ** t),
                c(math.sqrt(1.0 - b2 ** t)))

    def _update_dense(self, w, g, state, lr, t):
        self._decay(w, lr)
        g = self._grad(w, g)
        m, v = state["m"], state["v"]
        if (not self.amsgrad and w.flags.c_contiguous and g.dtype == w.dtype
                and w.dtype.kind == "f"):
            # fast path: one fused pass (tinynlp.kernels.optim); the ufunc code below
            # is the same rule, step by step
            adam_update(w.reshape(-1), np.ascontiguousarray(g).reshape(-1), m.reshape(-1),
                        v.reshape(-1), *self._scalars(w.dtype, lr, t))
            return
        buf = self._buffer(w, 0)
        b1, b2 = self.beta_1, self.beta_2
        # m ← β₁ m + (1 − β₁) g
        m *= b1
        np.multiply(g, 1.0 - b1, out=buf)
        m += buf
        # v ← β₂ v + (1 − β₂) g²
        v *= b2
        np.multiply(g, g, out=buf)
        buf *= 1.0 - b2
        v += buf
        if self.amsgrad:
            np.maximum(state["v_max"], v, out=state["v_max"])
            v = state["v_max"]
        # w ← w − η/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
        np.sqrt(v, out=buf)
        buf /= math.sqrt(1.0 - b2 ** t)
        buf += self.epsilon
        np.divide(m, buf, out=buf)
        buf *= lr / (1.0 - b1 ** t)
        w -= buf

    def _update_rows(self, w, rows, g, state, lr, t):
        b1, b2 = self.beta_1, self.beta_2
        self._decay(w, lr, rows)
        g = self._grad(w, g, rows)
        if (not self.amsgrad and w.ndim == 2 and w.flags.c_contiguous and g.dtype == w.dtype
                and w.dtype.kind == "f"):
            # fast path: touched rows only, one pass (rows are unique after coalesce)
            adam_update_rows(w, np.ascontiguousarray(rows, dtype=np.int64),
                             np.ascontiguousarray(g).reshape(len(rows), -1), state["m"],
                             state["v"], *self._scalars(w.dtype, lr, t))
            return
        m_r = state["m"][rows] * b1 + (1.0 - b1) * g
        v_r = state["v"][rows] * b2 + (1.0 - b2) * (g * g)
        state["m"][rows] = m_r
        state["v"][rows] = v_r
        if self.amsgrad:
            v_r = np.maximum(state["v_max"][rows], v_r)
            state["v_max"][rows] = v_r
        denom = np.sqrt(v_r) / math.sqrt(1.0 - b2 ** t) + self.epsilon
        w[rows] -= (lr / (1.0 - b1 ** t)) * m_r / denom

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as PyTorch's ``AdamW``.

    Before the Adam step (which here uses the raw gradient, no L2 term)::

        w ← w · (1 − η·λ)

    Keras' AdamW applies the same decay (``w ← w − η·λ·w``).  Default λ = 0.004
    (Keras' default).  Row-sparse gradients: the decay is applied lazily to
    the touched rows only (see :class:`Adam`).
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, weight_decay=weight_decay, **kwargs)

    def _decay(self, w, lr, rows=None):
        if not self.weight_decay:
            return
        if rows is None:
            w *= 1.0 - lr * self.weight_decay
        else:
            w[rows] *= 1.0 - lr * self.weight_decay

    def _grad(self, w, g, rows=None):
        return g
