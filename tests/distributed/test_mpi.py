"""Real multi-process runs under mpiexec (2 and 3 ranks on this machine).

Each test launches ``tests/distributed/mpi_worker.py`` with
:func:`tinynlp.distributed.launch.launch` (``mpiexec -n N python worker.py ...`` in
its own process group, killed on timeout) and checks its exit code, its
messages and the weights each rank saved.  Skipped when mpi4py or mpiexec are
missing (install the ``dist`` extra); CI installs it, so they run there.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mpi4py", reason="mpi4py not installed (pip install 'tinynlp[dist]')")

import tinynlp as tn  # noqa: E402
from tests.distributed.tiny import TinyNet, make_data, train  # noqa: E402
from tinynlp.distributed import DistributedContext  # noqa: E402
from tinynlp.distributed.launch import find_mpiexec, launch  # noqa: E402

if find_mpiexec() is None:
    pytest.skip("no mpiexec found (pip install 'tinynlp[dist]' provides MPICH's)",
                allow_module_level=True)

WORKER = str(Path(__file__).with_name("mpi_worker.py"))
REPO = str(Path(__file__).resolve().parents[2])
JOB_TIMEOUT = 120  # seconds: a hung job fails the test instead of hanging CI


def run(n, *args, env_extra=None):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
               **(env_extra or {}))
    try:
        return launch(WORKER, n, args, timeout=JOB_TIMEOUT, threads_per_rank=1, env=env,
                      capture_output=True)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"mpiexec job still running after {JOB_TIMEOUT} s (hung):\n"
                    f"{exc.stdout}\n{exc.stderr}")


def ok(result):
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def load(outdir, n):
    return [dict(np.load(Path(outdir) / f"rank{r}.npz")) for r in range(n)]


def launch_cli(n, *args):
    """``python -m tinynlp.distributed.launch -n N worker.py ARGS`` (the documented CLI)."""
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-m", "tinynlp.distributed.launch", "-n", str(n),
         "--threads-per-rank", "1", WORKER, *map(str, args)],
        env=env, capture_output=True, text=True, timeout=JOB_TIMEOUT, check=False)


@pytest.mark.parametrize("n", [2, 3])
def test_collectives_on_n_ranks(n, tmp_path):
    """Broadcast, bucketed dense and sparse averaging, metric and sum reductions
    (2 ranks started through the launch CLI, 3 through ``launch()``)."""
    result = ok(launch_cli(n, "collectives", tmp_path) if n == 2
                else run(n, "collectives", tmp_path))
    assert all(f"rank {r}/{n} OK" in result.stdout for r in range(n))
    ranks = load(tmp_path, n)
    for r in ranks[1:]:  # the sparse results are identical on every rank, both routes
        for key in ranks[0]:
            np.testing.assert_array_equal(r[key], ranks[0][key])


@pytest.mark.slow
@pytest.mark.parametrize("sparse, bucket_kb, vocab, calls_per_step", [
    (0, 25 * 1024, 30, 1),  # everything float64 in one 25 MB bucket: one Allreduce a step
    (0, 0.1, 30, 4),        # tiny buckets: one Allreduce per parameter
    (1, 25 * 1024, 400, 3), # sparse table, few rows touched: counts + 1 gather + 1 bucket
])
def test_two_rank_training_matches_one_process_with_the_global_batch(
        tmp_path, sparse, bucket_kb, vocab, calls_per_step):
    """N=2 ranks with per-rank batch B end with the same weights on every rank,
    equal (float64, to 1e-12) to one process training with batch N·B."""
    n, batch = 2, 4
    ok(run(n, "train", tmp_path, batch, sparse, bucket_kb, vocab))
    ranks = load(tmp_path, n)
    names = sorted(k for k in ranks[0] if k.startswith("w"))
    for k in names:  # bit-identical across ranks
        np.testing.assert_array_equal(ranks[1][k], ranks[0][k])
    steps = int(ranks[0]["steps"])
    assert steps == 2 * 48 // (n * batch)
    assert int(ranks[0]["calls"]) == calls_per_step * steps

    tn.random.seed(100)  # rank 0's initialisation, which the broadcast spread
    ids, y = make_data(vocab=vocab)
    single = train(TinyNet(vocab=vocab, sparse=bool(sparse)), ids, y,
                   DistributedContext(None, timeout=None), batch_size=n * batch)
    init = TinyNet(vocab=vocab)  # sanity: training moved the weights
    for k, w in zip(names, single.get_weights()):
        np.testing.assert_allclose(ranks[0][k], w, rtol=0, atol=1e-12)
    assert not np.allclose(ranks[0]["w1"], init.get_weights()[1])


def _timed(n, *args, env_extra=None):
    t0 = time.monotonic()
    result = run(n, *args, env_extra=env_extra)
    return result, time.monotonic() - t0


@pytest.mark.slow
def test_a_rank_that_exits_mid_run_fails_the_job(tmp_path):
    """rank 1 calls os._exit(3) at step 5: mpiexec kills rank 0 and exits non-zero,
    and the launch CLI says the job failed."""
    t0 = time.monotonic()
    result = launch_cli(2, "die", tmp_path, 5)
    assert result.returncode != 0, result.stdout
    assert "the job failed: mpiexec exited with code" in result.stderr
    assert not (tmp_path / "rank0.npz").exists()  # rank 0 never finished
    assert time.monotonic() - t0 < JOB_TIMEOUT


@pytest.mark.slow
def test_an_uncaught_exception_aborts_every_rank_with_a_message(tmp_path):
    """Without the exception hook this job hangs forever in MPI_Finalize (measured)."""
    result, _ = _timed(2, "raise", tmp_path, 5)
    assert result.returncode != 0
    assert "RuntimeError: simulated failure at step 5" in result.stderr
    assert "[tinynlp.distributed] rank 1/2 (epoch 0, step 5): uncaught RuntimeError" \
        in result.stderr
    assert not (tmp_path / "rank0.npz").exists()


@pytest.mark.slow
def test_a_hanging_rank_is_caught_by_the_watchdog(tmp_path):
    """rank 1 sleeps at step 5; rank 0 waits TINYNLP_DIST_TIMEOUT=2 s in its all-reduce,
    then aborts the job naming itself, the step and the call."""
    result, _ = _timed(2, "hang", tmp_path, 5, env_extra={"TINYNLP_DIST_TIMEOUT": "2"})
    assert result.returncode != 0
    assert "[tinynlp.distributed] rank 0/2 (epoch 0, step 6): timed out after 2 s" \
        in result.stderr
    assert "allreduce_gradients" in result.stderr


def _fit_results(tmp_path, n, batch, shuffle, epochs=3):
    out = tmp_path / f"n{n}_b{batch}_s{shuffle}"
    out.mkdir()
    if n == 1:  # one plain process, no mpiexec: a size-1 context
        env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
        ok(subprocess.run([sys.executable, WORKER, "fit", str(out), str(batch), str(shuffle),
                           str(epochs)], env=env, capture_output=True, text=True,
                          timeout=JOB_TIMEOUT, check=False))
    else:
        ok(run(n, "fit", out, batch, shuffle, epochs))
    return load(out, n)


@pytest.mark.slow
@pytest.mark.parametrize("shuffle", [1, 0])
def test_fit_distributed_two_ranks_equals_one_process_with_the_global_batch(tmp_path, shuffle):
    """The must-show check, through ``Sequential.fit(..., distributed=True)``: N=2 ranks with
    per-rank batch B=4 end with the same weights on every rank, equal (float64, to 1e-12)
    to one process trained with batch N·B=8 — with shuffling (same seeded permutation per
    epoch) against fit(distributed=True) on one process, and without shuffling against
    the ordinary fit(distributed=False).  The per-epoch losses agree too."""
    n, batch, epochs = 2, 4, 3
    ranks = _fit_results(tmp_path, n, batch, shuffle, epochs)
    names = sorted(k for k in ranks[0] if k.startswith("w"))
    for k in names + ["loss"]:
        np.testing.assert_array_equal(ranks[1][k], ranks[0][k])

    if shuffle:
        (single,) = _fit_results(tmp_path, 1, n * batch, shuffle, epochs)
        ref_weights = [single[k] for k in names]
        ref_loss = single["loss"]
    else:
        tn.random.seed(100)  # rank 0's initialisation (the one broadcast to every rank)
        model = tn.Sequential([
            tn.layers.Dense(8, activation="tanh", input_shape=(5,), dtype="float64"),
            tn.layers.Dense(1, dtype="float64"),
        ])
        model.compile(optimizer=tn.optimizers.SGD(0.1), loss="mse")
        rng = np.random.default_rng(11)
        x = rng.normal(size=(64, 5))
        y = np.sin(x.sum(axis=1, keepdims=True))
        history = model.fit(x, y, batch_size=n * batch, epochs=epochs, shuffle=False,
                            verbose=0)
        ref_weights = model.get_weights()
        ref_loss = np.array(history.history["loss"])
    for k, w in zip(names, ref_weights):
        np.testing.assert_allclose(ranks[0][k], w, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ranks[0]["loss"], ref_loss, rtol=1e-12)
    assert ranks[0]["loss"][-1] < ranks[0]["loss"][0]  # it trained


@pytest.mark.parametrize("what, message", [
    ("weights", "broadcast_weights: the model's weights differ in shape/dtype between ranks"),
    ("data", "shard_indices: ranks have different dataset sizes [100, 101]"),
])
def test_ranks_that_disagree_abort_with_a_clear_message(tmp_path, what, message):
    result = run(2, "mismatch", tmp_path, what)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert not (tmp_path / "rank0.npz").exists()
