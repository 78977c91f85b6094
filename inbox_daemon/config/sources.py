"""The `[[sources]]` models (imap | smtp | folder, told apart by `kind`) and SMTP relays."""

# ruff: noqa: RUF012 - pydantic copies a mutable default per instance; ruff cannot see that
# these classes are pydantic models (their base, Model, is in another module).

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from inbox_daemon.addresses import is_among
from inbox_daemon.config.base import Model
from inbox_daemon.config.paths import ConfigPath
from inbox_daemon.config.secrets import SecretRef

Channel = Literal["email", "pec", "fax"]
TlsMode = Literal["implicit", "starttls", "none"]
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
ALIASED = ConfigDict(populate_by_name=True)  # a key that is a Python keyword: `from`


class SmtpRelay(SecretRef):
    """Where outgoing mail (acknowledgements) is submitted.

    `from` is for a relay that may send only as its own mailbox (a PEC provider): it becomes
    the From header and the envelope sender, so the provider accepts the message and its PEC
    receipts come back to that mailbox. Without it the envelope sender is empty (RFC 3834).
    """

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 25
    tls: TlsMode = "none"
    username: str | None = None
    timeout_s: Annotated[float, Field(gt=0)] = 30.0  # each command and its reply
    connect_timeout_s: Annotated[float, Field(gt=0)] = 10.0  # the TCP connect and greeting
    from_: str | None = Field(default=None, alias="from")

    model_config = ALIASED


class FaxPatterns(Model):
    """The generic fax profile's own regexes (`fax_profile = "generic"`): for each fact, the
    regexes tried before the built-in ones on the subject line ("Subject: …") and the body;
    each has a group named `value`. `time_formats` are strptime formats of `received`."""

    number: list[str] = []
    station_id: list[str] = []
    pages: list[str] = []
    received: list[str] = []
    time_formats: list[str] = []

    @field_validator("number", "station_id", "pages", "received")
    @classmethod
    def _regexes(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regex {pattern!r}: {exc}") from None
            if "value" not in compiled.groupindex:
                raise ValueError(f"regex {pattern!r} has no group named 'value': (?P<value>...)")
        return value


class SourceBase(Model):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    channel: Channel = "email"
    fax_profile: Literal["generic", "hylafax", "asterisk"] = "generic"
    fax_patterns: FaxPatterns | None = None  # for the generic profile


class ImapSource(SourceBase, SecretRef):
    kind: Literal["imap"]
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    tls: TlsMode = "implicit"
    verify_tls: bool = True
    ca_file: ConfigPath | None = None
    username: str
    folders: list[str] = ["INBOX"]
    after: str = "keep"
    poll_interval_s: Annotated[float, Field(gt=0)] = 60.0
    idle: bool = True
    batch_size: Annotated[int, Field(ge=1, le=1000)] = 50
    max_message_mb: Annotated[int, Field(ge=1)] = 100
    smtp: SmtpRelay | None = None  # acknowledgements for this source's mail go out here

    @field_validator("after")
    @classmethod
    def _after_action(cls, value: str) -> str:
        if value == "keep" or re.fullmatch(r"(move|flag):\S.*", value):
            return value
        raise ValueError("expected 'keep', 'move:FOLDER' or 'flag:FLAG'")

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.tls == "implicit" else 143)


class SmtpSource(SourceBase, SecretRef):
    kind: Literal["smtp"]
    listen: str = "127.0.0.1:8025"
    hostname: str | None = None  # the name announced in the greeting
    recipients: list[str]  # addresses, or "@domain" for a whole domain
    channels: dict[str, Channel] = {}  # recipient -> channel; the rest: `channel`
    client_networks: list[str] = ["127.0.0.0/8", "::1/128"]
    max_message_mb: Annotated[int, Field(ge=1, le=2048)] = 50
    # Bounds (sources/smtp_gate.py): beyond them a session gets 421, well before the daemon
    # runs out of file descriptors (systemd/inbox-daemon.service sets LimitNOFILE).
    max_connections: Annotated[int, Field(ge=1, le=10000)] = 200
    max_connections_per_client: Annotated[int, Field(ge=1, le=10000)] = 20
    idle_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 60.0  # silence between commands
    data_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 180.0  # silence once a RCPT is in
    require_starttls: bool = False
    tls_cert: ConfigPath | None = None
    tls_key: ConfigPath | None = None
    require_auth: bool = False
    username: str | None = None  # AUTH login; the password from password_env / password_file
    smtp: SmtpRelay | None = None

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one address or @domain is required (never an open relay)")
        for entry in value:
            if not re.fullmatch(r"([^@\s]+)?@[^@\s]+\.[^@\s]+", entry):
                raise ValueError(f"{entry!r} is neither an address nor an @domain entry")
        return [entry.lower() for entry in value]

    @field_validator("channels")
    @classmethod
    def _lower_keys(cls, value: dict[str, Channel]) -> dict[str, Channel]:
        return {key.lower(): channel for key, channel in value.items()}

    @model_validator(mode="after")
    def _tls_and_auth(self) -> SmtpSource:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key go together")
        if self.require_auth and not self.username:
            raise ValueError("require_auth needs username (and password_env or password_file)")
        if self.require_auth and not self.tls_cert and not self.listens_on_loopback:
            raise ValueError(
                "require_auth off loopback needs tls_cert and tls_key: AUTH only over TLS"
            )
        unknown = [key for key in self.channels if not self.accepts(key)]
        if unknown:
            raise ValueError(f"channels: not among recipients: {', '.join(unknown)}")
        return self

    def accepts(self, address: str) -> bool:
        """Whether mail for `address` is ours (case-insensitive; "@domain" entries match)."""
        return is_among(address, self.recipients)

    @property
    def listens_on_loopback(self) -> bool:
        host = self.host_port[0]
        try:
            return host in LOOPBACK_HOSTS or ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("expected HOST:PORT, e.g. 127.0.0.1:8025")
        return value

    @field_validator("client_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for net in value:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"{net!r} is not an IP network such as 10.0.0.0/8") from None
        return value

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


class FolderSource(SourceBase):
    kind: Literal["folder"]
    path: ConfigPath
    poll_interval_s: Annotated[float, Field(gt=0)] = 5.0


class WebSource(SourceBase):
    """The web form a pole's QR label opens (`inbox_daemon/web/`); behind a reverse proxy."""

    kind: Literal["web"]
    channel: Literal["web"] = "web"  # type: ignore[assignment]
    listen: str = "127.0.0.1:8080"
    base_url: str = "http://127.0.0.1:8080"  # as citizens reach it: the links it prints
    emergency_phone: str = ""  # default: [acknowledgements] emergency_phone
    templates: ConfigPath | None = None  # a folder of pages that replace the shipped ones
    secret_file: ConfigPath | None = None  # signs form tokens; default: made in [storage] dir
    trusted_proxies: list[str] = ["127.0.0.0/8", "::1/128"]  # whose X-Forwarded-For counts
    submissions_per_hour: Annotated[int, Field(ge=1, le=100000)] = 10  # per client address
    max_body_kb: Annotated[int, Field(ge=16, le=65536)] = 12288  # a whole POST, photo included
    max_photo_kb: Annotated[int, Field(ge=16, le=65536)] = 10240
    max_photo_pixels: Annotated[int, Field(ge=10000, le=200_000_000)] = 40_000_000
    max_connections: Annotated[int, Field(ge=1, le=10000)] = 200
    header_timeout_s: Annotated[float, Field(gt=0, le=600)] = 10.0  # a request's head
    body_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 120.0  # a slow phone's photo
    answer_wait_s: Annotated[float, Field(ge=0, le=120)] = 10.0  # for the number, once stored
    form_max_age_h: Annotated[float, Field(gt=0, le=720)] = 24.0  # a form's token expires

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        return SmtpSource._host_port(value)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", value):
            raise ValueError("expected an http(s) URL such as https://segnalazioni.example.it")
        return value.rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return SmtpSource._networks(value)

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


Source = Annotated[ImapSource | SmtpSource | FolderSource | WebSource, Field(discriminator="kind")]
