"""The pipeline on PostgreSQL: batches written as a whole, written again one savepoint per
message when one fails, and ticket numbers contiguous either way."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest
from sqlmodel import select
from test_pipeline import ROME, Spoiler, message, numbers, request, rows, spool

from inbox_daemon import pipeline
from inbox_daemon.context import Context
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Message, RuleHit, Ticket, TicketCounter, TicketPole
from inbox_daemon.workers import InProcess

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("postgres")]


def test_spooled_messages_become_tickets_numbered_from_one(pg_ctx: Context) -> None:
    assert pg_ctx.engine.dialect.name == "postgresql"
    raws = [request(n) for n in range(1, 2 * pipeline.BATCH + 8)]
    pks = spool(pg_ctx, *raws)
    assert len(set(pks)) == len(raws)

    outcomes = list(pipeline.process_pending(pg_ctx))

    year = datetime.now(ROME).year
    assert [o.message_pk for o in outcomes] == pks
    assert [o.outcome for o in outcomes] == ["ticket"] * len(raws)
    assert [o.ticket for o in outcomes] == [f"{year}/{n:06d}" for n in range(1, len(raws) + 1)]
    assert numbers(pg_ctx) == list(range(1, len(raws) + 1))
    with transaction(pg_ctx.engine) as session:
        assert session.get_one(TicketCounter, year).last_seq == len(raws)
        statuses = set(session.exec(select(Message.status)))
    assert statuses == {"processed"}
    assert rows(pg_ctx, TicketPole) == len(raws)
    assert list(pipeline.process_pending(pg_ctx)) == []  # nothing left; nothing made twice
    # the same bytes again are recognised: no second row, no second ticket
    assert spool(pg_ctx, raws[0]) == [pks[0]]
    assert rows(pg_ctx, Ticket) == len(raws)


def test_a_failing_message_gives_its_number_back_and_the_others_commit(
    pg_ctx: Context, caplog: pytest.LogCaptureFixture
) -> None:
    """The batch is written as a whole first; the spoiled message breaks it, so it is rolled
    back and written again one SAVEPOINT per message: on PostgreSQL the failed statement
    aborts only its savepoint, and the counter row stays locked by the batch."""
    pks = spool(pg_ctx, request(1), request(2), request(3, "GUASTO"), request(4), request(5))
    spoiler = Spoiler(InProcess(pipeline.analyser(pg_ctx)), "GUASTO")

    with caplog.at_level(logging.DEBUG, logger="inbox_daemon"):
        outcomes = {o.message_pk: o for o in pipeline.process_pending(pg_ctx, analyse=spoiler)}

    assert any("written again message by message" in r.getMessage() for r in caplog.records)
    year = datetime.now(ROME).year
    assert [outcomes[pk].outcome for pk in pks] == ["ticket", "ticket", "retry", "ticket", "ticket"]
    assert [outcomes[pk].ticket for pk in pks if pk != pks[2]] == [
        f"{year}/{seq:06d}" for seq in (1, 2, 3, 4)
    ]
    assert numbers(pg_ctx) == [1, 2, 3, 4]
    failed = message(pg_ctx, pks[2])
    assert (failed.status, failed.attempts) == ("received", 1)
    assert "IntegrityError" in (failed.last_error or "")
    with transaction(pg_ctx.engine) as session:
        tickets = set(session.exec(select(Ticket.id)))
        assert set(session.exec(select(RuleHit.ticket_id))) == tickets
        assert set(session.exec(select(TicketPole.ticket_id))) == tickets
        assert session.get_one(TicketCounter, year).last_seq == 4

    for _ in range(pg_ctx.max_attempts - 1):  # it keeps failing: quarantined, never lost
        list(pipeline.process_pending(pg_ctx, analyse=spoiler))
    assert message(pg_ctx, pks[2]).status == "quarantined"
    assert numbers(pg_ctx) == [1, 2, 3, 4]

    assert pipeline.requeue(pg_ctx, [pks[2]]) == 1  # fixed: it takes the next number
    [outcome] = pipeline.process_pending(pg_ctx)
    assert (outcome.message_pk, outcome.outcome, outcome.ticket) == (
        pks[2], "ticket", f"{year}/000005"
    )  # fmt: skip
    assert numbers(pg_ctx) == [1, 2, 3, 4, 5]


def test_a_batch_failing_on_its_first_ticket_makes_the_counter_once(pg_ctx: Context) -> None:
    """The year's first ticket fails: the batch that made the counter row rolls back, and the
    savepoint pass makes it again, starting from one."""
    pks = spool(pg_ctx, request(1, "GUASTO"), request(2), request(3))
    spoiler = Spoiler(InProcess(pipeline.analyser(pg_ctx)), "GUASTO")
    outcomes = [o.outcome for o in pipeline.process_pending(pg_ctx, analyse=spoiler)]
    assert outcomes == ["retry", "ticket", "ticket"]
    assert numbers(pg_ctx) == [1, 2]
    assert message(pg_ctx, pks[0]).status == "received"
