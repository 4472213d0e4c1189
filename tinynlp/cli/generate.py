"""``tinynlp generate`` (a language model's text, streamed as it is sampled) and
``tinynlp translate`` (Spanish → English)."""

from __future__ import annotations

import argparse
import sys

from ..tasks.runs import runs_root
from .common import add_threads, model_folder, positive_float, positive_int, task_module

__all__ = ["add_generate", "add_translate", "run_generate", "run_translate"]


def _model_option(parser, task):
    parser.add_argument("--model", metavar="DIR",
                        help=f"the run folder (default: the most recent {task} run under "
                             f"{runs_root()}/), or a model name (its most recent run)")
    parser.add_argument("--out", dest="model_out", help=argparse.SUPPRESS)   # former --model


def add_generate(sub):
    g = sub.add_parser("generate", help="sample text from a trained language model")
    g.add_argument("--prompt", default="")
    _model_option(g, "lm")
    g.add_argument("--length", type=positive_int, default=300,
                   help="characters (or words) to add")
    g.add_argument("--temperature", type=positive_float, default=0.8)
    g.add_argument("--top-k", type=positive_int, default=None)
    g.add_argument("--seed", type=int, default=0)
    add_threads(g)
    g.set_defaults(func=run_generate)


def run_generate(args):
    module = task_module("lm")
    folder = model_folder(args.model or args.model_out, ["lm"], "language model", "generate")
    # the text appears as it is sampled (a GPT or a character RNN: one character at a time);
    # the arguments and the folder are checked before the first piece
    for piece in module.generate_stream(args.prompt, folder=folder, length=args.length,
                                        temperature=args.temperature, top_k=args.top_k,
                                        seed=args.seed):
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")


def add_translate(sub):
    tr = sub.add_parser("translate", help="translate Spanish with a trained encoder-decoder")
    tr.add_argument("texts", nargs="+", metavar="TEXT")
    _model_option(tr, "translate")
    tr.add_argument("--beam", type=positive_int, default=4, help="beam size (1 = greedy)")
    add_threads(tr)
    tr.set_defaults(func=run_translate)


def run_translate(args):
    module = task_module("translate")
    folder = model_folder(args.model or args.model_out, ["translate"], "translation",
                          "translate")
    for text, out in zip(args.texts, module.translate(args.texts, folder=folder,
                                                       beam_size=args.beam)):
        print(f"{text}\t->\t{out}")


