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


_FAULTS = """
import resource, numpy as np
import tinynlp
def step():
    # three 30 MB temporaries (below the 32 MiB mmap threshold) freed together:
    # 90 MB at the top of the heap, more than glibc's default trim threshold
    a = np.ones(7_500_000, np.float32); b = np.ones_like(a); c = np.ones_like(a)
    del a, b, c
step(); step()
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_freed_temporaries_are_reused_without_page_faults():
    def faults(tuning):
        env = dict(os.environ, TINYNLP_MALLOC_TUNING=tuning)
        out = subprocess.run([sys.executable, "-c", _FAULTS], env=env, capture_output=True,
                             text=True, check=True).stdout
        return int(out.strip())
    pages_per_step = 3 * 30_000_000 // 4096
    assert faults("0") > pages_per_step // 10    # glibc's defaults: fresh pages every step
    assert faults("1") < pages_per_step // 10    # tuned: the heap keeps it
