"""Building a model by hand (Keras' ``model.build(input_shape)``) and a model's ``dtype``.

``build_by_dry_run`` runs the model once, without gradients, on zeros of the given
shape, so that every layer creates its weights; ``apply_model_dtype`` gives a model's
``dtype`` to the layers it holds that were given none.
"""

from __future__ import annotations

import numpy as np

__all__ = ["build_by_dry_run", "apply_model_dtype", "nested_layers", "dummy_shape"]


def is_shape_list(shape) -> bool:
    """True for a list of shapes (several inputs), False for one shape."""
    return isinstance(shape, (list, tuple)) and len(shape) > 0 and \
        all(isinstance(s, (list, tuple)) for s in shape)


def dummy_shape(shape, fill):
    """A concrete shape for ``shape``: the batch axis 1 if unknown, other unknown axes
    ``fill``."""
    shape = tuple(shape)
    if not shape:
        raise ValueError("build: an input shape needs at least the batch axis")
    return tuple((1 if i == 0 else fill) if d is None else int(d) for i, d in enumerate(shape))


def nested_layers(layer) -> list:
    """Every layer held by ``layer``, depth first (not ``layer`` itself)."""
    out, stack, seen = [], list(reversed(layer._sublayers())), {id(layer)}
    while stack:
        sub = stack.pop()
        if id(sub) in seen:
            continue
        seen.add(id(sub))
        out.append(sub)
        stack.extend(reversed(sub._sublayers()))
    return out


def build_by_dry_run(model, input_shape):
    """:meth:`tinynlp.models.Model.build`: run ``model`` once on zeros of ``input_shape``
    (unknown axes 1 for the batch, then 8, 64 or 2 for the others until the model
    accepts them), floats of its dtype or else integer ids."""
    if model._building or (model.built and model.weights):
        return
    model.apply_dtype()
    shapes = input_shape if is_shape_list(input_shape) else [input_shape]
    errors = []
    for dtype in (model._input_float_dtype(), np.dtype(np.int64)):
        for fill in (8, 64, 2):
            dummies = [np.zeros(dummy_shape(s, fill), dtype=dtype) for s in shapes]
            x = dummies if len(dummies) > 1 else dummies[0]
            model._record_input_spec(x)
            model.built = True   # the call below builds the layers, not this model again
            try:
                model._dry_run(x)
                return
            except (TypeError, ValueError) as e:
                errors.append(e)
                model.built = False
    raise ValueError(f"{model.name}.build({input_shape!r}): the model cannot run on zeros of "
                     f"that shape: {errors[0]}") from errors[0]


def apply_model_dtype(model):
    """:meth:`tinynlp.models.Model.apply_dtype`: a ``dtype`` given to the model goes to every
    layer it holds that was given none; one already built in another dtype is an error."""
    if not model._dtype_given:
        return
    for layer in nested_layers(model):
        if layer._dtype_given or layer.dtype == model.dtype:
            continue
        if layer.built and layer.weights:
            raise ValueError(
                f"{model.name}: dtype={model.dtype.name} cannot apply to layer {layer.name!r}, "
                f"already built in {layer.dtype.name}; give the model's dtype before the layers "
                "build (or give each layer its dtype)")
        layer.dtype = model.dtype
