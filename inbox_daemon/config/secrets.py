"""Passwords named by the file (`password_env`, `password_file`), read only when needed.

Only the commands that connect need a secret: an operator exporting tickets from a shell
without the mailboxes' password variables must not be refused. So `.password` reads the
secret on first use, and the commands that connect (`run`, `check-config`) call
`resolve_secrets` first, which reports every missing secret by its key at once rather than
the first one a connection happens to need.
"""

from __future__ import annotations

import os

from pydantic import PrivateAttr

from inbox_daemon.config.base import Model, toml_key, walk
from inbox_daemon.config.paths import ConfigPath
from inbox_daemon.errors import ConfigError


class SecretRef(Model):
    """A password given by environment variable or file, never inline in the TOML."""

    password_env: str | None = None
    password_file: ConfigPath | None = None
    _password: str | None = PrivateAttr(default=None)
    _key: str = PrivateAttr(default="")  # where the file sets it, for messages: `sources[0]`

    @property
    def password(self) -> str | None:
        """The secret, read once; ConfigError naming the key when it cannot be read."""
        if self._password is None and (self.password_env or self.password_file):
            self._password = self._read()
        return self._password

    @property
    def needs_password(self) -> bool:
        return getattr(self, "username", None) is not None

    def _read(self) -> str:
        prefix = f"{self._key}." if self._key else ""
        env_key, file_key = toml_key(self, "password_env"), toml_key(self, "password_file")
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                problem = f"environment variable {self.password_env} is not set"
                raise ConfigError([f"{prefix}{env_key}: {problem}"])
            return value
        assert self.password_file is not None
        try:
            return self.password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            problem = f"cannot read {self.password_file}: {exc.strerror}"
            raise ConfigError([f"{prefix}{file_key}: {problem}"]) from None


def secret_holders(config: Model) -> list[SecretRef]:
    return [model for _, model in walk(config) if isinstance(model, SecretRef)]


def name_secrets(config: Model) -> None:
    """Tell each SecretRef its key, so a secret read later names where the file sets it."""
    for key, model in walk(config):
        if isinstance(model, SecretRef):
            model._key = key


def unset_secrets(config: Model) -> list[str]:
    """Holders that log in but name no secret at all: a mistake in the file itself."""
    return [
        f"{holder._key}: a password is needed: set password_env or password_file"
        for holder in secret_holders(config)
        if holder.needs_password and not (holder.password_env or holder.password_file)
    ]


def secret_problems(config: Model) -> list[str]:
    problems = []
    for holder in secret_holders(config):
        try:
            holder.password  # noqa: B018 - reading it is the point
        except ConfigError as exc:
            problems += exc.problems
    return problems


def resolve_secrets(config: Model) -> None:
    """Read every secret now; raise one ConfigError listing each that cannot be read."""
    problems = secret_problems(config)
    if problems:
        raise ConfigError(problems)
