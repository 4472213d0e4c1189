"""``tinynlp embed train`` (word2vec on Brown) and ``tinynlp embed query`` (neighbours)."""

from __future__ import annotations

from pathlib import Path

from .. import threads
from .common import CLIError, add_threads, add_verbose, positive_int

__all__ = ["add_embed", "run_embed"]


def add_embed(sub):
    em = sub.add_parser("embed", help="train or query word vectors")
    emsub = em.add_subparsers(dest="action", metavar="ACTION", required=True)
    et = emsub.add_parser("train", help="word2vec (skip-gram) on the bundled Brown corpus")
    et.add_argument("--output", default="brown_vectors.txt",
                    help="the vectors file to write (word2vec text format)")
    et.add_argument("--dim", type=positive_int, default=100)
    et.add_argument("--window", type=positive_int, default=5)
    et.add_argument("--min-count", type=positive_int, default=5)
    et.add_argument("--epochs", type=positive_int, default=5)
    et.add_argument("--workers", type=positive_int, default=None,
                    help="word2vec threads (default: --threads' count, the idle cores)")
    et.add_argument("--seed", type=int, default=0)
    add_verbose(et)
    add_threads(et)
    eq = emsub.add_parser("query", help="nearest neighbours of words")
    eq.add_argument("words", nargs="+")
    eq.add_argument("--vectors", default="glove", help="'glove' (bundled) or a vectors file")
    eq.add_argument("--format", choices=["word2vec", "word2vec-binary", "glove"],
                    default="word2vec", help="the vectors file's format (default word2vec "
                    "text, with its `count dim` header)")
    eq.add_argument("--topn", type=positive_int, default=8, help="neighbours per word")
    add_threads(eq)
    em.set_defaults(func=run_embed)


def _check_writable_file(path):
    path = Path(path)
    if path.is_dir():
        raise CLIError(f"--output {path} is a folder; give a file name")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise CLIError(f"--output {path}: {parent} is a file, not a folder")


def run_embed(args):
    from .. import embeddings

    if args.action == "train":
        from ..data import datasets

        _check_writable_file(args.output)   # before the training, not after it
        train_sents, _ = datasets.load_brown_text(lower=True)
        model = embeddings.Word2Vec(train_sents, vector_size=args.dim, window=args.window,
                                    min_count=args.min_count, sg=1, negative=5,
                                    epochs=args.epochs, workers=args.workers or threads.get_num_threads(), seed=args.seed,
                                    verbose=args.verbose)
        model.wv.save_word2vec_format(args.output)
        print(f"trained {len(model.wv)} vectors of {args.dim} dims on the Brown corpus "
              f"-> {args.output}")
        return
    if args.vectors == "glove":
        kv = embeddings.load_glove_6b_50d()
    else:
        path = Path(args.vectors)
        if not path.is_file():
            raise CLIError(f"vectors file {args.vectors!r} does not exist")
        try:
            if args.format == "glove":
                kv = embeddings.KeyedVectors.load_glove(path)
            else:
                kv = embeddings.KeyedVectors.load_word2vec_format(
                    path, binary=args.format == "word2vec-binary")
        except (ValueError, OSError, EOFError) as e:
            message = str(e)
            if str(path) not in message:
                message = f"cannot read the vectors file {path} as {args.format}: {message}"
            raise CLIError(message) from None
    missing = []
    for word in args.words:
        if word not in kv:
            missing.append(word)
            continue
        neighbours = ", ".join(f"{w} ({s:.2f})" for w, s in kv.most_similar(word, topn=args.topn))
        print(f"{word}: {neighbours}")
    if missing:
        hint = ""
        if args.vectors == "glove" and any(w != w.lower() for w in missing):
            hint = " (its words are lowercase)"
        raise CLIError(f"not in the vocabulary of {args.vectors} ({len(kv):,} words): "
                       + ", ".join(repr(w) for w in missing) + hint)
