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

import math

from ..autograd.tensor import Function, as_array, as_tensor, shape_of
from ..kernels.activations import Act
from ._checks import check_float, check_kernel_dtype
from .activations import get_activation
from .epilogue import activate_, activation_grad, add_bias_activation_, split_activation

__all__ = ["dense", "dense_inference", "dense_reference"]


def _check(x, W, b):
    xs, ws = shape_of(x), shape_of(W)
    if len(ws) != 2:
        raise ValueError(f"dense: W must be 2-D (in_features, units), got shape {ws}")
    if len(xs) < 1 or xs[-1] != ws[0]:
        raise ValueError(
            f"dense: x's last axis must equal W's first (in_features={ws[0]}); "
            f"got x shape {xs} and W shape {ws}")
    if b is not None and tuple(shape_of(b)) != (ws[1],):
        raise ValueError(f"dense: b must have shape ({ws[1]},) (units), got {shape_of(b)}")
    for name, a in (("x", x), ("W", W), ("b", b)):
        if a is not None:
            check_float("dense", name, as_array(a))


class Dense(Function):
    """h = σ(x W + b) in one op (x reshaped to rows, one GEMM; σ an :class:`Act`);
    dz = dh ⊙ σ'(z) from h,  dx = dz Wᵀ,  dW = xᵀ dz,  db = Σ dz

    σ is applied in place on the GEMM's output and σ' computed from h in one
    pass (:mod:`tinynlp.functional.epilogue`): one graph node instead of two.
    """

    fresh_grads = True   # dW and db are new GEMM / sum results

    @staticmethod
    def forward(ctx, x, W, b, act=Act.LINEAR):
        x2 = x.reshape(math.prod(x.shape[:-1]), W.shape[0])   # (-1 is ambiguous for size 0)
        h = add_bias_activation_(x2 @ W, b, act)
        ctx.save_for_backward(x2 if ctx.needs_input_grad[1] else None, W,
                              None if act == Act.LINEAR else h)
        ctx.x_shape, ctx.act = x.shape, act
        return h.reshape(x.shape[:-1] + (W.shape[1],))

    @staticmethod
    def backward(ctx, g):
        x2, W, h = ctx.saved
        g2 = g.reshape(x2.shape[0] if x2 is not None else math.prod(g.shape[:-1]), W.shape[1])
        if h is not None:
            g2 = activation_grad(g2, h, ctx.act)
        gx = (g2 @ W.T).reshape(ctx.x_shape) if ctx.needs_input_grad[0] else None
        gW = x2.T @ g2 if ctx.needs_input_grad[1] else None
        gb = g2.sum(axis=0) if ctx.needs_input_grad[2] else None
        return gx, gW, gb


def dense(x, W, b=None, activation=None):
    """h = σ(x W + b) over the last axis of x (..., in); W (in, units), b (units,).

    ``activation``: a Keras name ("relu", "tanh", "sigmoid", "gelu", "softmax", ...),
    a callable, or None (linear).  linear, relu, sigmoid and tanh are fused into
    the op (:class:`Dense`); the others are applied after it.
    """
    _check(x, W, b)
    check_kernel_dtype("dense", as_array(x), as_array(W), None if b is None else as_array(b))
    act, after = split_activation(activation)
    h = Dense.apply(x, W, b, act=act)
    return h if after is None else after(h)


def dense_inference(x, W, b=None, activation=None):
    """:func:`dense` on plain arrays with nothing to differentiate (a layer's inference
    path): the same numbers, no Tensors.  The caller has checked the shapes."""
    act, after = split_activation(activation)
    h = Dense.run(x, W, b, act=act)
    return h if after is None else activate_(h, activation)


def dense_reference(x, W, b=None, activation=None):
    """The same from primitive ops: ``σ(matmul(x, W) + b)``."""
    _check(x, W, b)
    z = as_tensor(x) @ W
    if b is not None:
        z = z + b
    return get_activation(activation)(z)
