"""The BPE scripts run end to end on a small corpus: tools/train_bpe.py and the
benchmark against Hugging Face tokenizers (its rows only when tokenizers is installed)."""

import importlib.util
import os
import subprocess
import sys

import pytest

from tinynlp.text import BPETokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_train_bpe_tool(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        "train_bpe", os.path.join(ROOT, "tools", "train_bpe.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "bpe.json"
    tok = mod.main(["--vocab-size", "300", "--sources", "devils_dictionary", "--out", str(out),
                    "--quiet"])
    printed = capsys.readouterr().out
    assert "bytes/token" in printed and "load average" in printed
    back = BPETokenizer.load(out)
    assert back == tok and back.vocab_size == 300
    assert list(back.special_tokens) == ["<|endoftext|>", "<|user|>", "<|bot|>"]
    assert back.eos_id == 297


@pytest.mark.slow
def test_bpe_benchmark_quick(tmp_path):
    out = tmp_path / "bpe_results.md"
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "bpe_vs_tokenizers.py"), "--quick",
         "--vocab-size", "400", "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text(encoding="utf-8")
    assert "load average" in text
    rows = [ln for ln in text.splitlines() if ln.startswith("| tinynlp") or
            ln.startswith("| tokenizers")]
    assert rows[0].startswith("| tinynlp | 1 |") and rows[0].endswith("| yes |")
    if importlib.util.find_spec("tokenizers") is not None:
        assert len(rows) == 3 and all(r.endswith("| yes |") for r in rows)
        assert "are the same string in both" in text
