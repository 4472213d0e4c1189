"""Primitive differentiable ops.

Each op is a :class:`Function`: the forward on arrays and the hand-written
backward beside it, with the formula and its derivative in the docstring.
``g`` always names the gradient of the loss with respect to the op's output.
Ops that broadcast call :func:`unbroadcast` (the one place that undoes it).

The functions at the bottom (``add``, ``matmul``, ``softmax``, ...) are the
public entry points; they are also bound as ``Tensor`` methods and operators.
"""

from __future__ import annotations

import builtins

import numpy as np

from .tensor import Function, Tensor, as_array, unbroadcast

# --------------------------------------------------------------------------
# elementwise arithmetic (broadcasting)
# --------------------------------------------------------------------------


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


class Neg(Function):
    """z = −x;   dz/dx = −1"""

    @staticmethod
    def forward(ctx, x):
        return np.negative(x)

    @staticmethod
    def backward(ctx, g):
        return -g


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


class Cast(Function):
    """z = x as another float dtype;   dz/dx = 1 (gradient cast back)"""

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.dtype)


# --------------------------------------------------------------------------
# unary math
# --------------------------------------------------------------------------


class Exp(Function):
    """z = eˣ;   dz/dx = z"""

    @staticmethod
    def forward(ctx, x):
        z = np.exp(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved
        return g * z


class Log(Function):
    """z = ln x;   dz/dx = 1/x"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g / x


class Sqrt(Function):
    """z = √x;   dz/dx = 1 / (2√x)"""

    @staticmethod
    def forward(ctx, x):
        z = np.sqrt(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved
        return g / (2.0 * z)


class Abs(Function):
    """z = |x|;   dz/dx = sign(x)   (0 at 0)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g * np.sign(x)


class Tanh(Function):
    """h = tanh(x);   dh/dx = 1 − h²"""

    @staticmethod
    def forward(ctx, x):
        h = np.tanh(x)
        ctx.save_for_backward(h)
        return h

    @staticmethod
    def backward(ctx, g):
        (h,) = ctx.saved
        return g * (1.0 - h * h)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + e^−x), computed without overflow for large |x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


class Sigmoid(Function):
    """h = σ(x) = 1 / (1 + e^−x);   dh/dx = h (1 − h)"""

    @staticmethod
    def forward(ctx, x):
        h = _sigmoid(x)
        ctx.save_for_backward(h)
        return h

    @staticmethod
    def backward(ctx, g):
        (h,) = ctx.saved
        return g * h * (1.0 - h)


class Relu(Function):
    """h = max(0, x);   dh/dx = [x > 0]"""

    @staticmethod
    def forward(ctx, x):
        h = np.maximum(x, 0)
        ctx.save_for_backward(h)
        return h

    @staticmethod
    def backward(ctx, g):
        (h,) = ctx.saved
        return g * (h > 0)


class Softmax(Function):
    """s = eˣ / Σ eˣ (along ``axis``);   dL/dx = s ⊙ (g − Σ g ⊙ s)"""

    @staticmethod
    def forward(ctx, x, axis=-1):
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        s = e / e.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(s)
        ctx.axis = axis
        return s

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved
        return s * (g - (g * s).sum(axis=ctx.axis, keepdims=True))


class LogSoftmax(Function):
    """y = x − logΣeˣ (along ``axis``);   dL/dx = g − softmax(x) · Σ g"""

    @staticmethod
    def forward(ctx, x, axis=-1):
        m = x.max(axis=axis, keepdims=True)
        shifted = x - m
        y = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return g - np.exp(y) * g.sum(axis=ctx.axis, keepdims=True)


class LogSumExp(Function):
    """z = log Σ eˣ (along ``axis``);   dz/dx = softmax(x)"""

    @staticmethod
    def forward(ctx, x, axis=-1, keepdims=False):
        m = x.max(axis=axis, keepdims=True)
        z = m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(x, z)
        ctx.axis, ctx.keepdims = axis, keepdims
        return z if keepdims else np.squeeze(z, axis=axis)

    @staticmethod
    def backward(ctx, g):
        x, z = ctx.saved
        if not ctx.keepdims:
            g = np.expand_dims(g, ctx.axis)
        return g * np.exp(x - z)


# --------------------------------------------------------------------------
# reductions
# --------------------------------------------------------------------------


def _normalize_axis(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if np.isscalar(axis) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(a % builtins.max(ndim, 1))
    return tuple(sorted(out))


def _expand_back(g, shape, axes, keepdims):
    """Re-insert the reduced axes so ``g`` broadcasts against the input."""
    if not keepdims:
        for a in axes:
            g = np.expand_dims(g, a)
    return g


class Sum(Function):
    """z = Σ x (over ``axis``);   dz/dx = 1 (the gradient is copied back)"""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        ctx.shape = x.shape
        ctx.axes = _normalize_axis(axis, x.ndim)
        ctx.keepdims = keepdims
        return np.asarray(x.sum(axis=ctx.axes, keepdims=keepdims))

    @staticmethod
    def backward(ctx, g):
        g = _expand_back(g, ctx.shape, ctx.axes, ctx.keepdims)
        return np.broadcast_to(g, ctx.shape).copy()


class Mean(Function):
    """z = (1/n) Σ x (over ``axis``);   dz/dx = 1/n"""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        ctx.shape = x.shape
        ctx.axes = _normalize_axis(axis, x.ndim)
        ctx.keepdims = keepdims
        ctx.n = int(np.prod([x.shape[a] for a in ctx.axes])) if x.ndim else 1
        return np.asarray(x.mean(axis=ctx.axes, keepdims=keepdims))

    @staticmethod
    def backward(ctx, g):
        g = _expand_back(g, ctx.shape, ctx.axes, ctx.keepdims)
        return np.broadcast_to(g / ctx.n, ctx.shape).copy()


class Max(Function):
    """z = max x (over ``axis``);   dz/dx = [x = z] / (number of ties)

    Ties share the gradient equally (like ``torch.amax``).
    """

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        axes = _normalize_axis(axis, x.ndim)
        z = np.asarray(x.max(axis=axes, keepdims=True))
        ctx.save_for_backward(x, z)
        ctx.axes, ctx.keepdims = axes, keepdims
        return z if keepdims else np.squeeze(z, axis=axes)

    @staticmethod
    def backward(ctx, g):
        x, z = ctx.saved
        hit = x == z
        g = _expand_back(g, x.shape, ctx.axes, ctx.keepdims)
        return g * hit / hit.sum(axis=ctx.axes, keepdims=True)


class Min(Function):
    """z = min x (over ``axis``);   dz/dx = [x = z] / (number of ties)"""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        axes = _normalize_axis(axis, x.ndim)
        z = np.asarray(x.min(axis=axes, keepdims=True))
        ctx.save_for_backward(x, z)
        ctx.axes, ctx.keepdims = axes, keepdims
        return z if keepdims else np.squeeze(z, axis=axes)

    backward = Max.backward


# --------------------------------------------------------------------------
# matrix product
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# shape ops
# --------------------------------------------------------------------------


class Reshape(Function):
    """z = x viewed with a new shape;   dL/dx = g reshaped back"""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
                f"into shape {tuple(shape)}"
            ) from None

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


class Transpose(Function):
    """z = x with axes permuted by ``axes``;   dL/dx = g permuted by the inverse"""

    @staticmethod
    def forward(ctx, x, axes=None):
        if axes is None:
            axes = tuple(reversed(range(x.ndim)))
        if sorted(a % x.ndim for a in axes) != list(range(x.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of {x.ndim} axes")
        ctx.inverse = tuple(np.argsort([a % x.ndim for a in axes]))
        return np.transpose(x, axes)

    @staticmethod
    def backward(ctx, g):
        return np.transpose(g, ctx.inverse)


class ExpandDims(Function):
    """z = x with a new size-1 axis;   dL/dx = g with that axis removed"""

    @staticmethod
    def forward(ctx, x, axis):
        ctx.shape = x.shape
        return np.expand_dims(x, axis)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


class Squeeze(Function):
    """z = x without size-1 axes;   dL/dx = g reshaped back"""

    @staticmethod
    def forward(ctx, x, axis=None):
        ctx.shape = x.shape
        if axis is not None:
            for a in (axis,) if np.isscalar(axis) else axis:
                if x.shape[a] != 1:
                    raise ValueError(
                        f"squeeze: axis {a} has size {x.shape[a]}, expected 1 (shape {x.shape})"
                    )
        return np.squeeze(x, axis=axis)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


def _is_basic_index(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(
        isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in items
    )


class GetItem(Function):
    """z = x[index];   dL/dx = zeros with g scattered to ``index``

    Integer-array indices may repeat; the gradient of a repeated element is the
    sum of its uses (``np.add.at``), never the last write.
    """

    @staticmethod
    def forward(ctx, x, index):
        ctx.shape, ctx.dtype = x.shape, x.dtype
        ctx.index = index
        ctx.basic = _is_basic_index(index)
        return x[index]

    @staticmethod
    def backward(ctx, g):
        gx = np.zeros(ctx.shape, dtype=g.dtype)
        if ctx.basic:
            gx[ctx.index] = g
        else:
            np.add.at(gx, ctx.index, g)
        return gx


class Concat(Function):
    """z = [x₁, x₂, …] joined along ``axis``;   dL/dxᵢ = the slice of g that xᵢ became"""

    @staticmethod
    def forward(ctx, *xs, axis=0):
        ctx.axis = axis
        ctx.splits = np.cumsum([x.shape[axis] for x in xs])[:-1]
        try:
            return np.concatenate(xs, axis=axis)
        except ValueError:
            raise ValueError(
                f"concat: shapes {[x.shape for x in xs]} must agree except on axis {axis}"
            ) from None

    @staticmethod
    def backward(ctx, g):
        return tuple(np.split(g, ctx.splits, axis=ctx.axis))


class Stack(Function):
    """z = [x₁, x₂, …] stacked on a new ``axis``;   dL/dxᵢ = g taken at i on that axis"""

    @staticmethod
    def forward(ctx, *xs, axis=0):
        ctx.axis = axis
        shapes = {x.shape for x in xs}
        if len(shapes) != 1:
            raise ValueError(f"stack: all inputs must have the same shape, got {[x.shape for x in xs]}")
        return np.stack(xs, axis=axis)

    @staticmethod
    def backward(ctx, g):
        return tuple(np.moveaxis(g, ctx.axis, 0))


class Pad(Function):
    """z = x padded with a constant;   dL/dx = g with the padding sliced off"""

    @staticmethod
    def forward(ctx, x, pad_width, value=0.0):
        pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
        if (pw < 0).any():
            raise ValueError(f"pad: pad_width must be non-negative, got {pad_width}")
        ctx.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(pw, x.shape))
        return np.pad(x, pw, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g):
        return g[ctx.slices]


class BroadcastTo(Function):
    """z = x broadcast to ``shape`` (a read-only view);   dL/dx = g summed over broadcast axes"""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") \
                from None

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.shape)


# --------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(as_array(x), _copy=False)


def _pair(a, b):
    """Make scalar operands take the tensor's dtype (so float32 stays float32)."""
    if isinstance(a, Tensor) and not isinstance(b, (Tensor, np.ndarray)):
        b = np.asarray(b, dtype=a.data.dtype)
    elif isinstance(b, Tensor) and not isinstance(a, (Tensor, np.ndarray)):
        a = np.asarray(a, dtype=b.data.dtype)
    return a, b


def add(a, b):
    return Add.apply(*_pair(a, b))


def sub(a, b):
    return Sub.apply(*_pair(a, b))


def mul(a, b):
    return Mul.apply(*_pair(a, b))


def div(a, b):
    return Div.apply(*_pair(a, b))


def pow(a, b):  # noqa: A001 - mirrors the operator
    return Pow.apply(*_pair(a, b))


def neg(x):
    return Neg.apply(x)


def matmul(a, b):
    return MatMul.apply(a, b)


def exp(x):
    return Exp.apply(x)


def log(x):
    return Log.apply(x)


def sqrt(x):
    return Sqrt.apply(x)


def abs(x):  # noqa: A001
    return Abs.apply(x)


def tanh(x):
    return Tanh.apply(x)


def sigmoid(x):
    return Sigmoid.apply(x)


def relu(x):
    return Relu.apply(x)


def softmax(x, axis=-1):
    return Softmax.apply(x, axis=axis)


def log_softmax(x, axis=-1):
    return LogSoftmax.apply(x, axis=axis)


def logsumexp(x, axis=-1, keepdims=False):
    return LogSumExp.apply(x, axis=axis, keepdims=keepdims)


def sum(x, axis=None, keepdims=False):  # noqa: A001
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    return Mean.apply(x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001
    return Max.apply(x, axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001
    return Min.apply(x, axis=axis, keepdims=keepdims)


def reshape(x, shape):
    return Reshape.apply(x, shape=tuple(shape))


def transpose(x, axes=None):
    return Transpose.apply(x, axes=None if axes is None else tuple(axes))


def swapaxes(x, a, b):
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return Transpose.apply(x, axes=tuple(axes))


def expand_dims(x, axis):
    return ExpandDims.apply(x, axis=axis)


def squeeze(x, axis=None):
    return Squeeze.apply(x, axis=axis)


def concat(xs, axis=0):
    if len(xs) == 0:
        raise ValueError("concat: expected at least one tensor, got an empty list")
    return Concat.apply(*xs, axis=axis)


def stack(xs, axis=0):
    if len(xs) == 0:
        raise ValueError("stack: expected at least one tensor, got an empty list")
    return Stack.apply(*xs, axis=axis)


def where(cond, a, b):
    cond = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
    a, b = _pair(a, b)
    return Where.apply(cond, a, b)


def maximum(a, b):
    return Maximum.apply(*_pair(a, b))


def clip(x, lo=None, hi=None):
    return Clip.apply(x, lo=lo, hi=hi)


def pad(x, pad_width, value=0.0):
    return Pad.apply(x, pad_width=pad_width, value=value)


def broadcast_to(x, shape):
    return BroadcastTo.apply(x, shape=tuple(shape))


def _index(x, index):
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, list):
        index = np.asarray(index)
    return GetItem.apply(x, index=index)


# --------------------------------------------------------------------------
# bind to Tensor
# --------------------------------------------------------------------------


def _cmp(op):
    def method(self, other):
        return Tensor(op(self.data, as_array(other)), _copy=False)
    return method


def _bind():
    T = Tensor
    T.__add__ = lambda s, o: add(s, o)
    T.__radd__ = lambda s, o: add(o, s)
    T.__sub__ = lambda s, o: sub(s, o)
    T.__rsub__ = lambda s, o: sub(o, s)
    T.__mul__ = lambda s, o: mul(s, o)
    T.__rmul__ = lambda s, o: mul(o, s)
    T.__truediv__ = lambda s, o: div(s, o)
    T.__rtruediv__ = lambda s, o: div(o, s)
    T.__pow__ = lambda s, o: pow(s, o)
    T.__rpow__ = lambda s, o: pow(o, s)
    T.__matmul__ = lambda s, o: matmul(s, o)
    T.__rmatmul__ = lambda s, o: matmul(_t(o), s)
    T.__neg__ = lambda s: neg(s)
    T.__getitem__ = _index
    T.__lt__ = _cmp(np.less)
    T.__le__ = _cmp(np.less_equal)
    T.__gt__ = _cmp(np.greater)
    T.__ge__ = _cmp(np.greater_equal)
    T.__eq__ = _cmp(np.equal)
    T.__ne__ = _cmp(np.not_equal)
    T.__hash__ = object.__hash__
    for name in ("exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "softmax",
                 "log_softmax", "logsumexp", "sum", "mean", "max", "min", "reshape",
                 "transpose", "swapaxes", "expand_dims", "squeeze", "clip", "pad", "maximum"):
        setattr(T, name, globals()[name])
    T.reshape = lambda s, *shape: reshape(
        s, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)
    T.transpose = lambda s, *axes: transpose(
        s, (axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes) or None)
    T.T = property(lambda s: transpose(s))
    T.matmul = matmul


_bind()
