"""Re-derive tinynlp/data/files/bible_es_en.jsonl.gz from Debian's SWORD Bible modules.

Needs (Debian / Ubuntu, as root):

    apt-get update && apt-get install -y diatheke sword-text-sparv sword-text-kjv

``sword-text-sparv`` is the Spanish Reina-Valera 1909 (module spaRV1909eb) and
``sword-text-kjv`` the King James Version (module engKJV2006eb), both public
domain per their Debian copyright files.  ``diatheke`` (GPL-2+) is only used to
export the texts; none of its code is bundled.

The English text is exported with ``diatheke -f plain``; only the text on
each ``<Book> <chapter>:<verse>: `` line is kept (diatheke repeats Psalm titles
on separate lines before verses: those lines are dropped).

The Spanish text is exported with ``diatheke -f osis`` and its markup removed
here.  Its plain export cannot be used: the module wraps words in ``<w>``
tags and writes some words between two tags with no space
(``<w>hay allí</w>también<w>bdelio</w>``), which the plain export turns into
glued words ("allítambiénbdelio"), and it prints word-less Strong's numbers
("vida <H2416>, toda"), which left a space before the punctuation.  Where a
tag boundary falls between two letters (435 places), a space is inserted,
except where the second word is an enclitic pronoun (me, te, se, nos, os,
lo, la, los, las, le, les) after a verb form that takes one: the Reina-Valera
writes "sácalo", "díjole", "oyéndolo", and the module splits them as
``sáca</w>lo``.  A verb form is recognised by its ending (infinitive -ar,
-er, -ir; imperative -ad, -ed, -id; gerund -ndo), a written accent
(``díjo|le``, ``vió|lo``), or as one of the short imperatives di, dí, da,
haz, vi.  Eight junctions match that rule and are not enclitics; they were
read in context and are listed in ``NOT_ENCLITIC`` ("Josué los
circuncidó", "vi las almas", ...).  (The English module splits words
themselves with tags, ``give</w>n``, and its plain export is right.)

Cleaning (both): the paragraph mark "¶" and leftover Strong's numbers such as
"<G5547>" are removed, whitespace is collapsed.  Verses are joined on their
reference; a verse empty in either language is dropped.  All verses are
stored; the loader keeps short ones (``max_tokens``, default 20).

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
TAG = re.compile(r"<[^<>]*>")
# a run of tags with a word character on both sides (the lookahead lets junctions chain)
JUNCTION = re.compile(r"(\w+)((?:<[^<>]*>)+)(?=(\w+))")
ENCLITICS = frozenset("me te se nos os lo la los las le les".split())
SHORT_IMPERATIVES = frozenset("di dí da haz vi".split())
ACCENTED = set("áéíóú")
# matched by the enclitic rule, but read in context they are two words
NOT_ENCLITIC = frozenset({
    ("éste", "le"),      # Numbers 23:4   "y éste le dijo"
    ("ejército", "se"),  # Judges 4:2     "su ejército se llamaba Sísara"
    ("josué", "los"),    # Joshua 5:4     "la cual Josué los circuncidó"
    ("jehová", "los"),   # Psalms 35:5    "el ángel de Jehová los acose"
    ("cuánto", "nos"),   # 2 Timothy 1:18 "y cuánto nos ayudó en Efeso"
    ("vi", "las"),       # Revelation 20:4 "y vi las almas de los degollados"
    ("sólo", "la"),      # Numbers 10:4   "cuando tocaren sólo la una"
    ("también", "le"),   # Judges 11:2    "también le parió hijos"
})


def takes_enclitic(word: str) -> bool:
    """Whether ``word`` looks like a Spanish verb form that can carry an enclitic."""
    w = word.lower()
    return (w.endswith(("ar", "er", "ir", "ad", "ed", "id", "ndo")) or w in SHORT_IMPERATIVES
            or not ACCENTED.isdisjoint(w))


def join_or_space(first: str, second: str) -> str:
    """What replaces the tags between two words: "" (one word) or " " (two words)."""
    a, b = first.lower(), second.lower()
    if b in ENCLITICS and takes_enclitic(a) and (a, b) not in NOT_ENCLITIC:
        return ""
    return " "


def strip_osis(text: str) -> str:
    """OSIS verse text -> plain text, with a space where a tag separated two words."""
    text = JUNCTION.sub(lambda m: m.group(1) + join_or_space(m.group(1), m.group(3)), text)
    return TAG.sub("", text)


def clean(text: str) -> str:
    text = STRONGS.sub(" ", text).replace("¶", " ")
    return " ".join(text.split())


def export(module: str, fmt: str = "plain") -> dict[str, str]:
    out = subprocess.run(
        ["diatheke", "-b", module, "-f", fmt, "-k", "Genesis 1:1 - Revelation 22:21"],
        check=True, capture_output=True, text=True).stdout
    verses: dict[str, str] = {}
    order: list[str] = []
    for line in out.split("\n"):
        m = VERSE.match(line)
        if not m:
            continue
        ref, text = m.group(1), m.group(2)
        text = clean(strip_osis(text) if fmt == "osis" else text)
        if ref not in verses:
            order.append(ref)
        verses[ref] = text
    return {ref: verses[ref] for ref in order}


def main() -> None:
    if shutil.which("diatheke") is None:
        raise SystemExit("diatheke not found: apt-get install -y diatheke sword-text-sparv sword-text-kjv")
    es, en = export(MODULES["es"], "osis"), export(MODULES["en"], "plain")
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
