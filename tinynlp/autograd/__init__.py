"""Reverse-mode automatic differentiation: Tensor, Function, backward, gradcheck."""

from . import ops
from .gradcheck import GradcheckError, gradcheck
from .ops import (
    abs, add, clip, concat, div, exp, expand_dims, log, log_softmax, logsumexp, matmul, max,
    maximum, mean, min, mul, neg, pad, pow, relu, reshape, sigmoid, softmax, sqrt, squeeze,
    stack, sub, sum, swapaxes, tanh, transpose, where,
)
from .tensor import (
    Context, Function, Tensor, as_array, backward, enable_grad, is_grad_enabled, no_grad,
    tensor, unbroadcast,
)

__all__ = [
    "Tensor", "tensor", "Function", "Context", "backward", "no_grad", "enable_grad",
    "is_grad_enabled", "unbroadcast", "as_array", "gradcheck", "GradcheckError", "ops",
    "abs", "add", "clip", "concat", "div", "exp", "expand_dims", "log", "log_softmax",
    "logsumexp", "matmul", "max", "maximum", "mean", "min", "mul", "neg", "pad", "pow", "relu",
    "reshape", "sigmoid", "softmax", "sqrt", "squeeze", "stack", "sub", "sum", "swapaxes",
    "tanh", "transpose", "where",
]
