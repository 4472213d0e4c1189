"""Shape ops: reshape, transpose, expand / squeeze axes, indexing, concat, stack, pad,
broadcast_to.

Each op is a :class:`Function` — forward and hand-written backward side by side —
followed by its public function.  No arithmetic happens here: every backward
puts the gradient back where the forward took the values from.
"""

from __future__ import annotations

import numpy as np

from ..tensor import Function, Tensor, unbroadcast


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


def reshape(x, shape):
    return Reshape.apply(x, shape=tuple(shape))


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


def transpose(x, axes=None):
    return Transpose.apply(x, axes=None if axes is None else tuple(axes))


def swapaxes(x, a, b):
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return Transpose.apply(x, axes=tuple(axes))


class ExpandDims(Function):
    """z = x with a new size-1 axis;   dL/dx = g with that axis removed"""

    @staticmethod
    def forward(ctx, x, axis):
        ctx.shape = x.shape
        return np.expand_dims(x, axis)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


def expand_dims(x, axis):
    return ExpandDims.apply(x, axis=axis)


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


def squeeze(x, axis=None):
    return Squeeze.apply(x, axis=axis)


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


def getitem(x, index):
    """``x[index]`` (``Tensor.__getitem__``); Tensor indices are read as arrays."""
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, list):
        index = np.asarray(index)
    return GetItem.apply(x, index=index)


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


def concat(xs, axis=0):
    if len(xs) == 0:
        raise ValueError("concat: expected at least one tensor, got an empty list")
    return Concat.apply(*xs, axis=axis)


class Stack(Function):
    """z = [x₁, x₂, …] stacked on a new ``axis``;   dL/dxᵢ = g taken at i on that axis"""

    @staticmethod
    def forward(ctx, *xs, axis=0):
        ctx.axis = axis
        shapes = {x.shape for x in xs}
        if len(shapes) != 1:
            raise ValueError(
                f"stack: all inputs must have the same shape, got {[x.shape for x in xs]}")
        return np.stack(xs, axis=axis)

    @staticmethod
    def backward(ctx, g):
        return tuple(np.moveaxis(g, ctx.axis, 0))


def stack(xs, axis=0):
    if len(xs) == 0:
        raise ValueError("stack: expected at least one tensor, got an empty list")
    return Stack.apply(*xs, axis=axis)


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


def pad(x, pad_width, value=0.0):
    return Pad.apply(x, pad_width=pad_width, value=value)


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


def broadcast_to(x, shape):
    return BroadcastTo.apply(x, shape=tuple(shape))
