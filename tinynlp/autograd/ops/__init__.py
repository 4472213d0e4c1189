"""Primitive differentiable ops: ``from tinynlp.autograd import ops``.

Each op is a :class:`~tinynlp.autograd.tensor.Function`: the forward on arrays
and the hand-written backward beside it, with the formula and its derivative
in the docstring, followed by its public function.  ``g`` always names the
gradient of the loss with respect to the op's output.  Ops that broadcast call
:func:`~tinynlp.autograd.tensor.unbroadcast` (the one place that undoes it).

* :mod:`.arithmetic` — add, sub, mul, div, pow, neg, maximum, where, clip, cast, matmul
* :mod:`.unary` — exp, log, sqrt, abs, tanh, sigmoid, relu
* :mod:`.reductions` — sum, mean, max, min, softmax, log_softmax, logsumexp
* :mod:`.shapes` — reshape, transpose, swapaxes, expand_dims, squeeze, getitem,
  concat, stack, pad, broadcast_to

The public functions are also ``Tensor`` methods and operators
(:mod:`tinynlp.autograd.methods` binds them).
"""

from .arithmetic import add, cast, clip, div, matmul, maximum, mul, neg, pow, sub, where
from .reductions import log_softmax, logsumexp, max, mean, min, softmax, sum
from .shapes import (
    broadcast_to, concat, expand_dims, getitem, pad, reshape, squeeze, stack, swapaxes, transpose,
)
from .unary import abs, exp, log, relu, sigmoid, sqrt, tanh

__all__ = [
    "abs", "add", "broadcast_to", "cast", "clip", "concat", "div", "exp", "expand_dims", "getitem", "log",
    "log_softmax", "logsumexp", "matmul", "max", "maximum", "mean", "min", "mul", "neg", "pad",
    "pow", "relu", "reshape", "sigmoid", "softmax", "sqrt", "squeeze", "stack", "sub", "sum",
    "swapaxes", "tanh", "transpose", "where",
]
