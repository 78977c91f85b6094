"""Header values to text: RFC 2047 encoded-words, raw 8-bit bytes, dates and message ids.

Written for broken input: encoded-words split in the middle of a character, unknown
charsets, bad base64, 8-bit bytes with no charset at all. Nothing here raises.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from parsers import charsets

# charset[*language]?B|Q?text?= ; the text stops at the first '?', so matching stays linear.
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,80})\?([bBqQ])\?([^?]*)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_MSGID = re.compile(r"<[^<>\s]{1,998}>")
_B64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")
_UNKNOWN_ZONE = re.compile(r"\s-0000\s*(?:\(.*\))?\s*$")
_ADDR_SPEC = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+"
_BRACKETED = re.compile(rf"<\s*({_ADDR_SPEC})\s*>")
_BARE = re.compile(rf"(?<![\w.@-]){_ADDR_SPEC}(?![\w@-])")


def to_bytes(value: object) -> bytes:
    """Original bytes of a value the compat32 parser read from bytes (8-bit as surrogates)."""
    return str(value).encode("utf-8", "surrogateescape")


def decode(value: object, name: str = "header", hint: str | None = None) -> tuple[str, list[str]]:
    """Decode one header value to text; return it with readable defects.

    `hint` is a charset to try for raw 8-bit bytes (the message's body charset).
    """
    text = _FOLD.sub("", str(value))
    defects: list[str] = []
    out: list[str] = []
    pending: list[tuple[str, bytes]] = []  # adjacent encoded-words, joined before decoding
    pos = 0
    for match in _ENCODED_WORD.finditer(text):
        gap = text[pos : match.start()]
        if gap and not (pending and gap.isspace()):
            _flush(pending, out, defects, name)
            out.append(_raw_text(gap, name, hint, defects))
        charset, data = _word_bytes(match)
        if data is None:
            _flush(pending, out, defects, name)
            defects.append(f"broken encoded-word in {name}: {match.group(0)[:60]}")
            out.append(match.group(0))
        else:
            if pending and pending[-1][0] != charset:
                _flush(pending, out, defects, name)
            pending.append((charset, data))
        pos = match.end()
    _flush(pending, out, defects, name)
    out.append(_raw_text(text[pos:], name, hint, defects))
    return _CONTROL.sub(" ", "".join(out)).strip(), defects


def decode_words(text: str) -> str:
    """Decode any encoded-words left in a string (e.g. a filename given as name="=?..?=")."""
    if "=?" not in text:
        return text
    return decode(text, "filename")[0]


def _word_bytes(match: re.Match[str]) -> tuple[str, bytes | None]:
    charset = match.group(1).split("*", 1)[0].lower()
    payload = match.group(3).encode("utf-8", "surrogateescape")
    if match.group(2) in "qQ":
        return charset, binascii.a2b_qp(payload, header=True)
    return charset, _b64(payload)


def _b64(data: bytes) -> bytes | None:
    """Lenient base64: drop junk, fix padding, as mail clients do."""
    data = _B64_JUNK.sub(b"", data.split(b"=", 1)[0])
    if not data:
        return None
    if len(data) % 4 == 1:
        data = data[:-1]
    try:
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
    except binascii.Error:
        return None


def _flush(pending: list[tuple[str, bytes]], out: list[str], defects: list[str], name: str):
    if not pending:
        return
    data = b"".join(chunk for _, chunk in pending)
    label = pending[0][0]
    text, defect = charsets.decode(data, label, f"encoded-word of {name}")
    if defect:
        defects.append(defect)
    out.append(text)
    pending.clear()


def _raw_text(text: str, name: str, hint: str | None, defects: list[str]) -> str:
    """Text outside encoded-words: 8-bit bytes arrive as surrogates and are decoded here."""
    if text.isascii():
        return text
    data = to_bytes(text)
    decoded, guessed = charsets.decode_raw_header_bytes(data, hint)
    if guessed:
        defects.append(f"raw 8-bit bytes in {name}, not UTF-8: decoding guessed")
    return decoded


def parse_date(value: str | None, name: str = "Date") -> tuple[datetime | None, str | None]:
    """A timezone-aware datetime and a defect; a date without zone (or -0000) is taken as UTC."""
    if not value or not value.strip():
        return None, None
    try:
        when = parsedate_to_datetime(value)
    except (ValueError, TypeError, IndexError, OverflowError):
        return None, f"unreadable {name}: {value.strip()[:80]}"
    if when.tzinfo is None:
        # "-0000" is UTC with the sender's zone unknown (RFC 5322 3.3): correct, not a defect.
        note = f"{name} has no usable time zone, taken as UTC: {value.strip()[:80]}"
        return when.replace(tzinfo=UTC), None if _UNKNOWN_ZONE.search(value) else note
    return when, None


def received_date(value: str | None) -> tuple[datetime | None, str | None]:
    """The date after the last ';' of a Received: header."""
    if not value or ";" not in value:
        return None, None
    return parse_date(value.rsplit(";", 1)[1], "Received date")


def message_ids(value: str | None) -> tuple[str, ...]:
    """Every <id> in a Message-ID / In-Reply-To / References value, in order."""
    return tuple(_MSGID.findall(value or ""))


def first_message_id(value: str | None) -> str | None:
    """The first <id>, else the stripped value (some mailers omit the brackets), else None."""
    ids = message_ids(value)
    if ids:
        return ids[0]
    stripped = (value or "").strip()
    return stripped or None


def recover_sender(raw: Callable[[str], str | None]) -> str | None:
    """The sender's address when From: is too broken to parse as an address list, or None.

    Outlook writes display names such as `=?utf-8?q?Ufficio:_Rossi?=`, whose colon makes the
    list parser read a group and lose the address. In order: the address inside From's angle
    brackets (else a bare one), then Sender:, then Return-Path: (the envelope sender the
    delivering server prepended; `<>` is a bounce's and gives nothing). `raw` looks a raw
    header up by lower-case name.
    """
    for name in ("from", "sender", "return-path"):
        address = _one_address(raw(name))
        if address is not None:
            return address
    return None


def _one_address(value: str | None) -> str | None:
    """The last bracketed addr-spec in `value`, else the first bare one, lower-cased."""
    if not value:
        return None
    bracketed = _BRACKETED.findall(value)
    if bracketed:
        return bracketed[-1].lower()
    bare = _BARE.search(value)
    return bare.group(0).lower() if bare else None
