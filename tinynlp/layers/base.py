"""``Layer`` and ``Parameter``: what every layer and model is built from.

A layer owns :class:`Parameter` tensors, creates them lazily in
:meth:`Layer.build` from the first input's shape (or from ``input_shape``),
and computes its output in :meth:`Layer.call` with ops from
:mod:`tinynlp.functional`.  Layers know nothing of training loops.

Weight lists follow Keras' order: the order in which ``build`` calls
:meth:`Layer.add_weight` (e.g. ``[kernel, bias]`` for Dense), and for a layer
containing layers, its own weights then each sub-layer's in attribute order.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np

from ..autograd import Tensor, no_grad
from ._utils import auto_name
from .initializers import get as get_initializer
from .symbolic import symbolic_dispatch
from .weight_guard import active_guard

#: held while a layer builds: a layer called from several threads at once builds once
_BUILD_LOCK = threading.RLock()
_BUILDING = "_tn_building"   # instance attribute: the id of the thread building the layer


class Parameter(Tensor):
    """A trainable tensor owned by a layer.

    ``trainable`` (False freezes it: optimizers skip it and no gradient is
    computed), ``regularizer`` (a callable ``w -> scalar Tensor`` added to the
    loss), ``constraint`` (a callable applied after each optimizer step, e.g. a
    pruning mask), and ``sparse`` (the layer produces row-sparse gradients).
    """

    __slots__ = ("trainable", "regularizer", "constraint", "sparse")

    def __init__(self, data, name=None, trainable=True, regularizer=None, sparse=False):
        data = np.asarray(data)
        if data.dtype.kind != "f":
            raise TypeError(f"Parameter {name!r}: expected a floating dtype, got {data.dtype}")
        super().__init__(data, requires_grad=trainable, name=name, _copy=False)
        self.trainable = bool(trainable)
        self.regularizer = regularizer
        self.constraint = None
        self.sparse = bool(sparse)

    def set_trainable(self, flag: bool):
        self.trainable = bool(flag)
        self.requires_grad = bool(flag)
        if not flag:
            self.grad = None

    def assign(self, value):
        """Replace the values in place (shape and dtype checked)."""
        value = np.asarray(value.data if isinstance(value, Tensor) else value)
        if value.shape != self.data.shape:
            raise ValueError(
                f"assign to {self.name!r}: expected shape {self.data.shape}, got {value.shape}"
            )
        self.data[...] = value

    def __repr__(self):
        return f"Parameter({self.name!r}, shape={self.shape}, dtype={self.dtype})"


def _shape_with_batch(input_shape):
    return (None, *input_shape)


def needs_build(layer) -> bool:
    """True until ``layer`` is built and no thread is still building it."""
    return not layer.built or _BUILDING in layer.__dict__


def build_once(layer, build) -> None:
    """Run ``build()`` for an unbuilt ``layer`` exactly once, even when several threads
    call the layer at the same time: the others wait until it has finished.

    The first check needs no lock; a layer counts as built only once ``built`` is
    set *and* no thread is still inside its ``build`` (some set ``built`` early).
    A layer whose own build calls it again (same thread) goes on without waiting.
    """
    state = layer.__dict__
    if not needs_build(layer):
        return
    me = threading.get_ident()
    if state.get(_BUILDING) == me:
        if not layer.built:
            build()
        return
    with _BUILD_LOCK:
        if not needs_build(layer):
            return
        state[_BUILDING] = me
        try:
            build()
        finally:
            state.pop(_BUILDING, None)


def check_layer_dtype(cls, dtype):
    """``dtype`` as a NumPy dtype a layer of class ``cls`` can use: a weight-holding layer
    (one that defines ``build``) needs a float dtype among ``cls.float_dtypes``."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{cls.__name__}: dtype must be a NumPy dtype name such as 'float32', "
                        f"got {dtype!r}") from None
    if cls.overrides("build") and dt.kind != "f":
        raise TypeError(f"{cls.__name__}: dtype is the dtype of the layer's weights and must be "
                        f"a floating-point type ('float32' or 'float64'), got {dt}")
    if dt.kind == "f" and dt.name not in cls.float_dtypes:
        raise TypeError(f"{cls.__name__}: computes in {' or '.join(cls.float_dtypes)} (its fused "
                        f"kernels are compiled for those), got dtype={dt.name!r}")
    return dt


class Layer:
    """Base class of all layers (and, through :class:`tinynlp.models.Model`, models).

    Subclasses implement ``build(input_shape)`` (create weights with
    :meth:`add_weight`; ``input_shape`` includes the batch axis as ``None`` or
    a number) and ``call(x, training=False, mask=None)``.  Layers that change
    or consume a padding mask override :meth:`compute_mask`; layers that use a
    mask declare ``supports_masking = True``.
    """

    supports_masking = False
    #: at inference (``training=False``) every row of the batch is computed from that row
    #: alone, so a model may run its forward in blocks of the batch on parallel threads
    #: (:class:`tinynlp.workers.BlockChoice`).  Only the class that defines ``call`` can
    #: declare it (:func:`tinynlp.layers._utils.rows_independent`): a subclass that
    #: changes ``call`` (a quantized twin, a user's layer) is not trusted with it.
    rows_independent_at_inference = False
    #: the float dtypes the layer can compute in; layers whose ops run Numba kernels
    #: (compiled for float32 and float64) leave float16 out, so it is refused up front
    float_dtypes = ("float16", "float32", "float64")

    def __init_subclass__(cls, **kwargs):
        # A layer called on symbolic tensors (from tn.Input) records a graph node instead
        # of computing: every __call__, also a subclass's own, goes through that check.
        super().__init_subclass__(**kwargs)
        if "__call__" in cls.__dict__:
            cls.__call__ = symbolic_dispatch(cls.__dict__["__call__"])

    @classmethod
    def overrides(cls, method_name) -> bool:
        """True when ``cls`` defines its own ``method_name`` instead of :class:`Layer`'s."""
        return getattr(cls, method_name) is not getattr(Layer, method_name)

    def __init__(self, name=None, trainable=True, input_shape=None, dtype=None,
                 input_dim=None, **kwargs):
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}: unexpected keyword argument(s) {sorted(kwargs)}"
            )
        self.name = name or auto_name(type(self).__name__)
        self._trainable = bool(trainable)
        if input_shape is None and input_dim is not None:
            input_shape = (input_dim,)
        self.input_shape = None if input_shape is None else tuple(input_shape)
        self.dtype = check_layer_dtype(type(self), "float32" if dtype is None else dtype)
        self._dtype_given = dtype is not None   # else a model's dtype may set it (see Model)
        self.built = False
        self._params = []  # own Parameters in creation order

    # ---- weights ------------------------------------------------------------
    def add_weight(self, name, shape, initializer="glorot_uniform", trainable=True,
                   regularizer=None, dtype=None, sparse=False) -> Parameter:
        """Create, register and return a Parameter (Keras' ``add_weight``).

        While a checkpoint is being loaded, the active
        :class:`~tinynlp.layers.weight_guard.WeightGuard` checks the shape against
        the file before anything is allocated (and the values come from the file).
        """
        dtype = np.dtype(dtype or self.dtype)
        guard = active_guard()
        if guard is not None:
            values = guard.check_weight(f"{self.name}/{name}", shape, dtype)
        else:
            values = get_initializer(initializer)(tuple(shape), dtype)
        p = Parameter(values.astype(dtype, copy=False), name=f"{self.name}/{name}",
                      trainable=trainable and self._trainable, regularizer=regularizer,
                      sparse=sparse)
        self._params.append(p)
        return p

    def _sublayers(self):
        """Layers held in attributes (directly or in lists/tuples), in attribute order."""
        out = []
        for value in vars(self).values():
            if isinstance(value, Layer):
                out.append(value)
            elif isinstance(value, (list, tuple)):
                out.extend(v for v in value if isinstance(v, Layer))
        return out

    @property
    def weights(self) -> list:
        """All parameters, Keras order (own weights first, then sub-layers')."""
        seen, out = set(), []
        for p in self._params + [w for layer in self._sublayers() for w in layer.weights]:
            if id(p) not in seen:
                seen.add(id(p))
                out.append(p)
        return out

    @property
    def trainable_weights(self) -> list:
        return [p for p in self.weights if p.trainable]

    @property
    def non_trainable_weights(self) -> list:
        return [p for p in self.weights if not p.trainable]

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, flag: bool):
        self._trainable = bool(flag)
        for p in self._params:
            p.set_trainable(flag)
        for layer in self._sublayers():
            layer.trainable = flag

    def count_params(self) -> int:
        return int(sum(p.size for p in self.weights))

    def get_weights(self) -> list:
        """Copies of the weights as ndarrays, in Keras order."""
        return [p.data.copy() for p in self.weights]

    def set_weights(self, weights) -> None:
        """Set weights from a list of arrays in :meth:`get_weights` order (shapes checked)."""
        params = self.weights
        weights = list(weights)
        if len(weights) != len(params):
            raise ValueError(
                f"{self.name}.set_weights: expected a list of {len(params)} arrays "
                f"({[p.shape for p in params]}), got {len(weights)}"
            )
        for p, w in zip(params, weights):
            w = np.asarray(w)
            if w.shape != p.shape:
                raise ValueError(
                    f"{self.name}.set_weights: weight {p.name!r} expects shape {p.shape}, "
                    f"got {w.shape}"
                )
        for p, w in zip(params, weights):
            p.data[...] = np.asarray(w, dtype=p.dtype)

    def regularization_losses(self) -> list:
        """The penalty terms (scalar Tensors) of every regularized parameter."""
        return [p.regularizer(p) for p in self.weights if p.regularizer is not None]

    # ---- computing ----------------------------------------------------------
    def build(self, input_shape) -> None:
        """Create weights for inputs of ``input_shape`` (batch axis included)."""
        self.built = True

    def call(self, x, training=False, mask=None):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement call()")

    def compute_mask(self, x, mask=None):
        """The mask passed on to the next layer (default: unchanged if supported, else None)."""
        return mask if self.supports_masking else None

    def reset_states(self):
        """Forget what a stateful layer carries from one call to the next (Keras'
        ``reset_states``): a stateful RNN's states, in this layer or any it holds."""
        for layer in self._sublayers():
            layer.reset_states()

    def _warn_dropped_mask(self, mask):
        """Keras' warning when a mask reaches a layer that cannot use it: the mask stops
        here (e.g. a Conv1D after ``Embedding(mask_zero=True)``: a global max pool after it
        then sees the padding too)."""
        if mask is not None and not self.supports_masking and \
                not type(self).overrides("compute_mask"):
            warnings.warn(
                f"Layer {self.name!r} (of type {type(self).__name__}) was passed an input with "
                "a mask, but it does not support masking: the mask stops here and the layers "
                "after it will not see it (the padded steps count as data from here on)",
                UserWarning, stacklevel=3)

    def compute_output_shape(self, input_shape):
        """Output shape (batch axis included); default: computed by a dry run."""
        shape = tuple(2 if d is None else d for d in input_shape)
        with no_grad():
            out = self(np.zeros(shape, dtype=self.dtype), training=False)
        out_shape = out[0].shape if isinstance(out, (list, tuple)) else out.shape
        return (input_shape[0], *out_shape[1:])

    @symbolic_dispatch
    def __call__(self, x, training=False, mask=None, **kwargs):
        if needs_build(self):
            build_once(self, lambda: self._build_for(x))
        if self.supports_masking:
            return self.call(x, training=training, mask=mask, **kwargs)
        self._warn_dropped_mask(mask)
        return self.call(x, training=training, **kwargs)

    def _build_for(self, x):
        shape = x.shape if hasattr(x, "shape") else np.shape(x)
        self.build(tuple(shape))
        self.built = True

    # ---- config (for saving architectures as JSON) ---------------------------
    def get_config(self) -> dict:
        """JSON-serialisable constructor arguments; subclasses extend it."""
        config = {"name": self.name, "trainable": self._trainable, "dtype": self.dtype.name}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"
