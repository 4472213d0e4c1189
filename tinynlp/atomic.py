"""Writing files atomically: the one home of "never leave half a file".

Everything tinynlp saves (checkpoints, shards, word vectors, vocabularies, task
results) is written to a temporary file in the target's folder, flushed and
fsync'ed, then renamed over the target with ``os.replace`` (atomic on POSIX and
Windows), and the folder is fsync'ed so the rename itself survives a crash.  A
reader, or a crash mid-save, sees the old file or the new one, never a mix.

Temporary files: each write uses a fresh name (``.<target>.<random>.tmp``, so
two writers never share one), removed on any exception.  A writer killed
outright (SIGKILL, power loss) cannot remove its own, so the next write to the
same target sweeps them: a writer holds an exclusive ``flock`` on its temporary
file for as long as it lives (the kernel drops it when the process dies), and
the sweep removes only the files whose lock it can take — never a live
writer's.  (Where ``fcntl`` is missing, e.g. Windows, only temporary files
untouched for a day are swept.)

:func:`folder_lock` serialises writers of a whole folder (sharded checkpoints)
the same way.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import re
import stat
import tempfile
import time

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["atomic_write", "write_json_atomic", "sweep_stale_temps", "folder_lock"]

_TEMP_SUFFIX = ".tmp"
_STALE_WITHOUT_LOCKS = 24 * 3600   # seconds, where locks are unavailable


def _temp_prefix(path):
    return "." + os.path.basename(path) + "."   # + 8 random characters + ".tmp"


def atomic_write(path, write, mode="wb", gzip_level=None):
    """Call ``write(f)`` on a temporary file, then rename it onto ``path`` (see above).

    ``mode``: ``"wb"`` (bytes) or ``"w"`` (text: UTF-8, ``\\n`` line ends).  A path
    ending in ``.gz`` is gzip-compressed (``gzip_level`` or 9, no timestamp, so the
    same content gives the same bytes).  The folder is created if needed; temporary
    files that killed writers left for ``path`` are removed first.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w', got {mode!r}")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    sweep_stale_temps(path)
    fd, tmp = _locked_temp(folder, _temp_prefix(path))
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
            if hasattr(os, "fchmod"):
                os.fchmod(raw.fileno(), _new_file_mode(path))
            os.fsync(raw.fileno())
            if fcntl is not None:
                os.replace(tmp, path)   # while the lock is held: no sweep can take it first
        if fcntl is None:  # pragma: no cover - Windows cannot rename an open file
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _umask() -> int:
    """This process's umask, read without changing it (``os.umask`` can only be read by
    setting it, which races with other threads creating files); 0o022 if unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def _new_file_mode(path) -> int:
    """The permissions ``path`` gets: those of the file it replaces, else what ``open``
    would give a new file (0o666 less the umask) — not the owner-only 0o600 of the
    temporary file."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _locked_temp(folder, prefix):
    """A new temporary file in ``folder``, exclusively locked (see the module doc)."""
    while True:
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=_TEMP_SUFFIX, dir=folder)
        if fcntl is None:
            return fd, tmp
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_nlink > 0:
            return fd, tmp
        os.close(fd)   # a sweep removed it between its creation and our lock: take another


def sweep_stale_temps(path, target_pattern=None) -> list:
    """Remove the temporary files earlier, killed writes to ``path`` left behind.

    Only files named like this module's temporaries for ``path`` whose writer is
    gone (their lock can be taken) are removed.  With ``target_pattern`` (a
    regular expression), ``path`` is a folder and the temporaries of every file
    in it whose name matches the pattern are swept.  Returns the paths removed.
    """
    path = os.fspath(path)
    if target_pattern is None:
        folder = os.path.dirname(os.path.abspath(path))
        target_pattern = re.escape(os.path.basename(path))
    else:
        folder = path
    pattern = re.compile(r"\." + target_pattern + r"\.[a-z0-9_]{8}" + re.escape(_TEMP_SUFFIX))
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    removed = []
    for name in names:
        if pattern.fullmatch(name):
            full = os.path.join(folder, name)
            if _remove_if_abandoned(full):
                removed.append(full)
    return removed


def _remove_if_abandoned(full):
    if fcntl is None:
        with contextlib.suppress(OSError):
            if time.time() - os.path.getmtime(full) > _STALE_WITHOUT_LOCKS:
                os.unlink(full)
                return True
        return False
    try:
        fd = os.open(full, os.O_RDONLY)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False   # a live writer holds it
        try:
            os.unlink(full)
        except OSError:
            return False
        return True
    finally:
        os.close(fd)


@contextlib.contextmanager
def folder_lock(folder):
    """Hold an exclusive lock on ``folder`` (``flock`` on the folder itself, dropped by the
    kernel when the process dies); other holders wait.  A no-op without ``fcntl``."""
    if fcntl is None:
        yield
        return
    fd = os.open(os.fspath(folder), os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


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
