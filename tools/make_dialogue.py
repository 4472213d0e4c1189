"""Re-derive tinynlp/data/files/dialogue.jsonl.gz from PyPI chatterbot-corpus==1.3.3.

Source: the English YAML files ``chatterbot_corpus/data/english/*.yml`` inside the
wheel (``pip download --no-deps``; the package is never installed or imported).
Each file holds ``categories`` and ``conversations``: lists of lines, spoken in
turn by two people.  The licence (BSD-3-Clause) is ``license.md`` of the sdist
(the wheel carries none); ``--licence`` writes it to
``tinynlp/data/licenses/chatterbot-corpus-LICENSE.txt``.

Reading YAML needs PyYAML (``pip install pyyaml``: the ``derive`` extra), only here.

Kept: every conversation of at least two lines, each line as a string with
trailing whitespace removed (block scalars keep their inner newlines); a
conversation identical to an earlier one (same lines) is kept once.
Split: by conversation, test when CRC-32(first line, stripped and lowercased)
mod 100 < 10, so conversations that open with the same line fall on the same
side.

Row format: {"category": str, "file": "ai.yml", "index": position in its file,
"split": "train"|"test", "turns": [str, ...]}; rows in file-name then file order.
"""

from __future__ import annotations

import argparse
import io
import tarfile
import tempfile
import zipfile
from pathlib import Path

from _derive import FILES, REPO, in_test_split, pip_download, write_jsonl_gz

SPEC = "chatterbot-corpus==1.3.3"
PREFIX = "chatterbot_corpus/data/english/"
TEST_PERCENT = 10
LICENCE_OUT = REPO / "tinynlp" / "data" / "licenses" / "chatterbot-corpus-LICENSE.txt"


def read_conversations(wheel: Path) -> list[dict]:
    import yaml   # the derive extra; only this script reads YAML

    rows, seen = [], set()
    with zipfile.ZipFile(wheel) as zf:
        names = sorted(n for n in zf.namelist() if n.startswith(PREFIX) and n.endswith(".yml"))
        for name in names:
            doc = yaml.safe_load(zf.read(name).decode("utf-8"))
            category = str((doc.get("categories") or [Path(name).stem])[0])
            for i, conv in enumerate(doc.get("conversations") or []):
                turns = [str(t).rstrip() for t in conv if t is not None and str(t).strip()]
                if len(turns) < 2 or tuple(turns) in seen:
                    continue
                seen.add(tuple(turns))
                key = turns[0].strip().lower()
                rows.append({"category": category, "file": Path(name).name, "index": i,
                             "split": "test" if in_test_split(key, TEST_PERCENT) else "train",
                             "turns": turns})
    return rows


def write_licence(tmp: Path) -> None:
    sdist = pip_download(SPEC, tmp / "sdist", sdist=True)
    with tarfile.open(sdist) as tf:
        (member,) = [m for m in tf.getmembers() if m.name.endswith("/license.md")]
        text = tf.extractfile(member).read().decode("utf-8")
    LICENCE_OUT.write_text(text, encoding="utf-8")
    print(f"wrote {LICENCE_OUT.relative_to(REPO)}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--licence", action="store_true",
                    help="also write the licence text (from the sdist's license.md)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = pip_download(SPEC, Path(tmp) / "wheel")
        rows = read_conversations(wheel)
        if args.licence:
            write_licence(Path(tmp))
    for split in ("train", "test"):
        sel = [r for r in rows if r["split"] == split]
        pairs = sum(len(r["turns"]) - 1 for r in sel)
        print(f"{split}: {len(sel)} conversations, {pairs} (line, reply) pairs")
    write_jsonl_gz(FILES / "dialogue.jsonl.gz", rows)


if __name__ == "__main__":
    main()
