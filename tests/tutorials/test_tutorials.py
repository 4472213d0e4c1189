"""Every tutorial runs top to bottom in quick mode (TINYNLP_QUICK=1 shrinks
data and epochs), so an API change that breaks one fails CI."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).resolve().parents[2] / "tutorials").glob("[0-9][0-9]_*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs_in_quick_mode(path, tmp_path):
    env = dict(os.environ, TINYNLP_QUICK="1", MPLBACKEND="Agg", PYTHONHASHSEED="0")
    repo = str(path.parents[1])
    env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (
        f"{path.name} failed (exit {result.returncode}):\n{result.stdout[-3000:]}\n"
        f"{result.stderr[-5000:]}"
    )


def test_tutorials_are_numbered_and_present():
    names = [p.name for p in TUTORIALS]
    assert names, "no tutorials found"
    assert names[0].startswith("01_")
