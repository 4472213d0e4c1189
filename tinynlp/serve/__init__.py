"""Model as a service: ``tinynlp serve --model DIR`` (needs the ``serve`` extra).

An HTTP API for any saved task model — OpenAI-style ``/v1/completions`` and
``/v1/chat/completions`` (with server-sent-event streaming) for language
models, ``/v1/classify``, ``/v1/tag`` and ``/v1/translate`` for the others —
on Starlette + uvicorn, with dynamic micro-batching in a worker thread.

* :mod:`~tinynlp.serve.adapters` — a saved task folder → the model adapter
* :mod:`~tinynlp.serve.generation` — the generative-adapter interface
* :mod:`~tinynlp.serve.rnn_lm` — the LSTM / RNN language models
* :mod:`~tinynlp.serve.gpt` — a GPT over a text codec (characters or byte-level BPE)
* :mod:`~tinynlp.serve.batcher` — micro-batcher and generation scheduler
* :mod:`~tinynlp.serve.validation` — request schemas, limits, errors
* :mod:`~tinynlp.serve.app` — the Starlette routes
* :mod:`~tinynlp.serve.server` — ``run()``: uvicorn, graceful shutdown

Only ``app`` and ``server`` import Starlette / uvicorn.
"""

from .adapters import load_adapter, register_adapter
from .generation import GenerationSession, GenerativeAdapter, SamplingParams
from .validation import Limits


def create_app(*args, **kwargs):
    """See :func:`tinynlp.serve.app.create_app` (imported here on first use)."""
    from .app import create_app as make
    return make(*args, **kwargs)


def run(*args, **kwargs):
    """See :func:`tinynlp.serve.server.run`."""
    from .server import run as serve
    return serve(*args, **kwargs)


__all__ = ["GenerationSession", "GenerativeAdapter", "Limits", "SamplingParams", "create_app",
           "load_adapter", "register_adapter", "run"]
