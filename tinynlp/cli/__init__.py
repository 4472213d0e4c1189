"""The ``tinynlp`` command (also ``python -m tinynlp``).

    tinynlp quickstart                       train a sentiment model on bundled data
    tinynlp train TASK [--model M] [--epochs N] [--batch-size B] [--lr LR] [--seed S]
                       [--out DIR]           TASK: sentiment, classify, tagging, lm,
                                             translate, imbalance, dialogue; your own data:
                                             train classify --data FILE.csv ...
    tinynlp evaluate TASK [--model DIR]      re-evaluate a trained model on its test set
    tinynlp predict TEXT... | - | --data F   classify texts (a sentiment / classify run)
    tinynlp embed train|query ...            word vectors
    tinynlp generate [--prompt P] ...        sample from a trained language model
    tinynlp translate "texto" ...            translate with a trained seq2seq model
    tinynlp bench [--quick]                  the benchmarks against PyTorch / Keras
    tinynlp serve [--model DIR]              an HTTP API for a saved model (extra `serve`)
    tinynlp chat [--model DIR]               talk with a trained dialogue model (also piped:
                                             one line per turn)
    tinynlp pretrain [--quick] [--out DIR]   pretrain the small GPT on the bundled corpus

Where models live (:mod:`tinynlp.tasks.runs`): ``train TASK`` saves ``runs/TASK``;
commands that read a model take ``--model DIR`` and otherwise use the most recent
run of their task, saying which.

Every sub-command has ``--help``.  A user error (a missing file, a bad option, a
corrupt checkpoint or vectors file) prints one line ``tinynlp CMD: error: ...``
and exits with status 1 (2 for a malformed command line); ``TINYNLP_TRACEBACK=1``
shows the full traceback instead.  Errors that are bugs are not caught.

Adding a sub-command: a module here with ``add_<name>(sub)`` (its parser, ending
with ``set_defaults(func=run_<name>)``) and ``run_<name>(args)``; then one line in
:data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from .. import __version__
from .bench import add_bench
from .chat import add_chat
from .common import CLIError, apply_threads
from .embed import add_embed
from .generate import add_generate, add_translate
from .predict import add_predict
from .pretrain import add_pretrain
from .serve import add_serve
from .train import add_evaluate, add_quickstart, add_train

__all__ = ["COMMANDS", "CLIError", "build_parser", "main"]

#: the sub-commands, in the order ``--help`` lists them: each adds its parser
COMMANDS = [
    add_quickstart,
    add_train,
    add_evaluate,
    add_predict,
    add_embed,
    add_generate,
    add_translate,
    add_bench,
    add_serve,
    add_chat,
    add_pretrain,
]


class Parser(argparse.ArgumentParser):
    """``ArgumentParser`` whose ``epilog_fn`` (if given) writes the epilog when help is
    shown — so that listing each task's models imports the tasks only for ``--help``."""

    def __init__(self, *args, epilog_fn=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.epilog_fn = epilog_fn

    def format_help(self):
        if self.epilog_fn is not None:
            self.epilog = self.epilog_fn()
            self.formatter_class = argparse.RawDescriptionHelpFormatter
        return super().format_help()


def build_parser():
    p = Parser(prog="tinynlp", description="tinynlp: deep learning for NLP, from scratch in "
               "NumPy + Numba.", epilog="Every command has --help. Models are saved in "
               "runs/TASK; commands that read one use the most recent run unless given "
               "--model DIR.")
    p.add_argument("--version", action="version", version=f"tinynlp {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for add in COMMANDS:
        add(sub)
    return p


#: the errors a user can cause and fix: shown as one line (anything else is a bug and
#: keeps its traceback).  ValueError covers the library's own error types (CheckpointError,
#: DataFileError, ...) and UnicodeDecodeError; OSError missing files and folders, full
#: disks, permissions and bad gzip files; EOFError a truncated compressed file;
#: ImportError a missing optional extra.
USER_ERRORS = (CLIError, ValueError, OSError, EOFError, ImportError)


def _one_line(error) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, OSError) and error.filename and str(error.filename) not in text:
        text = f"{text}: {error.filename}"
    if isinstance(error, KeyError):
        text = f"missing {text}"
    return " ".join(text.split())


def main(argv=None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        if not getattr(args, "extra_options", False):
            parser.parse_args(argv)            # the usual "unrecognized arguments" error
        args.options = extra
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    command = args.command

    def show_warning(message, category, filename, lineno, file=None, line=None):
        print(f"tinynlp {command}: warning: {message}", file=sys.stderr, flush=True)

    with warnings.catch_warnings():
        warnings.showwarning = show_warning
        try:
            if command != "bench":             # bench's workers set their own threads
                apply_threads(args, command)
            args.func(args)
        except KeyboardInterrupt:
            print(f"\ntinynlp {command}: interrupted", file=sys.stderr)
            return 130
        except USER_ERRORS as e:
            if os.environ.get("TINYNLP_TRACEBACK"):
                raise
            sys.stdout.flush()
            print(f"tinynlp {command}: error: {_one_line(e)}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
