"""Saves killed with SIGKILL at points spread over the whole save (seeded, a bounded number
of kills): a ``.tnz`` file and a sharded folder always load as exactly the old or exactly
the new model, and the next completed save leaves no temporary file or unlisted shard.

The kills run in a child process (``tests/hardening/killer.py``), which forks one
grandchild per kill: the test process itself never forks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KILLS = 24
SEED = 17


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["tnz", "shards"])
def test_a_killed_overwrite_leaves_exactly_the_old_or_the_new_model(tmp_path, kind):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run(
        [sys.executable, "-m", "tests.hardening.killer", kind, str(tmp_path), str(SEED),
         str(KILLS)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["trials"] == KILLS
    assert out["failures"] == [], out
    # the kills covered both sides of the commit point, and most hit a running save
    assert out["kept_old"] > 0 and out["took_new"] > 0, out
    assert out["killed_before_end"] >= KILLS // 2, out
    assert out["leftovers_after_a_full_save"] == [], out
