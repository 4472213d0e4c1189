"""Shared fixtures for the task recipes: quick mode and one BLAS thread.

Task trainings run with ``TINYNLP_QUICK=1`` (tiny data, one epoch).  BLAS is
limited to one thread while these modules run: the recurrent models make
many small matrix products, for which a second thread costs more than it
brings (and much more on a loaded machine).
"""

import pytest


@pytest.fixture(scope="module", autouse=True)
def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def quick_env():
    """``TINYNLP_QUICK=1`` for a module-scoped fixture (monkeypatch is per test)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINYNLP_QUICK", "1")
        yield mp


@pytest.fixture
def quick(monkeypatch):
    monkeypatch.setenv("TINYNLP_QUICK", "1")
