"""The compression report script runs end to end in quick mode (slow: trains models)."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_compression_report_quick(tmp_path):
    script = os.path.join(ROOT, "benchmarks", "compression_report.py")
    proc = subprocess.run([sys.executable, script, "--quick", "--output-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = (tmp_path / "compression_results.md").read_text()
    for variant in ("float32", "pruned 90 % + fine-tune", "int8 dynamic",
                    "int8 + pruned 90 %", "distilled student", "float32, layer-by-layer"):
        assert f"| {variant}" in text
    assert (tmp_path / "compression_accuracy_vs_size.png").stat().st_size > 1000
