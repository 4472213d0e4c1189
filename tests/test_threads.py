"""tinynlp.threads: the thread-count rule, its overrides, and that the limits are applied."""

import ast
import math
from pathlib import Path

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import ThreadpoolController, threadpool_info, threadpool_limits

import tinynlp as tn
from tinynlp import threads
from tinynlp.cli import build_parser, main
from tinynlp.cli.common import apply_threads

ROOT = Path(__file__).resolve().parents[1]


def blas_threads():
    return [d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"]


@pytest.fixture(autouse=True)
def _fresh_state(monkeypatch):
    """Each test starts with no explicit count and no measurement, and leaves the BLAS and
    Numba settings as it found them."""
    monkeypatch.setattr(threads, "_state", {"explicit": None, "auto": None,
                                            "measured_at": -math.inf})
    monkeypatch.delenv(threads.ENV_VAR, raising=False)
    saved = {lib.filepath: lib.num_threads for lib in ThreadpoolController().lib_controllers}
    saved_numba = numba.get_num_threads()
    yield
    for lib in ThreadpoolController().lib_controllers:
        lib.set_num_threads(saved.get(lib.filepath, lib.num_threads))
    numba.set_num_threads(saved_numba)


# ---- the rule ----------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(available=st.integers(1, 256), busy=st.floats(0, 512, allow_nan=False))
def test_rule_is_in_range_and_uses_the_idle_cores(available, busy):
    n = threads.choose_threads(available, busy)
    assert 1 <= n <= available
    assert n == max(1, min(available, math.floor(available - busy + 0.5)))
    # more load never gives more threads
    assert threads.choose_threads(available, busy + 0.5) <= n


@given(available=st.integers(1, 256))
def test_rule_on_an_idle_and_a_full_machine(available):
    assert threads.choose_threads(available, 0.0) == available
    assert threads.choose_threads(available, 0.4) == available
    assert threads.choose_threads(available, float(available)) == 1
    assert threads.choose_threads(available, 10.0 * available) == 1


def test_rule_on_the_two_core_machine():
    # one CPU-bound competitor (yes > /dev/null) holds a core: one thread, not two
    assert threads.choose_threads(2, 1.0) == 1
    assert threads.choose_threads(2, 0.6) == 1
    assert threads.choose_threads(2, 0.3) == 2


@pytest.mark.parametrize("available, busy", [(0, 0.0), (-1, 0.0), (1.5, 0.0), (True, 0.0),
                                             ("2", 0.0), (2, -0.1), (2, math.nan),
                                             (2, math.inf), (2, "1")])
def test_rule_rejects_bad_inputs(available, busy):
    with pytest.raises(ValueError, match="choose_threads"):
        threads.choose_threads(available, busy)


@pytest.mark.parametrize("value, expected", [(3, 3), ("2", 2), (" 4 ", 4), ("auto", None),
                                             ("AUTO", None), ("", None), (None, None)])
def test_parse_threads(value, expected):
    assert threads.parse_threads(value, "x") == expected


@pytest.mark.parametrize("value", [0, -2, "0", "two", "1.5", 1.0, True])
def test_parse_threads_rejects(value):
    with pytest.raises(ValueError, match="where must be a positive integer"):
        threads.parse_threads(value, "where")


def test_measurements_are_plausible():
    assert 1 <= threads.available_cores() <= (__import__("os").cpu_count() or 1)
    busy = threads.busy_cores(0.02)
    assert 0.0 <= busy <= threads.available_cores() + 1e-9
    choice = threads.decide()
    assert choice.source == "auto" and 1 <= choice.threads <= choice.available
    assert "cores busy" in choice.describe()


def test_the_measurement_is_kept_then_refreshed(monkeypatch):
    calls = []
    monkeypatch.setattr(threads, "busy_cores", lambda: calls.append(1) or 0.0)
    threads.decide()
    threads.decide()
    assert len(calls) == 1
    threads.decide(refresh=True)
    assert len(calls) == 2
    monkeypatch.setitem(threads._state, "measured_at", -1e9)   # an old measurement
    threads.decide()
    assert len(calls) == 3


# ---- overrides and their errors ------------------------------------------------------------

def test_env_var_overrides_the_rule(monkeypatch):
    monkeypatch.setattr(threads, "busy_cores", lambda: pytest.fail("measured"))
    monkeypatch.setenv("TINYNLP_THREADS", "3")
    assert tn.get_num_threads() == 3
    assert threads.decide().source == "TINYNLP_THREADS"
    monkeypatch.setenv("TINYNLP_THREADS", "many")
    with pytest.raises(ValueError, match="TINYNLP_THREADS must be a positive integer or 'auto', "
                                         "got 'many'"):
        tn.get_num_threads()


def test_set_num_threads_wins_and_applies(monkeypatch):
    monkeypatch.setenv("TINYNLP_THREADS", "2")
    tn.set_num_threads(1)
    assert tn.get_num_threads() == 1
    assert blas_threads() and set(blas_threads()) == {1}
    assert numba.get_num_threads() == 1
    tn.set_num_threads(2)
    assert set(blas_threads()) == {2}
    assert numba.get_num_threads() == min(2, numba.config.NUMBA_NUM_THREADS)
    tn.set_num_threads(None)                  # back to the environment variable
    assert threads.decide().source == "TINYNLP_THREADS"
    for bad in (0, -1, 2.5, "x", True):
        with pytest.raises(ValueError, match="set_num_threads: n must be"):
            tn.set_num_threads(bad)


def test_limit_applies_then_restores():
    ThreadpoolController().limit(limits=2, user_api="blas")
    with threads.limit(1) as n:
        assert n == 1 and set(blas_threads()) == {1} and numba.get_num_threads() == 1
    assert set(blas_threads()) == {2}


def test_an_automatic_count_never_raises_a_lower_limit(monkeypatch):
    monkeypatch.setattr(threads, "busy_cores", lambda: 0.0)
    monkeypatch.setattr(threads, "available_cores", lambda: 8)
    with threadpool_limits(limits=1, user_api="blas"), threads.limit() as n:
        assert n == 1 and set(blas_threads()) == {1}
    tn.set_num_threads(2)                     # an explicit count does
    with threadpool_limits(limits=1, user_api="blas"), threads.limit() as n:
        assert n == 2 and set(blas_threads()) == {2}


def test_fit_runs_with_the_count_and_restores(monkeypatch):
    seen = []

    class Record(tn.callbacks.Callback):
        def on_batch_begin(self, batch, logs=None):
            seen.append((tuple(blas_threads()), numba.get_num_threads()))

    ThreadpoolController().limit(limits=2, user_api="blas")
    monkeypatch.setenv("TINYNLP_THREADS", "1")
    model = tn.Sequential([tn.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((8, 3), np.float32)
    model.fit(x, x[:, :1], batch_size=4, epochs=1, verbose=0, callbacks=[Record()])
    assert seen and all(b == (1,) * len(b) and nb == 1 for b, nb in seen)
    assert set(blas_threads()) == {2}


# ---- the command line --------------------------------------------------------------------

def test_cli_threads_option():
    args = build_parser().parse_args(["train", "sentiment", "--threads", "1"])
    assert args.threads == 1
    apply_threads(args, "train")
    assert tn.get_num_threads() == 1 and set(blas_threads()) == {1}
    for argv in (["predict", "hi", "--threads", "auto"], ["serve", "--threads", "2"],
                 ["embed", "train", "--threads", "2"], ["generate", "--threads", "3"]):
        build_parser().parse_args(argv)


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_cli_rejects_bad_threads(value, capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["train", "sentiment", "--threads", value])
    assert e.value.code == 2
    assert "--threads: expected a positive integer or 'auto', got" in capsys.readouterr().err


def test_cli_bad_env_var_is_a_one_line_error(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("TINYNLP_THREADS", "0")
    assert main(["predict", "hi", "--model", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [("tinynlp predict: error: TINYNLP_THREADS must be a positive integer or "
                    "'auto', got '0'")]


def test_cli_says_when_it_uses_fewer_threads(monkeypatch, capsys):
    monkeypatch.setattr(threads, "busy_cores", lambda: 1.0)
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    apply_threads(build_parser().parse_args(["train", "sentiment", "--verbose", "1"]), "train")
    assert capsys.readouterr().err == ("tinynlp train: 1.0 of 2 cores busy with other "
                                       "programs: 1 thread (--threads N to choose)\n")
    assert set(blas_threads()) == {1}
    # no note without a live bar (--verbose 0 or 2, "auto" in a pipe as here, or a command
    # without progress): piped output, a one-line error included, stays as it was
    for argv in (["train", "sentiment", "--verbose", "0"], ["train", "sentiment"],
                 ["train", "sentiment", "--verbose", "2"], ["predict", "hi"]):
        apply_threads(build_parser().parse_args(argv), argv[0])
        assert capsys.readouterr().err == ""


# ---- no nested parallel regions ----------------------------------------------------------

BLAS_CALLS = {"dot", "matmul", "vdot", "inner", "outer", "tensordot", "einsum", "solve", "inv"}


def test_no_parallel_kernel_calls_blas():
    """A Numba ``parallel=True`` kernel never calls a BLAS product (which would run the
    BLAS pool inside Numba's: threads × threads)."""
    found = 0
    for path in sorted((ROOT / "tinynlp").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            parallel = any(isinstance(d, ast.Call) and any(
                k.arg == "parallel" and isinstance(k.value, ast.Constant) and k.value.value
                for k in d.keywords) for d in node.decorator_list)
            if not parallel:
                continue
            found += 1
            for sub in ast.walk(node):
                assert not (isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.MatMult)), \
                    f"{path.name}:{node.name} uses @ inside a parallel kernel"
                if isinstance(sub, ast.Attribute):
                    assert sub.attr not in BLAS_CALLS, \
                        f"{path.name}:{node.name} calls {sub.attr} inside a parallel kernel"
    assert found >= 3           # word2vec, GloVe and int8 have parallel kernels
