"""Recognising a voicemail mail, and reading the call from it.

A PBX mails each voicemail with the caller, the mailbox, the duration and the time in the
subject, the body or its own headers, and the recording attached. Each layout is a profile:
`ASTERISK` for app_voicemail (Asterisk, and FreePBX, which ships its own body text for the
same module), and `GenericProfile` for any other, whose regular expressions come from config.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from parsers.message import Attachment, ParsedMessage
from parsers.phone.callers import Caller, parse_caller, parse_duration

AUDIO_SUFFIXES = (".wav", ".gsm", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".amr", ".sln")


@dataclass(frozen=True)
class Voicemail:
    """One call left on the answering machine, as the PBX's mail tells it."""

    profile: str
    number: str | None  # the caller's, None when withheld
    name: str | None
    mailbox: str | None
    duration_s: int | None
    called_at: datetime | None  # the PBX's time of the message, timezone-aware
    recording: Attachment | None  # the attached audio, as it came


class Profile(Protocol):
    name: str

    def read(self, msg: ParsedMessage, tz: ZoneInfo) -> Voicemail | None:
        """The voicemail this message is, or None when it is not one of this PBX's."""
        ...


def recognise(msg: ParsedMessage, profiles: tuple[Profile, ...], tz: ZoneInfo) -> Voicemail | None:
    """The first profile that knows the message; `tz` for local times the PBX writes."""
    for profile in profiles:
        found = profile.read(msg, tz)
        if found is not None:
            return found
    return None


def recording(msg: ParsedMessage) -> Attachment | None:
    """The first attachment that is audio, by type or by name (PBXs write audio/x-WAV)."""
    for part in msg.attachments:
        name = (part.original_filename or part.filename).lower()
        if part.content_type.startswith("audio/") or name.endswith(AUDIO_SUFFIXES):
            return part
    return None


def local_time(text: str, formats: tuple[str, ...], tz: ZoneInfo) -> datetime | None:
    """A time the PBX wrote without an offset, read in `tz` (None when no format fits)."""
    for fmt in formats:
        try:
            moment = datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
        return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment
    return None


# app_voicemail's own texts (apps/app_voicemail.c, make_email_file; voicemail.conf.sample):
# subject "[PBX]: New message N in mailbox M" (without "[PBX]: " under pbxskip, with the
# urgency flag before "message"); body "... you were just left a M:SS long message (number N)
# in mailbox M from CALLER, on DATE so you might ..."; FreePBX's body has tab-separated
# "From:", "Length:" and "Date:" lines. DATE is `emaildateformat`, "%A, %B %d, %Y at %r" by
# default. Headers X-Asterisk-CallerID(Name) always, X-Asterisk-VM-* with IMAP storage.
ASTERISK_SUBJECT = re.compile(r"New (?:\w+ )?message (?P<num>\d+) in mailbox (?P<mailbox>\S+)")
ASTERISK_BODY = re.compile(
    r"left an? (?:urgent )?(?P<duration>\d+:\d{2}) long message \(number \d+\)\s+"
    r"in mailbox (?P<mailbox>\S+) from (?P<caller>.*?), on (?P<date>.+?),? so you might",
    re.S,
)
FREEPBX_BODY = re.compile(
    r"new voicemail in mailbox (?P<mailbox>\S+?):?\s*$.*?^\s*From:\s*(?P<caller>.*?)\s*$"
    r".*?^\s*Length:\s*(?P<duration>.*?)\s*$.*?^\s*Date:\s*(?P<date>.*?)\s*$",
    re.S | re.M | re.I,
)
ASTERISK_DATES = ("%A, %B %d, %Y at %I:%M:%S %p", "%A, %d %B %Y at %H:%M:%S", "%c")


@dataclass(frozen=True)
class AsteriskProfile:
    """app_voicemail's mails, with its default or FreePBX's templates."""

    name: str = "asterisk"

    def read(self, msg: ParsedMessage, tz: ZoneInfo) -> Voicemail | None:
        subject = ASTERISK_SUBJECT.search(msg.subject)
        body = ASTERISK_BODY.search(msg.body_text) or FREEPBX_BODY.search(msg.body_text)
        own_headers = msg.header("X-Asterisk-CallerID") or msg.header("X-Asterisk-VM-Extension")
        if not (subject or own_headers) or not (body or own_headers):
            return None
        fields = body.groupdict() if body else {}
        caller = self._caller(msg, fields.get("caller"))
        duration = msg.header("X-Asterisk-VM-Duration")
        mailbox = msg.header("X-Asterisk-VM-Extension") or fields.get("mailbox")
        return Voicemail(
            profile=self.name,
            number=caller.number,
            name=caller.name,
            mailbox=mailbox or (subject["mailbox"] if subject else None),
            duration_s=parse_duration(duration)
            if duration
            else parse_duration(fields.get("duration")),
            called_at=msg.date or local_time(fields.get("date", ""), ASTERISK_DATES, tz),
            recording=recording(msg),
        )

    @staticmethod
    def _caller(msg: ParsedMessage, from_body: str | None) -> Caller:
        """The headers when present (the body names only one of name and number)."""
        number = msg.header("X-Asterisk-CallerID") or msg.header("X-Asterisk-VM-Caller-ID-Num")
        name = msg.header("X-Asterisk-CallerIDName") or msg.header("X-Asterisk-VM-Caller-ID-Name")
        body = parse_caller(from_body)
        headers = parse_caller(f'"{name or ""}" <{number}>' if number else name)
        return Caller(headers.number or body.number, headers.name or body.name)


ASTERISK = AsteriskProfile()


@dataclass(frozen=True)
class GenericProfile:
    """Any other PBX: `recognise` must match the subject (and `sender` the From address, when
    given); each of `fields` is searched in the subject and the body, and its named groups
    `number`, `name`, `caller`, `mailbox`, `duration`, `date` are read; `date` is local time
    in `date_formats` (else the mail's Date: counts)."""

    name: str
    recognise: re.Pattern[str]
    fields: tuple[re.Pattern[str], ...]
    sender: re.Pattern[str] | None = None
    date_formats: tuple[str, ...] = ()

    def read(self, msg: ParsedMessage, tz: ZoneInfo) -> Voicemail | None:
        if not self.recognise.search(msg.subject):
            return None
        if self.sender and not self.sender.search(msg.from_address or ""):
            return None
        text = f"{msg.subject}\n{msg.body_text}"
        found: dict[str, str] = {}
        for pattern in self.fields:
            match = pattern.search(text)
            if match:
                found.update({k: v for k, v in match.groupdict().items() if v is not None})
        caller = parse_caller(found.get("caller"))
        number = parse_caller(found["number"]).number if "number" in found else caller.number
        when = local_time(found.get("date", ""), self.date_formats, tz) if "date" in found else None
        return Voicemail(
            profile=self.name,
            number=number,
            name=(found.get("name") or "").strip() or caller.name,
            mailbox=found.get("mailbox"),
            duration_s=parse_duration(found.get("duration")),
            called_at=when or msg.date,
            recording=recording(msg),
        )
