import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", deadline=None, max_examples=30,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "ci", deadline=None, max_examples=20, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture(autouse=True)
def _seed_everything():
    """Each test starts from the same global seed."""
    import tinynlp as tn

    tn.random.seed(1234)
    np.random.seed(1234)
    yield


@pytest.fixture(scope="session")
def _pools_at_start():
    """Numba's thread count and the BLAS libraries' when the session starts."""
    import numba
    from threadpoolctl import ThreadpoolController

    import tinynlp  # noqa: F401 - tinynlp's import settings first

    return numba.get_num_threads(), ThreadpoolController().select(user_api="blas").info()


@pytest.fixture(autouse=True)
def _pools_as_at_start(_pools_at_start):
    """After each test, Numba's and BLAS's thread counts as the session started with.

    A test that sets tinynlp's count and then returns to the automatic choice
    (``tn.set_num_threads(None)``, the command line's start) would otherwise leave the
    idle cores it counted at that moment: one, on a busy machine, for every test after
    it (whose inference and train steps then never run in blocks of the batch)."""
    yield
    import numba
    from threadpoolctl import ThreadpoolController

    n, blas = _pools_at_start
    if numba.get_num_threads() == n:
        return
    numba.set_num_threads(n)
    controller = ThreadpoolController()
    for lib in blas:
        controller.select(filepath=lib["filepath"]).limit(limits=lib["num_threads"])


def pytest_terminal_summary(terminalreporter):
    from tests.helpers import GRADCHECKED

    if GRADCHECKED:
        names = sorted(GRADCHECKED)
        terminalreporter.write_sep("=", f"{len(names)} ops passed float64 gradcheck")
        terminalreporter.write_line(", ".join(names))
    try:
        import torch  # noqa: F401

        terminalreporter.write_line(f"PyTorch {torch.__version__} installed: parity tests ran")
    except ImportError:
        terminalreporter.write_line("PyTorch not installed: parity tests were skipped")
