"""Building an architecture that came from a file: check every weight before allocating it.

A checkpoint's JSON could ask for ``Embedding(input_dim=20_000_000)`` in a 9 kB
file: building that layer would allocate and initialise gigabytes before any
weight is compared with the file.  While a :class:`WeightGuard` is active
(``with guarded_build(guard): model = cls.from_config(config)``),
:meth:`tinynlp.layers.Layer.add_weight` asks it first: the guard compares the
requested shape with the file's manifest entry of the same name, and counts the
requested bytes against the total the file declares (which the loader has
already checked against the file's members), and refuses — raising the
loader's own error type, naming the weight — before anything is allocated.
A weight that passes is created as zeros (no random initialisation: the file's
values replace it).

The same guard bounds the dummy batches that building runs (a Sequential's
recorded input shape, a functional model's ``Input`` shapes): at most
:data:`MAX_BUILD_INPUT` values per sample.

The guard lives in a context variable, so it applies to the thread (and task)
that loads, and to nothing else.  This is generic: it knows no layer type.
"""

from __future__ import annotations

import contextlib
import contextvars
import math

import numpy as np

__all__ = ["WeightGuard", "guarded_build", "active_guard", "check_build_input", "MAX_BUILD_INPUT",
           "REBUILD_ERRORS", "format_bytes"]

#: the most values one sample of a dummy build batch may hold while a guard is active
MAX_BUILD_INPUT = 1 << 20

#: what rebuilding an architecture from a (possibly hostile) config can raise; a loader
#: turns each into its own error type naming the file
REBUILD_ERRORS = (TypeError, ValueError, LookupError, AttributeError, ArithmeticError,
                  RecursionError, MemoryError, NotImplementedError)

_GUARD = contextvars.ContextVar("tinynlp_weight_guard", default=None)


def format_bytes(n) -> str:
    """``1536`` → ``"1.5 kB"`` (powers of 1000)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"  # pragma: no cover


def _shape_tuple(shape, what, error):
    """``shape`` as a tuple of non-negative Python ints (a TypeError-free check)."""
    try:
        dims = tuple(shape)
    except TypeError:
        raise error(f"{what}: the shape {shape!r} is not a sequence of sizes") from None
    out = []
    for d in dims:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)) or d < 0:
            raise error(f"{what}: the shape {dims!r} is not a list of non-negative integers")
        out.append(int(d))
    return tuple(out)


class WeightGuard:
    """What a file declares, and the check each new weight must pass.

    ``entries``: ``[(name, shape, dtype), ...]`` from the file's manifest (already
    checked against the file's contents by the loader).  ``what``: the file, for
    messages.  ``error``: the exception class raised (the loader's own).
    ``budget``: the bytes all weights together may take (default: the entries' total).
    """

    def __init__(self, entries, what, error=ValueError, budget=None):
        self.what = what
        self.error = error
        self.by_name = {}
        self.budget = 0
        for name, shape, dtype in entries:
            shape = _shape_tuple(shape, f"{what}: weight {name!r}", error)
            nbytes = math.prod(shape) * np.dtype(dtype).itemsize
            self.by_name.setdefault(name, []).append((shape, nbytes))
            self.budget += nbytes
        if budget is not None:
            self.budget = int(budget)
        self.declared = self.budget
        self._seen = {}

    def check_weight(self, name, shape, dtype):
        """Refuse (raise ``self.error``) a weight the file cannot hold; else zeros for it."""
        dtype = np.dtype(dtype)
        shape = _shape_tuple(shape, f"{self.what}: the architecture's weight {name!r}",
                             self.error)
        nbytes = math.prod(shape) * dtype.itemsize
        listed = self.by_name.get(name)
        if listed:
            k = self._seen.get(name, 0)
            self._seen[name] = k + 1
            want, stored = listed[min(k, len(listed) - 1)]
            if want != shape:
                raise self.error(
                    f"{self.what}: the architecture asks for weight {name!r} of shape {shape} "
                    f"({format_bytes(nbytes)}), but the file's manifest lists it with shape "
                    f"{want}; the config and the weights do not match")
            nbytes = stored   # (a layer may convert the dtype: int8 codes of a float weight)
        if nbytes > self.budget:
            raise self.error(
                f"{self.what}: the architecture asks for weight {name!r} of shape {shape} "
                f"({format_bytes(nbytes)}), more than the file holds: its weights total "
                f"{format_bytes(self.declared)} ({format_bytes(self.budget)} not yet used); "
                "the config and the weights do not match")
        self.budget -= nbytes
        return np.zeros(shape, dtype=dtype)

    def check_input(self, shape, what):
        """Refuse a dummy build batch with more than :data:`MAX_BUILD_INPUT` values per sample."""
        try:
            dims = [1 if d is None else int(d) for d in shape]
        except (TypeError, ValueError):
            raise self.error(f"{self.what}: {what}: bad input shape {shape!r}") from None
        if any(d < 0 for d in dims):
            raise self.error(f"{self.what}: {what}: negative size in the input shape {shape!r}")
        if math.prod(dims) > MAX_BUILD_INPUT:
            raise self.error(
                f"{self.what}: {what}: the input shape {tuple(shape)} holds "
                f"{math.prod(dims):,} values per sample, more than the {MAX_BUILD_INPUT:,} "
                "a checkpoint may build with")


@contextlib.contextmanager
def guarded_build(guard):
    """Make ``guard`` check every weight created (and dummy batch built) in this context."""
    token = _GUARD.set(guard)
    try:
        yield guard
    finally:
        _GUARD.reset(token)


def active_guard():
    """The :class:`WeightGuard` of the current context, or None."""
    return _GUARD.get()


def check_build_input(shape, what):
    """Under a guard: refuse an oversized dummy build batch (else nothing)."""
    guard = _GUARD.get()
    if guard is not None:
        guard.check_input(shape, what)
