"""tinynlp.progress: Keras' rule (a live bar on a terminal, one line elsewhere), the delay
of slow loads, and the piped size of a training run."""

import io
import sys

import numpy as np
import pytest

import tinynlp as tn
from tinynlp.progress import Progress, loading, resolve_verbose


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_auto_is_the_bar_on_a_terminal_and_lines_elsewhere():
    assert resolve_verbose("auto", Terminal()) == 1
    assert resolve_verbose("auto", io.StringIO()) == 2
    assert resolve_verbose(None, io.StringIO()) == 2
    assert [resolve_verbose(v, io.StringIO()) for v in (0, 1, 2, True)] == [0, 1, 2, 1]
    with pytest.raises(ValueError, match="verbose must be 'auto', 0, 1 or 2, got 3"):
        resolve_verbose(3)


def test_bar_on_a_terminal_line_in_a_pipe():
    tty = Terminal()
    bar = Progress(50, stream=tty, interval=0.0, unit="doc", title="loading X")
    for i in range(50):
        bar.advance(1, {"n": i})
    bar.finish()
    text = tty.getvalue()
    assert text.count("\r") >= 50 and "ETA: " in text and text.endswith("\n")
    assert "loading X 50/50 [" in text and "/doc" in text
    pipe = io.StringIO()
    bar = Progress(50, stream=pipe, title="loading X", unit="doc")
    for i in range(50):
        bar.advance()
    bar.finish({"size": 3})
    assert pipe.getvalue().count("\n") == 1 and "\r" not in pipe.getvalue()
    assert pipe.getvalue().startswith("loading X - ") and "size: 3" in pipe.getvalue()
    quiet = io.StringIO()
    Progress(5, verbose=0, stream=quiet).finish()
    assert quiet.getvalue() == ""


def test_a_quick_job_under_the_delay_prints_nothing(capsys):
    with loading("something small"):
        pass
    assert capsys.readouterr().err == ""
    slow = Progress(None, title="loading Y", delay=0.0, stream="stderr")
    slow.finish()
    err = capsys.readouterr().err
    assert err.startswith("loading Y - ") and err.count("\n") == 1 and "/unknown" not in err


def test_fit_piped_is_one_line_per_epoch(capsys, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    model = tn.Sequential([tn.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=3, batch_size=8, validation_split=0.1)     # verbose="auto"
    out = capsys.readouterr().out
    assert out.count("\n") == 3 and "\r" not in out and len(out) < 600
    model.evaluate(x, y)
    assert capsys.readouterr().out.count("\n") == 1
    tty = Terminal()
    monkeypatch.setattr(sys, "stdout", tty)
    model.fit(x, y, epochs=1, batch_size=8)                           # a terminal: the bar
    shown = tty.getvalue()
    assert shown.startswith("Epoch 1/1\n") and "\r" in shown and "[=====" in shown
