"""scatter_add_rows (Numba) against its NumPy twin np.add.at — repeated ids must add."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinynlp.kernels.scatter import scatter_add_rows, scatter_add_rows_reference


def test_repeated_ids_accumulate():
    table = np.zeros((4, 2), dtype=np.float32)
    ids = np.array([1, 1, 3, 1], dtype=np.int64)
    rows = np.array([[1, 2], [10, 20], [5, 5], [100, 200]], dtype=np.float32)
    scatter_add_rows(table, ids, rows)
    np.testing.assert_array_equal(table, [[0, 0], [111, 222], [0, 0], [5, 5]])


def test_adds_to_existing_values():
    table = np.ones((3, 2))
    scatter_add_rows(table, np.array([2, 2], dtype=np.int64), np.full((2, 2), 0.5))
    np.testing.assert_array_equal(table, [[1, 1], [1, 1], [2, 2]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(v=st.integers(1, 12), d=st.integers(1, 6), n=st.integers(0, 40), seed=st.integers(0, 99))
def test_kernel_matches_reference(dtype, v, d, n, seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, v, n).astype(np.int64)   # small v: many repeats
    rows = rng.standard_normal((n, d)).astype(dtype)
    start = rng.standard_normal((v, d)).astype(dtype)
    fast, slow = start.copy(), start.copy()
    scatter_add_rows(fast, ids, rows)
    scatter_add_rows_reference(slow, ids, rows)
    np.testing.assert_allclose(fast, slow, rtol=1e-6 if dtype == np.float32 else 1e-12,
                               atol=1e-5 if dtype == np.float32 else 1e-12)
