"""Helpers for the Dovecot tests: daemon config text, and counts read from the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from inbox_daemon.config import Config, ImapSource
from inbox_daemon.store.models import Message, SourceState, Ticket
from integration.dovecot import Dovecot, NotInstalled, program, running_dovecot

PASSWORD_ENV = "INBOX_TEST_IMAP_PASSWORD"


IN_PROCESS = "[processing]\nworkers = 0\n"  # no worker processes to start: a faster pass


@contextmanager
def dovecot_or_skip(*args: Any, **options: Any) -> Iterator[Dovecot]:
    """`running_dovecot`, or the test skipped with the reason when Dovecot is not installed.
    A Dovecot that is there but does not start stays an error: that is a bug to see."""
    try:
        program("dovecot")
    except NotInstalled as exc:
        pytest.skip(str(exc))
    with running_dovecot(*args, **options) as server:
        yield server


def imap_source_toml(name: str, user: str, **keys: Any) -> str:
    """A [[sources]] table for the test Dovecot; keys override the defaults."""
    values: dict[str, Any] = {
        "name": name, "kind": "imap", "host": "127.0.0.1", "tls": "none",
        "username": user, "password_env": PASSWORD_ENV, "after": "keep", "idle": False,
    }  # fmt: skip
    values.update(keys)
    lines = ["[[sources]]"] + [f"{key} = {_toml(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def imap_cfg(config: Config, name: str = "posta") -> ImapSource:
    source = config.source(name)
    assert isinstance(source, ImapSource)
    return source


def count(engine: Engine, model: type, **where: Any) -> int:
    with Session(engine) as session:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return int(session.exec(query).one())


def source_state(engine: Engine, source: str, folder: str = "INBOX") -> SourceState | None:
    with Session(engine) as session:
        query = select(SourceState).where(
            SourceState.source == source, SourceState.folder == folder
        )
        return session.exec(query).first()


def duplicates(engine: Engine) -> list[Any]:
    """Message-IDs present in more than one ticket or stored message (must be none)."""
    with Session(engine) as session:
        tickets = session.exec(
            select(Ticket.message_id).group_by(Ticket.message_id).having(func.count() > 1)
        ).all()
        shas = session.exec(
            select(Message.sha256).group_by(Message.sha256).having(func.count() > 1)
        ).all()
    return [*tickets, *shas]
