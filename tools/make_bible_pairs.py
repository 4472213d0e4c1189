"""Re-derive tinynlp/data/files/bible_es_en.jsonl.gz from Debian's SWORD Bible modules.

Needs (Debian / Ubuntu, as root):

    apt-get update && apt-get install -y diatheke sword-text-sparv sword-text-kjv

``sword-text-sparv`` is the Spanish Reina-Valera 1909 (module spaRV1909eb) and
``sword-text-kjv`` the King James Version (module engKJV2006eb), both public
domain per their Debian copyright files.  ``diatheke`` (GPL-2+) is only used to
export the texts; none of its code is bundled.

Each book is exported with ``diatheke -f plain``; only the text on each
``<Book> <chapter>:<verse>: `` line is kept (diatheke repeats Psalm titles on
separate lines before verses: those lines are dropped).  Cleaning: the
paragraph mark "¶" and leftover Strong's numbers such as "<G5547>" are removed,
whitespace is collapsed.  Verses are joined on their reference; a verse empty
in either language is dropped.  All verses are stored; the loader keeps short
ones (``max_tokens``, default 20).

Split: a verse is test when CRC-32(reference) mod 100 < 10 (about 10 %).

Row format: {"ref": "Genesis 1:1", "es": str, "en": str, "split": "train"|"test"}
"""

from __future__ import annotations

import re
import shutil
import subprocess

from _derive import FILES, in_test_split, write_jsonl_gz

MODULES = {"es": "spaRV1909eb", "en": "engKJV2006eb"}
VERSE = re.compile(r"^\s*((?:[1-3] )?[A-Z][A-Za-z ]*? \d+:\d+): (.*)$")
STRONGS = re.compile(r"<[GH]\d+>")


def export(module: str) -> dict[str, str]:
    out = subprocess.run(
        ["diatheke", "-b", module, "-f", "plain", "-k", "Genesis 1:1 - Revelation 22:21"],
        check=True, capture_output=True, text=True).stdout
    verses: dict[str, str] = {}
    order: list[str] = []
    for line in out.split("\n"):
        m = VERSE.match(line)
        if not m:
            continue
        ref, text = m.group(1), m.group(2)
        text = STRONGS.sub(" ", text).replace("¶", " ")
        text = " ".join(text.split())
        if ref not in verses:
            order.append(ref)
        verses[ref] = text
    return {ref: verses[ref] for ref in order}


def main() -> None:
    if shutil.which("diatheke") is None:
        raise SystemExit("diatheke not found: apt-get install -y diatheke sword-text-sparv sword-text-kjv")
    es, en = export(MODULES["es"]), export(MODULES["en"])
    rows = []
    for ref, es_text in es.items():
        en_text = en.get(ref, "")
        if es_text and en_text:
            rows.append({"ref": ref, "es": es_text, "en": en_text,
                         "split": "test" if in_test_split(ref, 10) else "train"})
    short = sum(len(r["es"].split()) <= 20 and len(r["en"].split()) <= 20 for r in rows)
    print(f"{len(es)} es verses, {len(en)} en verses, {len(rows)} pairs, {short} with <= 20 tokens each")
    write_jsonl_gz(FILES / "bible_es_en.jsonl.gz", rows)


if __name__ == "__main__":
    main()
