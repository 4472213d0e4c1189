"""Loss functions, Keras argument order ``(y_true, y_pred)``.

Each loss computes a per-sample (per-position) loss ℓ and then reduces it:

* ``reduction="none"``: ℓ itself (weighted; masked positions are 0);
* ``"sum"``: Σ w·ℓ;
* ``"mean"`` (Keras' "sum_over_batch_size"): Σ w·ℓ / N, where N counts the
  positions that are not masked out (and not ``ignore_index``).  As in Keras,
  ``sample_weight`` scales the terms but does not change N.  If nothing is
  counted the mean is 0.

Formulas (p a probability, z a logit, y the target; ε = 1e-7 as in Keras —
probabilities are clipped to [ε, 1 − ε] before the log)::

    binary:           ℓ = −[y log p + (1 − y) log(1 − p)]           dℓ/dp = (p − y) / (p (1 − p))
    binary, logits:   ℓ = max(z, 0) − z y + log(1 + e^−|z|)          dℓ/dz = σ(z) − y
    categorical:      ℓ = −Σ_c y_c log p_c                           (p renormalised to sum 1)
    categorical, logits: ℓ = −Σ_c y_c log softmax(z)_c               dℓ/dz = softmax(z) Σ_c y_c − y
    sparse:           ℓ = −log p_t                                   (t the integer class)
    sparse, logits:   ℓ = logsumexp(z) − z_t                         dℓ/dz = softmax(z) − onehot(t)
    mse:              ℓ = mean_last_axis (y − p)²

Binary and mse losses are averaged over the last axis first (Keras), so a
prediction (B, 1) gives one loss per sample.  Shapes follow Keras: y_true (B,)
against y_pred (B, 1) works (the trailing 1 is squeezed / added), any other
mismatch is an error — nothing is silently broadcast.  y_true is never
differentiable.

The fused ops (the :class:`Function` classes ``*Op``, one per formula) are the
fast paths; the ``*_reference`` versions compose the same formulas from
primitive ops and are tested equal.
"""

from __future__ import annotations

import numpy as np

from ..autograd.ops import clip, log, log_softmax, logsumexp, mean, stack, where
from ..autograd.ops import sum as tsum
from ..autograd.tensor import Function, Tensor, as_tensor, shape_of, to_numpy
from ..kernels.activations import sigmoid
from ._checks import check_mask, fit_sample_weight

__all__ = [
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "mse",
    "binary_crossentropy_reference", "categorical_crossentropy_reference",
    "sparse_categorical_crossentropy_reference", "reduce_loss", "loss_sum_and_count",
    "sparse_targets", "EPSILON",
]

EPSILON = 1e-7  # Keras' backend.epsilon()
_REDUCTIONS = {"mean": "mean", "sum_over_batch_size": "mean", "sum": "sum", "none": "none",
               None: "none"}


# --------------------------------------------------------------------------
# argument handling
# --------------------------------------------------------------------------

def _pred_dtype(y_pred, op):
    dt = to_numpy(y_pred).dtype
    if dt.kind != "f":
        raise TypeError(f"{op}: y_pred must be floating point, got dtype {dt}")
    return dt


def _align(y_true, pred_shape, op):
    """y_true reshaped to ``pred_shape`` by Keras' squeeze/expand of a trailing 1, or an error."""
    yt = to_numpy(y_true)
    ps = tuple(pred_shape)
    if yt.shape == ps:
        return yt
    if yt.ndim == len(ps) - 1 and ps[-1] == 1 and yt.shape == ps[:-1]:
        return yt[..., None]
    if yt.ndim == len(ps) + 1 and yt.shape[-1] == 1 and yt.shape[:-1] == ps:
        return yt[..., 0]
    raise ValueError(f"{op}: y_true has shape {yt.shape} but y_pred has shape {ps}; they must "
                     "match (up to a trailing axis of size 1)")


def _reduction(reduction, op):
    key = reduction.lower() if isinstance(reduction, str) else reduction
    if key not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return _REDUCTIONS[key]


def _mask(mask, shape, op):
    return check_mask(mask, shape, op, layout="the per-sample loss shape")


def _weighted(per_sample, sample_weight, m, op):
    """The per-sample losses with masked positions zeroed and the weights applied."""
    loss = per_sample
    if m is not None:
        loss = where(m, loss, 0.0)  # masked positions: no value, no gradient
    if sample_weight is not None:
        w = fit_sample_weight(sample_weight, per_sample.shape, op).astype(per_sample.dtype)
        loss = loss * Tensor(np.ascontiguousarray(w), _copy=False)
    return loss


def loss_sum_and_count(per_sample, sample_weight=None, mask=None, op="loss"):
    """``(S, n)``: S the sum of the weighted, masked per-sample losses (a scalar Tensor) and
    n the number of positions the mask keeps.  The "mean" reduction is S / max(n, 1);
    blocks of a batch's rows can each compute their own (S, n) and add them up."""
    m = _mask(mask, per_sample.shape, op)
    count = per_sample.size if m is None else int(m.sum())
    return tsum(_weighted(per_sample, sample_weight, m, op)), count


def reduce_loss(per_sample, sample_weight=None, mask=None, reduction="mean", op="loss"):
    """Weight, mask and reduce a per-sample loss Tensor (see the module docstring)."""
    reduction = _reduction(reduction, op)
    if reduction == "none":
        return _weighted(per_sample, sample_weight, _mask(mask, per_sample.shape, op), op)
    total, count = loss_sum_and_count(per_sample, sample_weight, mask, op)
    if reduction == "sum":
        return total
    return total / float(max(count, 1))


# --------------------------------------------------------------------------
# binary cross-entropy
# --------------------------------------------------------------------------

class BinaryCrossentropyOp(Function):
    """ℓ = −[y log p̃ + (1 − y) log(1 − p̃)],  p̃ = clip(p, ε, 1 − ε);

    dℓ/dp = (p̃ − y) / (p̃ (1 − p̃))  inside [ε, 1 − ε], 0 where clipped.
    """

    differentiable = (1,)

    @staticmethod
    def forward(ctx, y, p):
        pc = np.clip(p, EPSILON, 1.0 - EPSILON)
        ctx.save_for_backward(y, p, pc)
        return -(y * np.log(pc) + (1.0 - y) * np.log1p(-pc))

    @staticmethod
    def backward(ctx, g):
        y, p, pc = ctx.saved
        inside = (p >= EPSILON) & (p <= 1.0 - EPSILON)
        return None, g * inside * (pc - y) / (pc * (1.0 - pc))


class BinaryCrossentropyWithLogitsOp(Function):
    """ℓ = max(z, 0) − z y + log(1 + e^−|z|)  (= −[y log σ(z) + (1 − y) log(1 − σ(z))]);

    dℓ/dz = σ(z) − y.
    """

    differentiable = (1,)

    @staticmethod
    def forward(ctx, y, z):
        ctx.save_for_backward(y, z)
        return np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))

    @staticmethod
    def backward(ctx, g):
        y, z = ctx.saved
        return None, g * (sigmoid(z) - y)


def _aligned_target(y_true, y_pred, op):
    """The targets in y_pred's shape and dtype."""
    dt = _pred_dtype(y_pred, op)
    return _align(y_true, shape_of(y_pred), op).astype(dt, copy=False)


def _binary_inputs(y_true, y_pred, op, mask=None):
    """The targets as y_pred's dtype, checked to be in [0, 1] (where the mask counts)."""
    y = _aligned_target(y_true, y_pred, op)
    counted = y
    if mask is not None:
        m = np.asarray(getattr(mask, "data", mask)) != 0
        m = m.reshape(m.shape + (1,) * max(0, y.ndim - m.ndim))
        try:
            counted = y[np.broadcast_to(m, y.shape)]
        except ValueError:
            counted = y   # a mask of the wrong shape: reduce_loss names it
    if counted.size and not (np.all(counted >= 0) and np.all(counted <= 1)):
        raise ValueError(f"{op}: y_true must hold labels (or probabilities) in [0, 1], got "
                         f"values from {np.nanmin(counted)} to {np.nanmax(counted)}"
                         f"{' and NaN' if np.isnan(counted).any() else ''}")
    return y


def _mean_last(elementwise):
    """Keras averages elementwise losses over the last axis (one value per sample)."""
    return mean(elementwise, axis=-1) if elementwise.ndim >= 2 else elementwise


def binary_crossentropy(y_true, y_pred, from_logits=False, sample_weight=None,
                        reduction="mean", mask=None):
    """Binary cross-entropy; y_pred probabilities (or logits with ``from_logits=True``)."""
    op = "binary_crossentropy"
    y = _binary_inputs(y_true, y_pred, op, mask)
    fn = BinaryCrossentropyWithLogitsOp if from_logits else BinaryCrossentropyOp
    per = _mean_last(fn.apply(y, y_pred))
    return reduce_loss(per, sample_weight, mask, reduction, op)


def binary_crossentropy_reference(y_true, y_pred, from_logits=False, sample_weight=None,
                                  reduction="mean", mask=None):
    """The same from primitive ops (log σ(z) = −softplus(−z) via logsumexp for logits)."""
    op = "binary_crossentropy"
    y = Tensor(_binary_inputs(y_true, y_pred, op, mask), _copy=False)
    p = as_tensor(y_pred)
    if from_logits:
        # log σ(z) = z − log(1 + eᶻ),  log(1 − σ(z)) = −log(1 + eᶻ)
        zeros = p * 0.0
        softplus_z = logsumexp(stack([zeros, p], axis=0), axis=0)
        elementwise = softplus_z - p * y
    else:
        pc = clip(p, EPSILON, 1.0 - EPSILON)
        elementwise = -(y * log(pc) + (1.0 - y) * log(1.0 - pc))
    return reduce_loss(_mean_last(elementwise), sample_weight, mask, reduction, op)


# --------------------------------------------------------------------------
# categorical cross-entropy (one-hot / probability targets)
# --------------------------------------------------------------------------

class CategoricalCrossentropyOp(Function):
    """ℓ = −Σ_c y_c log q̃_c,  q = p / Σ p,  q̃ = clip(q, ε, 1 − ε);

    with a_c = dℓ/dq_c = −y_c / q̃_c (0 where clipped):  dℓ/dp_c = (a_c − Σ_j a_j q_j) / Σ p.
    """

    differentiable = (1,)

    @staticmethod
    def forward(ctx, y, p):
        s = p.sum(axis=-1, keepdims=True)
        q = p / s
        qc = np.clip(q, EPSILON, 1.0 - EPSILON)
        ctx.save_for_backward(y, q, qc, s)
        return -(y * np.log(qc)).sum(axis=-1)

    @staticmethod
    def backward(ctx, g):
        y, q, qc, s = ctx.saved
        inside = (q >= EPSILON) & (q <= 1.0 - EPSILON)
        a = -y / qc * inside
        return None, g[..., None] * (a - (a * q).sum(axis=-1, keepdims=True)) / s


class CategoricalCrossentropyWithLogitsOp(Function):
    """ℓ = −Σ_c y_c log softmax(z)_c;   dℓ/dz = softmax(z) · Σ_c y_c − y"""

    differentiable = (1,)

    @staticmethod
    def forward(ctx, y, z):
        shifted = z - z.max(axis=-1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        ctx.save_for_backward(y, logp)
        return -(y * logp).sum(axis=-1)

    @staticmethod
    def backward(ctx, g):
        y, logp = ctx.saved
        return None, g[..., None] * (np.exp(logp) * y.sum(axis=-1, keepdims=True) - y)


def _categorical_inputs(y_true, y_pred, op):
    dt = _pred_dtype(y_pred, op)
    ps = shape_of(y_pred)
    if len(ps) < 1:
        raise ValueError(f"{op}: y_pred must have a class axis, got shape {ps}")
    yt = to_numpy(y_true)
    if yt.shape != tuple(ps):
        raise ValueError(f"{op}: y_true (one-hot / probabilities) must have y_pred's shape {ps}, "
                         f"got {yt.shape} (for integer class ids use "
                         "sparse_categorical_crossentropy)")
    return yt.astype(dt, copy=False)


def categorical_crossentropy(y_true, y_pred, from_logits=False, sample_weight=None,
                             reduction="mean", mask=None):
    """Cross-entropy against one-hot (or probability) targets y_true (..., C)."""
    op = "categorical_crossentropy"
    y = _categorical_inputs(y_true, y_pred, op)
    fn = CategoricalCrossentropyWithLogitsOp if from_logits else CategoricalCrossentropyOp
    return reduce_loss(fn.apply(y, y_pred), sample_weight, mask, reduction, op)


def categorical_crossentropy_reference(y_true, y_pred, from_logits=False, sample_weight=None,
                                       reduction="mean", mask=None):
    """The same from primitive ops: ``−Σ y · log_softmax(z)`` or ``−Σ y · log clip(p / Σp)``."""
    op = "categorical_crossentropy"
    y = Tensor(_categorical_inputs(y_true, y_pred, op), _copy=False)
    p = as_tensor(y_pred)
    if from_logits:
        logp = log_softmax(p, axis=-1)
    else:
        logp = log(clip(p / tsum(p, axis=-1, keepdims=True), EPSILON, 1.0 - EPSILON))
    per = -tsum(y * logp, axis=-1)
    return reduce_loss(per, sample_weight, mask, reduction, op)


# --------------------------------------------------------------------------
# sparse categorical cross-entropy (integer targets)
# --------------------------------------------------------------------------

def _rows(a, c):
    return a.reshape(-1, c)


class SparseCategoricalCrossentropyWithLogitsOp(Function):
    """ℓ = log Σ_c e^{z_c} − z_t  (fused log-softmax + NLL);   dℓ/dz = softmax(z) − onehot(t)"""

    differentiable = (1,)

    @staticmethod
    def forward(ctx, t, z):
        c = z.shape[-1]
        m = z.max(axis=-1, keepdims=True)
        e = z - m
        z_t = np.take_along_axis(e, t[..., None], axis=-1)[..., 0]
        np.exp(e, out=e)
        s = e.sum(axis=-1, keepdims=True)
        e /= s                                     # e is now softmax(z)
        ctx.save_for_backward(t, e)
        ctx.c = c
        return np.log(s[..., 0]) - z_t

    @staticmethod
    def backward(ctx, g):
        t, prob = ctx.saved
        grad = prob * g[..., None]
        flat = _rows(grad, ctx.c)
        flat[np.arange(flat.shape[0]), t.reshape(-1)] -= g.reshape(-1)
        return None, grad


class SparseCategoricalCrossentropyOp(Function):
    """ℓ = −log q̃_t,  q = p / Σ p,  q̃ = clip(q, ε, 1 − ε);

    dℓ/dp_c = [ε ≤ q_t ≤ 1 − ε] · (q_t − [c = t]) / (q̃_t Σ p).
    """

    differentiable = (1,)

    @staticmethod
    def forward(ctx, t, p):
        s = p.sum(axis=-1)
        q_t = np.take_along_axis(p, t[..., None], axis=-1)[..., 0] / s
        qc = np.clip(q_t, EPSILON, 1.0 - EPSILON)
        ctx.save_for_backward(t, q_t, qc, s)
        ctx.shape = p.shape
        return -np.log(qc)

    @staticmethod
    def backward(ctx, g):
        t, q_t, qc, s = ctx.saved
        inside = (q_t >= EPSILON) & (q_t <= 1.0 - EPSILON)
        k = g * inside / (qc * s)                  # per row
        grad = np.empty(ctx.shape, dtype=g.dtype)
        grad[...] = (k * q_t)[..., None]
        flat = _rows(grad, ctx.shape[-1])
        flat[np.arange(flat.shape[0]), t.reshape(-1)] -= k.reshape(-1)
        return None, grad


def sparse_targets(y_true, y_pred, mask=None, ignore_index=None,
                   op="sparse_categorical_crossentropy"):
    """``(labels, mask)`` for integer targets: the labels as int64 (shape ``y_pred.shape[:-1]``)
    with masked and ignored positions set to 0, and the mask of the positions that count
    (``mask`` and ``labels != ignore_index``; None when every position counts)."""
    _pred_dtype(y_pred, op)
    ps = shape_of(y_pred)
    if len(ps) < 1:
        raise ValueError(f"{op}: y_pred must have a class axis (..., C), got shape {ps}")
    c = ps[-1]
    t = to_numpy(y_true)
    if t.shape != tuple(ps[:-1]):
        if t.ndim == len(ps) and t.shape[-1] == 1 and t.shape[:-1] == tuple(ps[:-1]):
            t = t[..., 0]
        else:
            raise ValueError(f"{op}: y_true (integer classes) must have shape {tuple(ps[:-1])} "
                             f"for y_pred of shape {tuple(ps)}, got {t.shape}")
    if t.dtype.kind == "f":
        if not np.all(np.mod(t, 1) == 0):
            raise TypeError(f"{op}: y_true must hold integer class ids, got non-integer "
                            f"values of dtype {t.dtype}")
    elif t.dtype.kind not in "iub":
        raise TypeError(f"{op}: y_true must hold integer class ids, got dtype {t.dtype}")
    t = t.astype(np.int64)
    m = _mask(mask, t.shape, op)
    if ignore_index is not None:
        keep = t != ignore_index
        m = keep if m is None else (m & keep)
    if m is not None:
        t = np.where(m, t, 0)
    bad = (t < 0) | (t >= c)
    if bad.any():
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{op}: y_true contains class {int(t[pos])} at position {pos}, outside "
                         f"[0, {c}) for y_pred with C={c} classes")
    return t, m


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, sample_weight=None,
                                    mask=None, ignore_index=None, reduction="mean"):
    """Cross-entropy against integer classes y_true (...) for y_pred (..., C).

    ``mask`` (...) bool and ``ignore_index`` drop positions: they contribute 0
    and are not counted in the mean.
    """
    op = "sparse_categorical_crossentropy"
    t, m = sparse_targets(y_true, y_pred, mask, ignore_index, op)
    fn = SparseCategoricalCrossentropyWithLogitsOp if from_logits else \
        SparseCategoricalCrossentropyOp
    return reduce_loss(fn.apply(t, y_pred), sample_weight, m, reduction, op)


def sparse_categorical_crossentropy_reference(y_true, y_pred, from_logits=False,
                                              sample_weight=None, mask=None, ignore_index=None,
                                              reduction="mean"):
    """The same from primitive ops: pick ``log_softmax(z)[t]`` (or ``log clip(p/Σp)[t]``)."""
    op = "sparse_categorical_crossentropy"
    t, m = sparse_targets(y_true, y_pred, mask, ignore_index, op)
    p = as_tensor(y_pred)
    c = p.shape[-1]
    if from_logits:
        logp = log_softmax(p, axis=-1)
        picked = logp.reshape(-1, c)[np.arange(t.size), t.reshape(-1)]
    else:
        q = p / tsum(p, axis=-1, keepdims=True)
        picked = log(clip(q.reshape(-1, c)[np.arange(t.size), t.reshape(-1)],
                          EPSILON, 1.0 - EPSILON))
    per = -picked.reshape(t.shape)
    return reduce_loss(per, sample_weight, m, reduction, op)


# --------------------------------------------------------------------------
# mean squared error
# --------------------------------------------------------------------------

def mse(y_true, y_pred, sample_weight=None, reduction="mean", mask=None):
    """Mean squared error ℓ = mean over the last axis of (y − p)²;  dℓ/dp = 2 (p − y) / n."""
    op = "mse"
    y = _aligned_target(y_true, y_pred, op)
    p = as_tensor(y_pred)
    d = p - Tensor(y, _copy=False)
    return reduce_loss(_mean_last(d * d), sample_weight, mask, reduction, op)
