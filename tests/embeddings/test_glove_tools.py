"""The scripts behind the bundled GloVe subset and docs/pretrained_results.md."""

import gzip
import importlib.util
import zipfile
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_wheel(path, words, dim=50):
    lines = [w + " " + " ".join(f"0.{i}{j}" for j in range(dim)) + "\n"
             for i, w in enumerate(words)]
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("tagnews/data/glove.6B.50d.txt", "".join(lines))
    return lines


def test_subset_keeps_the_top_words_and_the_wanted_ones_byte_for_byte_in_order(tmp_path):
    tool = _tool("make_glove_subset")
    lines = _fake_wheel(tmp_path / "w.whl", ["the", ",", "of", "film", "dull", "riveting"])
    kept, every = tool.make_subset(str(tmp_path / "w.whl"), tmp_path / "out.txt.gz", top=2,
                                   wanted=frozenset({"riveting", "of", "absent"}))
    assert kept == ["the", ",", "of", "riveting"] and len(every) == 6
    data = (tmp_path / "out.txt.gz").read_bytes()
    assert gzip.decompress(data).decode() == "".join(lines[i] for i in (0, 1, 2, 5))
    tool.make_subset(str(tmp_path / "w.whl"), tmp_path / "again.txt.gz", top=2,
                     wanted=frozenset({"riveting", "of"}))
    assert (tmp_path / "again.txt.gz").read_bytes() == data        # reproducible bytes


def test_subset_rejects_a_malformed_line_and_counts_per_million(tmp_path):
    tool = _tool("make_glove_subset")
    with zipfile.ZipFile(tmp_path / "bad.whl", "w") as zf:
        zf.writestr("tagnews/data/glove.6B.50d.txt", "the 0.1 0.2\n")
    with pytest.raises(ValueError, match=r"glove.6B.50d.txt:1: expected 51 fields, got 3"):
        tool.make_subset(str(tmp_path / "bad.whl"), tmp_path / "o.gz")
    assert tool.min_count(193_333, 5) == 1 and tool.min_count(831_433, 5) == 5
    assert tool.lowercase_counts({"The": 2, "the": 1}) == {"the": 3}


@pytest.mark.slow
def test_pretrained_table_script_writes_results_and_keeps_the_notes(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYNLP_QUICK", "1")
    tool = _tool("pretrained_vs_random")
    out = tmp_path / "results.md"
    out.write_text("# old\n\n" + tool.NOTES + "\n\nHand-written.\n", encoding="utf-8")
    common = ["--seeds", "1", "--epochs", "1", "--raw", str(tmp_path / "runs.jsonl"),
              "--out", str(out)]
    tool.main(["--variants", "random", *common])
    tool.main(["--variants", "random,sub_unit_tuned", *common])    # the random run is reused
    assert len((tmp_path / "runs.jsonl").read_text().splitlines()) == 2
    text = out.read_text(encoding="utf-8")
    assert "| cnn | random init (trainable) |" in text
    assert "| cnn | GloVe subset, unit-length rows, fine-tuned — **the default** |" in text
    assert sum(tool.is_default(key) for key, *_ in tool.VARIANTS) == 1
    assert "## Why the former set-up lost, measured" in text
    assert text.rstrip().endswith(tool.NOTES + "\n\nHand-written.")
