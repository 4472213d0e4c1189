"""A checksum inside the JSON files tinynlp writes, so that a damaged file is an error.

Zip members carry a CRC and gzip streams a CRC, but a JSON file (a tokenizer, the
index of a sharded checkpoint) is read as text: a flipped digit is still valid
JSON and would load as a different vocabulary or a different weight layout.  So
those files carry ``"crc32"``: the CRC-32 of the document's canonical form (keys
sorted, no spaces, UTF-8) without that field.  Formatting changes (spaces, key
order) keep it valid; any change of content does not.
"""

from __future__ import annotations

import json
import zlib

__all__ = ["json_crc32", "seal", "check_seal", "SEAL_KEY"]

SEAL_KEY = "crc32"


def json_crc32(obj) -> int:
    """CRC-32 of ``obj``'s canonical JSON (``obj`` without a ``"crc32"`` key)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)
    return zlib.crc32(text.encode("utf-8"))


def seal(obj: dict) -> dict:
    """``obj`` with its ``"crc32"`` added (written last)."""
    body = {k: v for k, v in obj.items() if k != SEAL_KEY}
    return dict(body, **{SEAL_KEY: json_crc32(body)})


def check_seal(obj: dict, error, where: str, required: bool = True) -> dict:
    """``obj`` without its ``"crc32"``, which must match (``error(message)`` otherwise).
    ``required=False`` accepts a document written without one (an older format)."""
    if SEAL_KEY not in obj:
        if required:
            raise error(f"{where}: has no {SEAL_KEY!r} checksum; the file is damaged or was "
                        "not written by tinynlp")
        return obj
    body = {k: v for k, v in obj.items() if k != SEAL_KEY}
    try:
        ok = obj[SEAL_KEY] == json_crc32(body)
    except (TypeError, ValueError, RecursionError):
        ok = False
    if not ok:
        raise error(f"{where}: the content does not match its {SEAL_KEY!r} checksum; the file "
                    "was damaged or edited")
    return body
