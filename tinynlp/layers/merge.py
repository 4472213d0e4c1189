"""Merge layers (Keras 3 names and semantics): Add, Subtract, Multiply, Average, Maximum,
Minimum and Dot.  (``Concatenate`` lives in :mod:`tinynlp.layers.core`.)

Each is called on a list of tensors, ``tn.layers.Add()([a, b])``.  The
elementwise ones need inputs of one batch size whose other axes broadcast
(equal, or 1); an input of lower rank is first given size-1 axes after the
batch axis, as Keras does.  Gradients come from the primitive ops they are
built from (sum, product, where, maximum), each with its own backward.

Masks (a ``(batch, time)`` mask per input, or None), as Keras 3 treats them:

- ``Add``, ``Subtract``, ``Average``: the values ignore the masks; the output
  mask is the OR of the input masks when every input has one (else None).
- ``Multiply``: a masked position of an input counts as 1 in the product; when
  every input has a mask, positions masked in all of them are 0 and the
  output mask is the OR.
- ``Maximum`` / ``Minimum``: a masked position of an input does not take part
  (it takes the running result's value, and the running result at a masked
  position takes the input's), so the result at each position comes from the
  inputs not masked there; output mask as above.
- ``Dot``: masks are ignored and the output has none.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Tensor, ops
from ._utils import as_input, default_name, layer_desc
from .base import Layer
from .registry import register_layer

__all__ = ["Add", "Average", "Dot", "Maximum", "Minimum", "Multiply", "Subtract"]

EPSILON = 1e-7   # Keras' backend.epsilon(): Dot(normalize=True) divides by max(‖x‖, ε)


def _mask_array(mask):
    if mask is None:
        return None
    return np.asarray(mask.data if isinstance(mask, Tensor) else mask, dtype=bool)


def _or_masks(masks):
    """OR of the masks if every input has one, else None (Keras' merge compute_mask)."""
    if masks is None or any(m is None for m in masks):
        return None
    out = _mask_array(masks[0])
    for m in masks[1:]:
        out = out | _mask_array(m)
    return out


class Merge(Layer):
    """Base class: a layer called on a list of tensors that combines them elementwise."""

    supports_masking = True
    min_inputs = 1
    max_inputs = None

    def __init__(self, **kwargs):
        super().__init__(**default_name(type(self), kwargs))

    def __call__(self, inputs, training=False, mask=None, **kwargs):
        if kwargs:
            raise TypeError(f"{layer_desc(self)}: unexpected keyword argument(s) "
                            f"{sorted(kwargs)}")
        self._check_list(inputs)
        self.built = True
        return self.call(inputs, mask=mask)

    def _check_list(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{layer_desc(self)}: a merge layer is called on a list of "
                             f"tensors, e.g. {type(self).__name__}()([a, b]); got a "
                             f"{type(inputs).__name__}")
        n = len(inputs)
        if n < self.min_inputs or (self.max_inputs is not None and n > self.max_inputs):
            want = (f"exactly {self.min_inputs}" if self.min_inputs == self.max_inputs
                    else f"at least {self.min_inputs}")
            raise ValueError(f"{layer_desc(self)}: expected a list of {want} tensors, got {n}")

    def _check_masks(self, xs, mask):
        """The per-input masks as bool arrays shaped like each input without its last axis."""
        if mask is None:
            return [None] * len(xs)
        if not isinstance(mask, (list, tuple)) or len(mask) != len(xs):
            raise ValueError(f"{layer_desc(self)}: mask must be a list with one mask (or None) "
                             f"per input ({len(xs)}), got {mask!r:.100}")
        out = []
        for i, (x, m) in enumerate(zip(xs, mask)):
            m = _mask_array(m)
            if m is not None and m.shape != tuple(x.shape[:-1]):
                raise ValueError(f"{layer_desc(self)}: the mask of input {i} must have the "
                                 f"input's shape without its last axis, {tuple(x.shape[:-1])}, "
                                 f"got {m.shape}")
            out.append(m)
        return out

    def _aligned(self, inputs, mask):
        """Inputs as Tensors of equal rank (size-1 axes inserted after the batch axis for
        lower ranks, as Keras does) and their masks (dropped for a reshaped input)."""
        xs = [as_input(self, x) for x in inputs]
        masks = self._check_masks(xs, mask)
        shapes = [tuple(x.shape) for x in xs]
        if any(len(s) == 0 for s in shapes):
            raise ValueError(f"{layer_desc(self)}: inputs need a batch axis, got shapes {shapes}")
        batches = {s[0] for s in shapes}
        if len(batches) > 1:
            raise ValueError(f"{layer_desc(self)}: cannot merge tensors with different batch "
                             f"sizes, got shapes {shapes}")
        rank = max(len(s) for s in shapes)
        for i, x in enumerate(xs):
            if x.ndim < rank:
                xs[i] = x.reshape((x.shape[0],) + (1,) * (rank - x.ndim) + tuple(x.shape[1:]))
                masks[i] = None
        for axis in range(1, rank):
            sizes = {x.shape[axis] for x in xs} - {1}
            if len(sizes) > 1:
                raise ValueError(f"{layer_desc(self)}: inputs have incompatible shapes "
                                 f"{shapes} (axis {axis} sizes {sorted(sizes)} neither equal "
                                 "nor 1)")
        return xs, masks

    def call(self, inputs, mask=None):
        xs, masks = self._aligned(inputs, mask)
        return self._merge(xs, masks)

    def _merge(self, xs, masks):  # pragma: no cover - abstract
        raise NotImplementedError

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        if not isinstance(mask, (list, tuple)):
            raise ValueError(f"{layer_desc(self)}: mask must be a list with one mask (or None) "
                             f"per input, got {type(mask).__name__}")
        return _or_masks(mask)

    def compute_output_shape(self, input_shapes):
        shapes = [tuple(s) for s in input_shapes]
        rank = max(len(s) for s in shapes)
        shapes = [(s[0],) + (1,) * (rank - len(s)) + s[1:] for s in shapes]
        out = []
        for axis in range(rank):
            sizes = [s[axis] for s in shapes]
            out.append(None if any(d is None for d in sizes) else max(sizes))
        return tuple(out)


@register_layer
class Add(Merge):
    """y = x₁ + x₂ + … + xₙ;   ∂y/∂xᵢ = 1."""

    def _merge(self, xs, masks):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


@register_layer
class Subtract(Merge):
    """y = x₁ − x₂ (exactly two inputs);   ∂y/∂x₁ = 1, ∂y/∂x₂ = −1."""

    min_inputs = max_inputs = 2

    def _merge(self, xs, masks):
        return xs[0] - xs[1]


@register_layer
class Average(Merge):
    """y = (x₁ + … + xₙ) / n;   ∂y/∂xᵢ = 1/n."""

    def _merge(self, xs, masks):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out * (1.0 / len(xs))


def _spread(mask, x):
    """A mask shaped like x without its last axis, broadcast to x's shape."""
    return np.broadcast_to(mask[..., None], x.shape)


@register_layer
class Multiply(Merge):
    """y = x₁ ⊙ x₂ ⊙ … ⊙ xₙ;   ∂y/∂xᵢ = Π_{j≠i} xⱼ.

    With masks: a masked position of xᵢ is replaced by 1 (it does not change
    the product); if every input has a mask, positions masked in all of them
    become 0.
    """

    def _merge(self, xs, masks):
        out, union = None, None
        every_masked = all(m is not None for m in masks)
        for x, m in zip(xs, masks):
            if m is not None:
                x = ops.where(_spread(m, x), x, 1.0)
                if every_masked:
                    union = m if union is None else (union | m)
            out = x if out is None else out * x
        if every_masked:
            out = ops.where(_spread(union, out), out, 0.0)
        return out


class _MaskedFold(Merge):
    """Maximum / Minimum: a pairwise fold in which masked positions do not take part."""

    @staticmethod
    def _op(a, b):  # pragma: no cover - abstract
        raise NotImplementedError

    def _merge(self, xs, masks):
        out, out_mask = None, None
        for x, m in zip(xs, masks):
            m = None if m is None else _spread(m, x)
            if out is None:
                out, out_mask = x, m
                continue
            if m is not None:
                x = ops.where(m, x, out)
            if out_mask is not None:
                out = ops.where(out_mask, out, x)
            out_mask = (out_mask | m) if (m is not None and out_mask is not None) else None
            out = self._op(out, x)
        return out


@register_layer
class Maximum(_MaskedFold):
    """y = max(x₁, …, xₙ) elementwise;   ∂y/∂xᵢ = [xᵢ is the maximum] (ties share ½)."""

    @staticmethod
    def _op(a, b):
        return ops.maximum(a, b)


@register_layer
class Minimum(_MaskedFold):
    """y = min(x₁, …, xₙ) = −max(−x₁, …);   ∂y/∂xᵢ = [xᵢ is the minimum] (ties share ½)."""

    @staticmethod
    def _op(a, b):
        return -ops.maximum(-a, -b)


def _check_axes(axes):
    if isinstance(axes, (int, np.integer)) and not isinstance(axes, bool):
        return int(axes)
    if isinstance(axes, (list, tuple)) and len(axes) == 2 and all(
            isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes):
        return (int(axes[0]), int(axes[1]))
    raise ValueError(f"Dot: axes must be an int or a pair of ints (one axis of each input), "
                     f"got {axes!r}")


def l2_normalize(x, axis):
    """x / max(‖x‖₂, ε) along ``axis`` (Keras' normalize with ε = 1e-7).

    ∂/∂x of x/n with n = ‖x‖: (I − x̂ x̂ᵀ)/n where the norm exceeds ε, 1/ε below;
    the autograd ops (sum, sqrt, maximum, div) compose it.
    """
    sq = (x * x).sum(axis=axis, keepdims=True)
    norm = ops.maximum(sq, EPSILON * EPSILON).sqrt()
    return x / norm


def batch_dot(x, y, axes):
    """Per sample b: contract axis ``axes[0]`` of x[b] with axis ``axes[1]`` of y[b].

    z[b, i…, j…] = Σ_k x[b, i…, k] · y[b, k, j…] once the contracted axis is
    moved last in x and first (after the batch) in y; the result's axes are
    x's other axes then y's; a result with no axis left but the batch is
    (batch, 1), as in Keras.  ∂z/∂x and ∂z/∂y are those of the batched matmul
    (the reshapes and transposes around it only move axes).
    """
    a0, a1 = axes
    xt = ops.transpose(x, [i for i in range(x.ndim) if i != a0] + [a0])
    yt = ops.transpose(y, [0, a1] + [i for i in range(1, y.ndim) if i != a1])
    b, k = x.shape[0], x.shape[a0]
    x_rest, y_rest = tuple(xt.shape[1:-1]), tuple(yt.shape[2:])
    px = int(np.prod(x_rest, dtype=np.int64))
    py = int(np.prod(y_rest, dtype=np.int64))
    z = ops.matmul(xt.reshape((b, px, k)), yt.reshape((b, k, py)))
    out_shape = (b,) + x_rest + y_rest
    return z.reshape(out_shape if len(out_shape) > 1 else (b, 1))


@register_layer
class Dot(Merge):
    """Dot product of two inputs along one axis of each, per sample (Keras' ``Dot``).

    ``axes``: an int (the same axis of both inputs) or a pair; negative axes
    count from the end; the batch axis 0 cannot be one of them.  For inputs
    ``(B, 3, 5)`` and ``(B, 10, 3)`` with ``axes=(1, 2)`` the output is
    ``(B, 5, 10)``; for two ``(B, d)`` vectors with ``axes=1`` it is ``(B, 1)``.
    ``normalize=True`` L2-normalizes both along their axes first (cosine
    similarity).  Masks are not used and the output has none.
    """

    min_inputs = max_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        self.axes = _check_axes(axes)
        self.normalize = bool(normalize)

    def _resolve_axes(self, ndims):
        axes = (self.axes, self.axes) if isinstance(self.axes, int) else self.axes
        out = []
        for i, (a, n) in enumerate(zip(axes, ndims)):
            if not -n <= a < n:
                raise ValueError(f"{layer_desc(self)}: axes={self.axes} is out of range for "
                                 f"input {i} of rank {n}")
            out.append(a % n)
        if 0 in out:
            raise ValueError(f"{layer_desc(self)}: cannot take the dot product over the batch "
                             f"axis 0 (axes={self.axes})")
        return out

    def call(self, inputs, mask=None):
        x, y = (as_input(self, v) for v in inputs)
        if x.ndim < 2 or y.ndim < 2:
            raise ValueError(f"{layer_desc(self)}: inputs need rank 2 or more (batch, ...), got "
                             f"shapes {tuple(x.shape)} and {tuple(y.shape)}")
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"{layer_desc(self)}: inputs have different batch sizes, shapes "
                             f"{tuple(x.shape)} and {tuple(y.shape)}")
        a0, a1 = self._resolve_axes((x.ndim, y.ndim))
        if x.shape[a0] != y.shape[a1]:
            raise ValueError(f"{layer_desc(self)}: axis {a0} of input 0 (size {x.shape[a0]}) and "
                             f"axis {a1} of input 1 (size {y.shape[a1]}) must have the same "
                             f"size; shapes {tuple(x.shape)} and {tuple(y.shape)}")
        if self.normalize:
            x, y = l2_normalize(x, a0), l2_normalize(y, a1)
        return batch_dot(x, y, (a0, a1))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shapes):
        s0, s1 = (list(s) for s in input_shapes)
        a0, a1 = self._resolve_axes((len(s0), len(s1)))
        s0.pop(a0)
        s1.pop(a1)
        out = s0 + s1[1:]
        return tuple(out if len(out) > 1 else out + [1])

    def get_config(self):
        config = super().get_config()
        config.update(axes=list(self.axes) if isinstance(self.axes, tuple) else self.axes,
                      normalize=self.normalize)
        return config
