"""``Callback``: hooks the training loop calls, and ``CallbackList`` that dispatches them.

``fit`` calls, in order::

    on_train_begin(logs)
      on_epoch_begin(epoch, logs)
        on_batch_begin(batch, logs) / on_batch_end(batch, logs)     per batch
      on_epoch_end(epoch, logs)        logs: {"loss": …, "accuracy": …, "val_loss": …}
    on_train_end(logs)

``epoch`` and ``batch`` are 0-based (printed 1-based).  A callback stops
training by setting ``self.model.stop_training = True``.  ``root_only = True``
marks callbacks that write files or print (checkpoints, CSV logs, the
progress bar): in a distributed run only rank 0 runs them.
"""

from __future__ import annotations


class Callback:
    """Base class; override the hooks you need.  ``self.model`` and ``self.params``
    (``{"epochs", "steps", "verbose"}``) are set by ``fit``."""

    root_only = False

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = dict(params)

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_batch_begin(self, batch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    # Keras' longer names, for callbacks written against Keras
    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)


class CallbackList:
    """Calls each hook on every callback, in order."""

    def __init__(self, callbacks=(), model=None, params=None, is_root=True):
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks: expected tinynlp.callbacks.Callback objects, got "
                                f"{type(cb).__name__}")
        self.callbacks = [cb for cb in callbacks if is_root or not cb.root_only]
        for cb in self.callbacks:
            if model is not None:
                cb.set_model(model)
            if params is not None:
                cb.set_params(params)

    def __iter__(self):
        return iter(self.callbacks)

    def _call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_batch_begin(self, batch, logs=None):
        for cb in self.callbacks:
            cb.on_train_batch_begin(batch, logs)

    def on_batch_end(self, batch, logs=None):
        for cb in self.callbacks:
            cb.on_train_batch_end(batch, logs)
