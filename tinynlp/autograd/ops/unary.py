"""Unary math and the elementwise activations: exp, log, sqrt, abs, tanh, sigmoid, relu.

Each op is a :class:`Function` — forward and hand-written backward side by side,
the formula and its derivative in the docstring — followed by its public function.
σ itself is computed by :func:`tinynlp.kernels.activations.sigmoid` (the one sigmoid).
"""

from __future__ import annotations

import numpy as np

from ...kernels import activations as acts
from ..tensor import Function


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


def exp(x):
    return Exp.apply(x)


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


def log(x):
    return Log.apply(x)


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


def sqrt(x):
    return Sqrt.apply(x)


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


def abs(x):  # noqa: A001
    return Abs.apply(x)


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


def tanh(x):
    return Tanh.apply(x)


class Sigmoid(Function):
    """h = σ(x) = 1 / (1 + e^−x);   dh/dx = h (1 − h)"""

    @staticmethod
    def forward(ctx, x):
        h = acts.sigmoid(x)
        ctx.save_for_backward(h)
        return h

    @staticmethod
    def backward(ctx, g):
        (h,) = ctx.saved
        return g * h * (1.0 - h)


def sigmoid(x):
    return Sigmoid.apply(x)


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


def relu(x):
    return Relu.apply(x)
