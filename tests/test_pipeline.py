"""Processing in batches: one transaction per batch, a savepoint per message, analysis in
worker processes. One message's failure must cost no other message its ticket, and no ticket
its number."""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import func, select

from inbox_daemon import pipeline
from inbox_daemon.analysis import STAGES, Analyser, Analysis, Tools
from inbox_daemon.context import Context
from inbox_daemon.spool import Incoming, Origin
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Message, Outbox, RuleHit, Ticket, TicketPole
from inbox_daemon.workers import InProcess, WorkerPool

ROME = ZoneInfo("Europe/Rome")


def request(n: int, subject: str = "Lampione spento", text: str = "") -> bytes:
    text = text or f"Il lampione IP-{n:06d} in via Roma {n} è spento da due giorni."
    return (
        f"From: Cittadino {n} <cittadino{n}@example.org>\r\n"
        f"Subject: {subject} n. {n}\r\n"
        f"Message-ID: <batch-{n}@example.org>\r\n"
        "Date: Tue, 24 Nov 2026 10:00:00 +0100\r\n"
        f"\r\n{text}\r\n"
    ).encode()


def spool(ctx: Context, *raws: bytes) -> list[int]:
    when = datetime(2026, 11, 24, 10, 0, tzinfo=ROME)
    stored = ctx.spool.store_many([Incoming(raw, Origin("test"), when, "email") for raw in raws])
    return [s.message_pk for s in stored]


def numbers(ctx: Context) -> list[int]:
    with transaction(ctx.engine) as session:
        return list(session.exec(select(Ticket.seq).order_by(Ticket.seq)))


def rows(ctx: Context, model: type) -> int:
    with transaction(ctx.engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def message(ctx: Context, message_pk: int) -> Message:
    with transaction(ctx.engine) as session:
        return session.get_one(Message, message_pk)


@dataclass(frozen=True)
class Spoiler:
    """An `Analyse` that analyses for real, then spoils the verdict of every message whose
    subject holds `marker`: writing its ticket then breaks a NOT NULL constraint, a fault
    of that message alone, met inside its savepoint."""

    inner: InProcess
    marker: str

    def batches(self, batches: Iterator[tuple[Any, list[str]]]) -> Iterator[Any]:
        for tag, analyses in self.inner.batches(batches):
            yield tag, [self._spoil(analysis) for analysis in analyses]

    def _spoil(self, analysis: Analysis) -> Analysis:
        if analysis.verdict and analysis.parsed and self.marker in analysis.parsed.subject:
            return replace(analysis, verdict=replace(analysis.verdict, urgency=None))
        return analysis


def test_a_message_failing_in_its_savepoint_costs_the_others_nothing(ctx: Context) -> None:
    pks = spool(ctx, request(1), request(2), request(3, "GUASTO"), request(4), request(5))
    spoiler = Spoiler(InProcess(pipeline.analyser(ctx)), "GUASTO")

    outcomes = {o.message_pk: o for o in pipeline.process_pending(ctx, analyse=spoiler)}

    year = datetime.now(ROME).year
    assert [outcomes[pk].outcome for pk in pks] == ["ticket", "ticket", "retry", "ticket", "ticket"]
    assert [outcomes[pk].ticket for pk in pks if pk != pks[2]] == [
        f"{year}/{seq:06d}" for seq in (1, 2, 3, 4)
    ]
    assert numbers(ctx) == [1, 2, 3, 4]  # the failed ticket gave its number back
    failed = message(ctx, pks[2])
    assert (failed.status, failed.attempts) == ("received", 1)
    assert "IntegrityError" in (failed.last_error or "")
    # nothing of the failed ticket remains: its hits and poles were rolled back with it
    with transaction(ctx.engine) as session:
        tickets = set(session.exec(select(Ticket.id)))
        assert set(session.exec(select(RuleHit.ticket_id))) == tickets
        assert set(session.exec(select(TicketPole.ticket_id))) == tickets
    assert rows(ctx, TicketPole) == 4

    for _ in range(ctx.max_attempts - 1):  # it keeps failing: quarantined, never lost
        list(pipeline.process_pending(ctx, analyse=spoiler))
    assert message(ctx, pks[2]).status == "quarantined"

    assert pipeline.requeue(ctx, [pks[2]]) == 1  # fixed: `reprocess` gives it the next number
    [outcome] = pipeline.process_pending(ctx)
    assert (outcome.message_pk, outcome.outcome) == (pks[2], "ticket")
    assert numbers(ctx) == [1, 2, 3, 4, 5]


def test_a_batch_written_twice_logs_each_failure_once(ctx: Context, caplog) -> None:
    """The batch is first written as a whole; the spoiled message makes it roll back and be
    written again message by message. What the first try logged must not show twice."""
    pks = spool(ctx, request(1), b"\r\n\r\n", request(3, "GUASTO"), request(4))
    spoiler = Spoiler(InProcess(pipeline.analyser(ctx)), "GUASTO")
    with caplog.at_level(logging.DEBUG, logger="inbox_daemon"):
        outcomes = [o.outcome for o in pipeline.process_pending(ctx, analyse=spoiler)]
    assert outcomes == ["ticket", "quarantined", "retry", "ticket"]
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(logged) == len(set(logged))
    assert {line.split(":")[0] for line in logged} == {f"message {pks[1]}", f"message {pks[2]}"}
    assert numbers(ctx) == [1, 2]


def test_an_unreadable_message_in_a_batch_is_quarantined_alone(ctx: Context) -> None:
    pks = spool(ctx, request(1), b"\r\n\r\n", request(2))
    outcomes = {o.message_pk: o.outcome for o in pipeline.process_pending(ctx)}
    assert [outcomes[pk] for pk in pks] == ["ticket", "quarantined", "ticket"]
    assert message(ctx, pks[1]).last_error.startswith("unreadable message")
    assert numbers(ctx) == [1, 2]


def test_batches_are_registered_in_order_and_each_message_once(ctx: Context) -> None:
    raws = [request(n) for n in range(1, 2 * pipeline.BATCH + 8)]
    pks = spool(ctx, *raws)
    outcomes = list(pipeline.process_pending(ctx))
    assert [o.message_pk for o in outcomes] == pks
    assert numbers(ctx) == list(range(1, len(raws) + 1))
    assert list(pipeline.process_pending(ctx)) == []
    again = pipeline.process(ctx, pks[0])
    assert (again.outcome, again.ticket, again.fresh) == ("ticket", outcomes[0].ticket, False)


def test_a_reminder_links_to_the_earlier_ticket_about_the_same_pole(ctx: Context) -> None:
    reminder = request(
        2, "Sollecito", "Sollecito ancora una volta: il palo IP-004512 è sempre spento."
    )
    other = request(3, "Sollecito", "Sollecito: il palo IP-009999 è sempre spento.")
    # The first request and its reminder arrive in one batch: the link is found all the same.
    first_pk, reminder_pk, other_pk = spool(ctx, request(4512), reminder, other)
    list(pipeline.process_pending(ctx))

    with transaction(ctx.engine) as session:
        first = session.exec(select(Ticket).where(Ticket.message_pk == first_pk)).one()
        linked = session.exec(select(Ticket).where(Ticket.message_pk == reminder_pk)).one()
        alone = session.exec(select(Ticket).where(Ticket.message_pk == other_pk)).one()
        poles = set(session.exec(select(TicketPole.code).where(TicketPole.ticket_id == first.id)))
    assert linked.request_type == "sollecito"
    assert linked.related_ticket_id == first.id
    assert alone.related_ticket_id is None
    assert poles == {"IP-004512"}


def kill_worker(work: Analysis, tools: Tools) -> Analysis:
    """Fault injection, as a first stage: the worker analysing a message that says KILL-WORKER
    dies at once, as a worker killed for its memory would."""
    if b"KILL-WORKER" in tools.blobs.get("raw", work.pending.sha256):
        os._exit(9)
    return work


def test_worker_processes_analyse_as_this_process_does(ctx: Context) -> None:
    spool(ctx, *[request(n) for n in range(1, 30)], b"\r\n\r\n")
    batches = list(pipeline._pending_batches(ctx))
    here = list(InProcess(pipeline.analyser(ctx)).batches(iter(batches)))
    pool = WorkerPool(pipeline.analyser(ctx), workers=2)
    try:
        there = list(pool.batches(iter(batches)))
    finally:
        pool.close()
    assert [analyses for _, analyses in there] == [analyses for _, analyses in here]


def test_a_message_that_kills_its_worker_fails_alone(ctx: Context) -> None:
    pks = spool(ctx, *[request(n) for n in range(1, 12)], request(12, "KILL-WORKER"))
    analyser = Analyser(pipeline.analyser(ctx).tools, (("kill", kill_worker), *STAGES))
    pool = WorkerPool(analyser, workers=2)
    try:
        outcomes = {o.message_pk: o for o in pipeline.process_pending(ctx, analyse=pool)}
        assert outcomes[pks[-1]].outcome == "retry"
        assert "died" in (outcomes[pks[-1]].error or "")
        assert [outcomes[pk].outcome for pk in pks[:-1]] == ["ticket"] * 11
        spool(ctx, request(13))  # the pool works on after a worker died
        [later] = [o for o in pipeline.process_pending(ctx, analyse=pool) if o.outcome == "ticket"]
    finally:
        pool.close()
    assert later.ticket is not None
    assert numbers(ctx) == list(range(1, 13))


ROUTED = """
[acknowledgements]
enabled = true
from = "segnalazioni@example.it"
max_per_sender_per_hour = 3
[[routing]]
match = { urgency = "emergenza" }
queue = "reperibilita"
[[routing]]
queue = "manutenzione"
"""


def test_routing_and_acknowledgements_are_recorded_with_the_ticket(make_context) -> None:
    """Five requests from one sender in one batch: the batch counts the acknowledgements it
    has planned but not written yet, so the hourly limit holds inside a batch too."""
    ctx = make_context(ROUTED)
    same = [request(n).replace(f"cittadino{n}@".encode(), b"stesso@") for n in range(1, 6)]
    danger = request(6, "Palo pericolante", "Il palo IP-000006 sta per cadere sulla strada.")
    spool(ctx, *same, danger)
    list(pipeline.process_pending(ctx))
    with transaction(ctx.engine) as session:
        queues = {seq: queue for seq, queue in session.exec(select(Ticket.seq, Ticket.queue))}
        jobs = list(session.exec(select(Outbox).order_by(Outbox.id)))
        routed = set(
            session.exec(select(RuleHit.rule, RuleHit.value).where(RuleHit.field == "queue"))
        )
    assert queues == {1: "manutenzione", 2: "manutenzione", 3: "manutenzione",
                      4: "manutenzione", 5: "manutenzione", 6: "reperibilita"}  # fmt: skip
    assert routed == {("routing[2]", "manutenzione"), ("routing[1]", "reperibilita")}
    assert [j.state for j in jobs if j.recipient == "stesso@example.org"] == (
        ["pending"] * 3 + ["suppressed"] * 2
    )
    assert [j.attempts for j in jobs] == [0] * 6 and all(j.next_attempt_at for j in jobs)


def test_a_matter_for_another_body_is_routed_by_competence_and_the_sender_told(
    make_context,
) -> None:
    ctx = make_context(
        '[acknowledgements]\nenabled = true\nfrom = "segnalazioni@example.it"\n'
        '[[routing]]\nmatch = { competence = ["vigili_del_fuoco", "polizia_locale"] }\n'
        'queue = "altri-enti"\n[[routing]]\nqueue = "manutenzione"\n'
    )
    gas = request(1, "Odore di gas", "In via Manzoni c'è un forte odore di gas dal tombino.")
    spool(ctx, gas, request(2))
    list(pipeline.process_pending(ctx))
    with transaction(ctx.engine) as session:
        tickets = list(session.exec(select(Ticket).order_by(Ticket.seq)))
        [ack] = [j for j in session.exec(select(Outbox)) if j.ticket_id == tickets[0].id]
    assert [(t.competence, t.queue) for t in tickets] == [
        ("vigili_del_fuoco", "altri-enti"),
        ("fornitore", "manutenzione"),
    ]
    assert "Vigili del Fuoco" in ack.body and "115" in ack.body


def test_a_failure_of_the_machine_is_retried_without_counting_towards_the_quarantine(
    ctx: Context,
) -> None:
    """No descriptor left (a connection flood: EMFILE) says nothing of the message. The
    fault is raised by a stage here because exhausting the test process's descriptors would
    break the test itself; tests/smtp/test_smtp_flood.py causes it for real."""

    def out_of_descriptors(work: Analysis, tools: Tools) -> Analysis:
        raise OSError(errno.EMFILE, "Too many open files")

    [pk] = spool(ctx, request(1))
    flooded = InProcess(Analyser(pipeline.analyser(ctx).tools, (("parse", out_of_descriptors),)))
    for _ in range(ctx.max_attempts + 2):
        [outcome] = pipeline.process_pending(ctx, analyse=flooded)
        assert outcome.outcome == "retry"
    waiting = message(ctx, pk)
    assert (waiting.status, waiting.attempts) == ("received", 0)
    assert "Too many open files" in waiting.last_error
    [outcome] = pipeline.process_pending(ctx)  # descriptors back: the message is a ticket
    assert outcome.outcome == "ticket"
