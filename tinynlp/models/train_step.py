"""One train step of a :class:`~tinynlp.models.Model` on one batch (what ``fit`` and
``train_on_batch`` run), in order::

    y_pred = model(x, training=True)                     # dropout active
    loss   = loss_fn(y, y_pred, sample_weight, mask) + Σ regularization_losses()
    loss.backward()                                      # or per block: train_blocks.py
    for hook in model._gradient_hooks: hook(params)      # e.g. distributed all-reduce
    optimizer.step(params)                               # clipping happens inside
    p.data[...] = p.constraint(p.data)  for constrained params (e.g. pruning masks)
    zero the gradients

:class:`TrainStep` holds these steps as methods of ``Model``, each one a place a
subclass may change (the functional model's several outputs:
:mod:`tinynlp.models.functional_training`).
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.tensor import Tensor
from .data import class_weights_for
from .targets import loss_mask, prepare_target
from .train_blocks import may_train_in_blocks, train_in_blocks

__all__ = ["TrainStep"]


class TrainStep:
    """The train step's parts, mixed into ``Model`` (they use its loss, optimizer, metrics,
    weights and ``_gradient_hooks``)."""

    def _prepare_y(self, y, y_pred):
        if y is None:
            raise ValueError("fit/evaluate: the batch has no targets y")
        y = y.data if isinstance(y, Tensor) else np.asarray(y)
        return prepare_target(self.loss, y, y_pred)

    def _loss_mask(self, y_pred, loader_mask, y):
        """The mask for the loss: the model's output mask, else a loader's padding mask
        when the targets are per position (same (B, T) shape)."""
        return loss_mask(self._output_mask, y_pred, loader_mask, y)

    def _forward(self, x, training, loader_mask):
        self._output_mask = None
        return self._call_on_batch(x, training, loader_mask)

    def _call_on_batch(self, x, training, loader_mask):
        """The model's output for a batch's ``x`` (a Tensor), the loader's mask passed on."""
        x = self._prepare_x(x)
        if loader_mask is not None and self.supports_masking:
            out = self(x, training=training, mask=np.asarray(loader_mask, dtype=bool))
        else:
            out = self(x, training=training)
        if isinstance(out, (list, tuple)):
            raise TypeError(f"{self.name}: fit/evaluate support models with one output; "
                            f"call() returned {len(out)} outputs")
        if not isinstance(out, Tensor):
            out = Tensor(np.asarray(out))
        return out

    def _loss_inputs(self, batch, y_pred, class_weight):
        """``(y, sample weights, mask)`` for the loss of ``batch``: the prepared targets,
        the sample weights times any class weights, and the positions that count."""
        y = self._prepare_y(batch.y, y_pred)
        sw = batch.sample_weight
        if class_weight is not None:
            cw = class_weights_for(y, class_weight, y_pred.shape)
            sw = cw if sw is None else _broadcast_mul(np.asarray(sw, np.float64), cw)
        return y, sw, self._loss_mask(y_pred, batch.mask, y)

    def _compute_loss(self, batch, y_pred, class_weight):
        y, sw, mask = self._loss_inputs(batch, y_pred, class_weight)
        loss = self.loss(y, y_pred, sample_weight=sw, mask=mask)
        reg = self.regularization_losses()
        total = loss
        for r in reg:
            total = total + r
        return total, y, mask

    def _update_metrics(self, y, y_pred_data, mask):
        for m in self.compiled_metrics:
            m.update_state(y, y_pred_data, sample_weight=None if mask is None else
                           mask.astype(np.float64))

    def _apply_gradients(self, total):
        total.backward()
        self._update_weights()

    def _update_weights(self):
        """The gradients in ``.grad`` → gradient hooks, the optimizer step, the weights'
        constraints; then the gradients are zeroed."""
        params = [p for p in self.weights if p.trainable]
        for hook in self._gradient_hooks:
            hook(params)
        self.optimizer.step(params)
        for p in self.weights:
            if getattr(p, "constraint", None) is not None:
                p.data[...] = p.constraint(p.data)
        self.optimizer.zero_grad(params)

    def _rows_independent_in_training(self) -> bool:
        """True when, in training, each row of a batch is computed from that row alone and
        nothing random is drawn (no dropout), so that a train step may run in blocks of
        the batch on parallel threads (:mod:`tinynlp.models.train_blocks`).  False here;
        a model that knows its layers says so (:class:`~tinynlp.models.GPT`)."""
        return False

    def _train_step(self, batch, class_weight, update_metrics=True):
        """One training step on ``batch``: forward (dropout on), loss, and — when the loss
        is finite — backward, the optimizer update and the metrics.

        Returns ``(loss value, batch size)``; a NaN or infinite loss comes back
        without an update (the caller decides how to report it).  In blocks of the
        batch on parallel threads when the model allows it and that measured faster
        (:mod:`tinynlp.models.train_blocks`); the same step either way.
        """
        if may_train_in_blocks(self, batch):
            return train_in_blocks(self, batch, class_weight, update_metrics)
        return self._train_step_whole(batch, class_weight, update_metrics)

    def _train_step_whole(self, batch, class_weight, update_metrics=True):
        """:meth:`_train_step` on the whole batch at once."""
        y_pred = self._forward(batch.x, True, batch.mask)
        total, y, mask = self._compute_loss(batch, y_pred, class_weight)
        value = float(total.data)
        if math.isfinite(value):
            self._apply_gradients(total)
            if update_metrics:
                self._update_metrics(y, y_pred.data, mask)
        return value, len(y)



def _broadcast_mul(a, b):
    """a · b for per-sample weights of possibly different ranks ((B,) and (B, T))."""
    if a.ndim < b.ndim:
        a = a.reshape(a.shape + (1,) * (b.ndim - a.ndim))
    elif b.ndim < a.ndim:
        b = b.reshape(b.shape + (1,) * (a.ndim - b.ndim))
    return a * b
