"""Re-derive the pretraining-corpus files and print the corpus' word counts and sha256.

Needs (Debian / Ubuntu, as root):

    apt-get update && apt-get install -y diatheke sword-text-web wordnet-base dict-devil

Writes three files under ``tinynlp/data/files/`` (JSON lines compressed with
xz, preset 9e, which stores no time stamp: the same package versions and
liblzma give the same bytes), then assembles the whole corpus with
``tinynlp.datasets.load_pretraining_corpus`` and prints, per source and split,
the documents and words, and the sha256 of the assembled text: run it twice
and compare.

* ``web_bible.jsonl.xz``: the World English Bible with Deuterocanon (SWORD
  module ``engWEB2015eb`` of Debian's ``sword-text-web``, public domain),
  exported with ``diatheke -b engWEB2015eb -f osis``.  One row per verse:
  ``{"ref": "Genesis 1:1", "text": str, "split": "train"|"test"}``.  The OSIS
  markup is removed (``<w>`` word tags, psalm titles and acrostic headings
  that diatheke repeats before each verse, milestones); where two word tags
  touch (``<w>God</w><w>created</w>``, 119 places) a space is put between
  them.  The split uses the rule of the translation pairs, CRC-32(reference)
  mod 100 < 10, so the verses whose King James text is a translation test
  pair are held out here too (``"test"``).
* ``wordnet_glosses.jsonl.xz``: every synset of WordNet 3.0 (Debian's
  ``wordnet-base``, ``/usr/share/wordnet/data.{noun,verb,adj,adv}``), one line
  each, ``"lemma, other lemma (noun): gloss; "example""``, underscores in
  lemmas written as spaces and adjective markers such as ``(a)`` dropped;
  grouped in file order into documents of 50 synsets:
  ``{"key": "noun:00001740", "text": str}``.  WordNet's licence asks that its
  notice go with every copy: the file's first row is ``{"notice": str}``
  holding it (from the header of ``data.noun``).
* ``devils_dictionary.jsonl.xz``: Ambrose Bierce's *The Devil's Dictionary*
  (1911, public domain; Debian's ``dict-devil``, ``/usr/share/dictd/devil.*``),
  one row per entry ``{"key": headword, "text": str}``: cross-reference braces
  and ``_italic_`` marks removed, prose paragraphs joined into one line,
  indented verse kept line by line (the rule is in ``_reflow``).

Decontamination: a verse, synset line or dictionary entry that shares a
word 8-gram (``tinynlp.data.corpus.ngrams``) with the test split of any
bundled task (``tinynlp.data.corpus.task_test_texts``) is left out (a WEB
verse is kept in the file with ``"split": "overlap"``).  These are quotations
(WordNet examples taken from Brown test documents, the Gettysburg Address) and
the WEB's wording of parallel passages whose King James text is a test verse.

Run from the repository root with a Python that has tinynlp installed (it
reads the other bundled files through tinynlp's loaders):
``python tools/make_pretrain_corpus.py``.
``--check-only`` skips re-deriving and only assembles and hashes the corpus.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import lzma
import re
import shutil
import subprocess
import sys
import time

from _derive import FILES, REPO, in_test_split

sys.path.insert(0, str(REPO))

WEB_MODULE = "engWEB2015eb"
WORDNET = "/usr/share/wordnet"
DEVIL = "/usr/share/dictd/devil"
SYNSETS_PER_DOC = 50

# "<book> <chapter>:<verse>: " where a book is e.g. "Genesis", "I Samuel",
# "Song of Solomon", "Esther (Greek)"; anything before it on the line (a psalm
# title, an acrostic heading such as "ALEPH", markup) is dropped.
BOOK = r"(?:(?:I|II|III|IV) )?[A-Z][a-z]+(?: (?:of|and|the|[A-Z][a-z]+))*(?: \(Greek\))?"
VERSE = re.compile(r"(?:^|\s|>)(" + BOOK + r" \d+:\d+): (.*)$")
TAG = re.compile(r"<[^>]*>")


def write_jsonl_xz(path, rows: list[dict]) -> None:
    """Rows as sorted-key JSON lines, xz-compressed, written atomically; prints the sha256."""
    text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    data = lzma.compress(text.encode("utf-8"), format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64,
                         preset=9 | lzma.PRESET_EXTREME)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    print(f"wrote {path.relative_to(REPO)}  {len(data):,} bytes  "
          f"sha256 {hashlib.sha256(data).hexdigest()}")


def web_bible() -> list[dict]:
    out = subprocess.run(
        ["diatheke", "-b", WEB_MODULE, "-f", "osis", "-k", "Genesis 1:1 - Revelation 22:21"],
        check=True, capture_output=True, text=True).stdout
    verses: dict[str, str] = {}
    for line in out.split("\n"):
        line = line.strip()
        if not line or line == f"({WEB_MODULE})":
            continue
        m = VERSE.search(line)
        if not m:
            raise SystemExit(f"unexpected diatheke line: {line[:200]!r}")
        ref, text = m.group(1), m.group(2)
        text = TAG.sub("", text.replace("</w><w", "</w> <w"))
        text = " ".join(text.replace("¶", " ").split())
        if text:                                    # some Greek-Esther keys are empty
            verses[ref] = text
    return [{"ref": ref, "text": text, "split": "test" if in_test_split(ref, 10) else "train"}
            for ref, text in verses.items()]


def wordnet_glosses(grams: set) -> list[dict]:
    names = {"noun": "noun", "verb": "verb", "adj": "adjective", "adv": "adverb"}
    docs = []
    dropped = 0
    for pos, name in names.items():
        lines, first = [], None
        with open(f"{WORDNET}/data.{pos}", encoding="utf-8") as f:
            for row in f:
                if row.startswith("  "):            # the licence header
                    continue
                head, _, gloss = row.partition(" | ")
                fields = head.split()
                n_words = int(fields[3], 16)
                lemmas = [re.sub(r"\((a|p|ip)\)$", "", w).replace("_", " ")
                          for w in fields[4:4 + 2 * n_words:2]]
                line = f"{', '.join(lemmas)} ({name}): {gloss.strip()}"
                if shares_ngram(line, grams):
                    dropped += 1
                    continue
                if first is None:
                    first = fields[0]
                lines.append(line)
                if len(lines) == SYNSETS_PER_DOC:
                    docs.append({"key": f"{pos}:{first}", "text": "\n".join(lines)})
                    lines, first = [], None
        if lines:
            docs.append({"key": f"{pos}:{first}", "text": "\n".join(lines)})
    print(f"WordNet: {dropped} synsets dropped (8-gram overlap)")
    return docs


def wordnet_licence() -> str:
    with open(f"{WORDNET}/data.noun", encoding="utf-8") as f:
        header = [row[2:].rstrip() for row in f if row.startswith("  ")]
    # lines are numbered ("1 This software and database ..."); drop the numbers
    return "\n".join(re.sub(r"^\d+ ?", "", line) for line in header).strip() + "\n"


def _b64(s: str) -> int:
    """dictd's index numbers: base64 digits, most significant first."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    n = 0
    for ch in s:
        n = n * 64 + alphabet.index(ch)
    return n


def _reflow(lines: list[str]) -> str:
    """One paragraph of the dictionary as running text.

    Unindented prose: its lines joined into one.  An indented block is a
    quotation: prose if at least half its lines are 55+ characters long, then
    joined, with a new line where a line is indented deeper than the block
    (a new paragraph of the quotation); otherwise verse, kept line by line.
    """
    def indent(ln):
        return len(ln) - len(ln.lstrip())

    if not lines:
        return ""
    if indent(lines[0]) == 0:
        return " ".join(" ".join(ln.split()) for ln in lines)
    if 2 * sum(len(ln.strip()) >= 55 for ln in lines) < len(lines):
        return "\n".join(ln.strip() for ln in lines)
    base = min(indent(ln) for ln in lines)
    paras: list[list[str]] = []
    for ln in lines:
        if not paras or indent(ln) > base:
            paras.append([])
        paras[-1].append(" ".join(ln.split()))
    return "\n".join(" ".join(p) for p in paras)


def devils_dictionary() -> list[dict]:
    with gzip.open(DEVIL + ".dict.dz") as f:          # dictzip is gzip-compatible
        data = f.read()
    rows = []
    with open(DEVIL + ".index", encoding="utf-8") as f:
        for line in f:
            word, off, size = line.rstrip("\n").split("\t")
            if word.startswith("00"):                 # database metadata entries
                continue
            raw = data[_b64(off):_b64(off) + _b64(size)].decode("utf-8")
            raw = re.sub(r"_([^_]+)_", r"\1", raw.replace("{", "").replace("}", ""))
            paras = [_reflow([ln.rstrip() for ln in para.split("\n") if ln.strip()])
                     for para in re.split(r"\n\s*\n", raw.strip("\n"))]
            rows.append({"key": word, "text": "\n\n".join(p for p in paras if p)})
    return rows


def test_ngrams(n: int = 8) -> set:
    """Every word n-gram of every task's test split (tinynlp.data.corpus.task_test_texts)."""
    from tinynlp.data.corpus import ngrams, task_test_texts

    return {g for texts in task_test_texts().values() for t in texts for g in ngrams(t, n)}


def shares_ngram(text: str, grams: set, n: int = 8) -> bool:
    from tinynlp.data.corpus import ngrams

    return any(g in grams for g in ngrams(text, n))


def check_corpus() -> None:
    from tinynlp.data.corpus import PRETRAIN_SOURCES, load_pretraining_corpus, word_count

    for split in ("train", "validation"):
        t0 = time.perf_counter()
        docs = load_pretraining_corpus(split, return_sources=True)
        dt = time.perf_counter() - t0
        digest = hashlib.sha256("\x00".join(t for _, t in docs).encode("utf-8")).hexdigest()
        total = word_count(t for _, t in docs)
        print(f"{split}: {len(docs):,} documents, {total:,} words, "
              f"{sum(len(t) for _, t in docs):,} characters ({dt:.1f} s)  sha256 {digest}")
        for src in PRETRAIN_SOURCES:
            sel = [t for s, t in docs if s == src]
            print(f"  {src:20s} {len(sel):8,} documents {word_count(sel):11,} words")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check-only", action="store_true",
                    help="do not re-derive the files; only assemble and hash the corpus")
    args = ap.parse_args()
    if not args.check_only:
        if shutil.which("diatheke") is None:
            raise SystemExit("diatheke not found: apt-get install -y diatheke sword-text-web "
                             "wordnet-base dict-devil")
        grams = test_ngrams()
        web = web_bible()
        for r in web:
            if r["split"] == "train" and shares_ngram(r["text"], grams):
                r["split"] = "overlap"
        print(f"World English Bible: {len(web):,} verses, "
              f"{sum(r['split'] == 'test' for r in web):,} held out (test references), "
              f"{sum(r['split'] == 'overlap' for r in web):,} dropped (8-gram overlap)")
        write_jsonl_xz(FILES / "web_bible.jsonl.xz", web)
        wn = wordnet_glosses(grams)
        print(f"WordNet: {len(wn):,} documents")
        write_jsonl_xz(FILES / "wordnet_glosses.jsonl.xz", [{"notice": wordnet_licence()}] + wn)
        dd = devils_dictionary()
        kept = [r for r in dd if not shares_ngram(r["text"], grams)]
        print(f"The Devil's Dictionary: {len(dd):,} entries, "
              f"{len(dd) - len(kept)} dropped (8-gram overlap)")
        dd = kept
        write_jsonl_xz(FILES / "devils_dictionary.jsonl.xz", dd)
    check_corpus()


if __name__ == "__main__":
    main()
