"""benchmarks/gpt_step.py runs end to end in quick mode and prints both tables."""

import pytest

torch = pytest.importorskip("torch")

from benchmarks import gpt_step  # noqa: E402


def test_gpt_step_quick(capsys, monkeypatch):
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(var, "1")               # restored afterwards (main sets them)
    threads = torch.get_num_threads()
    try:
        ops, steps = gpt_step.main(["--quick", "--threads", "1"])
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert "gelu on a (16, 64) float32 array" in out and "GPT train step" in out
    assert "load average" in out
    assert set(steps) == {"tinynlp", "pytorch"}
    assert len(ops) == 12 and all(v[0] > 0 for v in ops.values())
