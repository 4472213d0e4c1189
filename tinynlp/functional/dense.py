"""The dense (fully connected) layer's op:  h = σ(x W + b).

This is the row form of the textbook ``h = σ(W x + b)``: a batch of row vectors
``x`` (..., in) times ``W`` stored (in, out) as Keras stores it.  It applies to
the last axis, so a sequence (B, T, in) becomes (B, T, out).

With ``z = x W + b`` and ``G = dL/dz`` (flattened to rows)::

    dL/dx = G Wᵀ,     dL/dW = xᵀ G,     dL/db = Σ_rows G

The fused :class:`Dense` computes z with one GEMM on the rows reshaped to 2-D
(and its backward with two); :func:`dense_reference` composes matmul and add.
"""

from __future__ import annotations

import numpy as np

from ..autograd.ops import _sigmoid
from ..autograd.tensor import Function, Tensor
from ..kernels.activations import ACTIVATION_KINDS, activation_backward, bias_relu_
from .activations import get_activation

__all__ = ["dense", "dense_reference"]


def _shape(a):
    return a.shape if isinstance(a, (Tensor, np.ndarray)) else np.shape(a)


def _check(x, W, b):
    xs, ws = _shape(x), _shape(W)
    if len(ws) != 2:
        raise ValueError(f"dense: W must be 2-D (in_features, units), got shape {ws}")
    if len(xs) < 1 or xs[-1] != ws[0]:
        raise ValueError(
            f"dense: x's last axis must equal W's first (in_features={ws[0]}); "
            f"got x shape {xs} and W shape {ws}")
    if b is not None and tuple(_shape(b)) != (ws[1],):
        raise ValueError(f"dense: b must have shape ({ws[1]},) (units), got {_shape(b)}")


class Dense(Function):
    """z = x W + b  (x reshaped to rows, one GEMM);   dx = G Wᵀ,  dW = xᵀ G,  db = Σ G"""

    fresh_grads = True   # dW and db are new GEMM / sum results

    @staticmethod
    def forward(ctx, x, W, b):
        x2 = x.reshape(-1, W.shape[0])
        z = add_bias_activation_(x2 @ W, b, 0)
        ctx.save_for_backward(x2 if ctx.needs_input_grad[1] else None, W)
        ctx.x_shape = x.shape
        return z.reshape(x.shape[:-1] + (W.shape[1],))

    @staticmethod
    def backward(ctx, g):
        x2, W = ctx.saved
        g2 = g.reshape(-1, W.shape[1])
        gx = (g2 @ W.T).reshape(ctx.x_shape) if ctx.needs_input_grad[0] else None
        gW = x2.T @ g2 if ctx.needs_input_grad[1] else None
        gb = g2.sum(axis=0) if ctx.needs_input_grad[2] else None
        return gx, gW, gb


def apply_activation_(z, kind):
    """z ← σ(z) in place for the fused ops (kind from ``ACTIVATION_KINDS``)."""
    if kind == 1:
        np.maximum(z, 0, out=z)
    elif kind == 2:
        z[...] = _sigmoid(z)            # the overflow-safe form of ops.sigmoid
    elif kind == 3:
        np.tanh(z, out=z)
    return z


def add_bias_activation_(z, b, kind):
    """σ(z + b) for a fresh GEMM output z (rows × units), in place where possible.

    Linear and relu run as one pass (:func:`~tinynlp.kernels.activations.bias_relu_`);
    sigmoid and tanh add b, then apply σ.  A bias of a wider dtype than z
    promotes the result (as NumPy's ``z + b`` would) instead of being rounded.
    """
    if b is not None:
        if np.result_type(z, b) != z.dtype:
            z = z + b
        elif kind in (0, 1) and b.dtype == z.dtype and z.ndim == 2 and z.flags.c_contiguous:
            return bias_relu_(z, b, kind == 1)
        else:
            z += b
    return apply_activation_(z, kind)


def activation_grad(g, h, kind):
    """dL/dz from dL/dh and the output h (one pass: :func:`activation_backward`)."""
    if kind == 0:
        return g
    g = np.ascontiguousarray(g, dtype=h.dtype)
    return activation_backward(g.reshape(-1), h.reshape(-1), kind).reshape(h.shape)


class DenseAct(Function):
    """h = σ(x W + b) in one op (σ ∈ relu, sigmoid, tanh);
    dz = dh ⊙ σ'(z) from h,  dx = dz Wᵀ,  dW = xᵀ dz,  db = Σ dz

    The fast path of ``F.dense(..., activation=name)``: one graph node instead of
    two, σ applied in place on the GEMM's output, and σ' computed from h in one
    pass (:mod:`tinynlp.kernels.activations`).
    """

    fresh_grads = True

    @staticmethod
    def forward(ctx, x, W, b, kind=1):
        x2 = x.reshape(-1, W.shape[0])
        h = add_bias_activation_(x2 @ W, b, kind)
        ctx.save_for_backward(x2 if ctx.needs_input_grad[1] else None, W, h)
        ctx.x_shape, ctx.kind = x.shape, kind
        return h.reshape(x.shape[:-1] + (W.shape[1],))

    @staticmethod
    def backward(ctx, g):
        x2, W, h = ctx.saved
        g2 = activation_grad(g.reshape(h.shape), h, ctx.kind)
        gx = (g2 @ W.T).reshape(ctx.x_shape) if ctx.needs_input_grad[0] else None
        gW = x2.T @ g2 if ctx.needs_input_grad[1] else None
        gb = g2.sum(axis=0) if ctx.needs_input_grad[2] else None
        return gx, gW, gb


def dense(x, W, b=None, activation=None):
    """h = σ(x W + b) over the last axis of x (..., in); W (in, units), b (units,).

    ``activation``: a Keras name ("relu", "tanh", "sigmoid", "softmax", ...), a
    callable, or None (linear).  relu, sigmoid and tanh are fused into the op
    (:class:`DenseAct`); the others are applied after it.
    """
    _check(x, W, b)
    kind = ACTIVATION_KINDS.get(activation.lower()) if isinstance(activation, str) else None
    if kind:
        return DenseAct.apply(x, W, b, kind=kind)
    act = get_activation(activation)
    return act(Dense.apply(x, W, b))


def dense_reference(x, W, b=None, activation=None):
    """The same from primitive ops: ``σ(matmul(x, W) + b)``."""
    _check(x, W, b)
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x), _copy=False)
    z = x @ W
    if b is not None:
        z = z + b
    return get_activation(activation)(z)
