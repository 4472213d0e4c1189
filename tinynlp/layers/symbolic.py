"""Symbolic tensors and nodes: how calling layers on ``tn.Input`` records a graph.

This is Keras' ``KerasTensor`` idea.  ``tn.Input(shape=(None,), dtype="int32")``
returns a :class:`SymbolicTensor`: no values, only a shape (batch axis
``None``), a dtype and the :class:`Node` that produced it.  Calling a layer on
symbolic tensors does not compute anything; it records a node — the layer,
the arguments it was called with (tensors and constants, positional and
keyword, e.g. ``mha(q, v, attention_mask=m)`` or ``dec(x, enc_out)``) — and
returns new symbolic tensors for the outputs.  ``tn.Model(inputs, outputs)``
then walks the nodes back from the outputs to the inputs
(:mod:`tinynlp.models.functional`).

Shapes by a dry run
-------------------
A layer is called on symbolic tensors the way it will be called on data: the
output shapes and dtypes come from running the layer twice, without
gradients, on small dummy batches (zeros; all-True masks), with the unknown
axes filled with two different sizes (12 and 29; if the layer rejects those,
longer then shorter ones).  Output axes that change between the
two runs are unknown (``None``); the batch axis is always ``None`` unless the
Input fixed it.  The first run builds the layer's weights, as Keras builds a
layer on its first symbolic call.  Before the runs, a layer that takes one
tensor is built from the symbolic shape itself (``layer.build((None, None, 8))``),
so a layer whose weights need an unknown axis (a ``Dense`` on ``(None, None)``)
fails with its own clear error instead of silently building for a dummy size.

Masks along the graph (Keras' rules)
-------------------------------------
Every tensor value in a running graph may carry a mask (a boolean array,
usually ``(batch, time)``).  When a node runs:

- if the layer's ``call`` has a ``mask`` parameter, no mask was passed
  explicitly, and the layer was called with one tensor argument (a list of
  tensors counts as one), that argument's mask (a list of masks for a list)
  is passed as ``mask=``;
- if it was called with several tensor arguments, an argument ``name``'s mask
  is passed as ``name_mask=`` when ``call`` has such a parameter (Keras'
  ``query_mask`` / ``value_mask`` / ``key_mask`` convention);
- the output's mask is ``layer.compute_mask(first_argument, mask)`` where
  ``mask`` is the mask passed in (or the first argument's): ``Embedding(mask_zero=True)``
  starts one, RNNs with ``return_sequences`` pass it on, merge layers combine
  them.  A layer that returns a list of outputs gives its mask to the first
  output unless ``compute_mask`` returns a list.

A mask reaching a layer that neither supports masking nor defines
``compute_mask`` stops there; as in Keras, a warning says so when the graph is
built.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import warnings

import numpy as np

from ..autograd import Tensor, no_grad
from .weight_guard import check_build_input

__all__ = ["Node", "SymbolicTensor", "any_symbolic", "flatten", "is_symbolic",
           "map_structure", "symbolic_call", "symbolic_dispatch"]

# the two sizes given to unknown (None) axes in the dry runs; far apart so that
# strided layers (pooling 2, conv stride 3, ...) give different output lengths
DRY_RUN_SIZES = (12, 29)
DRY_RUN_BATCH = (2, 3)
# tried in turn when the first sizes fail: longer (a wide 'valid' kernel) or shorter
# (a layer with a maximum length, such as a learned position embedding)
_RETRY_SIZES = ((64, 97), (4, 7), (1, 2))


# ---- nested structures (lists, tuples, dicts) -------------------------------------

def flatten(struct) -> list:
    """The leaves of nested lists / tuples / dicts, in order (dict values in key order)."""
    if isinstance(struct, (list, tuple)):
        return [leaf for item in struct for leaf in flatten(item)]
    if isinstance(struct, dict):
        return [leaf for item in struct.values() for leaf in flatten(item)]
    return [struct]


def map_structure(fn, struct):
    """``struct`` with every leaf replaced by ``fn(leaf)`` (lists, tuples, dicts kept)."""
    if isinstance(struct, list):
        return [map_structure(fn, s) for s in struct]
    if isinstance(struct, tuple):
        return tuple(map_structure(fn, s) for s in struct)
    if isinstance(struct, dict):
        return {k: map_structure(fn, v) for k, v in struct.items()}
    return fn(struct)


def _contains_symbolic(value) -> bool:
    if isinstance(value, SymbolicTensor):
        return True
    if isinstance(value, (list, tuple)):
        return any(_contains_symbolic(v) for v in value)
    if isinstance(value, dict):
        return any(_contains_symbolic(v) for v in value.values())
    return False


def any_symbolic(args, kwargs=None) -> bool:
    """True if any argument (at any depth of lists / tuples / dicts) is a SymbolicTensor."""
    for a in args:
        if isinstance(a, SymbolicTensor) or (
                isinstance(a, (list, tuple, dict)) and _contains_symbolic(a)):
            return True
    if kwargs:
        for a in kwargs.values():
            if isinstance(a, SymbolicTensor) or (
                    isinstance(a, (list, tuple, dict)) and _contains_symbolic(a)):
                return True
    return False


def is_symbolic(value) -> bool:
    """True for a SymbolicTensor, or a non-empty list / tuple of only SymbolicTensors."""
    if isinstance(value, SymbolicTensor):
        return True
    return isinstance(value, (list, tuple)) and len(value) > 0 and \
        all(isinstance(v, SymbolicTensor) for v in value)


def shape_str(shape) -> str:
    """``(None, 10)`` style; a list of shapes as ``[(None, 4), (None, 4)]``."""
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return "[" + ", ".join(shape_str(s) for s in shape) + "]"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"


# ---- the symbolic tensor -------------------------------------------------------------

def _no_values(op):
    def method(self, *args, **kwargs):
        raise TypeError(
            f"{self!r} is symbolic (it stands for the data a model will receive) and has no "
            f"values, so {op} cannot be computed on it; do the computation inside a layer "
            "(e.g. tn.layers.Add()([a, b]) for a + b) or on the model's outputs")
    return method


class SymbolicTensor:
    """A placeholder for a tensor in a functional model (Keras' ``KerasTensor``).

    ``shape`` includes the batch axis (``None`` when unknown, as every axis
    Input left unspecified), ``dtype`` is a NumPy dtype, ``node`` the
    :class:`Node` that produced it and ``index`` its position among that
    node's outputs.  ``mask_shape`` is the shape of the mask that flows with
    it (``None``: no mask).
    """

    def __init__(self, shape, dtype, node=None, index=0, name=None, mask_shape=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.node = node
        self.index = int(index)
        self.name = name
        self.mask_shape = None if mask_shape is None else tuple(mask_shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def layer(self):
        """The layer whose call produced this tensor (an InputLayer for a model input)."""
        return None if self.node is None else self.node.layer

    def __repr__(self):
        source = f" from {self.layer.name!r}" if self.node is not None else ""
        return (f"<SymbolicTensor shape={shape_str(self.shape)} dtype={self.dtype.name}"
                f"{source}>")

    # symbolic tensors have no values: make the usual mistakes fail clearly
    __array__ = _no_values("a NumPy array")
    __getitem__ = _no_values("indexing")
    __len__ = _no_values("len()")
    for _op in ("add", "radd", "sub", "rsub", "mul", "rmul", "truediv", "rtruediv", "matmul",
                "rmatmul", "pow", "neg"):
        locals()[f"__{_op}__"] = _no_values(f"'{_op}'")
    del _op


# ---- nodes ---------------------------------------------------------------------------------

def _signature_params(fn):
    """(explicit parameter names, accepts **kwargs) of a callable, or (set(), True)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return set(), True
    names = {n for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return names, any(p.kind == p.VAR_KEYWORD for p in params.values())


class Node:
    """One call of ``layer`` on symbolic tensors: ``layer(*call_args, **call_kwargs)``.

    ``call_args`` / ``call_kwargs`` hold SymbolicTensors (at any depth of lists,
    tuples and dicts) and constants; ``parents`` are the SymbolicTensors among
    them, in order; ``outputs`` the SymbolicTensors it produced
    (``single_output``: the layer returned one tensor, not a list / tuple).
    """

    def __init__(self, layer, call_args=(), call_kwargs=None, outputs=None):
        self.layer = layer
        self.call_args = tuple(call_args)
        self.call_kwargs = dict(call_kwargs or {})
        self.parents = [t for t in flatten([list(self.call_args), self.call_kwargs])
                        if isinstance(t, SymbolicTensor)]
        self.outputs = list(outputs or [])
        self.single_output = True
        self.output_container = list
        self._plan()

    def _plan(self):
        """Decide once how the node passes training and masks (see the module docstring)."""
        layer = self.layer
        call_names, _ = _signature_params(layer.call)
        dunder_names, dunder_var_kw = _signature_params(type(layer).__call__)

        def accepts(name):   # by layer.call and by layer(...)
            return name in call_names and (name in dunder_names or dunder_var_kw)

        self._pass_training = "training" not in self.call_kwargs and (
            "training" in dunder_names or dunder_var_kw)
        # the arguments holding tensors, by the name call() gives them (Keras' name_mask)
        try:
            bound = inspect.signature(layer.call).bind_partial(*self.call_args,
                                                               **self.call_kwargs).arguments
        except TypeError:
            bound = {f"arg{i}": a for i, a in enumerate(self.call_args)}
            bound.update(self.call_kwargs)
        tensor_args = [(n, v) for n, v in bound.items() if _contains_symbolic(v)]
        explicit_mask = "mask" in self.call_kwargs
        self._mask_source = None   # the argument whose mask is passed as mask=
        self._name_masks = []      # (keyword, argument) pairs for <name>_mask=
        if not explicit_mask and len(tensor_args) == 1:
            self._mask_source = tensor_args[0][1]
            self._pass_mask = accepts("mask")
        elif not explicit_mask:
            self._pass_mask = False
            self._name_masks = [(f"{n}_mask", v) for n, v in tensor_args
                                if f"{n}_mask" not in self.call_kwargs and accepts(f"{n}_mask")]
        else:
            self._pass_mask = False
        self._first = self.call_args[0] if self.call_args else \
            next(iter(self.call_kwargs.values()), None)
        # the common case: layer(x, <constants>) on one symbolic tensor
        self._simple = len(self.call_args) == 1 and isinstance(self.call_args[0], SymbolicTensor) \
            and not any(_contains_symbolic(v) for v in self.call_kwargs.values())

    def run(self, value_of, mask_of, training=False):
        """Call the layer on values.

        ``value_of(t)`` / ``mask_of(t)`` give the value and the mask (or None) of
        a SymbolicTensor ``t``.  Returns ``(outputs, masks, input_mask, container)``:
        the outputs and their masks as two lists, the mask the layer received
        (or its first argument's), and ``list`` / ``tuple`` if the layer returned
        several tensors (None for one).
        """
        kwargs = dict(self.call_kwargs)
        if self._simple:
            first = value_of(self.call_args[0])
            args = (first,)
            previous_mask = kwargs.get("mask") if "mask" in kwargs else \
                mask_of(self.call_args[0])
        else:
            def values(struct):
                return map_structure(lambda a: value_of(a) if isinstance(a, SymbolicTensor)
                                     else a, struct)

            def masks(struct):
                m = map_structure(lambda a: mask_of(a) if isinstance(a, SymbolicTensor)
                                  else None, struct)
                return None if all(v is None for v in flatten(m)) else m

            args = values(self.call_args)
            kwargs = values(kwargs)
            first = values(self._first)
            for key, struct in self._name_masks:
                m = masks(struct)
                if m is not None:
                    kwargs[key] = m
            if "mask" in kwargs:
                previous_mask = kwargs["mask"]
            elif self._mask_source is not None:
                previous_mask = masks(self._mask_source)
            else:
                previous_mask = masks(self._first)
        if self._pass_mask and previous_mask is not None:
            kwargs["mask"] = previous_mask
        if self._pass_training:
            kwargs["training"] = training
        out = self.layer(*args, **kwargs)
        out_mask = self.layer.compute_mask(first, previous_mask)
        if not isinstance(out, (list, tuple)):
            return [out], [out_mask], previous_mask, None
        container = tuple if isinstance(out, tuple) else list
        outs = list(out)
        if isinstance(out_mask, (list, tuple)):
            out_masks = list(out_mask)[:len(outs)]
            out_masks += [None] * (len(outs) - len(out_masks))
        else:
            out_masks = [out_mask] + [None] * (len(outs) - 1)
        return outs, out_masks, previous_mask, container

    def __repr__(self):
        return (f"<Node {self.layer.name!r}: {len(self.parents)} input tensor(s) -> "
                f"{len(self.outputs)} output(s)>")


# ---- calling a layer on symbolic tensors -------------------------------------------------

def _layer_desc(layer):
    return f"{type(layer).__name__} {layer.name!r}"


def _dummy(t: SymbolicTensor, fill: int, batch: int):
    shape = [batch if (i == 0 and d is None) else (fill if d is None else d)
             for i, d in enumerate(t.shape)]
    check_build_input(shape[1:], f"the dummy batch for {t!r}")
    return np.zeros(shape, dtype=t.dtype)


def _dummy_mask(t: SymbolicTensor, fill: int, batch: int):
    if t.mask_shape is None:
        return None
    shape = [batch if (i == 0 and d is None) else (fill if d is None else d)
             for i, d in enumerate(t.mask_shape)]
    return np.ones(shape, dtype=bool)


def _array(value):
    if isinstance(value, Tensor):
        return value.data
    return np.asarray(value)


def _check_not_mixed(layer, args, kwargs):
    concrete = []
    for where, struct in [(f"argument {i}", a) for i, a in enumerate(args)] + \
            [(f"argument {k!r}", v) for k, v in kwargs.items()]:
        for leaf in flatten(struct):
            if isinstance(leaf, (Tensor, np.ndarray)):
                concrete.append(f"{where} ({type(leaf).__name__} of shape {np.shape(leaf)})")
    if concrete:
        raise TypeError(
            f"{_layer_desc(layer)} was called on symbolic tensors (from tn.Input) mixed with "
            f"concrete data: {', '.join(concrete)}. In a functional model every tensor a "
            "layer receives must come from an Input or another layer's output; make the "
            "constant an Input (and feed it with the data), or create it inside a layer")


def _dry_run(node, sizes, batches, training_kwarg):
    """Run ``node`` on dummies twice (two sizes for the unknown axes); returns both runs."""
    runs = []
    for fill, batch in zip(sizes, batches):
        def value_of(t, fill=fill, batch=batch):
            return _dummy(t, fill, batch)

        def mask_of(t, fill=fill, batch=batch):
            return _dummy_mask(t, fill, batch)

        saved = node.call_kwargs.get("training")
        if training_kwarg:
            node.call_kwargs["training"] = False   # a dry run never draws dropout masks
        node.layer.reset_states()   # a stateful layer starts each dry run afresh
        try:
            with no_grad():
                runs.append(node.run(value_of, mask_of, training=False))
        finally:
            if training_kwarg:
                node.call_kwargs["training"] = saved
    return runs


def _merge_shapes(layer, a, b, known_batch, what):
    a, b = tuple(np.shape(a)), tuple(np.shape(b))
    if len(a) != len(b):
        raise ValueError(f"{_layer_desc(layer)}: its {what} changes rank with the input size "
                         f"({a} vs {b}); cannot infer a symbolic shape")
    shape = []
    for i, (u, v) in enumerate(zip(a, b)):
        if i == 0:
            shape.append(known_batch if (known_batch is not None and u == v == known_batch)
                         else None)
        else:
            shape.append(u if u == v else None)
    return tuple(shape)


def _prebuild(layer, args, kwargs):
    """Build a layer that takes one tensor from the symbolic shape (Keras: build(input_shape))."""
    if layer.built or type(layer).overrides("__call__"):
        return
    if len(args) != 1 or not isinstance(args[0], SymbolicTensor) or \
            any(_contains_symbolic(v) for v in kwargs.values()):
        return
    layer.build(args[0].shape)
    layer.built = True


def symbolic_call(layer, args, kwargs):
    """Record ``layer(*args, **kwargs)`` on symbolic tensors; returns symbolic outputs.

    See the module docstring: the layer is built, its output shapes come from
    two dry runs, and a :class:`Node` links the outputs to the inputs.
    """
    _check_not_mixed(layer, args, kwargs)
    node = Node(layer, args, kwargs)
    parents = node.parents
    batches = {t.shape[0] for t in parents}
    known_batch = batches.pop() if len(batches) == 1 else None
    batch_sizes = DRY_RUN_BATCH if known_batch is None else (known_batch, known_batch)
    training_kwarg = "training" in node.call_kwargs
    _prebuild(layer, args, kwargs)
    try:
        runs = _dry_run(node, DRY_RUN_SIZES, batch_sizes, training_kwarg)
    except Exception as first_error:   # whatever the layer raised: retry once, or re-raise
        runs = None
        if any(d is None for t in parents for d in t.shape[1:]):
            for sizes in _RETRY_SIZES:   # if these fail too, the first error is reported
                with contextlib.suppress(Exception):
                    runs = _dry_run(node, sizes, batch_sizes, training_kwarg)
                    break
        if runs is None:
            if hasattr(first_error, "add_note"):   # Python >= 3.11
                first_error.add_note(
                    f"(raised while calling {_layer_desc(layer)} on symbolic inputs of shapes "
                    f"{[shape_str(t.shape) for t in parents]}: the output shape is inferred "
                    f"by running it on zeros with batch {batch_sizes[0]} and unknown axes of "
                    f"size {DRY_RUN_SIZES[0]})")
            raise first_error from None
    layer.reset_states()   # a stateful layer must not keep the dummies' states
    (outs_a, masks_a, prev_mask, container), (outs_b, masks_b, _, _) = runs
    if prev_mask is not None and not layer.supports_masking and \
            not type(layer).overrides("compute_mask"):
        warnings.warn(
            f"Layer {layer.name!r} (of type {type(layer).__name__}) was given an input with a "
            "mask, but it does not support masking: the mask stops here and the layers after "
            "it will not see it.", stacklevel=3)
    outputs = []
    for i, (a, b, ma, mb) in enumerate(zip(outs_a, outs_b, masks_a, masks_b)):
        if not isinstance(a, (Tensor, np.ndarray)):
            raise TypeError(f"{_layer_desc(layer)} returned a {type(a).__name__} as output "
                            f"{i}; a layer in a functional model must return a tensor or a "
                            "flat list / tuple of tensors")
        shape = _merge_shapes(layer, a, b, known_batch, f"output {i}")
        mask_shape = None
        if ma is not None and mb is not None:
            mask_shape = _merge_shapes(layer, _array(ma), _array(mb), known_batch,
                                       f"output {i}'s mask")
        name = layer.name if len(outs_a) == 1 else f"{layer.name}_{i}"
        outputs.append(SymbolicTensor(shape, _array(a).dtype, node=node, index=i, name=name,
                                      mask_shape=mask_shape))
    node.outputs = outputs
    node.single_output = container is None
    if node.single_output:
        return outputs[0]
    node.output_container = container
    return container(outputs)


def symbolic_dispatch(call):
    """Wrap a layer's ``__call__``: symbolic arguments record a node, data runs as before."""
    if getattr(call, "_symbolic_dispatch", False):
        return call

    @functools.wraps(call)
    def __call__(self, *args, **kwargs):
        if any_symbolic(args, kwargs):
            return symbolic_call(self, args, kwargs)
        return call(self, *args, **kwargs)

    __call__._symbolic_dispatch = True
    return __call__
