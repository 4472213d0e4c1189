"""tinynlp.workers: the batch split over threads (run_batch_blocks, batch_blocks) and the
counted one-thread OpenBLAS (one_blas_thread)."""

import threading

import numba
import numpy as np
import pytest

from tinynlp import workers
from tinynlp.kernels.blas import blas_thread_setters


@pytest.fixture
def blas_at_two():
    """NumPy's OpenBLAS set to 2 threads for the test, its count restored after."""
    if blas_thread_setters() is None:
        pytest.skip("NumPy is not on its bundled OpenBLAS")
    get, set_ = blas_thread_setters()
    before = get()
    set_(2)
    yield get
    set_(before)


def test_one_blas_thread_sets_one_and_restores_the_count(blas_at_two):
    get = blas_at_two
    with workers.one_blas_thread():
        assert get() == 1
        with workers.one_blas_thread():            # a second user at once
            assert get() == 1
        assert get() == 1                           # the first is still inside
    assert get() == 2


def test_one_blas_thread_restores_after_an_error_and_with_concurrent_users(blas_at_two):
    get = blas_at_two
    with pytest.raises(RuntimeError, match="boom"), workers.one_blas_thread():
        raise RuntimeError("boom")
    assert get() == 2
    inside, leave = threading.Barrier(3), threading.Event()
    seen = []

    def user():
        with workers.one_blas_thread():
            inside.wait()
            leave.wait()
            seen.append(get())

    threads = [threading.Thread(target=user) for _ in range(2)]
    for t in threads:
        t.start()
    inside.wait()                                   # both inside
    assert get() == 1
    leave.set()
    for t in threads:
        t.join()
    assert seen == [1, 1] and get() == 2


def test_run_batch_blocks_runs_every_block_with_one_thread_and_in_order():
    seen = {}

    def work(lo, hi):
        seen[(lo, hi)] = (numba.get_num_threads(),
                          None if blas_thread_setters() is None else blas_thread_setters()[0]())
        return np.arange(lo, hi)

    blocks = [(0, 3), (3, 5), (5, 9)]
    out = workers.run_batch_blocks(work, blocks)
    np.testing.assert_array_equal(np.concatenate(out), np.arange(9))
    assert set(seen) == set(blocks)
    for numba_threads, blas_threads in seen.values():
        assert numba_threads == 1 and blas_threads in (None, 1)


def test_run_batch_blocks_reraises_a_blocks_error():
    def work(lo, hi):
        if lo > 0:
            raise ValueError(f"bad rows {lo}:{hi}")
        return lo

    with pytest.raises(ValueError, match="bad rows 2:4"):
        workers.run_batch_blocks(work, [(0, 2), (2, 4)])


def test_one_block_runs_on_the_calling_thread_with_its_threads():
    caller = threading.get_ident()
    out = workers.run_batch_blocks(lambda lo, hi: (threading.get_ident(), lo, hi), [(0, 7)])
    assert out == [(caller, 0, 7)]


def test_batch_blocks(monkeypatch):
    monkeypatch.setattr(workers.numba, "get_num_threads", lambda: 3)
    monkeypatch.setattr(workers, "short_blas_spin", lambda: True)
    monkeypatch.setattr(workers, "blas_thread_setters", lambda: (None, None))
    assert workers.batch_blocks(10) == [(0, 3), (3, 6), (6, 10)]
    assert workers.batch_blocks(2) == [(0, 1), (1, 2)]
    assert workers.batch_blocks(1) == [(0, 1)]
    assert workers.batch_blocks(0) == [(0, 0)]
    monkeypatch.setattr(workers, "short_blas_spin", lambda: False)   # OpenBLAS spins long
    assert workers.batch_blocks(10) == [(0, 10)]
    monkeypatch.setattr(workers, "short_blas_spin", lambda: True)
    monkeypatch.setattr(workers, "blas_thread_setters", lambda: None)  # another BLAS
    assert workers.batch_blocks(10) == [(0, 10)]
    monkeypatch.setattr(workers, "blas_thread_setters", lambda: (None, None))
    monkeypatch.setattr(workers.numba, "get_num_threads", lambda: 1)
    assert workers.batch_blocks(10) == [(0, 10)]


def test_every_compiled_kernel_releases_the_gil():
    """The workers run kernels on parallel threads: a kernel compiled without ``nogil``
    would hold the GIL and run the threads one after another."""
    import importlib
    import pkgutil

    from numba.core.registry import CPUDispatcher

    import tinynlp.kernels

    held = []
    for info in pkgutil.iter_modules(tinynlp.kernels.__path__):
        module = importlib.import_module(f"tinynlp.kernels.{info.name}")
        for name, obj in vars(module).items():
            if (isinstance(obj, CPUDispatcher) and obj.__module__ == module.__name__
                    and obj.targetoptions.get("inline", "never") == "never"
                    and not obj.targetoptions.get("nogil")):
                held.append(f"{module.__name__}.{name}")
    assert held == []


class FakeClock:
    """A clock whose next reading is ahead by whatever the test says the call took."""

    def __init__(self):
        self.now, self.took = 0.0, {}

    def __call__(self):
        return self.now

    def spend(self, way):
        self.now += self.took[way]


def test_block_choice_measures_each_way_then_keeps_the_faster(monkeypatch):
    monkeypatch.setattr(workers.numba, "get_num_threads", lambda: 2)
    monkeypatch.setattr(workers, "batch_blocks", lambda n: [(0, n // 2), (n // 2, n)])
    clock = FakeClock()
    choice = workers.BlockChoice(clock=clock)
    calls = []

    def whole():
        calls.append("whole")
        clock.spend("whole")
        return "W"

    def block(lo, hi):
        calls.append((lo, hi))
        clock.spend("block")
        return hi - lo

    clock.took = {"whole": 5.0, "block": 1.0}              # blocks: 2 s a call in all
    out = [choice.run((8, 5), whole, block, sum) for _ in range(1 + 2 * choice.TRIALS)]
    assert out[0] == "W" and calls[0] == "whole"            # the untimed warm-up
    assert out[1:] == ["W", 8] * choice.TRIALS             # then alternating, whole first
    assert choice.chosen((8, 5), 2) is True
    calls.clear()
    assert choice.run((8, 5), whole, block, sum) == 8 and "whole" not in calls
    # another shape is measured on its own; here whole is faster
    clock.took = {"whole": 1.0, "block": 5.0}
    for _ in range(1 + 2 * choice.TRIALS):
        choice.run((8, 9), whole, block, sum)
    assert choice.chosen((8, 9), 2) is False and choice.chosen((8, 5), 2) is True
    calls.clear()
    assert choice.run((8, 9), whole, block, sum) == "W" and calls == ["whole"]
    assert choice.chosen((5, 5), 2) is None                 # never seen
    assert choice.chosen((8, 5), 4) is None                 # another thread count


def test_block_choice_forced_one_block_and_a_bounded_memory(monkeypatch):
    monkeypatch.setattr(workers.numba, "get_num_threads", lambda: 2)
    monkeypatch.setattr(workers, "batch_blocks", lambda n: [(0, 1), (1, n)])
    whole = lambda: "W"
    block = lambda lo, hi: hi - lo
    assert workers.BlockChoice(force=True).run((4,), whole, block, list) == [1, 3]
    assert workers.BlockChoice(force=False).run((4,), whole, block, list) == "W"
    choice = workers.BlockChoice()
    for n in range(2, 2 + choice.MAX_SIZES + 5):
        for _ in range(1 + 2 * choice.TRIALS):
            choice.run((n, 3), whole, block, list)
    assert len(choice._times) == choice.MAX_SIZES and len(choice._chosen) == choice.MAX_SIZES
    assert choice.chosen((2, 3), 2) is None
    assert choice.chosen((2 + choice.MAX_SIZES + 4, 3), 2) is not None
    monkeypatch.setattr(workers, "batch_blocks", lambda n: [(0, n)])   # one block
    assert workers.BlockChoice(force=True).run((4,), whole, block, list) == "W"
    monkeypatch.setattr(workers.numba, "get_num_threads", lambda: 1)  # one thread
    assert workers.BlockChoice(force=True).run((4,), whole, block, list) == "W"
