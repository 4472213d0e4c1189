"""Small helpers shared by the layer modules (input conversion, checks, configs)."""

from __future__ import annotations

import numpy as np

from ..autograd import Tensor
from . import initializers as _initializers

_ACTIVATION_NAMES = ("linear", "relu", "tanh", "sigmoid", "softmax", "gelu", "elu")


def layer_desc(layer) -> str:
    return f"{type(layer).__name__} {layer.name!r}"


def as_input(layer, x) -> Tensor:
    """A Tensor for ``x``.

    Tensors pass through unchanged.  Arrays and lists are data: as Keras does,
    they are converted to the layer's dtype (a float64 NumPy batch fed to a
    float32 model becomes float32).
    """
    if isinstance(x, Tensor):
        return x
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{layer_desc(layer)}: expected numeric input, got dtype {arr.dtype}")
    return Tensor(arr.astype(layer.dtype, copy=False), _copy=False)


def check_rank(layer, x, ndim, layout: str, at_least=False):
    """Raise a ValueError naming ``layout`` unless ``x`` (or a shape tuple) has ``ndim`` axes."""
    shape = tuple(x) if isinstance(x, (tuple, list)) else tuple(x.shape)
    ok = len(shape) >= ndim if at_least else len(shape) == ndim
    if not ok:
        more = " or more" if at_least else ""
        raise ValueError(
            f"{layer_desc(layer)}: expected input of rank {ndim}{more} {layout}, "
            f"got shape {shape}"
        )


def check_known(layer, shape, axis, what):
    """Raise unless ``shape[axis]`` is known (building weights needs it)."""
    if shape[axis] is None:
        raise ValueError(f"{layer_desc(layer)}: the {what} axis must be known to build the "
                         f"weights, got input shape {tuple(shape)}")
    return int(shape[axis])


def check_last_dim(layer, x, expected: int, what="features"):
    got = x.shape[-1]
    if got != expected:
        raise ValueError(
            f"{layer_desc(layer)}: the layer was built for inputs with {expected} {what} on the "
            f"last axis, got input of shape {tuple(x.shape)} ({got} {what})"
        )


def as_mask(layer, mask, shape):
    """``mask`` as a bool ndarray of ``shape`` (batch, time), or None."""
    if mask is None:
        return None
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.shape != tuple(shape):
        raise ValueError(
            f"{layer_desc(layer)}: mask must have shape (batch, time) = {tuple(shape)}, "
            f"got {m.shape}"
        )
    return m.astype(bool, copy=False)


def normalize_int(value, name, layer_name, minimum=1):
    """An int from ``3`` or ``(3,)`` (Keras allows 1-tuples for 1-D layers)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"{layer_name}: {name} must be an int or a 1-tuple, got {value!r}")
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{layer_name}: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{layer_name}: {name} must be >= {minimum}, got {value}")
    return int(value)


def check_choice(value, choices, name, layer_name):
    if value not in choices:
        raise ValueError(f"{layer_name}: {name} must be one of {list(choices)}, got {value!r}")
    return value


def check_rate(value, name, layer_name):
    value = float(value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{layer_name}: {name} must be in [0, 1), got {value}")
    return value


def serialize_initializer(init, arg):
    """The name of a built-in initializer (a config value), or a ValueError."""
    if isinstance(init, str):
        _initializers.get(init)  # validates
        return init
    for name, fn in _initializers._BY_NAME.items():
        if fn is init:
            return name
    raise ValueError(
        f"{arg}: cannot save the custom initializer {init!r} in a config; use one of "
        f"{sorted(_initializers._BY_NAME)} by name"
    )


def check_initializer(init, arg):
    if not isinstance(init, str) and not callable(init):
        raise TypeError(f"{arg}: expected an initializer name or a callable, got {init!r}")
    if isinstance(init, str):
        _initializers.get(init)
    return init


def serialize_activation(act, arg):
    """A config value for an activation: a name, or None."""
    if act is None or isinstance(act, str):
        return act
    name = getattr(act, "__name__", None)
    if name in _ACTIVATION_NAMES:
        return name
    raise ValueError(
        f"{arg}: cannot save the custom activation {act!r} in a config; use one of "
        f"{list(_ACTIVATION_NAMES)} by name"
    )


def is_linear(act) -> bool:
    return act is None or act == "linear"


def reverse_time(x):
    """``x[:, ::-1]`` for a Tensor or an ndarray (the time axis is axis 1)."""
    if x is None:
        return None
    return x[:, ::-1]


def snake_case(class_name: str) -> str:
    """Keras' default-name rule: ``SimpleRNN`` → ``simple_rnn``, ``Conv1D`` → ``conv1d``."""
    import re
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def default_name(layer_cls, kwargs: dict) -> dict:
    """Fill ``kwargs["name"]`` with a unique Keras-style name (``lstm``, ``lstm_1``, ...)."""
    if kwargs.get("name") is None:
        from .base import _auto_name
        kwargs["name"] = _auto_name(snake_case(layer_cls.__name__))
    return kwargs


def contiguous(init):
    """Wrap an initializer so that it returns a C-contiguous array.

    (``initializers.orthogonal`` returns a transposed, Fortran-ordered array
    for wide matrices such as an LSTM's (units, 4·units) recurrent kernel;
    parameters that are views of another layout surprise in-place code such as
    ``gradcheck``'s perturbations, so layers always store C order.)
    """
    fn = _initializers.get(init)
    return lambda shape, dtype: np.ascontiguousarray(fn(shape, dtype))
