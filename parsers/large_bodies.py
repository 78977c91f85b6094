"""Large base64 bodies left in the stored file while the stdlib parses the message around them.

The stdlib's feed parser keeps a body as a list of lines, then joins them: a 27 MB base64
attachment costs about 45 MB of line objects plus the 27 MB string, before it is decoded into
20 MB more. The message is already stored, and a run of base64 lines can be nothing but body
text (a boundary starts with `--`, a header line has a colon, a folded one starts with a
blank: none is in the base64 alphabet). So, for a large file, each run of at least `MIN_RUN`
bytes of full base64 lines is handed to the parser as one token line, and the part's content
is decoded later straight from the file, a megabyte at a time: one copy, the decoded one.

The token holds a per-parse random nonce, so no message can forge one. A part that is not a
plain base64 leaf under multiparts (a message/* part is serialised, a text part may be read as
text) gets its lines back as the stdlib would have held them.
"""

from __future__ import annotations

import binascii
import io
import re
import secrets
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.message import Message
from typing import BinaryIO

MIN_FILE = 4 << 20  # smaller messages are parsed as they are: nothing worth saving
MIN_RUN = 1 << 20  # bytes of consecutive base64 lines worth leaving in the file
READ = 1 << 20  # bytes read back at a time when decoding
MAX_LINE = 64 << 10  # bytes without a line end held before they are passed on anyway
MAX_DEPTH = 40  # as `structure.MAX_DEPTH`: deeper parts are skipped there anyway

# Full lines, no padding, no blanks; tried at line starts only (a long line costs one try).
_RUN = re.compile(rb"^(?:[A-Za-z0-9+/]{16,998}\r?\n)+", re.MULTILINE)
_ALPHABET = string.ascii_letters + string.digits
_CLEAN = re.compile(r"[A-Za-z0-9+/]*={0,2}")  # a leaf's own base64 text, newlines removed


def _unbroken(text: str) -> str:
    return text.replace("\r", "").replace("\n", "")


@dataclass(frozen=True)
class Region:
    """A run of base64 lines in the file: where it is and how many base64 characters."""

    start: int
    end: int
    chars: int


class StoredMessage(Message):
    """A part whose base64 content may still be in the file (`large_body`)."""

    large_body: LargeBody | None = None


@dataclass(frozen=True)
class LargeBody:
    """A leaf's base64 text: its own lines and regions of the file, in order."""

    handle: BinaryIO
    pieces: tuple[str | Region, ...]

    def decoded(self) -> bytes | None:
        """The content, decoded from the file; None when the text around the regions is not
        clean base64 (the stdlib then decodes it, defects and all)."""
        texts = [_unbroken(piece) for piece in self.pieces if isinstance(piece, str)]
        padded = [text for text in texts if "=" in text]
        if not all(map(_CLEAN.fullmatch, texts)) or padded not in ([], texts[-1:]):
            return None
        if padded and not isinstance(self.pieces[-1], str):
            return None  # padding before a region: not a well-formed body
        chars = sum(map(len, texts)) + sum(p.chars for p in self.pieces if isinstance(p, Region))
        if chars % 4:
            return None
        out = io.BytesIO()
        carry = b""
        for piece in self.pieces:
            for block in self._blocks(piece):
                block = carry + block
                cut = len(block) - len(block) % 4
                out.write(binascii.a2b_base64(block[:cut]))
                carry = block[cut:]
        return out.getvalue()

    def text(self) -> str:
        """The base64 lines as the stdlib would have held them."""
        return "".join(
            piece if isinstance(piece, str) else self._read(piece).decode("ascii")
            for piece in self.pieces
        )

    def _blocks(self, piece: str | Region) -> Iterator[bytes]:
        if isinstance(piece, str):
            yield _unbroken(piece).encode("ascii")
            return
        self.handle.seek(piece.start)
        left = piece.end - piece.start
        while left > 0:
            data = self.handle.read(min(READ, left))
            if not data:
                raise OSError("stored message shorter than when it was parsed")
            left -= len(data)
            yield data.replace(b"\r", b"").replace(b"\n", b"")

    def _read(self, region: Region) -> bytes:
        self.handle.seek(region.start)
        return self.handle.read(region.end - region.start)


class Runs:
    """Feeds the parser the file's chunks with each long base64 run replaced by a token."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.nonce = "".join(secrets.choice(_ALPHABET) for _ in range(36))
        self.regions: dict[str, Region] = {}
        self._start = self._length = self._chars = 0  # the open run, if _length
        self._held: list[bytes] = []  # its bytes while it may still end short
        self._ending = b"\n"

    def chunks(self, reads: Iterable[bytes]) -> Iterator[bytes]:
        offset = 0  # of `pending` in the file
        pending = b""
        mid_line = False  # `pending` starts inside a line passed on before
        for read in reads:
            pending += read
            complete = pending.rfind(b"\n") + 1
            if not complete and len(pending) > MAX_LINE:  # no line here: pass it on as it is
                yield from self._close()
                yield pending
                offset += len(pending)
                pending, mid_line = b"", True
                continue
            yield from self._scan(pending[:complete], offset, mid_line)
            mid_line = False
            offset += complete
            pending = pending[complete:]
        yield from self._close()
        if pending:
            yield pending

    def _scan(self, block: bytes, offset: int, mid_line: bool) -> Iterator[bytes]:
        position = 0
        for match in _RUN.finditer(block):
            if mid_line and match.start() == 0:
                continue  # the end of a long line, not lines of a body
            if match.start() > position or not self._length:
                yield from self._close()
                yield block[position : match.start()]
                self._start = offset + match.start()
            self._extend(match.group())
            position = match.end()
        if position < len(block):
            yield from self._close()
            yield block[position:]

    def _extend(self, lines: bytes) -> None:
        self._length += len(lines)
        self._chars += len(lines) - lines.count(b"\n") - lines.count(b"\r")
        self._ending = b"\r\n" if lines.endswith(b"\r\n") else b"\n"
        if self._length < MIN_RUN:
            self._held.append(lines)
        else:
            self._held = []

    def _close(self) -> Iterator[bytes]:
        if not self._length:
            return
        if self._length >= MIN_RUN:
            token = f"{self.nonce}{len(self.regions):012d}"
            end = self._start + self._length
            self.regions[token] = Region(self._start, end, self._chars)
            yield token.encode("ascii") + self._ending
        else:
            yield b"".join(self._held)
        self._start = self._length = self._chars = 0
        self._held = []

    def attach(self, message: Message) -> None:
        """Give each part the regions its text holds: a base64 leaf under multiparts keeps
        them for `structure.decoded`; any other text gets its lines back."""
        if not self.regions:
            return
        stack: list[tuple[Message, bool, int]] = [(message, True, 0)]
        while stack:
            part, plain_path, depth = stack.pop()
            for name in ("preamble", "epilogue"):
                value = getattr(part, name, None)
                if isinstance(value, str) and self.nonce in value:
                    setattr(part, name, self._body(value).text())
            payload = part.get_payload()
            if isinstance(payload, list):
                inner = plain_path and part.get_content_maintype() == "multipart"
                if depth < MAX_DEPTH:
                    stack.extend((child, inner, depth + 1) for child in payload)
                else:
                    self._restore_all(payload)
                continue
            if not isinstance(payload, str) or self.nonce not in payload:
                continue
            body = self._body(payload)
            cte = str(part.get("content-transfer-encoding", "")).strip().lower()
            if plain_path and cte == "base64" and isinstance(part, StoredMessage):
                part.large_body = body
                part.set_payload("")
            else:
                part.set_payload(body.text())

    def _restore_all(self, parts: list[Message]) -> None:
        """Parts deeper than the walk goes: their text back, whatever they are."""
        for part in parts:
            for inner in part.walk():
                payload = inner.get_payload()
                if isinstance(payload, str) and self.nonce in payload:
                    inner.set_payload(self._body(payload).text())

    def _body(self, text: str) -> LargeBody:
        pieces: list[str | Region] = []
        for line in text.splitlines(keepends=True):
            token = line.rstrip("\r\n")
            region = self.regions.get(token) if token.startswith(self.nonce) else None
            if region is not None:
                pieces.append(region)
            elif pieces and isinstance(pieces[-1], str):
                pieces[-1] += line
            else:
                pieces.append(line)
        return LargeBody(self.handle, tuple(pieces))
