"""``tinynlp chat``: talk with a trained dialogue model, at a terminal or through a pipe."""

from __future__ import annotations

import sys

from ..tasks.runs import runs_root
from .common import model_folder, positive_float, positive_int, task_module

__all__ = ["add_chat", "run_chat"]


def add_chat(sub):
    c = sub.add_parser("chat", help="talk with a trained dialogue model (type a line, get a "
                       "reply; or pipe lines in, one per turn)")
    c.add_argument("--model", metavar="DIR",
                   help=f"a folder written by `tinynlp train dialogue` (default: the most "
                        f"recent dialogue run under {runs_root()}/), or a model name")
    c.add_argument("--window", type=int, default=2,
                   help="earlier turns (user and bot lines) kept as context (default 2)")
    c.add_argument("--temperature", type=float, default=0.8, help="0 = greedy")
    c.add_argument("--top-k", type=positive_int, default=40)
    c.add_argument("--top-p", type=positive_float, default=None)
    c.add_argument("--max-tokens", type=positive_int, default=None,
                   help="longest reply, in BPE tokens")
    c.add_argument("--seed", type=int, default=None,
                   help="a fixed seed: the same replies to the same lines")
    c.set_defaults(func=run_chat)


def run_chat(args):
    module = task_module("dialogue")
    folder = model_folder(args.model, ["dialogue"], "dialogue", "chat")
    lines = module.interactive_lines() if sys.stdin.isatty() else sys.stdin
    module.run_chat(folder, lines, lambda text: print(text, flush=True), window=args.window,
                    temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                    seed=args.seed, max_new_tokens=args.max_tokens)
