"""The worker's peak memory is its own, not its parent's (ru_maxrss carries the parent's
size over fork and exec on Linux)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
def test_peak_memory_is_the_workers_own():
    big = bytearray(300 * 2**20)            # a 300 MB parent
    big[::4096] = b"\x01" * len(big[::4096])
    code = "from benchmarks.worker import _maxrss_mb; print(_maxrss_mb())"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert 1 < float(out) < 250             # the child itself is a few tens of MB
    del big
