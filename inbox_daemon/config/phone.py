"""`[voicemail]` and `[calls]`: the phone system's written traces (README "Phone")."""
# ruff: noqa: RUF012 - pydantic copies a mutable default per instance

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from inbox_daemon.config.base import Model
from inbox_daemon.config.paths import ConfigPath

FIELD_GROUPS = {"number", "name", "caller", "mailbox", "duration", "date"}


def _pattern(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from None
    return value


class GenericVoicemail(Model):
    """A PBX whose mails `voicemail.profiles` does not know: its layout as regexes."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")]
    subject: str  # regex the subject must match for the mail to be a voicemail
    sender: str | None = None  # regex the From address must match, when given
    fields: list[str]  # regexes with named groups: number, name, caller, mailbox, duration, date
    date_formats: list[str] = []  # strptime formats of the `date` group, local time

    @field_validator("subject", "sender")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return None if value is None else _pattern(value)

    @field_validator("fields")
    @classmethod
    def _named_groups(cls, value: list[str]) -> list[str]:
        for text in value:
            groups = set(re.compile(_pattern(text)).groupindex)
            if not groups:
                raise ValueError(f"{text!r} has no named group, e.g. (?P<number>\\d+)")
            unknown = groups - FIELD_GROUPS
            if unknown:
                known = ", ".join(sorted(FIELD_GROUPS))
                raise ValueError(f"{text!r}: unknown group {', '.join(sorted(unknown))} ({known})")
        return value


class VoicemailConfig(Model):
    """Voicemail mails, on any source, become tickets on channel `phone`."""

    profiles: list[Literal["asterisk"]] = ["asterisk"]  # built in; [] to recognise none
    generic: list[GenericVoicemail] = []
    max_seconds: Annotated[int, Field(ge=1, le=7200)] = 600  # the normalised WAV is cut there
    max_mb: Annotated[int, Field(ge=1, le=200)] = 20  # a larger recording is kept, not converted
    timeout_s: Annotated[float, Field(gt=0, le=600)] = 30  # per ffmpeg run
    # Optional: the recording's words join the rules. "command": `transcriber_command` gets
    # the WAV's path (in place of {wav}, else last) and prints the text; "vosk": the model
    # at `vosk_model` (pip extra `vosk`). Killed after `transcriber_timeout_s`.
    transcriber: Literal["command", "vosk"] | None = None
    transcriber_command: list[str] = []
    vosk_model: ConfigPath | None = None
    transcriber_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 120
    # An e-mail-to-SMS gateway's address, {number} for the caller's (393331234567): a
    # voicemail from an Italian mobile gets its request number by SMS (acknowledgements on).
    sms_gateway: str | None = None

    @field_validator("sms_gateway")
    @classmethod
    def _gateway_address(cls, value: str | None) -> str | None:
        if value is not None and ("{number}" not in value or "@" not in value):
            raise ValueError('expected an address with {number}, e.g. "{number}@sms.example.it"')
        return value

    @model_validator(mode="after")
    def _transcriber_is_complete(self) -> VoicemailConfig:
        if self.transcriber == "command" and not self.transcriber_command:
            raise ValueError('transcriber = "command" needs transcriber_command = ["…", "{wav}"]')
        if self.transcriber == "vosk" and self.vosk_model is None:
            raise ValueError('transcriber = "vosk" needs vosk_model = "/path/to/the/model"')
        return self


class CallsConfig(Model):
    """`calls import`: the PBX's call records (CDR), for the report's phone service levels."""

    format: Literal["asterisk", "mapped"] = "asterisk"  # Asterisk's Master.csv, or a CSV header
    # mapped: our name -> the file's column. Needed: start, disposition; answer, end, src,
    # dst, lastapp, uniqueid as the file has them.
    columns: dict[str, str] = {}
    time_format: str = "%Y-%m-%d %H:%M:%S"  # local time in [calendar] timezone
    operator_apps: list[str] = ["Dial", "Queue"]  # the last application when an operator answers
    message_apps: list[str] = ["Playback", "Background"]  # answered by a recorded message
    voicemail_apps: list[str] = ["VoiceMail"]
    answered_within_s: Annotated[int, Field(ge=1)] = 20
    lost_after_s: Annotated[int, Field(ge=1)] = 90
    target_answered_share: Annotated[float, Field(ge=0, le=1)] = 0.90
    target_lost_share: Annotated[float, Field(ge=0, le=1)] = 0.04

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, value: dict[str, str]) -> dict[str, str]:
        known = {"start", "answer", "end", "src", "dst", "disposition", "lastapp", "uniqueid",
                 "duration", "billsec"}  # fmt: skip
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(
                f"unknown column {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        return value
