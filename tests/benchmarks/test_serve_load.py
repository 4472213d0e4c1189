"""The load benchmark of ``tinynlp serve`` runs end to end in quick mode (slow: it
trains two tiny models and starts four servers)."""

import os
import subprocess
import sys

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_serve_load_quick(tmp_path):
    out = tmp_path / "serve_results.md"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "serve_load.py"),
                           "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    text = out.read_text()
    for task in ("classification", "generation"):
        for mode in ("micro-batching", "one at a time"):
            for clients in (1, 8, 32, 128):
                row = f"| {task} | {mode} | {clients} |"
                assert row in text, row
    lines = [line for line in text.splitlines() if line.startswith("| classification")
             or line.startswith("| generation")]
    assert all(line.split("|")[5].strip() == "0" for line in lines), "failed requests"
    assert "Memory: the micro-batching sentiment server's RSS" in text
    assert "Quick mode" in text
