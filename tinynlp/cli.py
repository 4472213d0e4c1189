"""The ``tinynlp`` command (also ``python -m tinynlp``).

    tinynlp quickstart                      train a sentiment model on bundled data
    tinynlp train TASK [--model M] [--epochs N] [--out DIR] [--distributed]
                                            (TASK: sentiment, classify, tagging, lm, translate,
                                             imbalance)
    tinynlp evaluate TASK [--out DIR]       re-evaluate a trained model on the test split
    tinynlp predict "some text" [--out DIR] sentiment of a text
    tinynlp embed train|query ...           word vectors
    tinynlp generate [--prompt P] ...       sample from a trained language model
    tinynlp translate "texto" ...           translate with a trained seq2seq model
    tinynlp bench [--quick]                 the benchmarks against PyTorch / Keras
    tinynlp serve --model DIR [--port 8000] an HTTP API for a saved model (extra `serve`)
    tinynlp pretrain [--quick] [--out DIR]  pretrain the small GPT on the bundled corpus

Every sub-command has ``--help``. Errors (unknown task, missing files, bad
arguments) print one clear line and exit with status 1 (2 for usage errors).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

TASKS = {
    "sentiment": "tinynlp.tasks.sentiment",
    "classify": "tinynlp.tasks.classification",
    "tagging": "tinynlp.tasks.tagging",
    "lm": "tinynlp.tasks.language_model",
    "translate": "tinynlp.tasks.translation",
    "imbalance": "tinynlp.tasks.imbalance",
}


class CLIError(Exception):
    """An error to report as one line, exit status 1."""


def _task_module(name):
    if name not in TASKS:
        raise CLIError(f"unknown task {name!r}; expected one of: {', '.join(TASKS)}")
    return importlib.import_module(TASKS[name])


def _default_out(task):
    return str(Path("runs") / task)


def _mpi_rank() -> int:
    """This process's MPI rank from the launcher's environment (0 when not under MPI)."""
    import os
    for var in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK"):
        if var in os.environ:
            return int(os.environ[var])
    return 0


def _require_dir(folder, what):
    if not Path(folder).is_dir():
        raise CLIError(
            f"no trained {what} in {folder!r} (the folder does not exist); "
            f"train one first, e.g. `tinynlp train {what}`"
        )


# ---------------------------------------------------------------------------
# sub-commands
# ---------------------------------------------------------------------------

def cmd_quickstart(args):
    from .tasks import sentiment

    print("tinynlp quickstart: a Kim-style CNN for sentiment on Rotten Tomatoes critic snippets")
    print("(10,253 training / 2,499 test sentences, bundled with tinynlp; no download)\n")
    result = sentiment.train("cnn", epochs=args.epochs, out=args.out, verbose=args.verbose,
                             seed=args.seed)
    print()
    print(result)
    model, encode = sentiment.load(args.out)
    examples = ["a gorgeous, witty, seductive movie.",
                "the plot is nothing but boilerplate clichés from start to finish."]
    probs = model.predict(encode(examples), verbose=0).reshape(-1)
    print("\nTry it:")
    for text, p in zip(examples, probs):
        print(f"  {p:5.2f}  {'fresh ' if p >= 0.5 else 'rotten'}  {text}")
    print(f"\nNext: tinynlp predict \"your sentence\" --out {args.out}")


def cmd_train(args):
    module = _task_module(args.task)
    kwargs = {"out": args.out or _default_out(args.task), "verbose": args.verbose,
              "seed": args.seed}
    if args.model:
        models = getattr(module, "MODELS", ())
        if models and args.model not in models:
            raise CLIError(f"task {args.task!r} has no model {args.model!r}; "
                           f"expected one of: {', '.join(models)}")
        kwargs["model"] = args.model
    if args.epochs is not None:
        kwargs["epochs"] = args.epochs
    if args.pretrained:
        kwargs["pretrained"] = args.pretrained
    if args.distributed:
        kwargs["distributed"] = True
    try:
        result = module.train(**kwargs)
    except TypeError as e:
        if "unexpected keyword" in str(e):
            raise CLIError(f"task {args.task!r} does not accept that option: {e}") from None
        raise
    if _mpi_rank() == 0:
        print(result)


def cmd_evaluate(args):
    module = _task_module(args.task)
    folder = args.out or _default_out(args.task)
    _require_dir(folder, args.task)
    if not hasattr(module, "evaluate"):
        raise CLIError(f"task {args.task!r} has no evaluate()")
    print(module.evaluate(folder))


def cmd_predict(args):
    from .tasks import sentiment

    _require_dir(args.out, "sentiment")
    probs = sentiment.predict(args.texts, args.out)
    for text, p in zip(args.texts, probs):
        print(f"{p:.3f}\t{'fresh' if p >= 0.5 else 'rotten'}\t{text}")


def cmd_embed(args):
    from . import embeddings

    if args.action == "train":
        from . import datasets
        train_sents, _ = datasets.load_brown_text(lower=True)
        model = embeddings.Word2Vec(train_sents, vector_size=args.dim, window=args.window,
                                    min_count=args.min_count, sg=1, negative=5,
                                    epochs=args.epochs, workers=args.workers, seed=args.seed)
        model.wv.save_word2vec_format(args.output)
        print(f"trained {len(model.wv)} vectors of {args.dim} dims on the Brown corpus "
              f"-> {args.output}")
        return
    # query
    if args.vectors == "glove":
        kv = embeddings.load_glove_6b_50d()
    else:
        path = Path(args.vectors)
        if not path.is_file():
            raise CLIError(f"vectors file {args.vectors!r} does not exist")
        kv = (embeddings.KeyedVectors.load_glove(path) if args.format == "glove"
              else embeddings.KeyedVectors.load_word2vec_format(path))
    for word in args.words:
        if word not in kv:
            print(f"{word}: not in the vocabulary")
            continue
        neighbours = ", ".join(f"{w} ({s:.2f})" for w, s in kv.most_similar(word, topn=args.topn))
        print(f"{word}: {neighbours}")


def cmd_generate(args):
    module = _task_module("lm")
    _require_dir(args.out, "lm")
    print(module.generate(args.prompt, folder=args.out, length=args.length,
                          temperature=args.temperature, top_k=args.top_k, seed=args.seed))


def cmd_translate(args):
    module = _task_module("translate")
    _require_dir(args.out, "translate")
    for text, out in zip(args.texts, module.translate(args.texts, folder=args.out,
                                                       beam_size=args.beam)):
        print(f"{text}\t->\t{out}")


def cmd_bench(args):
    try:
        bench = importlib.import_module("benchmarks.__main__")
    except ImportError:
        raise CLIError("the benchmarks are not importable: run `tinynlp bench` from a checkout "
                       "of the repository (they are not part of the installed package)") from None
    sys.exit(bench.main(["--quick"] if args.quick else []))


def cmd_serve(args):
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise CLIError(f"`tinynlp serve` needs the serve extra: pip install \"tinynlp[serve]\" "
                       f"({e})") from None
    from . import serve

    limits = serve.Limits(max_body_bytes=args.max_body_bytes, max_input_chars=args.max_input_chars,
                    max_tokens=args.max_tokens_limit, timeout=args.timeout)
    serve.run(args.model, host=args.host, port=args.port, max_batch=args.max_batch,
              max_wait_ms=args.max_wait_ms, limits=limits, model_name=args.name,
              threads=args.threads, log_level=args.log_level)


def _serve_parser(sub):
    s = sub.add_parser("serve", help="serve a saved task model over HTTP (OpenAI-style "
                       "completions, classify, tag, translate)")
    s.add_argument("--model", required=True, help="a folder written by `tinynlp train TASK`")
    s.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (this machine only)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--max-batch", type=int, default=32,
                   help="most inputs (or generated rows) per forward pass; 1 = no batching")
    s.add_argument("--max-wait-ms", type=float, default=5.0,
                   help="how long to gather a batch after its first request")
    s.add_argument("--name", help="the model id clients send (default: the folder name)")
    s.add_argument("--max-body-bytes", type=int, default=1 << 20)
    s.add_argument("--max-input-chars", type=int, default=20_000)
    s.add_argument("--max-tokens-limit", type=int, default=2048,
                   help="the largest max_tokens a generation request may ask for")
    s.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    s.add_argument("--threads", type=int, default=None, help="BLAS / Numba threads")
    s.add_argument("--log-level", default="info",
                   choices=["critical", "error", "warning", "info", "debug"])
    s.set_defaults(func=cmd_serve)


def cmd_pretrain(args):
    from .pretrained import train as pretraining

    summary = pretraining.run_cli(vars(args))
    print({k: v for k, v in summary.items() if k != "config"})


def _pretrain_parser(sub):
    s = sub.add_parser("pretrain", help="pretrain the small GPT on the bundled corpus "
                       "(resumable; the settings of the shipped tinygpt by default)")
    s.add_argument("--quick", action="store_true",
                   help="seconds on a tiny slice (also TINYNLP_QUICK=1), for tests")
    s.add_argument("--out", help="run folder: log, checkpoints, curve (default runs/pretrain); "
                   "an unfinished run there is resumed")
    s.add_argument("--cache-dir", help="cached tokenizer and token ids (default "
                   "~/.cache/tinynlp/pretrain or $TINYNLP_CACHE/pretrain)")
    s.add_argument("--export", help="then write the model as a pretrained folder here")
    for name, typ in (("hidden_dim", int), ("num_layers", int), ("num_heads", int),
                      ("sequence_length", int), ("batch_size", int), ("epochs", float),
                      ("steps", int), ("learning_rate", float), ("warmup_steps", int),
                      ("seed", int), ("max_documents", int), ("vocab_size", int),
                      ("log_every", int), ("eval_every", int), ("checkpoint_every", int),
                      ("tokenizer", str)):
        s.add_argument("--" + name.replace("_", "-"), dest=name, type=typ)
    s.add_argument("--sources", nargs="+", help="corpus sources (default: all)")
    s.set_defaults(func=cmd_pretrain)


# ---------------------------------------------------------------------------
# parser
# ---------------------------------------------------------------------------

def build_parser():
    p = argparse.ArgumentParser(prog="tinynlp", description="tinynlp: deep learning for NLP, "
                                "from scratch in NumPy + Numba.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    q = sub.add_parser("quickstart", help="train a sentiment model on bundled data (the README's "
                       "main job)")
    q.add_argument("--epochs", type=int, default=None, help="default: 4 (1 with TINYNLP_QUICK=1)")
    q.add_argument("--out", default="runs/quickstart", help="where to save model and plot")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])
    q.set_defaults(func=cmd_quickstart)

    t = sub.add_parser("train", help="train a task's model on its bundled data")
    t.add_argument("task", help=f"one of: {', '.join(TASKS)}")
    t.add_argument("--model", help="the task's model variant (e.g. rnn, lstm, cnn)")
    t.add_argument("--epochs", type=int)
    t.add_argument("--pretrained", choices=["glove"], help="start embeddings from bundled GloVe")
    t.add_argument("--out", help="output folder (default runs/TASK)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])
    t.add_argument("--distributed", action="store_true",
                   help="data-parallel over MPI: launch with `mpiexec -n N tinynlp train ...`")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="evaluate a trained task model on its test split")
    e.add_argument("task", help=f"one of: {', '.join(TASKS)}")
    e.add_argument("--out", help="the folder it was saved in (default runs/TASK)")
    e.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser("predict", help="sentiment of one or more texts")
    pr.add_argument("texts", nargs="+")
    pr.add_argument("--out", default="runs/quickstart", help="folder of a trained sentiment model")
    pr.set_defaults(func=cmd_predict)

    em = sub.add_parser("embed", help="train or query word vectors")
    emsub = em.add_subparsers(dest="action", metavar="ACTION", required=True)
    et = emsub.add_parser("train", help="word2vec (skip-gram) on the bundled Brown corpus")
    et.add_argument("--output", default="brown_vectors.txt")
    et.add_argument("--dim", type=int, default=100)
    et.add_argument("--window", type=int, default=5)
    et.add_argument("--min-count", type=int, default=5)
    et.add_argument("--epochs", type=int, default=5)
    et.add_argument("--workers", type=int, default=2)
    et.add_argument("--seed", type=int, default=0)
    eq = emsub.add_parser("query", help="nearest neighbours of words")
    eq.add_argument("words", nargs="+")
    eq.add_argument("--vectors", default="glove", help="'glove' (bundled) or a vectors file")
    eq.add_argument("--format", choices=["word2vec", "glove"], default="word2vec")
    eq.add_argument("--topn", type=int, default=8)
    em.set_defaults(func=cmd_embed)

    g = sub.add_parser("generate", help="sample text from a trained language model")
    g.add_argument("--prompt", default="")
    g.add_argument("--out", default="runs/lm")
    g.add_argument("--length", type=int, default=300)
    g.add_argument("--temperature", type=float, default=0.8)
    g.add_argument("--top-k", type=int, default=None)
    g.add_argument("--seed", type=int, default=0)
    g.set_defaults(func=cmd_generate)

    tr = sub.add_parser("translate", help="translate with a trained encoder-decoder")
    tr.add_argument("texts", nargs="+")
    tr.add_argument("--out", default="runs/translate")
    tr.add_argument("--beam", type=int, default=4, help="beam size (1 = greedy)")
    tr.set_defaults(func=cmd_translate)

    b = sub.add_parser("bench", help="run the benchmarks against PyTorch and Keras")
    b.add_argument("--quick", action="store_true")
    b.set_defaults(func=cmd_bench)

    _serve_parser(sub)
    _pretrain_parser(sub)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        args.func(args)
    except CLIError as e:
        print(f"tinynlp {args.command}: error: {e}", file=sys.stderr)
        return 1
    except (FileNotFoundError, ValueError) as e:
        print(f"tinynlp {args.command}: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
