"""MIME entities as the bytes that were signed, not as a parser would re-serialise them.

A provider signs the exact bytes of the first part of a multipart/signed (RFC 1847), in their
canonical CRLF form. The stdlib's tree cannot give those bytes back (it re-folds headers and
normalises line ends), so the signed part is cut out of the raw message by its boundary here;
the stdlib only reads each entity's header block. Depth and part counts are bounded: hostile
nesting costs a bounded walk, never a recursion error.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

MAX_PARTS = 200
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_NEWLINE = re.compile(rb"\r?\n")


@dataclass(frozen=True)
class Entity:
    """One MIME entity: its header block (read by the stdlib) and its raw body bytes."""

    raw: bytes  # the whole entity, headers included, as found
    headers: Message
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get_content_type().lower()

    @property
    def filename(self) -> str | None:
        name = self.headers.get_filename() or self.headers.get_param("name")
        return str(name).strip().lower() if isinstance(name, str) else None

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return " ".join(str(value).split()) if value is not None else None

    def parts(self) -> tuple[list[Entity], bool]:
        """The parts of a multipart, and whether its closing delimiter was found."""
        boundary = self.headers.get_param("boundary")
        if not self.content_type.startswith("multipart/") or not isinstance(boundary, str):
            return [], False
        chunks, closed = split_multipart(self.body, boundary.encode("latin-1", "replace"))
        return [entity(chunk) for chunk in chunks[:MAX_PARTS]], closed

    def decoded(self) -> bytes:
        """The body with its Content-Transfer-Encoding undone (a re-encoding client may have
        put even a message/rfc822 into base64)."""
        cte = (self.header("Content-Transfer-Encoding") or "").lower()
        if cte == "base64":
            try:
                return base64.b64decode(re.sub(rb"[^A-Za-z0-9+/=]", b"", self.body) + b"==")
            except (binascii.Error, ValueError):
                return b""
        if cte == "quoted-printable":
            return quopri.decodestring(self.body)
        return self.body


def entity(raw: bytes) -> Entity:
    """Split `raw` into its header block and its body."""
    match = _HEAD_END.search(raw)
    head, body = (raw[: match.start()], raw[match.end() :]) if match else (raw, b"")
    if raw[:1] in (b"\n", b"\r"):  # no headers at all: the body starts at once
        head, body = b"", raw.lstrip(b"\r\n")
    headers = BytesHeaderParser(policy=compat32).parsebytes(head + b"\n\n")
    return Entity(raw, headers, body)


def split_multipart(body: bytes, boundary: bytes) -> tuple[list[bytes], bool]:
    """The raw parts between the delimiter lines; the line break before a delimiter belongs
    to the delimiter (RFC 2046 5.1.1), so a part's bytes are exactly what was signed."""
    marker = b"--" + boundary
    parts: list[bytes] = []
    start: int | None = None
    at = 0
    while len(parts) <= MAX_PARTS:
        found = body.find(marker, at)
        if found < 0:
            break
        at = found + len(marker)
        closing = body[at : at + 2] == b"--"
        eol = body.find(b"\n", at)
        eol = len(body) if eol < 0 else eol
        on_own_line = found == 0 or body[found - 1] == 0x0A  # "\n"
        if not on_own_line or body[at + 2 * closing : eol].strip(b" \t\r"):
            continue  # the boundary string inside a line: not a delimiter
        if start is not None:
            crlf = body[found - 2 : found] == b"\r\n"
            parts.append(body[start : found - 2 if crlf else found - 1])
        if closing:
            return parts, True
        start = min(eol + 1, len(body))
    if start is not None:
        parts.append(body[start:])  # unterminated: the rest is the last part
    return parts, False


def canonical(data: bytes) -> bytes:
    """Every line end as CRLF: the form S/MIME signs (RFC 5751 3.1.1). Files kept with LF
    (a git checkout, a Maildir) verify only in this form."""
    return _NEWLINE.sub(b"\r\n", data)
