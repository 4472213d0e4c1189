"""One seed for a whole run: ``tn.random.seed(0)``.

Every random choice tinynlp makes (weight initialisation, dropout masks,
shuffling, negative sampling) draws from the generator returned by
:func:`get_rng`, so seeding it once makes a run reproducible bit for bit on the
same machine.  Numba kernels that draw random numbers take an explicit seed
derived from this generator (:func:`next_seed`).
"""

from __future__ import annotations

import numpy as np

_rng = np.random.default_rng()


def seed(n: int) -> None:
    """Reset tinynlp's global random generator to seed ``n``."""
    global _rng
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {n!r}")
    _rng = np.random.default_rng(int(n))


def get_rng() -> np.random.Generator:
    """The global generator (changes identity after each :func:`seed`)."""
    return _rng


def next_seed() -> int:
    """A fresh 31-bit integer from the global generator, to seed a kernel."""
    return int(_rng.integers(0, 2**31 - 1))


def get_state() -> dict:
    """The generator's state, as plain JSON-serialisable data (for checkpoints)."""
    return _rng.bit_generator.state


def set_state(state: dict) -> None:
    """Restore a state returned by :func:`get_state`."""
    _rng.bit_generator.state = state
