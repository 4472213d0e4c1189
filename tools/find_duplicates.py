"""Find code written twice: runs of six or more lines alike in two places.

    python tools/find_duplicates.py                 # scan tinynlp/, list every pair
    python tools/find_duplicates.py --min-lines 8   # longer runs only
    python tools/find_duplicates.py --check         # exit 1 if a pair is not allowed

How it reads the code (a deliberately simple scan, no parser):

* Each ``.py`` file becomes a list of *normalized lines*: white space folded,
  and blank lines, comment-only lines, lone punctuation (``)``, ``]``, ...)
  and import lines left out, so that formatting and import order do not hide
  or invent a repeat.  Line numbers still point at the original file.
* Two places are *alike* when ``--min-lines`` consecutive normalized lines are
  equal (an *exact* run), or equal once every name, string and number is
  replaced by a placeholder (a *shape* run: the same code with other names).
  Overlapping windows are merged, so each pair of places is reported once,
  at its longest.
* A shape run made only of thin lines (``return x``, ``else:``, ``@staticmethod``
  ...) says little; a run needs at least ``--min-lines`` lines of five or more
  tokens to count.  Nor does a list of one-liners of one or two shapes (``self.a =
  int(a)``, ``self.b = float(b)``, ...): a shape run needs three different shapes.

Some repeats are deliberate patterns (each op class's ``forward``/``backward``,
a Numba kernel beside its NumPy twin ...).  They are listed in ``ALLOWED``
below with the reason; ``--check`` fails only on the others.
"""

from __future__ import annotations

import argparse
import fnmatch
import io
import re
import sys
import tokenize
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: (glob of one place, glob of the other, why the repeat is deliberate).  A pair is
#: allowed when its two files match the two globs (in either order).
ALLOWED = [
    ("tinynlp/kernels/int8.py", "tinynlp/kernels/int8.py",
     "int8_matmul and int8_matmul_parallel: the serial / parallel pair of one kernel"),
    ("tinynlp/kernels/conv.py", "tinynlp/kernels/conv.py",
     "im2col_1d and col2im_1d walk the same windows, one gathering and the other "
     "scatter-adding: a kernel and its adjoint"),
    ("tinynlp/kernels/word2vec.py", "tinynlp/kernels/word2vec.py",
     "the negative-sampling pair update written out in the skip-gram and CBOW loops of "
     "_train_part (row indices instead of views: tighter SIMD loops, as its docstring says), "
     "and the table lookup of sigmoid_lookup beside its Numba twin"),
]

_THIN_TOKENS = 5
_PUNCT_ONLY = re.compile(r"^[\)\]\}\(\[\{,:;]+$")


def _is_import(line: str) -> bool:
    return line.startswith("import ") or (line.startswith("from ") and " import " in line)


def normalized_lines(text: str):
    """``[(line number, exact text, shape text, tokens)]`` for the lines that count."""
    out = []
    in_import = False                    # inside ``from x import (...)`` spread over lines
    for number, raw in enumerate(text.splitlines(), start=1):
        line = " ".join(raw.split())
        if in_import:
            in_import = ")" not in line
            continue
        if _is_import(line):
            in_import = "(" in line and ")" not in line
            continue
        if not line or line.startswith("#") or _PUNCT_ONLY.match(line):
            continue
        line, shape, tokens = _shape(line)
        if line:
            out.append((number, line, shape, tokens))
    return out


def _shape(line: str):
    """(the line without a trailing comment, the same with names, strings and numbers
    as placeholders, its token count)."""
    parts = []
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(line + "\n").readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return line, line, len(line.split())     # e.g. a line inside a docstring
    keywords = {"def", "class", "return", "if", "elif", "else", "for", "while", "in", "not",
                "and", "or", "is", "None", "True", "False", "with", "as", "try", "except",
                "finally", "raise", "yield", "lambda", "pass", "break", "continue", "del",
                "global", "nonlocal", "assert", "async", "await", "from", "import"}
    for tok in toks:
        if tok.type == tokenize.NAME:
            parts.append(tok.string if tok.string in keywords else "N")
        elif tok.type == tokenize.STRING or tok.type == getattr(tokenize, "FSTRING_START", -1):
            parts.append("S")
        elif tok.type in (getattr(tokenize, "FSTRING_MIDDLE", -1),
                          getattr(tokenize, "FSTRING_END", -1)):
            continue
        elif tok.type == tokenize.NUMBER:
            parts.append("0")
        elif tok.type == tokenize.OP:
            parts.append(tok.string)
        elif tok.type == tokenize.COMMENT:
            line = line[:tok.start[1]].rstrip()
    return line, " ".join(parts), len(parts)


def scan(paths, min_lines=6, shape=True):
    """Pairs of places alike: ``[(kind, (file, first, last), (file, first, last))]``."""
    files = {}
    for p in paths:
        files[p] = normalized_lines(p.read_text(encoding="utf-8"))
    pairs = []
    for kind in (("exact", "shape") if shape else ("exact",)):
        col = 1 if kind == "exact" else 2
        windows = defaultdict(list)
        for p, lines in files.items():
            for i in range(len(lines) - min_lines + 1):
                window = lines[i:i + min_lines]
                if kind == "shape" and (sum(w[3] >= _THIN_TOKENS for w in window) < min_lines
                                        or len({w[2] for w in window}) < 3):
                    continue
                windows[tuple(w[col] for w in window)].append((p, i))
        matched = set()          # (file a, i, file b, j) window starts already in a run
        for places in windows.values():
            if len(places) < 2 or len(places) > 8:   # more than 8: a common idiom, not a copy
                continue
            for a in range(len(places)):
                for b in range(a + 1, len(places)):
                    (pa, i), (pb, j) = places[a], places[b]
                    if pa == pb and abs(i - j) < min_lines:
                        continue                      # a run overlapping itself
                    if (pa, i, pb, j) in matched:
                        continue
                    la, lb = files[pa], files[pb]
                    while i > 0 and j > 0 and la[i - 1][col] == lb[j - 1][col] and \
                            (pa != pb or abs(i - j) >= min_lines):
                        i, j = i - 1, j - 1
                    n = 0
                    while i + n < len(la) and j + n < len(lb) and la[i + n][col] == lb[j + n][col]:
                        matched.add((pa, i + n, pb, j + n))
                        n += 1
                    if pa == pb and i + n > j:        # stop where the two places meet
                        n = j - i
                    if n < min_lines:
                        continue
                    pairs.append((kind, (pa, la[i][0], la[i + n - 1][0]),
                                  (pb, lb[j][0], lb[j + n - 1][0])))
    # a shape run overlapping an exact run of the same two files is the same pair
    exact = [(a, b) for k, a, b in pairs if k == "exact"]

    def overlaps(x, y):
        return x[0] == y[0] and x[1] <= y[2] and y[1] <= x[2]

    return [(k, a, b) for k, a, b in pairs
            if k == "exact" or not any(overlaps(a, ea) and overlaps(b, eb) for ea, eb in exact)]


def allowed_reason(a_path: str, b_path: str):
    for ga, gb, why in ALLOWED:
        if (fnmatch.fnmatch(a_path, ga) and fnmatch.fnmatch(b_path, gb)) or \
                (fnmatch.fnmatch(a_path, gb) and fnmatch.fnmatch(b_path, ga)):
            return why
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", default="tinynlp", help="what to scan (default tinynlp)")
    ap.add_argument("--min-lines", type=int, default=6)
    ap.add_argument("--exact-only", action="store_true", help="no shape (renamed) runs")
    ap.add_argument("--check", action="store_true", help="exit 1 on a pair not in ALLOWED")
    args = ap.parse_args(argv)
    folder = (ROOT / args.folder).resolve()
    paths = sorted(p for p in folder.rglob("*.py") if ".venv" not in p.parts)
    pairs = scan(paths, args.min_lines, shape=not args.exact_only)
    bad = 0
    rows = []
    for kind, a, b in pairs:
        ra, rb = (str(x[0].relative_to(ROOT)) for x in (a, b))
        why = allowed_reason(ra, rb)
        bad += why is None
        rows.append(f"{'allowed' if why else 'PAIR   '} {kind:5} {ra}:{a[1]}-{a[2]} ~ "
                    f"{rb}:{b[1]}-{b[2]}")
    counts = {k: sum(1 for p in pairs if p[0] == k) for k in ("exact", "shape")}
    print(f"{len(pairs)} pairs of places alike over {args.min_lines}+ lines in {len(paths)} "
          f"files ({counts['exact']} exact, {counts['shape']} by shape); "
          f"{len(pairs) - bad} allowed, {bad} not")
    for row in sorted(rows):
        print(row)
    return 1 if args.check and bad else 0


if __name__ == "__main__":
    sys.exit(main())
