"""Losses, targets and metrics for models with several outputs (Keras' rules).

A functional model built with a list of outputs, ``tn.Model(inputs, [a, b])``,
is compiled with

- ``loss``: one loss for every output, a list (one per output, ``None`` for
  an output that is not trained), or a dict keyed by output name (the name
  of the layer that produced it; ``model.output_names``), covering every
  output;
- ``loss_weights``: a list or a dict (missing outputs weigh 1); the loss
  minimised is ``Σ_i w_i · loss_i(y_i, ŷ_i)`` plus the regularization terms;
- ``metrics``: a list with one entry per output (a metric or a list of
  metrics, or None), or a dict keyed by output name.

Logs (History, ``evaluate(return_dict=True)``) hold ``loss`` (the weighted
total), then ``<output>_loss`` for each trained output (unweighted) when
more than one output is trained, then ``<output>_<metric>``; a model with one
output (given as a list) keeps the plain names.  ``y`` is a list (one array
per output) or a dict keyed by output name.

Several target arrays travel through the batching code as one NumPy
structured array (one field per output, :func:`stack_targets`), so slicing,
shuffling and ``validation_split`` by sample need no special case.
"""

from __future__ import annotations

import copy

import numpy as np

from .. import losses as losses_mod
from .. import metrics as metrics_mod
from ..autograd.tensor import Tensor

__all__ = [
    "LossTracker",
    "OutputMetric",
    "Outputs",
    "Targets",
    "deserialize_loss",
    "resolve_loss_weights",
    "resolve_losses",
    "resolve_metrics",
    "serialize_loss",
    "serialize_metric",
    "split_targets",
    "stack_targets",
]


class Outputs:
    """A batch's predictions for several outputs: ``tensors`` and their ``data`` (arrays)."""

    def __init__(self, tensors):
        self.tensors = list(tensors)

    @property
    def data(self):
        return [t.data for t in self.tensors]


class Targets:
    """A batch's targets, one array (or None) per output; ``len()`` is the batch size."""

    def __init__(self, values, n):
        self.values = list(values)
        self.n = int(n)

    def __len__(self):
        return self.n


# ---- compile arguments ---------------------------------------------------------------------

def _per_output(value, names, what, allow_missing):
    """A list with one entry per output from a list or a dict keyed by output names."""
    n = len(names)
    if isinstance(value, dict):
        unknown = [k for k in value if k not in names]
        if unknown:
            raise ValueError(f"compile: {what} has unknown output name(s) {unknown}; the "
                             f"model's outputs are {names}")
        missing = [k for k in names if k not in value]
        if missing and not allow_missing:
            raise ValueError(f"compile: the {what} dict must name every output {names}; "
                             f"missing {missing} (give None for an output without a loss)")
        return [value.get(k) for k in names]
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"compile: {what} is a list of {len(value)} but the model has "
                             f"{n} outputs {names}; give one entry per output or a dict "
                             "keyed by output name")
        return list(value)
    return None


def resolve_losses(loss, names):
    """One :class:`tinynlp.losses.Loss` (or None) per output."""
    if loss is None:
        raise ValueError("compile: a loss is required, e.g. loss='mse' (for every output), "
                         "a list with one loss per output, or a dict keyed by output name")
    per = _per_output(loss, names, "loss", allow_missing=False)
    if per is None:
        per = [loss] * len(names)
    out = [None if spec is None else losses_mod.get(spec) for spec in per]
    if all(v is None for v in out):
        raise ValueError(f"compile: every output's loss is None; give at least one of "
                         f"{names} a loss")
    return out


def resolve_loss_weights(loss_weights, names):
    if loss_weights is None:
        return [1.0] * len(names)
    per = _per_output(loss_weights, names, "loss_weights", allow_missing=True)
    if per is None:
        if len(names) == 1 and isinstance(loss_weights, (int, float, np.number)):
            per = [loss_weights]
        else:
            raise TypeError(f"compile: loss_weights must be a list or a dict keyed by output "
                            f"name {names}, got {loss_weights!r}")
    out = []
    for k, w in zip(names, per):
        w = 1.0 if w is None else w
        if isinstance(w, bool) or not isinstance(w, (int, float, np.number)):
            raise TypeError(f"compile: loss_weights[{k!r}] must be a number, got {w!r}")
        out.append(float(w))
    return out


def resolve_metrics(metrics, names):
    """A list of metric specs for each output (Keras' list-per-output or dict rules)."""
    n = len(names)
    if metrics is None:
        return [[] for _ in names]
    if n == 1:
        flat = metrics if isinstance(metrics, (list, tuple)) else [metrics]
        if isinstance(metrics, dict):
            flat = _per_output(metrics, names, "metrics", allow_missing=True)
        flat = [m for m in flat if m is not None]
        if len(flat) == 1 and isinstance(flat[0], (list, tuple)):
            flat = list(flat[0])
        return [list(flat)]
    per = _per_output(metrics, names, "metrics", allow_missing=True)
    if per is None:
        raise ValueError(f"compile: for a model with {n} outputs {names}, metrics must be a "
                         "list with one entry per output (a metric, a list of metrics, or "
                         f"None) or a dict keyed by output name; got {metrics!r}")
    return [[] if m is None else (list(m) if isinstance(m, (list, tuple)) else [m])
            for m in per]


class LossTracker(metrics_mod.Mean):
    """The running mean of one output's (unweighted) loss: ``<output>_loss``."""

    def __init__(self, index, name):
        self.index = index
        super().__init__(name=name)

    def update_outputs(self, targets, preds, masks, output_losses):
        value = output_losses[self.index]
        if value is not None:
            super().update_state(np.array([value]), sample_weight=np.array([len(targets)]))


class OutputMetric(metrics_mod.Metric):
    """A metric of one output, reported as ``<output>_<metric>`` (or its own name alone)."""

    def __init__(self, metric, index, name):
        self.metric = metric
        self.index = index
        self.name = name

    def reset_state(self):
        self.metric.reset_state()

    def result(self):
        return self.metric.result()

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.metric.update_state(y_true, y_pred, sample_weight=sample_weight)

    def update_outputs(self, targets, preds, masks, output_losses):
        y = targets.values[self.index]
        if y is None:
            return
        mask = masks[self.index]
        self.metric.update_state(y, preds[self.index],
                                 sample_weight=None if mask is None else mask.astype(np.float64))


def build_metrics(metric_specs, losses, names):
    """The compiled metric objects: loss trackers first (several trained outputs), then the
    metrics of each output in order."""
    several = len(names) > 1
    out = []
    if sum(loss is not None for loss in losses) > 1:
        out += [LossTracker(i, f"{k}_loss") for i, (k, loss) in enumerate(zip(names, losses))
                if loss is not None]
    seen = set()
    for i, (k, specs) in enumerate(zip(names, metric_specs)):
        for spec in specs:
            m = metrics_mod.get(spec, loss=losses[i])
            if id(m) in seen:   # the same Metric object given for two outputs: one state each
                m = copy.deepcopy(m)
            seen.add(id(m))
            out.append(OutputMetric(m, i, f"{k}_{m.name}" if several else m.name))
    names_out = [m.name for m in out]
    dup = sorted({x for x in names_out if names_out.count(x) > 1})
    if dup or "loss" in names_out:
        raise ValueError(f"compile: metric names must be unique and not 'loss', got "
                         f"{names_out}")
    return out


# ---- saving the compile arguments ------------------------------------------------------------

def serialize_loss(loss):
    if loss is None:
        return None
    try:
        return losses_mod.serialize(loss)
    except TypeError:   # a wrapped plain function: restored from custom_objects by name
        return {"function": getattr(loss, "name", "loss")}


def deserialize_loss(config, custom_objects=None):
    if config is None:
        return None
    if "function" in config:
        fn = (custom_objects or {}).get(config["function"])
        if fn is None:
            raise ValueError(f"the loss function {config['function']!r} is not built in; pass "
                             f"custom_objects={{{config['function']!r}: fn}} to load_model")
        return fn
    return losses_mod.get(config)


def serialize_metric(spec, metric):
    if isinstance(spec, str):
        return spec
    return {"class_name": type(metric).__name__, "name": metric.name}


def deserialize_metric(config):
    if isinstance(config, str):
        return config
    cls = getattr(metrics_mod, str(config.get("class_name")), None)
    if not (isinstance(cls, type) and issubclass(cls, metrics_mod.Metric)):
        raise ValueError(f"unknown metric class {config.get('class_name')!r}")
    try:
        return cls(name=config.get("name"))
    except TypeError:
        return cls()


# ---- targets -----------------------------------------------------------------------------------

def _array(a):
    return np.asarray(a.data if isinstance(a, Tensor) else a)


def stack_targets(ys, names, what):
    """One structured array with a field per output given (None entries are left out)."""
    given = [(k, _array(y)) for k, y in zip(names, ys) if y is not None]
    if not given:
        return None
    counts = {k: len(a) if a.ndim else 0 for k, a in given}
    if len(set(counts.values())) != 1:
        raise ValueError(f"{what}: the target arrays have different numbers of samples "
                         f"{counts}")
    n = next(iter(counts.values()))
    record = np.empty(n, dtype=[(k, a.dtype, a.shape[1:]) for k, a in given])
    for k, a in given:
        record[k] = a
    return record


def split_targets(y, names, what):
    """One target array (or None) per output from a structured array, a list or a dict."""
    n = len(names)
    if y is None:
        raise ValueError(f"{what}: the batch has no targets y")
    if isinstance(y, np.ndarray) and y.dtype.names is not None:
        return [np.ascontiguousarray(y[k]) if k in y.dtype.names else None for k in names]
    if isinstance(y, dict):
        unknown = [k for k in y if k not in names]
        if unknown:
            raise ValueError(f"{what}: y has unknown output name(s) {unknown}; the model's "
                             f"outputs are {names}")
        return [None if y.get(k) is None else _array(y[k]) for k in names]
    if isinstance(y, (list, tuple)):
        if len(y) != n:
            raise ValueError(f"{what}: the model has {n} outputs {names} but y is a list of "
                             f"{len(y)}; give one array per output or a dict keyed by output "
                             "name")
        return [None if v is None else _array(v) for v in y]
    if n == 1:
        return [_array(y)]
    raise TypeError(f"{what}: the model has {n} outputs {names}; y must be a list of {n} "
                     f"arrays or a dict keyed by output name, got {type(y).__name__}")
