"""Where a task's trained model lives: one folder per run under ``runs/``.

The convention every command follows (``train``, ``quickstart``, ``predict``,
``evaluate``, ``generate``, ``translate``, ``serve``):

- ``tinynlp train TASK`` writes ``runs/TASK`` (``--out DIR`` elsewhere);
  ``tinynlp quickstart`` writes ``runs/quickstart`` (a sentiment run);
- a run folder holds ``model.tnz``, the task's preprocessing file
  (``tokenizer.json`` or ``vocab.json``) and ``run.json``: which task and model
  wrote it (:func:`write_run_info`);
- a command that reads a model takes ``--model DIR``; without it, it uses the most
  recent run of its task under ``runs/`` (:func:`latest_run`) and says which;
  ``--model KIND`` (e.g. ``--model lstm``) picks the most recent run of that model.

``runs/`` is relative to the current folder; ``$TINYNLP_RUNS`` moves it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..atomic import write_json_atomic

__all__ = ["RUN_INFO", "Run", "runs_root", "default_folder", "write_run_info", "run_info",
           "find_runs", "latest_run", "check_output_folder"]

RUN_INFO = "run.json"
#: the preprocessing files of older runs (before run.json), whose "task" says what wrote them
_META_FILES = ("tokenizer.json", "vocab.json")


@dataclass(frozen=True)
class Run:
    """A run folder: ``folder``, the ``task`` and ``model`` that wrote it, ``saved``
    (the model file's modification time, seconds since the epoch)."""

    folder: Path
    task: str
    model: str | None
    saved: float

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved))
        model = f" ({self.model})" if self.model else ""
        return f"{self.folder}: {self.task}{model}, saved {when}"


def runs_root() -> Path:
    """The folder that holds the runs: ``$TINYNLP_RUNS`` or ``runs``."""
    return Path(os.environ.get("TINYNLP_RUNS") or "runs")


def default_folder(name) -> Path:
    """Where ``tinynlp train NAME`` (or ``quickstart``) saves: ``runs/NAME``."""
    return runs_root() / name


def write_run_info(folder, task, model=None, **extra) -> None:
    """Write ``run.json`` into ``folder``: the task and model that wrote the run."""
    info = {"task": task, "model": model, "saved": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "tinynlp_version": __version__, **extra}
    write_json_atomic(Path(folder) / RUN_INFO, info)


def _read(path):
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def run_info(folder) -> Run | None:
    """The :class:`Run` saved in ``folder``, or None when it holds no trained model."""
    folder = Path(folder)
    model_file = folder / "model.tnz"
    if not model_file.is_file():
        return None
    info = _read(folder / RUN_INFO)
    if info is None:   # a run saved before run.json: its meta file names the task
        for name in _META_FILES:
            info = _read(folder / name)
            if info is not None:
                info.setdefault("task", "sentiment" if name == "tokenizer.json" else None)
                break
    if info is None or not isinstance(info.get("task"), str):
        return None
    model = info.get("model")
    return Run(folder, info["task"], model if isinstance(model, str) else None,
               model_file.stat().st_mtime)


def find_runs(tasks=None, model=None, root=None) -> list:
    """The runs under ``root`` (default :func:`runs_root`) of one of ``tasks`` (a task
    name or several; None: all), and of ``model`` if given; the most recent first."""
    root = runs_root() if root is None else Path(root)
    if isinstance(tasks, str):
        tasks = (tasks,)
    if not root.is_dir():
        return []
    runs = []
    for folder in sorted(root.iterdir()):
        run = run_info(folder) if folder.is_dir() else None
        if run is None or (tasks is not None and run.task not in tasks):
            continue
        if model is not None and run.model != model:
            continue
        runs.append(run)
    runs.sort(key=lambda r: r.saved, reverse=True)
    return runs


def latest_run(tasks, model=None, root=None) -> Run | None:
    """The most recent run of ``tasks`` (and ``model``) under ``root``, or None."""
    runs = find_runs(tasks, model, root)
    return runs[0] if runs else None


def check_output_folder(path) -> Path:
    """``path`` if a run can be saved there — checked *before* training, so that a bad
    ``--out`` fails at once instead of after the training.  Nothing is created.

    Raises ``NotADirectoryError`` when it (or a folder on the way to it) is a file, and
    ``PermissionError`` when the folder that would hold it is not writable.
    """
    path = Path(path)
    probe = path
    while True:
        if probe.exists():
            if not probe.is_dir():
                what = "is a file" if probe == path else f"is under {probe}, which is a file"
                raise NotADirectoryError(f"cannot save the run in {path}: it {what}; "
                                         "choose another --out folder")
            if not os.access(probe, os.W_OK | os.X_OK):
                raise PermissionError(f"cannot save the run in {path}: {probe} is not "
                                      "writable; choose another --out folder")
            return path
        parent = probe.parent
        if parent == probe:
            return path
        probe = parent
