"""What every task recipe shares: quick mode, results, artifact folders."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import plot as tn_plot
from .. import random as tn_random
from ..atomic import write_json_atomic  # noqa: F401  (the recipes' writer, re-exported)
from ..text import Tokenizer
from .runs import write_run_info

__all__ = ["quick_mode", "TaskResult", "write_json_atomic", "read_json", "require_keys",
           "out_dir", "check_model", "start_run", "save_run", "tokenizer_from_meta"]


def quick_mode() -> bool:
    """True when ``TINYNLP_QUICK=1``: tests and CI shrink data and epochs."""
    return os.environ.get("TINYNLP_QUICK", "") not in ("", "0", "false", "False")


def check_model(task, model, models):
    """``model`` if it is one of the recipe's ``models``, else a ValueError naming them."""
    if model not in models:
        raise ValueError(f"{task}: unknown model {model!r}; expected one of {models}")
    return model


def start_run(task, model, models, seed):
    """The start of every recipe's ``train``: check ``model``, seed ``tn.random``;
    returns :func:`quick_mode`."""
    check_model(task, model, models)
    tn_random.seed(seed)
    return quick_mode()


@dataclass
class TaskResult:
    """What a task's ``train`` returns (and prints): its metrics beside a baseline."""

    task: str
    model: str
    metric: str
    value: float
    baseline_name: str
    baseline: float
    extra: dict = field(default_factory=dict)
    artifacts: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        lines = [f"{self.task} ({self.model}): {self.metric} = {self.value:.4f}   "
                 f"[{self.baseline_name}: {self.baseline:.4f}]"]
        for k, v in self.extra.items():
            if isinstance(v, float):
                lines.append(f"  {k}: {v:.4f}")
            elif isinstance(v, (int, str)):
                lines.append(f"  {k}: {v}")
        for k, v in self.artifacts.items():
            lines.append(f"  {k}: {v}")
        return "\n".join(lines)


def out_dir(path) -> Path:
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    return p


def read_json(path, required=()) -> dict:
    """The JSON object in ``path``; ``required``: keys it must have.  A missing file, bad
    JSON, another type or a missing key raise ``FileNotFoundError`` / ``ValueError``
    naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"expected the file {path}, which does not exist")
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON: {e}") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not UTF-8 text: {e}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path} holds a JSON {type(value).__name__}, expected an object")
    return require_keys(value, path, required)


def require_keys(value, path, required) -> dict:
    """``value`` (a dict read from ``path``) if it has every key of ``required``, else a
    ``ValueError`` naming the file and the missing keys."""
    missing = [k for k in required if k not in value]
    if missing:
        raise ValueError(f"{path} has no {', '.join(map(repr, missing))} entry (a damaged file, "
                         "or not one written by tinynlp)")
    return value


def tokenizer_from_meta(meta, path):
    """The ``Tokenizer`` saved under ``meta["tokenizer"]`` (read from ``path``); damaged
    settings are a ValueError naming the file."""
    try:
        return Tokenizer.from_config(meta["tokenizer"])
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"{path}: the tokenizer's settings are damaged or incomplete "
                         f"({type(e).__name__}: {e})") from None


def save_run(out, net, meta_name, meta, history=None, title=None):
    """Save what a recipe's ``train`` leaves behind in the folder ``out``: the model
    (``model.tnz``), its preprocessing state (``meta_name``, JSON) and, given a ``title``,
    the learning curves of ``history`` (``learning_curves.png``).

    Also ``run.json`` (:func:`tinynlp.tasks.runs.write_run_info`): the ``task`` and
    ``model`` named in ``meta``, which the command line uses to find the latest run of
    a task.  Returns ``(folder, artifacts)``, artifacts mapping "model", the meta file's
    stem (e.g. "vocab") and "plot" to the paths written.
    """
    folder = out_dir(out)
    net.save(folder / "model.tnz")
    write_json_atomic(folder / meta_name, meta)
    write_run_info(folder, meta.get("task"), meta.get("model"))
    artifacts = {"model": str(folder / "model.tnz"),
                 Path(meta_name).stem: str(folder / meta_name)}
    if title is not None:
        tn_plot.history(history, path=folder / "learning_curves.png", title=title)
        artifacts["plot"] = str(folder / "learning_curves.png")
    return folder, artifacts
