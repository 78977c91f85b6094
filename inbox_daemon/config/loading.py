"""TOML file -> validated Config; every problem reported as `key.path: what is wrong`.

All problems come at once, so an operator fixes a file in one round (`check-config`).
Loading never reads a secret (see secrets.py) nor refuses a key that is not acted on yet
(see pending.py): those depend on the command.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from inbox_daemon.config.paths import BASE_DIR
from inbox_daemon.config.schema import CalendarConfig, Config
from inbox_daemon.config.secrets import name_secrets, unset_secrets
from inbox_daemon.config.sources import LOOPBACK_HOSTS, ImapSource, SmtpSource
from inbox_daemon.errors import ConfigError

SOURCE_KINDS = {"imap", "smtp", "folder"}


def load_config(path: Path | str) -> Config:
    """Read and validate a config file; raise ConfigError listing every problem."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    return config_from_dict(data, base_dir=path.resolve().parent, path=path)


def config_from_dict(data: dict[str, Any], *, base_dir: Path, path: Path | None = None) -> Config:
    """Validate parsed TOML; relative paths in it are taken as relative to `base_dir`."""
    try:
        config = Config.model_validate({**data, "path": path}, context={BASE_DIR: base_dir})
    except ValidationError as exc:
        raise ConfigError([_describe(err) for err in exc.errors()]) from None
    name_secrets(config)
    problems = _check_semantics(config) + unset_secrets(config)
    if problems:
        raise ConfigError(problems)
    return config


def _describe(err: Any) -> str:
    key = _key_path(err["loc"])
    message = err["msg"]
    if err["type"] == "extra_forbidden" and err["loc"][-1] == "password":
        message = "inline passwords are not accepted; use password_env or password_file"
    elif err["type"] == "extra_forbidden":
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
        elif item in SOURCE_KINDS and parts and parts[-1].endswith("]"):
            continue  # the discriminator's branch name is noise to an operator
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _check_semantics(config: Config) -> list[str]:
    problems = _check_sources(config)
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
    if config.report.recipients and "@" not in ack.from_:
        problems.append("report.recipients: the report is mailed from acknowledgements.from: "
                        "set it to an e-mail address")  # fmt: skip
    if config.pec.trust_store and not config.pec.trust_store.is_file():
        problems.append(f"pec.trust_store: no such file: {config.pec.trust_store}")
    problems += _check_calendar(config.calendar)
    return problems


def _check_sources(config: Config) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for i, source in enumerate(config.sources):
        if source.name in seen:
            problems.append(f"sources[{i}].name: {source.name!r} is used by another source")
        seen.add(source.name)
        if isinstance(source, ImapSource):
            problems += _check_imap(f"sources[{i}]", source)
        tls_files = isinstance(source, SmtpSource) and source.tls_cert and source.tls_key
        if isinstance(source, SmtpSource) and source.require_starttls and not tls_files:
            problems.append(f"sources[{i}].require_starttls: needs tls_cert and tls_key")
    return problems


def _check_imap(key: str, source: ImapSource) -> list[str]:
    problems = []
    if source.tls == "none" and source.host not in LOOPBACK_HOSTS:
        problems.append(
            f"{key}.tls: 'none' sends the password in clear; it is allowed only for a loopback host"
        )
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
