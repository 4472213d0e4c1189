"""Targets and loss masks: what every model's loss sees, one output at a time."""

from __future__ import annotations

import numpy as np

from .. import losses as losses_mod

__all__ = ["prepare_target", "loss_mask"]


def prepare_target(loss, y, y_pred):
    """y in the dtype the loss needs: float targets in the prediction's float dtype, and
    integer labels as floats for the losses that compare values (BCE, CCE, MSE)."""
    if y.dtype.kind == "f" and y.dtype != y_pred.dtype:
        return y.astype(y_pred.dtype)
    if y.dtype.kind in "biu" and isinstance(
            loss, (losses_mod.BinaryCrossentropy, losses_mod.CategoricalCrossentropy,
                   losses_mod.MeanSquaredError)):
        return y.astype(y_pred.dtype)
    return y


def loss_mask(output_mask, y_pred, loader_mask, y):
    """The mask for one output's loss: its mask from the graph, else a loader's padding
    mask when the targets are per position; kept only if it fits ``y_pred``'s leading axes."""
    m = output_mask
    if m is None and loader_mask is not None and y is not None:
        lm = np.asarray(loader_mask)
        if np.shape(y)[:lm.ndim] == lm.shape and np.ndim(y) in (lm.ndim, lm.ndim + 1):
            m = lm
    if m is None:
        return None
    m = np.asarray(getattr(m, "data", m), dtype=bool)
    if y_pred.ndim == m.ndim + 1 and tuple(y_pred.shape[:m.ndim]) == m.shape:
        return m
    return None
