"""Magnitude pruning: set the smallest weights to zero and keep them there.

Unstructured pruning
--------------------
Weights are ranked by magnitude ``|w|`` and the ``amount`` fraction with the
smallest magnitudes become zero — per weight matrix (``scope="layer"``: every
kernel loses the same fraction) or over all selected weights at once
(``scope="global"``: one threshold, so layers with many small weights lose
more).  ``amount`` is the *target sparsity*: weights that are already zero
count towards it, so pruning 50 % and then 80 % ends at 80 %, not 90 %.

Structured pruning
------------------
``structured=True`` removes whole output units instead: a column of a Dense
kernel (and its bias), a filter of a Conv1D kernel, or a hidden unit of an
RNN (its columns in every gate of ``kernel``, ``recurrent_kernel`` and
``bias``, and its row of ``recurrent_kernel``).  Units are ranked by the L2
norm of their weights, ``‖w_unit‖₂``; with ``scope="global"`` by the RMS
``‖w_unit‖₂ / √n`` so that layers of different fan-in compare fairly.
A pruned LSTM/GRU/RNN unit keeps a zero state and outputs exactly zero.

Keeping weights pruned
----------------------
Each pruned parameter gets a :class:`PruningMask` as its ``constraint``; the
training loop applies constraints after every optimizer step, so a pruned
weight is put back to exactly zero whatever its gradient (or its optimizer's
momentum) did.  :class:`PolynomialDecaySparsity` is the gradual schedule of
Zhu & Gupta (2017) as a callback.

Sparse storage (:func:`save_pruned` / :func:`load_pruned`, CSR in a ``.npz``)
lives in :mod:`tinynlp.compress.sparse_storage`.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.tensor import RowSparseGrad
from ..callbacks import Callback
from ._utils import owned_parameters, short_name

__all__ = [
    "prune_magnitude", "PruningMask", "remove_pruning", "pruning_masks", "zero_pruned_gradients",
    "polynomial_decay_sparsity", "PolynomialDecaySparsity",
    "sparsity", "sparsity_stats", "sparsity_report", "install_mask", "install_gradient_hook",
]

DEFAULT_INCLUDE = ("kernel", "recurrent_kernel")


# --------------------------------------------------------------------------
# masks as constraints
# --------------------------------------------------------------------------

class PruningMask:
    """A ``Parameter.constraint`` that zeroes the pruned weights: ``w ↦ w ⊙ m``.

    ``mask`` is a boolean array (True = kept).  An existing constraint of the
    parameter (``inner``) is applied first, then the mask.
    """

    def __init__(self, mask, inner=None):
        self.mask = np.asarray(mask, dtype=bool)
        self.inner = inner

    def __call__(self, w):
        if self.inner is not None:
            w = self.inner(w)
        return np.where(self.mask, w, np.zeros((), dtype=w.dtype))

    @property
    def sparsity(self) -> float:
        return 1.0 - float(self.mask.mean()) if self.mask.size else 0.0

    def __repr__(self):
        return f"PruningMask(shape={self.mask.shape}, sparsity={self.sparsity:.3f})"


def install_mask(p, mask):
    """Zero the pruned entries of ``p`` and make the mask stick (as its constraint)."""
    mask = np.asarray(mask, dtype=bool)
    if isinstance(p.constraint, PruningMask):
        p.constraint.mask = mask
    else:
        p.constraint = PruningMask(mask, inner=p.constraint)
    p.data[...] = np.where(mask, p.data, np.zeros((), dtype=p.data.dtype))
    if p.grad is not None and isinstance(p.grad, np.ndarray):
        p.grad = np.where(mask, p.grad, np.zeros((), dtype=p.grad.dtype))


def zero_pruned_gradients(params):
    """Set the gradient of every pruned weight to zero (a gradient hook).

    Run before the optimizer step, it keeps pruned weights out of momentum and
    adaptive statistics and out of gradient-norm clipping; the mask constraint
    after the step then only has to undo what weight decay might do.
    Row-sparse (embedding) gradients are masked row by row.
    """
    for p in params:
        c = getattr(p, "constraint", None)
        if not isinstance(c, PruningMask) or p.grad is None:
            continue
        g = p.grad
        if isinstance(g, np.ndarray):
            g *= c.mask
        elif isinstance(g, RowSparseGrad):
            rows = c.mask[g.indices].reshape(g.values.shape)
            g.values = g.values * rows


def install_gradient_hook(model):
    """Register :func:`zero_pruned_gradients` with a model's training step (once)."""
    hooks = getattr(model, "_gradient_hooks", None)
    if isinstance(hooks, list) and zero_pruned_gradients not in hooks:
        hooks.append(zero_pruned_gradients)


def pruning_masks(model) -> dict:
    """``{parameter name: bool mask}`` of every parameter with a :class:`PruningMask`."""
    return {p.name: p.constraint.mask for _, p in owned_parameters(model)
            if isinstance(p.constraint, PruningMask)}


def remove_pruning(model):
    """Drop the masks (the zeros stay; they may move again in further training)."""
    for _, p in owned_parameters(model):
        if isinstance(p.constraint, PruningMask):
            p.constraint = p.constraint.inner
    return model


# --------------------------------------------------------------------------
# choosing weights
# --------------------------------------------------------------------------

def _selector(include):
    """A predicate ``(layer, param) -> bool`` from ``include``."""
    if include is None:
        include = DEFAULT_INCLUDE
    if callable(include):
        return include
    if isinstance(include, str):
        include = (include,)
    names = set(include)

    def pick(layer, p):
        return short_name(p) in names or p.name in names or layer.name in names
    return pick


def _selected(model, include):
    pick = _selector(include)
    out = [(layer, p) for layer, p in owned_parameters(model)
           if p.data.dtype.kind == "f" and p.data.size > 0 and pick(layer, p)]
    if not out:
        raise ValueError(
            f"prune_magnitude: no weight of the model matches include={include!r} "
            f"(default: {list(DEFAULT_INCLUDE)}); weights: "
            f"{[p.name for _, p in owned_parameters(model)]}"
        )
    return out


def _check_amount(amount):
    if isinstance(amount, bool) or not isinstance(amount, (int, float, np.floating, np.integer)):
        raise TypeError(f"prune_magnitude: amount must be a number in [0, 1), got {amount!r}")
    amount = float(amount)
    if not 0.0 <= amount < 1.0:
        raise ValueError(f"prune_magnitude: amount must be in [0, 1) (the fraction of weights "
                         f"set to zero), got {amount}")
    return amount


def magnitude_mask(w, amount):
    """Keep-mask pruning the ``round(amount · n)`` smallest ``|w|`` (ties: by position)."""
    w = np.asarray(w)
    k = int(round(amount * w.size))
    mask = np.ones(w.size, dtype=bool)
    if k > 0:
        order = np.argsort(np.abs(w).ravel(), kind="stable")
        mask[order[:k]] = False
    return mask.reshape(w.shape)


# --------------------------------------------------------------------------
# unstructured
# --------------------------------------------------------------------------

def _prune_unstructured(selected, amount, scope):
    if scope == "layer":
        for _, p in selected:
            install_mask(p, magnitude_mask(p.data, amount))
        return
    flat = np.concatenate([np.abs(p.data).astype(np.float64).ravel() for _, p in selected])
    keep = magnitude_mask(flat, amount)
    start = 0
    for _, p in selected:
        install_mask(p, keep[start:start + p.size].reshape(p.shape))
        start += p.size


# --------------------------------------------------------------------------
# structured
# --------------------------------------------------------------------------

class _UnitGroup:
    """The weights of one layer's output units: which entries belong to unit j."""

    def __init__(self, layer, params):
        self.layer = layer
        self.params = params  # short name -> Parameter
        kernel = params.get("kernel")
        rec = params.get("recurrent_kernel")
        if rec is not None:
            self.units = rec.shape[0]
            self.gates = rec.shape[1] // rec.shape[0]
        else:
            main = kernel if kernel is not None else next(iter(params.values()))
            self.units = main.shape[-1]
            self.gates = 1

    def _unit_columns(self, j):
        return [g * self.units + j for g in range(self.gates)]

    def scores(self, normalize):
        """L2 norm (or RMS) of each unit's weights (kernel columns, recurrent columns)."""
        sq = np.zeros(self.units)
        count = 0
        for name, p in self.params.items():
            if name == "bias":
                continue
            w = p.data.astype(np.float64)
            cols = w.reshape(-1, w.shape[-1]) ** 2
            per_col = cols.sum(axis=0)  # (gates·units,)
            sq += per_col.reshape(self.gates, self.units).sum(axis=0)
            count += cols.shape[0] * self.gates
        norms = np.sqrt(sq)
        return norms / math.sqrt(max(count, 1)) if normalize else norms

    def masks(self, pruned_units):
        out = {}
        cols = np.ones(self.gates * self.units, dtype=bool)
        for j in pruned_units:
            cols[self._unit_columns(j)] = False
        for name, p in self.params.items():
            m = np.broadcast_to(cols, p.shape).copy()
            if name == "recurrent_kernel":
                m[list(pruned_units), :] = False
            out[name] = m
        return out


def _unit_groups(model, selected):
    by_layer = {}
    for layer, p in selected:
        by_layer.setdefault(id(layer), (layer, {}))[1][short_name(p)] = p
    groups = []
    for layer, params in by_layer.values():
        # the bias of a pruned unit goes too (the unit is then exactly zero)
        for extra in ("bias",):
            bias = getattr(layer, extra, None)
            if bias is not None and hasattr(bias, "data") and bias.data.dtype.kind == "f" \
                    and extra not in params:
                params[extra] = bias
        if "kernel" not in params and "recurrent_kernel" not in params and len(params) > 1:
            raise ValueError(
                f"prune_magnitude(structured=True): cannot tell the units of layer "
                f"{layer.name!r} from weights {sorted(params)}"
            )
        groups.append(_UnitGroup(layer, params))
    return groups


def _prune_structured(model, selected, amount, scope):
    groups = _unit_groups(model, selected)
    if scope == "layer":
        for g in groups:
            scores = g.scores(normalize=False)
            pruned = np.flatnonzero(~magnitude_mask(scores, amount))
            for name, m in g.masks(pruned).items():
                install_mask(g.params[name], m)
        return
    scores = np.concatenate([g.scores(normalize=True) for g in groups])
    keep = magnitude_mask(scores, amount)
    start = 0
    for g in groups:
        pruned = np.flatnonzero(~keep[start:start + g.units])
        start += g.units
        for name, m in g.masks(pruned).items():
            install_mask(g.params[name], m)


# --------------------------------------------------------------------------
# the public entry point
# --------------------------------------------------------------------------

def prune_magnitude(model, amount=0.5, scope="global", structured=False, include=None):
    """Prune ``model`` in place by weight magnitude; returns ``model``.

    ``amount``: target fraction of the selected weights (or units) that are
    zero afterwards, in [0, 1).  ``scope``: ``"global"`` (one threshold over all
    selected weights) or ``"layer"`` (each weight matrix separately).
    ``structured``: prune whole output units / filters by L2 norm instead of
    single weights.  ``include``: which weights — by default kernels only
    (``"kernel"``, ``"recurrent_kernel"``: not biases, not embeddings); else an
    iterable of short weight names (``"embeddings"``, ``"bias"``), full names
    (``"dense/kernel"``) or layer names, or a predicate ``(layer, param) -> bool``.

    The zeros are enforced after every optimizer step through
    ``Parameter.constraint`` (:class:`PruningMask`), and a model's training
    step also zeroes their gradients before the step
    (:func:`zero_pruned_gradients`, registered as a gradient hook).  The model
    must be built.
    """
    amount = _check_amount(amount)
    if scope not in ("global", "layer"):
        raise ValueError(f"prune_magnitude: scope must be 'global' or 'layer', got {scope!r}")
    selected = _selected(model, include)
    if structured:
        _prune_structured(model, selected, amount, scope)
    else:
        _prune_unstructured(selected, amount, scope)
    install_gradient_hook(model)
    return model


# --------------------------------------------------------------------------
# gradual pruning (Zhu & Gupta 2017)
# --------------------------------------------------------------------------

def polynomial_decay_sparsity(step, final_sparsity, initial_sparsity=0.0, begin_step=0,
                              end_step=1000, power=3):
    """s_t = s_f + (s_i − s_f) · (1 − (t − t₀) / (n·Δt))³   for t₀ ≤ t ≤ t₀ + n·Δt

    (Zhu & Gupta, "To prune, or not to prune", 2017): sparsity rises fast while
    the network has many redundant weights and slowly as it approaches the
    target.  ``n·Δt = end_step − begin_step``; before ``begin_step`` the
    sparsity is ``s_i``, after ``end_step`` it is ``s_f``.
    """
    if end_step <= begin_step:
        raise ValueError(f"polynomial_decay_sparsity: end_step ({end_step}) must be greater "
                         f"than begin_step ({begin_step})")
    frac = min(max((step - begin_step) / (end_step - begin_step), 0.0), 1.0)
    return final_sparsity + (initial_sparsity - final_sparsity) * (1.0 - frac) ** power


class PolynomialDecaySparsity(Callback):
    """Gradual pruning during ``fit``: every ``frequency`` optimizer steps between
    ``begin_step`` and ``end_step``, prune to the sparsity of the Zhu & Gupta
    schedule (:func:`polynomial_decay_sparsity`); the masks keep pruned weights
    at zero in between.  ``scope``, ``structured`` and ``include`` are passed to
    :func:`prune_magnitude`.
    """

    def __init__(self, final_sparsity, end_step, initial_sparsity=0.0, begin_step=0,
                 frequency=100, power=3, scope="layer", structured=False, include=None):
        super().__init__()
        _check_amount(final_sparsity)
        _check_amount(initial_sparsity)
        if frequency < 1:
            raise ValueError(f"PolynomialDecaySparsity: frequency must be >= 1, got {frequency}")
        self.final_sparsity = float(final_sparsity)
        self.initial_sparsity = float(initial_sparsity)
        self.begin_step = int(begin_step)
        self.end_step = int(end_step)
        polynomial_decay_sparsity(0, 0.5, 0.0, self.begin_step, self.end_step)  # validate
        self.frequency = int(frequency)
        self.power = power
        self.scope, self.structured, self.include = scope, structured, include
        self.step = 0
        self.history = []  # (step, sparsity) at each pruning

    def target(self, step):
        return polynomial_decay_sparsity(step, self.final_sparsity, self.initial_sparsity,
                                         self.begin_step, self.end_step, self.power)

    def prune_now(self, model):
        s = self.target(self.step)
        prune_magnitude(model, amount=s, scope=self.scope, structured=self.structured,
                        include=self.include)
        self.history.append((self.step, s))

    def on_train_begin(self, logs=None):
        if self.step == 0 and self.begin_step == 0 and self.initial_sparsity > 0:
            self.prune_now(self.model)

    def on_batch_end(self, batch, logs=None):
        self.step += 1
        t = self.step
        if self.begin_step <= t <= self.end_step and (
                (t - self.begin_step) % self.frequency == 0 or t == self.end_step):
            self.prune_now(self.model)


# --------------------------------------------------------------------------
# reporting
# --------------------------------------------------------------------------

def sparsity(model, include=None) -> float:
    """Fraction of zeros among the selected weights (kernels by default)."""
    selected = _selected(model, include)
    total = sum(p.size for _, p in selected)
    zeros = sum(int(np.count_nonzero(p.data == 0)) for _, p in selected)
    return zeros / total if total else 0.0


def sparsity_stats(model) -> list:
    """One dict per parameter: name, shape, size, zeros, sparsity, masked (has a PruningMask)."""
    rows = []
    for _, p in owned_parameters(model):
        zeros = int(np.count_nonzero(p.data == 0))
        rows.append({"name": p.name, "shape": tuple(p.shape), "size": int(p.size),
                     "zeros": zeros, "sparsity": zeros / p.size if p.size else 0.0,
                     "masked": isinstance(p.constraint, PruningMask)})
    return rows


def sparsity_report(model, print_fn=None) -> str:
    """A per-weight table of sizes and zeros (printed with ``print_fn`` if given)."""
    rows = sparsity_stats(model)
    width = max([len("weight")] + [len(r["name"]) for r in rows])
    lines = [f"{'weight':<{width}}  {'shape':>16}  {'params':>10}  {'zeros':>10}  "
             f"{'sparsity':>8}  masked",
             "-" * (width + 60)]
    for r in rows:
        lines.append(f"{r['name']:<{width}}  {str(r['shape']):>16}  {r['size']:>10,}  "
                     f"{r['zeros']:>10,}  {100 * r['sparsity']:>7.1f}%  "
                     f"{'yes' if r['masked'] else ''}")
    total = sum(r["size"] for r in rows)
    zeros = sum(r["zeros"] for r in rows)
    lines.append("-" * (width + 60))
    lines.append(f"{'total':<{width}}  {'':>16}  {total:>10,}  {zeros:>10,}  "
                 f"{100 * zeros / max(total, 1):>7.1f}%")
    text = "\n".join(lines)
    if print_fn is not None:
        print_fn(text)
    return text
