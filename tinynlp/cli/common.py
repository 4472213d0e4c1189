"""What the sub-commands share: the error type, the tasks, argument types, run folders."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from .. import threads
from ..progress import resolve_verbose
from ..tasks.common import read_json
from ..tasks.runs import (
    RUN_INFO,
    check_output_folder,
    default_folder,
    find_runs,
    run_info,
    runs_root,
)

__all__ = ["CLIError", "TASKS", "task_module", "task_models", "run_task_name", "say",
           "positive_int", "positive_float", "verbose_arg", "add_verbose", "add_threads",
           "apply_threads", "model_folder",
           "output_folder", "default_folder"]

#: the command line's task names → their recipe modules
TASKS = {
    "sentiment": "tinynlp.tasks.sentiment",
    "classify": "tinynlp.tasks.classification",
    "tagging": "tinynlp.tasks.tagging",
    "lm": "tinynlp.tasks.language_model",
    "translate": "tinynlp.tasks.translation",
    "imbalance": "tinynlp.tasks.imbalance",
    "dialogue": "tinynlp.tasks.dialogue",
}


class CLIError(Exception):
    """A user error: printed as one line, exit status 1."""


def task_module(name):
    """The recipe module of the task ``name`` (imported now: `--help` stays fast)."""
    if name not in TASKS:
        raise CLIError(f"unknown task {name!r}; expected one of: {', '.join(TASKS)}")
    return importlib.import_module(TASKS[name])


def task_models(name) -> tuple:
    """The model choices of a task (its ``MODELS``), first the default."""
    module = task_module(name)
    return tuple(getattr(module, "MODELS", ()))


def run_task_name(name) -> str:
    """The task name a run of the command-line task ``name`` records in run.json."""
    return getattr(task_module(name), "TASK", name)


def say(message):
    """A note for the user on standard error (standard output is for results)."""
    print(message, file=sys.stderr, flush=True)


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text}")
    return value


def verbose_arg(text):
    if text == "auto":
        return text
    if text in ("0", "1", "2"):
        return int(text)
    raise argparse.ArgumentTypeError(f"expected auto, 0, 1 or 2, got {text!r}")


def add_verbose(parser):
    parser.add_argument("--verbose", type=verbose_arg, default="auto", metavar="{auto,0,1,2}",
                        help="progress: auto (default) = a live bar on a terminal, one line "
                             "per epoch in a pipe or a file; 0 silent; 1 the bar; 2 the lines")


def thread_count(text):
    """``--threads``' value: a positive integer or ``auto``."""
    try:
        value = threads.parse_threads(text, "--threads")
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).replace("--threads must be", "expected")) \
            from None
    return "auto" if value is None else value


def add_threads(parser):
    parser.add_argument(
        "--threads", type=thread_count, default=None, metavar="N",
        help=f"BLAS and Numba threads (default: the idle cores, measured at start; also "
             f"${threads.ENV_VAR}); 1 is fastest when other programs keep the cores busy")


def apply_threads(args, command):
    """Apply ``--threads`` (or ``$TINYNLP_THREADS``, or the idle cores) for the whole run.
    A command that shows a live progress bar (``--verbose 1``, or ``auto`` on a terminal)
    says on stderr when other processes leave fewer cores than the machine has; piped
    output stays as it was (a user error, say, is still its one line)."""
    if getattr(args, "threads", None) not in (None, "auto"):
        threads.set_num_threads(args.threads)
        return
    choice = threads.apply()
    if choice.source == "auto" and choice.threads < choice.available and \
            resolve_verbose(getattr(args, "verbose", 0)) == 1:
        say(f"tinynlp {command}: {choice.busy:.1f} of {choice.available} cores busy with "
            f"other programs: {choice.threads} thread{'s' if choice.threads > 1 else ''} "
            f"(--threads N to choose)")


def model_folder(spec, tasks, what, command):
    """The run folder a reading command uses.

    ``spec``: None (the most recent run of ``tasks`` under runs/, announced on stderr),
    a folder, or a model name of those tasks (``lstm``: its most recent run).
    ``tasks``: command-line task names (None: any task); ``what`` names them in messages.
    """
    lib_tasks = None if tasks is None else {run_task_name(t) for t in tasks}
    hint = f"`tinynlp train {tasks[0]}`" if tasks else "`tinynlp train TASK`"
    if spec is None:
        runs = find_runs(lib_tasks)
        if not runs:
            raise CLIError(f"no trained {what} model under {runs_root()}/ (looked for folders "
                           f"with a model.tnz); train one first with {hint}, or give its "
                           f"folder: tinynlp {command} --model DIR")
        run = runs[0]
        others = f"; {len(runs) - 1} older" if len(runs) > 1 else ""
        say(f"tinynlp {command}: using {run.describe()} (the most recent {what} run{others}; "
            "another with --model DIR)")
        return run.folder
    path = Path(spec)
    if path.is_dir():
        run = run_info(path)
        if run is None:
            _explain_not_a_run(path, hint)
        if lib_tasks is not None and run.task not in lib_tasks:
            raise CLIError(f"{path} holds a {run.task} model; `tinynlp {command}` needs a "
                           f"{what} model (a folder written by {hint})")
        return path
    kinds = {m: t for t in (tasks or TASKS) for m in task_models(t)}
    if spec in kinds:
        runs = find_runs(lib_tasks, model=spec)
        if not runs:
            raise CLIError(f"no {spec} run under {runs_root()}/; train one with "
                           f"`tinynlp train {kinds[spec]} --model {spec}`")
        say(f"tinynlp {command}: using {runs[0].describe()}")
        return runs[0].folder
    raise CLIError(f"--model {spec!r}: no such folder, and not a model name "
                   f"({', '.join(sorted(kinds))})")


def _explain_not_a_run(path, hint):
    """Raise the reason why ``path`` is not a run folder (an unreadable file is named)."""
    if not (path / "model.tnz").is_file():
        raise CLIError(f"{path} holds no trained model (no model.tnz); give a folder written "
                       f"by {hint}")
    for name in (RUN_INFO, "tokenizer.json", "vocab.json"):
        if (path / name).is_file():
            info = read_json(path / name)     # a ValueError naming the file if it is broken
            if not isinstance(info, dict) or not isinstance(info.get("task"), str):
                raise CLIError(f"{path / name} does not say which task wrote the model (no "
                               "\"task\" entry); give a folder written by " + hint)
    raise CLIError(f"{path} has a model.tnz but no run.json, tokenizer.json or vocab.json; "
                   f"give a folder written by {hint}")


def output_folder(path):
    """``path`` checked for saving a run into, before any training (see
    :func:`tinynlp.tasks.runs.check_output_folder`)."""
    try:
        return check_output_folder(path)
    except OSError as e:
        raise CLIError(str(e)) from None
