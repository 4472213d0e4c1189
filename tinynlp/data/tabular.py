"""Your own data: texts (and labels) from a ``.csv``, ``.tsv``, ``.jsonl`` or ``.txt`` file.

    texts, labels = read_labelled_texts("reviews.csv", text_column="review",
                                        label_column="stars")
    classes = label_classes(labels)            # sorted: ["1", "2", "3", "4", "5"]
    y = encode_labels(labels, classes)         # int64 ids into classes

- ``.csv`` / ``.tsv``: a header row naming the columns, then one row per example
  (quoted fields may hold commas, tabs and newlines, as the ``csv`` module reads them);
- ``.jsonl``: one JSON object per line (blank lines are skipped);
- ``.txt``: one text per line, a single column called ``text`` (no labels).

Files are read as UTF-8 (a byte-order mark is allowed).  Labels are kept as they
are written in the file — ``"pos"``, ``"4"``; a JSON number or boolean as its JSON
text, ``4`` or ``true`` — so that predictions can be written back in the file's own
terms.  Whatever is wrong with a file raises :class:`DataFileError` (a
``ValueError``) naming the file, the line and what was expected: a missing column
(listing the columns there are), an empty file, text that is not UTF-8 (with the
byte, line and column), a row with the wrong number of fields, a missing or empty
label, a line that is not a JSON object.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_write

__all__ = ["DataFileError", "FORMATS", "read_table", "read_texts", "read_labelled_texts",
           "label_classes", "encode_labels", "write_predictions"]

#: file suffix → format
FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".txt": "txt"}


class DataFileError(ValueError):
    """A data file cannot be used as it is; the message names the file and the problem."""


def _format_of(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataFileError(f"{path}: unknown file type {path.suffix or '(no suffix)'!r}; "
                            f"expected one of {', '.join(FORMATS)}")
    return fmt


def _decode(path: Path, raw: bytes) -> str:
    """The file's text, or a DataFileError pointing at the first byte that is not UTF-8."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise DataFileError(
            f"{path}: not UTF-8 text: byte 0x{raw[e.start]:02x} at line {line}, column "
            f"{column} ({e.reason}). Save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8 "
            f"{path.name} > fixed{path.suffix}`)") from None


def _read_text(path) -> tuple[Path, str, str]:
    path = Path(path)
    fmt = _format_of(path)
    if not path.exists():
        raise DataFileError(f"{path}: no such file")
    if not path.is_file():
        raise DataFileError(f"{path}: not a file")
    return path, fmt, _decode(path, path.read_bytes())


def _delimited(path, text, delimiter):
    """(header, rows, line numbers) of a CSV / TSV text."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise DataFileError(f"{path}: the file is empty (expected a header row naming the "
                                "columns, then one row per example)")
        header = [h.strip() for h in header]
        dup = sorted({h for h in header if header.count(h) > 1})
        if dup:
            raise DataFileError(f"{path}: the header names column(s) {dup} more than once")
        rows, lines = [], []
        start = reader.line_num + 1
        for row in reader:
            if not row or row == [""] and len(header) > 1:   # a blank line
                start = reader.line_num + 1
                continue
            if len(row) != len(header):
                raise DataFileError(
                    f"{path}: line {start} has {len(row)} field(s), the header has "
                    f"{len(header)} ({', '.join(header)}); quote fields that contain "
                    f"{'commas' if delimiter == ',' else 'tabs'}")
            rows.append(row)
            lines.append(start)
            start = reader.line_num + 1
    except csv.Error as e:
        raise DataFileError(f"{path}: line {reader.line_num}: {e}") from None
    return header, rows, lines


def _jsonl(path, text):
    header, rows, lines = [], [], []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataFileError(f"{path}: line {n} is not valid JSON ({e.msg}, column "
                                f"{e.colno})") from None
        if not isinstance(obj, dict):
            raise DataFileError(f"{path}: line {n} is a JSON {type(obj).__name__}, expected an "
                                "object such as {\"text\": \"...\", \"label\": \"...\"}")
        for key in obj:
            if key not in header:
                header.append(key)
        rows.append(obj)
        lines.append(n)
    return header, rows, lines


def read_table(path, columns=None) -> dict:
    """The columns of a data file: ``{name: [value, ...]}`` plus ``"__line__"`` (the line
    each row starts on).  ``columns``: the names that must be there (others are dropped).

    CSV / TSV values are strings; JSONL values are what the JSON holds (a row without
    one of ``columns`` is an error naming the line).
    """
    path, fmt, text = _read_text(path)
    if fmt == "txt":
        header = ["text"]
        pairs = [(n, line) for n, line in enumerate(text.splitlines(), 1)]
        rows, lines = [[t] for _, t in pairs], [n for n, _ in pairs]
    elif fmt == "jsonl":
        header, rows, lines = _jsonl(path, text)
    else:
        header, rows, lines = _delimited(path, text, "," if fmt == "csv" else "\t")
    if not rows:
        raise DataFileError(f"{path}: the file has no rows" +
                            (" (only a header)" if fmt in ("csv", "tsv") else ""))
    wanted = list(header) if columns is None else list(columns)
    missing = [c for c in wanted if c not in header]
    if missing:
        raise DataFileError(
            f"{path}: no column {missing[0]!r}; the file's columns are: "
            f"{', '.join(repr(h) for h in header) or '(none)'} (choose them with "
            "text_column= / label_column=, or --text-column / --label-column)")
    out = {"__line__": lines}
    if fmt == "jsonl":
        for c in wanted:
            values = []
            for row, n in zip(rows, lines):
                if c not in row:
                    raise DataFileError(f"{path}: line {n} has no {c!r}")
                values.append(row[c])
            out[c] = values
    else:
        for c in wanted:
            k = header.index(c)
            out[c] = [row[k] for row in rows]
    return out


def _as_text(path, value, line, column):
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise DataFileError(f"{path}: line {line}: the text in {column!r} is "
                        f"{json.dumps(value)[:40]}, expected a string")


def _as_label(path, value, line, column):
    """A label as written in the file: a string, or a JSON scalar's JSON text."""
    if isinstance(value, str):
        label = value.strip()
    elif isinstance(value, (bool, int)) or isinstance(value, float) and math.isfinite(value):
        label = json.dumps(value)
    else:
        raise DataFileError(f"{path}: line {line}: the label in {column!r} is "
                            f"{json.dumps(value)[:40]}, expected a string or a number")
    if not label:
        raise DataFileError(f"{path}: line {line}: the label in {column!r} is empty")
    return label


def read_texts(path, text_column="text") -> list:
    """The texts of a data file, in order (see the module docstring for the formats)."""
    table = read_table(path, [text_column])
    return [_as_text(path, v, n, text_column)
            for v, n in zip(table[text_column], table["__line__"])]


def read_labelled_texts(path, text_column="text", label_column="label"):
    """``(texts, labels)``: two lists of str, one item per row, labels as written."""
    if text_column == label_column:
        raise DataFileError(f"{path}: the text and the label columns are both "
                            f"{text_column!r}")
    table = read_table(path, [text_column, label_column])
    lines = table["__line__"]
    texts = [_as_text(path, v, n, text_column) for v, n in zip(table[text_column], lines)]
    labels = [_as_label(path, v, n, label_column) for v, n in zip(table[label_column], lines)]
    return texts, labels


def _label_key(label):
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def label_classes(labels, source="the data", column="label") -> list:
    """The distinct labels, sorted (numbers by value, before words): the class order of a
    classifier's outputs.  At least two are needed."""
    classes = sorted(set(labels), key=_label_key)
    if len(classes) < 2:
        only = f" ({classes[0]!r}, {len(labels)} rows)" if classes else ""
        raise DataFileError(f"{source}: column {column!r} holds a single class{only}; a "
                            "classifier needs examples of at least two classes")
    return classes


def encode_labels(labels, classes, source="the data") -> np.ndarray:
    """``labels`` as int64 indices into ``classes`` (a label not in it is an error)."""
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({lab for lab in labels if lab not in index}, key=_label_key)
    if unknown:
        raise DataFileError(f"{source}: label(s) {unknown[:5]} were not in the training data "
                            f"(its classes: {list(classes)})")
    return np.array([index[lab] for lab in labels], dtype=np.int64)


def write_predictions(path, texts, predictions, probabilities, classes, text_column="text"):
    """A CSV of predictions, one row per text in order: the text, ``prediction`` (the
    label as written in the training data), then ``p_<class>``, each class's probability.
    ``path``: a file name (written atomically) or an open text stream (e.g. ``sys.stdout``).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape != (len(texts), len(classes)) or len(predictions) != len(texts):
        raise ValueError(f"write_predictions: expected {len(texts)} predictions and "
                         f"probabilities of shape {(len(texts), len(classes))}, got "
                         f"{len(predictions)} and {probabilities.shape}")
    header = [text_column, "prediction"] + [f"p_{c}" for c in classes]

    def write(f):
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for text, label, row in zip(texts, predictions, probabilities):
            w.writerow([text, label] + [f"{p:.6f}" for p in row])

    if hasattr(path, "write"):
        write(path)
        return
    path = Path(path)
    if path.is_dir():
        raise DataFileError(f"{path} is a folder; give the predictions a file name, e.g. "
                            f"{os.path.join(str(path), 'predictions.csv')}")
    atomic_write(path, write, mode="w")
