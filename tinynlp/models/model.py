"""``Model``: a layer that can be trained — compile / fit / evaluate / predict, summary, save.

Subclass it the way you would subclass ``keras.Model`` (or ``torch.nn.Module``)::

    class Classifier(tn.Model):
        def __init__(self):
            super().__init__()
            self.embed = tn.layers.Embedding(5000, 64, mask_zero=True)
            self.rnn = tn.layers.LSTM(64)
            self.out = tn.layers.Dense(1, activation="sigmoid")

        def call(self, x, training=False):
            return self.out(self.rnn(self.embed(x), mask=self.embed.compute_mask(x)))

Layers held in attributes (or in lists of layers) are tracked: their weights
appear in ``model.weights`` in attribute order.  Or use :class:`Sequential`.

The training step on one batch — forward, loss, backward, gradient hooks, the
optimizer step, constraints — is :mod:`tinynlp.models.train_step`.

A NaN or infinite loss is caught before the update: ``fit`` raises
``FloatingPointError`` naming the epoch and batch (or, with a
``TerminateOnNaN`` callback, stops there with the same message).
"""

from __future__ import annotations

import inspect
import json
import math

import numpy as np

from .. import __version__, threads
from .. import losses as losses_mod
from .. import metrics as metrics_mod
from .. import optimizers as optimizers_mod
from .. import random as tn_random
from ..autograd import no_grad
from ..autograd.tensor import Tensor
from ..callbacks import CallbackList, History, ProgressBar, TerminateOnNaN
from ..distributed import DistributedContext
from ..layers.base import Layer, build_once, needs_build
from ..layers.symbolic import is_symbolic
from ..progress import resolve_verbose
from . import saving
from .building import apply_model_dtype, build_by_dry_run
from .data import (
    ArrayData,
    BatchData,
    check_batch_size,
    make_data,
    require_samples,
)
from .fit_setup import FitRun, check_fit_args, steps_per_epoch_of
from .summary import summary_lines
from .train_step import TrainStep


def _float_dtype(dtype):
    dtype = np.dtype(dtype)
    return dtype if dtype.kind == "f" else np.dtype(np.float32)


class Model(TrainStep, Layer):
    """A trainable layer: see the module docstring.

    Attributes set by :meth:`compile`: ``optimizer``, ``loss`` (a
    :class:`tinynlp.losses.Loss`), ``compiled_metrics``.  ``stop_training``
    may be set by callbacks; ``history`` is the last :meth:`fit`'s History.
    """

    def __new__(cls, *args, **kwargs):
        # tn.Model(inputs, outputs) builds a functional model (Keras' dispatch); subclasses
        # and Sequential are created as they are.
        if cls is Model and ("inputs" in kwargs or (args and is_symbolic(args[0]))):
            from .functional import Functional
            return super().__new__(Functional)
        return super().__new__(cls)

    def __init__(self, name=None, trainable=True, dtype=None, **kwargs):
        super().__init__(name=name, trainable=trainable, dtype=dtype, **kwargs)
        self.optimizer = None
        self.loss = None
        self.compiled_metrics = []
        self._metric_specs = []
        self.stop_training = False
        self.history = None
        self._gradient_hooks = []
        self._build_input_spec = None   # [(shape without batch, dtype str), ...] of the inputs
        self._output_mask = None
        self.saved_epoch = None
        self._building = False   # inside the first call or build(): build() must not recurse

    # ---- calling ----------------------------------------------------------------
    def _record_input_spec(self, x):
        def spec(a):
            a = a.data if isinstance(a, Tensor) else np.asarray(a)
            return [list(a.shape[1:]), a.dtype.str]
        if isinstance(x, (list, tuple)):
            self._build_input_spec = [spec(a) for a in x]
        else:
            self._build_input_spec = [spec(x)]

    def __call__(self, x, training=False, mask=None, **kwargs):
        if needs_build(self):
            build_once(self, lambda: self._build_for(x))   # once, even from several threads
        kw = dict(kwargs)
        if self._call_accepts("training"):
            kw["training"] = training
        if mask is not None or self.supports_masking:
            if self._call_accepts("mask"):
                kw["mask"] = mask
        return self.call(x, **kw)

    def _build_for(self, x):
        self._record_input_spec(x)
        if isinstance(x, (list, tuple)):
            shape = [tuple(np.shape(getattr(a, "data", a))) for a in x]
        else:
            shape = tuple(np.shape(getattr(x, "data", x)))
        self._building = True
        try:
            self.apply_dtype()
            self._build_on_first_call(shape)
        finally:
            self._building = False
        self.built = True

    def _build_on_first_call(self, shape):
        """Before the first call: a subclass's own ``build(input_shape)`` (Keras style); the
        layers it holds build themselves as the call reaches them."""
        if type(self).build is not Model.build:
            self.build(shape)

    def _call_accepts(self, name):
        cache = self.__dict__.setdefault("_call_params_cache", None)
        if cache is None:
            try:
                params = inspect.signature(self.call).parameters
                cache = (set(params), any(p.kind == p.VAR_KEYWORD for p in params.values()))
            except (TypeError, ValueError):
                cache = ({"training", "mask"}, True)
            self.__dict__["_call_params_cache"] = cache
        names, var_kw = cache
        return name in names or var_kw

    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape`` (batch axis included; a list of
        shapes for several inputs), as Keras does: the model runs once, without gradients,
        on zeros of that shape (an unknown axis: batch 1, other axes 8), so that
        ``summary()``, ``count_params()``, ``get_weights()`` and ``save()`` see every weight.
        The zeros are floats of the model's dtype, or integer ids if the model refuses
        floats (an ``Embedding`` first).  A subclass may define its own ``build`` and call
        ``super().build(input_shape)``."""
        build_by_dry_run(self, input_shape)

    def _dry_run(self, x):
        """One forward pass on ``x`` (no gradients, dropout off) to build the weights; a
        stateful layer forgets the dummy's states."""
        with no_grad():
            self(x, training=False)
        self.reset_states()

    def apply_dtype(self):
        """A model given ``dtype=`` sets it on every layer it holds that was given none
        (before they build: ``Sequential([...], dtype="float64")`` is float64 throughout);
        a layer already built in another dtype is an error."""
        apply_model_dtype(self)

    def _input_float_dtype(self):
        return _float_dtype(self.dtype)

    def _prepare_x(self, x):
        """Cast float inputs to the model's float dtype; keep integer ids as they are."""
        def one(a):
            a = a.data if isinstance(a, Tensor) else np.asarray(a)
            if a.dtype.kind == "f" and a.dtype != self._input_float_dtype():
                return a.astype(self._input_float_dtype())
            if a.dtype.kind == "b":
                return a.astype(self._input_float_dtype())
            return a
        if isinstance(x, (list, tuple)):
            return [one(a) for a in x]
        return one(x)

    # ---- compile ----------------------------------------------------------------
    def compile(self, optimizer="adam", loss=None, metrics=None, **kwargs):
        """Choose the optimizer, loss and metrics (by name or object), Keras style.

        ``optimizer``: "adam", "sgd", "rmsprop", "adagrad", "adamw" or an
        Optimizer.  ``loss``: "binary_crossentropy", "categorical_crossentropy",
        "sparse_categorical_crossentropy", "mse", a ``tn.losses`` object or a
        callable ``(y_true, y_pred) -> Tensor``.  ``metrics``: names
        ("accuracy", "precision", "recall", "f1", "auc", "perplexity", ...)
        or ``tn.metrics`` objects.
        """
        unsupported = set(kwargs) - {"run_eagerly", "jit_compile", "steps_per_execution"}
        if unsupported:
            raise TypeError(f"compile: unexpected keyword argument(s) {sorted(unsupported)}")
        if loss is None:
            raise ValueError("compile: a loss is required, e.g. loss='binary_crossentropy'")
        self.optimizer = optimizers_mod.get(optimizer)
        self.loss = losses_mod.get(loss)
        if metrics is None:
            metrics = []
        if isinstance(metrics, (str, metrics_mod.Metric)) or callable(metrics) and \
                not isinstance(metrics, (list, tuple)):
            metrics = [metrics]
        if isinstance(metrics, dict):
            raise TypeError("compile: metrics must be a list (one output), got a dict")
        self._metric_specs = list(metrics)
        self.compiled_metrics = [metrics_mod.get(m, loss=self.loss) for m in metrics]
        names = [m.name for m in self.compiled_metrics]
        if len(set(names)) != len(names) or "loss" in names:
            raise ValueError(f"compile: metric names must be unique and not 'loss', got {names}")

    @property
    def metrics_names(self):
        return ["loss"] + [m.name for m in self.compiled_metrics]

    def _require_compiled(self, what):
        if self.optimizer is None or self.loss is None:
            raise RuntimeError(f"{what}: the model must be compiled first: "
                               "model.compile(optimizer='adam', loss='binary_crossentropy')")

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None):
        """One optimizer step on one batch; returns the loss (float)."""
        self._require_compiled("train_on_batch")
        value, _ = self._train_step(BatchData(x, y, sample_weight, None), class_weight,
                                    update_metrics=False)
        if not math.isfinite(value):
            raise FloatingPointError(f"train_on_batch: the loss is {value}")
        return value

    # ---- fit -----------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None,
            validation_batch_size=None, *, distributed=False):
        """Train for ``epochs`` epochs (Keras semantics); returns a :class:`History`.

        ``validation_split`` holds out the *last* fraction of ``x``/``y``
        before shuffling (as Keras does); ``validation_data`` is ``(x, y)``,
        ``(x, y, sample_weight)`` or an iterable of batches.  ``shuffle``
        draws a fresh permutation each epoch from ``tn.random`` (so a seeded
        run, and a run resumed from a checkpoint, repeat exactly).
        ``class_weight`` maps class index → weight of that class's samples in
        the loss.  ``initial_epoch`` continues a run (epochs are counted from
        0; ``epochs`` is the index to stop at).  ``distributed=True`` trains
        data-parallel over MPI ranks (run under ``mpirun``; needs mpi4py).
        ``verbose``: ``"auto"`` (a live bar on a terminal or in a notebook, one line
        per epoch in a pipe or a file), 0, 1 (the bar) or 2 (one line per epoch).
        Threads: ``tn.get_num_threads()`` (the idle cores; see :mod:`tinynlp.threads`).
        """
        self._require_compiled("fit")
        batch_size, verbose = check_fit_args(batch_size, epochs, verbose, class_weight)
        train, val = self._fit_data(x, y, sample_weight, validation_split, validation_data)
        require_samples(train, "fit")
        ctx = self._distributed_context() if distributed else None
        if ctx is not None and not isinstance(train, ArrayData):
            raise ValueError("fit(distributed=True) shards array inputs by sample; for a batch "
                             "iterable, shard the data yourself and use fit(distributed=False) "
                             "with model._gradient_hooks")
        steps = steps_per_epoch_of(train, batch_size, steps_per_epoch, ctx, initial_epoch)
        history = History()
        cbs = [ProgressBar(verbose)] if verbose else []
        cbs += list(callbacks or [])
        cbs.append(history)
        cblist = CallbackList(cbs, model=self, is_root=ctx is None or ctx.is_root,
                              params={"epochs": epochs, "steps": steps, "verbose": verbose,
                                      "batch_size": batch_size})
        run = FitRun(epochs, steps, batch_size, shuffle, steps_per_epoch, class_weight, ctx,
                      cblist, [cb for cb in cblist if isinstance(cb, TerminateOnNaN)])
        self.history = history
        self.stop_training = False
        if ctx is not None:
            self._build_on(train)
            ctx.broadcast_weights(self)
            self._gradient_hooks.append(ctx.allreduce_gradients)
        try:
            with threads.limit():    # the idle cores' thread count (see tinynlp.threads)
                cblist.on_train_begin()
                for epoch in range(initial_epoch, epochs):
                    logs = self._train_epoch(epoch, train, run)
                    if val is not None:
                        val_logs = self._evaluate_data(val, validation_batch_size or batch_size)
                        logs.update({"val_" + k: v for k, v in val_logs.items()})
                    cblist.on_epoch_end(epoch, logs)
                    if self.stop_training:
                        break
                cblist.on_train_end()
        finally:
            if ctx is not None:
                self._gradient_hooks.remove(ctx.allreduce_gradients)
        return history

    def _fit_data(self, x, y, sample_weight, validation_split, validation_data):
        """(training data, validation data or None) from fit's arguments."""
        train = make_data(x, y, sample_weight, "fit")
        if validation_data is not None:
            return train, self._validation_data(validation_data)
        if validation_split:
            if not isinstance(train, ArrayData):
                raise ValueError("fit: validation_split needs array inputs; pass "
                                 "validation_data with a batch iterable")
            return train.split_last(validation_split)
        return train, None

    def _validation_data(self, validation_data):
        if isinstance(validation_data, tuple) and len(validation_data) in (2, 3) and \
                not isinstance(validation_data[0], tuple):
            vx, vy = validation_data[0], validation_data[1]
            vsw = validation_data[2] if len(validation_data) == 3 else None
            return make_data(vx, vy, vsw, "fit: validation_data")
        return make_data(validation_data, None, None, "fit: validation_data")

    def _build_on(self, data):
        """Build the weights by a forward pass on one sample (before broadcasting them)."""
        if self.built and self.weights:
            return
        if isinstance(data, ArrayData):
            first = next(data.batches(1))
            with no_grad():
                self._forward(first.x, False, None)

    def _epoch_batches(self, epoch, train, run):
        """This epoch's batches: shuffled (or this rank's shard) for array data."""
        if not isinstance(train, ArrayData):
            return train.batches()
        if run.ctx is not None:
            seed = tn_random.next_seed()  # drawn on every rank; rank 0's is used
            indices = run.ctx.shard_indices(train.n, epoch, seed, shuffle=bool(run.shuffle))
        elif run.shuffle:
            indices = tn_random.get_rng().permutation(train.n)
        else:
            indices = None
        return train.batches(run.batch_size, indices)

    def _train_epoch(self, epoch, train, run):
        for m in self.compiled_metrics:
            m.reset_state()
        run.callbacks.on_epoch_begin(epoch)
        loss_sum, seen = 0.0, 0
        for b, batch in enumerate(self._epoch_batches(epoch, train, run)):
            if run.steps_per_epoch is not None and b >= run.steps_per_epoch:
                break
            run.callbacks.on_batch_begin(b)
            value, n = self._train_step(batch, run.class_weight)
            loss_sum += value * n
            seen += n
            if not math.isfinite(value):
                self._stop_on_nan(value, epoch, b, run)
                break
            run.callbacks.on_batch_end(b, self._logs(loss_sum, seen))
            if self.stop_training:
                break
        logs = self._logs(loss_sum, seen)
        if run.ctx is not None:
            logs = run.ctx.allreduce_mean(logs, seen)
            logs = {k: logs[k] for k in self._logs(loss_sum, seen)}  # keep Keras' key order
        return logs

    def _stop_on_nan(self, value, epoch, b, run):
        """A NaN / infinite loss: raise, or (with TerminateOnNaN callbacks) stop training."""
        where = (f"epoch {epoch + 1} (of {run.epochs}), batch {b + 1}"
                 + (f" (of {run.steps})" if run.steps else ""))
        message = (f"fit: the loss became {value} at {where}; the update was not "
                   "applied. Common causes: a learning rate too high (try 10x lower "
                   "or clipnorm=1.0), log of 0 in a custom loss, or NaN/inf in the "
                   "inputs or targets.")
        if not run.nan_handlers:
            raise FloatingPointError(message)
        for h in run.nan_handlers:
            h.on_nan(epoch, b, message)
        self.stop_training = True

    def _logs(self, loss_sum, seen):
        logs = {"loss": loss_sum / seen if seen else float("nan")}
        for m in self.compiled_metrics:
            logs[m.name] = float(m.result())
        return logs

    # ---- evaluate / predict ------------------------------------------------------------
    def _evaluate_data(self, data, batch_size, progress=None):
        for m in self.compiled_metrics:
            m.reset_state()
        loss_sum, seen = 0.0, 0
        batches = data.batches(batch_size) if isinstance(data, ArrayData) else data.batches()
        with no_grad():
            for b, batch in enumerate(batches):
                y_pred = self._forward(batch.x, False, batch.mask)
                total, y, mask = self._compute_loss(batch, y_pred, None)
                n = len(y)
                loss_sum += float(total.data) * n
                seen += n
                self._update_metrics(y, y_pred.data, mask)
                if progress is not None:
                    progress.on_batch_end(b, self._logs(loss_sum, seen))
        return self._logs(loss_sum, seen)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 return_dict=False):
        """Loss and metrics on the given data (no updates, dropout off).

        ``verbose``: as :meth:`fit` (``"auto"``: a bar on a terminal, one line elsewhere).

        Returns the loss if there are no metrics, else ``[loss, *metrics]``
        (``return_dict=True``: ``{"loss": ..., "accuracy": ...}``).
        """
        self._require_compiled("evaluate")
        batch_size = check_batch_size(batch_size, "evaluate")
        data = make_data(x, y, sample_weight, "evaluate")
        require_samples(data, "evaluate")
        progress = None
        verbose = resolve_verbose(verbose, what="evaluate: verbose")
        if verbose:
            progress = ProgressBar(verbose, epoch_header=False)
            steps = data.num_batches(batch_size) if isinstance(data, ArrayData) else \
                data.num_batches()
            progress.set_params({"epochs": 1, "steps": steps})
            progress.on_epoch_begin(0)
        logs = self._evaluate_data(data, batch_size, progress)
        if progress is not None:
            progress.on_epoch_end(0, logs)
        if return_dict:
            return logs
        values = [logs["loss"]] + [logs[m.name] for m in self.compiled_metrics]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose=0):
        """Outputs for ``x`` batch by batch (no graph, dropout off); works before compile.

        Returns one array (batches concatenated); if a batch iterable yields
        batches of different lengths, a list of per-batch arrays.
        """
        batch_size = check_batch_size(batch_size, "predict")
        data = make_data(x, None, None, "predict")
        outs = []
        batches = data.batches(batch_size) if isinstance(data, ArrayData) else data.batches()
        with no_grad():
            for batch in batches:
                out = self._forward(batch.x, False, batch.mask)
                outs.append(out.data)
        if not outs:
            return np.zeros((0,))
        if all(o.shape[1:] == outs[0].shape[1:] for o in outs):
            return np.concatenate(outs, axis=0)
        return outs

    # ---- distributed ---------------------------------------------------------------
    @staticmethod
    def _distributed_context():
        try:
            import mpi4py  # noqa: F401
        except ImportError:
            raise ImportError("fit(distributed=True) needs mpi4py and an MPI runtime: "
                              "pip install mpi4py mpich, then run the script with "
                              "mpirun -n 2 python train.py") from None
        return DistributedContext.from_environment()

    # ---- summary ------------------------------------------------------------------------
    def _summary_layers(self):
        """The layers ``summary()`` lists (Sequential: its stack)."""
        return self._sublayers()

    def summary(self, line_length=None, print_fn=None):
        """Print each layer's name (type), output shape and parameter count, then totals."""
        print_fn = print_fn or print
        if not self.built:
            self._try_build()
        for line in summary_lines(self, self._summary_layers(), line_length):
            print_fn(line)

    def _try_build(self):
        """Build from a known input shape, if any (Sequential knows its input_shape)."""

    # ---- save / load -----------------------------------------------------------------
    def save(self, filepath, overwrite=True, include_optimizer=True, epoch=None):
        """Write architecture, weights, optimizer and RNG state to one ``.tnz`` file (atomic)."""
        saving.save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer,
                   epoch=epoch)

    def save_weights(self, filepath, overwrite=True):
        """Write only the weights (a ``.tnz`` zip of ``.npy`` arrays + a JSON manifest)."""
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        """Load weights saved by :meth:`save_weights` or :meth:`save` (shapes checked)."""
        saving.load_weights(self, filepath)

    def get_config(self):
        return super().get_config()

    def to_json(self, **kwargs) -> str:
        """The architecture as a JSON string (no weights), Keras' ``to_json``: rebuild it with
        ``tn.models.model_from_json``.  ``kwargs`` go to ``json.dumps`` (e.g. ``indent=2``)."""
        architecture = {"class_name": type(self).__name__, "config": self.get_config(),
                        "tinynlp_version": __version__}
        try:
            return json.dumps(architecture, **kwargs)
        except TypeError as e:
            raise TypeError(f"to_json: the model's get_config() is not JSON-serialisable ({e}); "
                            "give your layers a get_config of numbers, strings and lists") \
                from None

    @classmethod
    def from_config(cls, config):
        try:
            return cls(**config)
        except TypeError:
            model = cls()
            if "name" in config:
                model.name = config["name"]
            return model
