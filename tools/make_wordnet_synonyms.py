"""Derive tinynlp/text/data/wordnet_synonyms.json.gz, the synonyms EDA uses by default.

Needs Debian's WordNet 3.0 database (as root; only this script reads it):

    apt-get update && apt-get install -y wordnet-base
    python tools/make_wordnet_synonyms.py          # from the repository root

What is kept, for label-preserving augmentation (``tinynlp.text.EDA``):

* **Vocabulary**: the words of the bundled GloVe 6B top-20k list made only of
  lowercase letters (plus ``'`` and ``-``): replacements stay common words.
* **Part of speech**: a word gets synonyms in one part of speech only, the
  one it has in the bundled Brown corpus (universal tags NOUN, VERB, ADJ, ADV →
  WordNet n, v, a, r), when it occurs there at least 3 times and that tag is at
  least two thirds of its occurrences; the surface form must be a WordNet
  lemma of that part of speech (no lemmatisation: "films", "running" as a verb
  get none).  Words absent from Brown, or ambiguous there, get no synonyms.
* **Senses**: only the first ``--senses`` (default 2) WordNet senses of the
  word in that part of speech (WordNet orders senses by frequency in its
  sense-tagged corpus), so rare senses do not bring in unrelated words
  ("story" → "storey" is its third sense).
* **Synonyms**: the other single-word lemmas of those synsets that are in the
  vocabulary.
* **Antonyms never**: for every vocabulary word, its WordNet antonyms over
  all its senses and parts of speech (direct antonym pointers, and for an
  adjective satellite the antonyms of its head: "boring" → head "uninteresting"
  → "interesting").  A synonym that is an antonym of the word (either way) is
  dropped here, and the antonym lists are stored so that EDA can refuse
  antonyms at run time too.

Output (gzip, mtime 0, sorted keys: the same WordNet and bundled data give the
same bytes): ``{"about": {...}, "pos": {word: "n"|"v"|"a"|"r"}, "synonyms":
{word: [...]}, "antonyms": {word: [...]}}``.

WordNet 3.0 licence (Princeton University): use, copy, modify and distribute
for any purpose without fee, provided its copyright notice and disclaimer
appear on all copies: ``tinynlp/data/licenses/WordNet-3.0.txt`` ships in the
package with it.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

from _derive import REPO, write_gzip_text

WORDNET = Path("/usr/share/wordnet")
OUT = REPO / "tinynlp" / "text" / "data" / "wordnet_synonyms.json.gz"
FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
UNIVERSAL_TO_WORDNET = {"NOUN": "n", "VERB": "v", "ADJ": "a", "ADV": "r"}
WORD = re.compile(r"^[a-z][a-z'-]*$")


def read_data(pos):
    """``{offset: (words, pointers, synset type)}`` of ``data.<pos>``; pointers are
    ``(symbol, target offset, target pos, source word no., target word no.)``."""
    out = {}
    with open(WORDNET / f"data.{FILES[pos]}", encoding="latin-1") as f:
        for line in f:
            if line.startswith("  "):  # the licence header
                continue
            fields = line.split(" | ")[0].split()
            offset, kind, n_words = fields[0], fields[2], int(fields[3], 16)
            words = [re.sub(r"\(.*\)$", "", fields[4 + 2 * i]).lower() for i in range(n_words)]
            i = 4 + 2 * n_words
            pointers = []
            for k in range(int(fields[i])):
                symbol, target, tpos, st = fields[i + 1 + 4 * k:i + 5 + 4 * k]
                pointers.append((symbol, target, "a" if tpos == "s" else tpos,
                                 int(st[:2], 16), int(st[2:], 16)))
            out[offset] = (words, pointers, kind)
    return out


def read_index(pos):
    """``{lemma: [synset offsets, most frequent sense first]}`` of ``index.<pos>``."""
    out = {}
    with open(WORDNET / f"index.{FILES[pos]}", encoding="latin-1") as f:
        for line in f:
            if line.startswith("  "):
                continue
            fields = line.split()
            n_pointers = int(fields[3])
            out[fields[0]] = fields[4 + n_pointers + 2:]
    return out


def antonyms_of(word, data, index):
    """Every antonym of ``word`` over all its senses and parts of speech."""
    found = set()
    for pos in FILES:
        for offset in index[pos].get(word, []):
            words, pointers, kind = data[pos][offset]
            number = words.index(word) + 1 if word in words else None
            for symbol, target, tpos, source, tnum in pointers:
                if symbol != "!" or source not in (0, number):
                    continue
                twords = data[tpos][target][0]
                found.update(twords if tnum == 0 else [twords[tnum - 1]])
            if kind == "s":  # a satellite: the antonyms of its head adjective(s)
                for symbol, target, tpos, _, _ in pointers:
                    if symbol == "&":
                        for hs, ht, hp, _, _ in data[tpos][target][1]:
                            if hs == "!":
                                found.update(data[hp][ht][0])
    found.discard(word)
    return {w for w in found if "_" not in w}


def brown_pos():
    """``{word: WordNet pos}`` for the words whose Brown tag is clear (see module doc)."""
    sys.path.insert(0, str(REPO))
    from tinynlp.data.datasets import load_brown_pos

    (x_train, y_train), (x_test, y_test) = load_brown_pos(tagset="universal")
    counts = defaultdict(Counter)
    for sentence, tags in zip(x_train + x_test, y_train + y_test):
        for w, t in zip(sentence, tags):
            counts[w.lower()][t] += 1
    out = {}
    for w, c in counts.items():
        tag, n = c.most_common(1)[0]
        total = sum(c.values())
        if total >= 3 and 3 * n >= 2 * total and tag in UNIVERSAL_TO_WORDNET:
            out[w] = UNIVERSAL_TO_WORDNET[tag]
    return out


def vocabulary():
    sys.path.insert(0, str(REPO))
    from tinynlp.embeddings import load_glove_6b_50d

    return [w for w in load_glove_6b_50d(limit=20000).index_to_key if WORD.match(w)]


def package_version():
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", "wordnet-base"],
                              check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--senses", type=int, default=2,
                   help="WordNet senses per word (most frequent first; default 2)")
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    if not (WORDNET / "data.noun").is_file():
        raise SystemExit(f"WordNet not found in {WORDNET}: apt-get install -y wordnet-base")
    data = {pos: read_data(pos) for pos in FILES}
    index = {pos: read_index(pos) for pos in FILES}
    vocab = vocabulary()
    in_vocab = set(vocab)
    tags = brown_pos()

    antonyms = {}
    for w in vocab:
        ants = sorted(antonyms_of(w, data, index) & in_vocab)
        if ants:
            antonyms[w] = ants
    synonyms, pos_of = {}, {}
    for w in vocab:
        pos = tags.get(w)
        if pos is None or w not in index[pos]:
            continue
        found = []
        for offset in index[pos][w][:args.senses]:
            for s in data[pos][offset][0]:
                if s != w and s in in_vocab and s not in found \
                        and s not in antonyms.get(w, ()) and w not in antonyms.get(s, ()):
                    found.append(s)
        if found:
            synonyms[w], pos_of[w] = found, pos
    about = {
        "source": f"Princeton WordNet 3.0, Debian package wordnet-base {package_version()}",
        "licence": "WordNet 3.0 licence (tinynlp/data/licenses/WordNet-3.0.txt)",
        "script": "tools/make_wordnet_synonyms.py",
        "senses": args.senses,
        "vocabulary": "bundled GloVe 6B top-20k words of letters, ' and -",
        "pos_rule": "the word's tag in the bundled Brown corpus (>= 3 occurrences, "
                    ">= 2/3 of them)",
    }
    import json
    text = json.dumps({"about": about, "pos": pos_of, "synonyms": synonyms,
                       "antonyms": antonyms}, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))
    print(f"{len(vocab)} vocabulary words; {len(synonyms)} with synonyms "
          f"({sum(map(len, synonyms.values()))} pairs); {len(antonyms)} with antonyms")
    print("by part of speech:", dict(Counter(pos_of.values())))
    write_gzip_text(Path(args.out), text)


if __name__ == "__main__":
    main()
