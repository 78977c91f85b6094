"""The schema: migrations build exactly the models, and the database enforces uniqueness."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from inbox_daemon.store.db import (
    MIGRATIONS,
    head_revision,
    make_engine,
    migrate,
    open_store,
    reading,
    table_names,
    transaction,
)
from inbox_daemon.store.models import Message, SQLModel, Ticket, TicketPole

REPO = Path(__file__).resolve().parents[1]


def test_migrations_match_the_models(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path}/t.db")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_migrating_twice_is_harmless(tmp_path):
    url = f"sqlite:///{tmp_path}/t.db"
    open_store(url)
    engine = open_store(url)
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert version == head_revision()


def test_the_head_read_from_file_names_is_alembics_head():
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert head_revision() == ScriptDirectory.from_config(cfg).get_current_head()


def test_a_database_at_the_head_opens_without_loading_alembic(tmp_path):
    """Every command opens the store: one already migrated must not pay Alembic's imports."""
    url = f"sqlite:///{tmp_path}/t.db"
    engine = make_engine(url)
    _alembic(engine, command.upgrade, "0001")  # behind: the next open migrates
    probe = (
        "import sys; from inbox_daemon.store.db import open_store, current_revisions; "
        f"engine = open_store({url!r}); "
        "print(current_revisions(engine), 'alembic' in sys.modules)"
    )
    run = [sys.executable, "-c", probe]
    behind = subprocess.run(run, capture_output=True, text=True, check=True, cwd=REPO)
    assert behind.stdout.split() == [f"['{head_revision()}']", "True"]
    at_head = subprocess.run(run, capture_output=True, text=True, check=True, cwd=REPO)
    assert at_head.stdout.split() == [f"['{head_revision()}']", "False"]


def _alembic(engine, action, revision: str) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        action(cfg, revision)
        conn.commit()


def test_ticket_poles_of_existing_tickets_are_back_filled(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    _alembic(engine, command.upgrade, "0001")
    now = datetime(2026, 11, 24, 9, 0)  # naive UTC, as stored on SQLite
    with engine.begin() as conn:
        for n, poles in enumerate([["IP-000001", "IP-000002"], [], ["IP-000001"]], start=1):
            conn.execute(
                text(
                    "INSERT INTO message (id, sha256, size, channel, source, received_at,"
                    " spooled_at, status, attempts) VALUES (:n, :sha, 1, 'email', 's', :now,"
                    " :now, 'processed', 0)"
                ),
                {"n": n, "sha": str(n) * 64, "now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO ticket (id, year, seq, number, message_pk, channel, status,"
                    " subject, request_type, urgency, criminal_event, pole_codes, received_at,"
                    " deemed_received_at, registered_at, text) VALUES (:n, 2026, :n, :number,"
                    " :n, 'email', 'open', '', 'manutenzione', 'ordinaria', 0, :poles, :now,"
                    " :now, :now, '')"
                ),
                {"n": n, "number": f"2026/{n:06d}", "poles": json.dumps(poles), "now": now},
            )

    migrate(engine)  # to the newest revision, as the daemon does at start

    def poles() -> list[tuple[int, str]]:
        with transaction(engine) as s:
            return sorted(s.exec(select(TicketPole.ticket_id, TicketPole.code)))

    assert poles() == [(1, "IP-000001"), (1, "IP-000002"), (3, "IP-000001")]
    _alembic(engine, command.downgrade, "0001")
    assert "ticket_pole" not in table_names(engine)
    migrate(engine)
    assert poles() == [(1, "IP-000001"), (1, "IP-000002"), (3, "IP-000001")]


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path}/t.db")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def _message(sha: str, received_at: datetime | None = None, **kw) -> Message:
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    return Message(sha256=sha, size=1, channel="email", source="s",
                   received_at=received_at or now, spooled_at=now, **kw)  # fmt: skip


def test_same_bytes_cannot_be_stored_twice(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path}/t.db")
    with transaction(engine) as s:
        s.add(_message("a" * 64))
    with pytest.raises(IntegrityError), transaction(engine) as s:
        s.add(_message("a" * 64))


def test_same_imap_uid_cannot_be_stored_twice(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path}/t.db")
    with transaction(engine) as s:
        s.add(_message("a" * 64, folder="INBOX", uidvalidity=4_000_000_000, uid=7))
    with pytest.raises(IntegrityError), transaction(engine) as s:
        s.add(_message("b" * 64, folder="INBOX", uidvalidity=4_000_000_000, uid=7))


def test_a_ticket_needs_its_message(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path}/t.db")
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    ticket = Ticket(year=2026, seq=1, number="2026/000001", message_pk=999, channel="email",
                    request_type="manutenzione", urgency="ordinaria", received_at=now,
                    deemed_received_at=now, registered_at=now)  # fmt: skip
    with pytest.raises(IntegrityError), transaction(engine) as s:
        s.add(ticket)


def test_instants_come_back_aware_and_in_utc(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path}/t.db")
    local = datetime(2026, 7, 1, 10, 0, tzinfo=ZoneInfo("Europe/Rome"))
    with transaction(engine) as s:
        s.add(_message("c" * 64, received_at=local))
    with transaction(engine) as s:
        row = s.exec(select(Message)).one()
    assert row.received_at == local and row.received_at.tzinfo == UTC
    assert row.received_at.hour == 8


def test_a_reading_transaction_does_not_wait_for_the_writer(tmp_path) -> None:
    """The pipeline and the outbox look for work in `reading` transactions: they must go on
    while another connection (the SMTP ingress committing) holds SQLite's write lock, which
    BEGIN IMMEDIATE would wait for up to the busy timeout (30 s)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'lock.db'}")
    with transaction(engine) as session:
        session.exec(text("CREATE TABLE t (x)"))
        session.exec(text("INSERT INTO t VALUES (1)"))
    writer = sqlite3.connect(tmp_path / "lock.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (2)")
    seen: list[int] = []

    def read() -> None:
        with reading(engine) as session:
            seen.append(session.exec(text("SELECT count(*) FROM t")).one()[0])

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=10)
    still_waiting = reader.is_alive()
    writer.execute("COMMIT")
    assert not still_waiting, "the read waited for the write lock"
    assert seen == [1]  # the writer's uncommitted row is not seen
