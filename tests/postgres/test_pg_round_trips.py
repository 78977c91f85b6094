"""What coordination costs on a shared PostgreSQL, in statements: a claimed batch is one
statement, a heartbeat one transaction however many folders it holds, and two instances
claiming at the same moment never wait for each other nor share a message."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, event, text
from sqlmodel import Session
from test_pipeline import request, spool

from inbox_daemon.claims import claim_messages
from inbox_daemon.context import Context
from inbox_daemon.instances import Heartbeat
from inbox_daemon.leases import folder_lease
from inbox_daemon.store.db import transaction

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("postgres")]


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The statements `engine` sends meanwhile (each execute, an executemany once), and
    its commits, as "COMMIT"."""
    sent: list[str] = []

    def before(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement.split()[0])

    def commit(_conn: object) -> None:
        sent.append("COMMIT")

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "commit", commit)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "commit", commit)


def test_a_batch_is_claimed_in_one_statement(pg_ctx: Context) -> None:
    pks = spool(pg_ctx, *(request(n) for n in range(1, 8)))
    with statements(pg_ctx.engine) as sent, transaction(pg_ctx.engine) as session:
        claimed = claim_messages(session, "a", 0, 5)
    assert [m.id for m in claimed] == pks[:5]  # oldest first, as many as asked
    assert {m.claimed_by for m in claimed} == {"a"}  # the rows as claimed, read back
    assert sent == ["WITH", "COMMIT"]  # picked, marked and returned by one UPDATE


def test_two_instances_claiming_at_once_take_different_messages_without_waiting(
    pg_ctx: Context,
) -> None:
    pks = spool(pg_ctx, *(request(n) for n in range(1, 8)))
    with Session(pg_ctx.engine) as first, Session(pg_ctx.engine) as second:
        mine = [m.id for m in claim_messages(first, "a", 0, 4)]  # not committed yet
        # had it to wait for the first one's rows, the second would fail here at once
        second.exec(text("SET LOCAL lock_timeout = '200ms'"))
        theirs = [m.id for m in claim_messages(second, "b", 0, 4)]
        first.commit()
        second.commit()
    assert mine == pks[:4] and theirs == pks[4:]


def test_a_heartbeat_is_one_transaction_however_many_folders_it_holds(
    pg_ctx: Context,
) -> None:
    beat = Heartbeat(pg_ctx.engine)
    beat.start()
    try:
        for folder in ("INBOX", "PEC", "Fax"):
            assert beat.leases.take(folder_lease("posta", folder), "posta") is None
        with statements(pg_ctx.engine) as sent:
            beat.beat()
        assert sent == ["UPDATE", "UPDATE", "COMMIT"]  # its row, then every lease at once
        assert len(beat.leases.held()) == 3  # all three renewed, none lost
    finally:
        beat.stop()
