"""Every tutorial runs top to bottom in quick mode (TINYNLP_QUICK=1 shrinks
data and epochs), so an API change that breaks one fails CI.

As scripts, every tutorial writes its figures and files only under one output
folder (``$TINYNLP_TUTORIAL_OUT``, by default ``tutorials/output/``), never
into the current directory.  Two of them (the quickest with figures) are also
executed as real notebooks (jupytext → nbclient → an IPython kernel), where
their figures must appear inline under the cells.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TUTORIALS = sorted((REPO / "tutorials").glob("[0-9][0-9]_*.py"))
# the two quickest tutorials that draw figures (a second or two each in quick mode)
AS_NOTEBOOKS = ["02_dense_layer_and_gradcheck", "04_elman_rnn_and_bptt"]


def _quick_env(out):
    env = dict(os.environ, TINYNLP_QUICK="1", PYTHONHASHSEED="0",
               TINYNLP_TUTORIAL_OUT=str(out))
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs_in_quick_mode(path, tmp_path):
    cwd, out = tmp_path / "cwd", tmp_path / "output"
    cwd.mkdir()
    env = _quick_env(out)
    env["MPLBACKEND"] = "Agg"
    result = subprocess.run([sys.executable, str(path)], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (
        f"{path.name} failed (exit {result.returncode}):\n{result.stdout[-3000:]}\n"
        f"{result.stderr[-5000:]}"
    )
    assert sorted(os.listdir(cwd)) == [], "a tutorial wrote into the current directory"
    source = path.read_text(encoding="utf-8")
    if "tn.plot." in source:
        pngs = sorted(p.name for p in out.glob("*.png"))
        assert pngs and all(p.startswith(path.name[:3]) for p in pngs), pngs


def test_tutorials_are_numbered_and_present():
    names = [p.name for p in TUTORIALS]
    assert names, "no tutorials found"
    assert names[0].startswith("01_")


def test_tutorials_never_pin_a_non_interactive_backend():
    """matplotlib.use("Agg") in a tutorial would stop its figures showing in a notebook."""
    offenders = [p.name for p in TUTORIALS if 'matplotlib.use("Agg")' in p.read_text("utf-8")]
    assert offenders == []


def test_the_output_folder_is_git_ignored():
    ignored = (REPO / ".gitignore").read_text(encoding="utf-8").split()
    assert "tutorials/output/" in ignored


@pytest.mark.slow
@pytest.mark.parametrize("name", AS_NOTEBOOKS)
def test_tutorial_runs_as_a_notebook_with_inline_figures(name, tmp_path, monkeypatch):
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    out = tmp_path / "output"
    for key, value in _quick_env(out).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel picks the inline backend
    notebook = jupytext.read(REPO / "tutorials" / f"{name}.py")
    assert sum(c.cell_type == "code" for c in notebook.cells) > 3  # really split into cells
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    images = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") in ("display_data", "execute_result")
              and "image/png" in o.get("data", {})]
    saved = sorted(out.glob("*.png"))
    assert saved, "the notebook saved no figure"
    assert len(images) == len(saved), (
        f"{len(saved)} figures saved but {len(images)} shown inline")
    assert sorted(os.listdir(tmp_path)) == ["output"]  # nothing in the kernel's cwd
