"""``tinynlp predict``: a trained classifier's labels for texts, standard input or a file."""

from __future__ import annotations

import sys
from pathlib import Path

from ..data.tabular import write_predictions
from ..tasks.runs import run_info, runs_root
from .common import CLIError, add_threads, model_folder, say

__all__ = ["add_predict", "run_predict"]

#: the command-line tasks whose runs `predict` reads
CLASSIFIERS = ["sentiment", "classify", "imbalance"]


def add_predict(sub):
    p = sub.add_parser(
        "predict", help="classify texts with a trained model (sentiment, classify, imbalance)",
        description="Classify texts given as arguments, one per line on standard input (`-`), "
                    "or in a file (--data). Prints `probability<TAB>label<TAB>text` per text, "
                    "or writes a CSV (--out): the text, `prediction`, one p_<class> column "
                    "per class.")
    p.add_argument("texts", nargs="*", metavar="TEXT", help="texts to classify; `-` reads "
                   "standard input, one text per line")
    p.add_argument("--model", metavar="DIR", help="the run folder (default: the most recent "
                   f"sentiment / classify / imbalance run under {runs_root()}/), or a model name")
    p.add_argument("--data", metavar="FILE", help="a .csv, .tsv, .jsonl or .txt file of texts")
    p.add_argument("--text-column", default="text", metavar="T",
                   help="the column of --data holding the texts (default: text)")
    p.add_argument("--out", metavar="FILE", help="write the predictions as CSV to FILE")
    add_threads(p)
    p.set_defaults(func=run_predict)


def _texts(args):
    if args.data is not None:
        if args.texts:
            raise CLIError("give texts or --data FILE, not both")
        return None
    if not args.texts:
        raise CLIError('nothing to classify: give texts (tinynlp predict "a fine film"), `-` '
                       "to read standard input (one text per line), or --data FILE")
    texts = []
    for t in args.texts:
        if t == "-":
            if sys.stdin is None or sys.stdin.isatty():
                say("tinynlp predict: reading texts from standard input, one per line "
                    "(end with Ctrl-D)")
            texts.extend(line.rstrip("\r\n") for line in sys.stdin)
        else:
            texts.append(t)
    if not texts:
        raise CLIError("standard input held no line to classify")
    return texts


def run_predict(args):
    from ..tasks.predictor import TextClassifier

    if args.model is None and args.out is not None and run_info(args.out) is not None:
        raise CLIError(f"--out names the predictions file; the model folder is --model: "
                       f"tinynlp predict ... --model {args.out}")
    if args.out is not None and Path(args.out).is_dir():
        raise CLIError(f"--out {args.out} is a folder; give the predictions a file name, "
                       f"e.g. --out {Path(args.out) / 'predictions.csv'}")
    texts = _texts(args)
    folder = model_folder(args.model, CLASSIFIERS, "text classification", "predict")
    classifier = TextClassifier.load(folder)
    if texts is None:
        n = classifier.predict_file(args.data, args.out or sys.stdout, args.text_column)
        if args.out:
            say(f"tinynlp predict: {n} predictions -> {args.out}")
        return
    probs = classifier.predict_proba(texts)
    labels = classifier.labels_of(probs)
    if args.out:
        write_predictions(args.out, texts, labels, probs, classifier.classes)
        say(f"tinynlp predict: {len(texts)} predictions -> {args.out}")
        return
    for text, label, row in zip(texts, labels, probs):
        print(f"{row.max():.3f}\t{label}\t{text}")
