"""Your own data files: CSV / TSV / JSONL / TXT reading, labels as written, and a clear
DataFileError for every bad input (missing column, empty file, one class, not UTF-8, ...)."""

import io
import json

import numpy as np
import pytest

from tinynlp.data.tabular import (
    DataFileError, encode_labels, label_classes, read_labelled_texts, read_table, read_texts,
    write_predictions,
)


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_csv_tsv_jsonl_txt_read_the_same_examples(tmp_path):
    rows = [("a fine, quiet film", "pos"), ('said "no"\nthen left', "neg"), ("ok", "pos")]
    import csv
    for suffix, delim in ((".csv", ","), (".tsv", "\t")):
        buf = io.StringIO(newline="")
        w = csv.writer(buf, delimiter=delim, lineterminator="\n")
        w.writerow(["label", "review"])
        w.writerows([(lab, text) for text, lab in rows])
        path = write(tmp_path / f"d{suffix}", "\ufeff" + buf.getvalue())   # a BOM is fine
        assert read_labelled_texts(path, "review", "label") == (
            [t for t, _ in rows], [lab for _, lab in rows])
    lines = [json.dumps({"review": t, "label": lab, "id": i}) for i, (t, lab) in enumerate(rows)]
    path = write(tmp_path / "d.jsonl", "\n".join(lines[:2]) + "\n\n" + lines[2] + "\n")
    assert read_labelled_texts(path, "review") == ([t for t, _ in rows],
                                                   [lab for _, lab in rows])
    assert read_table(path)["__line__"] == [1, 2, 4]
    path = write(tmp_path / "d.txt", "first text\nsecond, with a comma\n")
    assert read_texts(path) == ["first text", "second, with a comma"]


def test_json_labels_are_kept_as_written_and_sorted_by_value(tmp_path):
    path = write(tmp_path / "d.jsonl", "".join(json.dumps({"text": str(i), "label": lab}) + "\n"
                                               for i, lab in enumerate([10, 2, 2, 10, 1])))
    _, labels = read_labelled_texts(path)
    assert labels == ["10", "2", "2", "10", "1"]
    classes = label_classes(labels)
    assert classes == ["1", "2", "10"]                     # numbers by value, not "1" < "10" < "2"
    np.testing.assert_array_equal(encode_labels(labels, classes), [2, 1, 1, 2, 0])
    path = write(tmp_path / "b.jsonl", '{"text": "x", "label": true}\n{"text": "y", '
                                       '"label": false}\n')
    assert read_labelled_texts(path)[1] == ["true", "false"]
    assert label_classes(["neg", "pos", "3", "neg"]) == ["3", "neg", "pos"]


@pytest.mark.parametrize("name, content, message", [
    ("missing.csv", "review,label\ngood,pos\n", r"no column 'text'; the file's columns are: "
                                                r"'review', 'label'"),
    ("empty.csv", "", "the file is empty"),
    ("header.csv", "text,label\n", r"no rows \(only a header\)"),
    ("empty.jsonl", "\n\n", "no rows"),
    ("ragged.csv", "text,label\na,pos\nb,c,neg\n", "line 3 has 3 field"),
    ("nolabel.csv", "text,label\na,pos\nb,\n", "line 3: the label in 'label' is empty"),
    ("notobj.jsonl", '{"text": "a", "label": 1}\n[1, 2]\n', "line 2 is a JSON list"),
    ("badjson.jsonl", '{"text": "a", "label": 1}\n{"text": \n', "line 2 is not valid JSON"),
    ("nokey.jsonl", '{"text": "a", "label": 1}\n{"text": "b"}\n', "line 2 has no 'label'"),
    ("nulltext.jsonl", '{"text": null, "label": 1}\n', "line 1: the text in 'text' is null"),
    ("nested.jsonl", '{"text": "a", "label": [1]}\n', r"the label in 'label' is \[1\]"),
    ("data.xlsx", "x", "unknown file type '.xlsx'"),
])
def test_bad_files_raise_a_clear_error(tmp_path, name, content, message):
    path = write(tmp_path / name, content)
    with pytest.raises(DataFileError, match=message) as info:
        read_labelled_texts(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_not_utf8_names_the_byte_line_and_column(tmp_path):
    path = write(tmp_path / "latin1.csv", "text,label\nfine,pos\nun café noir,neg\n", "latin-1")
    with pytest.raises(DataFileError, match=r"not UTF-8 text: byte 0xe9 at line 3, column 7"):
        read_labelled_texts(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DataFileError, match="no such file"):
        read_texts(tmp_path / "nope.csv")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(DataFileError, match="not a file"):
        read_texts(tmp_path / "dir.csv")


def test_one_class_and_unknown_test_labels():
    with pytest.raises(DataFileError, match=r"holds a single class \('pos', 3 rows\)"):
        label_classes(["pos", "pos", "pos"], "d.csv")
    with pytest.raises(DataFileError, match=r"label\(s\) \['maybe'\] were not in the training"):
        encode_labels(["pos", "maybe"], ["neg", "pos"], "test.csv")


def test_same_text_and_label_column(tmp_path):
    path = write(tmp_path / "d.csv", "text,label\na,b\n")
    with pytest.raises(DataFileError, match="both 'text'"):
        read_labelled_texts(path, "text", "text")


def test_write_predictions_round_trip(tmp_path):
    texts = ['has, a comma', 'has "quotes"', "two\nlines"]
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    out = tmp_path / "p.csv"
    write_predictions(out, texts, ["neg", "pos", "neg"], probs, ["neg", "pos"], "review")
    table = read_table(out)
    assert table["review"] == texts and table["prediction"] == ["neg", "pos", "neg"]
    np.testing.assert_allclose(np.array([table["p_neg"], table["p_pos"]], float).T, probs)
    stream = io.StringIO()
    write_predictions(stream, texts[:1], ["neg"], probs[:1], ["neg", "pos"])
    assert stream.getvalue().splitlines()[0] == "text,prediction,p_neg,p_pos"
    with pytest.raises(ValueError, match="expected 3 predictions"):
        write_predictions(out, texts, ["neg"], probs, ["neg", "pos"])
    with pytest.raises(DataFileError, match="is a folder"):
        write_predictions(tmp_path, texts, ["neg"] * 3, probs, ["neg", "pos"])
