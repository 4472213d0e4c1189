"""Run the README's main job and keep its output and plot for the README.

    python tools/quickstart_for_readme.py     # docs/quickstart_output.txt, docs/quickstart.png
    python tools/update_readme.py             # copies the output into README.md
"""

from __future__ import annotations

import contextlib
import io
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinynlp.cli import main  # noqa: E402


def run():
    out = ROOT / "runs" / "quickstart"
    buffer = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(buffer):
        code = main(["quickstart", "--verbose", "2", "--out", str(out)])
    seconds = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"quickstart failed with exit code {code}")
    text = buffer.getvalue().replace(str(ROOT) + "/", "")
    import os
    load = f", 1-minute load {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    text = (f"$ tinynlp quickstart\n{text.rstrip()}\n(wall time {seconds:.0f} s on this machine: "
            f"{os.cpu_count()} CPU cores{load})\n")
    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    (docs / "quickstart_output.txt").write_text(text)
    shutil.copyfile(out / "learning_curves.png", docs / "quickstart.png")
    print(text)


if __name__ == "__main__":
    run()
