"""`tinynlp train sentiment --distributed` under mpiexec: two ranks, one saved model."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mpi4py")


def _mpiexec():
    here = Path(sys.executable).parent / "mpiexec"
    return str(here) if here.exists() else shutil.which("mpiexec")


@pytest.mark.slow
def test_cli_distributed_training_saves_once(tmp_path):
    mpiexec = _mpiexec()
    if mpiexec is None:
        pytest.skip("mpiexec not found (install the `dist` extra)")
    env = dict(os.environ, TINYNLP_QUICK="1", MPLBACKEND="Agg",
               PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    out = tmp_path / "run"
    proc = subprocess.run(
        [mpiexec, "-n", "2", sys.executable, "-m", "tinynlp", "train", "sentiment",
         "--model", "cnn", "--epochs", "1", "--verbose", "0", "--distributed", "--out", str(out)],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("sentiment (cnn): accuracy") == 1  # only rank 0 reports
    assert (out / "model.tnz").is_file() and (out / "tokenizer.json").is_file()
