"""The small values every PBX writes its own way: a caller ("Name" <number>), a duration."""

from __future__ import annotations

import re
from dataclasses import dataclass

UNKNOWN = {"", "an unknown caller", "unknown", "anonymous", "sconosciuto", "anonimo"}
ANGLED = re.compile(r'^\s*"?(?P<name>[^"<]*?)"?\s*<(?P<number>[^>]*)>\s*$')
NUMBER = re.compile(r"^\s*\+?[\d\s./()-]{2,}$")
CLOCK = re.compile(r"^\s*(?:(\d+):)?(\d{1,2}):(\d{2})(?:\s*[a-z]*)\s*$", re.I)
SECONDS = re.compile(r"^\s*(\d+)\s*(?:s|sec|secs|seconds?|second[io])?\s*$", re.I)


@dataclass(frozen=True)
class Caller:
    number: str | None  # digits, with a leading + when the PBX gave one
    name: str | None


def clean_number(text: str) -> str | None:
    """'+39 333 123-4567' -> '+393331234567'; None for an unknown or withheld number."""
    digits = re.sub(r"\D", "", text)
    if not digits:
        return None
    return ("+" if text.strip().startswith("+") else "") + digits


def parse_caller(text: str | None) -> Caller:
    """Asterisk's caller id as it writes it: '"Mario Rossi" <3331234567>', 'Mario Rossi
    <3331234567>', a bare number, a bare name, or 'an unknown caller'."""
    text = (text or "").strip()
    if text.lower() in UNKNOWN:
        return Caller(None, None)
    angled = ANGLED.match(text)
    if angled:
        name = angled["name"].strip()
        return Caller(clean_number(angled["number"]), None if name.lower() in UNKNOWN else name)
    if NUMBER.match(text):
        return Caller(clean_number(text), None)
    return Caller(None, text)


def parse_duration(text: str | None) -> int | None:
    """Seconds from '0:42', '1:02:03', '42', '42 seconds'; None when it is none of those."""
    if not text:
        return None
    clock = CLOCK.match(text)
    if clock:
        hours, minutes, seconds = (int(part or 0) for part in clock.groups())
        return hours * 3600 + minutes * 60 + seconds
    plain = SECONDS.match(text)
    return int(plain[1]) if plain else None


def italian_mobile(number: str | None) -> str | None:
    """The number with its country code and no '+' ('393331234567') when it is an Italian
    mobile (a national number of 9 or 10 digits starting with 3), else None: a landline or a
    foreign number cannot be sent an SMS through an Italian gateway."""
    digits = re.sub(r"\D", "", number or "")
    for prefix in ("0039", "39"):
        if digits.startswith(prefix) and len(digits) - len(prefix) in (9, 10):
            digits = digits[len(prefix) :]
            break
    if digits.startswith("3") and len(digits) in (9, 10):
        return f"39{digits}"
    return None
