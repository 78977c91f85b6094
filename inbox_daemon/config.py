"""The TOML configuration, loaded once at start-up into frozen, validated models.

Every problem is reported as `key.path: what is wrong`, all at once, so that an operator fixes
a file in one round (`check-config`). Relative paths are resolved against the config file's
folder; secrets (`password_env` / `password_file`) are resolved here, never later.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from inbox_daemon.blobs import syncfs_works
from inbox_daemon.errors import ConfigError

Channel = Literal["email", "pec", "fax"]
TlsMode = Literal["implicit", "starttls", "none"]
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SecretRef(Model):
    """A password given by environment variable or file, never inline in the TOML."""

    password_env: str | None = None
    password_file: Path | None = None
    _password: str | None = PrivateAttr(default=None)

    @property
    def password(self) -> str | None:
        return self._password


class DatabaseConfig(Model):
    url: str = "sqlite:///tickets.db"


class StorageConfig(Model):
    dir: Path = Path("store")
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
    register_path: Path | None = Field(default=None, alias="register")
    formats: list[PoleFormatConfig] = []

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class RulesConfig(Model):
    files: list[Path] = []  # rule-set TOML files that extend or replace the shipped defaults


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
    timeout_s: Annotated[float, Field(gt=0)] = 30.0
    from_: str | None = Field(default=None, alias="from")

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class AcknowledgementsConfig(Model):
    enabled: bool = False
    from_: str = Field(default="", alias="from")
    smtp: SmtpRelay = SmtpRelay()
    template: Path | None = None  # string.Template text; the shipped Italian one when unset
    emergency_phone: str = ""
    max_per_sender_per_hour: Annotated[int, Field(ge=1)] = 5
    fax_ack_to: str | None = None  # faxes get no reply by fax; this address gets their acks
    own_addresses: list[str] = []  # never acknowledge these ("@domain" for a domain); the
    # daemon's other addresses (`from`, SMTP ingress recipients) are added automatically
    max_attempts: Annotated[int, Field(ge=1)] = 48  # with hourly retries: about two days

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class PecConfig(Model):
    trust_store: Path | None = None


class RoutingRule(Model):
    match: dict[str, Any] = {}
    queue: str
    notify: list[str] = []
    forward: list[str] = []
    webhook: str | None = None


class SourceBase(Model):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    channel: Channel = "email"
    fax_profile: Literal["generic", "hylafax", "asterisk"] = "generic"


class ImapSource(SourceBase, SecretRef):
    kind: Literal["imap"]
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    tls: TlsMode = "implicit"
    verify_tls: bool = True
    ca_file: Path | None = None
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
    tls_cert: Path | None = None
    tls_key: Path | None = None
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
        address = address.lower()
        domain = "@" + address.rpartition("@")[2]
        return "@" in address and (address in self.recipients or domain in self.recipients)

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
    path: Path
    poll_interval_s: Annotated[float, Field(gt=0)] = 5.0


Source = Annotated[ImapSource | SmtpSource | FolderSource, Field(discriminator="kind")]


class Config(Model):
    database: DatabaseConfig = DatabaseConfig()
    storage: StorageConfig = StorageConfig()
    calendar: CalendarConfig = CalendarConfig()
    poles: PolesConfig = PolesConfig()
    rules: RulesConfig = RulesConfig()
    processing: ProcessingConfig = ProcessingConfig()
    acknowledgements: AcknowledgementsConfig = AcknowledgementsConfig()
    pec: PecConfig = PecConfig()
    routing: list[RoutingRule] = []
    sources: list[Source] = []
    path: Path | None = None  # the file it was loaded from

    def source(self, name: str) -> ImapSource | SmtpSource | FolderSource:
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(name)


def load_config(path: Path | str) -> Config:
    """Read, validate and resolve a config file; raise ConfigError listing every problem."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    return config_from_dict(data, base_dir=path.resolve().parent, path=path)


def config_from_dict(data: dict[str, Any], *, base_dir: Path, path: Path | None = None) -> Config:
    problems = _inline_password_problems(data)
    try:
        config = Config.model_validate({**data, "path": path})
    except ValidationError as exc:
        raise ConfigError(problems + [_describe(err) for err in exc.errors()]) from None
    config = _resolve_paths(config, base_dir)
    problems += _check_semantics(config)
    problems += _resolve_secrets(config, base_dir)
    if problems:
        raise ConfigError(problems)
    return config


def _describe(err: Any) -> str:
    key = _key_path(err["loc"])
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        message = "unknown key (misspelt, or not valid here)"
    elif err["type"] == "union_tag_invalid":
        message = "kind must be one of imap, smtp, folder"
    elif err["type"] == "union_tag_not_found":
        message = "missing key 'kind' (imap, smtp or folder)"
    return f"{key}: {message.removeprefix('Value error, ')}"


def _key_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in {"imap", "smtp", "folder"} and parts and parts[-1].endswith("]"):
            continue  # the discriminator's branch name is noise to an operator
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _inline_password_problems(data: dict[str, Any]) -> list[str]:
    problems = []
    for i, source in enumerate(data.get("sources") or []):
        if isinstance(source, dict) and "password" in source:
            problems.append(
                f"sources[{i}].password: inline passwords are not accepted; "
                "use password_env or password_file"
            )
            del source["password"]
    return problems


def _resolve_paths(config: Config, base: Path) -> Config:
    def absolute(p: Path | None) -> Path | None:
        return None if p is None else (p if p.is_absolute() else base / p)

    db_url = config.database.url
    prefix = "sqlite:///"
    if (
        db_url.startswith(prefix)
        and not db_url.startswith(prefix + "/")
        and ":memory:" not in db_url
    ):
        db_url = prefix + str(base / db_url.removeprefix(prefix))
    sources = []
    for source in config.sources:
        if isinstance(source, FolderSource):
            source = source.model_copy(update={"path": absolute(source.path)})
        elif isinstance(source, SmtpSource):
            tls = {"tls_cert": absolute(source.tls_cert), "tls_key": absolute(source.tls_key)}
            source = source.model_copy(update=tls)
        elif isinstance(source, ImapSource):
            source = source.model_copy(update={"ca_file": absolute(source.ca_file)})
        sources.append(source)
    ack = config.acknowledgements
    return config.model_copy(
        update={
            "database": DatabaseConfig(url=db_url),
            "storage": StorageConfig(dir=absolute(config.storage.dir)),
            "poles": config.poles.model_copy(
                update={"register_path": absolute(config.poles.register_path)}
            ),
            "rules": RulesConfig(files=[absolute(f) for f in config.rules.files]),
            "acknowledgements": ack.model_copy(update={"template": absolute(ack.template)}),
            "sources": sources,
        }
    )


def _check_semantics(config: Config) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for i, source in enumerate(config.sources):
        if source.name in seen:
            problems.append(f"sources[{i}].name: {source.name!r} is used by another source")
        seen.add(source.name)
        cleartext = isinstance(source, ImapSource) and source.tls == "none"
        if isinstance(source, ImapSource):
            problems += _check_imap(f"sources[{i}]", source)
        if cleartext and source.host not in LOOPBACK_HOSTS:
            problems.append(
                f"sources[{i}].tls: 'none' sends the password in clear; "
                "it is allowed only for a loopback host"
            )
        tls_files = isinstance(source, SmtpSource) and source.tls_cert and source.tls_key
        if isinstance(source, SmtpSource) and source.require_starttls and not tls_files:
            problems.append(f"sources[{i}].require_starttls: needs tls_cert and tls_key")
    for i, fmt in enumerate(config.poles.formats):
        groups = set(re.compile(fmt.regex).groupindex)
        wanted = set(re.findall(r"{(\w+)", fmt.canonical))
        if not wanted <= groups:
            missing = ", ".join(sorted(wanted - groups))
            problems.append(f"poles.formats[{i}].canonical: names groups not in regex: {missing}")
    for i, path in enumerate(config.rules.files):
        if not path.is_file():
            problems.append(f"rules.files[{i}]: no such file: {path}")
    ack = config.acknowledgements
    if ack.enabled and "@" not in ack.from_:
        problems.append("acknowledgements.from: an e-mail address is required when enabled")
    if ack.template and not ack.template.is_file():
        problems.append(f"acknowledgements.template: no such file: {ack.template}")
    problems += _check_calendar(config.calendar)
    return problems


def _check_imap(key: str, source: ImapSource) -> list[str]:
    problems = []
    if source.ca_file and not source.ca_file.is_file():
        problems.append(f"{key}.ca_file: no such file: {source.ca_file}")
    target = source.after.removeprefix("move:")
    if source.after.startswith("move:") and target in source.folders:
        problems.append(
            f"{key}.after: {target!r} is also in folders: every message would be moved "
            "into the folder it is read from, again at every poll"
        )
    return problems


def _check_calendar(cal: CalendarConfig) -> list[str]:
    from inbox_daemon.calendar import CalendarError, ServiceCalendar

    try:
        ServiceCalendar(cal.timezone, cal.opening_hours, cal.holidays or None, cal.closures)
    except (CalendarError, ValueError, KeyError) as exc:
        return [f"calendar: {exc}"]
    return []


def _resolve_secrets(config: Config, base: Path) -> list[str]:
    problems = []
    holders: list[tuple[str, SecretRef]] = []
    for i, source in enumerate(config.sources):
        if isinstance(source, SecretRef):
            holders.append((f"sources[{i}]", source))
        if getattr(source, "smtp", None) is not None:
            holders.append((f"sources[{i}].smtp", source.smtp))
    holders.append(("acknowledgements.smtp", config.acknowledgements.smtp))
    for key, holder in holders:
        problem = _resolve_secret(key, holder, base)
        if problem:
            problems.append(problem)
    return problems


def _resolve_secret(key: str, holder: SecretRef, base: Path) -> str | None:
    needs = isinstance(holder, ImapSource) or getattr(holder, "username", None) is not None
    if holder.password_env:
        value = os.environ.get(holder.password_env)
        if value is None:
            return f"{key}.password_env: environment variable {holder.password_env} is not set"
        holder._password = value
    elif holder.password_file:
        file = (
            holder.password_file
            if holder.password_file.is_absolute()
            else base / holder.password_file
        )
        try:
            holder._password = file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            return f"{key}.password_file: cannot read {file}: {exc.strerror}"
    elif needs:
        return f"{key}: a password is needed: set password_env or password_file"
    return None
