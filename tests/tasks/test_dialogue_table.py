"""tools/dialogue_table.py in quick mode (the tiny stand-in GPT for the pretrained one): it
writes the dialogue section of the results file, replaces it on a re-run, and
tools/task_table.py keeps it when it rewrites the file."""

import importlib.util
import json
from pathlib import Path

import pytest

from tests.pretrained.tiny import tiny_gpt
from tinynlp.tasks import dialogue

ROOT = Path(__file__).resolve().parents[2]


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_dialogue_table_quick(quick, monkeypatch, tmp_path):
    monkeypatch.setattr(dialogue, "load_pretrained", lambda name: tiny_gpt())
    out = tmp_path / "task_results.md"
    out.write_text("# Task results\n\nthe other tasks' table\n", encoding="utf-8")
    table = _tool("dialogue_table")
    assert table.main(["--out", str(out), "--runs", str(tmp_path / "runs"), "--samples", "2",
                       "--threads", "1"]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Task results\n\nthe other tasks' table\n")
    assert text.count(table.BEGIN) == 1 and "QUICK MODE" in text
    for label in ("tinygpt (fine-tuned)", "seq2seq lstm", "retrieval", "unigram"):
        assert label in text
    saved = json.loads((tmp_path / "runs" / "results.json").read_text(encoding="utf-8"))
    assert set(saved["results"]) == {"tinygpt", "seq2seq"}
    # re-run one model, keeping the other: still one section, both rows
    assert table.main(["--out", str(out), "--runs", str(tmp_path / "runs"), "--only",
                       "seq2seq", "--keep-others", "--threads", "1"]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.count(table.BEGIN) == 1 and "tinygpt (fine-tuned)" in text
    # task_table rewrites the file and keeps the section
    task_table = _tool("task_table")
    task_table.write_table(out, [], ["python tools/task_table.py"], 1, None)
    again = out.read_text(encoding="utf-8")
    assert again.count(table.BEGIN) == 1 and "the other tasks' table" not in again
    assert again[again.index(table.BEGIN):] == text[text.index(table.BEGIN):]
