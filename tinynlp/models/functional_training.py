"""Training a functional model: several inputs and outputs in compile / fit / evaluate /
predict (the hooks :class:`tinynlp.models.Functional` overrides on ``Model``).

A model with one output (given as a tensor, not a list) trains exactly as
``Model`` does (class weights, loader masks, ...); the hooks only turn dicts of
Input names into lists and check the arrays against the inputs.  A model
whose outputs were given as a list follows :mod:`tinynlp.models.multi_output`:
per-output losses, loss weights and metrics, targets as a list or a dict of
output names, predictions as a list.
"""

from __future__ import annotations

import numpy as np

from .. import optimizers as optimizers_mod
from ..autograd import no_grad
from ..autograd.tensor import Tensor
from ..layers.symbolic import flatten
from . import multi_output as mo
from .data import ArrayData, check_batch_size, make_data
from .targets import loss_mask, prepare_target

__all__ = ["FunctionalTraining"]


class FunctionalTraining:
    """Mixin for :class:`Functional` (placed before ``Model`` in its bases): the training
    hooks for several inputs and outputs.  Uses the model's ``inputs``, ``outputs``,
    ``input_names``, ``output_names``, ``_single_output`` and ``_input_list``."""

    # ---- compile / training hooks (several outputs) -----------------------------------------
    def compile(self, optimizer="adam", loss=None, metrics=None, loss_weights=None, **kwargs):
        """Keras' compile; with several outputs, ``loss``, ``loss_weights`` and ``metrics``
        may be given per output (lists or dicts keyed by ``output_names``)."""
        self.loss_weights = None
        if self._single_output:
            if isinstance(loss, dict):
                loss = mo.resolve_losses(loss, self.output_names)[0]
            elif isinstance(loss, (list, tuple)) and len(loss) == 1:
                loss = loss[0]
            if isinstance(metrics, dict):
                metrics = mo.resolve_metrics(metrics, self.output_names)[0]
            if loss_weights is not None:
                raise ValueError("compile: loss_weights weigh the losses of several outputs; "
                                 f"model {self.name!r} has one output (build it with "
                                 "outputs=[...] for a list of one)")
            return super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)
        unsupported = set(kwargs) - {"run_eagerly", "jit_compile", "steps_per_execution"}
        if unsupported:
            raise TypeError(f"compile: unexpected keyword argument(s) {sorted(unsupported)}")
        names = self.output_names
        losses = mo.resolve_losses(loss, names)
        weights = mo.resolve_loss_weights(loss_weights, names)
        specs = mo.resolve_metrics(metrics, names)
        self.optimizer = optimizers_mod.get(optimizer)
        self.loss = losses
        self.loss_weights = weights
        self._metric_specs = specs
        self.compiled_metrics = mo.build_metrics(specs, losses, names)

    def _prepare_x(self, x):
        """One array per Input (checked), floats cast to the Input's float dtype."""
        xs = self._input_list(x, f"{self.name}")
        out = []
        for t, a in zip(self.inputs, xs):
            a = a.data if isinstance(a, Tensor) else np.asarray(a)
            if t.dtype.kind == "f" and a.dtype.kind in "fb" and a.dtype != t.dtype:
                a = a.astype(t.dtype)
            out.append(a)
        return out[0] if self._single_input else out

    def _forward(self, x, training, loader_mask):
        if self._single_output:
            return super()._forward(x, training, loader_mask)
        self._output_mask = None
        x = self._prepare_x(x)
        mask = None if loader_mask is None else np.asarray(loader_mask, dtype=bool)
        out = self(x, training=training, mask=mask)
        return mo.Outputs(o if isinstance(o, Tensor) else Tensor(np.asarray(o)) for o in out)

    def _compute_loss(self, batch, y_pred, class_weight):
        if self._single_output:
            return super()._compute_loss(batch, y_pred, class_weight)
        if class_weight is not None:
            raise ValueError(f"class_weight is not supported for model {self.name!r} with "
                             "several outputs (as in Keras); pass sample_weight instead")
        names = self.output_names
        ys = mo.split_targets(batch.y, names, self.name)
        total, masks, values = None, [], []
        for i, (loss, w, pred, y) in enumerate(zip(self.loss, self.loss_weights,
                                                    y_pred.tensors, ys)):
            if loss is None:
                masks.append(None)
                values.append(None)
                continue
            if y is None:
                raise ValueError(f"{self.name}: no target for output {names[i]!r}, which has a "
                                 f"loss; y must give one for each of "
                                 f"{[k for k, v in zip(names, self.loss) if v is not None]}")
            y = ys[i] = prepare_target(loss, y, pred)
            mask = loss_mask(self._output_masks[i], pred, batch.mask, y)
            value = loss(y, pred, sample_weight=batch.sample_weight, mask=mask)
            values.append(float(value.data))
            masks.append(mask)
            term = value if w == 1.0 else value * w
            total = term if total is None else total + term
        for r in self.regularization_losses():
            total = total + r
        self._last_output_losses = values
        n = len(y_pred.tensors[0].data)
        return total, mo.Targets(ys, n), masks

    def _update_metrics(self, y, y_pred_data, mask):
        if self._single_output:
            return super()._update_metrics(y, y_pred_data, mask)
        for m in self.compiled_metrics:
            m.update_outputs(y, y_pred_data, mask, self._last_output_losses)

    # ---- fit / evaluate / predict: lists or dicts of arrays -----------------------------------
    def _data_x(self, x, what):
        """Dicts of Input names become lists; lists are checked against the inputs."""
        if isinstance(x, dict) or (isinstance(x, (list, tuple)) and x and all(
                isinstance(v, (np.ndarray, Tensor)) for v in x)):
            xs = self._input_list(x, what)
            return xs if len(xs) > 1 else xs[0]
        if isinstance(x, (np.ndarray, Tensor)) and len(self.inputs) > 1:
            self._input_list(x, what)   # raises: several inputs need several arrays
        return x

    def _data_y(self, y, what):
        if y is None:
            return None
        if self._single_output:
            if isinstance(y, dict):
                return mo.split_targets(y, self.output_names, what)[0]
            if isinstance(y, (list, tuple)) and len(y) == 1 and \
                    isinstance(y[0], (np.ndarray, Tensor)):
                return y[0]
            return y
        return mo.stack_targets(mo.split_targets(y, self.output_names, what),
                                self.output_names, what)

    def _data_sample_weight(self, sample_weight, what):
        if isinstance(sample_weight, (dict, list, tuple)) and not self._single_output and \
                any(isinstance(v, (np.ndarray, Tensor)) for v in flatten(sample_weight)):
            raise ValueError(f"{what}: give one sample_weight array for all outputs of model "
                             f"{self.name!r}; per-output sample weights are not supported")
        return sample_weight

    def fit(self, x=None, y=None, *args, validation_data=None, sample_weight=None, **kwargs):
        """Model.fit, with ``x`` a list or a dict (Input names) of arrays and, for several
        outputs, ``y`` a list or a dict (output names) of arrays."""
        x = self._data_x(x, "fit")
        y = self._data_y(y, "fit")
        sample_weight = self._data_sample_weight(sample_weight, "fit")
        if isinstance(validation_data, tuple) and len(validation_data) in (2, 3):
            validation_data = (self._data_x(validation_data[0], "fit: validation_data"),
                               self._data_y(validation_data[1], "fit: validation_data"),
                               *validation_data[2:])
        return super().fit(x, y, *args, validation_data=validation_data,
                           sample_weight=sample_weight, **kwargs)

    def evaluate(self, x=None, y=None, *args, sample_weight=None, **kwargs):
        x = self._data_x(x, "evaluate")
        y = self._data_y(y, "evaluate")
        sample_weight = self._data_sample_weight(sample_weight, "evaluate")
        return super().evaluate(x, y, *args, sample_weight=sample_weight, **kwargs)

    def predict(self, x, batch_size=None, verbose=0):
        """Outputs for ``x``: one array, or a list with one array per output."""
        x = self._data_x(x, "predict")
        if self._single_output:
            return super().predict(x, batch_size=batch_size, verbose=verbose)
        batch_size = check_batch_size(batch_size, "predict")
        data = make_data(x, None, None, "predict")
        batches = data.batches(batch_size) if isinstance(data, ArrayData) else data.batches()
        outs = [[] for _ in self.outputs]
        with no_grad():
            for batch in batches:
                for i, a in enumerate(self._forward(batch.x, False, batch.mask).data):
                    outs[i].append(a)
        result = []
        for parts in outs:
            if not parts:
                result.append(np.zeros((0,)))
            elif all(p.shape[1:] == parts[0].shape[1:] for p in parts):
                result.append(np.concatenate(parts, axis=0))
            else:
                result.append(parts)
        return result

    # ---- saving the compile settings ------------------------------------------------------------
    def get_compile_config(self):
        """The compile arguments as JSON (optimizer, losses, loss weights, metrics per output)."""
        if self.optimizer is None:
            return None
        if self._single_output:
            return {"optimizer": optimizers_mod.serialize(self.optimizer),
                    "loss": mo.serialize_loss(self.loss),
                    "metrics": [mo.serialize_metric(s, m) for s, m in
                                zip(self._metric_specs, self.compiled_metrics)]}
        metrics = [m for m in self.compiled_metrics if isinstance(m, mo.OutputMetric)]
        specs = [[] for _ in self.outputs]
        k = 0
        for i, out_specs in enumerate(self._metric_specs):
            for spec in out_specs:
                specs[i].append(mo.serialize_metric(spec, metrics[k].metric))
                k += 1
        return {"optimizer": optimizers_mod.serialize(self.optimizer),
                "loss": [mo.serialize_loss(loss) for loss in self.loss],
                "loss_weights": list(self.loss_weights), "metrics": specs}

    def compile_from_config(self, config, custom_objects=None):
        """Compile from :meth:`get_compile_config`'s output (used by ``load_model``)."""
        loss = config.get("loss")
        if isinstance(loss, list):
            loss = [mo.deserialize_loss(c, custom_objects) for c in loss]
            metrics = [[mo.deserialize_metric(m) for m in ms] for ms in config.get("metrics", [])]
        else:
            loss = mo.deserialize_loss(loss, custom_objects)
            metrics = [mo.deserialize_metric(m) for m in config.get("metrics", [])]
        self.compile(optimizer=optimizers_mod.get(config["optimizer"]), loss=loss,
                     metrics=metrics, loss_weights=config.get("loss_weights"))
