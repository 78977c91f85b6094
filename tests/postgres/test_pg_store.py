"""The schema on PostgreSQL: migrations build exactly the models, and the database enforces
what the models say (uniqueness, foreign keys, instants with their time zone)."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from inbox_daemon.store.db import (
    current_revisions,
    head_revision,
    make_engine,
    open_store,
    transaction,
)
from inbox_daemon.store.models import Message, SQLModel, Ticket
from postgres.server import lock_waiters

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("postgres")]

REPO = Path(__file__).resolve().parents[2]


def test_migrations_build_exactly_the_models(pg_url: str) -> None:
    engine = open_store(pg_url)
    try:
        assert engine.dialect.name == "postgresql"
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_opening_a_migrated_database_again_is_harmless(pg_url: str) -> None:
    first = open_store(pg_url)
    with transaction(first) as s:
        s.add(_message("a" * 64))
    first.dispose()
    engine = open_store(pg_url)
    try:
        assert current_revisions(engine) == [head_revision()]
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
            assert conn.execute(text("SELECT count(*) FROM message")).scalar() == 1
    finally:
        engine.dispose()


def _message(sha: str, received_at: datetime | None = None, **kw) -> Message:
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    return Message(sha256=sha, size=1, channel="email", source="s",
                   received_at=received_at or now, spooled_at=now, **kw)  # fmt: skip


def test_uniqueness_and_foreign_keys_are_enforced(pg_url: str) -> None:
    engine = open_store(pg_url)
    try:
        with transaction(engine) as s:
            s.add(_message("a" * 64, folder="INBOX", uidvalidity=4_000_000_000, uid=7))
        with pytest.raises(IntegrityError), transaction(engine) as s:
            s.add(_message("a" * 64))  # the same bytes
        with pytest.raises(IntegrityError), transaction(engine) as s:  # the same IMAP UID
            s.add(_message("b" * 64, folder="INBOX", uidvalidity=4_000_000_000, uid=7))
        now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
        orphan = Ticket(year=2026, seq=1, number="2026/000001", message_pk=999, channel="email",
                        request_type="manutenzione", urgency="ordinaria", received_at=now,
                        deemed_received_at=now, registered_at=now)  # fmt: skip
        with pytest.raises(IntegrityError), transaction(engine) as s:
            s.add(orphan)
    finally:
        engine.dispose()


def test_instants_come_back_aware_and_in_utc(pg_url: str) -> None:
    engine = open_store(pg_url)
    try:
        local = datetime(2026, 7, 1, 10, 0, tzinfo=ZoneInfo("Europe/Rome"))
        with transaction(engine) as s:
            s.add(_message("c" * 64, received_at=local))
        with transaction(engine) as s:
            row = s.exec(select(Message)).one()
        assert row.received_at == local and row.received_at.tzinfo == UTC
        assert row.received_at.hour == 8
    finally:
        engine.dispose()


START = "import sys; from inbox_daemon.store.db import open_store; open_store(sys.argv[1])"


def test_instances_starting_at_once_on_an_empty_database_all_open_it(pg_url: str) -> None:
    """Several instances started together (a deployment, a reboot) each find the database
    behind the newest revision, and each sets out to migrate it: all must start, and the
    schema be built once.

    To make them meet, this test makes Alembic's own table in a transaction it keeps open:
    each instance finds no revision, sets out to migrate, and waits on that table; once all
    wait, the test rolls back, and they are let go at the same moment."""
    starting = 3
    gate = make_engine(pg_url)
    try:
        with gate.connect() as held:
            held.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
            command = [sys.executable, "-c", START, pg_url]
            starters = [
                subprocess.Popen(command, cwd=REPO, stderr=subprocess.PIPE, text=True)
                for _ in range(starting)
            ]
            try:
                deadline = time.monotonic() + 30
                while lock_waiters(gate) < starting:
                    assert time.monotonic() < deadline, "the instances did not all come to wait"
                    ended = [p for p in starters if p.poll() is not None]
                    assert not ended, [p.communicate()[1] for p in ended]
                    time.sleep(0.01)
                held.rollback()  # all wait: let them go together
                errors = [p.communicate(timeout=60)[1] for p in starters]
            finally:
                for p in starters:
                    p.kill()
                    p.wait()
    finally:
        gate.dispose()
    assert [p.returncode for p in starters] == [0] * starting, errors
    engine = open_store(pg_url)
    try:
        assert current_revisions(engine) == [head_revision()]
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        assert diff == []
    finally:
        engine.dispose()
