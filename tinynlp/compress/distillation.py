"""Knowledge distillation (Hinton, Vinyals & Dean, 2015): a small student learns
from a large teacher's softened predictions as well as from the labels.

With teacher logits ``t``, student logits ``s`` and a temperature ``T``::

    p_T = softmax(t / T)        q_T = softmax(s / T)
    L = α · CE(y, softmax(s))  +  (1 − α) · T² · KL(p_T ‖ q_T)
    KL(p ‖ q) = Σ_c p_c (log p_c − log q_c)

A temperature above 1 spreads the teacher's probability over the wrong
classes too ("dark knowledge": which mistakes are plausible); the factor T²
keeps the soft term's gradient, ``∂/∂s_c [T² KL] = T (q_T,c − p_T,c)``, on the
same scale as the hard term's whatever T is.

Binary models with one sigmoid output ``p = σ(z)`` use the two-class form:
the logits are ``[0, z]`` (so ``softmax([0, z]) = [1 − p, p]``).  Models
whose last layer outputs probabilities (sigmoid / softmax, the Keras habit)
are converted to logits: ``z = log p − log(1 − p)`` for a sigmoid,
``log p`` for a softmax (a softmax is unchanged by the additive constant).
Pass ``from_logits=True`` when the model outputs logits.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from .. import functional as F
from .. import optimizers
from .. import random as tn_random
from ..autograd import Tensor, no_grad, ops
from ..callbacks import CallbackList
from ..losses import Loss
from ._utils import run_model
from .pruning import zero_pruned_gradients

__all__ = ["distillation_loss", "DistillationLoss", "distill", "soft_targets",
           "DistillationHistory"]

EPS = 1e-7


def _as_tensor(a):
    return a if isinstance(a, Tensor) else Tensor(np.asarray(a), _copy=False)


def _is_binary(out_shape):
    return len(out_shape) == 1 or out_shape[-1] == 1


def _logits(out, from_logits):
    """Class logits (…, C) from a model output (Tensor): two-class form for one sigmoid unit."""
    binary = _is_binary(out.shape)
    if out.ndim == 1:
        out = ops.expand_dims(out, -1)
    if from_logits:
        z = out
    else:
        p = ops.clip(out, EPS, 1.0 - EPS)
        z = ops.log(p) - ops.log(1.0 - p) if binary else ops.log(p)
    if binary:
        return ops.concat([z * 0.0, z], axis=-1)
    return z


def soft_targets(teacher_out, temperature=2.0, from_logits=False):
    """The teacher's softened probabilities ``softmax(t / T)`` (…, C) as an ndarray.

    One sigmoid output becomes two columns ``[1 − p_T, p_T]``.
    """
    with no_grad():
        z = _logits(_as_tensor(np.asarray(teacher_out, dtype=np.float64)), from_logits)
        return ops.softmax(z / float(temperature), axis=-1).data


def _hard_loss(y_true, out, from_logits):
    y = np.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
    if _is_binary(out.shape):
        return F.binary_crossentropy(y, out, from_logits=from_logits)
    if y.shape == tuple(out.shape):
        return F.categorical_crossentropy(y, out, from_logits=from_logits)
    return F.sparse_categorical_crossentropy(y.astype(np.int64), out, from_logits=from_logits)


def distillation_loss(y_true, student_out, teacher_out, temperature=2.0, alpha=0.5,
                      from_logits=False, teacher_from_logits=None):
    """Hinton's loss: ``α · CE(y, student) + (1 − α) · T² · KL(softmax(t/T) ‖ softmax(s/T))``.

    ``student_out`` a Tensor (the gradient flows into it); ``teacher_out`` an
    array (a constant); ``y_true`` labels: 0/1 for one sigmoid output, integer
    classes or one-hot rows for softmax outputs.  ``from_logits`` says whether
    the outputs are logits or probabilities (``teacher_from_logits`` defaults
    to the same).  KL is averaged over the samples (and positions).

    Gradient of the soft term w.r.t. the student logits: ``T · (q_T − p_T) / N``.
    """
    if temperature <= 0:
        raise ValueError(f"distillation_loss: temperature must be > 0, got {temperature}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"distillation_loss: alpha must be in [0, 1], got {alpha}")
    s = _as_tensor(student_out)
    t = np.asarray(teacher_out.data if isinstance(teacher_out, Tensor) else teacher_out)
    if t.shape != tuple(s.shape):
        raise ValueError(f"distillation_loss: teacher output shape {t.shape} differs from the "
                         f"student's {tuple(s.shape)}")
    if teacher_from_logits is None:
        teacher_from_logits = from_logits
    T = float(temperature)
    p = soft_targets(t.astype(s.dtype), T, teacher_from_logits).astype(s.dtype)
    log_q = ops.log_softmax(_logits(s, from_logits) / T, axis=-1)
    log_p = np.log(np.maximum(p, np.finfo(p.dtype).tiny))
    kl = ops.sum(Tensor(p, _copy=False) * (Tensor(log_p, _copy=False) - log_q), axis=-1)
    soft = ops.mean(kl) * (T * T)
    if alpha == 0.0:
        return soft * 1.0
    hard = _hard_loss(y_true, s, from_logits)
    if alpha == 1.0:
        return hard * 1.0
    return hard * alpha + soft * (1.0 - alpha)


class DistillationLoss(Loss):
    """Hinton's distillation loss as a ``compile(loss=...)`` object for ``fit``.

    ``fit`` hands a loss only ``(y_true, y_pred)``, so the teacher's outputs
    travel with the labels: ``y_packed = DistillationLoss.pack(y, teacher_out)``
    puts them side by side (the label columns first), and the loss splits them
    again — shuffling and batching keep each row's teacher output with it::

        loss = tn.compress.DistillationLoss(temperature=4.0, alpha=0.3)
        student.compile(optimizer="adam", loss=loss)
        student.fit(x, loss.pack(y, teacher.predict(x)), epochs=5)
    """

    def __init__(self, temperature=2.0, alpha=0.5, from_logits=False, teacher_from_logits=None,
                 name="distillation_loss"):
        super().__init__(name)
        if temperature <= 0:
            raise ValueError(f"DistillationLoss: temperature must be > 0, got {temperature}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"DistillationLoss: alpha must be in [0, 1], got {alpha}")
        self.temperature = float(temperature)
        self.alpha = float(alpha)
        self.from_logits = bool(from_logits)
        self.teacher_from_logits = teacher_from_logits

    @staticmethod
    def pack(y, teacher_out):
        """``[labels | teacher outputs]`` as one float array (N, k + C)."""
        t = np.asarray(teacher_out, dtype=np.float32)
        t2 = t.reshape(len(t), -1)
        y = np.asarray(y)
        y2 = y.reshape(len(y), -1).astype(np.float32)
        if len(y2) != len(t2):
            raise ValueError(f"DistillationLoss.pack: {len(y2)} labels but {len(t2)} teacher "
                             "outputs")
        return np.concatenate([y2, t2], axis=1)

    def unpack(self, y_packed, out_shape):
        y_packed = np.asarray(y_packed.data if isinstance(y_packed, Tensor) else y_packed)
        c = int(np.prod(out_shape[1:])) if len(out_shape) > 1 else 1
        k = y_packed.shape[-1] - c
        if y_packed.ndim != 2 or k < 1:
            raise ValueError(
                f"DistillationLoss: y_true must be DistillationLoss.pack(y, teacher_out) with "
                f"at least {c + 1} columns for predictions of shape {tuple(out_shape)}, got "
                f"shape {y_packed.shape}")
        y = y_packed[:, :k]
        if k == 1 and not _is_binary(out_shape):
            y = y[:, 0].astype(np.int64)
        elif _is_binary(out_shape):
            y = y.reshape(out_shape)
        return y, y_packed[:, k:].reshape(out_shape)

    def call(self, y_true, y_pred):
        """The batch's distillation loss (a scalar: sample weights and masks do not apply)."""
        y, t = self.unpack(y_true, tuple(y_pred.shape))
        return distillation_loss(y, y_pred, t, self.temperature, self.alpha, self.from_logits,
                                 self.teacher_from_logits)

    def get_config(self):
        return {"temperature": self.temperature, "alpha": self.alpha,
                "from_logits": self.from_logits, "teacher_from_logits": self.teacher_from_logits,
                "name": self.name}


class DistillationHistory:
    """What :func:`distill` returns: ``history`` maps a metric to its per-epoch values."""

    def __init__(self):
        self.history = {}
        self.epoch = []

    def record(self, epoch, logs):
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)


def _accuracy(y, out, from_logits):
    out = np.asarray(out)
    y = np.asarray(y)
    if _is_binary(out.shape):
        pred = (out.reshape(len(out), -1)[:, 0] > (0.0 if from_logits else 0.5)).astype(int)
        return float(np.mean(pred == y.reshape(len(y), -1)[:, 0]))
    pred = out.argmax(axis=-1)
    truth = y.argmax(axis=-1) if y.shape == out.shape else y
    return float(np.mean(pred == truth))


def distill(teacher, student, x, y, temperature=2.0, alpha=0.5, epochs=5, batch_size=32,
            optimizer="adam", validation_data=None, verbose=1, from_logits=False,
            teacher_from_logits=None, shuffle=True, callbacks=None):
    """Train ``student`` on ``(x, y)`` with Hinton's loss against ``teacher``'s outputs.

    The teacher runs once in inference mode (its outputs are constants); the
    student trains for ``epochs`` with ``optimizer`` (a name or an optimizer
    object) on mini-batches shuffled by ``tn.random``; pruning masks and other
    parameter constraints are applied after every step, and ``callbacks``
    (e.g. :class:`~tinynlp.compress.PolynomialDecaySparsity`) get the usual
    hooks.  Returns a :class:`DistillationHistory` with ``loss`` and
    ``accuracy`` per epoch (and ``val_loss``, ``val_accuracy`` when
    ``validation_data=(x_val, y_val)`` is given).
    """
    if epochs < 0 or batch_size < 1:
        raise ValueError(f"distill: epochs must be >= 0 and batch_size >= 1, got {epochs}, "
                         f"{batch_size}")
    x = np.asarray(x)
    y = np.asarray(y)
    n = len(x)
    if len(y) != n:
        raise ValueError(f"distill: x has {n} samples but y has {len(y)}")
    opt = optimizers.get(optimizer)
    t_from_logits = from_logits if teacher_from_logits is None else teacher_from_logits
    teacher_out = run_model(teacher, x, batch_size=max(batch_size, 256))
    val = None
    if validation_data is not None:
        xv, yv = (np.asarray(a) for a in validation_data)
        val = (xv, yv, run_model(teacher, xv, batch_size=max(batch_size, 256)))

    cbs = None
    if callbacks:
        steps = -(-n // batch_size)
        cbs = CallbackList(callbacks, model=student,
                           params={"epochs": epochs, "steps": steps, "verbose": verbose})
        cbs.on_train_begin({})
    student.stop_training = False
    history = DistillationHistory()
    rng = tn_random.get_rng()
    for epoch in range(epochs):
        start = time.perf_counter()
        if cbs:
            cbs.on_epoch_begin(epoch, {})
        order = rng.permutation(n) if shuffle else np.arange(n)
        total, seen, correct = 0.0, 0, 0.0
        for b, lo in enumerate(range(0, n, batch_size)):
            idx = order[lo:lo + batch_size]
            if cbs:
                cbs.on_batch_begin(b, {})
            out = student(x[idx], training=True)
            loss = distillation_loss(y[idx], out, teacher_out[idx], temperature, alpha,
                                     from_logits, t_from_logits)
            reg = student.regularization_losses()
            total_loss = loss + sum(reg[1:], reg[0]) if reg else loss
            params = student.trainable_weights
            opt.zero_grad(params)
            total_loss.backward()
            zero_pruned_gradients(params)
            opt.step(params)
            opt.zero_grad(params)
            for p in params:
                if getattr(p, "constraint", None) is not None:
                    p.data[...] = p.constraint(p.data)
            total += float(loss.data) * len(idx)
            correct += _accuracy(y[idx], out.data, from_logits) * len(idx)
            seen += len(idx)
            if cbs:
                cbs.on_batch_end(b, {"loss": float(loss.data)})
        logs = {"loss": total / max(seen, 1), "accuracy": correct / max(seen, 1)}
        if val is not None:
            xv, yv, tv = val
            out_v = run_model(student, xv, batch_size=max(batch_size, 256))
            with no_grad():
                logs["val_loss"] = float(distillation_loss(
                    yv, Tensor(out_v, _copy=False), tv, temperature, alpha, from_logits,
                    t_from_logits).data)
            logs["val_accuracy"] = _accuracy(yv, out_v, from_logits)
        history.record(epoch, logs)
        if cbs:
            cbs.on_epoch_end(epoch, logs)
        if verbose:
            parts = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
            print(f"distill epoch {epoch + 1}/{epochs} - {time.perf_counter() - start:.1f}s - "
                  f"{parts}", file=sys.stdout, flush=True)
        if getattr(student, "stop_training", False):
            break
    if cbs:
        cbs.on_train_end({})
    return history
