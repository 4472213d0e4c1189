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
