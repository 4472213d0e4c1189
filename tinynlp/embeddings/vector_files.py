"""Reading and writing word-vector files: GloVe text, word2vec text and binary (``.gz`` too).

* **GloVe text**: one ``word v1 v2 ... vd`` line per word, no header.
* **word2vec**: a ``count dim`` header line, then either text lines as above
  (``binary=False``) or, for ``binary=True``, ``word`` + a space + ``dim``
  little-endian float32 values (+ an optional newline) per word.

Readers trust nothing in the file.  A malformed line, a corrupt or truncated
``.gz`` stream, a line longer than :data:`MAX_LINE_BYTES` or a binary word longer
than :data:`MAX_WORD_BYTES` raise :class:`EmbeddingFormatError` naming the file
(and line).  Memory follows the data actually present: a binary header's
``dim`` is compared with the bytes left in a plain file before anything is
read, and records are read in chunks, so an absurd header cannot make the
reader allocate what it claims.
"""

from __future__ import annotations

import codecs
import gzip
import os
import warnings
import zlib

import numpy as np

__all__ = ["EmbeddingFormatError", "MAX_LINE_BYTES", "MAX_WORD_BYTES", "read_glove",
           "read_word2vec", "write_text_rows", "write_binary_rows", "check_unicode_errors"]

#: the longest text line read (a 400,000-dimensional vector in text still fits)
MAX_LINE_BYTES = 1 << 22
#: the longest word of a binary record (word2vec.c itself stops at 100 bytes)
MAX_WORD_BYTES = 1 << 16
_CHUNK = 1 << 20


class EmbeddingFormatError(ValueError):
    """A malformed embedding file (names the file and, where known, the line number)."""

    def __init__(self, path, lineno, message):
        self.path = str(path)
        self.lineno = lineno
        where = f"{self.path}:{lineno}" if lineno is not None else self.path
        super().__init__(f"{where}: {message}")


def check_unicode_errors(unicode_errors):
    """``unicode_errors`` must name a codec error handler ("strict", "replace", "ignore", ...)."""
    try:
        codecs.lookup_error(unicode_errors)
    except (LookupError, TypeError):
        raise ValueError(f"unicode_errors: expected a codec error handler such as 'strict', "
                         f"'replace' or 'ignore', got {unicode_errors!r}") from None


class _Reader:
    """Collects rows while parsing; raises or skips malformed lines."""

    def __init__(self, path, on_error, dim=None):
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error: expected 'raise' or 'skip', got {on_error!r}")
        self.path = os.fspath(path)
        self.on_error = on_error
        self.dim = dim
        self.keys = []
        self.rows = []
        self.seen = {}
        self.skipped = []  # (lineno, message)

    def bad(self, lineno, message):
        if self.on_error == "raise":
            raise EmbeddingFormatError(self.path, lineno, message)
        self.skipped.append((lineno, message))

    def add_text(self, lineno, line):
        parts = line.rstrip("\r\n").rstrip(" ").split(" ")
        if len(parts) < 2 or parts[0] == "":
            self.bad(lineno, f"expected a word followed by numbers, got {line[:60]!r}")
            return
        word, values = parts[0], parts[1:]
        if self.dim is None:
            self.dim = len(values)
        if len(values) != self.dim:
            self.bad(lineno, f"word {word!r}: expected {self.dim} values, got {len(values)}")
            return
        try:
            vec = np.array(values, dtype=np.float32)
        except ValueError:
            bad = next(v for v in values if not _is_float(v))
            self.bad(lineno, f"word {word!r}: bad float {bad!r}")
            return
        self.add(lineno, word, vec)

    def add(self, lineno, word, vec):
        if word in self.seen:
            self.bad(lineno, f"duplicate word {word!r} (first seen on line {self.seen[word]})")
            return
        self.seen[word] = lineno
        self.keys.append(word)
        self.rows.append(vec)

    def result(self):
        """``(keys, (n, dim) float32 matrix, skipped lines)``; warns if lines were skipped."""
        if not self.keys:
            raise EmbeddingFormatError(self.path, None, "no vectors found (empty file?)")
        if self.skipped:
            warnings.warn(
                f"{self.path}: skipped {len(self.skipped)} malformed line(s), "
                f"first: line {self.skipped[0][0]}: {self.skipped[0][1]}",
                stacklevel=4,
            )
        return self.keys, np.vstack(self.rows).astype(np.float32, copy=False), self.skipped


def _open(path):
    path = os.fspath(path)
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


class _Unreadable:
    """Turns what a damaged (e.g. gzip) stream raises into an EmbeddingFormatError."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        return self

    def __exit__(self, kind, err, tb):
        if kind is None or issubclass(kind, (EmbeddingFormatError, FileNotFoundError)):
            return False
        if issubclass(kind, (OSError, EOFError, zlib.error)):
            raise EmbeddingFormatError(
                self.path, None, f"cannot be read: the data is corrupt or truncated "
                f"({kind.__name__}: {err})") from None
        return False


def _lines(f, path, first=1):
    """``(lineno, raw bytes)`` per line, refusing lines longer than MAX_LINE_BYTES."""
    lineno = first - 1
    while True:
        raw = f.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        lineno += 1
        if len(raw) > MAX_LINE_BYTES:
            raise EmbeddingFormatError(path, lineno, f"line longer than {MAX_LINE_BYTES} bytes "
                                                     "(not a vector file, or corrupt)")
        yield lineno, raw


def _looks_like_header(line):
    parts = line.split()
    return len(parts) == 2 and all(p.isdigit() for p in parts)


def _is_float(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def _decode(raw, lineno, reader, errors="strict"):
    try:
        return raw.decode("utf-8", errors=errors)
    except UnicodeDecodeError as e:
        reader.bad(lineno, f"not valid UTF-8 ({e.reason} at byte {e.start})")
        return None


def read_glove(path, on_error="raise", limit=None):
    """``(keys, matrix, skipped)`` of a header-less GloVe text file (plain or ``.gz``)."""
    path = os.fspath(path)
    reader = _Reader(path, on_error)
    with _Unreadable(path), _open(path) as f:
        for lineno, raw in _lines(f, path):
            if limit is not None and len(reader.keys) >= limit:
                break
            line = _decode(raw, lineno, reader)
            if line is None:
                continue
            if not line.strip():
                reader.bad(lineno, "empty line")
                continue
            if lineno == 1 and _looks_like_header(line):
                raise EmbeddingFormatError(
                    path, 1, f"{line.strip()!r} looks like a word2vec 'count dim' header; "
                    "use KeyedVectors.load_word2vec_format for this file")
            reader.add_text(lineno, line)
    return reader.result()


def read_word2vec(path, binary=False, on_error="raise", limit=None, unicode_errors="strict"):
    """``(keys, matrix, skipped)`` of a word2vec file (``count dim`` header; text or binary)."""
    path = os.fspath(path)
    check_unicode_errors(unicode_errors)
    with _Unreadable(path), _open(path) as f:
        header = f.readline(256)
        if not header:
            raise EmbeddingFormatError(path, 1, "empty file (expected a 'count dim' header)")
        try:
            count, dim = (int(x) for x in header.split())
        except ValueError:
            raise EmbeddingFormatError(
                path, 1, f"expected a 'count dim' header, got {header[:60]!r}") from None
        if count < 0 or dim <= 0:
            raise EmbeddingFormatError(path, 1, f"bad header values count={count} dim={dim}")
        reader = _Reader(path, on_error, dim=dim)
        n = count if limit is None else min(count, limit)
        if binary:
            _check_record_size(f, path, n, dim)
            _read_binary(f, reader, n, dim, unicode_errors)
            if limit is None and isinstance(f, gzip.GzipFile):
                while f.read(_CHUNK):   # to the end: gzip checks its CRC only there
                    pass
        else:
            _read_text_records(f, reader, n, count, limit, unicode_errors)
    return reader.result()


def _read_text_records(f, reader, n, count, limit, unicode_errors):
    lineno = 1
    for lineno, raw in _lines(f, reader.path, first=2):
        if len(reader.keys) + len(reader.skipped) >= n:
            if limit is None and raw.strip():
                reader.bad(lineno, f"more lines than the header's count {count}")
            break
        line = _decode(raw, lineno, reader, unicode_errors)
        if line is None:
            continue
        if not line.strip():
            reader.bad(lineno, "empty line")
            continue
        reader.add_text(lineno, line)
    got = len(reader.keys) + len(reader.skipped)
    if got < n:
        reader.bad(lineno + 1, f"file ends after {got} vectors, header said {count}")


def _check_record_size(f, path, n, dim):
    """A plain binary file must hold at least one record of ``dim`` floats if n >= 1."""
    if n < 1 or isinstance(f, gzip.GzipFile):
        return
    left = os.fstat(f.fileno()).st_size - f.tell()
    if 4 * dim > left:
        raise EmbeddingFormatError(
            path, 1, f"the header says dim={dim}: one vector takes {4 * dim} bytes, but only "
            f"{left} bytes follow the header")


def _read_exact(f, nbytes):
    """Up to ``nbytes`` from ``f``, read in chunks (memory follows the data present)."""
    parts, left = [], nbytes
    while left > 0:
        part = f.read(min(left, _CHUNK))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _read_word(f, reader, lineno, n):
    """The bytes of the next record's word (up to its space), or None at the end."""
    word = bytearray()
    while True:
        ch = f.read(1)
        if ch == b"":
            got = len(reader.keys) + len(reader.skipped)
            reader.bad(lineno, f"file ends after {got} vectors, header said {n}")
            return None
        if ch == b" ":
            return word
        if ch == b"\n" and not word:
            continue  # newline after the previous vector (word2vec.c writes one)
        word += ch
        if len(word) > MAX_WORD_BYTES:
            raise EmbeddingFormatError(reader.path, lineno,
                                       f"a word longer than {MAX_WORD_BYTES} bytes (corrupt "
                                       "file, or not word2vec binary)")


def _read_binary(f, reader, n, dim, unicode_errors):
    nbytes = 4 * dim
    for rec in range(n):
        lineno = rec + 2  # record number, counted like lines (header is line 1)
        word = _read_word(f, reader, lineno, n)
        if word is None:
            return
        data = _read_exact(f, nbytes)
        if len(data) != nbytes:
            reader.bad(lineno, f"record {rec + 1} ({bytes(word)[:40]!r}): expected {nbytes} bytes "
                               f"of float32 data, got {len(data)}")
            return
        try:
            w = word.decode("utf-8", errors=unicode_errors).strip()
        except UnicodeDecodeError as e:
            reader.bad(lineno, f"record {rec + 1}: word is not valid UTF-8 ({e.reason})")
            continue
        reader.add(lineno, w, np.frombuffer(data, dtype="<f4").astype(np.float32))


def write_text_rows(f, keys, vecs):
    """``word v1 ... vd`` lines (binary file ``f``)."""
    # str() of a float32 scalar is the shortest text that reads back to the same float32
    chunk = []
    for k, v in zip(keys, vecs):
        chunk.append(k + " " + " ".join(map(str, v)) + "\n")
        if len(chunk) >= 4096:
            f.write("".join(chunk).encode("utf-8"))
            chunk = []
    if chunk:
        f.write("".join(chunk).encode("utf-8"))


def write_binary_rows(f, keys, vecs):
    """word2vec binary records: ``word`` + space + little-endian float32 values + newline."""
    for k, v in zip(keys, np.asarray(vecs, dtype="<f4")):
        f.write(k.encode("utf-8") + b" " + v.tobytes() + b"\n")
