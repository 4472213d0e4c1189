"""``tinynlp serve``: load a saved task model and serve it with uvicorn.

SIGTERM (or Ctrl-C) shuts down gracefully: the server stops accepting
connections, the requests in flight (streams included) finish, then the
worker thread finishes its queue and stops.  Requests still running after
``Limits.timeout`` + 5 s are cancelled.  A clean shutdown exits with status 0.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from .. import threads
from .adapters import load_adapter
from .app import create_app
from .validation import Limits

__all__ = ["run", "set_threads"]


def set_threads(n):
    """Limit BLAS and Numba to ``n`` threads for the server's process
    (:func:`tinynlp.threads.set_num_threads`)."""
    threads.set_num_threads(n)


def run(model, host="127.0.0.1", port=8000, max_batch=32, max_wait_ms=5.0, limits=None,
        model_name=None, threads=None, log_level="info", switch_interval=0.001):
    """Serve the task model saved in the folder ``model`` until SIGTERM / Ctrl-C."""
    import uvicorn

    if threads:
        set_threads(threads)
    # the event loop and the worker thread hand the GIL to each other many times per
    # batch; Python's default 5 ms switch interval would make each of them wait
    sys.setswitchinterval(switch_interval)
    limits = limits or Limits()
    adapter = load_adapter(model)
    adapter.warmup()
    model_id = model_name or Path(model).resolve().name
    app = create_app(adapter, model_id=model_id, max_batch=max_batch, max_wait_ms=max_wait_ms,
                     limits=limits)
    print(f"tinynlp serve: {model_id!r} ({getattr(adapter, 'description', adapter.task)}) "
          f"on http://{host}:{port}  [max batch {max_batch}, max wait {max_wait_ms:g} ms; "
          f"endpoints: GET /health, GET /v1/models, "
          f"{', '.join('POST ' + p for p in app.state.service.model_card()['endpoints'])}]",
          file=sys.stderr, flush=True)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level,
                            access_log=log_level in ("debug", "trace", "info"), lifespan="on",
                            timeout_graceful_shutdown=int(limits.timeout) + 5,
                            server_header=False, proxy_headers=False)
    _after_shutdown_exit_quietly()
    uvicorn.Server(config).run()


def _after_shutdown_exit_quietly():
    """uvicorn handles SIGTERM / SIGINT while it serves, then raises the signal again
    under the handlers it found; with these, a clean shutdown returns (exit status 0)
    instead of dying of the signal a second time."""
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: None)
