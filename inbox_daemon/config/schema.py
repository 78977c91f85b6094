"""The configuration's models: one per TOML table, frozen, validated field by field.

Checks that need the whole file (duplicate names, files that must exist) live in
`loading.py`; keys accepted but not acted on yet are listed in `pending.py`.
"""
# ruff: noqa: RUF012 - pydantic copies a mutable default per instance; ruff cannot see that
# these classes are pydantic models (their base, Model, is in another module).

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from inbox_daemon.blobs import syncfs_works
from inbox_daemon.config.base import Model
from inbox_daemon.config.paths import ConfigPath, DatabaseUrl
from inbox_daemon.config.phone import CallsConfig, VoicemailConfig
from inbox_daemon.config.secrets import SecretRef
from inbox_daemon.config.sources import (
    ALIASED,
    FolderSource,
    ImapSource,
    SmtpRelay,
    SmtpSource,
    Source,
)
from inbox_daemon.routing import FACTS as ROUTING_FACTS

if TYPE_CHECKING:
    import rules


class DatabaseConfig(Model):
    url: DatabaseUrl = "sqlite:///tickets.db"


class StorageConfig(Model):
    dir: ConfigPath = Path("store")
    # How a batch of new files is made durable (blobs.py): one syncfs of the filesystem
    # (Linux 5.8+), an fsync per file and folder, or the first of the two the system has.
    sync: Literal["auto", "filesystem", "files"] = "auto"

    @field_validator("sync")
    @classmethod
    def _sync_available(cls, value: str) -> str:
        if value == "filesystem" and not syncfs_works():
            raise ValueError("'filesystem' needs Linux 5.8 or later; use 'auto' or 'files'")
        return value


class CalendarConfig(Model):
    timezone: str = "Europe/Rome"
    opening_hours: str | list[str] = "mon-fri 08:30-17:30"
    holidays: str | None = "IT"
    closures: list[str] = []


class PoleFormatConfig(Model):
    regex: str
    canonical: str = "{num}"

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class PolesConfig(Model):
    # `register` would shadow pydantic's BaseModel.register, hence the alias.
    register_path: ConfigPath | None = Field(default=None, alias="register")
    formats: list[PoleFormatConfig] = []
    # What the QR code of a pole's label holds (`inbox-daemon labels`): a URL or a mailto:
    # with {code} where the pole's code goes; default: a mailto: to acknowledgements.from.
    label: str | None = None

    model_config = ALIASED

    @field_validator("label")
    @classmethod
    def _label_template(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "{code}" not in value:
            raise ValueError("must hold {code}, where the pole's code goes")
        if not value.lower().startswith(("https://", "http://", "mailto:")):
            raise ValueError("must be an https:// (or http://) URL or a mailto: link")
        return value

    def pole_formats(self) -> tuple[rules.PoleFormat, ...]:
        """The formats as the rules take them; the shipped ones when the file gives none."""
        import rules  # here: the config loads in commands that never classify

        given = tuple(rules.PoleFormat(f.regex, f.canonical) for f in self.formats)
        return given or tuple(rules.DEFAULT_POLE_FORMATS)


class RulesConfig(Model):
    files: list[ConfigPath] = []  # rule-set TOML files that extend or replace the shipped ones


class ProcessingConfig(Model):
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 3
    max_attachment_mb: Annotated[int, Field(ge=1, le=1024)] = 30
    reminder_window_days: Annotated[int, Field(ge=1, le=365)] = 60
    # Processes that parse and classify beside the main one; 0: all in the main process.
    # Default: one per core (at most 4), none on one core (there it would only add copying).
    workers: Annotated[int, Field(ge=0, le=64)] | None = None

    @property
    def worker_count(self) -> int:
        if self.workers is not None:
            return self.workers
        cores = os.cpu_count() or 1
        return min(cores, 4) if cores > 1 else 0


class AcknowledgementsConfig(Model):
    enabled: bool = False
    from_: str = Field(default="", alias="from")
    smtp: SmtpRelay = SmtpRelay()
    template: ConfigPath | None = None  # string.Template text; the shipped Italian one when unset
    emergency_phone: str = ""
    max_per_sender_per_hour: Annotated[int, Field(ge=1)] = 5
    fax_ack_to: str | None = None  # faxes get no reply by fax; this address gets their acks
    own_addresses: list[str] = []  # never acknowledge these ("@domain" for a domain); the
    # daemon's other addresses (`from`, SMTP ingress recipients) are added automatically
    max_attempts: Annotated[int, Field(ge=1)] = 48  # with hourly retries: about two days

    model_config = ALIASED


class PecConfig(Model):
    trust_store: ConfigPath | None = None


TARGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|h|d)\s*(service)?\s*$")


class ReportConfig(Model):
    """The monthly report (`inbox-daemon report`)."""

    # Per urgency, how soon a request should be closed after it counts as received: "2h",
    # "24h", "5d"; "16h service" counts only the service calendar's opening hours.
    targets: dict[str, str] = {"emergenza": "2h", "urgente": "24h", "ordinaria": "5d"}
    recipients: list[str] = []  # who receives it each month (report/mailing.py); none: not mailed
    # When it is made and mailed: this local time of the first working day of each month
    # (the service calendar's), for the month before.
    send_at: str = "09:00"

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address or any(c.isspace() or c in ",;<>" for c in address):
                raise ValueError(f"{address!r}: expected one e-mail address per entry")
        return value

    @field_validator("send_at")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        hours, _, minutes = value.partition(":")
        if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60
                and len(minutes) == 2):  # fmt: skip
            raise ValueError(f'{value!r}: expected a time of day such as "09:00"')
        return value

    @field_validator("targets")
    @classmethod
    def _durations(cls, value: dict[str, str]) -> dict[str, str]:
        for urgency, target in value.items():
            if urgency not in {"emergenza", "urgente", "ordinaria"}:
                raise ValueError(f"{urgency!r}: expected emergenza, urgente or ordinaria")
            if not TARGET.match(target):
                raise ValueError(f'{urgency} = {target!r}: expected e.g. "2h", "5d", "16h service"')
        return value


class RoutingRule(SecretRef):
    """One `[[routing]]` entry; its webhook's HMAC secret is a secret like a password."""

    match: dict[str, Any] = {}
    queue: str
    notify: list[str] = []
    forward: list[str] = []
    webhook: str | None = None  # the ticket's export object POSTed here, signed
    password_env: str | None = Field(default=None, alias="webhook_secret_env")
    password_file: ConfigPath | None = Field(default=None, alias="webhook_secret_file")

    model_config = ALIASED

    @model_validator(mode="after")
    def _webhook_is_signed(self) -> RoutingRule:
        if self.webhook is None:
            return self
        if not self.webhook.lower().startswith(("https://", "http://")):
            raise ValueError("webhook: expected an https:// URL")
        if not (self.password_env or self.password_file):
            raise ValueError("webhook needs webhook_secret_env or webhook_secret_file (HMAC key)")
        return self

    @field_validator("match")
    @classmethod
    def _known_facts(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(ROUTING_FACTS))  # pending.py: not all acted on yet
        if unknown:
            # A misspelt fact would never match, and the rule would silently never apply.
            known = ", ".join(ROUTING_FACTS)
            raise ValueError(f"unknown fact {', '.join(unknown)} (known: {known})")
        return value


class Config(Model):
    database: DatabaseConfig = DatabaseConfig()
    storage: StorageConfig = StorageConfig()
    calendar: CalendarConfig = CalendarConfig()
    poles: PolesConfig = PolesConfig()
    rules: RulesConfig = RulesConfig()
    processing: ProcessingConfig = ProcessingConfig()
    acknowledgements: AcknowledgementsConfig = AcknowledgementsConfig()
    pec: PecConfig = PecConfig()
    report: ReportConfig = ReportConfig()
    voicemail: VoicemailConfig = VoicemailConfig()
    calls: CallsConfig = CallsConfig()
    routing: list[RoutingRule] = []
    sources: list[Source] = []
    path: Path | None = None  # the file it was loaded from

    def source(self, name: str) -> ImapSource | SmtpSource | FolderSource:
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(name)
