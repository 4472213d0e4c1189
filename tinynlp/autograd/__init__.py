"""Reverse-mode automatic differentiation: Tensor, Function, backward, gradcheck."""

from . import ops
from .gradcheck import GradcheckError, gradcheck
from .methods import bind_tensor_methods
from .ops import (
    abs, add, cast, clip, concat, div, exp, expand_dims, log, log_softmax, logsumexp, matmul, max,
    maximum, mean, min, mul, neg, pad, pow, relu, reshape, sigmoid, softmax, sqrt, squeeze,
    stack, sub, sum, swapaxes, tanh, transpose, where,
)
from .tensor import (
    Context, Function, Tensor, as_array, as_tensor, backward, enable_grad, is_grad_enabled,
    no_grad, shape_of, tensor, to_numpy, unbroadcast,
)

bind_tensor_methods(Tensor)   # x + y, x @ w, x.sum(), x.T, x.astype(...): the ops above

__all__ = [
    "Tensor", "tensor", "Function", "Context", "backward", "no_grad", "enable_grad",
    "is_grad_enabled", "unbroadcast", "as_array", "as_tensor", "to_numpy", "shape_of",
    "gradcheck", "GradcheckError", "ops",
    "abs", "add", "cast", "clip", "concat", "div", "exp", "expand_dims", "log", "log_softmax",
    "logsumexp", "matmul", "max", "maximum", "mean", "min", "mul", "neg", "pad", "pow", "relu",
    "reshape", "sigmoid", "softmax", "sqrt", "squeeze", "stack", "sub", "sum", "swapaxes",
    "tanh", "transpose", "where",
]
