"""tinynlp shortens OpenBLAS's idle-thread spin when it is imported before NumPy, and only then."""

import os
import subprocess
import sys

import pytest

SCRIPT = ("import os, sys\n{first}\n"
          "print(os.environ.get('OPENBLAS_THREAD_TIMEOUT', 'unset'))\n")


def run(first, **env):
    full = {k: v for k, v in os.environ.items()
            if k not in ("OPENBLAS_THREAD_TIMEOUT", "TINYNLP_BLAS_SPIN_TUNING")}
    full.update(env)
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(first=first)], env=full,
                         capture_output=True, text=True, timeout=120, check=True)
    return out.stdout.strip()


def test_set_when_tinynlp_comes_first():
    from tinynlp._blas_spin import SPIN_LOG2_CYCLES
    assert run("import tinynlp") == str(SPIN_LOG2_CYCLES)


@pytest.mark.parametrize("first,env,expected", [
    ("import numpy, tinynlp", {}, "unset"),                       # too late: OpenBLAS read it
    ("import tinynlp", {"OPENBLAS_THREAD_TIMEOUT": "26"}, "26"),  # the user's value stands
    ("import tinynlp", {"TINYNLP_BLAS_SPIN_TUNING": "0"}, "unset"),
])
def test_left_alone_otherwise(first, env, expected):
    assert run(first, **env) == expected


def test_openblas_reads_the_value():
    """The OpenBLAS NumPy loaded reports the limit (when it exports its getter)."""
    code = ("import tinynlp, numpy, ctypes\n"
            "from threadpoolctl import threadpool_info\n"
            "libs = [i['filepath'] for i in threadpool_info() if i['internal_api'] == 'openblas']\n"
            "fn = getattr(ctypes.CDLL(libs[0]), 'openblas_thread_timeout', None) if libs else None\n"
            "print(fn() if fn is not None else 'n/a')\n")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout.strip()
    if out == "n/a":
        pytest.skip("this NumPy's BLAS is not an OpenBLAS exporting openblas_thread_timeout")
    from tinynlp._blas_spin import SPIN_LOG2_CYCLES
    assert int(out) == SPIN_LOG2_CYCLES

