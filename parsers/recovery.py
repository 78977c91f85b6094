"""The stdlib fallback: parse what mail-parser and the email package give up on.

Policy compat32 never raises on get_payload, which makes it the right base for hostile
input. On top of it: re-splitting multiparts whose boundary does not match (or is missing,
or only closes), and repairing a header block broken by a folded line without indentation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from email.message import Message
from email.parser import BytesFeedParser, BytesHeaderParser
from email.policy import compat32
from typing import BinaryIO

from parsers import large_bodies

MAX_SEGMENTS = 1000
FEED_CHUNK = 1 << 16

_HEADER_LINE = re.compile(rb"[!-9;-~]+[ \t]*:")
_CONTENT_HEADER = re.compile(rb"content-[a-z-]+[ \t]*:", re.IGNORECASE)
_STRUCTURAL_HEADER = re.compile(rb"(?:content-type|mime-version)[ \t]*:", re.IGNORECASE)
_BOUNDARY_PARAM = re.compile(r"""boundary\s*=\s*(?:"([^"]*)"?|([^\s;"]+))""", re.IGNORECASE)


def parse_bytes(data: bytes) -> tuple[Message, str | None]:
    """compat32 parse; when nesting exhausts the stack, keep the headers and the raw body.

    Fed in chunks, as `BytesParser.parse` reads a file: the same tree as `message_from_bytes`,
    which first decodes the whole message into one string and copies it into a StringIO
    (a 45 MB message cost 350 MB at its peak that way, 80 MB fed in chunks).
    """
    chunks = (data[start : start + FEED_CHUNK] for start in range(0, len(data), FEED_CHUNK))
    return parse_chunks(chunks, lambda: data)


def parse_file(handle: BinaryIO) -> tuple[Message, str | None]:
    """`parse_bytes` reading a seekable binary file: the message is never held whole beside
    its tree (45 MB less at the peak for a 45 MB message), and in a large one the long base64
    bodies stay in the file until they are decoded (`large_bodies`)."""
    size = handle.seek(0, 2)
    handle.seek(0)

    def whole() -> bytes:
        handle.seek(0)
        return handle.read()

    reads = iter(lambda: handle.read(FEED_CHUNK), b"")
    if size < large_bodies.MIN_FILE:
        return parse_chunks(reads, whole)
    runs = large_bodies.Runs(handle)
    message, problem = parse_chunks(runs.chunks(reads), whole, large_bodies.StoredMessage)
    runs.attach(message)
    return message, problem


def parse_chunks(
    chunks: Iterable[bytes], whole: Callable[[], bytes], factory: type[Message] = Message
) -> tuple[Message, str | None]:
    """The tree of the message `chunks` make; `whole` gives it again for the fallback."""
    try:
        parser = BytesFeedParser(factory, policy=compat32)
        for chunk in chunks:
            parser.feed(chunk)
        return parser.close(), None
    except RecursionError:
        message = BytesHeaderParser(policy=compat32).parsebytes(whole(), headersonly=True)
        return message, "MIME nesting too deep to parse: body kept as raw text"


def wire_bytes(part: Message) -> bytes:
    """A leaf's body before transfer decoding.

    Read from the stored payload: compat32's get_payload() re-decodes 8-bit text with the
    declared charset and raises on some labels (an RFC 2231 tuple, a non-text codec).
    """
    payload = part._payload
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return payload if isinstance(payload, bytes) else b""


def repair_header_fold(data: bytes) -> bytes | None:
    """Indent header lines that lost their folding whitespace, or None if nothing to repair.

    Outlook/Exchange sometimes breaks a long header without the leading space; the stdlib then
    ends the headers there and Content-Type, MIME-Version... become body text. Only repaired
    when a Content-Type or MIME-Version line follows, so a real body is never pulled up.
    """
    lines = data.split(b"\n")
    end = next((i for i, line in enumerate(lines) if not line.rstrip(b"\r")), len(lines))
    block = lines[:end]
    if not block or not _HEADER_LINE.match(block[0]):
        return None
    broken = [i for i, line in enumerate(block) if _is_broken(line)]
    if not broken or not any(_STRUCTURAL_HEADER.match(line) for line in block[broken[0] :]):
        return None
    for i in broken:
        lines[i] = b" " + lines[i]
    return b"\n".join(lines)


def _is_broken(line: bytes) -> bool:
    return not (line[:1] in (b" ", b"\t") or _HEADER_LINE.match(line))


def boundary_of(content_type: str) -> str | None:
    """The boundary parameter read leniently (spaces around '=', unclosed quotes)."""
    match = _BOUNDARY_PARAM.search(content_type)
    if not match:
        return None
    value = match.group(1) if match.group(1) is not None else match.group(2)
    return value or None


def split_multipart(body: bytes, boundary: str | None) -> list[bytes] | None:
    """Body parts of a multipart the stdlib could not split; None when no delimiter is found.

    Delimiters are the declared boundary (matched as a line prefix, as RFC 2046 allows) and
    any "--token" line followed by a Content-* header, which recovers wrong or missing
    boundary parameters. A closing delimiter ends a part; text after it is epilogue.
    """
    lines = body.splitlines(keepends=True)
    tokens = _delimiters(lines, boundary)
    if not tokens:
        return None
    segments: list[bytes] = []
    current: list[bytes] | None = None
    found = False
    for line in lines:
        kind = _delimiter_kind(line, tokens)
        if kind is None:
            if current is not None:
                current.append(line)
            continue
        found = True
        if current is not None:
            segments.append(_join(current))
        current = [] if kind == "open" else None
        if len(segments) >= MAX_SEGMENTS:
            break
    if current:
        segments.append(_join(current))
    return segments if found else None


def _delimiters(lines: list[bytes], boundary: str | None) -> list[bytes]:
    """The declared delimiter when it opens a part; otherwise add "--token" lines found."""
    declared = [b"--" + boundary.encode("utf-8", "surrogateescape")] if boundary else []
    if declared and any(_delimiter_kind(line, declared) == "open" for line in lines):
        return declared
    tokens = declared + _discovered(lines)
    return list(dict.fromkeys(tokens))


def _discovered(lines: list[bytes]) -> list[bytes]:
    tokens: list[bytes] = []
    for i, line in enumerate(lines):
        if not line.startswith(b"--") or len(line) > 300:
            continue
        if any(_CONTENT_HEADER.match(candidate) for candidate in lines[i + 1 : i + 3]):
            token = line.rstrip()
            if len(token) > 2:
                tokens.append(token)
        if len(tokens) > 10:
            break
    return tokens


def _delimiter_kind(line: bytes, tokens: list[bytes]) -> str | None:
    if not line.startswith(b"--"):
        return None
    for token in tokens:
        if line.startswith(token):
            return "close" if line[len(token) :].startswith(b"--") else "open"
    return None


def _join(lines: list[bytes]) -> bytes:
    """The CRLF before a delimiter belongs to the delimiter (RFC 2046)."""
    data = b"".join(lines)
    if data.endswith(b"\r\n"):
        return data[:-2]
    return data[:-1] if data.endswith(b"\n") else data
