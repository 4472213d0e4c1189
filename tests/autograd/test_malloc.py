"""tinynlp tunes glibc's malloc once at import, and can be told not to."""

import os
import subprocess
import sys

import pytest

from tinynlp import _malloc


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_thresholds_applied_once_at_import():
    assert _malloc.tune_malloc() is True
    assert _malloc.tune_malloc() is True  # idempotent


def test_environment_variable_disables_tuning():
    code = "import tinynlp._malloc as m; print(m.tune_malloc())"
    env = dict(os.environ, TINYNLP_MALLOC_TUNING="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
