"""tools/task_table.py --keep-others: a re-measured row replaces its old line, a new
model's row and note go beside the rows of its task."""

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def task_table():
    spec = importlib.util.spec_from_file_location("task_table", REPO / "tools" / "task_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def raw(task, key, model, value, extra):
    return {"task": task, "model_key": key, "task_name": task_table().TASK_NAMES[task],
            "model": model, "metric": "perplexity", "value": value,
            "baseline_name": "unigram", "baseline": 28.0, "extra": extra, "artifacts": {},
            "seconds": 61.0, "load_1min": 1.5, "load_1min_end": 2.5, "date": "2027-01-01"}


def test_merge_puts_new_keys_after_their_group():
    tt = task_table()
    old = [("a", 1), ("b", 1), ("b", 2), ("c", 1)]
    new = [("b", 3), ("b", 1), ("d", 1)]
    merged = tt._merge(old, new, key=lambda i: i, group=lambda i: i[0])
    assert merged == [("a", 1), ("b", 1), ("b", 2), ("b", 3), ("c", 1), ("d", 1)]


def test_a_new_model_row_and_note_sit_beside_its_task(tmp_path):
    tt = task_table()
    table = tmp_path / "results.md"
    table.write_text((REPO / "docs" / "task_results.md").read_text(encoding="utf-8"),
                     encoding="utf-8")
    previous = tt.parse_previous(table.read_text(encoding="utf-8"))
    extra = {"data": "Shakespeare characters", "bits_per_token": 2.4, "test_tokens": 100,
             "train_tokens_seen": 1000, "epochs": 4, "architecture": "2 layers",
             "params": 1234}
    tt.write_table(table, [raw("lm", "gpt", "char gpt", 5.5, extra)],
                   ["python tools/task_table.py --only lm:gpt --keep-others"], 1, None, previous)
    lines = table.read_text(encoding="utf-8").splitlines()
    rows = [line for line in lines if line.startswith("| language model")]
    models = [line.split("|")[2].strip() for line in rows]
    assert models.index("char gpt") == models.index("char rnn") + 1
    assert "| 5.50 | unigram | 28.00 | 1 min 01 s | 1.5 → 2.5 |" in rows[models.index("char gpt")]
    notes = [line for line in lines if line.startswith("- ")]
    keys = [n[2:].split(":")[0] for n in notes]
    assert keys.index("char gpt") == keys.index("char rnn") + 1
    assert "2 layers, 1,234 parameters" in notes[keys.index("char gpt")]
    # the rows of the other jobs are kept as they were
    before = (REPO / "docs" / "task_results.md").read_text(encoding="utf-8")
    for line in before.splitlines():
        if line.startswith("| ") and "char gpt" not in line:
            assert line in lines
