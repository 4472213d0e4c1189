"""Vendor the word-embedding evaluation sets shipped in gensim's test data.

Reads, from the gensim 4.4.0 wheel (downloaded with ``pip download --no-deps``,
never installed by this script), the files

    gensim/test/test_data/questions-words.txt   Mikolov et al. (2013) analogies
    gensim/test/test_data/wordsim353.tsv        WordSim-353 (Finkelstein et al. 2002)
    gensim/test/test_data/simlex999.txt         SimLex-999 (Hill, Reichart & Korhonen 2015)

and writes each, byte for byte, gzipped (fixed mtime) to
``tinynlp/embeddings/data/``.  Usage:

    pip download --no-deps gensim==4.4.0 -d /tmp/gensim
    python tools/make_embedding_eval.py --wheel /tmp/gensim/gensim-4.4.0-*.whl
"""

from __future__ import annotations

import argparse
import glob
import gzip
import os
import subprocess
import sys
import tempfile
import zipfile

FILES = ["questions-words.txt", "wordsim353.tsv", "simlex999.txt"]
PREFIX = "gensim/test/test_data/"
DEFAULT_OUT = os.path.join(os.path.dirname(__file__), "..", "tinynlp", "embeddings", "data")


def download_wheel(folder: str) -> str:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "gensim==4.4.0", "-d", folder],
        check=True,
    )
    found = glob.glob(os.path.join(folder, "gensim-4.4.0-*.whl"))
    if not found:
        raise FileNotFoundError(f"no gensim-4.4.0 wheel in {folder}")
    return found[0]


def extract(wheel: str, out_dir: str) -> list[str]:
    os.makedirs(out_dir, exist_ok=True)
    written = []
    with zipfile.ZipFile(wheel) as zf:
        for name in FILES:
            data = zf.read(PREFIX + name)
            out = os.path.join(out_dir, name + ".gz")
            tmp = out + ".tmp"
            with open(tmp, "wb") as raw, gzip.GzipFile(
                filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9
            ) as gz:
                gz.write(data)
            os.replace(tmp, out)
            written.append(out)
    return written


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", help="path of the gensim 4.4.0 wheel (downloaded if omitted)")
    ap.add_argument("--out-dir", default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or download_wheel(tmp)
        for path in extract(wheel, args.out_dir):
            print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
