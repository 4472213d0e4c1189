"""Reading ``.npy`` arrays — plain files and members of zip archives (``.tnz``
checkpoints, ``.npz`` files) — without trusting them.

``np.load`` on an archive reads a whole member before anything can be
compared, and ``np.lib.format.read_array`` allocates whatever shape a header
declares.  Here every size is checked before it is used:

* the archive (:func:`open_archive`): each member is stored or deflated (other
  methods and encrypted members are refused), its data lies inside the file,
  a stored member's size is its size on disk, and a deflated member declares at
  most :data:`MAX_DEFLATE_RATIO` times its compressed size (deflate cannot
  expand more, so a larger claim is a forgery); names are unique;
* an array (:func:`read_header`, :func:`npy_file_header`): its ``.npy`` header is
  read first (at most :data:`MAX_HEADER` bytes), the dtype must be plain
  numeric or text (never an object array: nothing is unpickled), and the
  header's shape × itemsize plus the header must be exactly the bytes there are;
* :func:`read_member` compares that header with the shape and dtype the caller
  expects, and only then allocates the array and reads it in chunks (the zip
  CRC is checked at the end);
* a JSON member (:func:`read_json_member`) may hold at most :data:`MAX_JSON_BYTES`.

Every failure raises the caller's error class (``error=``), naming the file and
the member — never a raw ``zipfile`` / ``zlib`` / NumPy exception.
"""

from __future__ import annotations

import json
import math
import os
import struct
import tokenize
import zipfile
import zlib

import numpy as np

__all__ = ["MAX_DEFLATE_RATIO", "MAX_HEADER", "MAX_JSON_BYTES", "ARCHIVE_ERRORS", "NpyHeader",
           "open_archive", "read_header", "read_member", "read_bytes", "read_json_member",
           "npy_file_header", "parse_json"]

#: deflate's largest possible expansion (258-byte matches coded in about 2 bits) is
#: 1032 : 1; a member declaring more than that (+ a little slack) cannot be genuine
MAX_DEFLATE_RATIO = 1032
#: the longest ``.npy`` header read (NumPy writes under 200 bytes for plain arrays)
MAX_HEADER = 1 << 16
#: the largest JSON document read from an archive (configs, indexes)
MAX_JSON_BYTES = 1 << 26
_SLACK = 1024
_CHUNK = 1 << 22

#: what the standard library raises on a damaged archive or member
ARCHIVE_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
                  NotImplementedError, RuntimeError, ValueError, struct.error, KeyError,
                  IndexError, OverflowError, UnicodeDecodeError)


class NpyHeader:
    """What a ``.npy`` header declares: ``shape``, ``dtype``, ``fortran_order``, and
    ``offset`` (where the data starts) and ``nbytes`` (how much data follows)."""

    __slots__ = ("shape", "dtype", "fortran_order", "offset", "nbytes")

    def __init__(self, shape, dtype, fortran_order, offset):
        self.shape, self.dtype, self.fortran_order = shape, dtype, fortran_order
        self.offset = offset
        self.nbytes = math.prod(shape) * dtype.itemsize


class _Where:
    """How an array is named in messages: ``file: label (member)``."""

    def __init__(self, file, name=None, label=None):
        self.file = file
        self.desc = (f"{label} ({name})" if label and name else label or name or "the array")

    def __str__(self):
        return f"{self.file}: {self.desc}"

    def cannot_read(self, why):
        return f"{self.file}: cannot read {self.desc}: {why}"


def _read_header(f, size, error, where):
    """The :class:`NpyHeader` at the start of stream ``f`` of ``size`` bytes in all."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(
                f, max_header_size=MAX_HEADER)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(
                f, max_header_size=MAX_HEADER)
        else:
            raise ValueError(f".npy format version {version} is not supported")
    except (ValueError, SyntaxError, TypeError, OverflowError, tokenize.TokenError,
            RecursionError) as e:   # (NumPy parses the header with Python's tokenizer)
        raise error(where.cannot_read(f"not a valid .npy header ({type(e).__name__}: {e})")) \
            from None
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None \
            or dtype.kind not in "fiubUS":
        raise error(where.cannot_read(f"it holds dtype {dtype}; only plain numeric and text "
                                      "arrays are read (never objects: nothing is unpickled)"))
    header = NpyHeader(tuple(int(d) for d in shape), dtype, bool(fortran), f.tell())
    if header.offset + header.nbytes != size:
        raise error(where.cannot_read(
            f"its header declares shape {header.shape} of {dtype} ({header.nbytes} bytes of "
            f"data) but {size - header.offset} bytes follow the header"))
    return header


def npy_file_header(path, error, label=None):
    """The checked :class:`NpyHeader` of a plain ``.npy`` file (nothing else is read)."""
    path = os.fspath(path)
    where = _Where(path, label=label or "the .npy file")
    try:
        with open(path, "rb") as f:
            return _read_header(f, os.fstat(f.fileno()).st_size, error, where)
    except FileNotFoundError:
        raise
    except OSError as e:
        raise error(f"{where}: cannot be read ({e})") from None


def open_archive(path, error, kind="zip archive"):
    """``zipfile.ZipFile`` of ``path``, every member's declared sizes checked (see module doc).
    ``kind`` names what the file should be, in messages."""
    path = os.fspath(path)
    size = os.path.getsize(path)
    try:
        zf = zipfile.ZipFile(path, "r")
    except ARCHIVE_ERRORS as e:
        raise error(f"{path}: not a valid {kind}: not a readable zip archive "
                    f"({type(e).__name__}: {e}); the file ({size} bytes) is truncated or "
                    "corrupt") from None
    try:
        _check_members(zf, size, path, error)
    except BaseException:
        zf.close()
        raise
    return zf


def _check_members(zf, size, what, error):
    seen = set()
    for info in zf.infolist():
        name = info.filename
        if name in seen:
            raise error(f"{what}: the archive lists the member {name!r} twice")
        seen.add(name)
        if info.flag_bits & 0x1:
            raise error(f"{what}: member {name!r} is encrypted; these files never are")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise error(f"{what}: member {name!r} uses compression method "
                        f"{info.compress_type}; only stored (0) and deflated (8) members "
                        "are read")
        if info.header_offset < 0 or info.header_offset + info.compress_size > size:
            raise error(f"{what}: member {name!r} claims {info.compress_size} bytes at offset "
                        f"{info.header_offset}, beyond the end of the {size}-byte file")
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise error(f"{what}: stored member {name!r} declares {info.file_size} bytes but "
                        f"occupies {info.compress_size}")
        if info.file_size > MAX_DEFLATE_RATIO * info.compress_size + _SLACK:
            raise error(f"{what}: member {name!r} declares {info.file_size} bytes from "
                        f"{info.compress_size} compressed bytes, more than deflate can expand "
                        f"(at most {MAX_DEFLATE_RATIO}:1)")


def _fail(e, error, where):
    if isinstance(e, error):
        raise e
    raise error(f"{where} is corrupt or truncated ({type(e).__name__}: {e})") from None


def read_bytes(zf, name, error, file):
    """The whole content of a (small) member; its size was checked on opening."""
    try:
        return zf.read(name)
    except ARCHIVE_ERRORS as e:
        _fail(e, error, _Where(file, name))


def parse_json(raw, error, where):
    """``raw`` (UTF-8 bytes or str) parsed as JSON, or ``error`` naming ``where``."""
    try:
        return json.loads(raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise error(f"{where} is not valid JSON ({type(e).__name__}: {e})") from None


def read_json_member(zf, name, error, file):
    """Member ``name`` parsed as JSON (at most :data:`MAX_JSON_BYTES`)."""
    size = zf.getinfo(name).file_size
    if size > MAX_JSON_BYTES:
        raise error(f"{file}: {name} declares {size} bytes, more than the {MAX_JSON_BYTES} a "
                    "JSON document here may have")
    return parse_json(read_bytes(zf, name, error, file), error, f"{file}: {name}")


def read_header(zf, name, error, file, label=None):
    """The :class:`NpyHeader` of member ``name`` (only the header is read).  ``file`` and
    ``label`` (e.g. ``"weight 0 ('dense/kernel')"``) name it in messages."""
    where = _Where(file, name, label)
    try:
        info = zf.getinfo(name)
        with zf.open(info) as f:
            return _read_header(f, info.file_size, error, where)
    except ARCHIVE_ERRORS as e:
        _fail(e, error, where)


def read_member(zf, name, error, file, label=None, expect_shape=None, expect_dtype=None,
                kinds="fiub"):
    """The array in member ``name``: header first, compared with ``expect_shape`` /
    ``expect_dtype`` (when given) and ``kinds`` (allowed dtype kinds), then the data."""
    where = _Where(file, name, label)
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise error(f"{where} is missing") from None
    try:
        with zf.open(info) as f:
            header = _read_header(f, info.file_size, error, where)
            _expect(header, error, where, expect_shape, expect_dtype, kinds)
            return _read_data(f, header, error, where)
    except ARCHIVE_ERRORS as e:
        _fail(e, error, where)


def _expect(header, error, where, expect_shape, expect_dtype, kinds):
    if header.dtype.kind not in kinds:
        raise error(f"{where} has dtype {header.dtype}, expected a numeric array"
                    if kinds == "fiub" else
                    f"{where} has dtype {header.dtype}, expected one of the kinds {kinds!r}")
    if expect_shape is not None and header.shape != tuple(expect_shape):
        raise error(f"{where} has shape {header.shape} in the file, expected "
                    f"{tuple(expect_shape)}")
    if expect_dtype is not None and header.dtype != np.dtype(expect_dtype):
        raise error(f"{where} has dtype {header.dtype} in the file, expected "
                    f"{np.dtype(expect_dtype)}")


def _read_data(f, header, error, where):
    shape = header.shape[::-1] if header.fortran_order else header.shape
    arr = np.empty(shape, dtype=header.dtype)
    view = memoryview(arr.reshape(-1).view(np.uint8)) if arr.nbytes else memoryview(b"")
    pos = 0
    while pos < header.nbytes:
        n = f.readinto(view[pos:pos + _CHUNK])
        if not n:
            raise error(f"{where} is truncated: it ends after {pos} of its {header.nbytes} "
                        "bytes of data")
        pos += n
    if f.read(1):
        raise error(f"{where} has data after its array")
    return arr.T if header.fortran_order else arr
