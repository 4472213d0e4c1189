"""Writing files atomically: the one home of "never leave half a file".

Everything tinynlp saves (checkpoints, shards, word vectors, vocabularies, task
results) is written to a temporary file in the target's folder, flushed and
fsync'ed, then renamed over the target with ``os.replace`` (atomic on POSIX and
Windows), and the folder is fsync'ed so the rename itself survives a crash.  A
reader, or a crash mid-save, sees the old file or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import tempfile

__all__ = ["atomic_write", "write_json_atomic"]


def atomic_write(path, write, mode="wb", gzip_level=None):
    """Call ``write(f)`` on a temporary file, then rename it onto ``path`` (see above).

    ``mode``: ``"wb"`` (bytes) or ``"w"`` (text: UTF-8, ``\\n`` line ends).  A path
    ending in ``.gz`` is gzip-compressed (``gzip_level`` or 9, no timestamp, so the
    same content gives the same bytes).  The folder is created if needed.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w', got {mode!r}")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=folder)
    try:
        with os.fdopen(fd, "wb") as raw:
            with contextlib.ExitStack() as stack:
                f = raw
                if path.endswith(".gz"):
                    f = stack.enter_context(gzip.GzipFile(
                        filename="", mode="wb", fileobj=raw, mtime=0,
                        compresslevel=9 if gzip_level is None else gzip_level))
                if mode == "w":
                    f = stack.enter_context(_TextOver(f))
                write(f)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def write_json_atomic(path, obj, indent=1) -> None:
    """``obj`` as JSON (UTF-8 text) to ``path``, atomically."""
    text = json.dumps(obj, indent=indent, ensure_ascii=False)
    atomic_write(path, lambda f: f.write(text), mode="w")


class _TextOver:
    """A UTF-8 text layer over a binary file that leaves the binary file open."""

    def __init__(self, raw):
        self.raw = raw
        self.text = None

    def __enter__(self):
        self.text = io.TextIOWrapper(self.raw, encoding="utf-8", newline="\n")
        return self.text

    def __exit__(self, *exc):
        self.text.flush()
        self.text.detach()


def _fsync_folder(folder):
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
