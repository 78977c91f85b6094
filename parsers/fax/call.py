"""What a fax gateway says of a call, read from its notification mail by a `Profile`.

A profile is data, not code: for each fact (caller's number, station id, pages, receive time)
the regexes that find it in the mail's subject and body, first match wins, each with a group
named `value`. The shipped gateways (`hylafax.py`, `asterisk.py`) and the generic profile
whose regexes come from the configuration are all read by the same `read_call`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from email.utils import parsedate_to_datetime

_NOT_DIGITS = re.compile(r"[^\d+]")


@dataclass(frozen=True)
class Profile:
    """How one gateway writes its notification mail."""

    name: str
    recognise: str  # a regex that tells this gateway's mail (empty: any mail)
    number: tuple[str, ...] = ()
    station_id: tuple[str, ...] = ()
    pages: tuple[str, ...] = ()
    received: tuple[str, ...] = ()
    time_formats: tuple[str, ...] = ()  # strptime formats of `received`; RFC 2822 is always tried


@dataclass(frozen=True)
class FaxCall:
    """The facts of one received fax; None where the gateway did not say."""

    profile: str
    number: str | None = None  # the caller's number, digits and a leading +
    station_id: str | None = None  # the sending machine's CSID/TSI, as it gave it
    pages: int | None = None
    received_at: datetime | None = None  # timezone-aware


def read_call(profile: Profile, subject: str, body: str, tz: tzinfo) -> FaxCall | None:
    """The call as `profile` reads it from the mail, or None when the mail is not this
    gateway's. A gateway time without an offset is in `tz` (the gateway's, as configured)."""
    text = f"Subject: {subject}\n{body}"
    if profile.recognise and not re.search(profile.recognise, text):
        return None
    station = _first(profile.station_id, text)
    number = phone_number(_first(profile.number, text) or "") or phone_number(station or "")
    pages = _first(profile.pages, text)
    when = _first(profile.received, text)
    return FaxCall(
        profile.name,
        number,
        station,
        int(pages) if pages and pages.isdigit() else None,
        parse_time(when, profile.time_formats, tz) if when else None,
    )


def phone_number(text: str) -> str | None:
    """Digits (and a leading +) of a phone number; None when there are fewer than 5 digits
    (a station id that is a name, an "anonymous" caller)."""
    digits = _NOT_DIGITS.sub("", text.strip())
    plus = digits.startswith("+")
    digits = digits.replace("+", "")
    return ("+" if plus else "") + digits if len(digits) >= 5 else None


def parse_time(text: str, formats: Sequence[str], tz: tzinfo) -> datetime | None:
    """The receive time, aware: RFC 2822 (with its offset), else each format in `tz`."""
    text = text.strip()
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        when = None
    for fmt in formats:
        if when is not None:
            break
        try:
            when = datetime.strptime(text, fmt)
        except ValueError:
            continue
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=tz)


def _first(patterns: Sequence[str], text: str) -> str | None:
    for pattern in patterns:
        found = re.search(pattern, text)
        if found and found.group("value").strip():
            return found.group("value").strip()
    return None
