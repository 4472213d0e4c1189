"""``tinynlp pretrain``: pretrain the small GPT on the bundled corpus (resumable).

Without options the run has the settings of the shipped ``tinygpt``
(``PretrainConfig()`` in :mod:`tinynlp.pretrained.train`); ``--quick`` (or
``TINYNLP_QUICK=1``) is a run of seconds on a tiny slice, for tests and CI.
An unfinished run in ``--out`` is resumed; a finished one is read back.
"""

from __future__ import annotations

import os

from ..tasks.common import quick_mode
from .common import add_verbose, default_folder, output_folder, positive_float, positive_int

__all__ = ["SETTINGS", "add_pretrain", "run_pretrain"]

#: options that set the PretrainConfig field of the same name, and their types
SETTINGS = (("hidden_dim", positive_int), ("num_layers", positive_int),
            ("num_heads", positive_int), ("sequence_length", positive_int),
            ("batch_size", positive_int), ("epochs", positive_float), ("steps", positive_int),
            ("learning_rate", positive_float), ("warmup_steps", int), ("seed", int),
            ("max_documents", positive_int), ("vocab_size", positive_int),
            ("log_every", positive_int), ("eval_every", positive_int),
            ("checkpoint_every", positive_int), ("tokenizer", str))


def add_pretrain(sub):
    p = sub.add_parser("pretrain", help="pretrain the small GPT on the bundled corpus "
                       "(resumable; the settings of the shipped tinygpt by default)")
    p.add_argument("--quick", action="store_true",
                   help="seconds on a tiny slice (also TINYNLP_QUICK=1), for tests")
    p.add_argument("--out", help="run folder: log, checkpoints, curve (default "
                   "runs/pretrain, or runs/pretrain-quick); an unfinished run there is "
                   "resumed")
    p.add_argument("--cache-dir", help="cached tokenizer and token ids (default "
                   "~/.cache/tinynlp/pretrain or $TINYNLP_CACHE/pretrain)")
    p.add_argument("--export", metavar="DIR",
                   help="then write the model as a pretrained folder here "
                        "(load it with tn.pretrained.load_pretrained(DIR))")
    for name, typ in SETTINGS:
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=typ)
    p.add_argument("--sources", nargs="+", help="corpus sources (default: all)")
    add_verbose(p)
    p.set_defaults(func=run_pretrain)


def run_pretrain(args):
    """The config from the options (the quick preset under ``--quick`` /
    ``TINYNLP_QUICK=1``, then every setting given), the run, then the export."""
    from ..pretrained import train as pretraining  # the models load only when it runs

    quick = bool(args.quick) or quick_mode()
    overrides = {name: getattr(args, name) for name, _ in SETTINGS + (("sources", None),)
                 if getattr(args, name) is not None}
    config = (pretraining.PretrainConfig.quick(**overrides) if quick
              else pretraining.PretrainConfig(**overrides))
    out = output_folder(args.out or default_folder("pretrain-quick" if quick else "pretrain"))
    if args.export:
        output_folder(args.export)
    summary = pretraining.pretrain(config, out=out, cache_dir=args.cache_dir,
                                   verbose=args.verbose)
    if args.export:
        pretraining.export(out, args.export)
        summary = dict(summary, exported_to=os.fspath(args.export))
    print({k: v for k, v in summary.items() if k != "config"})
    return summary
