"""Raw RFC 5322 bytes to a `ParsedMessage`, for any input a mailbox can deliver.

Each message is parsed once. The stdlib `email` package (policy compat32, which never raises
on a payload) builds the MIME tree, re-parsed when the header block is broken and helped by
`parsers.recovery` for parts it could not split; `parsers.structure` walks it. mail-parser
earns its place where the stdlib is weakest, recovering addresses from broken headers (it
refuses ambiguous items); its full parse is not run: it decoded every part a second time only
for us to keep the stdlib tree it is built on, which is half the cost of parsing and several
copies of a large attachment. Only input with no headers and no text raises `ParseError`:
everything else is returned with its problems listed in `defects`.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Callable, Iterable
from email.message import Message
from functools import cache
from typing import Any, BinaryIO

from parsers import flags, headers, recovery, structure
from parsers.charsets import decode_raw_header_bytes
from parsers.errors import ParseError
from parsers.filenames import safe_filename
from parsers.html import html_to_text
from parsers.message import Attachment, ParsedMessage
from parsers.quoting import split

DEFAULT_MAX_ATTACHMENT_BYTES = 30 * 1024 * 1024
MAX_DEFECTS = 100
MAX_FORWARD_LEVELS = 5

_FOLD = re.compile(r"\r?\n(?=[ \t])")
# A plain address list: items `Name <local@domain>`, `<local@domain>` or `local@domain`, the
# name made of words and "quoted words" with no specials in them (no comment, group, route,
# domain literal, escape, second @ or undecodable byte). There the stdlib, mail-parser and
# `_plain_addresses` read the same.
_ADDR = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+"
_WORD = r'(?:[^\x00-\x20\x7f"<>()\[\]:;@\\,\ud800-\udfff]+|"[^"\\\x00-\x1f\x7f\ud800-\udfff]+")'
_PLAIN_ITEM = re.compile(
    rf"[ \t]*(?:(?P<name>{_WORD}(?:[ \t]+{_WORD})*)?[ \t]*<(?P<angled>{_ADDR})>|(?P<bare>{_ADDR}))"
    r"[ \t]*(?:,|\Z)"
)
_NAME_WORDS = re.compile(r'"([^"]*)"|(\S+)')
_BINARY_SAMPLE = 8192


def parse(
    raw: bytes | BinaryIO, *, max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES
) -> ParsedMessage:
    """Parse one message; attachments larger than `max_attachment_bytes` are truncated.

    `raw` is the message's bytes, or a seekable binary file holding them, read in chunks: a
    large message is then never in memory whole beside its parsed tree.
    """
    source = _Input(raw)
    message, parser, notes = _build_tree(source)
    raw_headers = [(str(name), value) for name, value in message.raw_items()]
    if not raw_headers:
        _reject_binary(source.head(_BINARY_SAMPLE))
    content = structure.extract(message, max_attachment_bytes)
    hint = content.charsets[0] if content.charsets else None  # for raw 8-bit header bytes
    fields, header_defects = _header_fields(raw_headers, hint)
    body, body_source = _body_or_forwarded(content, max_attachment_bytes)
    attachments, attachment_defects = _attachments(content.attachments, max_attachment_bytes)
    defects = [*notes, *header_defects, *content.defects, *attachment_defects]
    lookup = _lookup(fields["headers"])
    top_type = structure.content_type(message, [])
    part_types = {attachment.content_type for attachment in attachments}
    parts = split(body, fields["subject"])
    return ParsedMessage(
        **fields,
        body_text=body,
        new_text=parts.request,
        parts=parts,
        attachments=attachments,
        defects=_unique(defects)[:MAX_DEFECTS],
        is_bounce=flags.is_bounce(lookup, top_type, part_types, fields["from_address"]),
        is_auto_submitted=flags.is_auto_submitted(lookup, fields["subject"]),
        is_bulk=flags.is_bulk(lookup),
        extra=_extra(parser, content.recovered, body_source),
    )


def _header_fields(raw_headers: list[tuple[str, Any]], hint: str | None) -> tuple[dict, list[str]]:
    """The `ParsedMessage` fields that come from headers, and the defects found there."""
    decoded, defects = _decode_headers(raw_headers, hint)
    lookup, raw = _lookup(decoded), _lookup(raw_headers)
    senders = _addresses(raw("from"), hint)
    reply_to = _addresses(raw("reply-to"), hint)
    date, date_defect = headers.parse_date(lookup("date"))
    received_at, received_defect = headers.received_date(lookup("received"))
    defects += [problem for problem in (date_defect, received_defect) if problem]
    defects += [f"no {name} header" for name in ("From", "Date") if raw(name.lower()) is None]
    fields = {
        "subject": lookup("subject") or "",
        "from_name": senders[0][0] if senders else "",
        "from_address": senders[0][1] if senders else headers.recover_sender(raw),
        "reply_to": reply_to[0][1] if reply_to else None,
        "to": tuple(addr for _, addr in _addresses(raw("to"), hint)),
        "cc": tuple(addr for _, addr in _addresses(raw("cc"), hint)),
        "message_id": headers.first_message_id(lookup("message-id")),
        "in_reply_to": headers.first_message_id(lookup("in-reply-to")),
        "references": headers.message_ids(lookup("references")),
        "date": date,
        "top_received_at": received_at,
        "headers": tuple(decoded),
    }
    return fields, defects


class _Input:
    """The raw message, as bytes or an open file, read only in the ways the parser needs."""

    def __init__(self, raw: bytes | BinaryIO) -> None:
        if isinstance(raw, bytes | bytearray | memoryview):
            self._data: bytes | None = bytes(raw)
            self._handle: BinaryIO | None = None
        elif callable(getattr(raw, "read", None)) and callable(getattr(raw, "seek", None)):
            self._data, self._handle = None, raw
        else:
            raise ParseError(f"expected the raw message as bytes, got {type(raw).__name__}")
        head = self.head(_BINARY_SAMPLE)
        if not head.strip() and not (len(head) == _BINARY_SAMPLE and self.whole().strip()):
            raise ParseError("empty input: no headers and no body")

    def head(self, size: int) -> bytes:
        if self._data is not None:
            return self._data[:size]
        assert self._handle is not None
        self._handle.seek(0)
        return self._handle.read(size)

    def whole(self) -> bytes:
        if self._data is not None:
            return self._data
        assert self._handle is not None
        self._handle.seek(0)
        return self._handle.read()

    def tree(self) -> tuple[Message, str | None]:
        if self._data is not None:
            return recovery.parse_bytes(self._data)
        assert self._handle is not None
        return recovery.parse_file(self._handle)


def _reject_binary(sample: bytes) -> None:
    """With no header at all, accept text (a body without headers) but not a binary blob.

    Thresholds leave room for a stray NUL or control byte in real text.
    """
    controls = sum(1 for byte in sample if byte < 32 and byte not in b"\t\n\r\f\x1b")
    if sample.count(0) > max(1, len(sample) // 100) or controls * 20 > len(sample):
        raise ParseError("not an e-mail message: no headers and binary content")


def _build_tree(source: _Input) -> tuple[Message, str, list[str]]:
    """The stdlib's tree; re-parsed when the header block is broken."""
    message, problem = source.tree()
    notes = [problem] if problem else []
    parser = "stdlib"
    if any(type(d).__name__ == "MissingHeaderBodySeparatorDefect" for d in message.defects):
        repaired = recovery.repair_header_fold(source.whole())
        if repaired is not None:
            message, problem = recovery.parse_bytes(repaired)
            parser = "stdlib, header block repaired"
            notes.append("header line folded without indentation: header block repaired")
            notes.extend([problem] if problem else [])
    return message, parser, notes


def _decode_headers(
    raw_headers: list[tuple[str, Any]], hint: str | None
) -> tuple[list[tuple[str, str]], list[str]]:
    """Every header decoded to text, in order; 8-bit header names are decoded too."""
    decoded: list[tuple[str, str]] = []
    defects: list[str] = []
    for name, value in raw_headers:
        clean_name = decode_raw_header_bytes(headers.to_bytes(name), None)[0].strip()
        text, problems = headers.decode(value, clean_name, hint)
        decoded.append((clean_name, text))
        defects.extend(problems)
    return decoded, defects


def _lookup(pairs: Iterable[tuple[str, Any]]) -> Callable[[str], str | None]:
    """First value of a header by lower-case name, as str, or None."""
    first: dict[str, str] = {}
    for name, value in pairs:
        first.setdefault(name.lower().strip(), str(value))
    return first.get


def _addresses(raw: str | None, hint: str | None) -> list[tuple[str, str]]:
    """(display name, lower-case addr-spec) pairs; names decoded; entries without @ dropped."""
    if raw is None:
        return []
    value = _FOLD.sub("", raw)
    if not value.isascii():
        value = decode_raw_header_bytes(headers.to_bytes(value), hint)[0]
    pairs = []
    for name, addr in _split_addresses(value):
        addr = addr.strip().lower()
        if "@" in addr and " " not in addr:
            pairs.append((headers.decode(name, "address", hint)[0].strip(" \"'"), addr))
    return pairs


@cache
def _address_recovery() -> Callable[..., list[tuple[str, str]]] | None:
    """mail-parser's address recovery, imported on first use: a process that imports this
    module but parses nothing (the daemon's main process) need not load mail-parser."""
    try:
        from mailparser.utils import get_addresses
    except ImportError:  # mail-parser before 4.8: the stdlib splits addresses alone
        return None
    return get_addresses


def _split_addresses(value: str) -> list[tuple[str, str]]:
    """A plain list read here; else mail-parser's structural recovery (it refuses ambiguous
    items), else the stdlib's. The recovery is a quarter of a parse: most mail has no use
    for it."""
    plain = _plain_addresses(value)
    if plain is not None:
        return plain
    recover = _address_recovery()
    if recover is not None:
        try:
            return recover(value, decode_names=False)
        except Exception:  # mail-parser's own bug on hostile input must not lose the message
            pass
    return email.utils.getaddresses([value])


def _plain_addresses(value: str) -> list[tuple[str, str]] | None:
    """(name, address) of each item of a plain list (`_PLAIN_ITEM`), as the stdlib reads it:
    the name's words joined by one space, quotes taken off; None when the list is not plain."""
    pairs: list[tuple[str, str]] = []
    position, end = 0, len(value.rstrip(" \t,"))
    while position < end:
        item = _PLAIN_ITEM.match(value, position)
        if item is None:
            return None
        name = item["name"] or ""
        if name:
            name = " ".join(quoted or word for quoted, word in _NAME_WORDS.findall(name))
        pairs.append((name, item["angled"] or item["bare"]))
        position = item.end()
    return pairs or None


def _body_text(content: structure.Content) -> str:
    """Plain text parts when they say something, else HTML as text, else other text parts."""
    plain = [text.strip() for text in content.plain if text.strip()]
    if plain:
        return "\n\n".join(plain)
    html = [html_to_text(text) for text in content.html]
    html = [text for text in html if text.strip()]
    if html:
        return "\n\n".join(html)
    return "\n\n".join(text.strip() for text in content.other_text if text.strip())


def _body_or_forwarded(content: structure.Content, limit: int) -> tuple[str, str | None]:
    """The body text; when the message only carries an attached message, that one's text.

    A citizen forwarding a report "as attachment" without a word: the report is the request.
    """
    body = _body_text(content)
    level = 0
    while not body.strip() and level < MAX_FORWARD_LEVELS:
        inner = next((a for a in content.attachments if a.content_type == "message/rfc822"), None)
        if inner is None:
            break
        level += 1
        message, _ = recovery.parse_bytes(inner.payload)
        content = structure.extract(message, limit)
        body = _body_text(content)
    if level and body.strip():
        return body, f"text of the attached message (nesting level {level})"
    return body, None


def _attachments(
    found: list[structure.Found], limit: int
) -> tuple[tuple[Attachment, ...], list[str]]:
    result: list[Attachment] = []
    defects: list[str] = []
    used: set[str] = set()
    for index, item in enumerate(found):
        name = _unique_name(safe_filename(item.name, index, item.content_type), index, used)
        size = len(item.payload)
        truncated = size > limit
        if truncated:
            defects.append(f"attachment {name} is {size} bytes: truncated to {limit}")
        result.append(
            Attachment(
                index=index,
                filename=name,
                original_filename=item.name,
                content_type=item.content_type,
                payload=item.payload[:limit] if truncated else item.payload,
                size=size,
                truncated=truncated,
            )
        )
    return tuple(result), defects


def _unique_name(name: str, index: int, used: set[str]) -> str:
    """Two attachments called "image001.png" must not overwrite each other when saved."""
    if name.lower() in used:
        stem, dot, ext = name.rpartition(".")
        name = f"{stem}-{index}.{ext}" if dot and stem else f"{name}-{index}"
    used.add(name.lower())
    return name


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for item in items if item))


def _extra(parser: str, recovered: list[str], body_source: str | None) -> dict[str, str]:
    """Which path read the message: "parser" says whether the header block was repaired;
    "recovered" lists the stdlib fallbacks used on parts; "body_source" says when the text
    is not the top's."""
    extra = {"parser": parser}
    if recovered:
        extra["recovered"] = "; ".join(dict.fromkeys(recovered))
    if body_source:
        extra["body_source"] = body_source
    return extra
