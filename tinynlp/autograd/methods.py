"""``Tensor``'s operators and op methods (``x + y``, ``x @ w``, ``x.sum()``, ``x.T`` ...).

:class:`~tinynlp.autograd.tensor.Tensor` is defined below the ops (they take and
return Tensors), so it cannot name them itself.  :func:`bind_tensor_methods`
attaches them once, explicitly, from ``tinynlp/autograd/__init__.py``; every
method is the public op function of :mod:`tinynlp.autograd.ops` of the same name.
"""

from __future__ import annotations

import numpy as np

from . import ops
from .tensor import Tensor, as_array, as_tensor

__all__ = ["bind_tensor_methods", "TENSOR_METHODS"]

#: ops that are Tensor methods under their own name (``x.exp()``, ``x.sum(axis=1)`` ...)
TENSOR_METHODS = ("exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "softmax",
                  "log_softmax", "logsumexp", "sum", "mean", "max", "min", "swapaxes",
                  "expand_dims", "squeeze", "clip", "pad", "maximum", "matmul")


def _compare(op):
    """A comparison operator: an array of bools, outside the graph (no gradient)."""
    def method(self, other):
        return Tensor(op(self.data, as_array(other)), _copy=False)
    return method


def _shape_args(args):
    """``x.reshape(2, 3)`` and ``x.reshape((2, 3))`` alike."""
    return args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args


def bind_tensor_methods(T=Tensor):
    """Attach the operators and op methods to the Tensor class ``T`` (idempotent)."""
    T.__add__ = lambda s, o: ops.add(s, o)
    T.__radd__ = lambda s, o: ops.add(o, s)
    T.__sub__ = lambda s, o: ops.sub(s, o)
    T.__rsub__ = lambda s, o: ops.sub(o, s)
    T.__mul__ = lambda s, o: ops.mul(s, o)
    T.__rmul__ = lambda s, o: ops.mul(o, s)
    T.__truediv__ = lambda s, o: ops.div(s, o)
    T.__rtruediv__ = lambda s, o: ops.div(o, s)
    T.__pow__ = lambda s, o: ops.pow(s, o)
    T.__rpow__ = lambda s, o: ops.pow(o, s)
    T.__matmul__ = lambda s, o: ops.matmul(s, o)
    T.__rmatmul__ = lambda s, o: ops.matmul(as_tensor(o), s)
    T.__neg__ = lambda s: ops.neg(s)
    T.__getitem__ = ops.getitem
    T.__lt__ = _compare(np.less)
    T.__le__ = _compare(np.less_equal)
    T.__gt__ = _compare(np.greater)
    T.__ge__ = _compare(np.greater_equal)
    T.__eq__ = _compare(np.equal)
    T.__ne__ = _compare(np.not_equal)
    T.__hash__ = object.__hash__
    for name in TENSOR_METHODS:
        setattr(T, name, getattr(ops, name))
    T.reshape = lambda s, *shape: ops.reshape(s, _shape_args(shape))
    T.transpose = lambda s, *axes: ops.transpose(s, _shape_args(axes) or None)
    T.T = property(lambda s: ops.transpose(s))
    T.astype = lambda s, dtype: ops.cast(s, dtype)
    T.float = lambda s: ops.cast(s, np.float32)
    T.double = lambda s: ops.cast(s, np.float64)
    return T
