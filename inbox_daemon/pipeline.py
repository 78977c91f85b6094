"""From a spooled message to a ticket (or a recorded non-ticket outcome).

Work is driven by `message.status`: a message stays `received` until the transaction that
writes its ticket marks it `processed`, so a crash anywhere before that commit simply means the
message is processed again on the next pass. A message that keeps failing is quarantined with
its error, visible in the CLI, and re-run by `reprocess` after a fix.

Messages go through in batches, in three steps: one short transaction reads a batch; the pure
stages (`analysis.py`: parse, classify) run outside any transaction, possibly in other
processes; one transaction registers the batch, each message inside its own SAVEPOINT. A
message that fails rolls back only its own rows, and the ticket number it took, so numbers
stay contiguous; its failed attempt is recorded in the same transaction, and the others commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, update
from sqlmodel import Session, select

import rules
from inbox_daemon import acks
from inbox_daemon.analysis import Analyse, Analyser, Analysis, InProcess
from inbox_daemon.calendar import Deemed
from inbox_daemon.context import Context
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Attachment, Message, RuleHit, Ticket, TicketPole
from inbox_daemon.store.types import utcnow
from inbox_daemon.tickets import find_related, format_number, next_seq, window_start
from parsers.message import ParsedMessage

log = logging.getLogger(__name__)
BATCH = 50  # messages registered per transaction

# Hot statements, built once: their parameters come at execution, so SQLAlchemy compiles
# each statement once and reuses it for every message.
INSERT_TICKET = insert(Ticket).returning(Ticket.id)
INSERT_HITS = insert(RuleHit)
INSERT_POLES = insert(TicketPole)
MARK_PROCESSED = (
    update(Message)
    .where(Message.id == bindparam("pk"))
    .values(
        status="processed",
        outcome=bindparam("outcome"),
        processed_at=bindparam("processed_at"),
        header_message_id=func.coalesce(bindparam("header"), Message.header_message_id),
    )
)


@dataclass(frozen=True)
class Outcome:
    message_pk: int
    outcome: str  # ticket | duplicate | receipt | bounce | auto_reply | quarantined | retry
    ticket: str | None = None
    error: str | None = None
    fresh: bool = True  # False: the message had been processed before this call


def analyser(ctx: Context) -> Analyser:
    """The slice of the context that parsing and classifying need."""
    return Analyser(ctx.spool.blobs, ctx.ruleset, ctx.pole_formats, ctx.max_attachment_bytes)


def process_pending(
    ctx: Context,
    on_done: Callable[[Outcome], None] | None = None,
    analyse: Analyse | None = None,
    after: int = 0,
) -> Iterator[Outcome]:
    """Process the messages waiting (with an id above `after`), oldest first, until none is
    left; `analyse` may be a `WorkerPool` (default: analysis in this thread)."""
    analyse = analyse or InProcess(analyser(ctx))
    for messages, analyses in analyse.batches(_pending_batches(ctx, after)):
        for outcome in _register_batch(ctx, messages, analyses):
            if on_done:
                on_done(outcome)
            yield outcome


def process(ctx: Context, message_pk: int) -> Outcome:
    """Process one message; never raises for a problem of the message itself. A message
    processed before reports what it became (`fresh=False`)."""
    with transaction(ctx.engine) as session:
        message = session.get(Message, message_pk)
        if message is None:
            raise KeyError(message_pk)
        if message.status != "received":
            return _earlier_outcome(session, message_pk)
    [outcome] = _register_batch(ctx, [message], [analyser(ctx)(message.sha256)])
    return outcome


def _pending_batches(ctx: Context, last: int = 0) -> Iterator[tuple[list[Message], list[str]]]:
    """Waiting messages in batches, each read in its own short transaction: (rows, sha256s).

    Only messages after the last one read: one that fails now and waits for a retry is not
    read again in this pass (the next pass retries it).
    """
    while True:
        with transaction(ctx.engine) as session:
            query = select(Message).where(Message.status == "received", Message.id > last)
            batch = list(session.exec(query.order_by(Message.id).limit(BATCH)))
        if not batch:
            return
        last = batch[-1].id
        yield batch, [message.sha256 for message in batch]


def _register_batch(
    ctx: Context, messages: Sequence[Message], analyses: Sequence[Analysis]
) -> list[Outcome]:
    """Write the outcome of each analysed message, in one transaction, one savepoint each."""
    attachments = _store_attachments(ctx, messages, analyses)
    outcomes = []
    with transaction(ctx.engine) as session:
        waiting = _claim(session, [message.id for message in messages])
        batch = Batch(ctx, session, _registered_ids(session, analyses), attachments)
        for message, analysis in zip(messages, analyses, strict=True):
            if message.id in waiting:
                outcomes.append(_register_one(batch, message, analysis))
            else:  # another instance processed it since we read it
                outcomes.append(_earlier_outcome(session, message.id))
    return outcomes


@dataclass(frozen=True)
class Batch:
    """One registration transaction, and what its messages need to know of each other."""

    ctx: Context
    session: Session
    registered: set[str]  # Message-IDs that have a ticket, from before or from this batch
    attachments: dict[int, list[Attachment]]  # rows to write, by message id


def _claim(session: Session, message_pks: list[int]) -> set[int]:
    """Which of these messages still wait, locked until the batch commits: a second instance
    on PostgreSQL waits here, then finds them processed (SQLite's BEGIN IMMEDIATE already lets
    one writer in at a time)."""
    query = select(Message.id).where(Message.id.in_(message_pks), Message.status == "received")
    return set(session.exec(query.with_for_update()))


def _registered_ids(session: Session, analyses: Sequence[Analysis]) -> set[str]:
    """Message-IDs of the batch that already have a ticket: one query for the whole batch."""
    wanted = {a.parsed.message_id for a in analyses if a.parsed and a.parsed.message_id}
    if not wanted:
        return set()
    query = select(Ticket.message_id).where(Ticket.message_id.in_(wanted))
    return {message_id for message_id in session.exec(query) if message_id}


def _register_one(batch: Batch, message: Message, analysis: Analysis) -> Outcome:
    """Register one message in its own savepoint; a failure costs only its own attempt."""
    if analysis.error:
        if analysis.trace:
            log.error("message %s: processing failed\n%s", message.id, analysis.trace.rstrip())
        return _fail(batch, message.id, analysis.error, final=analysis.final)
    try:
        with batch.session.begin_nested():
            outcome = _register(batch, message, analysis)
    except Exception as exc:  # the quarantine boundary: rolls back this message's rows only
        log.exception("message %s: processing failed", message.id)
        return _fail(batch, message.id, f"{type(exc).__name__}: {exc}", final=False)
    if outcome.outcome == "ticket" and analysis.parsed and analysis.parsed.message_id:
        batch.registered.add(analysis.parsed.message_id)
    return outcome


def _register(batch: Batch, message: Message, analysis: Analysis) -> Outcome:
    ctx, session = batch.ctx, batch.session
    parsed, verdict = analysis.parsed, analysis.verdict
    assert parsed is not None
    if verdict is None:  # kept, but not a request
        _mark(session, message.id, analysis.kind)
        return Outcome(message.id, analysis.kind)
    if parsed.message_id in batch.registered:
        _mark(session, message.id, "duplicate", parsed.message_id)
        return Outcome(message.id, "duplicate")
    now = utcnow()
    deemed = ctx.calendar.deemed_received(message.received_at)
    related, how = _related(ctx, session, parsed, verdict, now)
    fields = _ticket_fields(ctx, session, message, parsed, verdict, related, now, deemed)
    ticket_id = session.connection().execute(INSERT_TICKET, fields).scalar_one()
    _add_ticket_rows(session, ticket_id, verdict, related, how)
    session.add_all(batch.attachments.get(message.id, []))
    if ctx.acks.enabled:
        ticket = Ticket(id=ticket_id, **fields)
        plan = acks.plan(
            ctx.acks, session, ticket, parsed,
            source=message.source, now=now, tz=ctx.tz, deemed=deemed, own=ctx.own_addresses,
        )  # fmt: skip
        session.add_all(plan)
    _mark(session, message.id, "ticket", parsed.message_id)
    return Outcome(message.id, "ticket", fields["number"])


def _related(
    ctx: Context, session: Session, parsed: ParsedMessage, verdict: rules.Verdict, now: datetime
) -> tuple[Ticket | None, str | None]:
    return find_related(
        session,
        ticket_refs=verdict.ticket_refs,
        is_reminder=verdict.request_type == "sollecito",
        pole_codes=verdict.pole_codes,
        sender=parsed.from_address,
        subject=parsed.subject,
        thread_ids=(*parsed.references, *([parsed.in_reply_to] if parsed.in_reply_to else [])),
        since=window_start(now, ctx.reminder_window_days),
    )


def _ticket_fields(
    ctx: Context,
    session: Session,
    message: Message,
    parsed: ParsedMessage,
    verdict: rules.Verdict,
    related: Ticket | None,
    now: datetime,
    deemed: Deemed,
) -> dict[str, Any]:
    """The ticket's columns, with the next number of the year (taken in this transaction)."""
    year = now.astimezone(ctx.tz).year
    seq = next_seq(session, year)
    return dict(
        year=year,
        seq=seq,
        number=format_number(year, seq),
        message_pk=message.id,
        channel=message.channel,
        status="redirected" if verdict.criminal_event else "open",
        sender=parsed.from_address,
        sender_name=parsed.from_name or None,
        subject=parsed.subject[:2000],
        request_type=verdict.request_type,
        urgency=verdict.urgency,
        criminal_event=verdict.criminal_event,
        pole_codes=list(verdict.pole_codes),
        related_ticket_id=related.id if related else None,
        received_at=message.received_at,
        deemed_received_at=deemed.at,
        deemed_reason=deemed.reason,
        registered_at=now,
        sent_at=parsed.date,
        message_id=parsed.message_id,
        thread_root=_thread_root(parsed, related),
        queue=_route(ctx, verdict, message.channel),
        text=parsed.new_text[:100_000],
    )


def _add_ticket_rows(
    session: Session,
    ticket_id: int,
    verdict: rules.Verdict,
    related: Ticket | None,
    how: str | None,
) -> None:
    """Why it was classified so (rule hits, the link found) and its poles, for look-ups.

    Plain multi-row INSERTs: a dozen rows per ticket, too many to build as ORM objects.
    """
    hits = [{"ticket_id": ticket_id, **_hit_fields(hit)} for hit in verdict.hits]
    if related:
        link = {"rule": "linking", "field": "related_ticket", "value": related.number}
        hits.append({"ticket_id": ticket_id, "evidence": how or "", **link})
    codes = dict.fromkeys(code[:64] for code in verdict.pole_codes)
    poles = [{"ticket_id": ticket_id, "code": code} for code in codes]
    for statement, rows in ((INSERT_HITS, hits), (INSERT_POLES, poles)):
        if rows:
            session.connection().execute(statement, rows)


def _thread_root(parsed: ParsedMessage, related: Ticket | None) -> str | None:
    if related is not None:
        return related.thread_root or related.message_id
    if parsed.references:
        return parsed.references[0]
    return parsed.in_reply_to or parsed.message_id


def _route(ctx: Context, verdict: rules.Verdict, channel: str) -> str | None:
    """First `[[routing]]` rule whose `match` fits wins (the routing issue extends the keys)."""
    facts = {
        "request_type": verdict.request_type,
        "urgency": verdict.urgency,
        "channel": channel,
        "criminal_event": verdict.criminal_event,
    }
    for rule in ctx.routing:
        if all(_matches(facts.get(key), want) for key, want in rule.match.items()):
            return rule.queue
    return None


def _matches(value: Any, want: Any) -> bool:
    return value in want if isinstance(want, list) else value == want


def _hit_fields(hit: rules.Hit) -> dict[str, str]:
    return {
        "rule": hit.rule[:100],
        "field": hit.field[:32],
        "value": str(hit.value)[:255],
        "evidence": hit.evidence[:500],
    }


def _store_attachments(
    ctx: Context, messages: Sequence[Message], analyses: Sequence[Analysis]
) -> dict[int, list[Attachment]]:
    """Attachment files of the batch, made durable before its transaction (not inside it, where
    they would hold the database lock); their rows, by message id."""
    parts = [
        (message.id, part)
        for message, analysis in zip(messages, analyses, strict=True)
        if analysis.verdict is not None and analysis.parsed is not None
        for part in analysis.parsed.attachments
    ]
    shas = ctx.spool.blobs.put_many("attachments", [part.payload for _, part in parts])
    rows: dict[int, list[Attachment]] = {}
    for (message_pk, part), sha in zip(parts, shas, strict=True):
        rows.setdefault(message_pk, []).append(_attachment_row(message_pk, part, sha))
    return rows


def _attachment_row(message_pk: int, part: Any, sha: str) -> Attachment:
    return Attachment(
        message_pk=message_pk,
        index=part.index,
        filename=part.filename[:255],
        original_filename=part.original_filename,
        content_type=part.content_type[:255],
        size=part.size,
        sha256=sha,
        truncated=part.truncated,
    )


def _mark(session: Session, message_pk: int, outcome: str, header_id: str | None = None) -> None:
    """The message is done: one UPDATE, no need to load the row."""
    done = {"pk": message_pk, "outcome": outcome, "processed_at": utcnow()}
    header = header_id[:998] if header_id else None
    session.connection().execute(MARK_PROCESSED, {**done, "header": header})


def _fail(batch: Batch, message_pk: int, error: str, *, final: bool) -> Outcome:
    """Count a failed attempt; quarantine at once when `final`, else after `max_attempts`."""
    message = batch.session.get_one(Message, message_pk)
    message.attempts += 1
    message.last_error = error[:4000]
    if final or message.attempts >= batch.ctx.max_attempts:
        message.status = "quarantined"
        message.outcome = "quarantined"
        message.processed_at = utcnow()
    batch.session.add(message)
    quarantined = message.status == "quarantined"
    log.warning("message %s: %s%s", message_pk, error, " (quarantined)" if quarantined else "")
    return Outcome(message_pk, "quarantined" if quarantined else "retry", error=error)


def _earlier_outcome(session: Session, message_pk: int) -> Outcome:
    """What a message processed before became, and its ticket number if it made one."""
    message = session.get_one(Message, message_pk)
    number = session.exec(select(Ticket.number).where(Ticket.message_pk == message_pk)).first()
    return Outcome(message_pk, message.outcome or message.status, number, fresh=False)


def requeue(ctx: Context, message_pks: list[int] | None = None) -> int:
    """Put quarantined messages (all, or the given ones) back to `received` for another try."""
    with transaction(ctx.engine) as session:
        query = select(Message).where(Message.status == "quarantined")
        if message_pks:
            query = query.where(Message.id.in_(message_pks))
        rows = list(session.exec(query))
        for row in rows:
            row.status, row.outcome, row.attempts = "received", None, 0
            session.add(row)
        return len(rows)
