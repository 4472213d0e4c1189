"""``tinynlp serve``: a saved task model behind an HTTP API (extra ``serve``)."""

from __future__ import annotations

from ..tasks.runs import runs_root
from .common import CLIError, add_threads, model_folder

__all__ = ["add_serve", "run_serve"]


def add_serve(sub):
    s = sub.add_parser("serve", help="serve a saved task model over HTTP (OpenAI-style "
                       "completions, classify, tag, translate)")
    s.add_argument("--model", metavar="DIR",
                   help=f"a folder written by `tinynlp train TASK` (default: the most recent "
                        f"run under {runs_root()}/)")
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
    add_threads(s)
    s.add_argument("--log-level", default="info",
                   choices=["critical", "error", "warning", "info", "debug"])
    s.set_defaults(func=run_serve)


def run_serve(args):
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise CLIError(f"`tinynlp serve` needs the serve extra: pip install \"tinynlp[serve]\" "
                       f"({e})") from None
    from .. import serve

    limits = serve.Limits(max_body_bytes=args.max_body_bytes, max_input_chars=args.max_input_chars,
                          max_tokens=args.max_tokens_limit, timeout=args.timeout)
    # a folder given is checked by the server itself (its messages name the task files)
    folder = args.model if args.model is not None else model_folder(None, None, "task", "serve")
    serve.run(folder, host=args.host, port=args.port, max_batch=args.max_batch,
              max_wait_ms=args.max_wait_ms, limits=limits, model_name=args.name,
              log_level=args.log_level)

