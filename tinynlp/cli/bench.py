"""``tinynlp bench``: the benchmarks against PyTorch and Keras (from a checkout)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from .common import CLIError, say

__all__ = ["add_bench", "run_bench", "find_benchmarks"]

INSTALL = "pip install \"tinynlp[bench]\" (in a checkout: pip install \".[bench]\")"


def add_bench(sub):
    b = sub.add_parser(
        "bench", help="run the benchmarks against PyTorch and Keras (from a checkout)",
        description="Runs `python -m benchmarks` of the tinynlp repository (the benchmarks "
                    "are not in the installed package): found in the current folder or "
                    "next to an editable install. Needs the `bench` extra (PyTorch, Keras). "
                    "Other options go to the harness (`python -m benchmarks --help`), e.g. "
                    "tinynlp bench --quick --models seed_rnn --frameworks tinynlp,torch")
    b.add_argument("--quick", action="store_true", help="a short run that writes nothing")
    # any other option goes to the harness (see `python -m benchmarks --help`)
    b.set_defaults(func=run_bench, extra_options=True)


def find_benchmarks(roots=None):
    """The folder holding the repository's ``benchmarks/`` package, or None: the current
    folder or one of its parents, then the folder above the ``tinynlp`` package (an
    editable install)."""
    if roots is None:
        here = Path.cwd().resolve()
        package = Path(__file__).resolve().parents[2]
        roots = [here, *here.parents, package]
    for root in roots:
        if (Path(root) / "benchmarks" / "harness.py").is_file():
            return Path(root)
    return None


def run_bench(args, roots=None):
    root = find_benchmarks(roots)
    if root is None:
        raise CLIError("the benchmarks are in the tinynlp source repository, not in the "
                       "installed package: clone the repository, install it with "
                       "pip install \".[bench]\" and run `tinynlp bench` inside it")
    missing = [m for m in ("torch", "keras") if importlib.util.find_spec(m) is None]
    if missing:
        raise CLIError(f"the benchmarks compare with PyTorch and Keras, and "
                       f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not "
                       f"installed: {INSTALL}")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    say(f"tinynlp bench: the benchmarks of {root}")
    harness = importlib.import_module("benchmarks.harness")
    options = list(getattr(args, "options", None) or [])
    sys.exit(harness.main((["--quick"] if args.quick else []) + options))
