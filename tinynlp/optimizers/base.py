"""``Optimizer``: the shared machinery of every update rule.

An optimizer updates parameters in place from their ``.grad``::

    opt = tn.optimizers.Adam(learning_rate=1e-3)
    loss.backward()
    opt.step(model.trainable_weights)     # p.data updated in place
    opt.zero_grad(model.trainable_weights)

A subclass writes its rule twice, side by side:

- ``_update_dense(w, g, state, lr, t)``: the textbook rule on whole arrays,
  written with in-place ufuncs (``out=``) into preallocated state and a
  scratch buffer, so a step allocates no new parameter-sized arrays;
- ``_update_rows(w, rows, g_rows, state, lr, t)``: the same rule applied only
  to the rows an embedding lookup touched (``g`` a row-sparse gradient).

``t`` is the 1-based step number (``iterations + 1``) used by bias
corrections; ``lr`` the learning rate for this step (a float, or the value of
a schedule at ``iterations``).

Step pipeline: keep the parameters that are trainable and have a gradient →
coalesce row-sparse gradients → clip (``clipvalue`` | ``clipnorm`` |
``global_clipnorm``) → update each parameter → ``iterations += 1``.

Weight decay (λ = ``weight_decay``) applies to every parameter except those
named in :meth:`Optimizer.exclude_from_weight_decay` (Keras' method): the
usual choice for a Transformer decays the matrices only, not biases,
LayerNorm's γ and β or embeddings::

    opt = tn.optimizers.AdamW(3e-4, weight_decay=0.1)
    opt.exclude_from_weight_decay(var_names=["bias", "gamma", "beta", "embeddings"])
"""

from __future__ import annotations

import numpy as np

from ..autograd.tensor import RowSparseGrad
from . import clipping
from .schedules import LearningRateSchedule
from .schedules import deserialize as deserialize_schedule


def _check_nonneg(name, value, cls):
    if not isinstance(value, (int, float, np.floating, np.integer)) or value < 0:
        raise ValueError(f"{cls}: {name} must be a non-negative number, got {value!r}")
    return float(value)


class Optimizer:
    """Base class: learning rate (float or schedule), clipping, state, sparse rows.

    Subclasses list their slot names in ``_slot_names`` and implement
    ``_update_dense`` / ``_update_rows``.  ``lazy=True`` (default) updates only
    the touched rows of a row-sparse gradient; ``lazy=False`` densifies it
    first (exactly the dense update, slower for big embedding tables).
    """

    _slot_names: tuple = ()

    def __init__(self, learning_rate=0.001, *, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, weight_decay=0.0, lazy=True, name=None):
        cls = type(self).__name__
        set_clips = [k for k, v in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                                    ("global_clipnorm", global_clipnorm)) if v is not None]
        if len(set_clips) > 1:
            raise ValueError(f"{cls}: set at most one of clipnorm, clipvalue, global_clipnorm; "
                             f"got {set_clips}")
        for k in set_clips:
            v = {"clipnorm": clipnorm, "clipvalue": clipvalue,
                 "global_clipnorm": global_clipnorm}[k]
            if not isinstance(v, (int, float, np.floating, np.integer)) or v <= 0:
                raise ValueError(f"{cls}: {k} must be a positive number, got {v!r}")
        self.clipnorm = None if clipnorm is None else float(clipnorm)
        self.clipvalue = None if clipvalue is None else float(clipvalue)
        self.global_clipnorm = None if global_clipnorm is None else float(global_clipnorm)
        self.weight_decay = _check_nonneg("weight_decay", weight_decay, cls)
        self.lazy = bool(lazy)
        self.name = name or cls.lower()
        self.learning_rate = learning_rate
        self.iterations = 0
        self._state: dict = {}     # id(param) -> {slot name: ndarray}
        self._order: list = []     # parameters in the order their state was created
        self._pending = None       # slots restored by set_state() before any parameter was seen
        self._scratch: dict = {}   # (shape, dtype) -> [ndarray, ...] shared work buffers
        self._no_decay_names: tuple = ()   # substrings of parameter names: λ = 0 for them
        self._no_decay_vars: tuple = ()    # exact parameter names (from var_list)

    # ---- which parameters decay ----------------------------------------------
    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        """No weight decay for the parameters in ``var_list`` nor for those whose name
        contains one of the strings in ``var_names`` (as Keras' method of that name).

        Both are kept by name, so they survive ``get_config`` / ``from_config``
        and a saved model's optimizer.  Calls add to the earlier ones.
        """
        cls = type(self).__name__
        if var_names is not None:
            if isinstance(var_names, str) or not all(isinstance(n, str) and n
                                                     for n in var_names):
                raise ValueError(f"{cls}.exclude_from_weight_decay: var_names must be a list "
                                 f"of non-empty strings, got {var_names!r}")
            self._no_decay_names += tuple(n for n in var_names if n not in self._no_decay_names)
        if var_list is not None:
            names = []
            for v in var_list:
                name = getattr(v, "name", None)
                if not isinstance(name, str) or not name:
                    raise ValueError(f"{cls}.exclude_from_weight_decay: var_list must hold "
                                     f"named parameters, got {type(v).__name__}")
                names.append(name)
            self._no_decay_vars += tuple(n for n in names if n not in self._no_decay_vars)

    def decays(self, p) -> bool:
        """Whether weight decay applies to parameter ``p`` (see :meth:`exclude_from_weight_decay`)."""
        name = getattr(p, "name", None) or ""
        if name in self._no_decay_vars:
            return False
        return not any(n in name for n in self._no_decay_names)

    # ---- learning rate ------------------------------------------------------
    @property
    def learning_rate(self) -> float:
        """The learning rate of the next step (a schedule is evaluated at ``iterations``)."""
        return self.lr_at(self.iterations)

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, (LearningRateSchedule,)) or (callable(value) and not
                                                          isinstance(value, (int, float))):
            self._lr = value
            return
        if not isinstance(value, (int, float, np.floating, np.integer)) or not value >= 0:
            raise ValueError(f"{type(self).__name__}: learning_rate must be a non-negative "
                             f"number or a schedule, got {value!r}")
        self._lr = float(value)

    @property
    def has_schedule(self) -> bool:
        return not isinstance(self._lr, float)

    def lr_at(self, step: int) -> float:
        return float(self._lr(step)) if self.has_schedule else self._lr

    # ---- buffers ------------------------------------------------------------
    def _slots(self, p) -> dict:
        state = self._state.get(id(p))
        if state is None:
            state = self._init_slots(p.data)
            if self._pending:
                saved = self._pending.pop(0)
                for k, v in saved.items():
                    if k not in state or np.shape(v) != p.data.shape:
                        raise ValueError(f"{type(self).__name__}: restored state slot {k!r} of "
                                         f"shape {np.shape(v)} does not fit parameter "
                                         f"{p.name!r} {p.data.shape}")
                    state[k][...] = v
            self._state[id(p)] = state
            self._order.append(p)
        return state

    def _init_slots(self, w: np.ndarray) -> dict:
        """Zero-initialised state arrays shaped like ``w`` (override for other inits)."""
        return {name: np.zeros_like(w) for name in self._slot_names}

    def _buffer(self, w: np.ndarray, k: int = 0) -> np.ndarray:
        """Scratch array ``k`` shaped like ``w`` (reused across parameters and steps)."""
        key = (w.shape, w.dtype.str)
        bufs = self._scratch.setdefault(key, [])
        while len(bufs) <= k:
            bufs.append(np.empty_like(w))
        return bufs[k]

    # ---- the step -----------------------------------------------------------
    def step(self, params) -> None:
        """Update every trainable parameter that has a gradient, in place."""
        params = [p for p in params if getattr(p, "trainable", True) and p.grad is not None]
        if not params:
            return
        grads = []
        for p in params:
            g = p.grad
            if isinstance(g, RowSparseGrad):
                if g.shape != p.data.shape:
                    raise ValueError(f"{type(self).__name__}.step: row-sparse gradient of "
                                     f"{p.name!r} has shape {g.shape}, parameter {p.data.shape}")
                g = g.coalesce()
                if g.values.dtype != p.data.dtype:
                    g = g.astype(p.data.dtype)
                p.grad = g
            else:
                if g.shape != p.data.shape:
                    raise ValueError(f"{type(self).__name__}.step: gradient of {p.name!r} has "
                                     f"shape {g.shape}, parameter {p.data.shape}")
                if g.dtype != p.data.dtype:
                    p.grad = g = g.astype(p.data.dtype)
            grads.append(g)
        if self.clipvalue is not None:
            clipping.clip_by_value(grads, self.clipvalue)
        elif self.clipnorm is not None:
            clipping.clip_by_norm(grads, self.clipnorm)
        elif self.global_clipnorm is not None:
            clipping.clip_by_global_norm(grads, self.global_clipnorm)

        lr = self.lr_at(self.iterations)
        t = self.iterations + 1
        decay = self.weight_decay
        excluding = bool(decay and (self._no_decay_names or self._no_decay_vars))
        try:
            for p, g in zip(params, grads):
                state = self._slots(p)
                if excluding:     # the update rules read self.weight_decay
                    self.weight_decay = decay if self.decays(p) else 0.0
                if isinstance(g, RowSparseGrad):
                    if self.lazy:
                        self._update_rows(p.data, g.indices, g.values, state, lr, t)
                    else:
                        self._update_dense(p.data, g.to_dense(), state, lr, t)
                else:
                    self._update_dense(p.data, g, state, lr, t)
        finally:
            self.weight_decay = decay
        self.iterations += 1

    def zero_grad(self, params) -> None:
        """Forget the gradients of ``params`` (they accumulate until this is called)."""
        for p in params:
            p.grad = None

    def _update_dense(self, w, g, state, lr, t):  # pragma: no cover - abstract
        raise NotImplementedError

    def _update_rows(self, w, rows, g_rows, state, lr, t):  # pragma: no cover - abstract
        raise NotImplementedError

    # ---- shared pieces --------------------------------------------------------
    def _l2_grad(self, w, g, k=1):
        """g + λ·w  (PyTorch-style L2 weight decay folded into the gradient)."""
        if self.weight_decay == 0.0:
            return g
        out = self._buffer(w, k)
        np.multiply(w, self.weight_decay, out=out)
        out += g
        return out

    # ---- state (checkpoints) -----------------------------------------------
    def get_state(self, params=None) -> dict:
        """``{"iterations": int, "slots": [{name: ndarray} per param]}`` in ``params`` order.

        Without ``params``: in the order the optimizer first updated them.
        Parameters that were never updated get an empty dict.  Arrays are copies.
        """
        if params is None:
            params = self._order
        slots = []
        for p in params:
            s = self._state.get(id(p))
            slots.append({} if s is None else {k: v.copy() for k, v in s.items()})
        return {"iterations": int(self.iterations), "slots": slots}

    def set_state(self, state: dict, params=None) -> None:
        """Restore :meth:`get_state` output for the same ``params`` list (shapes checked).

        Without ``params`` (e.g. a fresh optimizer): the slots are given, in
        order, to the parameters as :meth:`step` first meets them.
        """
        slots = state.get("slots", [])
        cls = type(self).__name__
        if params is None:
            if self._order:
                params = self._order
            else:
                self._pending = [dict(s) for s in slots]
                self._state = {}
                self.iterations = int(state.get("iterations", 0))
                return
        params = list(params)
        if len(slots) != len(params):
            raise ValueError(f"{cls}.set_state: state has {len(slots)} parameter slots, "
                             f"the model has {len(params)} parameters")
        new = {}
        for p, s in zip(params, slots):
            if not s:
                continue
            expected = set(self._slot_names)
            if set(s) != expected:
                raise ValueError(f"{cls}.set_state: parameter {p.name!r} expects slots "
                                 f"{sorted(expected)}, got {sorted(s)}")
            arrays = {}
            for k, v in s.items():
                v = np.asarray(v)
                if v.shape != p.data.shape:
                    raise ValueError(f"{cls}.set_state: slot {k!r} of {p.name!r} expects "
                                     f"shape {p.data.shape}, got {v.shape}")
                arrays[k] = v.astype(p.data.dtype, copy=True)
            new[id(p)] = arrays
        self._state = new
        self._order = [p for p in params if id(p) in new]
        self._pending = None
        self.iterations = int(state.get("iterations", 0))

    # ---- config ---------------------------------------------------------------
    def get_config(self) -> dict:
        if self.has_schedule:
            if not hasattr(self._lr, "get_config"):
                raise TypeError(f"{type(self).__name__}.get_config: the learning rate "
                                f"{self._lr!r} is a plain callable; use a "
                                "tn.optimizers.schedules class to save it")
            lr = {"class_name": type(self._lr).__name__, "config": self._lr.get_config()}
        else:
            lr = self._lr
        config = {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                  "lazy": self.lazy}
        for k in ("clipnorm", "clipvalue", "global_clipnorm"):
            if getattr(self, k) is not None:
                config[k] = getattr(self, k)
        if self._no_decay_names or self._no_decay_vars:
            config["exclude_from_weight_decay"] = {"var_names": list(self._no_decay_names),
                                                   "vars": list(self._no_decay_vars)}
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            config["learning_rate"] = deserialize_schedule(lr)
        exclude = config.pop("exclude_from_weight_decay", None) or {}
        opt = cls(**config)
        opt.exclude_from_weight_decay(var_names=exclude.get("var_names") or None)
        opt._no_decay_vars = tuple(exclude.get("vars") or ())
        return opt

    def __repr__(self):
        return f"{type(self).__name__}(learning_rate={self._lr!r}, iterations={self.iterations})"
