"""``tinynlp quickstart``, ``tinynlp train TASK`` and ``tinynlp evaluate TASK``."""

from __future__ import annotations

import argparse
import inspect
import os
import sys

from ..tasks.runs import runs_root
from .common import (
    TASKS, CLIError, add_threads, add_verbose, default_folder, fraction, model_folder, output_folder,
    positive_float, positive_int, task_models, task_module,
)

__all__ = ["add_quickstart", "add_train", "add_evaluate", "run_quickstart", "run_train",
           "run_evaluate"]

QUICKSTART_EXAMPLES = ("a gorgeous, witty, seductive movie.",
                       "the plot is nothing but boilerplate clichés from start to finish.")


# ---- quickstart ------------------------------------------------------------------------

def add_quickstart(sub):
    q = sub.add_parser("quickstart", help="train a sentiment model on bundled data (the "
                       "README's main job)")
    q.add_argument("--epochs", type=positive_int, default=None,
                   help="default: 4 (1 with TINYNLP_QUICK=1)")
    q.add_argument("--out", default=None,
                   help=f"where to save the model and its plot (default {runs_root()}/quickstart)")
    q.add_argument("--seed", type=int, default=0)
    add_verbose(q)
    add_threads(q)
    q.set_defaults(func=run_quickstart)


def run_quickstart(args):
    from ..tasks import sentiment
    from ..tasks.predictor import TextClassifier

    out = output_folder(args.out or default_folder("quickstart"))
    print("tinynlp quickstart: a Kim-style CNN for sentiment on Rotten Tomatoes critic snippets")
    print("(10,253 training / 2,499 test sentences, bundled with tinynlp; no download)\n",
          flush=True)
    result = sentiment.train("cnn", epochs=args.epochs, out=out, verbose=args.verbose,
                             seed=args.seed)
    print()
    print(result)
    probs = TextClassifier.load(out).predict_proba(QUICKSTART_EXAMPLES)[:, 1]
    print("\nTry it:")
    for text, p in zip(QUICKSTART_EXAMPLES, probs):
        print(f"  {p:5.2f}  {'fresh ' if p >= 0.5 else 'rotten'}  {text}")
    print('\nNext: tinynlp predict "your sentence"   (uses the latest sentiment run; '
          f"or --model {out})")


# ---- train -----------------------------------------------------------------------------

#: command-line option → the keyword of the task's ``train`` it sets
OPTIONS = {
    "model": "model", "epochs": "epochs", "batch_size": "batch_size", "lr": "learning_rate",
    "seed": "seed", "verbose": "verbose", "pretrained": "pretrained",
    "distributed": "distributed", "data": "data", "test": "test",
    "text_column": "text_column", "label_column": "label_column", "test_size": "test_size",
}
#: options that only make sense with --data
DATA_OPTIONS = ("test", "text_column", "label_column", "test_size")


def _flag(dest):
    return "--" + dest.replace("_", "-")


def _models_epilog():
    lines = ["model choices (--model):"]
    for name in TASKS:
        models = task_models(name)
        param = inspect.signature(task_module(name).train).parameters.get("model")
        default = f"   (default {param.default})" if param is not None else ""
        lines.append(f"  {name:<10} {', '.join(models) if models else '-'}{default}")
    lines += ["", "your own data: tinynlp train classify --data FILE.csv --text-column T "
              "--label-column L [--test FILE | --test-size 0.2] --out DIR",
              f"the model is saved in {runs_root()}/TASK unless --out is given"]
    return "\n".join(lines)


def add_train(sub):
    t = sub.add_parser("train", help="train a task's model (on its bundled data, or your own "
                       "file for classify)", epilog_fn=_models_epilog)
    t.add_argument("task", choices=list(TASKS), metavar="TASK", help=f"one of: {', '.join(TASKS)}")
    t.add_argument("--model", help="the task's model (see the choices below)")
    t.add_argument("--epochs", type=positive_int)
    t.add_argument("--batch-size", type=positive_int)
    t.add_argument("--lr", type=positive_float, help="learning rate (Adam)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", help=f"output folder (default {runs_root()}/TASK)")
    add_verbose(t)
    t.add_argument("--pretrained", choices=["glove"],
                   help="sentiment: start the embedding from the bundled GloVe vectors")
    t.add_argument("--distributed", action="store_true",
                   help="data-parallel over MPI: launch with `mpiexec -n N tinynlp train ...`")
    d = t.add_argument_group("your own data (classify)")
    d.add_argument("--data", metavar="FILE", help="a .csv, .tsv or .jsonl file of labelled texts")
    d.add_argument("--test", metavar="FILE", help="the test examples (default: hold out "
                   "--test-size of --data)")
    d.add_argument("--text-column", metavar="T", help="default: text")
    d.add_argument("--label-column", metavar="L", help="default: label")
    d.add_argument("--test-size", type=fraction, help="the share held out (default 0.2)")
    add_threads(t)
    t.set_defaults(func=run_train)


def _train_kwargs(args, module):
    """The keywords for ``module.train`` from the given options (each checked first)."""
    params = inspect.signature(module.train).parameters
    kwargs = {}
    given = {dest: getattr(args, dest) for dest in OPTIONS
             if getattr(args, dest) not in (None, False)}
    if args.data is None:
        extra = [d for d in DATA_OPTIONS if d in given]
        if extra:
            raise CLIError(f"{_flag(extra[0])} goes with --data FILE (your own data)")
    for dest, value in given.items():
        key = OPTIONS[dest]
        if key not in params:
            takers = [name for name in TASKS
                      if key in inspect.signature(task_module(name).train).parameters]
            raise CLIError(f"`tinynlp train {args.task}` has no option {_flag(dest)}"
                           + (f" (it applies to: {', '.join(takers)})" if takers else ""))
        kwargs[key] = value
    if args.model is not None:
        models = task_models(args.task)
        if models and args.model not in models:
            raise CLIError(f"task {args.task!r} has no model {args.model!r}; expected one of: "
                           f"{', '.join(models)}")
    return kwargs


def run_train(args):
    module = task_module(args.task)
    kwargs = _train_kwargs(args, module)
    kwargs["out"] = output_folder(args.out or default_folder(args.task))
    result = module.train(**kwargs)
    if not (kwargs.get("distributed") and _mpi_rank() != 0):
        print(result)


def _mpi_rank() -> int:
    """This process's MPI rank from the launcher's environment (0 when not under MPI)."""
    for var in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK"):
        if var in os.environ:
            return int(os.environ[var])
    return 0


# ---- evaluate --------------------------------------------------------------------------

def add_evaluate(sub):
    e = sub.add_parser("evaluate", help="evaluate a trained task model on its test set")
    e.add_argument("task", choices=list(TASKS), metavar="TASK", help=f"one of: {', '.join(TASKS)}")
    e.add_argument("--model", metavar="DIR",
                   help="the run folder (default: the most recent run of TASK under "
                        f"{runs_root()}/), or a model name (its most recent run)")
    e.add_argument("--out", dest="model_out", help=argparse.SUPPRESS)   # the former --model
    e.add_argument("--data", metavar="FILE", help="classify: evaluate on this labelled file")
    e.add_argument("--text-column", metavar="T")
    e.add_argument("--label-column", metavar="L")
    add_threads(e)
    e.set_defaults(func=run_evaluate)


def run_evaluate(args):
    module = task_module(args.task)
    folder = model_folder(args.model or args.model_out, [args.task], args.task, "evaluate")
    kwargs = {k: getattr(args, k) for k in ("data", "text_column", "label_column")
              if getattr(args, k) is not None}
    params = inspect.signature(module.evaluate).parameters
    for key in kwargs:
        if key not in params:
            raise CLIError(f"`tinynlp evaluate {args.task}` has no option {_flag(key)}")
    print(module.evaluate(folder, **kwargs))
    sys.stdout.flush()
