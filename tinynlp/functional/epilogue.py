"""The epilogue of a fused GEMM op: ``h = σ(z + b)`` in place, and its backward from h.

``F.dense`` and ``F.conv1d`` (and any later op that ends in a GEMM) compute
``z = x W`` into a fresh array, then finish it here: the bias add and the
activation run in place on that array (one pass for linear and relu), and
only the output h is kept, because for every :class:`~tinynlp.kernels.activations.Act`
the derivative can be written from h (``dL/dz = dL/dh ⊙ σ'(z)``, one pass).
Activations outside ``Act`` (gelu, softmax, ...) are applied after the op by
their own Function; :func:`split_activation` says which case an activation is.
"""

from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor, no_grad
from ..kernels.activations import Act, activation_backward, apply_activation_, bias_relu_
from .activations import get_activation

__all__ = ["add_bias_activation_", "activation_grad", "split_activation", "activate_"]


def split_activation(activation):
    """``(act, after)``: the :class:`Act` fused into the op, and the callable applied to
    the op's output afterwards (None when there is nothing left to apply).

    A name in ``Act`` (or None) is fused; any other name or a callable is validated
    by :func:`~tinynlp.functional.activations.get_activation` and applied after a
    linear op.
    """
    act = Act.of(activation)
    if act is not None:
        return act, None
    return Act.LINEAR, get_activation(activation)


def add_bias_activation_(z, b, act):
    """σ(z + b) for a fresh GEMM output z (rows × units), in place where possible.

    Linear and relu run as one pass (:func:`~tinynlp.kernels.activations.bias_relu_`);
    sigmoid and tanh add b, then apply σ.  A bias of a wider dtype than z
    promotes the result (as NumPy's ``z + b`` would) instead of being rounded.
    """
    if b is not None:
        if np.result_type(z, b) != z.dtype:
            z = z + b
        elif act in (Act.LINEAR, Act.RELU) and b.dtype == z.dtype and z.ndim == 2 \
                and z.flags.c_contiguous:
            return bias_relu_(z, b, act == Act.RELU)
        else:
            z += b
    return apply_activation_(z, act)


def activation_grad(g, h, act):
    """dL/dz from dL/dh and the output h (one pass: :func:`activation_backward`)."""
    if act == Act.LINEAR:
        return g
    g = np.ascontiguousarray(g, dtype=h.dtype)
    # int(act): Numba types an IntEnum argument on every call (12 µs against 1 µs)
    return activation_backward(g.reshape(-1), h.reshape(-1), int(act)).reshape(h.shape)


def activate_(z, activation):
    """σ(z) for an array that needs no gradient (an inference-only layer's output):
    in place for an :class:`Act`, else through the activation's op under ``no_grad``."""
    act, after = split_activation(activation)
    apply_activation_(z, act)
    if after is None:
        return z
    with no_grad():
        return after(Tensor(z, _copy=False)).data
