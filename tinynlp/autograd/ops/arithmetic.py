"""Elementwise arithmetic (broadcasting), the selection ops and the matrix product.

Each op is a :class:`Function` — forward and hand-written backward side by side —
followed by its public function.  Ops that broadcast undo it in backward with
:func:`~tinynlp.autograd.tensor.unbroadcast`.
"""

from __future__ import annotations

import numpy as np

from ..tensor import Function, Tensor, unbroadcast


def _pair(a, b):
    """Make scalar operands take the tensor's dtype (so float32 stays float32)."""
    if isinstance(a, Tensor) and not isinstance(b, (Tensor, np.ndarray)):
        b = np.asarray(b, dtype=a.data.dtype)
    elif isinstance(b, Tensor) and not isinstance(a, (Tensor, np.ndarray)):
        a = np.asarray(a, dtype=b.data.dtype)
    return a, b


class Add(Function):
    """z = a + b;   dz/da = 1,  dz/db = 1   (summed over broadcast axes)"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (np.shape(a), np.shape(b))
        return np.add(a, b)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return unbroadcast(g, sa), unbroadcast(g, sb)


def add(a, b):
    return Add.apply(*_pair(a, b))


class Sub(Function):
    """z = a − b;   dz/da = 1,  dz/db = −1"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (np.shape(a), np.shape(b))
        return np.subtract(a, b)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return unbroadcast(g, sa), unbroadcast(-g, sb)


def sub(a, b):
    return Sub.apply(*_pair(a, b))


class Mul(Function):
    """z = a · b;   dz/da = b,  dz/db = a"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.multiply(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        ga = unbroadcast(g * b, np.shape(a)) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(g * a, np.shape(b)) if ctx.needs_input_grad[1] else None
        return ga, gb


def mul(a, b):
    return Mul.apply(*_pair(a, b))


class Div(Function):
    """z = a / b;   dz/da = 1/b,  dz/db = −a/b²"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.divide(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        ga = unbroadcast(g / b, np.shape(a)) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(-g * a / (b * b), np.shape(b)) if ctx.needs_input_grad[1] else None
        return ga, gb


def div(a, b):
    return Div.apply(*_pair(a, b))


class Pow(Function):
    """z = a ** b;   dz/da = b · a^(b−1),  dz/db = z · ln a"""

    @staticmethod
    def forward(ctx, a, b):
        z = np.power(a, b)
        ctx.save_for_backward(a, b, z)
        return z

    @staticmethod
    def backward(ctx, g):
        a, b, z = ctx.saved
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = unbroadcast(g * b * np.power(a, b - 1), np.shape(a))
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = unbroadcast(g * z * np.log(a), np.shape(b))
        return ga, gb


def pow(a, b):  # noqa: A001 - mirrors the operator
    return Pow.apply(*_pair(a, b))


class Neg(Function):
    """z = −x;   dz/dx = −1"""

    @staticmethod
    def forward(ctx, x):
        return np.negative(x)

    @staticmethod
    def backward(ctx, g):
        return -g


def neg(x):
    return Neg.apply(x)


class Maximum(Function):
    """z = max(a, b);   dz/da = [a > b] + ½[a = b],  dz/db = [b > a] + ½[a = b]"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        wa = (a > b) + 0.5 * (a == b)
        return unbroadcast(g * wa, np.shape(a)), unbroadcast(g * (1.0 - wa), np.shape(b))


def maximum(a, b):
    return Maximum.apply(*_pair(a, b))


class Where(Function):
    """z = cond ? a : b;   dz/da = [cond],  dz/db = [not cond]"""

    differentiable = (1, 2)

    @staticmethod
    def forward(ctx, cond, a, b):
        cond = np.asarray(cond, dtype=bool)
        ctx.cond = cond
        ctx.shapes = (np.shape(a), np.shape(b))
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        zero = np.zeros((), dtype=g.dtype)
        return None, unbroadcast(np.where(ctx.cond, g, zero), sa), \
            unbroadcast(np.where(ctx.cond, zero, g), sb)


def where(cond, a, b):
    cond = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
    a, b = _pair(a, b)
    return Where.apply(cond, a, b)


class Clip(Function):
    """z = min(max(x, lo), hi);   dz/dx = [lo ≤ x ≤ hi]"""

    @staticmethod
    def forward(ctx, x, lo=None, hi=None):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return np.clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        inside = np.ones(x.shape, dtype=bool)
        if ctx.lo is not None:
            inside &= x >= ctx.lo
        if ctx.hi is not None:
            inside &= x <= ctx.hi
        return g * inside


def clip(x, lo=None, hi=None):
    return Clip.apply(x, lo=lo, hi=hi)


class Cast(Function):
    """z = x as another float dtype;   dz/dx = 1 (gradient cast back)"""

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.dtype)


def cast(x, dtype):
    return Cast.apply(x, dtype=np.dtype(dtype))


class MatMul(Function):
    """C = A @ B (batched, broadcasting over leading axes);

    dL/dA = G @ Bᵀ,   dL/dB = Aᵀ @ G   (ᵀ swaps the last two axes)
    """

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul: operands must have at least one dimension, got a scalar")
        ka = a.shape[-1]
        kb = b.shape[-2] if b.ndim >= 2 else b.shape[0]
        if ka != kb:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} do not align: a's last axis "
                f"({ka}) must equal b's {'second-to-last' if b.ndim >= 2 else 'only'} axis ({kb})"
            )
        a2 = a[None, :] if a.ndim == 1 else a      # vectors as 1×k / k×1 matrices
        b2 = b[:, None] if b.ndim == 1 else b
        out2 = np.matmul(a2, b2)
        ctx.save_for_backward(a2, b2)
        ctx.shapes = (a.shape, b.shape, out2.shape)
        out = out2
        if b.ndim == 1:
            out = out[..., 0]
        if a.ndim == 1:
            out = out[..., 0, :] if b.ndim > 1 else out[..., 0]
        return out

    @staticmethod
    def backward(ctx, g):
        a2, b2 = ctx.saved
        sa, sb, sout = ctx.shapes
        g = g.reshape(sout)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = unbroadcast(np.matmul(g, np.swapaxes(b2, -1, -2)), a2.shape).reshape(sa)
        if ctx.needs_input_grad[1]:
            gb = unbroadcast(np.matmul(np.swapaxes(a2, -1, -2), g), b2.shape).reshape(sb)
        return ga, gb


def matmul(a, b):
    return MatMul.apply(a, b)
