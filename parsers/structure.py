"""Walk a parsed MIME tree into body texts and attachments.

mail-parser's own extraction is not used for this: it reads undeclared charsets as UTF-8
with loss, ISO-8859-1 as Latin-1 (no euro sign), descends into forwarded messages instead of
keeping them whole, and leaves unsplittable multiparts as raw text. The walk is iterative
(no recursion on deep nesting) and calls the stdlib fallback in `parsers.recovery` for parts
the parser could not split.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass, field
from email.message import Message
from email.policy import compat32

from parsers import charsets, recovery
from parsers.filenames import guess_type
from parsers.headers import decode_words, to_bytes

MAX_DEPTH = 40
MAX_PARTS = 2000

_CONTENT_TYPE = re.compile(r"\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*/\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_SERIALIZE_POLICY = compat32.clone(max_line_length=None)  # no re-folding of long headers
# Base64 the stdlib would decode without a defect: the alphabet, line breaks, final padding.
_CLEAN_BASE64 = re.compile(r"[A-Za-z0-9+/\r\n]*(?:=[\r\n]*){0,2}")
_DIRECT_BASE64_BYTES = 64 * 1024  # below this, the stdlib's copies cost nothing worth saving

_DEFECT_TEXT = {
    "StartBoundaryNotFoundDefect": "{ctype} without a matching boundary",
    "NoBoundaryInMultipartDefect": "{ctype} without a boundary parameter",
    "CloseBoundaryNotFoundDefect": "{ctype} not closed by its final boundary",
    "MissingHeaderBodySeparatorDefect": "no blank line between headers and body ({ctype})",
    "FirstHeaderLineIsContinuationDefect": "first header line is a continuation ({ctype})",
    "MisplacedEnvelopeHeaderDefect": "'From ' envelope line among the headers ({ctype})",
    "InvalidMultipartContentTransferEncodingDefect": "{ctype} with a transfer encoding",
    "InvalidBase64PaddingDefect": "bad base64 padding in {ctype} part",
    "InvalidBase64CharactersDefect": "invalid base64 characters in {ctype} part",
    "InvalidBase64LengthDefect": "truncated base64 in {ctype} part",
    "MalformedHeaderDefect": "malformed header line ({ctype})",
}
_SILENT_DEFECTS = frozenset({"MultipartInvariantViolationDefect"})


@dataclass
class Found:
    """An attachment before naming: the decoded sender-given name, type and full payload."""

    name: str | None
    content_type: str
    payload: bytes


@dataclass
class Content:
    """What the walk found, in document order."""

    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    other_text: list[str] = field(default_factory=list)
    attachments: list[Found] = field(default_factory=list)
    charsets: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)


def extract(message: Message, max_text_bytes: int) -> Content:
    """Texts and attachments of `message`; never raises on malformed MIME.

    Consumes the tree: a large attachment's encoded text is dropped once it is decoded.
    """
    content = Content()
    stack: list[tuple[Message, int]] = [(message, 0)]
    visited = 0
    while stack:
        part, depth = stack.pop()
        visited += 1
        if visited > MAX_PARTS:
            content.defects.append(f"more than {MAX_PARTS} MIME parts: the rest was skipped")
            break
        _visit(part, depth, stack, content, max_text_bytes)
    return content


def _visit(part: Message, depth: int, stack: list, content: Content, limit: int) -> None:
    ctype = content_type(part, content.defects)
    if ctype.startswith("message/"):
        content.attachments.append(Found(filename(part), ctype, serialize(part)))
    elif part.is_multipart():
        children = [*part.get_payload(), *_epilogue_parts(part, ctype, content)]
        _push_children(children, depth, stack, content)
    elif ctype.startswith("multipart/"):
        _resplit(part, ctype, depth, stack, content, limit)
    else:
        _leaf(part, ctype, content, limit)
    _note_defects(part, ctype, content.defects)


def _push_children(children: list, depth: int, stack: list, content: Content) -> None:
    if depth >= MAX_DEPTH:
        content.defects.append(f"MIME nesting deeper than {MAX_DEPTH} levels: inner parts skipped")
        return
    stack.extend((child, depth + 1) for child in reversed(children) if isinstance(child, Message))


def _resplit(
    part: Message, ctype: str, depth: int, stack: list, content: Content, limit: int
) -> None:
    """Fallback for a multipart the parser left whole: split on the boundary lines found."""
    body = part.get_payload(decode=True) or b""
    segments = recovery.split_multipart(body, recovery.boundary_of(raw_header(part) or ""))
    if segments is None:
        content.recovered.append(f"{ctype} without usable boundary: body read as text")
        _add_text(content.plain, body, _charset(part), "text/plain part", content, limit)
        return
    content.recovered.append(f"{ctype} re-split on its boundary lines")
    parsed = []
    for segment in segments:
        message, problem = recovery.parse_bytes(segment)
        if problem:
            content.defects.append(problem)
        parsed.append(message)
    _push_children(parsed, depth, stack, content)


def _epilogue_parts(part: Message, ctype: str, content: Content) -> list[Message]:
    """Parts after the closing boundary: a nested multipart reusing its parent's boundary
    closes the parent early, and the rest of the message lands in the epilogue."""
    epilogue = part.epilogue
    boundary = recovery.boundary_of(raw_header(part) or "")
    if not epilogue or not boundary or f"--{boundary}" not in epilogue:
        return []
    segments = recovery.split_multipart(to_bytes(epilogue), boundary) or []
    parsed = [recovery.parse_bytes(segment)[0] for segment in segments if segment.strip()]
    if parsed:
        content.recovered.append(f"{ctype}: parts after the closing boundary recovered")
    return parsed


def _leaf(part: Message, ctype: str, content: Content, limit: int) -> None:
    name = filename(part)
    inline_text = not name and _disposition(part) != "attachment"
    if inline_text and ctype in ("text/plain", "text/html"):
        target = content.plain if ctype == "text/plain" else content.html
        data = decoded(part)
        _add_text(target, data, _charset(part), f"{ctype} part", content, limit)
        return
    payload = decoded(part)
    if len(payload) >= _DIRECT_BASE64_BYTES:
        part.set_payload("")  # the encoded text is done with: a 20 MB attachment less held twice
    if inline_text and ctype.startswith("text/"):
        _add_text(content.other_text, payload, _charset(part), f"{ctype} part", content, limit)
    if payload or name:
        content.attachments.append(Found(name, ctype, payload))


def decoded(part: Message) -> bytes:
    """A leaf's content, transfer decoding undone, as `get_payload(decode=True)` gives it.

    A large base64 body with nothing to complain about is decoded by `binascii` straight
    from the parsed text: the stdlib first copies it to bytes, splits it into lines and joins
    them again, three more copies of an attachment (125 MB at the peak for a 20 MB one).
    Anything else, defects included, goes the stdlib's way. A body left in the stored file
    (`large_bodies`) is decoded from there, or given back to the stdlib when it is not clean.
    """
    body = getattr(part, "large_body", None)
    if body is not None:
        data = body.decoded()
        if data is not None:
            return data
        part.set_payload(body.text())
        part.large_body = None
    payload = part._payload  # what get_payload reads too; compat32 keeps it as parsed
    cte = str(part.get("content-transfer-encoding", "")).lower()
    if (
        cte == "base64"
        and isinstance(payload, str)
        and len(payload) >= _DIRECT_BASE64_BYTES
        and payload.isascii()
        and (len(payload) - payload.count("\n") - payload.count("\r")) % 4 == 0
        and _CLEAN_BASE64.fullmatch(payload)
    ):
        return binascii.a2b_base64(payload)
    return part.get_payload(decode=True) or b""


def _add_text(
    target: list[str], data: bytes, label: str | None, where: str, content: Content, limit: int
) -> None:
    if len(data) > limit:
        content.defects.append(f"{where} of {len(data)} bytes cut to {limit}")
        data = data[:limit]
    if label:
        content.charsets.append(label)
    text, defect = charsets.decode(data, label, where)
    if defect:
        content.defects.append(defect)
        content.recovered.append("charset fallback")
    target.append(text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", ""))


def raw_header(part: Message, name: str = "content-type") -> str | None:
    """First raw value of a header, unfolded, 8-bit bytes decoded (UTF-8, else cp1252)."""
    for key, value in part.raw_items():
        if key.lower() == name:
            text = _FOLD.sub("", str(value))
            if text.isascii():
                return text
            return charsets.decode_raw_header_bytes(to_bytes(text), None)[0]
    return None


def content_type(part: Message, defects: list[str]) -> str:
    """Lower-case type/subtype read leniently; an invalid one is guessed from the file name."""
    value = raw_header(part)
    if value is None:
        return part.get_default_type()
    match = _CONTENT_TYPE.match(value)
    if match:
        return f"{match.group(1)}/{match.group(2)}".lower()
    guessed = guess_type(filename(part)) or "application/octet-stream"
    defects.append(f"invalid Content-Type {value.strip()[:60]!r}, taken as {guessed}")
    return guessed


def filename(part: Message) -> str | None:
    """The sender's file name, decoded from RFC 2231, RFC 2047 or raw 8-bit bytes."""
    view = _header_view(part)
    try:
        name = view.get_filename()
    except (ValueError, TypeError, IndexError, LookupError, UnicodeError):
        name = None
    if not isinstance(name, str) or not name.strip():
        return None
    return decode_words(name.strip())


def _header_view(part: Message) -> Message:
    """Content-Type/-Disposition with 8-bit bytes decoded, so the stdlib can read parameters."""
    view = Message()
    for name in ("content-type", "content-disposition"):
        value = raw_header(part, name)
        if value is not None:
            view[name] = value
    return view


def _disposition(part: Message) -> str:
    value = raw_header(part, "content-disposition") or ""
    return value.split(";", 1)[0].strip().lower()


def _charset(part: Message) -> str | None:
    try:
        value = _header_view(part).get_content_charset()
    except (ValueError, TypeError, IndexError, LookupError, UnicodeError):
        return None
    return value if isinstance(value, str) else None


def serialize(part: Message) -> bytes:
    """Bytes of a message/* part's content: the attached message, or the report fields."""
    if not part.is_multipart():
        return part.get_payload(decode=True) or b""
    return b"".join(_flatten(inner) for inner in part.get_payload() if isinstance(inner, Message))


def _flatten(message: Message) -> bytes:
    try:
        return message.as_bytes(policy=_SERIALIZE_POLICY)
    except (LookupError, UnicodeError, ValueError, TypeError, AttributeError, RecursionError):
        return _flatten_raw(message, 0)


def _flatten_raw(message: Message, depth: int) -> bytes:
    """Last resort: headers as read plus the body, children joined on their boundary."""
    head = b"".join(to_bytes(f"{key}: {value}\n") for key, value in message.raw_items())
    if not message.is_multipart():
        return head + b"\n" + recovery.wire_bytes(message)
    if depth > MAX_DEPTH:
        return head + b"\n"
    boundary = to_bytes(recovery.boundary_of(raw_header(message) or "") or "")
    children = [_flatten_raw(m, depth + 1) for m in message.get_payload() if isinstance(m, Message)]
    joined = b"".join(b"\n--" + boundary + b"\n" + child for child in children)
    return head + b"\n" + joined + b"\n--" + boundary + b"--\n"


def _note_defects(part: Message, ctype: str, defects: list[str]) -> None:
    for defect in getattr(part, "defects", ()):
        kind = type(defect).__name__
        if kind in _SILENT_DEFECTS:
            continue
        template = _DEFECT_TEXT.get(kind, "{kind} in {ctype} part")
        defects.append(template.format(ctype=ctype, kind=kind))
