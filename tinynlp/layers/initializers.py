"""Weight initializers with Keras' names, classes and formulas (``tn.initializers``).

Each is a callable ``init(shape, dtype)`` that draws from ``tn.random.get_rng()``,
so ``tn.random.seed(n)`` fixes them.  Use them by name
(``Dense(8, kernel_initializer="he_normal")``) or as objects with arguments
(``kernel_initializer=tn.initializers.TruncatedNormal(stddev=0.02)``); either is
saved in a layer's config (an object as ``{"class_name", "config"}``, as Keras).

For a kernel of shape ``(..., fan_in, fan_out)`` (Keras' layout: conv kernels
``(k, in, out)`` have receptive field ``k``), fan_in = k·in and fan_out = k·out.
The variance-scaling family (Glorot, He, LeCun) draws with variance
``scale / n``, n = fan_in, fan_out or their mean:

=================  =====  ========  =================================================
name               scale  n         distribution
=================  =====  ========  =================================================
glorot_uniform     1      fan_avg   U(−a, a), a = √(3·scale/n) = √(6/(fan_in+fan_out))
glorot_normal      1      fan_avg   truncated normal
he_uniform         2      fan_in    U(−a, a) = U(−√(6/fan_in), √(6/fan_in))
he_normal          2      fan_in    truncated normal
lecun_uniform      1      fan_in    U(−a, a)
lecun_normal       1      fan_in    truncated normal
=================  =====  ========  =================================================

"truncated normal" (Keras' choice): a normal redrawn wherever it falls beyond two
standard deviations, with σ = √(scale/n) / 0.8796 so that the *truncated*
distribution has variance scale/n (0.8796 is the standard deviation of a unit
normal truncated to [−2, 2]).
"""

from __future__ import annotations

import math

import numpy as np

from .. import random as tn_random

__all__ = ["Initializer", "Zeros", "Ones", "Constant", "RandomUniform", "RandomNormal",
           "TruncatedNormal", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform",
           "HeNormal", "LecunUniform", "LecunNormal", "Orthogonal", "get", "serialize",
           "deserialize", "name_of", "names", "truncated_normal"]

#: the standard deviation of a unit normal truncated to [−2, 2]
TRUNCATED_STD = 0.87962566103423978


def _fans(shape):
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=np.float32):
    """N(mean, stddev²) redrawn wherever it falls more than 2·stddev from the mean."""
    rng = tn_random.get_rng()
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2.0
    return (mean + stddev * out).astype(dtype)


class Initializer:
    """Base class: ``init(shape, dtype=np.float32) -> ndarray``; ``get_config()`` returns the
    constructor's arguments (so that a layer's config can hold the initializer), which
    each initializer keeps as attributes of the same names."""

    def get_config(self) -> dict:
        return dict(vars(self))

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    def __call__(self, shape, dtype=np.float32):
        return np.zeros(shape, dtype=dtype)


class Ones(Initializer):
    def __call__(self, shape, dtype=np.float32):
        return np.ones(shape, dtype=dtype)


class Constant(Initializer):
    """Every entry ``value``."""

    def __init__(self, value=0.0):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                or not math.isfinite(value):
            raise ValueError(f"Constant: value must be a finite number, got {value!r}")
        self.value = float(value)

    def __call__(self, shape, dtype=np.float32):
        return np.full(shape, self.value, dtype=dtype)


class RandomUniform(Initializer):
    """U(minval, maxval); Keras' default (±0.05) is the embeddings' initializer."""

    def __init__(self, minval=-0.05, maxval=0.05):
        if not minval < maxval:
            raise ValueError(f"RandomUniform: need minval < maxval, got {minval}, {maxval}")
        self.minval, self.maxval = float(minval), float(maxval)

    def __call__(self, shape, dtype=np.float32):
        return tn_random.get_rng().uniform(self.minval, self.maxval, size=shape).astype(dtype)


class RandomNormal(Initializer):
    """N(mean, stddev²)."""

    def __init__(self, mean=0.0, stddev=0.05):
        if not stddev > 0:
            raise ValueError(f"RandomNormal: stddev must be > 0, got {stddev}")
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape, dtype=np.float32):
        return (self.mean + self.stddev * tn_random.get_rng().standard_normal(shape)
                ).astype(dtype)


class TruncatedNormal(RandomNormal):
    """N(mean, stddev²) redrawn beyond two standard deviations (Keras' ``TruncatedNormal``)."""

    def __call__(self, shape, dtype=np.float32):
        return truncated_normal(shape, self.mean, self.stddev, dtype)


class VarianceScaling(Initializer):
    """Variance ``scale / n`` (see the module docstring); ``mode`` picks n (``fan_in``,
    ``fan_out``, ``fan_avg``), ``distribution`` the law (``truncated_normal``,
    ``untruncated_normal``, ``uniform``)."""

    MODES = ("fan_in", "fan_out", "fan_avg")
    DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal"):
        if not scale > 0:
            raise ValueError(f"VarianceScaling: scale must be > 0, got {scale}")
        if mode not in self.MODES:
            raise ValueError(f"VarianceScaling: mode must be one of {self.MODES}, got {mode!r}")
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in self.DISTRIBUTIONS:
            raise ValueError(f"VarianceScaling: distribution must be one of "
                             f"{self.DISTRIBUTIONS}, got {distribution!r}")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def _n(self, shape):
        fan_in, fan_out = _fans(shape)
        return {"fan_in": fan_in, "fan_out": fan_out,
                "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]

    def __call__(self, shape, dtype=np.float32):
        n = max(1.0, self._n(shape))
        variance = self.scale / n
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * self.scale / n)    # (written so: √(6/fan_in) exactly)
            return tn_random.get_rng().uniform(-limit, limit, size=shape).astype(dtype)
        if self.distribution == "untruncated_normal":
            return (math.sqrt(variance) * tn_random.get_rng().standard_normal(shape)).astype(dtype)
        return truncated_normal(shape, 0.0, math.sqrt(variance) / TRUNCATED_STD, dtype)


class _Named(VarianceScaling):
    """A variance-scaling initializer with fixed settings (its config is empty)."""

    settings = (1.0, "fan_in", "truncated_normal")

    def __init__(self):
        super().__init__(*self.settings)

    def get_config(self):
        return {}


class GlorotUniform(_Named):
    """U(−a, a) with a = √(6 / (fan_in + fan_out))  (Glorot & Bengio, 2010)."""

    settings = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Named):
    """Truncated normal with variance 2 / (fan_in + fan_out)  (Glorot & Bengio, 2010)."""

    settings = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_Named):
    """U(−a, a) with a = √(6 / fan_in)  (He et al., 2015), for ReLU layers."""

    settings = (2.0, "fan_in", "uniform")


class HeNormal(_Named):
    """Truncated normal with variance 2 / fan_in  (He et al., 2015)."""

    settings = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_Named):
    """U(−a, a) with a = √(3 / fan_in)  (LeCun et al., 1998)."""

    settings = (1.0, "fan_in", "uniform")


class LecunNormal(_Named):
    """Truncated normal with variance 1 / fan_in  (LeCun et al., 1998), for SELU."""

    settings = (1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix: the QR factor of a Gaussian matrix (Saxe et al.).

    Keras' default for recurrent kernels.  Matrices with several gates,
    shape ``(units, k·units)``, are orthogonal in their rows.
    """

    def __init__(self, gain=1.0):
        self.gain = float(gain)

    def __call__(self, shape, dtype=np.float32):
        rows = int(np.prod(shape[:-1]))
        cols = shape[-1]
        a = tn_random.get_rng().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))  # make the distribution uniform
        if rows < cols:
            q = q.T
        return np.ascontiguousarray((self.gain * q[:rows, :cols]).reshape(shape), dtype=dtype)


# one shared object per name; the lower-case names are module attributes too, so that
# ``initializers.glorot_uniform(shape, dtype)`` works as a plain function
zeros, ones = Zeros(), Ones()
glorot_uniform, glorot_normal = GlorotUniform(), GlorotNormal()
he_uniform, he_normal = HeUniform(), HeNormal()
lecun_uniform, lecun_normal = LecunUniform(), LecunNormal()
truncated_normal_default = TruncatedNormal()


def orthogonal(shape, dtype=np.float32, gain=1.0):
    """:class:`Orthogonal` as a function (``gain`` 1: Keras' recurrent kernels)."""
    return Orthogonal(gain)(shape, dtype)


def uniform(shape, dtype=np.float32, minval=-0.05, maxval=0.05):
    """:class:`RandomUniform` as a function: U(−0.05, 0.05), Keras' embeddings default."""
    return RandomUniform(minval, maxval)(shape, dtype)


def normal(shape, dtype=np.float32, stddev=0.05):
    """:class:`RandomNormal` as a function: N(0, stddev²)."""
    return RandomNormal(0.0, stddev)(shape, dtype)


_BY_NAME = {
    "zeros": zeros, "ones": ones, "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal, "he_uniform": he_uniform, "he_normal": he_normal,
    "lecun_uniform": lecun_uniform, "lecun_normal": lecun_normal, "orthogonal": orthogonal,
    "uniform": uniform, "random_uniform": uniform, "normal": normal, "random_normal": normal,
    "truncated_normal": truncated_normal_default,
}
_CLASSES = {cls.__name__: cls for cls in (
    Zeros, Ones, Constant, RandomUniform, RandomNormal, TruncatedNormal, VarianceScaling,
    GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Orthogonal)}


def deserialize(config):
    """An initializer from ``{"class_name": ..., "config": {...}}`` (Keras' form)."""
    if not isinstance(config, dict) or config.get("class_name") not in _CLASSES:
        raise ValueError(f"unknown initializer {config!r:.200}; expected a name, "
                         f"{{'class_name': one of {sorted(_CLASSES)}, 'config': {{...}}}} "
                         "or a callable")
    try:
        return _CLASSES[config["class_name"]].from_config(dict(config.get("config") or {}))
    except TypeError as e:
        raise ValueError(f"bad initializer config {config!r:.200}: {e}") from None


def get(name_or_fn):
    """An initializer by name (``"glorot_uniform"``...), config dict, or a callable
    ``(shape, dtype)`` (an :class:`Initializer` object or a function)."""
    if callable(name_or_fn):
        return name_or_fn
    if isinstance(name_or_fn, dict):
        return deserialize(name_or_fn)
    try:
        return _BY_NAME[name_or_fn]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown initializer {name_or_fn!r}; expected one of {sorted(_BY_NAME)}, an "
            "Initializer object or a callable"
        ) from None


def name_of(fn):
    """The name of a shared built-in initializer (its first name), or None."""
    return next((name for name, f in _BY_NAME.items() if f is fn), None)


def serialize(init):
    """A config value for ``init``: its name, or ``{"class_name", "config"}`` for an
    :class:`Initializer` object; None for a plain function (which cannot be saved)."""
    if isinstance(init, str):
        get(init)
        return init
    name = name_of(init)
    if name is not None:
        return name
    if isinstance(init, Initializer) and type(init).__name__ in _CLASSES:
        return {"class_name": type(init).__name__, "config": init.get_config()}
    return None


def names():
    """The built-in initializers' names."""
    return sorted(_BY_NAME)
