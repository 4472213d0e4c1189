"""Tiny task models (trained once per session in quick mode) and real server processes.

``serve(folder, *flags)`` starts ``python -m tinynlp serve`` on a free localhost
port, waits for ``/health``, and stops it with SIGTERM at the end of the module
(its exit status must be 0: a graceful shutdown).
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``tinynlp serve --model folder`` in a child process, on 127.0.0.1."""

    def __init__(self, folder, *flags, log_dir):
        self.folder, self.flags = str(folder), [str(f) for f in flags]
        self.log_path = Path(log_dir) / f"serve-{Path(folder).name}-{time.monotonic_ns()}.log"
        self.proc = None

    def start(self, timeout=120.0):
        for _ in range(3):              # a port taken between the probe and the bind: retry
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            self.log = open(self.log_path, "w")
            env = dict(os.environ, PYTHONUNBUFFERED="1")
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tinynlp", "serve", "--model", self.folder,
                 "--port", str(self.port), "--threads", "1", "--log-level", "warning",
                 *self.flags], stdout=self.log, stderr=subprocess.STDOUT, env=env)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if httpx.get(self.url + "/health", timeout=2.0).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError(f"server did not start in {timeout} s:\n{self.output()}")
            if "address already in use" not in self.output().lower():
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.output()}")
        raise RuntimeError("no free port after 3 tries")

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()

    def health(self) -> dict:
        return httpx.get(self.url + "/health", timeout=10.0).json()

    def terminate(self, timeout=60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.log.close()


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    """Quick-mode task models: {name: folder} (trained on first use, once per session)."""
    root = tmp_path_factory.mktemp("serve-models")
    made = {}

    def get(name):
        if name in made:
            return made[name]
        from tinynlp.tasks import (
            classification,
            imbalance,
            language_model,
            sentiment,
            tagging,
            translation,
        )
        recipes = {
            "sentiment": lambda out: sentiment.train("cnn", out=out, verbose=0, plot=False),
            "classify": lambda out: classification.train("avg", out=out, verbose=0, plot=False),
            "tagging": lambda out: tagging.train("bilstm", out=out, verbose=0, plot=False),
            "lm": lambda out: language_model.train("lstm", out=out, verbose=0, plot=False),
            "lmrnn": lambda out: language_model.train("rnn", out=out, verbose=0, plot=False),
            "word": lambda out: language_model.train("word", out=out, verbose=0, plot=False),
            "gpt": lambda out: language_model.train("gpt", out=out, verbose=0, plot=False),
            "translate": lambda out: translation.train("lstm", out=out, verbose=0, plot=False,
                                                       beam_size=1),
            "imbalance": lambda out: imbalance.train("none", out=out, verbose=0),
        }
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("TINYNLP_QUICK", "1")
            recipes[name](str(root / name))
        made[name] = root / name
        return made[name]

    return get


@pytest.fixture(scope="module")
def serve(models, tmp_path_factory):
    """``serve(name, *flags)`` → a started :class:`ServerProcess` (stopped at module end)."""
    started = []
    log_dir = tmp_path_factory.mktemp("serve-logs")

    def start(name, *flags):
        server = ServerProcess(models(name), *flags, log_dir=log_dir).start()
        started.append(server)
        return server

    yield start
    codes = [server.terminate() for server in started]   # stop them all, then check
    for server, code in zip(started, codes):
        assert code == 0, f"the server did not shut down cleanly ({code}):\n{server.output()}"
