"""Copy generated results into README.md, so its numbers are never typed by hand.

README.md holds blocks like::

    <!-- include: docs/task_results.md table=1 -->
    ...replaced...
    <!-- /include -->

Each block is replaced by the N-th markdown table (``table=N``, 1-based) of the
named file, or by the whole file as a code block (``code``), followed by a link
to the file. Run after the scripts that generate those files:

    python tools/update_readme.py            # rewrite README.md
    python tools/update_readme.py --check    # exit 1 if README.md is out of date
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- include: (?P<path>\S+)(?P<opts>[^>]*?)-->\n)(?P<body>.*?)(<!-- /include -->)",
                   re.S)


def tables(text: str) -> list[str]:
    """The markdown tables of ``text``, each as a string."""
    out, current = [], []
    for line in text.splitlines():
        if line.lstrip().startswith("|"):
            current.append(line)
        elif current:
            out.append("\n".join(current))
            current = []
    if current:
        out.append("\n".join(current))
    return out


def render(path: str, opts: str) -> str:
    source = ROOT / path
    if not source.is_file():
        raise SystemExit(f"update_readme: {path} does not exist; run the script that makes it")
    text = source.read_text(encoding="utf-8")
    opts = opts.split()
    if "code" in opts:
        body = "```\n" + text.rstrip() + "\n```"
    else:
        n = 1
        for o in opts:
            if o.startswith("table="):
                n = int(o.split("=", 1)[1])
        found = tables(text)
        if len(found) < n:
            raise SystemExit(f"update_readme: {path} has {len(found)} tables, wanted table {n}")
        body = found[n - 1]
    return f"{body}\n\n<sub>Generated: [`{path}`]({path}).</sub>\n"


def update(readme: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + render(m.group("path"), m.group("opts"))
                     + m.group(5), readme)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    path = ROOT / "README.md"
    old = path.read_text(encoding="utf-8")
    new = update(old)
    if args.check:
        if new != old:
            print("README.md is out of date: run python tools/update_readme.py", file=sys.stderr)
            return 1
        return 0
    path.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
