"""Small helpers shared by the layer modules (input conversion, checks, configs)."""

from __future__ import annotations

import re

import numpy as np

from ..autograd import Tensor, as_array, no_grad
from ..functional._checks import as_int, check_mask
from ..functional.activations import ACTIVATIONS, get_activation
from . import initializers, regularizers

__all__ = ["layer_desc", "as_ids", "as_input", "check_rank", "check_known", "check_last_dim",
           "as_mask", "as_int", "check_choice", "check_rate", "serialize_initializer",
           "check_initializer", "serialize_activation", "reverse_time",
           "snake_case", "auto_name", "default_name", "contiguous", "init_kernel_bias",
           "build_kernel_bias", "kernel_bias_config", "run_on_arrays", "rows_independent"]


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


def as_ids(layer, x) -> np.ndarray:
    """Integer token ids from an int array/Tensor, or a float array holding whole numbers."""
    arr = x.data if isinstance(x, Tensor) else np.asarray(x)
    if arr.dtype.kind in "iu":
        return arr
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise TypeError(
                f"{layer_desc(layer)}: expected integer token ids, got a {arr.dtype} array "
                "with non-integer values"
            )
        return arr.astype(np.int64)
    raise TypeError(f"{layer_desc(layer)}: expected integer token ids, got dtype {arr.dtype}")


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
    """``mask`` as a bool ndarray of ``shape`` (batch, time), or None (the one mask check:
    :func:`tinynlp.functional._checks.check_mask`)."""
    return check_mask(mask, shape, layer_desc(layer), layout="shape (batch, time) =")


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
    """A config value for an initializer (a name, or ``{"class_name", "config"}`` for a
    ``tn.initializers`` object), or a ValueError for one that cannot be saved."""
    value = initializers.serialize(init)
    if value is None:
        raise ValueError(
            f"{arg}: cannot save the custom initializer {init!r} in a config; use one of "
            f"{initializers.names()} by name or a tn.initializers object")
    return value


def check_initializer(init, arg):
    """``init`` checked: a name, a ``tn.initializers`` config dict (made an object) or a
    callable."""
    if isinstance(init, dict):
        return initializers.deserialize(init)
    if not isinstance(init, str) and not callable(init):
        raise TypeError(f"{arg}: expected an initializer name or a callable, got {init!r}")
    if isinstance(init, str):
        initializers.get(init)
    return init


def serialize_activation(act, arg):
    """A config value for an activation: a name, or None."""
    if act is None or isinstance(act, str):
        return act
    name = getattr(act, "__name__", None)
    if name in ACTIVATIONS:
        return name
    raise ValueError(
        f"{arg}: cannot save the custom activation {act!r} in a config; use one of "
        f"{sorted(ACTIVATIONS)} by name"
    )


def reverse_time(x):
    """``x[:, ::-1]`` for a Tensor or an ndarray (the time axis is axis 1)."""
    if x is None:
        return None
    return x[:, ::-1]


def snake_case(class_name: str) -> str:
    """Keras' default-name rule: ``SimpleRNN`` → ``simple_rnn``, ``Conv1D`` → ``conv1d``."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


_name_counts: dict = {}


def auto_name(class_name: str) -> str:
    """A unique Keras-style default name: ``SimpleRNN`` → ``simple_rnn``, ``simple_rnn_1``..."""
    base = snake_case(class_name)
    n = _name_counts.get(base, 0)
    _name_counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def default_name(layer_cls, kwargs: dict) -> dict:
    """Fill ``kwargs["name"]`` with a unique Keras-style name (``lstm``, ``lstm_1``, ...)."""
    if kwargs.get("name") is None:
        kwargs["name"] = auto_name(layer_cls.__name__)
    return kwargs


def contiguous(init):
    """Wrap an initializer so that it returns a C-contiguous array.

    (``initializers.orthogonal`` returns a transposed, Fortran-ordered array
    for wide matrices such as an LSTM's (units, 4·units) recurrent kernel;
    parameters that are views of another layout surprise in-place code such as
    ``gradcheck``'s perturbations, so layers always store C order.)
    """
    fn = initializers.get(init)
    return lambda shape, dtype: np.ascontiguousarray(fn(shape, dtype))


# --------------------------------------------------------------------------
# the options of a kernel-and-bias layer (Dense, Conv1D): h = σ(x ⊛ kernel + bias)
# --------------------------------------------------------------------------

def init_kernel_bias(layer, activation, use_bias, kernel_initializer, bias_initializer,
                     kernel_regularizer, bias_regularizer):
    """Set, validated, the options every kernel-and-bias layer takes (weights not built)."""
    cls = type(layer).__name__
    get_activation(activation)  # validate the name now, not at the first call
    layer.activation = activation
    layer.use_bias = bool(use_bias)
    layer.kernel_initializer = check_initializer(kernel_initializer, f"{cls}.kernel_initializer")
    layer.bias_initializer = check_initializer(bias_initializer, f"{cls}.bias_initializer")
    layer.kernel_regularizer = regularizers.get(kernel_regularizer)
    layer.bias_regularizer = regularizers.get(bias_regularizer)
    layer.kernel = layer.bias = None


def build_kernel_bias(layer, kernel_shape, units):
    """Create ``layer.kernel`` (``kernel_shape``) and, if ``use_bias``, ``layer.bias`` (units,)."""
    layer.kernel = layer.add_weight("kernel", kernel_shape, contiguous(layer.kernel_initializer),
                                    regularizer=layer.kernel_regularizer)
    if layer.use_bias:
        layer.bias = layer.add_weight("bias", (units,), contiguous(layer.bias_initializer),
                                      regularizer=layer.bias_regularizer)


def kernel_bias_config(layer) -> dict:
    """The config entries of the options set by :func:`init_kernel_bias`."""
    cls = type(layer).__name__
    return dict(
        activation=serialize_activation(layer.activation, f"{cls}.activation"),
        use_bias=layer.use_bias,
        kernel_initializer=serialize_initializer(layer.kernel_initializer,
                                                 f"{cls}.kernel_initializer"),
        bias_initializer=serialize_initializer(layer.bias_initializer, f"{cls}.bias_initializer"),
        kernel_regularizer=regularizers.serialize(layer.kernel_regularizer),
        bias_regularizer=regularizers.serialize(layer.bias_regularizer),
    )


def _call_class(layer):
    """The class of ``layer``'s MRO that defines ``call`` (None if none does): what it
    declares about ``call`` holds for this layer; a subclass that changed ``call`` is
    its own such class."""
    return next((cls for cls in type(layer).__mro__ if "call" in cls.__dict__), None)


def rows_independent(layer) -> bool:
    """Whether ``layer`` computes each row of a batch from that row alone at inference:
    its ``rows_independent_at_inference``, read only when the class that defines
    ``call`` declares it (a subclass that changes ``call`` must declare it again)."""
    cls = _call_class(layer)
    return (cls is not None and "rows_independent_at_inference" in cls.__dict__
            and bool(layer.rows_independent_at_inference))


def run_on_arrays(layer, x, **kwargs):
    """``layer`` applied to the array ``x`` for inference, returning an array.

    Through the layer's ``call_arrays`` when the class that defines its
    ``call`` also defines ``call_arrays`` (so a subclass that changes ``call``
    — an adapter, a quantized twin — is never bypassed); through ``layer(...)``
    under ``no_grad`` otherwise.
    """
    cls = _call_class(layer)
    fast = None if cls is None else cls.__dict__.get("call_arrays")
    if fast is not None:
        return fast(layer, x, **kwargs)
    with no_grad():
        out = as_array(layer(Tensor(x, _copy=False), **kwargs))
    return out.copy() if np.may_share_memory(out, x) else out     # callers add in place
