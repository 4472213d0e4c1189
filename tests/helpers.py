"""Shared test utilities.

``check_grad(op_name, fn, inputs)`` runs ``tn.gradcheck`` and records the op's
name, so the end of a pytest run lists every op that passed a float64
finite-difference check (see ``conftest.py``).
"""

from __future__ import annotations

import numpy as np

import tinynlp as tn

GRADCHECKED: set = set()


def check_grad(op_name: str, fn, inputs, **kwargs) -> None:
    """Gradcheck ``fn`` on float64 ``inputs`` and record ``op_name`` as checked."""
    assert tn.gradcheck(fn, inputs, **kwargs)
    GRADCHECKED.add(op_name)


def t64(array, requires_grad=True):
    """A float64 tensor (copy) for gradient checks."""
    return tn.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)
